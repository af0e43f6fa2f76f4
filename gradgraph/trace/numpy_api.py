"""NumPy's public functions, as the tracer sees them: each handler normalises NumPy's
arguments (axes, shapes, defaults) and records one op of the op table.

``handle_ufunc`` covers every ufunc whose op has ``impl`` equal to that ufunc;
``HANDLERS`` maps the other NumPy functions (``np.sum``, ``np.reshape``, ``np.linalg.norm`` …)
to small functions here. Anything else raises ``UnsupportedOperationError`` naming it.
"""

from __future__ import annotations

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
    name = UFUNCS.get(ufunc)
    if method != "__call__" or name is None:
        unsupported(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        unsupported(f"np.{ufunc.__name__} with {', '.join(kwargs)}=")
    r = record(name, inputs)
    return astype(r, dtype) if dtype is not None else r


REDUCE_UFUNCS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}


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

# -- shapes -------------------------------------------------------------------------------


def _resolve_shape(newshape, size):
    newshape = (newshape,) if isinstance(newshape, (int, np.integer)) else tuple(newshape)
    newshape = tuple(int(s) for s in newshape)
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
