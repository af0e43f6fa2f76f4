"""More NumPy functions, traced as compositions of ops that are already in the table (so their
derivatives follow from those ops' rules): ``np.nansum nanmean nanmax nanmin ptp median sinc
cross kron pad``. Registered on import by ``numpy_linalg``.
"""

from __future__ import annotations

import numpy as np

from ..errors import GradgraphValueError, user_loc
from .numpy_api import (_concatenate, _reshape, _sort, _take, handles, ndim, norm_axis, shape,
                        unsupported)
from .tracer import Tracer


def _dtype(x):
    return x.dtype if isinstance(x, Tracer) else np.result_type(x)


@handles(np.nansum)
def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    return np.sum(np.where(np.isnan(a), 0.0, a), axis=axis, dtype=dtype, keepdims=keepdims)


@handles(np.nanmean)
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    ok = np.logical_not(np.isnan(a))
    total = np.sum(np.where(ok, a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims)
    return np.divide(total, np.sum(ok.astype(_dtype(total)), axis=axis, keepdims=keepdims))


def _nan_extremum(pick, fill):
    def h(a, axis=None, out=None, keepdims=False, **kw):
        nan = np.isnan(a)
        r = pick(np.where(nan, fill, a), axis=axis, keepdims=keepdims)
        return np.where(np.all(nan, axis=axis, keepdims=keepdims), np.nan, r)  # NumPy: nan

    return h


handles(np.nanmax)(_nan_extremum(np.max, -np.inf))
handles(np.nanmin)(_nan_extremum(np.min, np.inf))


@handles(np.ptp)
def _ptp(a, axis=None, out=None, keepdims=False):
    return np.subtract(np.max(a, axis=axis, keepdims=keepdims),
                       np.min(a, axis=axis, keepdims=keepdims))


@handles(np.median)
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle of the sorted values (the mean of the two middle ones for an even count)."""
    full = tuple(shape(a))
    if axis is None:
        x, ax, kept = _reshape(a, (-1,) if full else (1,)), 0, (1,) * len(full)
    else:
        axes = norm_axis(axis, len(full))
        if len(axes) != 1:
            unsupported("np.median over several axes")
        x, ax = a, axes[0]
        kept = tuple(1 if k == ax else n for k, n in enumerate(full))
    s = _sort(x, ax)
    n = shape(s)[ax]
    mid = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    r = np.mean(_take(s, mid, ax), axis=ax)
    return _reshape(r, kept) if keepdims else r


@handles(np.sinc)
def _sinc(x):
    """sin(pi x) / (pi x) with sinc(0) = 1; the zero is masked on both sides of the division
    so that derivatives stay finite there (sinc'(0) = 0)."""
    zero = np.equal(x, 0.0)
    px = np.multiply(np.pi, np.where(zero, 1.0, x))
    return np.where(zero, 1.0, np.divide(np.sin(px), px))


@handles(np.cross)
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, axisa, -1) if ndim(a) > 1 else a
    b = np.moveaxis(b, axisb, -1) if ndim(b) > 1 else b
    na, nb_ = shape(a)[-1], shape(b)[-1]
    if na not in (2, 3) or nb_ not in (2, 3):
        raise GradgraphValueError("np.cross: incompatible dimensions for cross product "
                                  "(dimension must be 2 or 3)", loc=user_loc())
    c = [a[..., k] for k in range(na)] + ([0.0] if na == 2 else [])
    d = [b[..., k] for k in range(nb_)] + ([0.0] if nb_ == 2 else [])
    z = np.subtract(np.multiply(c[0], d[1]), np.multiply(c[1], d[0]))
    if na == 2 and nb_ == 2:
        return z
    x = np.subtract(np.multiply(c[1], d[2]), np.multiply(c[2], d[1]))
    y = np.subtract(np.multiply(c[2], d[0]), np.multiply(c[0], d[2]))
    r = np.stack([x, y, z], axis=-1)  # each term involves both operands: one common shape
    return np.moveaxis(r, -1, axisc) if ndim(r) > 1 else r


@handles(np.kron)
def _kron(a, b):
    nd = max(ndim(a), ndim(b))
    sa = (1,) * (nd - ndim(a)) + tuple(shape(a))
    sb = (1,) * (nd - ndim(b)) + tuple(shape(b))
    a2 = _reshape(a, tuple(v for n in sa for v in (n, 1)))  # (a0, 1, a1, 1, ...)
    b2 = _reshape(b, tuple(v for n in sb for v in (1, n)))  # (1, b0, 1, b1, ...)
    return _reshape(np.multiply(a2, b2), tuple(x * y for x, y in zip(sa, sb)))


@handles(np.pad)
def _pad(array, pad_width, mode="constant", **kwargs):
    if mode != "constant":
        unsupported(f"np.pad with mode={mode!r}", "; mode='constant' is supported")
    value = kwargs.pop("constant_values", 0)
    if kwargs or np.ndim(value) != 0:
        unsupported("np.pad with per-axis constant values or other options")
    nd = ndim(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    x = array
    for ax in range(nd):
        lo, hi = (int(w) for w in widths[ax])
        parts = []
        for w in (lo, hi):
            s = list(shape(x))
            s[ax] = w
            parts.append(np.full(tuple(s), value, dtype=_dtype(array)) if w else None)
        pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
        if len(pieces) > 1:
            x = _concatenate(pieces, axis=ax)
    return x

