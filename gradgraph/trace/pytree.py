"""Pytrees: nested tuples, lists and dicts of arrays, flattened to a list of leaves and a
hashable structure. Dict keys are kept in sorted order, as JAX does, so two dicts with the
same keys share one compiled variant."""

from __future__ import annotations

import numpy as np

from ..errors import GradgraphTypeError, user_loc

SCALARS = (bool, int, float, complex)


def is_leaf(x) -> bool:
    from .tracer import Tracer

    return isinstance(x, (np.ndarray, np.generic, Tracer) + SCALARS)


def flatten(tree, what="argument"):
    """``(leaves, treedef)``; ``treedef`` is hashable. Raises a TypeError for anything that
    is neither a container nor an array-like leaf."""
    leaves: list = []

    def go(x, path):
        if isinstance(x, tuple) and not hasattr(x, "_fields"):
            return ("tuple", tuple(go(v, f"{path}[{i}]") for i, v in enumerate(x)))
        if isinstance(x, list):
            return ("list", tuple(go(v, f"{path}[{i}]") for i, v in enumerate(x)))
        if isinstance(x, dict):
            try:
                keys = sorted(x)
            except TypeError:
                raise GradgraphTypeError(
                    f"{what} {path}: dict keys must be sortable (all str, or all int)",
                    loc=user_loc()) from None
            return ("dict", tuple(keys), tuple(go(x[k], f"{path}[{k!r}]") for k in keys))
        if is_leaf(x):
            leaves.append(x)
            return "*"
        if x is None and what == "output":
            return "None"
        if isinstance(x, np.ndarray) or hasattr(x, "__array_function__"):
            leaves.append(x)  # array-likes such as dask arrays
            return "*"
        raise GradgraphTypeError(
            f"{what} {path or '(the whole value)'} is a {type(x).__name__}; expected a NumPy "
            "array, a Python or NumPy scalar, or a tuple/list/dict of them (pass other values "
            "by closing over them)", loc=user_loc())

    return leaves, go(tree, what if what != "argument" else "")


def unflatten(treedef, leaves):
    it = iter(leaves)

    def go(t):
        if t == "*":
            return next(it)
        if t == "None":
            return None
        if t[0] == "tuple":
            return tuple(go(c) for c in t[1])
        if t[0] == "list":
            return [go(c) for c in t[1]]
        return {k: go(c) for k, c in zip(t[1], t[2])}

    return go(treedef)


def leaf_paths(treedef, prefix: str) -> list[str]:
    """Readable names of the leaves, ``params['w1']``-style, for messages and code."""
    out: list[str] = []

    def go(t, path):
        if t == "*":
            out.append(path)
        elif t == "None":
            pass
        elif t[0] in ("tuple", "list"):
            for i, c in enumerate(t[1]):
                go(c, f"{path}[{i}]")
        else:
            for k, c in zip(t[1], t[2]):
                go(c, f"{path}[{k!r}]")

    go(treedef, prefix)
    return out
