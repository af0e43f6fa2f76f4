"""Sampling domains: where the op-table tests (and anyone checking an op) draw its inputs.

An op's ``domain`` is one name for all inputs (``"positive"``) or one per input, comma
separated (``"real,positive"``). Float samples keep a distance from 0 and from the multiples
of 1/2, where ``abs``, ``sign``, ``floor``, ``round`` … have their kinks and jumps, so central
finite differences are meaningful there.

>>> import numpy as np
>>> x = sample("positive", (3,), np.random.default_rng(0))
>>> bool(np.all(x > 0)), x.shape
(True, (3,))
"""

from __future__ import annotations

import numpy as np

DOMAINS: dict[str, str] = {
    "real": "+-[0.2, 1.8], away from 0 and the multiples of 1/2",
    "nonzero": "+-[0.2, 1.8] (as real)",
    "positive": "[0.2, 1.8], away from the multiples of 1/2",
    "open_unit": "+-[0.1, 0.8]",
    "gt1": "[1.2, 2.8], away from the multiples of 1/2",
    "lower": "[-1.2, -0.6]: a lower bound below most real samples",
    "upper": "[0.6, 1.2]: an upper bound above most real samples",
    "bool": "random booleans",
    "nonfinite": "a mix of finite values, nan, inf and -inf",
    "invertible": "well-conditioned square matrices: I * n + N(0, 1/4)",
    "random": "draws from a seeded np.random.Generator (values checked against NumPy's)",
}


def _away_from_halves(x, margin=0.06):
    """Push values within ``margin`` of a multiple of 1/2 out of that band."""
    frac = np.abs(x * 2 - np.round(x * 2)) / 2
    return np.where(frac < margin, x + np.sign(x) * 2 * margin, x)


def sample(domain: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Draw one input of ``shape`` from the named domain (float64, or bool)."""
    shape = tuple(shape)
    if domain in ("real", "nonzero"):
        mag = rng.uniform(0.2, 1.8, shape)
        return _away_from_halves(np.where(rng.random(shape) < 0.5, -mag, mag))
    if domain == "positive":
        return _away_from_halves(rng.uniform(0.2, 1.8, shape))
    if domain == "open_unit":
        mag = rng.uniform(0.1, 0.8, shape)
        return np.where(rng.random(shape) < 0.5, -mag, mag)
    if domain == "gt1":
        return _away_from_halves(rng.uniform(1.2, 2.8, shape))
    if domain == "lower":
        return rng.uniform(-1.2, -0.6, shape)
    if domain == "upper":
        return rng.uniform(0.6, 1.2, shape)
    if domain == "bool":
        return rng.random(shape) < 0.5
    if domain == "nonfinite":
        pick = rng.integers(0, 4, shape)
        vals = np.array([np.nan, np.inf, -np.inf])
        return np.where(pick == 3, rng.normal(size=shape), vals[np.minimum(pick, 2)])
    if domain == "invertible":
        n = shape[-1]
        return np.eye(n) * n + rng.normal(scale=0.5, size=shape)
    raise ValueError(f"unknown sampling domain {domain!r}; known: {', '.join(DOMAINS)}")


def per_input(domain: str, nin: int) -> list[str]:
    """The domain of each of ``nin`` inputs."""
    parts = domain.split(",")
    if len(parts) == 1:
        return parts * nin
    if len(parts) != nin:
        raise ValueError(f"domain {domain!r} names {len(parts)} inputs, the op takes {nin}")
    return parts
