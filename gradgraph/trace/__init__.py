"""Tracing a Python function into a graph."""

from __future__ import annotations

import inspect

import numpy as np

from .. import config
from ..errors import GradgraphError, GradgraphRecursionError, GradgraphTypeError, user_loc
from .pytree import flatten, leaf_paths, unflatten
from .random import Scope as RandomScope, impurity, split_rng_args, warn_impure
from .tracer import Trace, Tracer, trace_stack  # noqa: F401

_PY_DTYPE = {float: np.float64, int: np.int64, bool: np.bool_, complex: np.complex128}


def arg_names_of(fun, nargs: int) -> list[str]:
    """The user's positional parameter names (``args0``, ``args1`` … for ``*args``)."""
    names = getattr(fun, "arg_names", None)
    if callable(names):
        return names(nargs)
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    out = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            out += [f"{p.name}{i}" for i in range(nargs - len(out))]
            break
    out = out[:nargs]
    return out + [f"x{i}" for i in range(len(out), nargs)]


def _leaf_names(in_tree, arg_names) -> list[str]:
    from ..codegen.driver import safe_name, unique_names

    names: list[str] = []
    for an, t in zip(arg_names, in_tree[1]):
        base = safe_name(an)
        # params['w1'] -> params_w1, xs[0] -> xs_0 (then made a safe identifier)
        paths = [base] if t == "*" else [
            base + p.replace("['", "_").replace("']", "").replace("[", "_").replace("]", "")
            for p in leaf_paths(t, "")]
        names += [safe_name(p) for p in paths]
    return unique_names(names)


def _check_leaf(x, name):
    dt = x.dtype if isinstance(x, Tracer) else np.result_type(x)
    if dt.kind not in "biufc":
        raise GradgraphTypeError(
            f"argument {name} has dtype {dt}; gradgraph traces numeric arrays (bool, integer, "
            "float, complex). Convert it, or close over it instead of passing it",
            loc=user_loc())


def _recursion_error(e: RecursionError) -> GradgraphRecursionError:
    """The user's own recursion hit Python's limit: name their innermost line and say what
    to do (the default limit is reached sooner under tracing: a few frames per NumPy call)."""
    import sys

    from ..errors import _is_internal, short_path

    loc, tb = None, e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not _is_internal(name):
            loc = f"{short_path(name)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return GradgraphRecursionError(
        f"the traced function recursed past Python's limit of {sys.getrecursionlimit()} frames "
        "(tracing adds a few frames to each NumPy call). Rewrite the recursion as a loop, or "
        "raise the limit with sys.setrecursionlimit(); gradgraph itself never recurses over "
        "the graph, so a deep trace is fine once it is recorded", loc=loc)


def trace_call(fun, args: tuple, arg_names=None) -> Trace:
    """Run ``fun(*args)`` on tracers; the returned trace's graph has inputs (one per array
    leaf of ``args``), outputs, pytree structures and guards."""
    args, rngs = split_rng_args(tuple(args))  # generator arguments: no leaves (trace/random.py)
    leaves, in_tree = flatten(args)
    arg_names = arg_names or arg_names_of(fun, len(args))
    names = _leaf_names(in_tree, arg_names)
    with Trace() as T, RandomScope(T, fun, rngs) as scope:  # random draws become nodes
        T.max_ops = config.max_trace_ops
        tracers = []
        for leaf, name in zip(leaves, names):
            _check_leaf(leaf, name)
            if isinstance(leaf, Tracer):
                value = leaf._value
            elif type(leaf) in _PY_DTYPE:
                value = _PY_DTYPE[type(leaf)](leaf)
            else:
                value = leaf
            t = T.input(value, name)
            if type(leaf) in _PY_DTYPE:
                T.g[t._node]["pytype"] = type(leaf).__name__
            tracers.append(t)
        try:
            out = fun(*scope.call_args(unflatten(in_tree, tracers)))
        except RecursionError as e:
            if isinstance(e, GradgraphError):  # already explained by an inner trace
                raise
            raise _recursion_error(e) from e
        out_leaves, out_tree = flatten(out, "output")
        T.g.outputs = [T.lift(x) for x in out_leaves]
    T.g.in_tree, T.g.out_tree, T.g.arg_names = in_tree, out_tree, list(arg_names)
    return T


def trace(f, *args):
    """The graph of ``f`` specialised to these arguments (shapes, dtypes, Python path).

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> len(g), g.count("primal")
    (7, 5)
    """
    T = trace_call(f, args)
    g = T.g
    if T.captured:  # values of an outer trace seen here are constants of this graph
        from ..function import freeze_captures

        freeze_captures(g, T.captured)
    if impurity(g):
        warn_impure(getattr(f, "__name__", "f"), impurity(g))
    return g
