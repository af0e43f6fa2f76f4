"""The peers, imported lazily: a missing one is a row saying so, never a failed bench."""

from __future__ import annotations

import importlib

PEERS = ("jax", "torch", "autograd", "pytensor", "casadi", "sympy")
_cache: dict = {}


def get(name: str):
    """The module, or None when it is not installed (or fails to import)."""
    if name not in _cache:
        try:
            mod = importlib.import_module(name)
            if name == "jax":
                mod.config.update("jax_enable_x64", True)
            if name == "torch":
                mod.set_num_threads(1)
            _cache[name] = mod
        except Exception:  # ImportError, or a broken install
            _cache[name] = None
    return _cache[name]


def missing(name: str) -> str:
    return f"{name} not installed (pip install -e '.[bench]')"


def versions() -> dict:
    out = {}
    from importlib import metadata

    for name in PEERS:
        mod = get(name)
        if mod is None:
            out[name] = "not installed"
            continue
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = getattr(mod, "__version__", "?")
    try:
        import threadpoolctl

        out["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        out["threadpoolctl"] = "not installed"
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:
        out["matplotlib"] = "not installed"
    return out


def jaxpr_size(closed) -> int:
    """Equations of a (closed) jaxpr, counting those of nested jaxprs (pjit, custom rules)."""
    jaxpr = getattr(closed, "jaxpr", closed)
    total = 0
    stack = [jaxpr]
    while stack:
        j = stack.pop()
        for eq in j.eqns:
            total += 1
            for v in eq.params.values():
                for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                    inner = getattr(sub, "jaxpr", None)
                    if inner is not None:
                        stack.append(getattr(inner, "jaxpr", inner))
    return total
