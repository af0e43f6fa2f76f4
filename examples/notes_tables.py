"""The course notes' computation graph: y = ln(x1) + x1*x2 - sin(x2) at (x1, x2) = (2, 5).

Prints the traced graph, the forward table (v-dot = dv/dx1) and the reverse table
(v-bar = dy/dv) as the notes lay them out, and checks 11.652, 5.5 and (5.5, 1.716) against
the closed forms y = ln 2 + 10 - sin 5, dy/dx1 = 1/x1 + x2, dy/dx2 = x1 - cos x2.

Run: python examples/notes_tables.py
"""

import math

import numpy as np

import gradgraph as gg


def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def main():
    x = (2.0, 5.0)
    print("the computation graph (one node per operation):")
    print(gg.trace(f, *x))

    fwd = gg.explain(f, *x, mode="forward", wrt=0)
    print()
    print(fwd)
    rev = gg.explain(f, *x, mode="reverse")
    print()
    print(rev)

    y = f(*x)
    dy = gg.grad(f, argnums=(0, 1))(*x)
    print(f"\ny = {y:.3f}; forward: dy/dx1 = {fwd.rows[-1].derivative:.3f}; "
          f"reverse: (dy/dx1, dy/dx2) = ({dy[0]:.3f}, {dy[1]:.3f})")

    # the notes' numbers, from the closed forms (not from gradgraph)
    y_true = math.log(2.0) + 2.0 * 5.0 - math.sin(5.0)
    g_true = (1 / 2.0 + 5.0, 2.0 - math.cos(5.0))
    assert round(y_true, 3) == 11.652
    assert (round(g_true[0], 3), round(g_true[1], 3)) == (5.5, 1.716)
    assert math.isclose(float(fwd.rows[-1].value), y_true, rel_tol=1e-15)
    assert math.isclose(float(fwd.rows[-1].derivative), g_true[0], rel_tol=1e-15)
    by_name = {r.name: r for r in rev.rows}
    assert math.isclose(float(by_name["v1"].derivative), g_true[0], rel_tol=1e-15)
    assert math.isclose(float(by_name["v2"].derivative), g_true[1], rel_tol=1e-15)
    assert all(math.isclose(float(a), b, rel_tol=1e-15) for a, b in zip(dy, g_true))
    # the intermediate values of the notes' tables
    notes_values = {"v3": 0.693, "v4": 10, "v5": -0.959, "v6": 10.693, "v7": 11.652}
    for name, v in notes_values.items():
        assert round(float(by_name[name].value), 3) == v, name
    print("checked against the closed forms: 11.652, 5.5, (5.5, 1.716)")


if __name__ == "__main__":
    main()
