"""Reductions over axes: ``sum mean max min prod var std`` and ``np.linalg.norm``.

Attributes: ``axis`` is None or a tuple of non-negative axes (the tracer normalises it),
``keepdims`` a bool. Gradients broadcast the cotangent back over the reduced axes.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .registry import Op, register


def reduced_shape(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else axis
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def reduce_shape(impl):
    def rule(avals, axis=None, keepdims=False, **attrs):
        shape, dtype, _ = avals[0]
        sample = np.zeros((1,) * len(shape), dtype)
        dt = np.result_type(impl(sample, axis=axis, keepdims=keepdims, **attrs))
        return reduced_shape(shape, axis, keepdims), dt

    return rule


def _emit_reduce(fname):
    def emit(a, attrs):
        parts = [a[0]]
        if attrs.get("axis") is not None:
            ax = attrs["axis"]
            parts.append(f"axis={ax[0] if len(ax) == 1 else ax}")
        for k in ("ddof",):
            if attrs.get(k):
                parts.append(f"{k}={attrs[k]!r}")
        if attrs.get("keepdims"):
            parts.append("keepdims=True")
        return f"{fname}({', '.join(parts)})"

    return emit


def expand_back(B, ct, x, axis, keepdims, nb):
    """Cotangent of a reduction (``batch + out``) broadcast to ``batch + x.shape``."""
    batch = B.shape(ct)[:nb]
    xs = B.shape(x)
    if not keepdims:
        ct = B.reshape(ct, shape=batch + reduced_shape(xs, axis, True))
    return B.broadcast_to(ct, shape=batch + xs)


def count(B, x, axis) -> int:
    xs = B.shape(x)
    axes = range(len(xs)) if axis is None else axis
    return int(np.prod([xs[i] for i in axes], dtype=np.int64))


def _shifted(B, axis, x, nb):
    return B.axis_shift(axis, B.ndim(x), nb)


def _sympy_reduce(fn):
    def translate(x, axis=None, keepdims=False, **attrs):
        return fn(np.asarray(x, dtype=object), axis=axis, keepdims=keepdims, **attrs)

    return translate


def reduction(name, impl, vjp, jvp, emit, sympy=None, domain="real", numpy=()):
    return register(Op(name=name, impl=impl, emit=_emit_reduce(emit), kind="other",
                       shape=reduce_shape(impl), vjp=vjp, jvp=jvp,
                       sympy=sympy or _sympy_reduce(impl), domain=domain, nin=1,
                       numpy=numpy or (f"np.{name}", f".{name}()")))


# -- sum and mean: linear -----------------------------------------------------------------

reduction(
    "sum", np.sum,
    vjp=lambda B, ct, i, a, o, nb, axis=None, keepdims=False: expand_back(B, ct, a[0], axis, keepdims, nb),
    jvp=lambda B, t, a, o, nb, axis=None, keepdims=False: B.sum(
        t[0], axis=_shifted(B, axis, a[0], nb), keepdims=keepdims),
    emit="np.sum")

reduction(
    "mean", np.mean,
    vjp=lambda B, ct, i, a, o, nb, axis=None, keepdims=False: B.divide(
        expand_back(B, ct, a[0], axis, keepdims, nb), float(count(B, a[0], axis))),
    jvp=lambda B, t, a, o, nb, axis=None, keepdims=False: B.mean(
        t[0], axis=_shifted(B, axis, a[0], nb), keepdims=keepdims),
    emit="np.mean",
    sympy=lambda x, axis=None, keepdims=False: np.sum(np.asarray(x, dtype=object), axis=axis,
                                                      keepdims=keepdims) / int(
        np.prod([np.shape(x)[i] for i in (range(np.ndim(x)) if axis is None else axis)])))


# -- max and min: the cotangent goes to the arg-max, split evenly among ties ---------------

def _extremum_mask(B, x, out, axis):
    """Float mask of the elements equal to the reduced value, divided by their count."""
    o = out if B.g[out]["shape"] == reduced_shape(B.shape(x), axis, True) else B.reshape(
        out, shape=reduced_shape(B.shape(x), axis, True))
    hit = B.astype(B.equal(x, o), dtype=B.dtype(x).name)
    return B.divide(hit, B.sum(hit, axis=axis, keepdims=True))


def _extremum_vjp(B, ct, i, a, o, nb, axis=None, keepdims=False):
    return B.multiply(expand_back(B, ct, a[0], axis, keepdims, nb), _extremum_mask(B, a[0], o, axis))


def _extremum_jvp(B, t, a, o, nb, axis=None, keepdims=False):
    w = B.multiply(t[0], _extremum_mask(B, a[0], o, axis))
    return B.sum(w, axis=_shifted(B, axis, a[0], nb), keepdims=keepdims)


def _sym_extremum(fn):
    return lambda x, axis=None, keepdims=False: _reduce_obj(
        np.asarray(x, dtype=object), axis, keepdims, fn)


def _reduce_obj(x, axis, keepdims, fn):
    axes = tuple(range(x.ndim)) if axis is None else axis
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    out = np.empty(flat.shape[:-1], dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = fn(*flat[idx])
    if keepdims:
        out = out.reshape(reduced_shape(x.shape, axes, True))
    return out if out.shape else out[()]


reduction("max", np.max, _extremum_vjp, _extremum_jvp, "np.max", sympy=_sym_extremum(sp.Max),
          numpy=("np.max", "np.amax", ".max()"))
reduction("min", np.min, _extremum_vjp, _extremum_jvp, "np.min", sympy=_sym_extremum(sp.Min),
          numpy=("np.min", "np.amin", ".min()"))


# -- boolean and index reductions: no derivative -------------------------------------------

def _nondiff_reduction(name, impl, emit):
    register(Op(name=name, impl=impl, emit=_emit_reduce(emit), kind="nondiff",
                shape=reduce_shape(impl), sympy=None, nin=1, numpy=(emit,)))


_nondiff_reduction("all", np.all, "np.all")
_nondiff_reduction("any", np.any, "np.any")
register(Op(name="count_nonzero", impl=lambda x: np.count_nonzero(x), kind="nondiff", nin=1,
            emit="np.count_nonzero({0})", shape=lambda avals: ((), np.dtype(np.int64)),
            numpy=("np.count_nonzero",)))
