"""Products: ``matmul`` (``@``) and ``dot``; bilinear, so each input's cotangent is a
product of the cotangent with the other input, transposed.

In batched mode (``nb`` leading axes on the cotangent/tangent) 1-D operands are treated
as a row (left) or column (right) matrix and the batch axes become matmul stack axes, so one
rule covers vector, matrix and stacked products.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
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


def _dot_kind(B, a):
    nds = (B.ndim(a[0]), B.ndim(a[1]))
    if 0 in nds:
        return "scalar"
    if max(nds) <= 2:
        return "matmul"
    raise UnsupportedOperationError(
        f"derivative of np.dot on {nds[0]}-D and {nds[1]}-D arrays; use np.matmul or "
        "np.tensordot for stacked arrays")


def _dot_vjp(B, ct, i, a, o, nb):
    if _dot_kind(B, a) == "matmul":
        return matmul_vjp(B, ct, i, a, o, nb)
    return B.unbroadcast(B.multiply(ct, a[1 - i]), B.shape(a[i]), nb)


def _dot_jvp(B, t, a, o, nb):
    if _dot_kind(B, a) == "matmul":
        return matmul_jvp(B, t, a, o, nb)
    terms = [B.multiply(B.broadcast_batched(ti, B.shape(o), nb), a[1 - k])
             for k, ti in enumerate(t) if ti is not None]
    return terms[0] if len(terms) == 1 else B.add(*terms)


register(Op(
    name="dot", impl=np.dot, emit="np.dot({0}, {1})", kind="other", nin=2,
    shape=abstract_eval(np.dot), vjp=_dot_vjp, jvp=_dot_jvp,
    sympy=lambda x, y: np.dot(np.asarray(x, dtype=object), np.asarray(y, dtype=object)),
    numpy=("np.dot", ".dot()")))
