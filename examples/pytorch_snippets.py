"""The notes' PyTorch autograd snippets, on gradgraph's eager API.

Each block is the notes' code with ``torch.arange(4.0)`` written ``gg.tensor(np.arange(4.0))``
and ``torch.dot`` written ``np.dot``; the numbers are the ones the notes print, checked
against the closed forms (d(2 x^T x)/dx = 4x, d(sum x)/dx = 1, d(x*x)/dx = 2x, and x*x
detached is a constant u, so d(u*x)/dx = u).

Run: python examples/pytorch_snippets.py
"""

import numpy as np

import gradgraph as gg


def main():
    x = gg.tensor(np.arange(4.0))  # x = torch.arange(4.0)
    x.requires_grad_(True)  # x.requires_grad_(True)
    print("x =", x, "  x.grad =", x.grad)
    assert x.grad is None

    y = 2 * np.dot(x, x)  # y = 2*torch.dot(x, x)
    print("y = 2 x^T x =", y)
    y.backward()
    print("x.grad =", x.grad, "  x.grad == 4*x:", x.grad == 4 * x)
    assert y.item() == 28.0 and np.array_equal(x.grad.numpy(), 4 * np.arange(4.0))

    x.grad.zero_()  # clear the accumulated gradient first
    y = x.sum()
    print("y = x.sum() =", y)
    y.backward()
    print("x.grad =", x.grad)
    assert y.item() == 6.0 and np.array_equal(x.grad.numpy(), np.ones(4))

    x.grad.zero_()
    y = x * x
    y.sum().backward()  # the same as y.backward(torch.ones(len(x)))
    print("d(sum x*x)/dx =", x.grad)
    assert np.array_equal(x.grad.numpy(), 2 * np.arange(4.0))
    x.grad.zero_()
    y = x * x
    y.backward(np.ones(len(x)))  # a non-scalar backward needs a gradient: ones is the sum's
    print("y.backward(ones) gives", x.grad)
    assert np.array_equal(x.grad.numpy(), 2 * np.arange(4.0))

    x.grad.zero_()
    y = x * x
    print("y = x * x =", y)
    u = y.detach()  # u is a constant now, not a function of x
    z = u * x
    z.sum().backward()
    print("x.grad =", x.grad, "  x.grad == u:", x.grad == u)
    assert np.array_equal(x.grad.numpy(), np.arange(4.0) ** 2)

    # exercise 2: backward twice through the same graph
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    y = x ** 2
    y.sum().backward()
    print("x.grad =", x.grad)
    try:
        y.sum().backward()
        raise AssertionError("a second backward through a freed graph must fail")
    except gg.GradgraphError as e:
        print("second backward:", type(e).__name__, "-", e.message)
    x.grad.zero_()
    y = x ** 2
    y.sum().backward(retain_graph=True)  # keep the graph
    y.sum().backward()  # the second backward now works, and gradients accumulate
    print("with retain_graph=True, twice:", x.grad)
    assert np.array_equal(x.grad.numpy(), 2 * 2 * np.arange(4.0))
    print("checked: 28 and 4x, 6 and ones, 2x, u, and the second-backward error")


if __name__ == "__main__":
    main()
