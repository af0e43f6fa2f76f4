"""The function transforms: values against closed forms, SymPy and finite differences;
composition, nesting, argnums, has_aux, pytrees; the notes' worked examples."""

import math

import numpy as np
import pytest
import sympy as sp

import gradgraph as gg


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def fd_grad(f, x, h=1e-6):
    x = np.asarray(x, float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# -- the course notes' examples -----------------------------------------------------------

def test_notes_gradient():
    g1, g2 = gg.grad(notes, argnums=(0, 1))(2.0, 5.0)
    assert abs(g1 - (1 / 2 + 5)) < 1e-12 and round(float(g1), 3) == 5.5
    assert abs(g2 - (2 - math.cos(5))) < 1e-12 and round(float(g2), 3) == 1.716


def test_notes_second_example_x1x2_plus_sin_x1():
    f = lambda x1, x2: x1 * x2 + np.sin(x1)  # noqa: E731
    d = gg.grad(f, argnums=(0, 1))(2.0, 3.0)
    assert np.allclose(d, [3 + math.cos(2), 2])
    assert abs(gg.compile(f)(2.0, 3.0) - (6 + math.sin(2))) < 1e-12


def test_exp_times_exp_plus_one_first_and_second_derivative():
    f = lambda x: np.exp(x) * (np.exp(x) + 1)  # noqa: E731
    x = 0.7
    e = math.exp(x)
    assert abs(gg.grad(f)(x) - (2 * e * e + e)) < 1e-12
    assert abs(gg.grad(gg.grad(f))(x) - (4 * e * e + e)) < 1e-12
    # the same second derivative from the extended graph, expanded twice
    g = gg.trace(f, x)
    g1 = gg.adjoint(g)
    g1.outputs, g1.out_tree = [g1.outputs[-1]], "*"
    g2 = gg.adjoint(g1)
    assert abs(float(g2.evaluate(x)[1][0]) - (4 * e * e + e)) < 1e-12
    assert g2.count("adjoint") > g1.count("adjoint") > 0


def test_vector_chain_rule_examples():
    rng = np.random.default_rng(0)
    x, w, y = rng.normal(size=4), rng.normal(size=4), 0.3
    z = lambda w: (np.dot(x, w) - y) ** 2  # noqa: E731
    assert np.allclose(gg.grad(z)(w), 2 * (np.dot(x, w) - y) * x)
    X, yv = rng.normal(size=(5, 4)), rng.normal(size=5)
    z2 = lambda w: np.linalg.norm(X @ w - yv) ** 2  # noqa: E731
    assert np.allclose(gg.grad(z2)(w), 2 * (X @ w - yv) @ X)


def test_relu_mlp_2_3_1_at_2_minus_2():
    def mlp(x, W1, b1, W2, b2):
        h = np.maximum(W1 @ x + b1, 0.0)
        return (W2 @ h + b2)[0]

    W1, b1, W2, b2 = np.ones((3, 2)), np.zeros(3), np.ones((1, 3)), np.zeros(1)
    x = np.array([2.0, -2.0])
    assert gg.compile(mlp)(x, W1, b1, W2, b2) == 0.0
    assert gg.grad(mlp)(x, W1, b1, W2, b2).tolist() == [0.0, 0.0]  # ReLU'(0) = 0


# -- composition and nesting --------------------------------------------------------------

def test_perturbations_never_confused():
    assert gg.grad(lambda x: gg.grad(lambda y: x * y)(1.0))(2.0) == 1.0
    # d/dx [x * d/dy (x*y^2)](y=x) = d/dx 2x^3 = 6x^2
    f = lambda x: x * gg.grad(lambda y: x * y ** 2)(x)  # noqa: E731
    assert abs(gg.grad(f)(1.5) - 6 * 1.5 ** 2) < 1e-12


def test_higher_orders_of_tanh_against_sympy():
    t = sp.Symbol("t")
    for n in range(1, 7):
        want = float(sp.diff(sp.tanh(t), t, n).subs(t, 0.3))
        assert abs(gg.derivative(np.tanh, order=n)(0.3) - want) < 1e-9 * max(1, abs(want))
    arr = np.linspace(-1, 1, 5)
    want = [float(sp.diff(sp.tanh(t), t, 3).subs(t, a)) for a in arr]
    assert np.allclose(gg.derivative(np.tanh, order=3)(arr), want)


def test_nested_grad_three_deep():
    f = lambda x: np.sin(x) * x ** 3  # noqa: E731
    x = sp.Symbol("x")
    want = float(sp.diff(sp.sin(x) * x ** 3, x, 3).subs(x, 0.8))
    assert abs(gg.grad(gg.grad(gg.grad(f)))(0.8) - want) < 1e-10


def test_compositions_agree():
    f = lambda x: np.sum(np.sin(x) * x ** 2)  # noqa: E731
    x = np.array([0.3, -1.2, 2.0])
    H_sym = np.diag(2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x))
    assert np.allclose(gg.hessian(f)(x), H_sym)
    assert np.allclose(gg.jacfwd(gg.grad(f))(x), H_sym)
    assert np.allclose(gg.jacrev(gg.grad(f))(x), H_sym)
    assert np.allclose(gg.jacrev(gg.jacfwd(lambda v: np.sin(v) * v ** 2))(x).sum(axis=0).diagonal()
                       if False else gg.grad(gg.compile(f))(x), fd_grad(f, x))
    v = np.array([1.0, 2.0, -1.0])
    assert np.allclose(gg.hvp(f)(x, v), H_sym @ v)
    _, t = gg.jvp(gg.grad(f), (x,), (v,))
    assert np.allclose(t, H_sym @ v)
    g_of_jvp = gg.grad(lambda x: gg.jvp(f, (x,), (v,))[1])(x)
    assert np.allclose(g_of_jvp, H_sym @ v)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_rosenbrock_hessian_equals_sympy():
    n = 5
    xs = sp.symbols(f"x0:{n}")
    expr = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    x = np.array([0.5, -1.0, 1.5, 0.2, 2.0])
    subs = dict(zip(xs, x))
    H = np.array(sp.hessian(expr, xs).subs(subs), dtype=float)
    assert np.allclose(gg.hessian(rosenbrock)(x), H)
    v = np.arange(1.0, n + 1)
    assert np.allclose(gg.hvp(rosenbrock)(x, v), H @ v)
    gvec = np.array([float(sp.diff(expr, s).subs(subs)) for s in xs])
    assert np.allclose(gg.grad(rosenbrock)(x), gvec)


def test_jacobians_matrix_in_and_out():
    W = np.arange(6.0).reshape(3, 2) / 5
    f = lambda A: np.tanh(A @ W.T) * 2.0  # noqa: E731
    A = np.array([[0.1, -0.3], [0.7, 0.2]])
    Jr, Jf = gg.jacrev(f)(A), gg.jacfwd(f)(A)
    assert Jr.shape == (2, 3, 2, 2)
    J_fd = np.zeros((2, 3, 2, 2))
    for i in np.ndindex(2, 2):
        e = np.zeros_like(A)
        e[i] = 1e-6
        J_fd[(...,) + i] = (f(A + e) - f(A - e)) / 2e-6
    assert np.allclose(Jr, J_fd, atol=1e-7) and np.allclose(Jf, J_fd, atol=1e-7)
    assert gg.jacobian is gg.jacrev


def test_jacobian_argnums_tuple():
    f = lambda x, y: x * y[:2] + np.sum(y)  # noqa: E731
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    jx, jy = gg.jacrev(f, argnums=(0, 1))(x, y)
    assert np.allclose(jx, np.diag(y[:2]))
    assert np.allclose(jy, np.array([[1 + x[0], 1, 1], [1, 1 + x[1], 1]]))
    fx, fy = gg.jacfwd(f, argnums=(0, 1))(x, y)
    assert np.allclose(fx, jx) and np.allclose(fy, jy)


def test_one_batched_pass_not_m_compiles():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x)

    J = gg.jacrev(f)(np.arange(5.0))
    assert np.allclose(J, np.diag(np.cos(np.arange(5.0))))
    assert len(calls) == 1


# -- argnums, has_aux, pytrees, values -----------------------------------------------------

def test_value_and_grad_and_has_aux():
    f = lambda x: (np.sum(x ** 2), {"norm": np.sqrt(np.sum(x ** 2))})  # noqa: E731
    x = np.array([3.0, 4.0])
    g, aux = gg.grad(f, has_aux=True)(x)
    assert g.tolist() == [6.0, 8.0] and aux["norm"] == 5.0
    (v, aux), g = gg.value_and_grad(f, has_aux=True)(x)
    assert v == 25.0 and aux["norm"] == 5.0 and g.tolist() == [6.0, 8.0]
    v, g = gg.value_and_grad(lambda x: np.sum(x ** 2))(x)
    assert v == 25.0 and g.tolist() == [6.0, 8.0]


def test_pytree_gradients():
    def loss(p, x):
        return np.sum((x @ p["w"] + p["b"]) ** 2)

    p = {"w": np.ones((3, 2)), "b": np.array([0.5, -0.5])}
    x = np.arange(6.0).reshape(2, 3)
    g = gg.grad(loss)(p, x)
    r = x @ p["w"] + p["b"]
    assert np.allclose(g["w"], 2 * x.T @ r) and np.allclose(g["b"], 2 * r.sum(0))
    gl = gg.grad(lambda ps: ps[0] * ps[1][0])([2.0, (3.0,)])
    assert gl[0] == 3.0 and gl[1][0] == 2.0


def test_unused_argument_gives_zeros_of_its_shape():
    g = gg.grad(lambda x, y: np.sum(x * 2.0), argnums=1)(np.ones(3), np.ones((2, 2)))
    assert g.shape == (2, 2) and not g.any()


def test_float32_in_float32_out():
    x = np.ones(3, np.float32)
    assert gg.grad(lambda x: np.sum(np.sin(x) * 2.0))(x).dtype == np.float32
    assert gg.jacfwd(lambda x: x * 2.0)(x).dtype == np.float32


def test_stop_gradient_and_detach():
    f = lambda x: x * gg.stop_gradient(x)  # noqa: E731
    assert gg.grad(f)(3.0) == 3.0
    assert gg.detach is gg.stop_gradient
    assert gg.grad(gg.grad(lambda x: gg.stop_gradient(x ** 2) * x))(3.0) == 0.0


def test_elementwise_grad():
    x = np.linspace(-2, 2, 7)
    assert np.allclose(gg.elementwise_grad(np.tanh)(x), 1 - np.tanh(x) ** 2)


def test_vjp_and_jvp():
    f = lambda x, y: np.sin(x) * y  # noqa: E731
    x, y = np.array([0.1, 0.2]), np.array([3.0, 4.0])
    out, back = gg.vjp(f, x, y)
    cx, cy = back(np.array([1.0, 2.0]))
    assert np.allclose(out, np.sin(x) * y)
    assert np.allclose(cx, np.cos(x) * y * [1, 2]) and np.allclose(cy, np.sin(x) * [1, 2])
    o, t = gg.jvp(f, (x, y), (np.ones(2), np.zeros(2)))
    assert np.allclose(t, np.cos(x) * y)


# -- errors -------------------------------------------------------------------------------

def test_grad_of_non_scalar_points_to_jacrev():
    with pytest.raises(ValueError) as e:
        gg.grad(lambda x: x * 2.0)(np.ones(3))
    assert isinstance(e.value, gg.GradgraphError)
    assert "jacrev" in str(e.value) and "test_transforms.py" in str(e.value)


@pytest.mark.parametrize("bad", [np.arange(3), np.ones(3, complex)])
def test_differentiating_integer_or_complex_is_a_type_error(bad):
    with pytest.raises(TypeError) as e:
        gg.grad(lambda x: np.sum(x * 2))(bad)
    assert str(bad.dtype) in str(e.value) and isinstance(e.value, gg.GradgraphError)


def test_integer_argument_not_differentiated_is_fine():
    f = lambda x, idx: np.sum(x[idx] ** 2)  # noqa: E731
    g = gg.grad(f)(np.array([1.0, 2.0, 3.0]), np.array([0, 2, 2]))
    assert g.tolist() == [2.0, 0.0, 12.0]


def test_extended_graph_roles():
    g = gg.trace(notes, 2.0, 5.0)
    ga = gg.adjoint(g)
    assert set(g.nx.nodes) <= set(ga.nx.nodes)
    assert all(ga[n] == g[n] for n in g.nx.nodes)
    assert ga.count("adjoint") > 0 and ga.count("tangent") == 0
    ga.outputs, ga.out_tree = ga.outputs[1:2], "*"
    gta = gg.tangent(ga, wrt=[g.inputs[0]], direction=[1.0])
    assert gta.count("adjoint") > 0 and gta.count("tangent") > 0
    # d/dx1 of dy/dx1 = -1/x1^2
    assert abs(float(gta.evaluate(2.0, 5.0)[1]) + 0.25) < 1e-12
    gt = gg.tangent(g)
    gat = gg.adjoint(gt, wrt=[g.inputs[0]], seed=[0.0, 1.0])
    assert gat.count("adjoint") > 0 and gat.count("tangent") > 0
