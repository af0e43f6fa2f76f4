"""gg.explain: the course notes' forward (v̇) and reverse (v̄) evaluation tables, with the
notes' numbers computed independently here (closed forms at the notes' points). Under a second."""

import math

import numpy as np
import pytest

import gradgraph as gg


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


X1, X2 = 2.0, 5.0
# the notes' table (003_*.txt), by hand: v3 = ln v1, v4 = v1 v2, v5 = sin v2, v6 = v3 + v4,
# v7 = v6 - v5
VALUES = [X1, X2, math.log(X1), X1 * X2, math.sin(X2), math.log(X1) + X1 * X2,
          math.log(X1) + X1 * X2 - math.sin(X2)]
EXPRESSIONS = ["v1 = x1", "v2 = x2", "v3 = ln v1", "v4 = v1 × v2", "v5 = sin v2",
               "v6 = v3 + v4", "v7 = v6 - v5"]
DOTS_X1 = [1.0, 0.0, 1 / X1, X2, 0.0, 1 / X1 + X2, 1 / X1 + X2]
BARS = [X2 + 1 / X1, X1 - math.cos(X2), 1.0, 1.0, -1.0, 1.0, 1.0]


def test_forward_table_of_the_notes():
    t = gg.explain(notes, X1, X2, mode="forward", wrt=0)
    assert [r.name for r in t.rows] == [f"v{k}" for k in range(1, 8)]
    assert [r.expression for r in t.rows] == EXPRESSIONS
    assert np.allclose([float(r.value) for r in t.rows], VALUES, rtol=1e-15)
    assert np.allclose([float(r.derivative) for r in t.rows], DOTS_X1, rtol=1e-15)
    name, expression, value, dot = t.rows[2]  # a row unpacks as (name, expression, value, v̇)
    assert (name, expression, round(float(value), 3), float(dot)) == (
        "v3", "v3 = ln v1", 0.693, 0.5)
    text = str(t)
    for piece in ("0.693", "-0.959", "10.693", "11.652", "∂y/∂x1 = v̇7 = 5.5",
                  "v̇4 = v̇1 × v2 + v̇2 × v1 = 1 × 5 + 0 × 2 = 5",
                  "v̇5 = v̇2 × cos v2 = 0 × cos 5 = 0", "v̇6 = v̇3 + v̇4 = 0.5 + 5 = 5.5",
                  "v̇7 = v̇6 - v̇5 = 5.5 - 0 = 5.5"):
        assert piece in text, piece
    assert float(t.derivative) == 5.5


def test_forward_table_for_the_second_input():
    t = gg.explain(notes, X1, X2, wrt=1)
    assert abs(float(t.rows[-1].derivative) - (X1 - math.cos(X2))) < 1e-15
    assert "v̇5 = v̇2 × cos v2 = 1 × cos 5 = 0.284" in str(t)


def test_reverse_table_of_the_notes():
    t = gg.explain(notes, X1, X2, mode="reverse")
    assert [r.expression for r in t.rows] == EXPRESSIONS
    assert np.allclose([float(r.derivative) for r in t.rows], BARS, rtol=1e-15)
    v2 = t.rows[1]
    # v̄2 = v̄5 cos v2 + v̄4 v1: two consumers, accumulated as the notes write it
    assert np.allclose(v2.terms, [-math.cos(X2), X1], rtol=1e-15)
    assert v2.derivation == "v̄2 = v̄5 × cos v2 + v̄4 × v1 = -0.284 + 2 = 1.716"
    assert t.rows[0].derivation == "v̄1 = v̄4 × v2 + v̄3 / v1 = 5 + 0.5 = 5.5"
    assert t.rows[4].derivation == "v̄5 = -v̄7 = -1"
    assert t.rows[5].derivation == "v̄6 = v̄7 = 1"
    text = str(t)
    lines = text.splitlines()
    # printed in the order of the reverse sweep, v̄7 first
    assert lines[2].split()[0] == "v7" and lines[-2].split()[0] == "v1"
    assert "∂y/∂x1 = v̄1 = 5.5" in text and "∂y/∂x2 = v̄2 = 1.716" in text
    assert np.allclose(list(t.derivative.values()), BARS[:2], rtol=1e-15)


def test_the_extended_graph_example_and_the_matlab_example():
    x = 0.5
    t = gg.explain(lambda x: np.exp(x) * (np.exp(x) + 1), x, mode="reverse")
    assert [r.expression for r in t.rows] == ["v1 = x", "v2 = exp v1", "v3 = v2 + 1",
                                               "v4 = v2 × v3"]
    assert t.rows[2].derivation.startswith("v̄3 = v̄4 × v2")  # the notes' v̄3 = v̄4 · v2
    e = math.exp(x)
    assert abs(float(t.rows[0].derivative) - e * (2 * e + 1)) < 1e-14
    # the MATLAB exercise: x1 x2 + sin(x1) at (2, 3), gradient [x2 + cos x1, x1]
    t = gg.explain(lambda x1, x2: x1 * x2 + np.sin(x1), 2.0, 3.0, mode="reverse")
    assert abs(float(t.rows[0].derivative) - (3 + math.cos(2))) < 1e-15
    assert float(t.rows[1].derivative) == 2.0


def test_decimals_numbering_and_ascii():
    t = gg.explain(notes, X1, X2, decimals=5)
    assert "0.69315" in str(t) and "11.65207" in str(t)
    t = gg.explain(notes, X1, X2, numbering="trace")  # the order of print(gg.trace(...))
    assert [r.expression for r in t.rows][4:] == ["v5 = v3 + v4", "v6 = sin v2", "v7 = v5 - v6"]
    text = str(gg.explain(notes, X1, X2, mode="reverse", ascii=True))
    assert "v2_bar = v5_bar * cos v2 + v4_bar * v1 = -0.284 + 2 = 1.716" in text
    assert text.isascii() or set(text) - set(map(chr, range(128))) <= {"∂"}


def test_html_table():
    t = gg.explain(notes, X1, X2, mode="reverse")
    h = t._repr_html_()
    assert h.startswith("<table") and h.endswith("</table>")
    assert h.count("<tr>") == 1 + len(t.rows) + 1  # header, rows, summary
    assert "<td>v3 = ln v1</td>" in h and "<th>v̄</th>" in h
    h = gg.explain(lambda x: np.where(x > 0.0, x, 0.0).sum(), np.array([1.0, -1.0]))._repr_html_()
    assert "&gt;" in h and " > " not in h  # text is escaped


def test_array_valued_intermediates():
    x = np.array([1.0, -2.0, 3.0])
    f = lambda x: np.sum(np.maximum(x, 0.0) * x) / x.size  # noqa: E731
    t = gg.explain(f, x, mode="reverse")
    assert t.rows[0].value.shape == (3,)
    assert np.allclose(t.rows[0].derivative, 2 * x * (x > 0) / 3, rtol=1e-15)
    assert "[1, -2, 3]" in str(t) and "[0.667, 0, 2]" in str(t)
    # forward along a given direction: J @ d
    d = np.array([1.0, 1.0, -1.0])
    t = gg.explain(f, x, direction=d)
    assert abs(float(t.derivative) - float(2 * x * (x > 0) / 3 @ d)) < 1e-15
    big = gg.explain(lambda w: np.tanh(w).sum(), np.linspace(0, 1, 20))
    assert "f64[20] [0, 0.053, 0.105, …]" in str(big)


def test_errors():
    with pytest.raises(ValueError, match="mode"):
        gg.explain(notes, X1, X2, mode="sideways")
    with pytest.raises(ValueError, match="seed="):
        gg.explain(lambda x: x * 2.0, np.ones(2), mode="reverse")
    with pytest.raises(TypeError, match="int64"):
        gg.explain(lambda x, n: x * n, 1.0, np.int64(3), wrt=1)
    with pytest.raises(ValueError, match="one argument"):
        gg.explain(notes, X1, X2, wrt=(0, 1))
    t = gg.explain(lambda x: x * 2.0, np.ones(2), mode="reverse", seed=np.array([1.0, 3.0]))
    assert t.rows[0].derivative.tolist() == [2.0, 6.0]
