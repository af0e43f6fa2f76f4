"""Size per order: how many nodes the n-th derivative's graph has, with the rewrite passes
off and on, for ``gg.derivative(f, order=n)`` and for nested ``gg.grad``.

Repeated differentiation makes graphs swell (each reverse pass adds about one node per edge);
this is the table that shows how much of that the passes take back: the exact default
pipeline, and the opt-in algebraic pass (``gg.config.simplify = "algebra"``) that collects
like terms (exact only to rounding).

``gradgraph sizes FILE.py:FUNC --at 0.5 --order 8`` prints the same table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


MODES = (("off", False), ("exact", True), ("algebra", "algebra"))  # gg.config.simplify


@dataclass
class SizeRow:
    """Node counts of one order: ``derivative[mode]`` for ``gg.derivative(f, order)`` and
    ``grad[mode]`` for ``gg.grad`` nested ``order`` times (None when not measured), with
    ``mode`` one of ``"off"`` (no passes), ``"exact"`` (the default) and ``"algebra"``."""

    order: int
    derivative: dict
    grad: dict
    seconds: float  # time to build the default (exact) derivative graph of this order


def _cell(v) -> str:
    return "-" if v is None else str(v)


@dataclass
class SizeReport:
    """Rows of :func:`sizes`; ``str()`` is a plain table, ``growth()`` the ratios."""

    name: str
    rows: list = field(default_factory=list)

    def column(self, kind: str = "derivative", mode: str = "exact") -> list:
        return [getattr(r, kind).get(mode) for r in self.rows]

    def growth(self, kind: str = "derivative", mode: str = "exact") -> list[float]:
        """Node count of each order divided by the previous order's."""
        vals = self.column(kind, mode)
        return [b / a for a, b in zip(vals, vals[1:]) if a and b]

    def __str__(self) -> str:
        modes = [m for m, _ in MODES]
        head = (f"{'order':>5} | " + " ".join(f"{m:>8}" for m in modes) + " | "
                + " ".join(f"{m:>8}" for m in modes) + f" | {'build s':>8}")
        lines = [f"node counts per order of {self.name}: gg.derivative | nested gg.grad "
                 "(passes off, exact, algebra)", head]
        for r in self.rows:
            lines.append(f"{r.order:>5} | " + " ".join(f"{_cell(r.derivative.get(m)):>8}"
                                                   for m in modes) + " | "
                         + " ".join(f"{_cell(r.grad.get(m)):>8}" for m in modes)
                         + f" | {r.seconds:>8.3f}")
        for m in modes[1:]:
            gr = self.growth("derivative", m)
            if gr:
                lines.append(f"growth per order, derivative, {m}: "
                             + ", ".join(f"{x:.2f}" for x in gr))
        return "\n".join(lines)


def sizes(f, *args, order: int = 8, argnums: int = 0, modes=("off", "exact", "algebra"),
          max_raw_order: int = 12) -> SizeReport:
    """Node counts per derivative order for ``gg.derivative`` and nested ``gg.grad`` of ``f``
    at ``args`` (with respect to ``args[argnums]``), with the passes off, exact (the default)
    and with the opt-in algebraic pass (``gg.config.simplify = "algebra"``).

    Nested ``gg.grad`` needs a scalar argument (a gradient of a vector is not scalar), so for
    array arguments its columns are empty. Passes-off columns grow about 2x per order and are
    skipped beyond ``max_raw_order``.

    >>> import numpy as np, gradgraph as gg
    >>> r = gg.sizes(np.tanh, 0.5, order=3)
    >>> r.column("derivative", "exact"), r.column("derivative", "off")
    ([5, 8, 11], [6, 11, 19])
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

    for k in range(1, int(order) + 1):
        row = SizeRow(k, {}, {}, 0.0)
        for mode, setting in MODES:
            if mode not in modes or (mode == "off" and k > max_raw_order):
                continue
            with config.options(simplify=setting):
                t0 = time.perf_counter()
                row.derivative[mode] = len(_derivative(derivative, f, k, argnums).graph(*args))
                if mode == "exact":
                    row.seconds = time.perf_counter() - t0
                if scalar:
                    row.grad[mode] = len(nested(k).graph(*args))
        report.rows.append(row)
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
    p.add_argument("--modes", default="off,exact,algebra",
                   help="which of off,exact,algebra to measure (comma-separated)")
    p.set_defaults(run=run)
    return p


def run(ns, out=None) -> int:
    import sys

    out = out or sys.stdout
    f = load(ns.target)
    modes = tuple(m.strip() for m in ns.modes.split(",") if m.strip())
    report = sizes(f, *parse_at(ns.at), order=ns.order, argnums=ns.argnums, modes=modes)
    report.name = ns.target
    print(report, file=out)
    return 0
