"""Size per order: how many nodes the n-th derivative's graph has, with the rewrite passes
off and on, for ``gg.derivative(f, order=n)`` and for nested ``gg.grad``.

Repeated differentiation makes graphs swell (each reverse pass adds about one node per edge);
this is the table that shows how much of that the passes take back.

``gradgraph sizes FILE.py:FUNC --at 0.5 --order 8`` prints the same table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class SizeRow:
    order: int
    derivative_raw: int  # gg.derivative(f, order) with gg.config.simplify = False
    derivative: int  # ... with the passes on (the default)
    grad_raw: int | None  # gg.grad nested `order` times (scalar arguments only)
    grad: int | None
    seconds: float  # time to build the simplified derivative graph of this order


@dataclass
class SizeReport:
    """Rows of :func:`sizes`; ``str()`` is a plain table, ``growth()`` the ratios."""

    name: str
    rows: list = field(default_factory=list)

    def growth(self, column: str = "derivative") -> list[float]:
        """Node count of each order divided by the previous order's."""
        vals = [getattr(r, column) for r in self.rows]
        return [b / a for a, b in zip(vals, vals[1:]) if a and b]

    def __str__(self) -> str:
        head = (f"{'order':>5} {'derivative':>11} {'simplified':>11} {'grad^n':>8} "
                f"{'simplified':>11} {'build s':>8}")
        lines = [f"node counts per order of {self.name} (passes off -> on)", head]
        for r in self.rows:
            g1 = "-" if r.grad_raw is None else str(r.grad_raw)
            g2 = "-" if r.grad is None else str(r.grad)
            lines.append(f"{r.order:>5} {r.derivative_raw:>11} {r.derivative:>11} {g1:>8} "
                         f"{g2:>11} {r.seconds:>8.3f}")
        gr = self.growth()
        if gr:
            lines.append(f"growth per order (simplified derivative): "
                         + ", ".join(f"{x:.2f}" for x in gr))
        return "\n".join(lines)


def sizes(f, *args, order: int = 8, argnums: int = 0, raw: bool = True,
          max_raw_order: int = 12) -> SizeReport:
    """Node counts per derivative order, passes off and on, for ``gg.derivative`` and nested
    ``gg.grad`` of ``f`` at ``args`` (with respect to ``args[argnums]``).

    Nested ``gg.grad`` needs a scalar argument (a gradient of a vector is not scalar), so for
    array arguments its columns are ``None``. ``raw=False`` skips the passes-off columns
    (they grow about 2x per order); beyond ``max_raw_order`` they are skipped too.

    >>> import numpy as np, gradgraph as gg
    >>> r = gg.sizes(np.tanh, 0.5, order=3)
    >>> [row.order for row in r.rows], r.rows[-1].derivative < r.rows[-1].derivative_raw
    ([1, 2, 3], True)
    """
    from .. import config
    from ..api import derivative, grad

    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")
    report = SizeReport(getattr(f, "__name__", "f"))
    scalar = np.ndim(args[argnums]) == 0

    def nested(k):
        g = f
        for _ in range(k):
            g = grad(g, argnums=argnums)
        return g

    def count(make):
        return len(make().graph(*args))

    for k in range(1, int(order) + 1):
        t0 = time.perf_counter()
        d_on = count(lambda: _derivative(derivative, f, k, argnums))
        seconds = time.perf_counter() - t0
        g_on = count(lambda: nested(k)) if scalar else None
        d_off = g_off = None
        if raw and k <= max_raw_order:
            with config.options(simplify=False):
                d_off = count(lambda: _derivative(derivative, f, k, argnums))
                g_off = count(lambda: nested(k)) if scalar else None
        report.rows.append(SizeRow(k, d_off, d_on, g_off, g_on, seconds))
    return report


def _derivative(derivative, f, k, argnums):
    if argnums == 0:
        return derivative(f, order=k)

    def moved(*a):  # derivative() differentiates the first argument
        a = list(a)
        a.insert(argnums, a.pop(0))
        return f(*a)

    class _Swap:
        def __init__(self, d):
            self.d = d

        def graph(self, *a):
            a = list(a)
            a.insert(0, a.pop(argnums))
            return self.d.graph(*a)

    return _Swap(derivative(moved, order=k))


# -- command line ------------------------------------------------------------------------------


def load(spec: str):
    """``FILE.py:FUNC`` -> the function (the file is run as a module named after it)."""
    import importlib.util
    import os

    path, _, name = spec.rpartition(":")
    if not path or not name:
        raise SystemExit(f"gradgraph: expected FILE.py:FUNC, got {spec!r}")
    if not os.path.isfile(path):
        raise SystemExit(f"gradgraph: no such file {path!r}")
    mod_name = os.path.splitext(os.path.basename(path))[0]
    sp = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(sp)
    sp.loader.exec_module(mod)
    try:
        return getattr(mod, name)
    except AttributeError:
        raise SystemExit(f"gradgraph: {path} has no function {name!r}") from None


def parse_at(text: str) -> tuple:
    """``"2.0, 5.0"`` -> (2.0, 5.0); ``"[1, 2], 3"`` -> (array([1., 2.]), 3.0)."""
    import ast

    val = ast.literal_eval(f"({text},)")
    return tuple(np.asarray(v, dtype=float) if isinstance(v, (list, tuple)) else float(v)
                 for v in val)


def add_parser(sub):
    """Register ``gradgraph sizes`` on an argparse subparsers object."""
    p = sub.add_parser("sizes", help="node counts per derivative order, passes off and on")
    p.add_argument("target", metavar="FILE.py:FUNC")
    p.add_argument("--at", required=True, help='the arguments, e.g. "0.5" or "2.0, 5.0"')
    p.add_argument("--order", type=int, default=8)
    p.add_argument("--argnums", type=int, default=0)
    p.add_argument("--no-raw", action="store_true", help="skip the passes-off columns")
    p.set_defaults(run=run)
    return p


def run(ns, out=None) -> int:
    import sys

    out = out or sys.stdout
    f = load(ns.target)
    report = sizes(f, *parse_at(ns.at), order=ns.order, argnums=ns.argnums, raw=not ns.no_raw)
    report.name = ns.target
    print(report, file=out)
    return 0
