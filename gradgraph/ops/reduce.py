"""Reductions over axes: ``sum mean max min prod var std`` and ``np.linalg.norm``.

Attributes: ``axis`` is None or a tuple of non-negative axes (the tracer normalises it),
``keepdims`` a bool. Gradients broadcast the cotangent back over the reduced axes.
"""

from __future__ import annotations

import warnings

import numpy as np
import sympy as sp

from .registry import Op, register


def reduced_shape(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else axis
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


_dtype_cache: dict = {}


def reduce_shape(impl):
    """Shape rule of a reduction; NumPy picks the dtype on a one-element sample (cached; var
    with ddof >= 1 warns about a sample that small, which says nothing about the real one)."""

    def rule(avals, axis=None, keepdims=False, **attrs):
        shape, dtype, _ = avals[0]
        key = (impl, dtype, tuple(sorted(attrs.items())))
        dt = _dtype_cache.get(key)
        if dt is None:
            sample = np.ones((1,) * len(shape), dtype)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                ax = None if axis is None else tuple(a for a in axis if a < len(shape))
                dt = _dtype_cache[key] = np.result_type(impl(sample, axis=ax, **attrs))
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


# -- prod: the leave-one-out product, built without dividing by x ---------------------------

def _ones_like_dtype(B, x):
    dt = B.dtype(x)
    return B.const(1.0 if dt == np.float64 else np.ones((), dt))


def leave_one_out(B, x, axis):
    """``L[i] = prod_{j != i} x[j]`` along the reduced axes, for every element of ``x``.

    Dividing ``prod / x`` is wrong where x has zeros, so the products are built by a balanced
    tree of pairwise multiplies (an up-sweep of partial products, then a down-sweep handing each
    pair the product of everything else): O(n) work, log2(n) levels, no division, and made of
    getitem/multiply/stack nodes, so it is differentiable again.
    """
    xs = B.shape(x)
    nd = len(xs)
    axes = tuple(range(nd)) if axis is None else tuple(axis)
    keep = tuple(i for i in range(nd) if i not in axes)
    lead = tuple(xs[i] for i in keep)
    n = int(np.prod([xs[i] for i in axes], dtype=np.int64))
    if n <= 1:
        return B.broadcast_to(_ones_like_dtype(B, x), shape=xs)
    y = B.reshape(B.transpose(x, axes=keep + axes), shape=lead + (n,))
    m = 1 << (n - 1).bit_length()
    if m > n:  # pad with ones to a power of two
        pad = B.broadcast_to(_ones_like_dtype(B, x), shape=lead + (m - n,))
        y = B.concatenate(y, pad, axis=len(lead))
    ev, od = (Ellipsis, slice(0, None, 2)), (Ellipsis, slice(1, None, 2))
    levels = [y]
    while B.shape(levels[-1])[-1] > 2:
        p = levels[-1]
        levels.append(B.multiply(B.getitem(p, index=ev), B.getitem(p, index=od)))
    d = None  # the product of everything outside the current block (None: 1)
    for p in reversed(levels):
        even, odd = B.getitem(p, index=ev), B.getitem(p, index=od)
        left = odd if d is None else B.multiply(d, odd)
        right = even if d is None else B.multiply(d, even)
        k = B.shape(even)[-1]
        d = B.reshape(B.stack(left, right, axis=len(lead) + 1), shape=lead + (2 * k,))
    if m > n:
        d = B.getitem(d, index=(Ellipsis, slice(0, n)))
    d = B.reshape(d, shape=lead + tuple(xs[i] for i in axes))
    inv = tuple(int(j) for j in np.argsort(keep + axes))
    return B.transpose(d, axes=inv)


def _prod_vjp(B, ct, i, a, o, nb, axis=None, keepdims=False):
    return B.multiply(expand_back(B, ct, a[0], axis, keepdims, nb), leave_one_out(B, a[0], axis))


def _prod_jvp(B, t, a, o, nb, axis=None, keepdims=False):
    w = B.multiply(t[0], leave_one_out(B, a[0], axis))
    return B.sum(w, axis=_shifted(B, axis, a[0], nb), keepdims=keepdims)


r = reduction("prod", np.prod, _prod_vjp, _prod_jvp, "np.prod", numpy=(
    "np.prod", ".prod()", "np.multiply.reduce"))
r.doc = "exact at zeros: the derivative is the product of the other factors (no division)"


# -- var and std ------------------------------------------------------------------------------

def _centred(B, x, axis):
    return B.subtract(x, B.mean(x, axis=axis, keepdims=True))


def _dof(B, x, axis, ddof) -> float:
    return float(count(B, x, axis) - ddof)


def _scale(num: float, den: float) -> float:
    with np.errstate(all="ignore"):  # ddof >= N: NumPy's var is inf/nan, and so is this
        return float(np.float64(num) / den)


def _var_vjp(B, ct, i, a, o, nb, axis=None, keepdims=False, ddof=0):
    x = a[0]
    c = _scale(2.0, _dof(B, x, axis, ddof))
    g = B.multiply(_centred(B, x, axis), c)
    return B.multiply(expand_back(B, ct, x, axis, keepdims, nb), g)


def _var_jvp(B, t, a, o, nb, axis=None, keepdims=False, ddof=0):
    # d var = 2/(N - ddof) * sum((x - mean) * (t - mean t)) and sum(x - mean) = 0
    x = a[0]
    c = _scale(2.0, _dof(B, x, axis, ddof))
    s = B.sum(B.multiply(t[0], _centred(B, x, axis)), axis=_shifted(B, axis, x, nb),
              keepdims=keepdims)
    return B.multiply(s, c)


def _sym_var(x, axis=None, keepdims=False, ddof=0):
    x = np.asarray(x, dtype=object)
    n = int(np.prod([x.shape[i] for i in (range(x.ndim) if axis is None else axis)]))
    m = np.sum(x, axis=axis, keepdims=True) / n
    return np.sum((x - m) ** 2, axis=axis, keepdims=keepdims) / sp.Integer(n - ddof)


def keepdims_out(B, out, x, axis):
    """The reduction's output reshaped to keep the reduced axes (size 1)."""
    return B.reshape(out, shape=reduced_shape(B.shape(x), axis, True))


def _nonzero_safe(B, o):
    """``(o == 0, where(o == 0, 1, o))``: divide by the second and select with the first, so a
    zero gives exactly 0 and no NaN reaches higher derivatives (the "double where")."""
    zero = B.equal(o, 0.0)
    return zero, B.where(zero, 1.0, o)


def _std_vjp(B, ct, i, a, o, nb, axis=None, keepdims=False, ddof=0):
    x = a[0]
    zero, safe = _nonzero_safe(B, keepdims_out(B, o, x, axis))
    g = B.divide(_centred(B, x, axis), B.multiply(safe, _dof(B, x, axis, ddof)))
    return B.multiply(expand_back(B, ct, x, axis, keepdims, nb), B.where(zero, 0.0, g))


def _std_jvp(B, t, a, o, nb, axis=None, keepdims=False, ddof=0):
    x = a[0]
    zero, safe = _nonzero_safe(B, o)
    s = B.sum(B.multiply(t[0], _centred(B, x, axis)), axis=_shifted(B, axis, x, nb),
              keepdims=keepdims)
    return B.where(zero, 0.0, B.divide(s, B.multiply(safe, _dof(B, x, axis, ddof))))


r = reduction("var", np.var, _var_vjp, _var_jvp, "np.var", sympy=_sym_var)
r.doc = "ddof, axis, keepdims"
r = reduction("std", np.std, _std_vjp, _std_jvp, "np.std",
              sympy=lambda x, **kw: _sqrt_obj(_sym_var(x, **kw)))
r.doc = ("ddof, axis, keepdims; where all values are equal (std = 0) the derivative is 0, "
         "like abs'(0) (JAX gives NaN)")


def _sqrt_obj(v):
    return np.vectorize(sp.sqrt, otypes=[object])(v) if isinstance(v, np.ndarray) else sp.sqrt(v)


# -- the 2-norm / Frobenius norm ------------------------------------------------------------
# Other orders are traced as what NumPy computes (sum(abs(x)), max(abs(x)) …) by the
# np.linalg.norm handler in trace/numpy_api.py.

def _norm_impl(x, axis=None, keepdims=False):
    ax = axis[0] if axis is not None and len(axis) == 1 else axis
    return np.linalg.norm(x, axis=ax, keepdims=keepdims)


def _norm_vjp(B, ct, i, a, o, nb, axis=None, keepdims=False):
    x = a[0]
    zero, safe = _nonzero_safe(B, keepdims_out(B, o, x, axis))
    g = B.where(zero, 0.0, B.divide(x, safe))
    return B.multiply(expand_back(B, ct, x, axis, keepdims, nb), g)


def _norm_jvp(B, t, a, o, nb, axis=None, keepdims=False):
    x = a[0]
    zero, safe = _nonzero_safe(B, o)
    s = B.sum(B.multiply(t[0], x), axis=_shifted(B, axis, x, nb), keepdims=keepdims)
    return B.where(zero, 0.0, B.divide(s, safe))


def _emit_norm(a, at):
    parts = [a[0]]
    ax = at.get("axis")
    if ax is not None:
        parts.append(f"axis={ax[0] if len(ax) == 1 else ax}")
    if at.get("keepdims"):
        parts.append("keepdims=True")
    return f"np.linalg.norm({', '.join(parts)})"


def _sym_norm(x, axis=None, keepdims=False):
    return _sqrt_obj(np.sum(np.asarray(x, dtype=object) ** 2, axis=axis, keepdims=keepdims))


register(Op(
    name="norm", impl=_norm_impl, emit=_emit_norm, kind="other", shape=reduce_shape(_norm_impl),
    vjp=_norm_vjp, jvp=_norm_jvp, sympy=_sym_norm, nin=1,
    numpy=("np.linalg.norm (ord None, 2 for vectors, 'fro')",),
    doc="sqrt(sum(x**2)) over the axes; at x = 0 the derivative is 0 (a subgradient, like "
        "abs'(0) = 0; JAX gives NaN). ord 1, inf, -inf, 0, p (vectors) and 1, -1, inf, -inf "
        "(matrices) are traced as sum/max/min of abs(x)"))


# -- argmax and argmin: no derivative ----------------------------------------------------------

def _emit_arg(fname):
    def emit(a, at):
        parts = [a[0]]
        if at.get("axis") is not None:
            parts.append(f"axis={at['axis']}")
        if at.get("keepdims"):
            parts.append("keepdims=True")
        return f"{fname}({', '.join(parts)})"

    return emit


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(Op(
        name=_name, kind="nondiff", nin=1, emit=_emit_arg(f"np.{_name}"),
        impl=lambda x, axis=None, keepdims=False, _fn=_fn: _fn(x, axis=axis, keepdims=keepdims),
        shape=lambda avals, axis=None, keepdims=False: (
            reduced_shape(avals[0][0], None if axis is None else (axis,), keepdims),
            np.dtype(np.intp)),
        numpy=(f"np.{_name}", f".{_name}()"), doc="integer result: no derivative"))


# -- cumsum: linear; its transpose is the reversed cumulative sum -------------------------------

def _flip(B, x, axis):
    return B.getitem(x, index=(slice(None),) * axis + (slice(None, None, -1),))


def _cumsum_vjp(B, ct, i, a, o, nb, axis):
    k = axis + nb
    return _flip(B, B.cumsum(_flip(B, ct, k), axis=k), k)


register(Op(
    name="cumsum", impl=lambda x, axis: np.cumsum(x, axis=axis), kind="linear", nin=1,
    emit=lambda a, at: f"np.cumsum({a[0]}, axis={at['axis']})",
    shape=lambda avals, axis: (avals[0][0], np.cumsum(np.ones(1, avals[0][1])).dtype),
    vjp=_cumsum_vjp, jvp=lambda B, t, a, o, nb, axis: B.cumsum(t[0], axis=axis + nb),
    sympy=lambda x, axis: np.cumsum(np.asarray(x, dtype=object), axis=axis),
    numpy=("np.cumsum", ".cumsum()", "np.add.accumulate"),
    doc="axis=None flattens first (as NumPy does)"))


def _argsort_impl(x, axis, kind=None):
    return np.argsort(x, axis=axis, kind=kind)


register(Op(
    name="argsort", impl=_argsort_impl, kind="nondiff", nin=1,
    emit=lambda a, at: f"np.argsort({a[0]}, axis={at['axis']}" + (
        f", kind={at['kind']!r})" if at.get("kind") else ")"),
    shape=lambda avals, axis, kind=None: (avals[0][0], np.dtype(np.intp)),
    numpy=("np.argsort", ".argsort()"),
    doc="integer result: no derivative; np.sort is traced as take_along_axis(x, argsort(x))"))
