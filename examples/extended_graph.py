"""The notes' extended computation graph of y = e^x (e^x + 1).

Reverse mode adds adjoint nodes to the graph itself (the notes' "拓展计算图"): the adjoint of
the multiply node v4 = v2 * v3 reaches v3 as v3_bar = v4_bar * v2, a multiply node joining
v4_bar and v2. gg.adjoint builds exactly that graph; evaluating it gives y' = 2e^2x + e^x, and
extending the extended graph again (its x_bar output) gives y'' = 4e^2x + e^x. The picture is
written to extended_graph.png when Graphviz's dot program is installed (else the .dot file
and the command that renders it).

Run: python examples/extended_graph.py
"""

import math
import os
import sys

import numpy as np

import gradgraph as gg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _extras import render_dot  # noqa: E402


def f(x):
    return np.exp(x) * (np.exp(x) + 1)


def main():
    x0 = 0.0
    print("the notes' table (their numbering v1..v4):")
    print(gg.explain(f, x0, mode="reverse"))

    g = gg.trace(f, x0)
    ext = gg.adjoint(g)  # the extended graph: g's nodes plus adjoint nodes
    print("\nthe extended graph (gg.adjoint adds adjoint nodes to the same graph):")
    print(ext)
    y, (dy,) = ext.evaluate(x0)
    # the notes' v3 = v2 + 1 and v4 = v2 * v3 are v4 and v5 here (constants get ids too), so
    # their v3_bar = v4_bar * v2 is v4_bar = v6 * v2, v6 being the seed v5_bar = 1
    (bar,) = [n for n in ext.order() if ext.name(n) == "v4_bar"]
    seed, exp_node = ext[bar]["args"]
    assert ext[bar]["op"] == "multiply" and ext[seed]["value"] == 1.0
    assert ext[exp_node]["op"] == "exp"
    print(f"the notes' v3_bar = v4_bar * v2 is the node {ext.name(bar)} = {ext.name(seed)} * "
          f"{ext.name(exp_node)} here (their v3, v4 are v4, v5; {ext.name(seed)} is the seed 1)")

    # extend the extended graph again: differentiate its x_bar output
    g1 = ext.copy()
    g1.outputs, g1.out_tree = [ext.outputs[1]], "*"
    ext2 = gg.adjoint(g1)
    dy_again, (d2y,) = ext2.evaluate(x0)
    print(f"\nextended twice: {len(ext2)} nodes ({ext2.count('adjoint')} adjoint) "
          f"from {len(g)} traced nodes")
    print(f"at x = {x0}: y = {float(y)}, y' = {float(dy)} (first extension), "
          f"y'' = {float(d2y)} (second extension)")

    for x in (x0, 0.5, -1.3):  # against the closed forms, at a few more points
        y_, (d1,) = ext.evaluate(x)
        _, (d2,) = ext2.evaluate(x)
        e = math.exp(x)
        assert math.isclose(float(y_), e * (e + 1), rel_tol=1e-15)
        assert math.isclose(float(d1), 2 * e * e + e, rel_tol=1e-15)
        assert math.isclose(float(d2), 4 * e * e + e, rel_tol=1e-14)
    assert (float(y), float(dy), float(d2y)) == (2.0, 3.0, 5.0)
    assert ext.count("adjoint") > 0 and all(ext[n] == g[n] for n in g.order())  # a superset
    print("checked against the closed forms y' = 2e^2x + e^x, y'' = 4e^2x + e^x")

    print()
    render_dot(ext.to_dot(), "extended_graph")


if __name__ == "__main__":
    main()
