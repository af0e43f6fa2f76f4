"""NumPy's public functions, as the tracer sees them: each handler normalises NumPy's
arguments (axes, shapes, defaults) and records one op of the op table.

``handle_ufunc`` covers every ufunc whose op has ``impl`` equal to that ufunc;
``HANDLERS`` maps the other NumPy functions (``np.sum``, ``np.reshape``, ``np.linalg.norm`` …)
to small functions here. Anything else raises ``UnsupportedOperationError`` naming it.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import GradgraphTypeError, GradgraphValueError, TracerError, \
    UnsupportedOperationError, user_loc
from ..ops.registry import OPS
from .tracer import Tracer, current_trace

UFUNCS = {op.impl: name for name, op in OPS.items() if isinstance(op.impl, np.ufunc)}
HANDLERS: dict = {}


def handles(*funcs):
    def deco(fn):
        for f in funcs:
            HANDLERS[f] = fn
        return fn

    return deco


def record(op, inputs, **attrs):
    return current_trace(inputs).apply(op, inputs, attrs)


def _fname(func) -> str:
    mod = getattr(func, "__module__", "") or ""
    mod = mod.replace("numpy.", "np.").replace("np._core.", "np.").replace("np.core.", "np.")
    name = getattr(func, "__name__", repr(func))
    return ("np." + name) if mod in ("numpy", "np.multiarray", "np.fromnumeric",
                                     "np.numeric", "np._core") else f"{mod}.{name}"


def unsupported(what: str, hint: str = ""):
    raise UnsupportedOperationError(
        f"{what} has no gradgraph rule yet{hint}. See docs/ops.md for what is supported; "
        "rewrite with supported NumPy functions or open an issue.", loc=user_loc())


def handle_ufunc(ufunc, method, inputs, kwargs):
    if kwargs.get("out") is not None:
        raise TracerError(f"np.{ufunc.__name__}(..., out=...) writes into an array in place; "
                          "tracing needs a new array: drop out=", loc=user_loc())
    kwargs = {k: v for k, v in kwargs.items() if v is not None and k != "out"}
    if method == "reduce" and ufunc in REDUCE_UFUNCS:
        axis = kwargs.pop("axis", 0)
        return HANDLERS[REDUCE_UFUNCS[ufunc]](inputs[0], axis=axis, **kwargs)
    if method == "accumulate" and ufunc is np.add:
        return HANDLERS[np.cumsum](inputs[0], axis=kwargs.pop("axis", 0), **kwargs)
    if method == "__call__" and ufunc in UFUNC_HANDLERS:
        return UFUNC_HANDLERS[ufunc](*inputs, **kwargs)
    name = UFUNCS.get(ufunc)
    if method != "__call__" or name is None:
        unsupported(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        unsupported(f"np.{ufunc.__name__} with {', '.join(kwargs)}=")
    if dtype is not None and np.dtype(dtype).kind in "fc" and OPS[name].differentiable:
        # NumPy runs the loop in that dtype: cast the operands first, not just the result
        inputs = [astype(x, dtype) if np.result_type(
            x.dtype if isinstance(x, Tracer) else np.asarray(x).dtype) != np.dtype(dtype)
            else x for x in inputs]
    r = record(name, inputs)
    return astype(r, dtype) if dtype is not None else r


REDUCE_UFUNCS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}
UFUNC_HANDLERS: dict = {}  # ufuncs (NumPy 2 gufuncs such as np.vecdot) traced by a function


def handle_function(func, args, kwargs):
    h = HANDLERS.get(func)
    if h is None:
        unsupported(_fname(func))
    return h(*args, **kwargs)


# -- helpers ------------------------------------------------------------------------------

def ndim(x) -> int:
    return x.ndim if isinstance(x, Tracer) else np.ndim(x)


def shape(x) -> tuple:
    return x.shape if isinstance(x, Tracer) else np.shape(x)


def norm_axis(axis, nd):
    """None, or a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -nd <= a < max(nd, 1):
            raise GradgraphValueError(f"axis {a} is out of bounds for an array of dimension {nd}",
                                      loc=user_loc())
        out.append(a % nd if nd else 0)
    return tuple(sorted(set(out)))


def _no(kw, **given):
    bad = [k for k, v in given.items() if v is not None and v is not False]
    if bad:
        unsupported(f"{kw} with {', '.join(bad)}=")


def astype(x, dtype):
    dtype = np.dtype(dtype)
    if shape(x) == () and not isinstance(x, Tracer):
        return np.asarray(x).astype(dtype)
    if x.dtype == dtype:
        return x
    return record("astype", [x], dtype=dtype.name)


# -- reductions -----------------------------------------------------------------------------

def _reduction(op):
    def h(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        _no(f"np.{op}", out=out, where=kw.get("where"), initial=kw.get("initial"))
        if dtype is not None:
            a = astype(a, dtype)
        attrs = dict(axis=norm_axis(axis, ndim(a)), keepdims=bool(keepdims))
        if kw.get("ddof"):
            attrs["ddof"] = kw["ddof"]
        return record(op, [a], **attrs)

    return h


handles(np.sum)(_reduction("sum"))
handles(np.mean)(_reduction("mean"))
handles(np.max, np.amax)(_reduction("max"))
handles(np.min, np.amin)(_reduction("min"))
handles(np.prod)(_reduction("prod"))


def _spread(op):
    def h(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
          mean=None, correction=None):
        _no(f"np.{op}", out=out, where=where, mean=mean)
        if correction is not None:
            ddof = correction
        if dtype is not None:
            a = astype(a, dtype)
        attrs = dict(axis=norm_axis(axis, ndim(a)), keepdims=bool(keepdims))
        if ddof:
            attrs["ddof"] = ddof
        return record(op, [a], **attrs)

    return h


handles(np.var)(_spread("var"))
handles(np.std)(_spread("std"))


def _arg_extremum(op):
    def h(a, axis=None, out=None, *, keepdims=False):
        _no(f"np.{op}", out=out)
        ax = None if axis is None else norm_axis(axis, ndim(a))[0]
        return record(op, [a], axis=ax, keepdims=bool(keepdims))

    return h


handles(np.argmax)(_arg_extremum("argmax"))
handles(np.argmin)(_arg_extremum("argmin"))


@handles(np.cumsum)
def _cumsum(a, axis=None, dtype=None, out=None):
    _no("np.cumsum", out=out)
    if dtype is not None:
        a = astype(a, dtype)
    if axis is None:
        a, axis = _ravel(a), 0
    return record("cumsum", [a], axis=norm_axis(axis, ndim(a))[0])

# -- shapes -------------------------------------------------------------------------------


def _resolve_shape(newshape, size):
    newshape = (newshape,) if isinstance(newshape, (int, np.integer)) else tuple(newshape)
    # operator.index, as NumPy does: a traced size raises (Tracer.__index__), never a guard
    newshape = tuple(operator.index(s) for s in newshape)
    if -1 in newshape:
        known = int(np.prod([s for s in newshape if s != -1], dtype=np.int64))
        newshape = tuple(size // known if s == -1 else s for s in newshape)
    return newshape


@handles(np.reshape)
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        unsupported(f"np.reshape with order={order!r}")
    shape = shape if shape is not None else newshape
    size = int(np.prod(a.shape if isinstance(a, Tracer) else np.shape(a), dtype=np.int64))
    new = _resolve_shape(shape, size)
    if int(np.prod(new, dtype=np.int64)) != size:
        raise GradgraphValueError(f"cannot reshape an array of size {size} into shape {new}",
                                  loc=user_loc())
    return record("reshape", [a], shape=new)


@handles(np.ravel)
def _ravel(a, order="C"):
    return _reshape(a, (-1,), order)


@handles(np.expand_dims)
def _expand_dims(a, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = ndim(a) + len(axes)
    axes = sorted(ax % nd for ax in axes)
    s = list(shape(a))
    for ax in axes:
        s.insert(ax, 1)
    return record("reshape", [a], shape=tuple(s))


@handles(np.squeeze)
def _squeeze(a, axis=None):
    s = shape(a)
    axes = norm_axis(axis, len(s)) if axis is not None else tuple(i for i, d in enumerate(s) if d == 1)
    for ax in axes:
        if s[ax] != 1:
            raise GradgraphValueError("cannot select an axis to squeeze out which has size not "
                                      "equal to one", loc=user_loc())
    return record("reshape", [a], shape=tuple(d for i, d in enumerate(s) if i not in axes))


@handles(np.transpose)
def _transpose(a, axes=None):
    nd = ndim(a)
    axes = tuple(reversed(range(nd))) if axes is None else tuple(int(x) % nd for x in axes)
    return record("transpose", [a], axes=axes)


@handles(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    nd = ndim(a)
    perm = list(range(nd))
    i, j = axis1 % nd, axis2 % nd
    perm[i], perm[j] = perm[j], perm[i]
    return record("transpose", [a], axes=tuple(perm))


@handles(np.moveaxis)
def _moveaxis(a, source, destination):
    nd = ndim(a)
    src = [s % nd for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % nd for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return record("transpose", [a], axes=tuple(order))


@handles(np.broadcast_to)
def _broadcast_to(array, shape, subok=False):
    return record("broadcast_to", [array], shape=_resolve_shape(shape, 0))


@handles(np.atleast_1d)
def _atleast_1d(*arys):
    out = [a if ndim(a) >= 1 else _reshape(a, (1,)) for a in arys]
    return out[0] if len(out) == 1 else out


@handles(np.atleast_2d)
def _atleast_2d(*arys):
    out = [a if ndim(a) >= 2 else _reshape(a, (1,) + tuple(shape(a))) for a in arys]
    return out[0] if len(out) == 1 else out


@handles(np.concatenate)
def _concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    _no("np.concatenate", out=out, dtype=dtype)
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [_ravel(a) for a in arrays], 0
    return record("concatenate", arrays, axis=int(axis) % ndim(arrays[0]))


@handles(np.stack)
def _stack(arrays, axis=0, out=None, dtype=None, casting=None):
    _no("np.stack", out=out, dtype=dtype)
    arrays = list(arrays)
    return record("stack", arrays, axis=int(axis) % (ndim(arrays[0]) + 1))


@handles(np.hstack)
def _hstack(tup, dtype=None, casting=None):
    arrs = [_atleast_1d(a) for a in tup]
    return _concatenate(arrs, axis=0 if ndim(arrs[0]) == 1 else 1)


@handles(np.vstack)
def _vstack(tup, dtype=None, casting=None):
    return _concatenate([_atleast_2d(a) for a in tup], axis=0)


# -- elementwise functions that are not ufuncs -----------------------------------------------

@handles(np.where)
def _where(condition, x=None, y=None):
    if x is None or y is None:
        unsupported("np.where(condition) with one argument (data-dependent shape)",
                    "; use the three-argument np.where(cond, x, y)")
    return record("where", [condition, x, y])


@handles(np.clip)
def _clip(a, a_min=None, a_max=None, out=None, **kw):
    _no("np.clip", out=out)
    a_min = kw.get("min", a_min)
    a_max = kw.get("max", a_max)
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return record("clip", [a, lo, hi])


@handles(np.round, np.around)
def _round(a, decimals=0, out=None):
    _no("np.round", out=out)
    return record("round", [a], decimals=int(decimals))


def _like(fill):
    def h(a, dtype=None, order="K", subok=True, shape=None, **kw):
        value = fill if fill is not None else kw.get("fill_value")
        dt = np.dtype(dtype) if dtype is not None else np.result_type(a.dtype if isinstance(
            a, Tracer) else np.asarray(a).dtype)
        shp = tuple(np.atleast_1d(shape)) if shape is not None else tuple(
            a.shape if isinstance(a, Tracer) else np.shape(a))
        if isinstance(value, Tracer):
            return _broadcast_to(astype(value, dt), shp)
        return np.full(shp, value, dtype=dt)

    return h


handles(np.zeros_like)(_like(0))
handles(np.ones_like)(_like(1))


@handles(np.full_like)
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None):
    return _like(None)(a, dtype=dtype, shape=shape, fill_value=fill_value)


@handles(np.shape)
def _shape(a):
    return shape(a)


@handles(np.ndim)
def _ndim(a):
    return ndim(a)


@handles(np.size)
def _size(a, axis=None):
    s = shape(a)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


# -- products ---------------------------------------------------------------------------------

@handles(np.dot)
def _dot(a, b, out=None):
    _no("np.dot", out=out)
    return record("dot", [a, b])


if not isinstance(np.matmul, np.ufunc):  # NumPy < 2: matmul is a plain function
    handles(np.matmul)(lambda a, b, out=None, **kw: record("matmul", [a, b]))

# -- indexing -------------------------------------------------------------------------------


def getitem(x, idx):
    if not isinstance(idx, tuple):
        idx = (idx,)
    index, arrays = [], []
    for it in idx:
        if isinstance(it, Tracer):
            if it.dtype.kind not in "biu":
                raise GradgraphTypeError(f"arrays used as indices must be of integer or boolean "
                                         f"type, not {it.dtype}", loc=user_loc())
            if it.dtype == bool:
                n = int(np.count_nonzero(it._value))
                cnt = record("count_nonzero", [it])
                cnt._trace.guard(cnt._node, "value", n)
            index.append(("arg", len(arrays)))
            arrays.append(it)
        elif isinstance(it, (list, np.ndarray)):
            a = np.asarray(it)
            if a.dtype == object:
                index.append(("arg", len(arrays)))
                arrays.append(a)
                continue
            if a.dtype.kind not in "biu":
                raise GradgraphTypeError("arrays used as indices must be of integer or boolean "
                                         f"type, not {a.dtype}", loc=user_loc())
            index.append(("arg", len(arrays)))
            arrays.append(a)
        elif isinstance(it, slice):
            for part in (it.start, it.stop, it.step):
                if isinstance(part, Tracer):
                    part.__index__()
            index.append(slice(*(None if p is None else int(p) for p in (it.start, it.stop, it.step))))
        elif it is None or it is Ellipsis:
            index.append(it)
        elif isinstance(it, (int, np.integer)) and not isinstance(it, (bool, np.bool_)):
            index.append(int(it))
        else:
            raise GradgraphTypeError(f"unsupported index {it!r} of type {type(it).__name__}",
                                     loc=user_loc())
    return record("getitem", [x] + arrays, index=tuple(index))


handles(np.all)(_reduction("all"))
handles(np.any)(_reduction("any"))


@handles(np.count_nonzero)
def _count_nonzero(a, axis=None, keepdims=False):
    if axis is not None or keepdims:
        unsupported("np.count_nonzero with axis=")
    return record("count_nonzero", [a])


# -- more shapes: take, sort, flip, roll, tile, repeat, split, diff, diagonal -----------------
# Traced as the indexing/joining/broadcasting ops they are, so their derivatives come from
# those ops' rules.


def _axis1(axis, nd) -> int:
    return norm_axis(axis, nd)[0]


@handles(np.take)
def _take(a, indices, axis=None, out=None, mode="raise"):
    _no("np.take", out=out)
    if mode != "raise":
        unsupported(f"np.take with mode={mode!r}")
    if axis is None:
        a, axis = _ravel(a), 0
    return getitem(a, (slice(None),) * _axis1(axis, ndim(a)) + (indices,))


@handles(np.take_along_axis)
def _take_along_axis(arr, indices, axis=-1):
    if axis is None:
        arr, axis = _ravel(arr), 0
    nd = ndim(arr)
    axis = _axis1(axis, nd)
    if ndim(indices) != nd:
        raise GradgraphValueError("np.take_along_axis: `indices` and `arr` must have the same "
                                  "number of dimensions", loc=user_loc())
    idx = []
    for j, n in enumerate(shape(arr)):
        if j == axis:
            idx.append(indices)
        else:
            idx.append(np.arange(n).reshape(tuple(-1 if k == j else 1 for k in range(nd))))
    return getitem(arr, tuple(idx))


@handles(np.argsort)
def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    _no("np.argsort", order=order)
    if stable:
        kind = "stable"
    if axis is None:
        a, axis = _ravel(a), 0
    return record("argsort", [a], axis=_axis1(axis, ndim(a)), **({"kind": kind} if kind else {}))


@handles(np.sort)
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    if axis is None:
        a, axis = _ravel(a), 0
    axis = _axis1(axis, ndim(a))
    return _take_along_axis(a, _argsort(a, axis, kind, order, stable=stable), axis)


@handles(np.flip)
def _flip(m, axis=None):
    nd = ndim(m)
    axes = range(nd) if axis is None else norm_axis(axis, nd)
    return getitem(m, tuple(slice(None, None, -1) if k in axes else slice(None)
                            for k in range(nd)))


handles(np.fliplr)(lambda m: _flip(m, 1))
handles(np.flipud)(lambda m: _flip(m, 0))


def _slice_along(a, axis, start, stop):
    return getitem(a, (slice(None),) * axis + (slice(start, stop),))


@handles(np.roll)
def _roll(a, shift, axis=None):
    if axis is None:
        return _reshape(_roll(_ravel(a), shift, 0), shape(a))
    shifts = (shift,) * (1 if isinstance(axis, int) else len(axis)) if isinstance(
        shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for sh, ax in zip(shifts, axes, strict=True):
        ax = _axis1(ax, ndim(a))
        n = shape(a)[ax]
        k = int(sh) % n if n else 0
        if k:
            a = _concatenate([_slice_along(a, ax, n - k, None), _slice_along(a, ax, 0, n - k)],
                             axis=ax)
    return a


@handles(np.tile)
def _tile(A, reps):
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = tuple(shape(A))
    d = max(len(s), len(reps))
    s = (1,) * (d - len(s)) + s
    reps = (1,) * (d - len(reps)) + reps
    if all(r == 1 for r in reps):
        return _reshape(A, s)
    x = _reshape(A, tuple(v for n in s for v in (1, n)))  # (1, s0, 1, s1, ...)
    x = _broadcast_to(x, tuple(v for r, n in zip(reps, s) for v in (r, n)))
    return _reshape(x, tuple(r * n for r, n in zip(reps, s)))


@handles(np.repeat)
def _repeat(a, repeats, axis=None):
    if isinstance(repeats, Tracer):
        unsupported("np.repeat with traced repeats", " (the result's shape would depend on "
                    "the values)")
    if axis is None:
        a, axis = _ravel(a), 0
    axis = _axis1(axis, ndim(a))
    s = shape(a)
    if np.ndim(repeats) == 0 or np.size(repeats) == 1:
        r = int(np.asarray(repeats).reshape(()))
        x = _reshape(a, s[:axis + 1] + (1,) + s[axis + 1:])
        x = _broadcast_to(x, s[:axis + 1] + (r,) + s[axis + 1:])
        return _reshape(x, s[:axis] + (s[axis] * r,) + s[axis + 1:])
    idx = np.repeat(np.arange(s[axis]), repeats)
    return getitem(a, (slice(None),) * axis + (idx,))


@handles(np.append)
def _append(arr, values, axis=None):
    if axis is None:
        return _concatenate([_ravel(arr), _ravel(values)], axis=0)
    return _concatenate([arr, values], axis=axis)


def _split_bounds(n, indices_or_sections, equal):
    pieces = (np.split if equal else np.array_split)(np.arange(n), indices_or_sections)
    out, start = [], 0
    for p in pieces:
        out.append((start, start + len(p)))
        start += len(p)
    return out


def _splitter(equal):
    def h(ary, indices_or_sections, axis=0):
        if isinstance(indices_or_sections, Tracer):
            unsupported("np.split with traced split points")
        axis = _axis1(axis, ndim(ary))
        bounds = _split_bounds(shape(ary)[axis], indices_or_sections, equal)
        return [_slice_along(ary, axis, lo, hi) for lo, hi in bounds]

    return h


handles(np.split)(_splitter(True))
handles(np.array_split)(_splitter(False))


@handles(np.diff)
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    axis = _axis1(axis, ndim(a))
    parts = [a]
    for extra, front in ((prepend, True), (append, False)):
        if extra is not np._NoValue:
            if ndim(extra) == 0:
                s = list(shape(a))
                s[axis] = 1
                extra = np.broadcast_to(extra, tuple(s)) if not isinstance(extra, Tracer) \
                    else _broadcast_to(extra, tuple(s))
            parts.insert(0, extra) if front else parts.append(extra)
    if len(parts) > 1:
        a = _concatenate(parts, axis=axis)
    for _ in range(int(n)):
        a = np.subtract(_slice_along(a, axis, 1, None), _slice_along(a, axis, None, -1))
    return a


@handles(np.diagonal)
def _diagonal(a, offset=0, axis1=0, axis2=1):
    nd = ndim(a)
    i, j = _axis1(axis1, nd), _axis1(axis2, nd)
    if i == j:
        raise GradgraphValueError("axis1 and axis2 cannot be the same", loc=user_loc())
    rest = [k for k in range(nd) if k not in (i, j)]
    x = _transpose(a, rest + [i, j])
    n1, n2 = shape(a)[i], shape(a)[j]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(0, min(n1 - r0, n2 - c0))
    return getitem(x, (Ellipsis, np.arange(r0, r0 + k), np.arange(c0, c0 + k)))


@handles(np.diag)
def _diag(v, k=0):
    if ndim(v) == 2:
        return _diagonal(v, k)
    if ndim(v) != 1:
        raise GradgraphValueError("np.diag: input must be 1- or 2-d", loc=user_loc())
    n = shape(v)[0]
    m = n + abs(k)
    rows = np.arange(n) + max(-k, 0)
    cols = np.arange(n) + max(k, 0)
    dt = v.dtype if isinstance(v, Tracer) else np.result_type(v)
    return record("index_add", [v, rows, cols], index=(("arg", 0), ("arg", 1)), shape=(m, m),
                  dtype=np.dtype(dt).name)


@handles(np.real)
def _real(val):
    if np.dtype(val.dtype).kind == "c":
        unsupported("np.real of a complex array")
    return val


@handles(np.imag)
def _imag(val):
    if np.dtype(val.dtype).kind == "c":
        unsupported("np.imag of a complex array")
    return np.zeros(shape(val), val.dtype)


@handles(np.average)
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        n = int(np.prod(shape(a), dtype=np.int64)) / max(1, int(np.prod(shape(avg))))
        wsum = np.full(shape(avg), n, dtype=avg.dtype)
    else:
        if shape(weights) != shape(a):
            unsupported("np.average with weights of another shape than a", "; broadcast them")
        wsum = np.sum(weights, axis=axis, keepdims=keepdims)
        avg = np.divide(np.sum(np.multiply(a, weights), axis=axis, keepdims=keepdims), wsum)
    return (avg, wsum) if returned else avg


from . import numpy_linalg  # noqa: E402,F401  (registers the products and linear algebra)
