"""``gg.explain``: the course notes' evaluation tables, v̇ (forward) and v̄ (reverse).

The table is read off gradgraph's own machinery: the traced graph gives the rows, the tangent
or adjoint expansion (the same rules ``gg.jvp`` and ``gg.grad`` use) adds the derivative nodes,
the reference interpreter gives every node's value, and the derivation column is the derivative
nodes themselves written out in the notes' notation (``v̄5 × cos v2 + v̄4 × v1``). Nothing here
knows a derivative rule.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from typing import Any, NamedTuple

import numpy as np

from .ad.adjoint import expand_adjoint
from .ad.tangent import expand_tangent
from .errors import GradgraphTypeError, GradgraphValueError
from .graph.core import aval_str
from .ops.shape import index_text
from .symbolic import node_values
from .trace import trace as _trace
from .trace.pytree import flatten, leaf_paths

# -- numbers ---------------------------------------------------------------------------------


def fmt(v, decimals: int = 3, limit: int = 6) -> str:
    """A value as the notes print it: rounded to ``decimals``, trailing zeros dropped
    (``0.693``, ``10``, ``5.5``); arrays compactly.

    >>> fmt(np.log(2.0)), fmt(10.0), fmt(-0.5), fmt(np.array([[1.0, 0.25], [3, 4]]))
    ('0.693', '10', '-0.5', '[[1, 0.25], [3, 4]]')
    """
    a = np.asarray(v)
    if a.ndim == 0:
        return _scalar(a.item(), decimals)
    if a.size <= limit:
        return _nested(a, decimals)
    flat = [_scalar(x, decimals) for x in a.ravel()[:3].tolist()]
    return f"{aval_str(a.shape, a.dtype)} [{', '.join(flat)}, …]"


def _nested(a, decimals):
    if a.ndim == 0:
        return _scalar(a.item(), decimals)
    return "[" + ", ".join(_nested(x, decimals) for x in a) + "]"


def _scalar(x, decimals) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, complex):
        return f"({_scalar(x.real, decimals)}{'+' if x.imag >= 0 else '-'}" \
               f"{_scalar(abs(x.imag), decimals)}j)"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# -- writing nodes in the notes' notation -----------------------------------------------------

_INFIX = {"add": ("+", 3), "subtract": ("-", 3), "multiply": ("×", 4), "divide": ("/", 4),
          "matmul": ("@", 4), "dot": ("·", 4), "power": ("^", 6), "mod": ("%", 4),
          "floor_divide": ("//", 4), "greater": (">", 2), "greater_equal": ("≥", 2),
          "less": ("<", 2), "less_equal": ("≤", 2), "equal": ("==", 2), "not_equal": ("≠", 2)}
_ASCII = {"×": "*", "·": "dot", "≥": ">=", "≤": "<=", "≠": "!=", "ᵀ": ".T", "…": "..."}
_FUNC = {"log": "ln", "absolute": "abs", "fabs": "abs"}
_ATOM, _APPLY, _UNARY = 9, 7, 5
_COMMUTATIVE = {"add", "multiply"}
_SHAPE_ONLY = {"reshape", "broadcast_to", "astype"}
_FUNC.update(maximum="max", minimum="min")


def _paren(text, prec, need):
    return f"({text})" if prec < need else text


def render(g, root: int, leaf, max_nodes: int = 40, shapes: bool = False) -> str | None:
    """``root`` written out, with ``leaf(n)`` giving the text of the nodes it stops at (or
    None to expand them). None when the expression is larger than ``max_nodes``. Shape-only
    ops (reshape, broadcast_to, astype) are left out unless ``shapes``. Iterative: no
    recursion over the graph."""
    done: dict[int, tuple[str, int]] = {}
    stack = [root]
    visited = 0
    while stack:
        n = stack[-1]
        if n in done:
            stack.pop()
            continue
        t = leaf(n) if n != root else None
        if t is not None:
            done[n] = (t, _ATOM if _is_atom(t) else _UNARY)
            stack.pop()
            continue
        d = g[n]
        if d["op"] in ("const", "input"):
            t = leaf(n) or (fmt(d["value"]) if d["op"] == "const" else d.get("name") or f"v{n}")
            done[n] = (t, _ATOM if _is_atom(t) else _UNARY)
            stack.pop()
            continue
        todo = [a for a in d["args"] if a not in done]
        if todo:
            visited += len(todo)
            if visited > max_nodes:
                return None
            stack.extend(todo)
            continue
        stack.pop()
        done[n] = _node_text(g, n, [done[a] for a in d["args"]], shapes)
    return done[root][0]


def _is_atom(t: str) -> bool:
    return " " not in t and not t.startswith("-") or (t.startswith("[") and t.endswith("]"))


def _node_text(g, n, args, shapes=False) -> tuple[str, int]:
    d = g[n]
    op, at = d["op"], d["attrs"]
    if op == "add" and g[d["args"][1]]["op"] == "negative" and args[1][0].startswith("-"):
        # a + (-b), as forward mode builds it for subtraction: write a - b
        b = args[1][0][1:]  # negative() parenthesised its operand where needed
        return f"{_paren(*args[0], 3)} - {b}", 3
    if op in _INFIX and len(args) == 2:
        sym, p = _INFIX[op]
        right_need = p if op in _COMMUTATIVE else p + 1
        if op == "power":
            return f"{_paren(*args[0], p + 1)}^{_paren(*args[1], _ATOM)}", p
        right = args[1] if not args[1][0].startswith("-") else (args[1][0], _UNARY - 1)
        return f"{_paren(*args[0], p)} {sym} {_paren(*right, right_need)}", p
    if op == "negative":
        return "-" + _paren(*args[0], _APPLY), _UNARY
    if op == "positive":
        return "+" + _paren(*args[0], _APPLY), _UNARY
    if op == "square":
        return f"{_paren(*args[0], _ATOM)}^2", 6
    if op == "transpose" and tuple(at["axes"]) == tuple(reversed(range(len(at["axes"])))):
        return f"{_paren(*args[0], _ATOM)}ᵀ", _ATOM
    if op == "getitem":
        return f"{_paren(*args[0], _ATOM)}[{index_text(at['index'], [a[0] for a in args[1:]])}]", \
            _ATOM
    if op in _SHAPE_ONLY and not shapes:  # left out, as the notes would: v̄3 = v̄4
        return args[0]
    extra = [f"{k}={_attr(v)}" for k, v in sorted(at.items()) if v is not None and v is not False]
    name = _FUNC.get(op, op)
    if len(args) == 1 and not extra:
        return f"{name} {_paren(*args[0], _ATOM)}", _APPLY
    return f"{name}({', '.join([a[0] for a in args] + extra)})", _ATOM


def _attr(v):
    if isinstance(v, tuple) and len(v) == 1:
        return repr(v[0])
    return repr(v)


# -- the table -------------------------------------------------------------------------------


class _RowFields(NamedTuple):
    name: str
    expression: str
    value: Any
    derivative: Any


class Row(_RowFields):
    """One row: ``(name, expression, value, derivative)`` (``derivative`` is v̇ or v̄),
    plus ``derivation`` (the notes' line, ``v̄2 = v̄5 × cos v2 + v̄4 × v1 = -0.284 + 2 =
    1.716``), ``terms`` (reverse mode: the value of each consumer's contribution, in the
    order they were accumulated) and ``node`` (the node id in ``gg.trace(f, *args)``)."""

    def __new__(cls, name, expression, value, derivative, derivation="", terms=(), node=None):
        self = super().__new__(cls, name, expression, value, derivative)
        self.derivation = derivation
        self.terms = tuple(terms)
        self.node = node
        return self


def _width(s: str) -> int:
    return sum(1 for c in s if not unicodedata.combining(c))


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


class Explanation:
    """The evaluation trace of ``gg.explain``: ``rows`` (one per node, in the table's
    numbering), ``mode``, ``title``, ``summary``; ``str()`` is a plain-text table and
    ``_repr_html_`` an HTML one."""

    def __init__(self, mode, rows, title, summary, derivative, ascii=False):
        self.mode = mode
        self._ascii = ascii
        self.rows = [Row(self._text(r.name), self._text(r.expression), r.value, r.derivative,
                         self._text(r.derivation), r.terms, r.node) for r in rows]
        self.title = title
        self.summary = summary
        self.derivative = derivative  # forward: the output's v̇; reverse: v̄ of each input

    def _text(self, s: str) -> str:
        if not self._ascii:
            return s
        for a, b in _ASCII.items():
            s = s.replace(a, b)
        s = re.sub("v\u0307(\\d*)", r"v\1_dot", s)
        return re.sub("v\u0304(\\d*)", r"v\1_bar", s)

    def _header(self):
        d = "v\u0307" if self.mode == "forward" else "v\u0304"
        return ["node", "expression", "value", d, "derivation"]

    def _body(self):
        rows = self.rows if self.mode == "forward" else list(reversed(self.rows))
        dec = self.decimals
        return [[r.name, r.expression, fmt(r.value, dec), fmt(r.derivative, dec), r.derivation]
                for r in rows]

    decimals = 3

    def __str__(self) -> str:
        table = [self._header()] + self._body()
        table = [[self._text(c) for c in row] for row in table]
        widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
        lines = [self._text(self.title)]
        for row in table:
            cells = [_pad(c, w) for c, w in zip(row[:-1], widths[:-1])] + [row[-1]]
            lines.append("  " + "  ".join(cells).rstrip())
        lines.append(self._text(self.summary))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        e = lambda s: html.escape(self._text(s))  # noqa: E731
        head = "".join(f"<th>{e(c)}</th>" for c in self._header())
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                       for row in self._body())
        return (f'<table class="gradgraph-explain"><caption>{e(self.title)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
                f'<tfoot><tr><td colspan="5">{e(self.summary)}</td></tr></tfoot></table>')


# -- building it ------------------------------------------------------------------------------


def _numbering(g, nodes, how):
    """Table numbers: the notes number by level (inputs, then every node computed from the
    inputs only, then the next level …, trace order within a level); ``"trace"`` keeps the
    trace order (that of ``print(g)``)."""
    if how == "trace":
        order = list(nodes)
    elif how == "notes":
        depth: dict[int, int] = {}
        for n in nodes:
            d = g[n]
            depth[n] = 0 if d["op"] == "input" else 1 + max(
                (depth[a] for a in d["args"] if a in depth), default=0)
        order = sorted(nodes, key=lambda n: (depth[n], n))
    else:
        raise GradgraphValueError(f"numbering must be 'notes' or 'trace', got {how!r}")
    return {n: k + 1 for k, n in enumerate(order)}


def _leaf_labels(g) -> list[str]:
    out = []
    for an, t in zip(g.arg_names, g.in_tree[1]):
        out += [an + p for p in leaf_paths(t, "")]
    return out


def explain(f, *args, mode: str = "forward", wrt: int = 0, decimals: int = 3,
            direction=None, seed=None, numbering: str = "notes",
            ascii: bool = False) -> Explanation:
    """The evaluation trace of ``f`` at ``args`` as the course notes' table.

    Inputs are ``v1, v2, …`` (one per array leaf of the arguments), then one row per node with
    its expression (``v3 = ln v1``), its value and, in ``mode="forward"``, v̇ = ∂v/∂x for the
    direction of argument ``wrt`` (ones, or ``direction``), or in ``mode="reverse"`` v̄ =
    ∂y/∂v, seeded with 1 on the scalar output (or ``seed``). The derivation column writes the
    derivative node out, and for a node with several consumers the accumulated sum, as the
    notes do (``v̄2 = v̄5 × cos v2 + v̄4 × v1 = -0.284 + 2 = 1.716``). Nodes are numbered by
    level as in the notes (``numbering="trace"`` for the trace order of ``print(g)``); values
    print with ``decimals`` decimals, trailing zeros dropped. ``ascii=True`` writes ``v3_dot``,
    ``*`` instead of ``v̇3``, ``×``. With Python control flow, the table is that of the path
    these arguments take.

    >>> import numpy as np, gradgraph as gg
    >>> t = gg.explain(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0,
    ...                mode="reverse")
    >>> [(r.name, r.expression, round(float(r.value), 3)) for r in t.rows][4:6]
    [('v5', 'v5 = sin v2', -0.959), ('v6', 'v6 = v3 + v4', 10.693)]
    >>> print(t.rows[1].derivation)
    v̄2 = v̄5 × cos v2 + v̄4 × v1 = -0.284 + 2 = 1.716
    """
    from .api import _argnums, _wrt

    if mode not in ("forward", "reverse"):
        raise GradgraphValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
    if not isinstance(decimals, (int, np.integer)) or decimals < 0:
        raise GradgraphValueError(f"decimals must be an int >= 0, got {decimals!r}")
    g = _trace(f, *args)
    leaves, _ = flatten(tuple(args))
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    labels_in = _leaf_labels(g)
    floats = [n for n in inputs if g[n]["dtype"].kind == "f"]
    rows_nodes = sorted(set(inputs) | {n for n in g.live() if g[n]["op"] != "const"})
    number = _numbering(g, rows_nodes, numbering)
    name = {n: f"v{k}" for n, k in number.items()}
    dot = "\u0307" if mode == "forward" else "\u0304"
    dname = {n: f"v{dot}{k}" for n, k in number.items()}
    g2 = g.copy()
    if mode == "forward":
        if not isinstance(wrt, (int, np.integer)):
            raise GradgraphValueError(f"wrt is the index of one argument, got {wrt!r}")
        (k,) = _argnums(wrt, len(g.in_tree[1]))
        _, (wrt_nodes,) = _wrt(g, k, "gg.explain")
        dirs_in = _direction(g, wrt_nodes, direction)
        extra, deriv = _expand_forward(g2, floats, name, dirs_in)
        seeded, terms = set(floats), {}
    else:
        y, seed, extra, deriv, terms = _expand_reverse(g2, inputs, floats, name, seed)
        seeded, dirs_in = {y}, {}
    vals = node_values(g2, list(leaves) + extra)

    # who is called what: v3 for primal nodes, v̇3 / v̄3 for their derivative nodes
    label: dict[int, str] = {n: name[n] for n in rows_nodes}
    order = sorted(rows_nodes, key=number.get, reverse=(mode == "reverse"))
    for n in order:
        if n in deriv and deriv[n] not in label:
            label[deriv[n]] = dname[n]

    def sym_leaf(m):
        return label.get(m) or _const(g2, m, decimals)

    def write(v, n, prefer, numeric=False):
        """Derivative node ``v`` in row ``n``: a name where it stands for another node, else
        written out. ``prefer`` names shared nodes in this row's terms: identity rules pass
        one node on (``v̄6`` is the node ``v̄7``), and the row reads ``v̄6 = v̄7``."""
        arrays = []

        def leaf(m):
            if m in prefer or m in label:
                if numeric and np.ndim(vals[m]):
                    arrays.append(m)
                return fmt(vals[m], decimals) if numeric else prefer.get(m, label.get(m))
            return _const(g2, m, decimals)

        if v in prefer or v in label and label[v] != dname[n]:
            return leaf(v)
        text = render(g2, v, leaf)
        return None if arrays else text  # array values: the rule and the result say enough

    rows = []
    for n in rows_nodes:
        d = g[n]
        expr = f"{name[n]} = " + (labels_in[inputs.index(n)] if d["op"] == "input" else
                                  render(g, n, sym_leaf, max_nodes=10**9, shapes=True))
        dv = deriv.get(n)
        # no derivative node: no dependence (0), or a non-float node (carries none)
        dval = vals[dv] if dv is not None else np.zeros(
            d["shape"], d["dtype"] if d["dtype"].kind in "fc" else np.float64)
        out_txt = fmt(dval, decimals)
        parts = [dname[n]]
        tvals = ()
        if n in seeded:
            parts.append(out_txt + (" (seed)" if mode == "reverse" or n in dirs_in else ""))
        elif dv is None:
            parts.append(out_txt)
        elif mode == "forward":
            pre = {deriv[a]: dname[a] for a in d["args"] if a in deriv}
            parts += _derivation(write(dv, n, pre), write(dv, n, pre, True), out_txt)
        else:
            ts = terms.get(n, [])
            tvals = tuple(vals[v] for _, v in ts)
            if len(ts) == 1:
                u, v = ts[0]
                pre = {deriv[u]: dname[u]}
                parts += _derivation(write(v, n, pre), write(v, n, pre, True), out_txt)
            else:
                sym = [write(v, n, {deriv[u]: dname[u]}) for u, v in ts]
                parts += [" + ".join(s or "…" for s in sym), _sum_text(tvals, decimals),
                          out_txt]
        rows.append(Row(name[n], expr, vals[n], dval, " = ".join(_dedupe(parts)), tvals, n))
    rows.sort(key=lambda r: number[r.node])

    where = ", ".join(f"{lb} = {fmt(vals[n], decimals)}" for lb, n in zip(labels_in, inputs))
    if mode == "forward":
        wlabel = g.arg_names[k]
        title = f"forward mode at {where}; v\u0307 = ∂v/∂{wlabel}" + (
            "" if direction is None else " along the given direction")
        outs = [f"y = {name[o]} = {fmt(vals[o], decimals)}, ∂y/∂{wlabel} = {dname[o]} = "
                f"{fmt(vals[deriv[o]] if o in deriv else 0.0, decimals)}" if o in name else
                f"y = {fmt(vals[o], decimals)} (a constant), ∂y/∂{wlabel} = 0"
                for o in g.outputs]
        derivative = [vals[deriv[o]] if o in deriv else np.zeros(g[o]["shape"])
                      for o in g.outputs]
        derivative = derivative[0] if len(derivative) == 1 else tuple(derivative)
        summary = "; ".join(outs)
    else:
        yname = dname.get(y, "v\u0304(y)")
        title = f"reverse mode at {where}; v\u0304 = ∂y/∂v, seeded {yname} = " \
                f"{fmt(seed, decimals)} (read from the bottom up)"
        derivative = {lb: rows[number[n] - 1].derivative for lb, n in zip(labels_in, inputs)
                      if n in floats}
        summary = f"y = {name.get(y, 'a constant')} = {fmt(vals[y], decimals)}; " + ", ".join(
            f"∂y/∂{lb} = {dname[n]} = {fmt(rows[number[n] - 1].derivative, decimals)}"
            for lb, n in zip(labels_in, inputs) if n in floats)
    t = Explanation(mode, rows, title, summary, derivative, ascii=ascii)
    t.decimals = int(decimals)
    return t


def _expand_forward(g2, floats, name, dirs_in):
    """Tangent nodes for every float input (new inputs ``v1_dot`` …, valued 0 except along
    the chosen argument, as the notes' v̇2 = 0); returns their values and ``{node: v̇}``."""
    dirs, extra = {}, []
    for n in floats:
        d = g2[n]
        dirs[n] = g2.input(d["shape"], d["dtype"], name=f"{name[n]}_dot")
        extra.append(dirs_in.get(n, np.zeros(d["shape"], d["dtype"])))
    return extra, expand_tangent(g2, dirs)


def _expand_reverse(g2, inputs, floats, name, seed):
    """Adjoint nodes seeded by a new input (so the seed is not mistaken for a constant 1 of
    some rule); returns ``(output, seed, [seed], {node: v̄}, {node: [(consumer, term)]})``."""
    if len(g2.outputs) != 1 or g2.out_tree != "*":
        raise GradgraphValueError("gg.explain(mode='reverse') needs a function returning "
                                  "one array")
    y = g2.outputs[0]
    yd = g2[y]
    if yd["dtype"].kind != "f":
        raise GradgraphTypeError(f"gg.explain(mode='reverse') needs a real floating output, "
                                 f"got {yd['dtype']}", loc=yd.get("loc"))
    if seed is None:
        if yd["shape"] != ():
            raise GradgraphValueError(
                f"gg.explain(mode='reverse') seeds v̄ = 1 on a scalar output, but the output "
                f"has shape {yd['shape']}; pass seed= (an array of that shape) or sum the "
                "output", loc=yd.get("loc"))
        seed = 1.0
    seed = np.asarray(seed, yd["dtype"])
    if seed.shape != yd["shape"]:
        raise GradgraphValueError(f"seed has shape {seed.shape}, the output {yd['shape']}; "
                                  "give one of the output's shape")
    s = g2.input(yd["shape"], yd["dtype"], name="seed")
    record: dict = {}
    bars = expand_adjoint(g2, floats, [(y, s)], record=record) if y not in inputs else {}
    deriv = dict(record.get("bar", {}))
    terms = record.get("terms", {})
    if y in name:  # (a constant output has no row and no derivatives)
        deriv[y] = s
    for n in floats:
        if n in bars and terms.get(n):
            deriv[n] = bars[n]
    return y, seed, [seed], deriv, terms


def _direction(g, wrt_nodes, direction):
    """``{input node: tangent value}`` for the leaves of the chosen argument."""
    if direction is None:
        return {n: np.ones(g[n]["shape"], g[n]["dtype"]) for n in wrt_nodes}
    dl, _ = flatten(direction)
    if len(dl) != len(wrt_nodes):
        raise GradgraphValueError(f"direction has {len(dl)} leaves, the argument "
                                  f"{len(wrt_nodes)}")
    out = {}
    for n, v in zip(wrt_nodes, dl):
        v = np.asarray(v, g[n]["dtype"])
        if v.shape != g[n]["shape"]:
            raise GradgraphValueError(f"direction has shape {v.shape}, the argument "
                                      f"{g[n]['shape']}; give one of the argument's shape")
        out[n] = v
    return out


def _derivation(sym, num, out_txt):
    """``[rule, working, value]`` for one derivative node, dropping what says nothing new."""
    if sym is None:
        return [out_txt]
    parts = [sym]
    if num is not None and num != sym and len(num) <= 80 and not _is_number(num):
        parts.append(num)
    parts.append(out_txt)
    return parts


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _dedupe(parts):
    out = []
    for p in parts:
        if not out or p != out[-1]:
            out.append(p)
    return out


def _const(g, m, decimals):
    d = g[m]
    if d["op"] != "const":
        return None
    v = d["value"]
    a = np.asarray(v)
    if a.ndim == 0 or a.size <= 4:
        return fmt(a, decimals)
    return f"const {aval_str(a.shape, a.dtype)}"


def _sum_text(vals, decimals) -> str:
    out = ""
    for i, v in enumerate(vals):
        t = fmt(v, decimals)
        if i == 0:
            out = t
        elif np.ndim(v) == 0 and t.startswith("-"):
            out += " - " + t[1:]
        else:
            out += " + " + t
    return out
