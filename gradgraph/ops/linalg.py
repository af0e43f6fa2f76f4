"""Products: ``matmul`` (``@``) and ``dot``; bilinear, so each input's cotangent is a
product of the cotangent with the other input, transposed.

In batched mode (``nb`` leading axes on the cotangent/tangent) 1-D operands are treated
as a row (left) or column (right) matrix and the batch axes become matmul stack axes, so one
rule covers vector, matrix and stacked products.
"""

from __future__ import annotations

import numpy as np

from .registry import Op, abstract_eval, register


def _as_matrices(a_sh, b_sh):
    a2 = a_sh if len(a_sh) >= 2 else (1,) + tuple(a_sh)
    b2 = b_sh if len(b_sh) >= 2 else tuple(b_sh) + (1,)
    return a2, b2, np.broadcast_shapes(a2[:-2], b2[:-2])


def mT(B, x):
    """Swap the last two axes (``x.T`` for a matrix)."""
    n = B.ndim(x)
    return B.transpose(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def matmul_vjp(B, ct, i, a, o, nb):
    x, y = a[0], a[1]
    a2, b2, ob = _as_matrices(B.shape(x), B.shape(y))
    batch = B.shape(ct)[:nb]
    ct2 = B.reshape(ct, shape=batch + ob + (a2[-2], b2[-1]))
    if i == 0:
        c = B.matmul(ct2, mT(B, B.reshape(y, shape=b2)))
        c = B.unbroadcast(c, a2, nb)
        return B.reshape(c, shape=batch + B.shape(x))
    c = B.matmul(mT(B, B.reshape(x, shape=a2)), ct2)
    c = B.unbroadcast(c, b2, nb)
    return B.reshape(c, shape=batch + B.shape(y))


def matmul_jvp(B, t, a, o, nb):
    x, y = a[0], a[1]
    tx, ty = t[0], t[1]
    if nb == 0:
        terms = ([B.matmul(tx, y)] if tx is not None else []) + (
            [B.matmul(x, ty)] if ty is not None else [])
    else:
        a2, b2, ob = _as_matrices(B.shape(x), B.shape(y))
        batch = B.shape(tx if tx is not None else ty)[:nb]
        out = batch + B.shape(o)
        terms = []
        if tx is not None:
            txr = B.reshape(tx, shape=batch + (1,) * (len(ob) + 2 - len(a2)) + a2)
            terms.append(B.reshape(B.matmul(txr, B.reshape(y, shape=b2)), shape=out))
        if ty is not None:
            tyr = B.reshape(ty, shape=batch + (1,) * (len(ob) + 2 - len(b2)) + b2)
            terms.append(B.reshape(B.matmul(B.reshape(x, shape=a2), tyr), shape=out))
    return terms[0] if len(terms) == 1 else B.add(*terms)


register(Op(
    name="matmul", impl=np.matmul, emit="{0} @ {1}", kind="other", nin=2,
    shape=abstract_eval(np.matmul), vjp=matmul_vjp, jvp=matmul_jvp,
    sympy=lambda x, y: np.matmul(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
    numpy=("np.matmul", "@", ".dot() (1-D/2-D)")))


# -- tensor contractions: tensordot, and dot/inner on N-D arrays, share these rules ----------


def free_axes(nd, contracted):
    return tuple(i for i in range(nd) if i not in contracted)


def contract_vjp(B, ct, i, a, axes, nb):
    """Cotangent of operand ``i`` of ``tensordot(a[0], a[1], axes)`` (``axes`` a pair of
    tuples of non-negative axes): ``ct`` (``batch + free_0 + free_1``) contracted with the other
    operand over its free axes, then transposed into operand ``i``'s axis order."""
    me, other = a[i], a[1 - i]
    ax_me, ax_other = axes[i], axes[1 - i]
    nd_me, nd_other = B.ndim(me), B.ndim(other)
    f0 = len(free_axes(B.ndim(a[0]), axes[0]))
    f_me, f_other = free_axes(nd_me, ax_me), free_axes(nd_other, ax_other)
    # ct is batch + free_0 + free_1: the positions of the other operand's free axes
    start = nb + (f0 if i == 0 else 0)
    ct_pos = tuple(range(start, start + len(f_other)))
    r = B.tensordot(ct, other, axes=(ct_pos, f_other))
    # r: batch + f_me + (the other's contracted axes, sorted), each paired with one of mine
    tail = [ax_me[ax_other.index(j)] for j in sorted(ax_other)]
    layout = list(f_me) + tail  # my axis at each position of r after the batch
    pos = {ax: k for k, ax in enumerate(layout)}
    perm = tuple(range(nb)) + tuple(nb + pos[p] for p in range(nd_me))
    return B.transpose(r, axes=perm)


def contract_jvp(B, t, a, axes, nb):
    """Tangent of ``tensordot(a[0], a[1], axes)`` with ``nb`` batch axes in front."""
    terms = []
    if t[0] is not None:
        terms.append(B.tensordot(t[0], a[1], axes=(tuple(x + nb for x in axes[0]), axes[1])))
    if t[1] is not None:
        r = B.tensordot(a[0], t[1], axes=(axes[0], tuple(x + nb for x in axes[1])))
        if nb:  # r is free_0 + batch + free_1: bring the batch to the front
            f0 = len(free_axes(B.ndim(a[0]), axes[0]))
            nd = B.ndim(r)
            r = B.transpose(r, axes=tuple(range(f0, f0 + nb)) + tuple(range(f0)) +
                            tuple(range(f0 + nb, nd)))
        terms.append(r)
    return terms[0] if len(terms) == 1 else B.add(*terms)


def _emit_tensordot(a, at):
    ax0, ax1 = at["axes"]
    return f"np.tensordot({a[0]}, {a[1]}, axes=({list(ax0)}, {list(ax1)}))"


register(Op(
    name="tensordot", impl=lambda x, y, axes: np.tensordot(x, y, axes=axes), kind="other",
    nin=2, emit=_emit_tensordot, shape=abstract_eval(lambda x, y, axes: np.tensordot(x, y, axes)),
    vjp=lambda B, ct, i, a, o, nb, axes: contract_vjp(B, ct, i, a, axes, nb),
    jvp=lambda B, t, a, o, nb, axes: contract_jvp(B, t, a, axes, nb),
    sympy=lambda x, y, axes: np.tensordot(np.asarray(x, dtype=object),
                                          np.asarray(y, dtype=object), axes=axes),
    numpy=("np.tensordot",), doc="axes an int or a pair of axis lists"))


def inner_axes(B, a):
    return ((B.ndim(a[0]) - 1,), (B.ndim(a[1]) - 1,))


register(Op(
    name="inner", impl=np.inner, kind="other", nin=2, emit="np.inner({0}, {1})",
    shape=abstract_eval(np.inner),
    vjp=lambda B, ct, i, a, o, nb: contract_vjp(B, ct, i, a, inner_axes(B, a), nb),
    jvp=lambda B, t, a, o, nb: contract_jvp(B, t, a, inner_axes(B, a), nb),
    sympy=lambda x, y: np.inner(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
    numpy=("np.inner",), doc="a scalar operand is traced as multiply"))


def _dot_axes(B, a):
    nd1 = B.ndim(a[1])
    return ((B.ndim(a[0]) - 1,), (nd1 - 2 if nd1 >= 2 else 0,))


def _dot_kind(B, a):
    nds = (B.ndim(a[0]), B.ndim(a[1]))
    if 0 in nds:
        return "scalar"
    return "matmul" if max(nds) <= 2 else "tensordot"


def _dot_vjp(B, ct, i, a, o, nb):
    kind = _dot_kind(B, a)
    if kind == "matmul":
        return matmul_vjp(B, ct, i, a, o, nb)
    if kind == "tensordot":
        return contract_vjp(B, ct, i, a, _dot_axes(B, a), nb)
    return B.unbroadcast(B.multiply(ct, a[1 - i]), B.shape(a[i]), nb)


def _dot_jvp(B, t, a, o, nb):
    kind = _dot_kind(B, a)
    if kind == "matmul":
        return matmul_jvp(B, t, a, o, nb)
    if kind == "tensordot":
        return contract_jvp(B, t, a, _dot_axes(B, a), nb)
    terms = [B.multiply(B.broadcast_batched(ti, B.shape(o), nb), a[1 - k])
             for k, ti in enumerate(t) if ti is not None]
    return terms[0] if len(terms) == 1 else B.add(*terms)


register(Op(
    name="dot", impl=np.dot, emit="np.dot({0}, {1})", kind="other", nin=2,
    shape=abstract_eval(np.dot), vjp=_dot_vjp, jvp=_dot_jvp,
    sympy=lambda x, y: np.dot(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
    numpy=("np.dot", ".dot()"),
    doc="scalar, 1-D/2-D (the matmul rules) and N-D (the tensordot rules) operands"))


# -- outer and vdot -----------------------------------------------------------------------


def _flat(B, x):
    return B.reshape(x, shape=(int(np.prod(B.shape(x), dtype=np.int64)),))


def _outer_vjp(B, ct, i, a, o, nb):
    batch = B.shape(ct)[:nb]
    if i == 0:
        return B.reshape(B.matmul(ct, _flat(B, a[1])), shape=batch + B.shape(a[0]))
    return B.reshape(B.matmul(_flat(B, a[0]), ct), shape=batch + B.shape(a[1]))


def _outer_jvp(B, t, a, o, nb):
    if nb == 0:
        terms = [B.outer(t[0], a[1])] if t[0] is not None else []
        terms += [B.outer(a[0], t[1])] if t[1] is not None else []
    else:
        n, m = B.shape(o)
        terms = []
        if t[0] is not None:
            batch = B.shape(t[0])[:nb]
            terms.append(B.multiply(B.reshape(t[0], shape=batch + (n, 1)), _flat(B, a[1])))
        if t[1] is not None:
            batch = B.shape(t[1])[:nb]
            terms.append(B.multiply(B.reshape(a[0], shape=(n, 1)),
                                    B.reshape(t[1], shape=batch + (1, m))))
    return terms[0] if len(terms) == 1 else B.add(*terms)


register(Op(
    name="outer", impl=np.outer, emit="np.outer({0}, {1})", kind="other", nin=2,
    shape=abstract_eval(np.outer), vjp=_outer_vjp, jvp=_outer_jvp,
    sympy=lambda x, y: np.outer(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
    numpy=("np.outer",), doc="operands are flattened, as in NumPy"))


def _vdot_vjp(B, ct, i, a, o, nb):
    batch = B.shape(ct)[:nb]
    other = B.reshape(a[1 - i], shape=B.shape(a[i]))
    c = B.reshape(ct, shape=batch + (1,) * B.ndim(a[i]))
    return B.multiply(c, other)


def _vdot_jvp(B, t, a, o, nb):
    terms = []
    for k in (0, 1):
        if t[k] is None:
            continue
        if nb == 0:
            terms.append(B.vdot(t[k], a[1 - k]) if k == 0 else B.vdot(a[0], t[1]))
        else:
            batch = B.shape(t[k])[:nb]
            tk = B.reshape(t[k], shape=batch + (int(np.prod(B.shape(a[k]), dtype=np.int64)),))
            terms.append(B.matmul(tk, _flat(B, a[1 - k])))
    return terms[0] if len(terms) == 1 else B.add(*terms)


register(Op(
    name="vdot", impl=np.vdot, emit="np.vdot({0}, {1})", kind="other", nin=2,
    shape=abstract_eval(np.vdot), vjp=_vdot_vjp, jvp=_vdot_jvp,
    sympy=lambda x, y: np.vdot(np.asarray(x, dtype=object).ravel(),
                               np.asarray(y, dtype=object).ravel()),
    numpy=("np.vdot",), doc="real arrays (no conjugation happens)"))


# -- trace ------------------------------------------------------------------------------------


def _trace_vjp(B, ct, i, a, o, nb, offset, axis1, axis2):
    """``ct`` placed on the diagonal: ``ct[..., None, None] * eye`` with the eye's two axes at
    ``axis1``/``axis2`` (one multiply, the mask a hoisted constant)."""
    x = a[0]
    xs = B.shape(x)
    batch = B.shape(ct)[:nb]
    c = B.reshape(ct, shape=batch + tuple(1 if k in (axis1, axis2) else n
                                          for k, n in enumerate(xs)))
    eye = np.eye(xs[axis1], xs[axis2], k=offset, dtype=B.dtype(x))
    if axis1 > axis2:
        eye = eye.T
    mask = eye.reshape(tuple(n if k in (axis1, axis2) else 1 for k, n in enumerate(xs)))
    return B.multiply(c, mask)


def _emit_trace(a, at):
    extra = ""
    if at["offset"]:
        extra += f", offset={at['offset']}"
    if (at["axis1"], at["axis2"]) != (0, 1):
        extra += f", axis1={at['axis1']}, axis2={at['axis2']}"
    return f"np.trace({a[0]}{extra})"


register(Op(
    name="trace", kind="linear", nin=1, emit=_emit_trace,
    impl=lambda x, offset, axis1, axis2: np.trace(x, offset, axis1, axis2),
    shape=abstract_eval(lambda x, offset, axis1, axis2: np.trace(x, offset, axis1, axis2)),
    vjp=_trace_vjp,
    jvp=lambda B, t, a, o, nb, offset, axis1, axis2: B.trace(
        t[0], offset=offset, axis1=axis1 + nb, axis2=axis2 + nb),
    sympy=lambda x, offset, axis1, axis2: np.trace(np.asarray(x, dtype=object), offset,
                                                   axis1, axis2),
    numpy=("np.trace", ".trace()"), doc="offset, axis1, axis2"))
