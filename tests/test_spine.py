"""The spine: tracing, the graph, codegen, Function caching and guards."""

import math

import networkx as nx
import numpy as np
import pytest

import gradgraph as gg


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def test_notes_value_and_graph():
    g = gg.trace(notes, 2.0, 5.0)
    assert isinstance(g.nx, nx.DiGraph) and nx.is_directed_acyclic_graph(g.nx)
    ops = [g[n]["op"] for n in g.order()]
    assert ops == ["input", "input", "log", "multiply", "add", "sin", "subtract"]
    for n in g.order():
        d = g.nx.nodes[n]
        assert {"op", "args", "shape", "dtype", "role"} <= set(d)
        assert list(g.nx.predecessors(n)) == sorted(set(d["args"]))
    assert g[g.order()[2]]["loc"].endswith(f"test_spine.py:{notes.__code__.co_firstlineno + 1}")
    want = math.log(2) + 10 - math.sin(5)
    assert abs(float(g.evaluate(2.0, 5.0)) - want) < 1e-12
    assert abs(float(gg.compile(notes)(2.0, 5.0)) - want) < 1e-12
    assert round(want, 3) == 11.652


def test_x_times_x_is_one_node_with_repeated_operand():
    g = gg.trace(lambda x: x * x, 3.0)
    (mul,) = [n for n in g.order() if g[n]["op"] == "multiply"]
    assert g[mul]["args"] == (g.inputs[0], g.inputs[0])
    # interning: the same computation twice is one node
    g2 = gg.trace(lambda x: np.sin(x) + np.sin(x), 1.0)
    assert [g2[n]["op"] for n in g2.order()].count("sin") == 1


def test_golden_source_of_the_notes_function():
    src = gg.compile(notes).source(2.0, 5.0)
    line = notes.__code__.co_firstlineno + 1
    loc = f"tests/test_spine.py:{line}"
    assert src == f"""import numpy as np


def notes(x1, x2):
    x1 = np.float64(x1)
    x2 = np.float64(x2)
    v3 = np.log(x1)  # {loc}
    v4 = x1 * x2  # {loc}
    v5 = v3 + v4  # {loc}
    del v3, v4
    v6 = np.sin(x2)  # {loc}
    v7 = v5 - v6  # {loc}
    del v5, v6
    return v7
"""


def test_listing_reads_like_a_jaxpr():
    text = str(gg.trace(lambda x: np.sin(x), np.ones(3)))
    assert "v2:f64[3] = sin x" in text and "# primal" in text


def test_one_trace_per_signature_counted_by_side_effect():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x * 2.0)

    F = gg.compile(f)
    assert F(np.ones(3)) == 6.0
    assert F(np.full(3, 2.0)) == 12.0
    assert F(2.0) == 4.0 and F(3.0) == 6.0  # Python floats of any value share one variant
    assert len(calls) == 2
    F(np.ones(4))
    F(np.ones(3, np.float32))
    assert len(calls) == 4


def branchy(a):
    b = a * 2
    while np.sum(b * b) < 1000.0 ** 2:
        b = b * 2
    if np.sum(b) > 0:
        c = b
    else:
        c = 100 * b
    return c


@pytest.mark.parametrize("a", [0.5, -0.5, 0.7, 3.0, -200.0, 0.5])
def test_guards_retrace_on_each_branch(a):
    F = _BRANCHY
    assert F(np.float64(a)) == branchy(np.float64(a))


_BRANCHY = gg.compile(branchy)


def test_guards_in_source_and_variants():
    F = gg.compile(branchy)
    F(np.float64(0.5))
    F(np.float64(-0.5))
    n = F.trace_count
    F(np.float64(0.5))
    F(np.float64(-0.5))
    assert F.trace_count == n  # both paths cached
    assert "_GuardFailed" in F.source(np.float64(0.5))


def test_float_conversion_is_a_value_guard():
    F = gg.compile(lambda x: x * float(np.sum(x)))
    assert F(np.array([1.0, 2.0])).tolist() == [3.0, 6.0]
    assert F(np.array([2.0, 2.0])).tolist() == [8.0, 8.0]


def test_pytrees_in_and_out():
    def f(p, xs):
        return {"y": p["w"] * xs[0], "z": [p["b"] + xs[1]]}

    p = {"w": np.arange(3.0), "b": 1.0}
    out = gg.compile(f)(p, (np.ones(3), 2.0))
    assert out["y"].tolist() == [0.0, 1.0, 2.0] and out["z"][0] == 3.0
    src = gg.compile(f).source(p, (np.ones(3), 2.0))
    assert "def f(p, xs):" in src and "p['w']" in src


def test_float32_preserved():
    y = gg.compile(lambda x: np.sin(x) * 2.0 + 1)(np.ones(3, np.float32))
    assert y.dtype == np.float32


def test_indexing_iteration_and_array_of_scalars():
    def f(x):
        parts = [v * 2.0 for v in x]
        return np.array(parts) + x[::-1] + x[[0, 0, 1]] + x[x > 1.5].sum()

    x = np.array([1.0, 2.0, 3.0])
    assert np.allclose(gg.compile(f)(x), f(x))


def test_saved_module_runs_standalone(tmp_path):
    import subprocess
    import sys

    path = gg.grad(notes).save(tmp_path / "notes_grad.py", 2.0, 5.0)
    code = ("import sys; sys.path.insert(0, %r); import notes_grad; "
            "print(notes_grad.grad_notes(2.0, 5.0))" % str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": ""}, check=True)
    assert out.stdout.strip() == "5.5"


def test_unsupported_function_names_it_and_the_line():
    with pytest.raises(gg.UnsupportedOperationError) as e:
        gg.compile(lambda x: np.fft.fft(x))(np.ones(4))
    assert "fft" in str(e.value) and "test_spine.py" in str(e.value)


def test_inplace_assignment_is_a_clear_error():
    def f(x):
        x[0] = 1.0
        return x

    with pytest.raises(gg.GradgraphError) as e:
        gg.compile(f)(np.ones(3))
    assert "np.where" in str(e.value) and "test_spine.py" in str(e.value)


def test_escaped_tracer_is_a_clear_error():
    kept = []

    def f(x):
        kept.append(x * 2.0)
        return x

    gg.compile(f)(1.0)
    with pytest.raises(gg.GradgraphError) as e:
        gg.compile(lambda y: y + kept[0])(1.0)
    assert "escaped" in str(e.value)


def test_unsupported_argument_type():
    with pytest.raises(TypeError) as e:
        gg.compile(lambda x: x)("hello")
    assert isinstance(e.value, gg.GradgraphError)


def test_long_chain_without_recursion():
    def chain(x):
        for _ in range(100_000):
            x = x * 1.0000001
        return x

    assert abs(gg.compile(chain)(1.0) - 1.0000001 ** 100_000) < 1e-9
