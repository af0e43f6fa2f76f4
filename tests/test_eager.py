"""The eager API (gg.tensor, backward, grad, no_grad): the notes' PyTorch snippets, the
error messages, second derivatives, graph merging and memory. Expected values are closed
forms computed with plain NumPy."""

import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import gradgraph as gg
from gradgraph.errors import AutogradError

# -- the notes' snippets (seeds 000 and 002) -------------------------------------------------


def test_notes_dot_sum_square_detach():
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    assert x.grad is None and x.requires_grad and x.is_leaf
    y = 2 * np.dot(x, x)
    assert y.item() == 28.0 and not y.is_leaf and y.grad_fn == "multiply"
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4 * np.arange(4.0))
    assert bool((x.grad == 4 * x).all())

    x.grad.zero_()
    y = x.sum()
    assert y.item() == 6.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(4))

    x.grad.zero_()
    y = x * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(4.0))

    x.grad.zero_()
    y = x * x
    y.backward(np.ones(len(x)))  # the same as y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(4.0))

    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(4.0) ** 2)
    assert not u.requires_grad and u.is_leaf


def test_grad_accumulates_and_retain_graph():
    x = gg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    s = (x ** 3).sum()
    s.backward(retain_graph=True)
    s.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, -2.0, 3.0]) ** 2)
    (x * 2.0).sum().backward()  # a new graph adds to .grad too
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 4.0, 9.0]) + 2.0)
    g = x.grad
    assert x.grad.zero_() is g and not g.numpy().any()


def test_second_backward_through_freed_graph_says_what_to_do():
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    y = x ** 2
    y.sum().backward()
    with pytest.raises(AutogradError) as e:
        y.sum().backward()
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, gg.GradgraphError)
    msg = str(e.value)
    assert "second time" in msg and "retain_graph=True" in msg
    assert msg.startswith("tests/test_eager.py:") or "test_eager.py:" in msg
    s = (x * 3.0).sum()
    s.backward()
    with pytest.raises(AutogradError, match="retain_graph=True"):
        s.backward()  # the root itself lives in the freed graph


def test_non_scalar_backward_needs_a_gradient():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    with pytest.raises(ValueError, match=r"gradient=.*sum\(\)\.backward\(\)") as e:
        y.backward()
    assert isinstance(e.value, gg.GradgraphError) and "shape (2,)" in str(e.value)
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))  # a vector-Jacobian product
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])
    z = gg.tensor([3.0], requires_grad=True) * 2.0  # one element: no gradient needed
    z.backward()


def test_backward_without_requires_grad_and_no_history():
    t = gg.tensor([1.0, 2.0])
    with pytest.raises(AutogradError, match="requires_grad=True"):
        (t * 2.0).sum().backward()
    with pytest.raises(TypeError, match="float"):
        gg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="detach"):
        gg.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(AutogradError, match="leaf"):
        (gg.tensor([1.0], requires_grad=True) * 2.0).requires_grad_(False)


def test_tensors_without_requires_grad_record_nothing_and_are_plain_numpy():
    t = gg.tensor(np.linspace(0.1, 1.0, 5))
    u = np.sin(t) * 2 + t.cumsum()
    assert isinstance(u, gg.Tensor) and u.is_leaf and u.graph is None and not u.requires_grad
    np.testing.assert_allclose(u.numpy(), np.sin(t.numpy()) * 2 + np.cumsum(t.numpy()))
    ip = np.interp(t, [0.0, 1.0], [1.0, 3.0])  # no gradgraph rule needed without grad
    np.testing.assert_array_equal(ip.numpy(), 1.0 + 2.0 * np.linspace(0.1, 1.0, 5))
    assert np.asarray(t).dtype == np.float64


def test_unsupported_function_on_grad_tensor_names_it_and_the_line():
    x = gg.tensor([3.0, 1.0], requires_grad=True)
    with pytest.raises(gg.UnsupportedOperationError, match=r"test_eager\.py:\d+.*np\.interp"):
        np.interp(x, [0.0, 5.0], [1.0, 2.0])


def test_no_grad_and_optimizer_step_in_place():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.no_grad():
        v = w * 3.0
        w -= 0.5
    assert not v.requires_grad and v.graph is None
    assert w.is_leaf and w.requires_grad
    np.testing.assert_array_equal(w.numpy() if not w.requires_grad else w.detach().numpy(),
                                  [0.5, 1.5])
    with pytest.raises(AutogradError, match="no_grad"):
        w -= 0.5

    @gg.no_grad()
    def f(a):
        return a * 2.0

    assert not f(w).requires_grad


def test_in_place_change_of_a_saved_value_is_caught():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()  # backward needs w's value
    with gg.no_grad():
        w += 1.0
    with pytest.raises(AutogradError, match="in place"):
        y.backward()
    w2 = gg.tensor([1.0, 2.0], requires_grad=True)
    y2 = (w2 * 3.0).sum()  # backward needs only the constant 3: a later step is harmless
    with gg.no_grad():
        w2 += 1.0
    y2.backward()
    np.testing.assert_array_equal(w2.grad.numpy(), [3.0, 3.0])


# -- higher order, the PyTorch way ---------------------------------------------------------


def test_create_graph_second_derivative_of_the_notes_example():
    x0 = 0.7
    x = gg.tensor(x0, requires_grad=True)
    y = np.exp(x) * (np.exp(x) + 1)  # the notes' extended-graph example
    y.backward(create_graph=True)
    d1 = x.grad
    assert d1.requires_grad
    assert math.isclose(d1.item(), 2 * math.exp(2 * x0) + math.exp(x0), rel_tol=1e-14)
    x.grad = None
    d1.backward()
    assert math.isclose(x.grad.item(), 4 * math.exp(2 * x0) + math.exp(x0), rel_tol=1e-14)


def test_create_graph_hessian_vector_product():
    x0 = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 0.5, -2.0])
    x = gg.tensor(x0, requires_grad=True)
    (np.sin(x) * x).sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x0) * x0 + np.sin(x0), rtol=1e-14)
    x.grad = None  # (g is x.grad: zeroing it would zero g, as in PyTorch)
    (g * v).sum().backward()
    hess_diag = 2 * np.cos(x0) - x0 * np.sin(x0)
    np.testing.assert_allclose(x.grad.numpy(), hess_diag * v, rtol=1e-14)
    (x ** 2).sum().backward(create_graph=True)  # accumulates out of place, in the graph
    assert x.grad.requires_grad
    x.grad.zero_()  # a create_graph gradient leaves its graph when zeroed
    assert not x.grad.requires_grad and not x.grad.numpy().any()


# -- control flow (seed 002) ---------------------------------------------------------------


def control_flow_f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def test_control_flow_gradient_is_f_over_a():
    a = gg.tensor(0.3119, requires_grad=True)
    d = control_flow_f(a)
    d.backward()
    assert a.grad.item() == 4096.0  # 0.3119 * 2**12 first reaches 1000
    a = gg.tensor([[-0.0524, -0.0269, -0.8601]], requires_grad=True)
    d = control_flow_f(a)
    d.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((1, 3), 204800.0))
    np.testing.assert_allclose(a.grad.numpy(), (d / a).detach().numpy(), rtol=1e-14)


def test_redesigned_control_flow_sqrt_or_square():
    def f(x, order):
        return np.sqrt(x) if order == 1 else np.square(x)

    x = gg.tensor(1.24686, requires_grad=True)
    f(x, 1).sum().backward()
    assert round(x.grad.item(), 4) == 0.4478 == round(0.5 / math.sqrt(1.24686), 4)
    x.grad.zero_()
    f(x, 2).sum().backward()
    assert round(x.grad.item(), 4) == 2.4937


# -- graphs: merging, inlined Functions, broadcasting, indexing -----------------------------


def test_two_graphs_meeting_merge_and_gradients_add_up():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    v = gg.tensor([3.0, 4.0], requires_grad=True)
    a = w * 2.0  # graph 1
    b = v * w  # graph 2 (w enters both)
    assert a.graph is not b.graph
    c = (a + b).sum() + (w ** 2).sum()
    assert a.graph is c.graph is b.graph
    c.backward()
    w0, v0 = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_array_equal(w.grad.numpy(), 2.0 + v0 + 2 * w0)
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 2.0])


def test_a_function_called_with_tensors_inlines_into_their_graph():
    def notes(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)

    x1 = gg.tensor(2.0, requires_grad=True)
    x2 = gg.tensor(5.0, requires_grad=True)
    y = gg.compile(notes)(x1, x2)
    assert isinstance(y, gg.Tensor) and y.requires_grad
    assert round(y.item(), 3) == 11.652
    y.backward()
    assert math.isclose(x1.grad.item(), 1 / 2 + 5, rel_tol=1e-15)
    assert math.isclose(x2.grad.item(), 2 - math.cos(5.0), rel_tol=1e-15)
    x = gg.tensor(1.5, requires_grad=True)
    d = gg.grad(lambda t: t ** 3)(x)  # a gradient that is itself differentiable
    assert math.isclose(d.item(), 3 * 1.5 ** 2)
    d.backward()
    assert math.isclose(x.grad.item(), 6 * 1.5)


def test_broadcasting_indexing_and_iteration():
    X = np.arange(12.0).reshape(4, 3)
    b = gg.tensor([0.1, 0.2, 0.3], requires_grad=True)
    ((X + b) ** 2).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), (2 * (X + b.detach().numpy())).sum(axis=0))
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    (x[1:] * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 2.0, 2.0])
    x.grad = None
    total = sum(xi * xi for xi in x)
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(4.0))


def test_constructor_format_and_repr():
    t = gg.Tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, gg.Tensor) and t.requires_grad and t.is_leaf
    s = (t * t).sum()
    assert f"{s:.2f}" == "5.00" and repr(s) == "tensor(5., grad_fn=<sum>)"
    assert str(gg.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"


def test_float32_is_kept_and_leaves_not_reached_keep_grad_none():
    x = gg.tensor(np.ones(3, np.float32), requires_grad=True)
    unused = gg.tensor(1.0, requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.dtype == np.float32 and unused.grad is None
    assert repr(x) == "tensor([1., 1., 1.], dtype=float32, requires_grad=True)"


def test_closing_over_a_tensor_inside_a_transform_makes_a_constant():
    w = gg.tensor(3.0, requires_grad=True)
    assert float(gg.grad(lambda x: x * w)(2.0)) == 3.0
    assert w.grad is None


# -- memory: a long loop keeps one step's graph ----------------------------------------------


def _mlp_step(params, X, Y, trained):
    W1, b1, W2, b2 = params
    pred = np.maximum(X @ W1 + b1, 0.0) @ W2 + b2
    loss = np.mean((pred - Y) ** 2)
    graph = weakref.ref(loss._resolve()[0])
    if trained:
        loss.backward()
        with gg.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                p.grad.zero_()
    return loss.item(), graph


def test_training_loop_frees_each_graph_and_memory_stays_flat():
    """Each step's graph is freed (by backward; without backward, by reference counting)
    and traced memory stays flat (docs/eager.md has the longer measurement)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (100, 2))
    Y = 2 * X[:, 0] + X[:, 0] * X[:, 1]
    params = [gg.tensor(rng.normal(size=(2, 8)) * 0.5, requires_grad=True),
              gg.tensor(np.zeros(8), requires_grad=True),
              gg.tensor(rng.normal(size=8) * 0.5, requires_grad=True),
              gg.tensor(0.0, requires_grad=True)]
    first = _mlp_step(params, X, Y, True)[0]
    for trained in (True, False):
        tracemalloc.start()
        graphs = []
        for i in range(150):
            loss, graph = _mlp_step(params, X, Y, trained)
            graphs.append(graph)
            if i == 30:
                gc.collect()
                early = tracemalloc.get_traced_memory()[0]
        gc.collect()
        late = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert sum(g() is not None for g in graphs) == 0  # every step's graph is gone
        assert late - early < 30_000, (early, late)  # the weakrefs themselves are ~10 kB
    assert loss < 0.5 * first  # and it did train
