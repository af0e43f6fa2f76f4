"""Structural ops: reshape, transpose, broadcast, indexing, joining, casts and zeros.

All are linear in their array inputs, so the vjp is the transpose and the jvp is the op
itself applied to the tangent (with ``nb`` leading batch axes kept in front).
"""

from __future__ import annotations

import numpy as np

from .registry import Op, abstract_eval, register

# -- reshape, transpose, broadcast_to -------------------------------------------------------


def _shape_attr_rule(avals, shape, **_):
    return tuple(shape), avals[0][1]


register(Op(
    name="reshape", impl=lambda x, shape: np.reshape(x, shape), kind="linear", nin=1,
    emit=lambda a, at: f"np.reshape({a[0]}, {tuple(at['shape'])!r})",
    shape=_shape_attr_rule,
    vjp=lambda B, ct, i, a, o, nb, shape: B.reshape(ct, shape=B.shape(ct)[:nb] + B.shape(a[0])),
    jvp=lambda B, t, a, o, nb, shape: B.reshape(t[0], shape=B.shape(t[0])[:nb] + tuple(shape)),
    sympy=lambda x, shape: np.reshape(np.asarray(x, dtype=object), shape),
    numpy=("np.reshape", ".reshape()", "np.ravel", ".ravel()", ".flatten()", "np.expand_dims",
           "np.squeeze", ".squeeze()", "np.atleast_1d", "np.atleast_2d", "np.tile",
           "np.repeat (int)")))


def _transpose_emit(a, at):
    axes = tuple(at["axes"])
    if axes == tuple(reversed(range(len(axes)))):
        return f"{a[0]}.T"
    return f"np.transpose({a[0]}, {axes!r})"


def _batched_axes(axes, nb):
    return tuple(range(nb)) + tuple(ax + nb for ax in axes)


register(Op(
    name="transpose", impl=lambda x, axes: np.transpose(x, axes), kind="linear", nin=1,
    emit=_transpose_emit,
    shape=lambda avals, axes: (tuple(avals[0][0][i] for i in axes), avals[0][1]),
    vjp=lambda B, ct, i, a, o, nb, axes: B.transpose(
        ct, axes=_batched_axes(tuple(int(j) for j in np.argsort(axes)), nb)),
    jvp=lambda B, t, a, o, nb, axes: B.transpose(t[0], axes=_batched_axes(axes, nb)),
    sympy=lambda x, axes: np.transpose(np.asarray(x, dtype=object), axes),
    numpy=("np.transpose", ".T", ".transpose()", "np.swapaxes", "np.moveaxis", ".swapaxes()")))

register(Op(
    name="broadcast_to", impl=lambda x, shape: np.broadcast_to(x, shape), kind="linear", nin=1,
    emit=lambda a, at: f"np.broadcast_to({a[0]}, {tuple(at['shape'])!r})",
    shape=_shape_attr_rule,
    vjp=lambda B, ct, i, a, o, nb, shape: B.unbroadcast(ct, B.shape(a[0]), nb),
    jvp=lambda B, t, a, o, nb, shape: B.broadcast_batched(t[0], tuple(shape), nb),
    sympy=lambda x, shape: np.broadcast_to(np.asarray(x, dtype=object), shape),
    numpy=("np.broadcast_to", "np.tile", "np.repeat (int)", "np.full_like(x, traced fill)")))

# -- casts and zeros ----------------------------------------------------------------------


def _astype_vjp(B, ct, i, a, o, nb, dtype):
    return B.cast(ct, B.dtype(a[0]))


def _astype_jvp(B, t, a, o, nb, dtype):
    return B.cast(t[0], dtype)


def _astype_sympy(x, dtype):
    """Casts to integers truncate toward zero, casts to bool test != 0, others keep x."""
    import sympy as sp

    kind = np.dtype(dtype).kind
    x = np.asarray(x, dtype=object)
    if kind not in "iub":
        return x
    f = (lambda e: sp.Ne(e, 0)) if kind == "b" else (lambda e: sp.sign(e) * sp.floor(sp.Abs(e)))
    return np.frompyfunc(f, 1, 1)(x) if x.ndim else np.asarray(f(x[()]), dtype=object)


register(Op(
    name="astype", impl=lambda x, dtype: np.asarray(x).astype(dtype), kind="linear", nin=1,
    emit=lambda a, at: f"{a[0]}.astype(np.{at['dtype']})" if at["dtype"] != "bool"
    else f"{a[0]}.astype(bool)",
    shape=lambda avals, dtype: (avals[0][0], np.dtype(dtype)),
    vjp=_astype_vjp, jvp=_astype_jvp, sympy=_astype_sympy,
    numpy=(".astype()", "dtype= of ufuncs and reductions"),
    doc="a cast to an integer or bool dtype carries no derivative"))


def _zeros_emit(a, at):
    return f"np.zeros({tuple(at['shape'])!r}, dtype=np.{at['dtype']})"


register(Op(
    name="zeros", impl=lambda shape, dtype: np.zeros(shape, dtype), kind="nondiff", nin=0,
    emit=_zeros_emit, shape=lambda avals, shape, dtype: (tuple(shape), np.dtype(dtype)),
    sympy=lambda shape, dtype: np.zeros(shape, dtype=object) * 0,
    doc="made by derivative rules (a zero cotangent or tangent); np.zeros_like(x) and "
        "friends of a traced x are constants"))

# -- indexing -----------------------------------------------------------------------------
# ``index`` is a tuple whose items are ints, slices, None, Ellipsis or ("arg", k): the k-th
# array operand after x (integer arrays and boolean masks, traced or constant).


def build_index(index, arrays):
    return tuple(arrays[it[1]] if isinstance(it, tuple) else it for it in index)


def index_text(index, names, subscript: bool = True) -> str:
    """The index as source: ``x[<text>]`` (``subscript``), or as a tuple expression outside
    brackets (``np.add.at(out, (<text>,), v)``), where ``:`` must be spelled ``slice(...)``."""
    parts = []
    for it in index:
        if isinstance(it, tuple):
            parts.append(names[it[1]])
        elif isinstance(it, slice) and not subscript:
            parts.append(f"slice({it.start!r}, {it.stop!r}, {it.step!r})")
        elif isinstance(it, slice):
            s = "" if it.start is None else repr(it.start)
            s += ":" + ("" if it.stop is None else repr(it.stop))
            if it.step is not None:
                s += ":" + repr(it.step)
            parts.append(s)
        elif it is Ellipsis:
            parts.append("...")
        else:
            parts.append(repr(it))
    return ", ".join(parts) if parts else "()"


def batch_index(index, nb):
    """The same index with ``nb`` leading batch axes kept whole."""
    return tuple(index) if not nb else (slice(None),) * nb + tuple(index)


def advanced_in_front(B, index, arrs, x_nd: int, out_nd: int) -> int:
    """How many result dimensions NumPy puts in front when advanced indices (arrays, and ints
    next to arrays) are separated by a slice, None or ``...``, else 0. Then ``nb`` batch slices
    in front do not stay in front: ``x[:, i, :, j]`` is ``adv + batch + rest``."""
    if not any(isinstance(it, tuple) for it in index):
        return 0
    adv = [k for k, it in enumerate(index)
           if isinstance(it, tuple) or (isinstance(it, int) and not isinstance(it, bool))]
    if adv == list(range(adv[0], adv[-1] + 1)):
        return 0
    consumed = 0
    for it in index:
        if isinstance(it, tuple):
            a = arrs[it[1]]
            consumed += B.ndim(a) if B.dtype(a) == np.bool_ else 1
        elif isinstance(it, int):
            consumed += 1
    rest = sum(1 for it in index if it is None) + x_nd - consumed
    return out_nd - rest


def _swap_front(B, v, k, nb, batch_first):
    """Move ``nb`` batch axes behind (``batch_first=False``) or in front of ``k`` leading
    advanced-index axes."""
    nd = B.ndim(v)
    if batch_first:  # v is adv + batch + rest
        perm = tuple(range(k, k + nb)) + tuple(range(k)) + tuple(range(k + nb, nd))
    else:  # v is batch + adv + rest
        perm = tuple(range(nb, nb + k)) + tuple(range(nb)) + tuple(range(nb + k, nd))
    return B.transpose(v, axes=perm)


def _index_add_node(B, v, arrs, index, nb, shape, dtype):
    """Scatter-add ``v`` (``batch + index result``) into zeros of ``batch + shape``."""
    batch = B.shape(v)[:nb]
    k = advanced_in_front(B, index, arrs, len(shape), B.ndim(v) - nb) if nb else 0
    if k:
        v = _swap_front(B, v, k, nb, batch_first=False)
    return B("index_add", v, *arrs, index=batch_index(index, nb), shape=batch + tuple(shape),
             dtype=dtype)


def _getitem_vjp(B, ct, i, a, o, nb, index):
    if i:
        return None
    return _index_add_node(B, ct, a[1:], index, nb, B.shape(a[0]), B.dtype(a[0]).name)


def _indexable(x):
    """``x`` itself when it is an array (a dask array stays lazy), else as an ndarray."""
    return x if hasattr(x, "__array_function__") else np.asarray(x)


def _getitem_node(B, x, arrs, index, nb, shape):
    """A getitem whose result shape is known (``batch + shape``): the shape rule samples
    boolean masks as zeros, so it cannot count their True entries."""
    batch = B.shape(x)[:nb]
    k = advanced_in_front(B, index, arrs, B.ndim(x) - nb, len(shape)) if nb else 0
    got = tuple(shape[:k]) + batch + tuple(shape[k:]) if k else batch + tuple(shape)
    r = B.g.add("getitem", [x, *arrs], {"index": batch_index(index, nb)}, role=B.role,
                loc=B.loc, shape=got, dtype=B.dtype(x))
    return _swap_front(B, r, k, nb, batch_first=True) if k else r


def _getitem_jvp(B, t, a, o, nb, index):
    return _getitem_node(B, t[0], a[1:], index, nb, B.shape(o))


register(Op(
    name="getitem", impl=lambda x, *arrs, index: _indexable(x)[build_index(index, arrs)],
    kind="linear", emit=lambda a, at: f"{a[0]}[{index_text(at['index'], a[1:])}]",
    shape=abstract_eval(lambda x, *arrs, index: x[build_index(index, arrs)]),
    vjp=_getitem_vjp, jvp=_getitem_jvp,
    sympy=lambda x, *arrs, index: np.asarray(x, dtype=object)[build_index(index, arrs)],
    numpy=("x[...]", "iteration", "np.take", "np.take_along_axis", "np.flip", "np.diagonal",
           "np.diag (2-D)", "np.sort", "np.split", "np.roll", "np.diff", "np.repeat (arrays)"),
    doc="basic slices (negative steps too), integer arrays, boolean masks, None, ..."))


def _has_arrays(index):
    return any(isinstance(it, tuple) for it in index)


def _index_add_impl(v, *arrs, index, shape, dtype):
    out = np.zeros(shape, dtype)
    idx = build_index(index, arrs)
    if _has_arrays(index):
        np.add.at(out, idx, v)
    else:
        out[idx] = v
    return out


def _index_add_emit(a, at):
    idx = index_text(at["index"], a[1:])
    first = f"{{out}} = np.zeros({tuple(at['shape'])!r}, dtype=np.{at['dtype']})"
    if _has_arrays(at["index"]):
        idx = index_text(at["index"], a[1:], subscript=False)
        return [first, f"np.add.at({{out}}, ({idx},), {a[0]})"]
    return [first, f"{{out}}[{idx}] = {a[0]}"]


register(Op(
    name="index_add", impl=_index_add_impl, kind="linear", emit=_index_add_emit,
    shape=lambda avals, index, shape, dtype: (tuple(shape), np.dtype(dtype)),
    vjp=lambda B, ct, i, a, o, nb, index, shape, dtype: None if i else _getitem_node(
        B, ct, a[1:], index, nb, B.shape(a[0])),
    jvp=lambda B, t, a, o, nb, index, shape, dtype: _index_add_node(
        B, t[0], a[1:], index, nb, shape, dtype),
    sympy=lambda v, *arrs, index, shape, dtype: _sym_index_add(v, arrs, index, shape),
    doc="the transpose of indexing: scatter-add into zeros (repeated indices add up)"))


def _sym_index_add(v, arrs, index, shape):
    out = np.zeros(shape, dtype=object) * 0
    np.add.at(out, build_index(index, arrs), np.asarray(v, dtype=object))
    return out


# -- joining ------------------------------------------------------------------------------


def _tangents_or_zeros(B, t, a, nb):
    batch = next(B.shape(x)[:nb] for x in t if x is not None)
    return [x if x is not None else B.zeros(batch + B.shape(y), B.dtype(y)) for x, y in zip(t, a)]


def _concat_vjp(B, ct, i, a, o, nb, axis):
    start = sum(B.shape(x)[axis] for x in a[:i])
    stop = start + B.shape(a[i])[axis]
    return B.getitem(ct, index=(slice(None),) * (nb + axis) + (slice(start, stop),))


register(Op(
    name="concatenate", impl=lambda *xs, axis: np.concatenate(xs, axis=axis), kind="linear",
    emit=lambda a, at: f"np.concatenate(({', '.join(a)},), axis={at['axis']})",
    shape=abstract_eval(lambda *xs, axis: np.concatenate(xs, axis=axis)),
    vjp=_concat_vjp,
    jvp=lambda B, t, a, o, nb, axis: B.concatenate(*_tangents_or_zeros(B, t, a, nb), axis=axis + nb),
    sympy=lambda *xs, axis: np.concatenate([np.asarray(x, dtype=object) for x in xs], axis=axis),
    numpy=("np.concatenate", "np.hstack", "np.vstack", "np.append", "np.roll")))

register(Op(
    name="stack", impl=lambda *xs, axis: np.stack(xs, axis=axis), kind="linear",
    emit=lambda a, at: f"np.stack(({', '.join(a)},), axis={at['axis']})",
    shape=abstract_eval(lambda *xs, axis: np.stack(xs, axis=axis)),
    vjp=lambda B, ct, i, a, o, nb, axis: B.getitem(ct, index=(slice(None),) * (nb + axis) + (i,)),
    jvp=lambda B, t, a, o, nb, axis: B.stack(*_tangents_or_zeros(B, t, a, nb), axis=axis + nb),
    sympy=lambda *xs, axis: np.stack([np.asarray(x, dtype=object) for x in xs], axis=axis),
    numpy=("np.stack", "np.array([...])")))
