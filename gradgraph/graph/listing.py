"""Human views of a graph: the jaxpr-like listing and Graphviz DOT."""

from __future__ import annotations

import numpy as np

from ..ops.random import is_rng, rng_text
from .core import aval_str

_STYLE = {  # role -> (fill colour, shape); adjoint and tangent nodes stand out
    "input": ("#dbe9f6", "box"),
    "const": ("#eeeeee", "plaintext"),
    "primal": ("#ffffff", "ellipse"),
    "adjoint": ("#f8d4cf", "doubleoctagon"),
    "tangent": ("#d4f0d2", "hexagon"),
}


_LEGEND = {"adjoint": "adjoint v_bar\\n(dashed red edges)",
           "tangent": "tangent v_dot\\n(green edges)"}


def const_text(value, limit=6) -> str:
    if isinstance(value, (bool, int, float, complex)):
        return repr(value)
    if is_rng(value):  # a generator's repr holds its address: keep listings deterministic
        return rng_text(value)
    a = np.asarray(value)
    if a.size <= limit:
        return np.array2string(a, separator=", ").replace("\n", "")
    return f"<{aval_str(a.shape, a.dtype)} array>"


def attrs_text(attrs: dict) -> str:
    if not attrs:
        return ""
    return "[" + ", ".join(f"{k}={v!r}" for k, v in sorted(attrs.items())) + "]"


def node_rhs(g, n, names=None) -> str:
    d = g[n]
    if d["op"] == "input":
        return "input"
    if d["op"] == "const":
        return "const " + const_text(d["value"])
    names = names or g.names()
    return f"{d['op']}{attrs_text(d['attrs'])} " + " ".join(names[a] for a in d["args"])


def listing(g) -> str:
    """One line per node in topological order, then outputs and guards:

    ``v3:f64[] = log x1    # primal  demo.py:4``
    """
    lines = []
    names = g.names()
    for n in g.order():
        d = g[n]
        lhs = f"{names[n]}:{aval_str(d['shape'], d['dtype'])}"
        comment = d["role"] + (f"  {d['loc']}" if d.get("loc") else "")
        lines.append(f"{lhs} = {node_rhs(g, n, names)}".ljust(40) + f"  # {comment}")
    lines.append("outputs: " + ", ".join(names[n] for n in g.outputs))
    for gd in g.guards:
        lines.append(f"guard: {gd.kind} {names[gd.node]} == {gd.expected!r}"
                     + (f"  # {gd.loc}" if gd.loc else ""))
    return "\n".join(lines)


def _dot_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(g) -> str:
    out = ["digraph gradgraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    outputs = set(g.outputs)
    names = g.names()
    for n in g.order():
        d = g[n]
        fill, shape = _STYLE[d["role"]]
        label = (_dot_escape(f"{names[n]} = {const_text(d['value'])}") if d["op"] == "const"
                 else f"{_dot_escape(names[n])}\\n{_dot_escape(d['op'])}")
        extra = ", penwidth=2.5" if n in outputs else ""
        out.append(f'  n{n} [label="{label}", shape={shape}, style=filled, '
                   f'fillcolor="{fill}"{extra}];')
    for a, b in sorted(g.nx.edges):
        style = ' [style=dashed, color="#c0392b"]' if g[b]["role"] == "adjoint" else (
            ' [color="#27ae60"]' if g[b]["role"] == "tangent" else "")
        out.append(f"  n{a} -> n{b}{style};")
    out.append("  subgraph cluster_legend {")  # one row: chained by invisible edges
    out.append('    label="legend"; fontsize=10; fontname="Helvetica"; color="#999999";')
    for role, (fill, shape) in _STYLE.items():
        out.append(f'    legend_{role} [label="{_LEGEND.get(role, role)}", shape={shape}, '
                   f'style=filled, fillcolor="{fill}", fontsize=10];')
    out.append("    " + " -> ".join(f"legend_{r}" for r in _STYLE) + " [style=invis];")
    out.append("  }")
    out.append("}")
    return "\n".join(out)


def to_svg(g):
    """SVG text when the optional ``graphviz`` package and its ``dot`` binary exist."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return None
    try:
        return graphviz.Source(to_dot(g)).pipe(format="svg").decode()
    except Exception:  # the Python package without the dot binary
        return None
