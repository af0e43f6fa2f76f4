"""The notes' Python control-flow example (seed 002, section 2.5.4 and exercises 3 and 4).

f doubles b = 2a until its norm reaches 1000, then keeps it if its sum is positive, else
multiplies it by 100. So f(a) = k a for a constant k that depends on the path, and the
gradient is f(a)/a. With the notes' printed values of a (torch.randn drew them): a scalar
0.3119 gives 4096 (= 2^12), the (1, 3) row [-0.0524, -0.0269, -0.8601] gives 204800
(= 100 * 2^11). Then the redesigned example: sqrt or square by an `order` argument, at the
notes' x = 1.2469 (printed to 4 decimals: we take x = 1.24686, which prints the same and
gives both printed gradients 0.4478 and 2.4937).

Run: python examples/control_flow.py
"""

import math

import numpy as np

import gradgraph as gg


def f(a):  # the notes' code, line for line (b.norm() is the tensor method)
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def k_of(a):  # the factor f(a)/a, by plain Python arithmetic on the norm and the sign
    a = np.asarray(a, dtype=float)
    k = 2
    while k * np.sqrt(np.sum(a * a)) < 1000:
        k *= 2
    return k if k * a.sum() > 0 else 100 * k


# the same function under gg.grad: each Python decision becomes a guard of the compiled code
def f_np(a):
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    return b if b.sum() > 0 else 100 * b


# exercise 4: a control-flow example of one's own
def g(x, order):
    if order == 1:
        y = np.sqrt(x)
    else:
        y = np.square(x)
    return y


def main():
    a = gg.tensor(0.3119, requires_grad=True)
    d = f(a)
    d.backward()
    print("a =", a, " a.grad =", a.grad, " a.grad == d/a:", np.isclose(a.grad, d.detach() / 0.3119))
    assert a.grad.item() == 4096.0 == k_of(0.3119)

    row = [[-0.0524, -0.0269, -0.8601]]
    a = gg.tensor(row, requires_grad=True)
    d = f(a)
    d.sum().backward()
    print("a =", a, " a.grad =", a.grad)
    assert np.array_equal(a.grad.numpy(), np.full((1, 3), 204800.0)) and k_of(row) == 204800
    np.testing.assert_allclose(a.grad.numpy(), (d / a).detach().numpy(), rtol=1e-14)

    df = gg.grad(lambda a: np.sum(f_np(a)))
    print("gg.grad:", float(df(0.3119)), df(np.array(row)).tolist(),
          f"({len(df.graph(0.3119).guards)} guards recorded for a = 0.3119)")
    assert float(df(0.3119)) == 4096.0 and float(df(-0.3119)) == 409600.0
    np.testing.assert_array_equal(df(np.array(row)), np.full((1, 3), 204800.0))

    x = gg.tensor(1.24686, requires_grad=True)
    g1 = g(x, order=1)
    g1.sum().backward()
    print(f"x = {x.item():.4f}, d sqrt(x)/dx = {x.grad.item():.4f}")
    assert round(x.grad.item(), 4) == 0.4478 == round(1 / (2 * math.sqrt(1.24686)), 4)
    x.grad.zero_()
    g2 = g(x, order=2)
    g2.sum().backward()
    print(f"x = {x.item():.4f}, d x^2/dx = {x.grad.item():.4f}")
    assert round(x.grad.item(), 4) == 2.4937 == round(2 * 1.24686, 4)
    print("checked: 4096, 204800 = f(a)/a, 0.4478 and 2.4937")


if __name__ == "__main__":
    main()
