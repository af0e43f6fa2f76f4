"""NumPy's products and linear algebra, as the tracer sees them (split from ``numpy_api``):
``inner outer vdot tensordot einsum trace``, ``np.linalg.norm det inv solve`` and NumPy 2's
``vecdot``/``matvec``/``vecmat``. Each handler normalises NumPy's arguments and records one op.
"""

from __future__ import annotations

import string

import numpy as np

from ..errors import GradgraphValueError, user_loc
from .numpy_api import (UFUNC_HANDLERS, _broadcast_to, _no, _reshape, astype, handles,
                        ndim, record, shape, unsupported)
from .tracer import Tracer


def _dtype(x) -> np.dtype:
    return x.dtype if isinstance(x, Tracer) else np.result_type(x)


# -- products --------------------------------------------------------------------------------

@handles(np.inner)
def _inner(a, b):
    if ndim(a) == 0 or ndim(b) == 0:
        return np.multiply(a, b)
    return record("inner", [a, b])


@handles(np.outer)
def _outer(a, b, out=None):
    _no("np.outer", out=out)
    return record("outer", [a, b])


@handles(np.vdot)
def _vdot(a, b):
    na, nb = (int(np.prod(shape(x), dtype=np.int64)) for x in (a, b))
    if na != nb:
        raise GradgraphValueError(f"np.vdot: the arrays have {na} and {nb} elements; they "
                                  "need the same number", loc=user_loc())
    return record("vdot", [a, b])


def _axes_list(ax, nd):
    ax = (ax,) if isinstance(ax, (int, np.integer)) else tuple(ax)
    return tuple(int(x) % nd if nd else int(x) for x in ax)


@handles(np.tensordot)
def _tensordot(a, b, axes=2):
    na, nb = ndim(a), ndim(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        ax = (tuple(range(na - n, na)), tuple(range(n)))
    else:
        ax_a, ax_b = axes
        ax = (_axes_list(ax_a, na), _axes_list(ax_b, nb))
    if len(ax[0]) != len(ax[1]) or any(shape(a)[i] != shape(b)[j] for i, j in zip(*ax)):
        raise GradgraphValueError(f"np.tensordot: shape-mismatch for sum (axes {ax} of shapes "
                                  f"{shape(a)} and {shape(b)})", loc=user_loc())
    return record("tensordot", [a, b], axes=ax)


@handles(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no("np.trace", out=out)
    if dtype is not None:
        a = astype(a, dtype)
    nd = ndim(a)
    if nd < 2:
        raise GradgraphValueError("np.trace needs an array of at least 2 dimensions",
                                  loc=user_loc())
    i, j = int(axis1) % nd, int(axis2) % nd
    if i == j:
        raise GradgraphValueError("np.trace: axis1 and axis2 cannot be the same", loc=user_loc())
    return record("trace", [a], offset=int(offset), axis1=i, axis2=j)


def _vecdot(x1, x2, axis=-1, **kw):
    return np.sum(np.multiply(x1, x2), axis=axis)


def _matvec(x1, x2, **kw):
    return _reshape(np.matmul(x1, _reshape(x2, tuple(shape(x2)) + (1,))),
                    np.broadcast_shapes(shape(x1)[:-2], shape(x2)[:-1]) + (shape(x1)[-2],))


def _vecmat(x1, x2, **kw):
    return _reshape(np.matmul(_reshape(x1, tuple(shape(x1)[:-1]) + (1, shape(x1)[-1])), x2),
                    np.broadcast_shapes(shape(x1)[:-1], shape(x2)[:-2]) + (shape(x2)[-1],))


for _name, _fn in (("vecdot", _vecdot), ("matvec", _matvec), ("vecmat", _vecmat)):
    if isinstance(getattr(np, _name, None), np.ufunc):  # NumPy >= 2.0 / 2.2
        UFUNC_HANDLERS[getattr(np, _name)] = _fn
if hasattr(np.linalg, "vecdot"):
    handles(np.linalg.vecdot)(lambda x1, x2, /, *, axis=-1: _vecdot(x1, x2, axis))


# -- einsum ------------------------------------------------------------------------------------

@handles(np.einsum)
def _einsum(*operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    """Normalise to an explicit spec of plain letters (``...`` and implicit output resolved,
    size-1 dimensions broadcast explicitly), so the op's rules see no special cases."""
    _no("np.einsum", out=out, dtype=dtype)
    if not operands or not isinstance(operands[0], str):
        unsupported("np.einsum with operands and sublists interleaved",
                    "; write the subscripts as a string, e.g. np.einsum('ij,jk->ik', a, b)")
    spec, operands = operands[0].replace(" ", ""), list(operands[1:])
    explicit = "->" in spec
    ins_s, out_s = spec.split("->") if explicit else (spec, None)
    ins = ins_s.split(",")
    if len(ins) != len(operands):
        raise GradgraphValueError(f"np.einsum: {len(ins)} operand subscripts for "
                                  f"{len(operands)} operands", loc=user_loc())
    for c in spec.replace("...", "").replace(",", "").replace("->", ""):
        if c not in string.ascii_letters:
            raise GradgraphValueError(f"np.einsum: invalid subscript {c!r} in {spec!r}",
                                      loc=user_loc())
    ell_nd = []
    for lab, x in zip(ins, operands):
        k = ndim(x) - len(lab.replace("...", ""))
        if ("..." in lab and k < 0) or ("..." not in lab and k != 0):
            raise GradgraphValueError(f"np.einsum: subscripts {lab!r} do not fit an operand of "
                                      f"{ndim(x)} dimensions", loc=user_loc())
        ell_nd.append(k if "..." in lab else 0)
    n_ell = max(ell_nd, default=0)
    ell = "".join([c for c in string.ascii_letters if c not in spec][:n_ell])
    ins = [lab.replace("...", ell[n_ell - k:]) for lab, k in zip(ins, ell_nd)]
    if explicit:
        if n_ell and "..." not in out_s:
            raise GradgraphValueError("np.einsum: output has more dimensions than subscripts "
                                      "given, but no '...' to broadcast them", loc=user_loc())
        out_s = out_s.replace("...", ell)
    else:
        joined = "".join(ins)
        out_s = ell + "".join(c for c in sorted(set(joined) - set(ell)) if joined.count(c) == 1)
    sizes: dict[str, int] = {}
    for lab, x in zip(ins, operands):
        for c, n in zip(lab, shape(x)):
            if n != 1:
                if sizes.setdefault(c, n) != n:
                    raise GradgraphValueError(
                        f"np.einsum: label {c!r} has sizes {sizes[c]} and {n}", loc=user_loc())
    for c in out_s:
        if c not in "".join(ins):
            raise GradgraphValueError(f"np.einsum: output label {c!r} is not in any operand",
                                      loc=user_loc())
    for k, (lab, x) in enumerate(zip(ins, operands)):
        want = tuple(sizes.get(c, 1) for c in lab)
        if want != tuple(shape(x)):  # NumPy broadcasts size-1 dimensions: say so in the graph
            operands[k] = _broadcast_to(x, want) if isinstance(x, Tracer) else \
                np.broadcast_to(x, want)
    return record("einsum", operands, spec=",".join(ins) + "->" + out_s)


# -- np.linalg -------------------------------------------------------------------------------

@handles(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    """The 2-norm/Frobenius norm is one ``norm`` node; the other orders are traced as what
    NumPy computes (sums and maxima of ``abs(x)``), so they differentiate with those ops'
    rules and conventions (abs'(0) = 0, ties of max split evenly)."""
    nd = ndim(x)
    if _dtype(x).kind not in "fc":
        x = astype(x, np.float64)
    keepdims = bool(keepdims)
    if axis is None:
        if ord is None:
            return record("norm", [x], axis=None, keepdims=keepdims)
        if nd not in (1, 2):
            raise GradgraphValueError("np.linalg.norm: improper number of dimensions to norm "
                                      f"({nd}) for ord={ord!r}", loc=user_loc())
        axes = tuple(range(nd))
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = tuple(int(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) != 2:
        raise GradgraphValueError("np.linalg.norm: improper number of dimensions to norm",
                                  loc=user_loc())
    if axes[0] == axes[1]:
        raise GradgraphValueError("np.linalg.norm: duplicate axes given", loc=user_loc())
    return _matrix_norm(x, ord, axes, keepdims)


def _vector_norm(x, ord, axes, keepdims):
    if ord is None or ord == 2:
        return record("norm", [x], axis=axes, keepdims=keepdims)
    if isinstance(ord, str):
        raise GradgraphValueError(f"np.linalg.norm: invalid norm order {ord!r} for vectors",
                                  loc=user_loc())
    ax = axes[0]
    if ord == np.inf:
        return np.max(np.abs(x), axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(np.abs(x), axis=ax, keepdims=keepdims)
    if ord == 0:
        return np.sum(np.not_equal(x, 0).astype(_dtype(x)), axis=ax, keepdims=keepdims)
    if ord == 1:
        return np.sum(np.abs(x), axis=ax, keepdims=keepdims)
    p = float(ord)
    return np.power(np.sum(np.power(np.abs(x), p), axis=ax, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in (None, "fro", "f"):
        return record("norm", [x], axis=tuple(sorted(axes)), keepdims=keepdims)
    if ord in (2, -2, "nuc"):
        unsupported(f"np.linalg.norm with ord={ord!r} for matrices",
                    " (it needs singular values and their derivatives)")
    if ord in (1, -1):
        inner, outer = row, col
    elif ord in (np.inf, -np.inf):
        inner, outer = col, row
    else:
        raise GradgraphValueError(f"np.linalg.norm: invalid norm order {ord!r} for matrices",
                                  loc=user_loc())
    pick = np.max if ord in (1, np.inf) else np.min
    r = pick(np.sum(np.abs(x), axis=inner, keepdims=True), axis=outer, keepdims=True)
    if not keepdims:
        r = _reshape(r, tuple(n for k, n in enumerate(shape(x)) if k not in axes))
    return r


@handles(np.linalg.inv)
def _inv(a):
    _square(a, "np.linalg.inv")
    return record("inv", [a])


@handles(np.linalg.det)
def _det(a):
    _square(a, "np.linalg.det")
    return record("det", [a])


@handles(np.linalg.solve)
def _solve(a, b):
    _square(a, "np.linalg.solve")
    if ndim(b) == 1 and ndim(a) > 2:  # a stack of systems with one right-hand vector
        n = shape(b)[0]
        r = record("solve", [a, _reshape(b, (n, 1))])
        return _reshape(r, tuple(shape(r)[:-1]))
    return record("solve", [a, b])


def _square(a, what):
    s = shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise GradgraphValueError(f"{what} needs square matrices (..., n, n), got shape {s}",
                                  loc=user_loc())


from . import numpy_more  # noqa: E402,F401  (registers nansum, median, cross, kron, pad …)
