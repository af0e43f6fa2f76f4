"""The bad-input catalogue of docs/errors.md: one test per kind, in the same order.

Each test checks the error class (a ``GradgraphError`` and the matching builtin), that the
message names the user's ``file:line`` (this file, the offending line) and says what to do,
and that nothing half-done is left behind (no file, no wrong number). Kinds that follow NumPy
(NaN, inf) or Python (a user's own exception) check exactly that instead. About 3 s.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import gradgraph as gg
from gradgraph.errors import (GradgraphError, GradgraphFileNotFoundError, GradgraphIndexError,
                              GradgraphRecursionError, GradgraphTypeError, GradgraphValueError,
                              TracerError, UnsupportedOperationError)

FILE = os.path.basename(__file__)


@contextlib.contextmanager
def bad(*types, hint: str, line: int | None = None):
    """Expect an error of every class in ``types`` whose message has ``hint`` and names this
    file at ``line`` (default: the line right after the ``with``)."""
    where = sys._getframe(2).f_lineno + 1 if line is None else line
    with pytest.raises(types[0]) as info:
        yield info
    e = info.value
    assert isinstance(e, GradgraphError), type(e)
    for t in types:
        assert isinstance(e, t), (type(e), t)
    msg = str(e)
    assert f"{FILE}:{where}" in msg, (where, msg)
    assert hint in msg, (hint, msg)


def body_line(fn, k: int) -> int:
    """The line ``k`` lines below ``def fn``."""
    return fn.__code__.co_firstlineno + k


def loss(x):
    return np.sum(x ** 2)


X = np.array([0.5, -1.0, 2.0])

# -- 1-9: argument types --------------------------------------------------------------------


def test_01_integer_array_differentiated():
    with bad(GradgraphTypeError, TypeError, hint="dtype int64"):
        gg.grad(loss)(np.arange(3))


def test_02_complex_array_differentiated():
    with bad(GradgraphTypeError, TypeError, hint="dtype complex128"):
        gg.grad(loss)(np.ones(3) + 1j)


def test_03_bool_array_differentiated():
    with bad(GradgraphTypeError, TypeError, hint="astype(float)"):
        gg.grad(loss)(np.ones(3, dtype=bool))


def test_04_object_array_argument():
    with bad(GradgraphTypeError, TypeError, hint="dtype object"):
        gg.grad(loss)(np.array([1.0, "a"], dtype=object))


def test_05_string_array_argument():
    with bad(GradgraphTypeError, TypeError, hint="close over it"):
        gg.compile(lambda s: s)(np.array(["a", "b"]))


def test_06_none_inside_a_pytree():
    with bad(GradgraphTypeError, TypeError, hint="['b'] is a NoneType"):
        gg.grad(lambda p: np.sum(p["a"]))({"a": X, "b": None})


def test_07_unsupported_type_inside_a_pytree():
    with bad(GradgraphTypeError, TypeError, hint="is a set"):
        gg.grad(lambda p: np.sum(p[0]))((X, {1, 2}))


def test_08_string_argument():
    with bad(GradgraphTypeError, TypeError, hint="is a str"):
        gg.grad(loss)("0.5")


def test_09_unsortable_dict_keys():
    with bad(GradgraphTypeError, TypeError, hint="sortable"):
        gg.grad(lambda p: np.sum(p[1]))({1: X, "a": X})


# -- 10-12: shapes and indices ------------------------------------------------------------------


def test_10_mismatched_shapes():
    def f(x, y):
        return np.sum(x * y)

    with bad(GradgraphValueError, ValueError, hint="could not be broadcast",
             line=body_line(f, 1)):
        gg.grad(f)(np.ones(3), np.ones(4))


def test_11_mismatched_matmul():
    def f(a, b):
        return np.sum(a @ b)

    with bad(GradgraphValueError, ValueError, hint="fix the shapes", line=body_line(f, 1)):
        gg.grad(f)(np.ones((2, 3)), np.ones((2, 3)))


def test_12_index_out_of_bounds():
    def f(x):
        return x[5]

    with bad(GradgraphIndexError, IndexError, hint="out of bounds", line=body_line(f, 1)):
        gg.grad(f)(X)


# -- 13-16: what is differentiated ----------------------------------------------------------------


def test_13_non_scalar_grad():
    def f(x):
        return x ** 2

    with bad(GradgraphValueError, ValueError, hint="gg.jacrev", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_14_argnums_out_of_range():
    with bad(GradgraphValueError, ValueError, hint="out of range"):
        gg.grad(loss, argnums=2)(X)


def test_15_argnums_duplicated():
    with bad(GradgraphValueError, ValueError, hint="names an argument twice"):
        gg.grad(lambda x, y: np.sum(x * y), argnums=(0, -2))(X, X)


def test_16_has_aux_with_a_non_pair():
    with bad(GradgraphValueError, ValueError, hint="returned a tuple of 3"):
        gg.grad(lambda x: (np.sum(x), x, x), has_aux=True)(X)
    with bad(GradgraphValueError, ValueError, hint="returned one value"):
        gg.value_and_grad(loss, has_aux=True)(X)


# -- 17-19: NumPy that tracing cannot follow ------------------------------------------------------


def test_17_unsupported_numpy_function():
    def f(x):
        return np.sum(np.fft.fft(x).real)

    with bad(UnsupportedOperationError, NotImplementedError, hint="np.fft.fft",
             line=body_line(f, 1)):
        gg.grad(f)(X)


def test_18_in_place_mutation_of_a_traced_array():
    def f(x):
        x[0] = 1.0
        return np.sum(x)

    with bad(TracerError, RuntimeError, hint="np.where", line=body_line(f, 1)):
        gg.grad(f)(X.copy())


def test_19_ufunc_out_argument():
    def f(x):
        np.sin(x, out=x)
        return np.sum(x)

    with bad(TracerError, RuntimeError, hint="drop out=", line=body_line(f, 1)):
        gg.grad(f)(X.copy())


# -- 20-26: traced values used where Python needs a value -----------------------------------------


def test_20_a_traced_value_escaping_its_trace():
    kept = []

    def f(x):
        kept.append(x * 2.0)
        return np.sum(x)

    gg.grad(f)(X)
    with bad(TracerError, RuntimeError, hint="Return it from the function"):
        np.sin(kept[0])
    with bad(TracerError, RuntimeError, hint="escaped"):
        kept[0] + 1.0


def test_21_an_escaped_tracer_converted_to_a_number():
    kept = []
    gg.compile(lambda x: kept.append(x[0]) or x)(X)
    with bad(TracerError, RuntimeError, hint="escaped"):
        float(kept[0])  # its value is the one of a past call: refused, not stale


def test_22_a_traced_value_as_a_slice_bound():
    def f(x):
        return np.sum(x[:np.sum(x)])

    with bad(TracerError, RuntimeError, hint="int(x)", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_23_a_traced_value_as_a_shape():
    def f(x):
        return np.sum(x.reshape(x[0], -1))

    def g(x):
        return np.zeros(np.sum(x))

    with bad(TracerError, RuntimeError, hint="a shape", line=body_line(f, 1)):
        gg.grad(f)(np.ones(4))
    with bad(TracerError, RuntimeError, hint="a shape", line=body_line(g, 1)):
        gg.compile(g)(np.ones(4))


def test_24_a_float_traced_value_as_an_index():
    def f(x):
        return x[x[0]]

    with bad(GradgraphTypeError, TypeError, hint="integer or boolean", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_25_python_if_on_a_whole_array():
    def f(x):
        if x > 0:
            return np.sum(x)
        return -np.sum(x)

    with bad(GradgraphValueError, ValueError, hint=".any() or .all()", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_26_float_of_a_non_scalar_traced_array():
    def f(x):
        return float(x) * x

    with bad(GradgraphValueError, ValueError, hint="one-element", line=body_line(f, 1)):
        gg.jacrev(f)(X)


# -- 27: recursion --------------------------------------------------------------------------------


def _deep(x, n):
    return x if n == 0 else _deep(x * 1.0000001, n - 1)


def test_27_recursion_100000_deep_in_the_users_function():
    with bad(GradgraphRecursionError, RecursionError, hint="sys.setrecursionlimit",
             line=body_line(_deep, 1)):
        gg.grad(lambda x: _deep(x, 100_000))(1.5)
    # nothing is left broken: the next trace works
    assert float(gg.grad(lambda x: _deep(x, 10))(1.5)) == pytest.approx(1.0000001 ** 10)


def test_27b_recursion_100000_deep_traces_once_the_limit_allows_it():
    """With the limit raised, the 100,000-deep recursion is recorded, and the 100,000-node
    chain is differentiated without gradgraph recursing (run in a subprocess: it needs a
    bigger thread stack)."""
    code = textwrap.dedent("""
        import sys, threading
        import numpy as np, gradgraph as gg
        def deep(x, n):
            return x if n == 0 else deep(x * 1.00001, n - 1)
        def main():
            sys.setrecursionlimit(400_000)
            g = gg.grad(lambda x: deep(x, 100_000))(1.5)
            print(repr(float(g)))
        threading.stack_size(1 << 30)
        t = threading.Thread(target=main); t.start(); t.join()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout) == pytest.approx(1.00001 ** 100_000, rel=1e-9)


# -- 28-29: numbers that follow NumPy -------------------------------------------------------------


def test_28_nan_and_inf_inputs_follow_numpy():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, 4.0])
    with np.errstate(all="ignore"):
        want_value = np.sum(np.sqrt(x) * 2.0)
        want_grad = 1.0 / np.sqrt(x)  # d/dx 2 sqrt(x), NumPy's IEEE results
        got_value, got_grad = gg.value_and_grad(lambda v: np.sum(np.sqrt(v) * 2.0))(x)
        y = gg.compile(lambda v: np.log(v) + np.exp(v))(x)
        want_y = np.log(x) + np.exp(x)
    np.testing.assert_array_equal(got_value, want_value)
    np.testing.assert_array_equal(got_grad, want_grad)
    np.testing.assert_array_equal(y, want_y)


def test_29_differentiating_through_integer_casts():
    def f(x):
        return np.sum(x.astype(np.int64) * x + x.astype(np.float32).astype(np.float64))

    x = np.array([1.5, 2.5, -0.5])
    # int(x) carries no derivative; the float32 round trip carries 1
    np.testing.assert_array_equal(gg.grad(f)(x), np.trunc(x) + 1.0)


# -- 30-31: control flow --------------------------------------------------------------------------


def test_30_a_while_loop_that_never_ends_under_tracing():
    def f(x):
        while x > 0:
            x = x + 1.0
        return x

    with gg.config.options(max_trace_ops=20_000):
        with bad(TracerError, RuntimeError, hint="gg.config.max_trace_ops",
                 line=body_line(f, 2)):
            gg.grad(f)(1.0)
    assert gg.config.max_trace_ops == 5_000_000  # the documented default is back


def test_31_a_user_function_that_raises_keeps_its_own_traceback():
    def f(x):
        raise KeyError("the user's own error")

    with pytest.raises(KeyError) as info:
        gg.grad(f)(X)
    assert not isinstance(info.value, GradgraphError)
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert os.path.basename(last.filename) == FILE and last.lineno == body_line(f, 1)


# -- 32-33: saving --------------------------------------------------------------------------------


def test_32_saving_to_a_directory_that_does_not_exist(tmp_path):
    target = tmp_path / "missing" / "f.py"
    with bad(GradgraphFileNotFoundError, FileNotFoundError, hint="create it first"):
        gg.compile(loss).save(target, X)
    assert not (tmp_path / "missing").exists()


def test_33_a_failing_write_leaves_no_file(tmp_path, monkeypatch):
    fn = gg.grad(loss)
    target = tmp_path / "g.py"
    target.write_text("# the old module\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        fn.save(target, X)
    assert target.read_text() == "# the old module\n"  # untouched, not half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.py"]  # no temporary left


# -- 34-38: cotangents and tangents ---------------------------------------------------------------


def test_34_a_cotangent_of_the_wrong_shape():
    _, back = gg.vjp(lambda x: x * 2.0, X)
    with bad(GradgraphValueError, ValueError, hint="cotangent of the output's shape"):
        back(np.ones(4))


def test_35_a_cotangent_of_the_wrong_structure():
    _, back = gg.vjp(lambda x: (x, x), X)
    with bad(GradgraphValueError, ValueError, hint="pytree structure"):
        back(np.ones(3))


def test_36_a_tangent_of_the_wrong_shape():
    with bad(GradgraphValueError, ValueError, hint="tangent of the primal's shape"):
        gg.jvp(lambda x: x * 2.0, (X,), (np.ones(4),))


def test_37_a_tangent_of_the_wrong_structure():
    with bad(GradgraphValueError, ValueError, hint="pytree structure"):
        gg.jvp(lambda x, y: x * y, (X, X), (X,))


def test_38_primals_not_given_as_tuples():
    with bad(GradgraphTypeError, TypeError, hint="gg.jvp(f, (x,), (v,))"):
        gg.jvp(lambda x: x, X, X)


# -- 39-40: calling with another structure --------------------------------------------------------


def test_39_calling_a_function_with_a_different_pytree_structure():
    calls = []

    def f(p):
        calls.append(1)
        return np.sum(p[0] * 2.0) + (np.sum(p[1]) if len(p) > 1 else 0.0)

    F = gg.compile(f)
    assert float(F((X, X))) == pytest.approx(np.sum(X * 2) + np.sum(X))
    # another structure is another signature: traced again, right numbers, never a mix-up
    assert float(F([X, X])) == pytest.approx(np.sum(X * 2) + np.sum(X))
    assert float(F((X,))) == pytest.approx(np.sum(X * 2))
    assert float(F({0: X, 1: 2 * X})) == pytest.approx(np.sum(X * 2) + np.sum(2 * X))
    assert len(calls) == 4


def test_40_evaluating_a_graph_on_another_structure_or_shape():
    g = gg.trace(lambda p: p["a"] - p["b"], {"a": X, "b": X})
    with bad(GradgraphValueError, ValueError, hint="trace again"):
        g.evaluate({"a": X, "c": X})  # as many leaves, other keys: refused
    with bad(GradgraphValueError, ValueError, hint="traced with shape (3,)"):
        g.evaluate({"a": X, "b": np.ones((2, 3))})  # NumPy would broadcast: refused


# -- 41-47: more misuse ---------------------------------------------------------------------------


def test_41_hvp_with_several_argnums():
    with bad(GradgraphValueError, ValueError, hint="one argnums"):
        gg.hvp(loss, argnums=(0, 1))


def test_42_a_negative_derivative_order():
    with bad(GradgraphValueError, ValueError, hint="non-negative int"):
        gg.derivative(np.sin, order=-1)


def test_43_reshape_to_the_wrong_size():
    def f(x):
        return np.sum(x.reshape(2, 2))

    with bad(GradgraphValueError, ValueError, hint="cannot reshape", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_44_an_axis_out_of_range():
    def f(x):
        return np.sum(np.sum(x, axis=3))

    with bad(GradgraphValueError, ValueError, hint="out of bounds", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_45_grad_of_an_integer_output():
    def f(x):
        return np.sum(x.astype(np.int64))

    with bad(GradgraphTypeError, TypeError, hint="real floating output", line=body_line(f, 1)):
        gg.grad(f)(X)


def test_46_len_of_a_0d_traced_array():
    def f(x):
        return x * len(x)

    with bad(GradgraphTypeError, TypeError, hint="0-d", line=body_line(f, 1)):
        gg.grad(f)(2.0)


def test_47_a_python_branch_that_changes_between_calls():
    def f(x):
        return x * 2.0 if x > 0 else x * -3.0

    df = gg.grad(f)
    # a guard, not an error: the other branch is traced and compiled when it is taken
    assert (float(df(1.0)), float(df(-1.0)), float(df(2.0))) == (2.0, -3.0, 2.0)
    assert df.trace_count == 2
