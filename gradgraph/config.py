"""Process-wide switches, documented in docs/api.md.

>>> import gradgraph as gg
>>> gg.config.simplify          # rewrite passes run inside every transform
True
"""

from __future__ import annotations

import contextlib

simplify = True  # gg.simplify in every transform: False = raw expansions; "algebra" = also the
#                 opt-in algebraic pass (collects like terms; exact only to rounding)
max_trace_ops = 5_000_000  # a trace recording more operations is stopped (runaway loops)


@contextlib.contextmanager
def options(**kw):
    """Temporarily change switches: ``with gg.config.options(simplify=False): ...``.
    Compiled variants are cached per Function, so use fresh Functions inside."""
    g = globals()
    old = {k: g[k] for k in kw}
    for k in kw:
        if k not in ("simplify", "max_trace_ops"):
            raise KeyError(f"unknown gradgraph option {k!r}")
    g.update(kw)
    try:
        yield
    finally:
        g.update(old)
