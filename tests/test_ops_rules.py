"""Derivative conventions of API.md and the gradients of structural ops, each against a closed
form computed with plain NumPy; plus docs/ops.md staying current and the unsupported list."""

from __future__ import annotations

import os

import numpy as np
import pytest

import gradgraph as gg
from gradgraph.ops import docs

rng = np.random.default_rng(42)
X = rng.normal(size=(3, 2))


def grad(f, *args, argnums=0):
    return gg.grad(f, argnums=argnums)(*args)


# -- conventions at non-differentiable points ------------------------------------------------

def test_maximum_with_a_constant_has_zero_derivative_at_the_tie():
    relu = lambda x: np.sum(np.maximum(x, 0.0))  # noqa: E731
    assert grad(relu, np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 1.0]
    assert float(gg.grad(lambda x: np.maximum(x, 0.0))(0.0)) == 0.0
    assert float(gg.grad(lambda x: np.minimum(x, 1.0))(1.0)) == 0.0
    assert float(gg.grad(lambda x: np.maximum(2.0, x))(2.0)) == 0.0
    # higher orders stay zero and finite
    assert float(gg.derivative(lambda x: np.maximum(x, 0.0) ** 2, order=2)(0.0)) == 0.0


def test_maximum_of_two_traced_values_splits_a_tie():
    assert float(gg.grad(lambda x: np.maximum(x, x))(1.5)) == 1.0
    assert float(gg.grad(lambda x: np.minimum(x, x))(1.5)) == 1.0
    gx, gy = gg.grad(lambda x, y: np.maximum(x, y), argnums=(0, 1))(2.0, 2.0)
    assert (float(gx), float(gy)) == (0.5, 0.5)
    # the split does not depend on which inputs are differentiated
    assert float(gg.grad(lambda x, y: np.maximum(x, y))(2.0, 2.0)) == 0.5
    # away from ties the winner takes it all
    gx, gy = gg.grad(lambda x, y: np.minimum(x, y), argnums=(0, 1))(1.0, 2.0)
    assert (float(gx), float(gy)) == (1.0, 0.0)


def test_fmax_passes_the_derivative_of_the_non_nan_operand():
    gx, gy = gg.grad(lambda x, y: np.fmax(x, y), argnums=(0, 1))(1.0, np.nan)
    assert (float(gx), float(gy)) == (1.0, 0.0)


def test_clip_at_its_bounds():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert grad(lambda x: np.sum(np.clip(x, -0.5, 0.5)), x).tolist() == [0, 0, 1, 0, 0]
    # traced bounds: a tie splits 1/2, as in minimum(maximum(x, lo), hi)
    g = gg.grad(lambda x, lo, hi: np.clip(x, lo, hi), argnums=(0, 1, 2))
    assert [float(v) for v in g(0.0, 0.0, 1.0)] == [0.5, 0.5, 0.0]
    assert [float(v) for v in g(1.0, 0.0, 1.0)] == [0.5, 0.0, 0.5]
    assert [float(v) for v in g(2.0, 0.0, 1.0)] == [0.0, 0.0, 1.0]
    # lo > hi: NumPy returns hi everywhere, so only hi has a derivative
    assert [float(v) for v in g(0.5, 2.0, 1.0)] == [0.0, 0.0, 1.0]


def test_abs_sign_floor_round_comparisons_and_integer_casts():
    x = np.array([-1.5, 0.0, 0.7])
    assert grad(lambda x: np.sum(np.abs(x)), x).tolist() == [-1.0, 0.0, 1.0]
    assert grad(lambda x: np.sum(abs(x)), x).tolist() == [-1.0, 0.0, 1.0]
    assert grad(lambda x: np.sum(np.fabs(x)), x).tolist() == [-1.0, 0.0, 1.0]
    for f in (np.sign, np.floor, np.ceil, np.round, np.trunc, np.rint,
              lambda x: (x > 0) * 1.0, lambda x: x.astype(int) * 1.0,
              lambda x: np.argmax(x), lambda x: np.heaviside(x, 0.5)):
        assert grad(lambda x: np.sum(f(x) * 1.0), x).tolist() == [0.0, 0.0, 0.0]
    # and they make no derivative nodes at all
    g = gg.grad(lambda x: np.sum(np.floor(x) * x)).graph(x)
    assert not any(g[n]["op"] == "floor" and g[n]["role"] == "adjoint" for n in g.order())


def test_reduction_max_splits_among_ties():
    x = np.array([1.0, 3.0, 3.0])
    assert grad(lambda x: np.max(x), x).tolist() == [0.0, 0.5, 0.5]
    m = np.array([[2.0, 2.0], [1.0, 4.0]])
    assert grad(lambda m: np.sum(np.min(m, axis=1)), m).tolist() == [[0.5, 0.5], [1.0, 0.0]]


def test_norm_and_std_at_zero_have_derivative_zero_at_every_order():
    z = np.zeros(3)
    assert grad(np.linalg.norm, z).tolist() == [0.0, 0.0, 0.0]
    assert np.all(gg.hessian(np.linalg.norm)(z) == 0)
    assert grad(np.std, np.full(4, 2.0)).tolist() == [0.0] * 4
    assert np.all(np.isfinite(gg.hessian(np.std)(np.full(3, 2.0))))
    x = np.array([3.0, 4.0])
    assert np.allclose(grad(np.linalg.norm, x), x / 5.0)


def test_prod_with_zeros_is_exact():
    assert grad(np.prod, np.array([2.0, 0.0, 3.0])).tolist() == [0.0, 6.0, 0.0]
    assert grad(np.prod, np.array([0.0, 0.0, 5.0])).tolist() == [0.0, 0.0, 0.0]
    H = gg.hessian(np.prod)(np.array([0.0, 0.0, 5.0]))
    assert H.tolist() == [[0.0, 5.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    x = rng.normal(size=(4, 5))
    want = np.prod(x, axis=1, keepdims=True) / x  # no zeros here, so the division is fine
    assert np.allclose(grad(lambda x: np.sum(np.prod(x, axis=1)), x), want)


def test_logsumexp_pattern_gives_softmax():
    def lse(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    x = np.array([1.0, 2.0, 2.0, -1.0])  # with a tie in the max
    sm = np.exp(x) / np.sum(np.exp(x))
    assert np.allclose(grad(lse, x), sm)
    assert np.allclose(gg.hessian(lse)(x), np.diag(sm) - np.outer(sm, sm))
    stable = lambda x: gg.stop_gradient(np.max(x)) + np.log(  # noqa: E731
        np.sum(np.exp(x - gg.stop_gradient(np.max(x)))))
    assert np.allclose(grad(stable, x), sm)


# -- structural gradients against closed forms ----------------------------------------------

def test_broadcasting_gradients_sum_over_the_broadcast_axes():
    x, y, w = rng.normal(size=(3, 1)), rng.normal(size=(1, 2)), rng.normal(size=(3, 2))
    gx, gy = gg.grad(lambda x, y: np.sum(w * (x * y)), argnums=(0, 1))(x, y)
    assert np.allclose(gx, np.sum(w * y, axis=1, keepdims=True))
    assert np.allclose(gy, np.sum(w * x, axis=0, keepdims=True))
    s = rng.normal()
    g = gg.grad(lambda s: np.sum(w * (s + np.zeros((3, 2)))))(s)
    assert np.allclose(g, w.sum())
    v = rng.normal(size=2)
    assert np.allclose(grad(lambda v: np.sum(w * (X + v)), v), w.sum(axis=0))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_over_axes_and_keepdims(axis, keepdims):
    out = np.sum(X, axis=axis, keepdims=keepdims)
    w = rng.normal(size=np.shape(out))
    wk = np.sum(np.zeros_like(X), axis=axis, keepdims=True) + (
        w if keepdims else np.expand_dims(w, axis if axis is not None else (0, 1)))
    g = grad(lambda x: np.sum(w * np.sum(x, axis=axis, keepdims=keepdims)), X)
    assert np.allclose(g, np.broadcast_to(wk, X.shape))
    n = X.size // max(1, np.size(out))
    g = grad(lambda x: np.sum(w * np.mean(x, axis=axis, keepdims=keepdims)), X)
    assert np.allclose(g, np.broadcast_to(wk, X.shape) / n)
    g = grad(lambda x: np.sum(w * np.var(x, axis=axis, keepdims=keepdims, ddof=1)), X)
    mean = np.mean(X, axis=axis, keepdims=True)
    assert np.allclose(g, np.broadcast_to(wk, X.shape) * 2 * (X - mean) / (n - 1))


def test_indexing_gradients_add_up_over_repeated_indices():
    x = rng.normal(size=4)
    assert grad(lambda x: np.sum(x[[0, 0, 2, 0]]), x).tolist() == [3.0, 0.0, 1.0, 0.0]
    m = rng.normal(size=(3, 2))
    g = grad(lambda m: np.sum(m[[0, 0, 2], [1, 1, 0]]), m)
    assert g.tolist() == [[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]
    g = grad(lambda m: np.sum(m[[2, 2]] * np.array([1.0, 10.0])), m)
    assert g.tolist() == [[0, 0], [0, 0], [2.0, 20.0]]
    assert np.allclose(gg.jacrev(lambda x: x[[1, 1, 3]])(x), np.eye(4)[[1, 1, 3]])
    assert np.allclose(gg.jacfwd(lambda x: x[[1, 1, 3]])(x), np.eye(4)[[1, 1, 3]])


def test_boolean_mask_and_negative_step_gradients():
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    assert grad(lambda x: np.sum(x[x > 0] ** 2), x).tolist() == [0.0, 4.0, 0.0, 8.0]
    assert grad(lambda x: np.sum(x[::-1] * np.arange(4.0)), x).tolist() == [3, 2, 1, 0]
    assert grad(lambda x: np.sum(x[::-2] * np.array([1.0, 5.0])), x).tolist() == [0, 5, 0, 1]
    m = rng.normal(size=(3, 2))
    w = rng.normal(size=(3, 2))
    assert np.allclose(grad(lambda m: np.sum(w * m[::-1, ::-1]), m), w[::-1, ::-1])


def test_separated_advanced_indices_in_batched_jacobians():
    x = rng.normal(size=(2, 3, 2))
    f = lambda x: x[[0, 1, 1], :, 1]  # noqa: E731  (NumPy puts the index axis first)
    want = np.zeros((3, 3) + x.shape)
    for i, r in enumerate([0, 1, 1]):
        for j in range(3):
            want[i, j, r, j, 1] = 1.0
    assert np.allclose(gg.jacrev(f)(x), want) and np.allclose(gg.jacfwd(f)(x), want)


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((3, 2), (2,)), ((3, 2), (2, 4)),
                 ((2, 3, 2), (2, 2, 4)), ((2, 3, 2), (2, 4)), ((3, 2), (5, 2, 4)),
                 ((2, 1, 3, 2), (4, 2, 1)), ((2, 3, 2), (2,)), ((2,), (4, 2, 3))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_gradients_in_all_shapes(sa, sb):
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    w = rng.normal(size=np.shape(a @ b))
    ga, gb = gg.grad(lambda a, b: np.sum(w * (a @ b)), argnums=(0, 1))(a, b)
    # closed form: promote 1-D operands to matrices, then unbroadcast the batch axes
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    w2 = np.reshape(w, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2],
                                                                             b2.shape[-1]))
    want_a = w2 @ np.swapaxes(b2, -1, -2)
    want_b = np.swapaxes(a2, -1, -2) @ w2
    want_a = _unbroadcast(want_a, a2.shape).reshape(sa)
    want_b = _unbroadcast(want_b, b2.shape).reshape(sb)
    assert np.allclose(ga, want_a) and np.allclose(gb, want_b)
    ja = gg.jacrev(lambda a: a @ b)(a)
    assert np.allclose(ja, gg.jacfwd(lambda a: a @ b)(a))
    assert np.allclose(np.tensordot(w, ja, axes=w.ndim), want_a)


def _unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return np.sum(g, axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)


W32 = rng.normal(size=(3, 2))


@pytest.mark.parametrize("name,f,inverse", [
    ("reshape", lambda x: x.reshape(2, 3), lambda w: w.reshape(3, 2)),
    ("ravel", lambda x: np.ravel(x), lambda w: w.reshape(3, 2)),
    ("transpose", lambda x: x.T, lambda w: w.T),
    ("swapaxes", lambda x: np.swapaxes(x, 0, 1), lambda w: w.T),
    ("moveaxis", lambda x: np.moveaxis(x, 0, 1), lambda w: w.T),
    ("expand_dims", lambda x: np.expand_dims(x, 1), lambda w: w[:, 0]),
    ("squeeze", lambda x: np.squeeze(x[:, None]), lambda w: w),
    ("concatenate", lambda x: np.concatenate([x, 2 * x], axis=1),
     lambda w: w[:, :2] + 2 * w[:, 2:]),
    ("stack", lambda x: np.stack([x, x], axis=2), lambda w: w.sum(axis=2)),
    ("hstack", lambda x: np.hstack([x, x]), lambda w: w[:, :2] + w[:, 2:]),
    ("vstack", lambda x: np.vstack([x, x[0]]), lambda w: w[:3] + np.eye(3, 1) * w[3]),
    ("broadcast_to", lambda x: np.broadcast_to(x, (4, 3, 2)), lambda w: w.sum(axis=0)),
    ("flip", lambda x: np.flip(x), lambda w: w[::-1, ::-1]),
    ("roll", lambda x: np.roll(x, 1, axis=0), lambda w: np.roll(w, -1, axis=0)),
    ("tile", lambda x: np.tile(x, 2), lambda w: w[:, :2] + w[:, 2:]),
    ("repeat", lambda x: np.repeat(x, 2, axis=1), lambda w: w[:, ::2] + w[:, 1::2]),
    ("cumsum", lambda x: np.cumsum(x, axis=0), lambda w: np.cumsum(w[::-1], axis=0)[::-1]),
])
def test_structural_gradients_are_the_transposed_op(name, f, inverse):
    out = f(X)
    w = rng.normal(size=np.shape(out))
    assert np.allclose(grad(lambda x: np.sum(w * f(x)), X), inverse(w)), name


def test_einsum_trace_diag_det_inv_gradients():
    a = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    assert np.allclose(grad(lambda a: np.einsum("ii->", a), a), np.eye(3))
    assert np.allclose(grad(np.trace, a), np.eye(3))
    w = rng.normal(size=3)
    assert np.allclose(grad(lambda a: np.sum(w * np.einsum("ii->i", a)), a), np.diag(w))
    assert np.allclose(grad(np.linalg.det, a), np.linalg.det(a) * np.linalg.inv(a).T)
    W = rng.normal(size=(3, 3))
    inv = np.linalg.inv(a)
    assert np.allclose(grad(lambda a: np.sum(W * np.linalg.inv(a)), a), -inv.T @ W @ inv.T)
    b = rng.normal(size=3)
    gx = grad(lambda b: np.sum(w * np.linalg.solve(a, b)), b)
    assert np.allclose(gx, np.linalg.solve(a.T, w))
    x, y = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 3, 2))
    f1 = lambda x: np.tensordot(x, y, axes=([1, 2], [1, 0]))  # noqa: E731
    f2 = lambda x: np.einsum("ajk,kjb->ab", x, y)  # noqa: E731
    assert np.allclose(gg.jacrev(f1)(x), gg.jacrev(f2)(x))


METHODS = [
    lambda x: x.sum(axis=0), lambda x: x.mean(), lambda x: x.max(axis=1), lambda x: x.min(),
    lambda x: x.prod(axis=0), lambda x: x.var(ddof=1), lambda x: x.std(axis=0),
    lambda x: x.argmax(), lambda x: x.argmin(axis=0), lambda x: x.cumsum(axis=1),
    lambda x: x.dot(x.T), lambda x: x.clip(-0.5, 0.5), lambda x: x.round(1), lambda x: x.ravel(),
    lambda x: x.flatten(), lambda x: x[:, :1].squeeze(), lambda x: x.swapaxes(0, 1),
    lambda x: x.conj(), lambda x: x.trace(), lambda x: x.diagonal(), lambda x: x.take([1, 1]),
    lambda x: x.repeat(2, axis=0), lambda x: x.argsort(axis=0), lambda x: x.reshape(2, 3),
    lambda x: x.transpose(), lambda x: x.astype(np.float32), lambda x: x.T, lambda x: x.mT,
    lambda x: abs(x), lambda x: (x > 0).all(), lambda x: (x > 0).any(axis=0),
]


@pytest.mark.parametrize("k", range(len(METHODS)))
def test_ndarray_methods_trace_as_numpy_computes(k):
    f = METHODS[k]
    got = gg.compile(f)(X)
    want = f(X)
    assert np.shape(got) == np.shape(want) and np.result_type(got) == np.result_type(want)
    assert np.allclose(got, want)


XN = X.copy()
XN[0, 1] = np.nan
A3 = rng.normal(size=(4, 3))
COMPOSED = [
    ("nansum", lambda x: np.nansum(x, axis=1), XN), ("nanmean", lambda x: np.nanmean(x), XN),
    ("nanmax", lambda x: np.nanmax(x, axis=0), XN), ("nanmin", lambda x: np.nanmin(x), XN),
    ("ptp", lambda x: np.ptp(x, axis=0), X), ("median", lambda x: np.median(x), X),
    ("median-axis", lambda x: np.median(x, axis=0, keepdims=True), X),
    ("sinc", lambda x: np.sinc(x * np.array([0.0, 1.0])), X),
    ("cross", lambda a: np.cross(a, A3[0]), A3),
    ("cross-rows", lambda a: np.cross(a[:3], a[1:]), A3),
    ("kron", lambda x: np.kron(x, np.array([[1.0, 2.0]])), X),
    ("pad", lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=3.0), X),
    ("average", lambda x: np.average(x, axis=1, weights=x * x), X),
    ("vecdot", lambda x: np.vecdot(x, x[::-1]), X), ("matvec", lambda a: np.matvec(a, A3[0]), A3),
    ("full_like", lambda x: np.full_like(x, x[0, 0]) * x, X),
    ("ones_like", lambda x: np.ones_like(x) * x + np.zeros_like(x), X),
    ("norm-ord-p", lambda x: np.linalg.norm(x, -2.5, axis=1), X),
]


@pytest.mark.parametrize("name,f,x", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_compositions_values_and_derivatives(name, f, x):
    with np.errstate(all="ignore"):
        want = f(x)
    got = gg.compile(f)(x)
    assert np.shape(got) == np.shape(want) and np.allclose(got, want, equal_nan=True)
    J = gg.jacrev(f)(x)
    assert np.allclose(J, gg.jacfwd(f)(x), equal_nan=True)
    u, eps = rng.normal(size=x.shape) * np.isfinite(x), 1e-6
    fd = (f(x + eps * u) - f(x - eps * u)) / (2 * eps)
    Ju = np.tensordot(J, np.nan_to_num(u), axes=x.ndim)
    assert np.allclose(Ju, fd, atol=1e-6, equal_nan=True)


# -- errors and the docs -------------------------------------------------------------------

@pytest.mark.parametrize("name,f,hint", docs.NOT_SUPPORTED,
                         ids=[n for n, _, _ in docs.NOT_SUPPORTED])
def test_listed_unsupported_functions_raise(name, f, hint):
    with pytest.raises(gg.UnsupportedOperationError) as e:
        gg.compile(f)(np.array([0.5, 1.5, 2.0]))
    assert "test_ops_rules.py" in str(e.value) or "docs.py" in str(e.value)


def test_unsupported_error_names_the_function_and_the_line():
    with pytest.raises(gg.UnsupportedOperationError, match=r"test_ops_rules\.py:\d+: np\.cumprod"):
        gg.compile(lambda x: np.cumprod(x))(np.ones(3))
    with pytest.raises(gg.UnsupportedOperationError, match="ord=2"):
        gg.compile(lambda x: np.linalg.norm(x, 2))(np.ones((2, 2)))


def test_docs_ops_md_is_current():
    path = docs.default_path()
    assert os.path.exists(path), "docs/ops.md is missing: run python -m gradgraph.ops.docs"
    with open(path, encoding="utf-8") as fh:
        current = fh.read() == docs.render()
    assert current, "docs/ops.md is stale: regenerate it with python -m gradgraph.ops.docs"
