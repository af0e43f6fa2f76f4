"""tanh and its derivatives up to order 6, each from gg.derivative (reverse mode applied
again to the generated graph), plotted to tanh_derivatives.png (needs the [plot] extra).

Checked against the closed forms: every derivative of tanh is a polynomial in t = tanh x,
P0(t) = t and P(k+1)(t) = P(k)'(t) (1 - t^2), computed here with numpy.polynomial.

Run: python examples/tanh_derivatives.py
"""

import os
import sys

import numpy as np
from numpy.polynomial import Polynomial

import gradgraph as gg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _extras import pyplot  # noqa: E402


def main():
    x = np.linspace(-4, 4, 401)
    t = np.tanh(x)
    P = Polynomial([0, 1])  # P0(t) = t
    one_minus_t2 = Polynomial([1, 0, -1])
    curves = []
    print("order  nodes  value at x = 0.5   closed form        max error on [-4, 4]")
    for k in range(7):
        dk = gg.derivative(np.tanh, order=k)
        got = dk(x)
        want = P(t)
        at = float(dk(0.5))
        err = float(np.max(np.abs(got - want)))
        print(f"{k:>5}  {len(dk.graph(x)):>5}  {at:>16.10f}  {P(np.tanh(0.5)):>16.10f}  {err:.1e}")
        assert err <= 1e-12 * max(1.0, float(np.max(np.abs(want))))
        assert abs(at - P(np.tanh(0.5))) <= 1e-12 * max(1.0, abs(P(np.tanh(0.5))))
        curves.append(got)
        P = P.deriv() * one_minus_t2
    print("checked against the polynomials in tanh")

    plt = pyplot("tanh_derivatives.png")
    if plt is not None:
        fig, axes = plt.subplots(2, 4, figsize=(10, 4.6), sharex=True)
        for k, ax in enumerate(axes.ravel()):
            if k == len(curves):
                ax.axis("off")
                continue
            ax.plot(x, curves[k], color=f"C{k}")
            ax.set_title(r"$\tanh x$" if k == 0 else rf"$\tanh^{{({k})}}(x)$", fontsize=10)
            ax.set_xlim(-4, 4)
            ax.grid(True)
        fig.suptitle("tanh and its derivatives up to order 6 (gg.derivative)")
        fig.tight_layout()
        fig.savefig("tanh_derivatives.png", dpi=110)
        print("wrote tanh_derivatives.png")


if __name__ == "__main__":
    main()
