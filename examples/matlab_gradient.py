"""The notes' MATLAB classroom demo: the gradient of f(x1, x2) = x1*x2 + sin(x1) at (2, 3).

The MATLAB code builds the nodes n3 = x1*x2, n4 = sin(x1), n5 = n3 + n4 by hand, runs the
reverse pass with ``grad = grad + ...`` and compares with symbolic differentiation. Here
gradgraph builds the same graph, the reverse table shows the accumulation into x1 (it feeds
two nodes), and gg.verify does the symbolic comparison with SymPy. Checked against the
closed form: f = 6 + sin 2 = 6.909297, grad = [x2 + cos x1, x1] = [2.583853, 2].

Run: python examples/matlab_gradient.py
"""

import math

import numpy as np

import gradgraph as gg


def f(x1, x2):
    return x1 * x2 + np.sin(x1)


def main():
    value, grad = gg.value_and_grad(f, argnums=(0, 1))(2.0, 3.0)
    print(f"f(2,3) = {value:f}")
    print(f"gradient: [df/dx1, df/dx2] = [{grad[0]:f}, {grad[1]:f}]")
    print()
    print(gg.explain(f, 2.0, 3.0, mode="reverse"))
    report = gg.verify(f, 2.0, 3.0, argnums=(0, 1))
    print()
    print(report)
    print(f"symbolic gradient: [df/dx1, df/dx2] = [{report.expected[0]:f}, {report.expected[1]:f}]")

    # the same with the eager API (the PyTorch way)
    x1 = gg.tensor(2.0, requires_grad=True)
    x2 = gg.tensor(3.0, requires_grad=True)
    y = f(x1, x2)
    y.backward()
    print(f"eager: f = {y.item():f}, gradient = [{x1.grad.item():f}, {x2.grad.item():f}]")

    f_true = 2.0 * 3.0 + math.sin(2.0)
    g_true = (3.0 + math.cos(2.0), 2.0)
    assert f"{f_true:f}" == "6.909297" and f"{g_true[0]:f}" == "2.583853"
    assert math.isclose(float(value), f_true, rel_tol=1e-15) and math.isclose(y.item(), f_true)
    for got in (grad, (x1.grad.item(), x2.grad.item())):
        assert all(math.isclose(float(a), b, rel_tol=1e-15) for a, b in zip(got, g_true))
    assert bool(report)
    print("checked against the closed form: f = 6.909297, gradient = [2.583853, 2.000000]")


if __name__ == "__main__":
    main()
