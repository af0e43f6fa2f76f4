"""``python -m gradgraph.ops.docs``: write ``docs/ops.md``, the supported-ops table, from the
op table itself (``--check`` only compares, for CI and the test that keeps it current).

>>> text = render()
>>> "| `sin` |" in text and "## Not supported yet" in text
True
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from . import OPS
from .domains import DOMAINS, per_input

FAMILIES = [  # (registering module, section title, what the section is about)
    ("gradgraph.ops.elementwise", "Elementwise",
     "Ufuncs and friends, with NumPy broadcasting. One partial derivative per input; reverse "
     "and forward mode are both derived from it, and reverse mode sums the broadcast axes "
     "away in one place."),
    ("gradgraph.ops.reduce", "Reductions",
     "`axis` (None, an int or a tuple, negative allowed) and `keepdims` as in NumPy."),
    ("gradgraph.ops.shape", "Shapes, indexing, joining",
     "Linear ops: the derivative is the op's transpose (reverse mode) or the op itself "
     "(forward mode). Many NumPy functions are traced as one of these (see the spellings)."),
    ("gradgraph.ops.linalg", "Products", "Bilinear: each operand's cotangent is a product of "
     "the cotangent with the other operand. Reverse-mode rules of matmul use `@` and `.T`."),
    ("gradgraph.ops.einsum", "einsum", ""),
    ("gradgraph.ops.linalg_inv", "Linear algebra", ""),
    ("gradgraph.ops.random", "Random draws",
     "Draws from the generator operand on every call (the compiled code draws NumPy's own "
     "numbers). See gradgraph/ops/random.py."),
    ("gradgraph.api", "Transform internals", "Made by the transforms themselves."),
]

KIND = {"elementwise": "partials", "linear": "linear (transpose)", "other": "vjp + jvp rules",
        "nondiff": "none (zero)"}

# Common NumPy functions that raise gg.UnsupportedOperationError (each is checked by
# tests/test_ops_rules.py), with what to write instead.
NOT_SUPPORTED = [
    ("np.cumprod", lambda x: np.cumprod(x), "write a loop of multiplies, or exp(cumsum(log(x))) "
                                            "for positive x"),
    ("np.linalg.eig, eigh, svd, qr, cholesky, pinv, lstsq, slogdet",
     lambda x: np.linalg.eigh(np.outer(x, x)), "no decomposition has derivative rules yet"),
    ("np.linalg.norm(A, 2 | -2 | 'nuc') of a matrix", lambda x: np.linalg.norm(
        np.outer(x, x), 2), "singular values; use 'fro', 1 or inf"),
    ("np.percentile, np.quantile, np.nanmedian", lambda x: np.percentile(x, 50),
     "np.sort(x) and indexing express them (np.median is supported)"),
    ("np.unique, np.nonzero, np.argwhere, np.flatnonzero, np.where(cond)",
     lambda x: np.nonzero(x), "their result's shape depends on the values; boolean masks "
                              "x[mask] and 3-argument np.where work"),
    ("np.searchsorted, np.digitize, np.histogram, np.interp", lambda x: np.interp(0.5, x, x),
     ""),
    ("np.convolve, np.correlate, np.fft.*", lambda x: np.convolve(x, x), ""),
    ("np.pad with a mode other than 'constant'", lambda x: np.pad(x, 1, mode="edge"), ""),
    ("np.einsum with sublists (operands interleaved)", lambda x: np.einsum(x, [0], [0]),
     "write the subscripts as a string"),
    ("ufunc methods other than reduce (np.add.accumulate is np.cumsum)",
     lambda x: np.maximum.accumulate(x), ""),
    ("complex arrays in np.real / np.imag", lambda x: np.real(x.astype(complex)), ""),
]


# NumPy functions traced as a composition of the ops above (trace/numpy_*.py): their
# derivatives are those of the parts.
COMPOSITIONS = [
    ("np.linalg.norm, ord 1 / inf / -inf / 0 / p (vectors), 1 / -1 / inf / -inf (matrices)",
     "sum, max, min of abs(x), power"),
    ("np.take, np.take_along_axis, np.flip, np.fliplr, np.flipud, np.diagonal, np.diag, "
     "np.split, np.array_split, np.diff, np.roll", "getitem (and concatenate, subtract)"),
    ("np.sort", "take_along_axis(x, argsort(x)): the derivative follows the sorted order"),
    ("np.tile, np.repeat, np.kron", "reshape, broadcast_to, multiply"),
    ("np.hstack, np.vstack, np.append, np.pad (mode='constant')", "concatenate"),
    ("np.expand_dims, np.squeeze, np.ravel, np.atleast_1d, np.atleast_2d", "reshape"),
    ("np.swapaxes, np.moveaxis, x.T, x.mT", "transpose"),
    ("np.nansum, np.nanmean, np.nanmax, np.nanmin", "where(isnan(x), ...) then the reduction"),
    ("np.ptp, np.median, np.average", "max - min; sort and the middle; sums"),
    ("np.sinc", "where(x == 0, 1, sin(pi x) / (pi x)), finite derivatives at 0"),
    ("np.cross", "getitem, multiply, subtract, stack"),
    ("np.vecdot, np.linalg.vecdot, np.matvec, np.vecmat (NumPy 2)", "multiply + sum, matmul"),
    ("np.inner of a scalar, np.real / np.imag of real arrays", "multiply; the array; zeros"),
    ("np.zeros_like, np.ones_like, np.full_like", "constants (a traced fill: broadcast_to)"),
]


def _domain(op) -> str:
    if op.nin in (None, 0) or "," not in op.domain:
        return op.domain if op.nin != 0 else ""
    return ", ".join(per_input(op.domain, op.nin))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _spellings(op) -> str:
    return ", ".join(f"`{s}`" for s in op.numpy) if op.numpy else ""


def render() -> str:
    """The text of docs/ops.md."""
    out = [
        "# Supported operations",
        "",
        "Generated from the op table by `python -m gradgraph.ops.docs` (do not edit by hand; "
        "`tests/test_ops_rules.py` fails when this file is stale). Every op below is checked by "
        "`tests/test_ops.py` against NumPy (values, shapes, dtypes, float32), SymPy and central "
        "differences (derivatives to order 3), on inputs drawn from its sampling domain.",
        "",
        "Columns: the op (the node's `op` in a graph), the NumPy spellings traced as it, the "
        "kind of derivative rule (*partials*: one per input, both modes derived from them; "
        "*linear*: the transpose; *vjp + jvp*: structured rules; *none*: zero derivative, no "
        "nodes are made), the sampling domain of its tests, and its conventions.",
        "",
        "## Derivative conventions",
        "",
        "- `np.maximum(x, c)` / `np.minimum` with a constant `c`: the derivative at the tie "
        "is 0 (ReLU'(0) = 0); with both operands traced a tie splits it 1/2 each "
        "(`np.maximum(x, x)` has derivative 1). `np.clip` is `minimum(maximum(x, lo), hi)` "
        "under the same rules. Reductions `max`/`min` split the cotangent evenly among tied "
        "elements.",
        "- `abs'(0) = 0`; sign, floor, ceil, trunc, rint, round, comparisons, boolean ops, "
        "argmax/argmin/argsort and casts to integer or bool have zero derivative.",
        "- `np.linalg.norm` (2-norm, Frobenius) at 0 and `np.std` of equal values have "
        "derivative 0, a subgradient, like `abs'(0) = 0` (JAX gives NaN there). The other "
        "norm orders are traced as the sums and maxima of `abs(x)` NumPy computes, so they "
        "follow the conventions above.",
        "- `np.prod` is exact where inputs are zero: each element's derivative is the product "
        "of the others, built without division.",
        "- Elsewhere NaN and inf follow IEEE arithmetic, as in NumPy (e.g. `sqrt'(0) = inf`).",
        "",
    ]
    by_family: dict[str, list] = {}
    for op in OPS.values():
        by_family.setdefault(op.family, []).append(op)
    sections = [f for f, _, _ in FAMILIES] + sorted(set(by_family) - {f for f, _, _ in FAMILIES})
    titles = {f: (t, d) for f, t, d in FAMILIES}
    for fam in sections:
        ops = by_family.get(fam)
        if not ops:
            continue
        title, about = titles.get(fam, (fam, ""))
        out += [f"## {title}", ""]
        if about:
            out += [about, ""]
        if fam == "gradgraph.ops.random":
            out += [_random_summary(ops), ""]
            continue
        out += ["| op | NumPy | derivative | domain | notes |", "| --- | --- | --- | --- | --- |"]
        for op in ops:
            out.append("| " + " | ".join(_cell(c) for c in (
                f"`{op.name}`", _spellings(op), KIND.get(op.kind, op.kind), _domain(op),
                op.doc)) + " |")
        out.append("")
    out += ["## Sampling domains", "", "| domain | values |", "| --- | --- |"]
    out += [f"| `{k}` | {_cell(v)} |" for k, v in DOMAINS.items()]
    out += ["", "## Traced as compositions", "",
            "These NumPy functions become a few of the ops above, so their derivatives are "
            "those of the parts:", "", "| NumPy | traced as |", "| --- | --- |"]
    out += [f"| {_cell(a)} | {_cell(b)} |" for a, b in COMPOSITIONS]
    out += ["", "## Not supported yet", "",
            "These raise `gg.UnsupportedOperationError` naming the function and your file:line "
            "(so does any NumPy function not listed above):", ""]
    for name, _, hint in NOT_SUPPORTED:
        out.append(f"- `{name}`" + (f": {hint}" if hint else ""))
    return "\n".join(out) + "\n"


def _random_summary(ops) -> str:
    names = ", ".join(f"`{op.name[len('random.'):]}`" for op in ops)
    return (f"{len(ops)} ops `random.<name>`, one per distribution: {names}. Each is a method "
            "of `np.random.Generator` / `RandomState` and a function of `np.random`. The draw "
            "itself has no derivative; `normal`, `uniform` and `exponential` with traced "
            "parameters are traced as `loc + scale * z` over a standard draw `z`, so they "
            "differentiate (reparameterisation), and so do `choice`/`permutation` of a traced "
            "array (indexing). Other parameters raise `UnsupportedOperationError`.")


def default_path() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "docs", "ops.md")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gradgraph.ops.docs", description=__doc__)
    p.add_argument("path", nargs="?", default=default_path())
    p.add_argument("--check", action="store_true", help="only say whether the file is current")
    a = p.parse_args(argv)
    text = render()
    current = os.path.exists(a.path) and open(a.path, encoding="utf-8").read() == text
    if a.check:
        print(f"{a.path} is {'current' if current else 'stale'}")
        return 0 if current else 1
    if not current:
        with open(a.path, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(f"wrote {a.path}" if not current else f"{a.path} was current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
