"""The notes' lab assignment: a 2-3-1 fully connected network with ReLU hidden units and a
linear output, as a computation graph.

  y1 = sum_j w2_j ReLU(sum_i w1_ji x_i + b1_j) + b2      (9 weights w, 4 biases b)

3. With every weight 1 and every bias 0, y1(2, -2) = 0: each hidden unit gets 2 - 2 = 0.
4. The gradient [dy1/dx1, dy1/dx2](2, -2) is [0, 0]: ReLU'(0) = 0 by the assignment's rule
   (gradgraph's convention for np.maximum(x, 0) at the tie).
5. Fit f(x1, x2) = 2 x1 + x1 x2 on [-1, 1]^2 (400 random samples, Adam, learning rate
   0.02, 3000 steps, gradients from gg.value_and_grad), then save the predictions on the
   21 x 21 grid x = y = -1:0.1:1 ([X, Y] = meshgrid(x, y), as the MATLAB code) as the
   21 x 21 double matrix `pred` in mlp_predictions.mat (needs the [mat] extra, scipy).

Run: python examples/mlp_assignment.py
"""

import os
import sys

import numpy as np

import gradgraph as gg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _extras import optional  # noqa: E402


def net(p, x):
    """x: one point (2,) or a batch (N, 2)."""
    h = np.maximum(x @ p["W1"].T + p["b1"], 0.0)  # hidden: t_j = ReLU(w1_j . x + b1_j)
    return h @ p["w2"] + p["b2"]  # output: no activation


def loss(p, X, Y):
    return np.mean((net(p, X) - Y) ** 2)


def target(x1, x2):
    return 2 * x1 + x1 * x2


def main():
    # -- questions 2-4: the graph, the value and the gradient at (2, -2) -------------------------
    ones = {"W1": np.ones((3, 2)), "b1": np.zeros(3), "w2": np.ones(3), "b2": 0.0}
    x0 = np.array([2.0, -2.0])
    print("the computation graph of y1 (question 2):")
    print(gg.trace(net, ones, x0))
    y0 = gg.compile(net)(ones, x0)
    dy_dx = gg.grad(net, argnums=1)(ones, x0)
    print(f"\ny1(2, -2) = {float(y0)}   [dy1/dx1, dy1/dx2](2, -2) = {dy_dx.tolist()}")
    x = gg.tensor(x0, requires_grad=True)  # the same on the eager API
    y = net(ones, x)
    y.backward()
    print(f"eager: y1 = {y.item()}, x.grad = {x.grad.tolist()}")
    # closed form: every hidden pre-activation is 1*2 + 1*(-2) + 0 = 0, so ReLU gives 0 and
    # the gradient sum_j w2_j [pre_j > 0] w1_j is 0
    pre = np.ones((3, 2)) @ x0
    assert np.array_equal(pre, np.zeros(3))
    assert float(y0) == 0.0 == y.item() and dy_dx.tolist() == [0.0, 0.0] == x.grad.tolist()

    # -- question 5: training ---------------------------------------------------------------------
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (400, 2))
    Y = target(X[:, 0], X[:, 1])
    p = {"W1": rng.normal(size=(3, 2)), "b1": 0.1 * rng.normal(size=3), "w2": rng.normal(size=3),
         "b2": 0.0}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}
    value_and_grad = gg.value_and_grad(loss)
    lr, steps = 0.02, 3000
    for it in range(1, steps + 1):
        value, grad = value_and_grad(p, X, Y)
        if it in (1, 100, 1000, steps):
            print(f"step {it:>4}: training loss {float(value):.5f}")
        for k in p:  # Adam
            m[k] = 0.9 * m[k] + 0.1 * grad[k]
            s[k] = 0.999 * s[k] + 0.001 * grad[k] ** 2
            p[k] = p[k] - lr * (m[k] / (1 - 0.9 ** it)) / (np.sqrt(s[k] / (1 - 0.999 ** it)) + 1e-8)

    g = np.round(np.arange(-1, 1.05, 0.1), 10)  # x = -1:0.1:1
    GX, GY = np.meshgrid(g, g)  # MATLAB's meshgrid: GX[i, j] = x(j), GY[i, j] = y(i)
    pred = gg.compile(net)(p, np.stack([GX.ravel(), GY.ravel()], axis=1)).reshape(GX.shape)
    test_mse = float(np.mean((pred - target(GX, GY)) ** 2))
    print(f"test grid {pred.shape}: mean squared error {test_mse:.4f} "
          f"(the target's variance there: {float(np.var(target(GX, GY))):.3f})")
    assert pred.shape == (21, 21) and pred.dtype == np.float64
    assert test_mse < 0.05  # a 3-unit ReLU net is piecewise linear: close, not exact

    sio = optional("scipy.io", "mat", "mlp_predictions.mat")
    if sio is not None:
        sio.savemat("mlp_predictions.mat", {"pred": pred})
        back = sio.loadmat("mlp_predictions.mat")["pred"]
        assert back.shape == (21, 21) and np.array_equal(back, pred)
        print("wrote mlp_predictions.mat (variable pred, 21 x 21 double)")
    print("checked: y1(2, -2) = 0, gradient [0, 0], and the fit on the 21 x 21 grid")


if __name__ == "__main__":
    main()
