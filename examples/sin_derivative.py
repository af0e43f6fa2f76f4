"""Exercise 5 of the notes: plot f(x) = sin(x) and df/dx on [-10, 10] without writing
f'(x) = cos(x): the derivative comes from backward (and, the functional way, from
gg.elementwise_grad). Writes sin_derivative.png (needs the [plot] extra, matplotlib);
the values are checked against NumPy's cos either way.

Run: python examples/sin_derivative.py
"""

import os
import sys

import numpy as np

import gradgraph as gg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _extras import pyplot  # noqa: E402


def main():
    # the notes' code: x = torch.linspace(-10, 10, 300, requires_grad=True)
    x = gg.tensor(np.linspace(-10, 10, 300), requires_grad=True)
    y = np.sin(x)
    y.sum().backward()  # d(sum sin x)/dx_i = d sin(x_i)/dx_i
    dy_dx = x.grad

    dy_dx_functional = gg.elementwise_grad(np.sin)(np.linspace(-10, 10, 300))
    err = np.max(np.abs(dy_dx.numpy() - np.cos(np.linspace(-10, 10, 300))))
    print(f"300 points on [-10, 10]: max |df/dx - cos x| = {err:.1e}")
    assert err < 1e-15
    np.testing.assert_array_equal(dy_dx.numpy(), dy_dx_functional)

    plt = pyplot("sin_derivative.png")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(x.detach().numpy(), y.detach().numpy(), "-", label=r"$f(x) = \sin(x)$")
        ax.plot(x.detach().numpy(), dy_dx.numpy(), "m--", label=r"$df/dx$ (backward, no cos)")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_xlim(-10, 10)
        ax.grid(True)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
        fig.tight_layout()
        fig.savefig("sin_derivative.png", dpi=120)
        print("wrote sin_derivative.png")
    print("checked against np.cos")


if __name__ == "__main__":
    main()
