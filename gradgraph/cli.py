"""The ``gradgraph`` command: ``gradgraph demo``, ``show``, ``verify``."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def notes_example(x1, x2):
    """The course notes' example: y = ln(x1) + x1*x2 - sin(x2)."""
    return np.log(x1) + x1 * x2 - np.sin(x2)


def demo(out=sys.stdout) -> int:
    import gradgraph as gg

    p = lambda *a: print(*a, file=out)  # noqa: E731
    x = (2.0, 5.0)
    p("gradgraph demo: y = ln(x1) + x1*x2 - sin(x2) at (x1, x2) = (2, 5)\n")
    g = gg.trace(notes_example, *x)
    p("== the traced graph (one node per operation) ==")
    p(g)
    p("\n== generated NumPy code ==")
    f = gg.compile(notes_example)
    p(f.source(*x))
    p(f"value: y = {float(f(*x)):.3f}")
    ga = gg.adjoint(g)
    p("\n== the extended graph: gg.adjoint adds adjoint (v_bar) nodes to the same graph ==")
    p(ga)
    df = gg.grad(notes_example, argnums=(0, 1))
    p("\n== generated gradient code ==")
    p(df.source(*x))
    gx = df(*x)
    p(f"gradient: dy/dx1 = {float(gx[0]):.3f}, dy/dx2 = {float(gx[1]):.3f}")
    H = gg.hessian(lambda v: notes_example(v[0], v[1]))(np.array(x))
    p("\nHessian:")
    p(np.array2string(H, precision=3))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gradgraph", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("demo", help="trace, differentiate and compile the course notes' example")
    from .rewrite.sizes import add_parser as add_sizes_parser  # gradgraph sizes (issue 6)

    add_sizes_parser(sub)
    args = parser.parse_args(argv)
    if args.cmd == "demo":
        return demo()
    if args.cmd == "sizes":
        return args.run(args)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
