"""Inverse, determinant and linear solves (``np.linalg.inv``, ``det``, ``solve``).

The rules are the classic matrix-calculus identities, written with matmul/transpose nodes and
with the op itself, so they differentiate again: d inv(A) = -inv(A) dA inv(A),
d det(A) = det(A) tr(inv(A) dA), d solve(A, b) = solve(A, db - dA x). They need A invertible
where they are evaluated (a singular A raises NumPy's LinAlgError, as the primal does for inv
and solve).
"""

from __future__ import annotations

import numpy as np

from .linalg import mT
from .registry import Op, abstract_eval, register


def _inv_vjp(B, ct, i, a, o, nb):
    oT = mT(B, o)
    return B.unbroadcast(B.negative(B.matmul(B.matmul(oT, ct), oT)), B.shape(a[0]), nb)


def _inv_jvp(B, t, a, o, nb):
    return B.negative(B.matmul(B.matmul(o, t[0]), o))


register(Op(
    name="inv", impl=np.linalg.inv, emit="np.linalg.inv({0})", kind="other", nin=1,
    shape=abstract_eval(lambda x: np.linalg.inv(x + np.eye(x.shape[-1], dtype=x.dtype))),
    vjp=_inv_vjp, jvp=_inv_jvp, domain="invertible",
    sympy=lambda x: _sym_stack(x, lambda m: m.inv()),
    numpy=("np.linalg.inv",), doc="stacks of square matrices"))


def _det_vjp(B, ct, i, a, o, nb):
    x = a[0]
    batch = B.shape(ct)[:nb]
    c = B.reshape(B.multiply(ct, o), shape=batch + B.shape(o) + (1, 1))
    return B.multiply(c, mT(B, B.inv(x)))


def _det_jvp(B, t, a, o, nb):
    nd = B.ndim(t[0])
    tr = B.sum(B.multiply(mT(B, B.inv(a[0])), t[0]), axis=(nd - 2, nd - 1))
    return B.multiply(tr, o)


register(Op(
    name="det", impl=np.linalg.det, emit="np.linalg.det({0})", kind="other", nin=1,
    shape=abstract_eval(np.linalg.det), vjp=_det_vjp, jvp=_det_jvp, domain="invertible",
    sympy=lambda x: _sym_stack(x, lambda m: m.det(), scalar=True),
    numpy=("np.linalg.det",),
    doc="the derivative det(A) inv(A).T needs A invertible (raises LinAlgError otherwise)"))


def _vector_rhs(B, a):
    return B.ndim(a[1]) == 1  # NumPy 2: b is a vector only when it is 1-D


def _solve_batched_vec(B, A, r, nb):
    """``solve(A, r)`` for a batch of right-hand vectors ``r`` (``batch + (n,)``): NumPy would
    read a 2-D ``r`` as a matrix, so solve for its transpose and transpose back."""
    if nb == 0:
        return B.solve(A, r)
    return mT(B, B.solve(A, mT(B, r)))


def _solve_vjp(B, ct, i, a, o, nb):
    A = a[0]
    if _vector_rhs(B, a):
        gb = _solve_batched_vec(B, mT(B, A), ct, nb)
        if i == 1:
            return gb
        batch = B.shape(ct)[:nb]
        n = B.shape(o)[0]
        return B.negative(B.multiply(B.reshape(gb, shape=batch + (n, 1)), o))
    gb = B.solve(mT(B, A), ct)
    if i == 1:
        return B.unbroadcast(gb, B.shape(a[1]), nb)
    return B.unbroadcast(B.negative(B.matmul(gb, mT(B, o))), B.shape(A), nb)


def _pad_batched(B, t, nb, nd):
    """``t`` (``batch + core``) with 1s between the batch and the core up to ``nd`` core
    dimensions, so that broadcasting against an unbatched operand aligns the stack axes."""
    core = B.shape(t)[nb:]
    if nb == 0 or len(core) >= nd:
        return t
    return B.reshape(t, shape=B.shape(t)[:nb] + (1,) * (nd - len(core)) + core)


def _solve_jvp(B, t, a, o, nb):
    A = a[0]
    vec = _vector_rhs(B, a)
    nd = B.ndim(o)
    r = None if t[1] is None else _pad_batched(B, t[1], nb, nd)
    if t[0] is not None:
        dA_x = B.matmul(_pad_batched(B, t[0], nb, nd if not vec else 2), o)
        r = B.negative(dA_x) if r is None else B.subtract(r, dA_x)
    if vec:
        return _solve_batched_vec(B, A, r, nb)
    return B.solve(A, r)


register(Op(
    name="solve", impl=np.linalg.solve, emit="np.linalg.solve({0}, {1})", kind="other", nin=2,
    shape=abstract_eval(lambda A, b: np.linalg.solve(A + np.eye(A.shape[-1], dtype=A.dtype), b)),
    vjp=_solve_vjp, jvp=_solve_jvp, domain="invertible,real",
    sympy=lambda A, b: _sym_solve(A, b),
    numpy=("np.linalg.solve",), doc="NumPy 2 semantics: b is a vector only when it is 1-D"))


def _sym_stack(x, fn, scalar=False):
    import sympy as sp

    x = np.asarray(x, dtype=object)
    out = np.empty(x.shape[:-2], dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = fn(sp.Matrix(x[idx]))
    if scalar:
        return out if out.shape else out[()]
    res = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(out.shape):
        res[idx] = np.array(out[idx].tolist(), dtype=object)
    return res


def _sym_solve(A, b):
    inv = _sym_stack(A, lambda m: m.inv())
    b = np.asarray(b, dtype=object)
    return np.matmul(inv, b) if b.ndim > 1 else inv @ b
