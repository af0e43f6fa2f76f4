"""gg.to_sympy and gg.verify: the traced graph as SymPy, and the generated derivatives checked
against SymPy's exact derivative and central finite differences. Runs in a few seconds."""

import math

import numpy as np
import pytest
import sympy as sp

import gradgraph as gg
from gradgraph.errors import GradgraphValueError
from gradgraph.ops.registry import OPS


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def R(name):
    return sp.Symbol(name, real=True)


# -- to_sympy ---------------------------------------------------------------------------------


def test_to_sympy_of_the_notes_function_is_the_hand_written_expression():
    x1, x2 = R("x1"), R("x2")
    e = gg.to_sympy(notes, 2.0, 5.0)
    assert e == sp.log(x1) + x1 * x2 - sp.sin(x2)
    # and it evaluates to the notes' number
    assert round(float(e.subs({x1: 2, x2: 5})), 3) == 11.652


def test_element_symbols_and_output_kinds():
    w = np.ones((2, 3))
    x = np.ones(3)
    m = gg.to_sympy(lambda w: 2.0 * w, w)  # 2-D output: a Matrix of that shape
    assert isinstance(m, sp.MatrixBase) and m.shape == (2, 3)
    assert m[0, 1] == 2 * R("w_0_1")
    v = gg.to_sympy(lambda w, x: w @ x, w, x)  # 1-D: an Array of shape (2,)
    assert isinstance(v, sp.NDimArray) and v.shape == (2,)
    assert sp.expand(v[1] - sum(R(f"w_1_{j}") * R(f"x_{j}") for j in range(3))) == 0
    t = gg.to_sympy(lambda a: a * a, np.ones((2, 1, 2)))  # 3-D: an Array
    assert isinstance(t, sp.NDimArray) and t.shape == (2, 1, 2)
    assert t[1, 0, 1] == R("a_1_0_1") ** 2
    s = gg.to_sympy(lambda x: np.sum(x), x)  # scalar: an expression
    assert isinstance(s, sp.Expr) and s == R("x_0") + R("x_1") + R("x_2")


def test_pytree_leaves_are_named_from_their_paths():
    e = gg.to_sympy(lambda p, q: np.sum(p["w"] ** 2) * p["b"] + q[1][0],
                    {"w": np.ones(2), "b": 1.0}, (1.0, [2.0]))
    assert e == R("p_b") * (R("p_w_0") ** 2 + R("p_w_1") ** 2) + R("q_1_0")
    out = gg.to_sympy(lambda x: {"s": x * 3.0, "t": (x, x ** 2)}, 2.0)
    assert out["s"] == 3 * R("x") and out["t"][1] == R("x") ** 2


def test_integer_arguments_enter_as_values_and_index_arrays_work():
    e = gg.to_sympy(lambda x, i: np.sum(x[i] * 2.0), np.ones(4), np.array([0, 2, 2]))
    assert e == 2 * R("x_0") + 4 * R("x_2")


def test_integer_nodes_without_a_translation_take_their_values():
    # argmax, argsort, isnan: integer/boolean, piecewise constant: they fix the path
    f = lambda x: np.sort(x)[0] + x[np.argmax(x)] + np.sum(np.where(np.isnan(x), 0.0, x))  # noqa
    assert gg.to_sympy(f, np.array([3.0, 1.0, 2.0])) == 2 * R("x_0") + 2 * R("x_1") + R("x_2")
    # an index computed by a cast to int
    assert list(gg.to_sympy(lambda x: x[x.astype(int)], np.array([1.5, 0.2]))) == [
        R("x_1"), R("x_0")]
    assert gg.to_sympy(lambda x: x.astype(int) * 1.0, 2.5) == sp.sign(R("x")) * sp.floor(
        sp.Abs(R("x")))


def test_constants_are_exact_and_structured_ops_translate():
    e = gg.to_sympy(lambda x: 0.1 * x + np.mean(x ** 2, axis=0)[0], np.ones((2, 2)))
    assert isinstance(e, sp.MatrixBase) and e.shape == (2, 2)
    assert sp.simplify(e[0, 1] - (R("x_0_1") / 10 + (R("x_0_0") ** 2 + R("x_1_0") ** 2) / 2)) == 0
    cat = gg.to_sympy(lambda x: np.concatenate([x, x[::-1].T.ravel()]), np.ones(2))
    assert list(cat) == [R("x_0"), R("x_1"), R("x_1"), R("x_0")]


def test_guards_give_the_expression_of_the_traced_path():
    f = lambda x: x * 3.0 if x > 0 else -x  # noqa: E731
    assert gg.to_sympy(f, 2.0) == 3 * R("x")
    assert gg.to_sympy(f, -2.0) == -R("x")


def test_an_op_without_a_translation_is_named(monkeypatch):
    monkeypatch.setattr(OPS["sin"], "sympy", None)
    with pytest.raises(gg.UnsupportedOperationError, match="'sin'"):
        gg.to_sympy(lambda x: np.sin(x) * 2.0, 1.0)


# -- verify passes --------------------------------------------------------------------------

rng = np.random.default_rng(0)
X = rng.normal(size=(4, 3))
Y = rng.normal(size=4)

CASES = [
    ("notes", notes, (2.0, 5.0), dict(argnums=(0, 1))),
    ("x1x2+sin x1", lambda x1, x2: x1 * x2 + np.sin(x1), (2.0, 3.0), dict(argnums=(0, 1))),
    ("exp(x)(exp(x)+1)", lambda x: np.exp(x) * (np.exp(x) + 1), (0.3,), {}),
    ("exp(x)(exp(x)+1)''", lambda x: np.exp(x) * (np.exp(x) + 1), (0.3,), dict(order=2)),
    ("vector", lambda x: np.sum(x ** 2 * np.sin(x)), (np.array([0.5, -1.0, 2.0]),), {}),
    ("chain rule", lambda w, x, y: (np.dot(x, w) - y) ** 2,
     (np.array([0.1, 0.2, -0.3]), np.array([1.0, 2.0, 0.5]), 0.7), {}),
    ("least squares w", lambda w, X, y: np.sum((X @ w - y) ** 2), (np.ones(3), X, Y), {}),
    ("least squares X", lambda w, X, y: np.sum((X @ w - y) ** 2), (np.ones(3), X, Y),
     dict(argnums=1)),
    ("jacobian", lambda x: np.tanh(X @ x), (np.array([0.2, -0.1, 0.4]),), {}),
    ("matrix output", lambda x: np.outer(x, np.exp(x)), (np.array([0.2, 0.5]),), {}),
    ("rosenbrock hessian",
     lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),
     (np.array([0.5, -0.2, 1.1, 0.3]),), dict(order=2)),
    ("hessian blocks", lambda x, y: np.sum(np.sin(x)[:, None] * y ** 2),
     (np.array([0.5, 1.0]), np.array([2.0, -1.0, 0.5])), dict(argnums=(0, 1), order=2)),
    ("broadcasting pair", lambda x, b: np.sum(np.exp(x * b)),
     (rng.normal(size=(3, 2)), np.array([[0.5, -0.3]])), dict(argnums=(0, 1))),
    ("mean over an axis", lambda x: np.mean(x, axis=0) * np.max(x, axis=1).sum(),
     (rng.normal(size=(3, 2)),), {}),
    ("third order", lambda x: np.sin(x) * x ** 2, (0.7,), dict(order=3)),
    ("pytree", lambda p: np.sum(np.tanh(p["w"] * 2.0) + p["b"] ** 3),
     ({"w": np.array([0.1, 0.3]), "b": 0.4},), {}),
    ("round (no translation, held constant)", lambda x: np.sum(np.round(3.0 * x) * x),
     (np.array([0.4, 1.3]),), {}),
    ("floor and sign", lambda x: np.sum(x * np.floor(x) + np.sign(x) * x ** 2),
     (np.array([0.5, 1.5, -2.5]),), {}),
    ("x^x at a random point", lambda x: np.sum(x ** x), (rng.uniform(0.5, 1.5, size=3),), {}),
    ("mod and fmod", lambda x: np.sum(np.mod(3.0 * x, 0.7) * np.fmod(x, 0.3) + np.abs(x)),
     (np.array([0.45, -1.3, 2.2]),), {}),
    ("sort and argmax", lambda x: np.sort(x)[0] * x[np.argmax(x)], (np.array([3.0, 1.0, 2.0]),),
     {}),
    ("relu mlp", lambda x, W1, w2: np.maximum(W1 @ x, 0.0) @ w2,
     (np.array([2.0, -1.0]), np.array([[1.0, 0.5], [-1.0, 1.0], [0.3, 0.2]]),
      np.array([1.0, -2.0, 0.5])), dict(argnums=(0, 1, 2))),
]


@pytest.mark.parametrize("name,f,args,kw", CASES, ids=[c[0] for c in CASES])
def test_verify_passes(name, f, args, kw):
    r = gg.verify(f, *args, **kw)
    assert bool(r), str(r)
    assert r.failed == ()
    assert r.max_abs_error < 1e-8 and r.fd_max_abs_error < 1e-4


def test_verify_expected_matches_closed_forms_and_shapes():
    r = gg.verify(notes, 2.0, 5.0, argnums=(0, 1))
    assert float(r.expected[0]) == 0.5 + 5.0
    assert abs(float(r.expected[1]) - (2.0 - math.cos(5.0))) < 1e-15
    assert r.sympy_expr == sp.log(R("x1")) + R("x1") * R("x2") - sp.sin(R("x2"))
    # Jacobian: out.shape + in.shape, against the closed form diag(1 - tanh^2) X
    x = np.array([0.2, -0.1, 0.4])
    r = gg.verify(lambda x: np.tanh(X @ x), x)
    assert r.expected.shape == (4, 3) and r.actual.shape == (4, 3)
    want = (1 - np.tanh(X @ x) ** 2)[:, None] * X
    assert np.allclose(r.expected, want, rtol=1e-14, atol=1e-14)
    # Hessian of sum(x^3) is diag(6x); third derivative of sin is -cos
    x = np.array([1.0, -2.0, 0.5])
    r = gg.verify(lambda x: np.sum(x ** 3), x, order=2)
    assert r.expected.shape == (3, 3) and np.array_equal(r.expected, np.diag(6 * x))
    r = gg.verify(np.sin, 0.3, order=3)
    assert abs(float(r.expected) + math.cos(0.3)) < 1e-15
    # Hessian blocks for a tuple argnums: H[i][j] has shape in_i.shape + in_j.shape
    r = gg.verify(lambda x, y: np.sum(x) * np.sum(y ** 2), np.ones(2), np.ones(3),
                  argnums=(0, 1), order=2)
    assert [[b.shape for b in row] for row in r.expected] == [[(2, 2), (2, 3)], [(3, 2), (3, 3)]]
    assert np.array_equal(r.expected[0][1], np.full((2, 3), 2.0))


def test_stop_gradient_follows_the_convention_and_skips_finite_differences():
    # d/dx [x * stop_gradient(x)] = stop_gradient(x): SymPy sees the node as a constant;
    # finite differences of plain NumPy cannot see stop_gradient at all, so they are skipped
    r = gg.verify(lambda x: np.sum(x * gg.stop_gradient(x) ** 2), np.array([0.5, -2.0]))
    assert r and np.array_equal(r.expected, np.array([0.25, 4.0]))
    assert r.checks["finite differences"].skipped and "stop_gradient" in str(r)


def test_float32_is_checked_with_float32_tolerances():
    x = np.array([0.5, 1.5], dtype=np.float32)
    r = gg.verify(lambda x: np.sum(np.exp(x) * np.sin(x)), x)
    assert r and r.actual.dtype == np.float32
    assert r.checks["sympy"].rtol == 1e-4


# -- verify fails, and says which check -----------------------------------------------------


def test_a_wrong_partial_is_caught_by_both_checks(monkeypatch):
    # sin' = 2 cos: a deliberately wrong rule, restored by monkeypatch after the test
    monkeypatch.setattr(OPS["sin"], "partials",
                        lambda B, a, o, act: (B.multiply(2.0, B.cos(a[0])),))
    r = gg.verify(notes, 2.0, 5.0, argnums=(0, 1))
    assert not r
    assert set(r.failed) == {"sympy", "finite differences"}
    assert abs(r.max_abs_error - abs(math.cos(5.0))) < 1e-12  # the x2 entry is off by cos(5)
    text = str(r)
    assert "FAILED" in text and "DISAGREES" in text and "derivative rule" in text
    assert "FAILED" in repr(r)


def test_a_wrong_translation_is_named_as_the_sympy_check(monkeypatch):
    monkeypatch.setattr(OPS["sin"], "sympy", sp.cos)
    r = gg.verify(lambda x: np.sin(x) * x, 0.4)
    assert not r and r.failed == ("sympy",)
    assert "SymPy translation" in str(r)


def test_a_wrong_second_order_rule_is_caught(monkeypatch):
    # cos' = +sin: gradients of sin stay right, the Hessian of sin goes wrong
    monkeypatch.setattr(OPS["cos"], "partials", lambda B, a, o, act: (B.sin(a[0]),))
    assert gg.verify(lambda x: np.sum(np.sin(x)), np.array([0.3, 1.0]))
    r = gg.verify(lambda x: np.sum(np.sin(x)), np.array([0.3, 1.0]), order=2)
    assert not r and "sympy" in r.failed and "finite differences" in r.failed


# -- verify refuses -------------------------------------------------------------------------


def test_too_large_inputs_are_refused_naming_the_limit():
    with pytest.raises(ValueError, match=r"limit of 100 \(max_elements\)") as e:
        gg.verify(lambda x: np.sum(x ** 2), np.ones(1000))
    assert isinstance(e.value, GradgraphValueError) and isinstance(e.value, gg.GradgraphError)

    def deep(x):
        for _ in range(500):
            x = np.sin(x)
        return np.sum(x)

    with pytest.raises(GradgraphValueError, match=r"limit of 20000 \(max_ops\)"):
        gg.verify(deep, np.ones(50))
    with pytest.raises(GradgraphValueError, match=r"max_entries"):
        gg.verify(lambda x: x * 2.0, np.ones(90), order=2)
    with pytest.raises(GradgraphValueError, match=r"limit of 4 \(max_elements\)"):
        gg.verify(lambda x: np.sum(x ** 2), np.ones(5), max_elements=4)
    assert gg.verify(lambda x: np.sum(x ** 2), np.ones(5), max_elements=5)


def test_integer_and_complex_wrt_are_type_errors():
    with pytest.raises(TypeError, match="int64"):
        gg.verify(lambda x: np.sum(x * 2.0), np.arange(3))
    with pytest.raises(TypeError, match="complex"):
        gg.verify(lambda x: x * 2.0, 1.0 + 2.0j)
    # an integer argument that is not differentiated is fine
    assert gg.verify(lambda x, i: np.sum(x[i] ** 2), np.array([1.0, 2.0, 3.0]), np.array([0, 2]))


def test_bad_order_and_outputs_are_value_errors():
    with pytest.raises(ValueError, match="order"):
        gg.verify(np.sin, 1.0, order=0)
    with pytest.raises(ValueError, match="one array"):
        gg.verify(lambda x: (x, x), 1.0)
