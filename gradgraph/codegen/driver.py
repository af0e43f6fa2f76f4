"""Turn any graph into one plain NumPy ``def``.

The driver owns everything but the per-op expression (which each op's ``emit`` gives):
order (node ids are topological), names (user argument names, ``v3``, ``v3_bar``,
``v3_dot``), a ``# file:line`` comment of provenance, ``del`` after the last use, guards as
checks, constants hoisted to module level, and the return in the output's pytree shape. The
text depends only on the graph, so it is the same on every run.
"""

from __future__ import annotations

import keyword
import math
import re

import numpy as np

from ..ops.random import bind_generators
from ..ops.registry import OPS
from .memory import inplace_plan

_RESERVED = re.compile(r"^(v|c)\d+(_bar|_dot)*$")
INLINE_CONST_LIMIT = 100  # array constants up to this size are written as literals


def safe_name(s: str) -> str:
    """A Python identifier made from user text (argument names, dict keys): never code."""
    s = re.sub(r"\W", "_", str(s), flags=re.ASCII) or "_"
    if s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s) or s in ("np", "_GuardFailed") or _RESERVED.match(s):
        s += "_"
    return s


def comment_text(s: str) -> str:
    r"""User text (a file name) made safe for a ``#`` comment: a newline in it would end the
    comment and make the rest code, so every unprintable character is escaped.

    >>> print(comment_text("evil\nimport os.py:3"))
    evil\nimport os.py:3
    """
    s = str(s)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def literal(v) -> str:
    """Python source for a scalar constant, following NumPy's reading of it."""
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "np.nan"
        if math.isinf(v):
            return "np.inf" if v > 0 else "(-np.inf)"
        return f"({v!r})" if v < 0 or (v == 0 and math.copysign(1, v) < 0) else repr(v)
    if isinstance(v, (int, np.integer)):
        return f"({int(v)})" if v < 0 else repr(int(v))
    if isinstance(v, complex):
        return f"complex({v.real!r}, {v.imag!r})"
    raise TypeError(v)


def array_literal(a: np.ndarray) -> str:
    a = np.asarray(a)
    dt = f"np.{a.dtype.name}" if a.dtype != bool else "bool"
    if a.size == 0:  # tolist() of an empty array loses its shape: [] for (0, 3)
        return f"np.zeros({a.shape!r}, dtype={dt})"
    if a.size <= INLINE_CONST_LIMIT and (a.dtype.kind in "biu" or np.all(np.isfinite(a))):
        return f"np.array({a.tolist()!r}, dtype={dt})"
    raw = np.ascontiguousarray(a).tobytes()
    return (f"np.frombuffer({raw!r}, dtype={a.dtype.str!r}).reshape({a.shape!r}).copy()")


def _pytree_expr(tree, names_iter) -> str:
    if tree == "*":
        return next(names_iter)
    if tree == "None":
        return "None"
    if tree[0] == "tuple":
        parts = [_pytree_expr(c, names_iter) for c in tree[1]]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if tree[0] == "list":
        return "[" + ", ".join(_pytree_expr(c, names_iter) for c in tree[1]) + "]"
    return "{" + ", ".join(f"{k!r}: {_pytree_expr(c, names_iter)}"
                           for k, c in zip(tree[1], tree[2])) + "}"


def _leaf_accessors(tree, base: str) -> list[str]:
    """Python expressions that reach each leaf of an argument, ``params['w1']``."""
    out: list[str] = []
    stack = [(tree, base)]
    while stack:
        t, expr = stack.pop()
        if t == "*":
            out.append(expr)
        elif t == "None":
            continue
        elif t[0] in ("tuple", "list"):
            stack.extend(reversed([(c, f"{expr}[{i}]") for i, c in enumerate(t[1])]))
        else:
            stack.extend(reversed([(c, f"{expr}[{k!r}]") for k, c in zip(t[1], t[2])]))
    return out


class Generated:
    """The source of one graph, and the big constants bound by name when loaded in memory."""

    def __init__(self, source: str, env: dict, embedded: str):
        self.source = source  # what is executed in memory
        self.env = env  # big constants by name
        self.embedded = embedded  # standalone text, constants written out


def generate(g, name: str = "f") -> Generated:
    name = safe_name(name)
    nodes = g.nx._node
    live = g.live()
    order = sorted(live | set(g.inputs))
    guards_at: dict[int, list] = {}
    for gd in g.guards:
        guards_at.setdefault(gd.node, []).append(gd)

    # names of values and inputs
    var: dict[int, str] = {}
    module_consts: list[tuple[str, np.ndarray]] = []
    names = g.names()
    rng_var, rng_env, rng_declare = bind_generators(  # generators drawn from (ops/random.py)
        g, order, [safe_name(a) for a in (g.arg_names or [])])
    for n in order:
        d = nodes[n]
        if d["op"] == "const":
            v = d["value"]
            if n in rng_var:
                var[n] = rng_var[n]
            elif isinstance(v, (bool, int, float, complex, np.generic)) or np.ndim(v) == 0 and not isinstance(v, np.ndarray):
                var[n] = literal(v.item() if isinstance(v, np.generic) else v)
            elif isinstance(v, np.ndarray) and v.ndim == 0:
                var[n] = f"np.{v.dtype.name}({literal(v.item())})" if v.dtype != bool else literal(bool(v))
            else:
                var[n] = f"c{n}"
                module_consts.append((var[n], np.asarray(v)))
        else:
            var[n] = names[n]

    # arguments: one per user positional argument, leaves unpacked inside
    arg_names = unique_names([safe_name(a) for a in (g.arg_names or
                                                [f"x{i}" for i in range(len(g.inputs))])])
    arg_trees = g.in_tree[1] if g.in_tree is not None else tuple("*" for _ in g.inputs)
    lines: list[str] = []
    leaf_inputs = [n for n in g.inputs if not nodes[n].get("capture")]
    accessors: list[str] = []
    for an, tree in zip(arg_names, arg_trees, strict=True):
        accessors.extend(_leaf_accessors(tree, an))
    used = set(var.values()) | set(arg_names)
    for n, acc in zip(leaf_inputs, accessors, strict=True):
        if var[n] != acc and var[n] in arg_names:  # would overwrite another parameter
            var[n] = unique_names([var[n]], used)[0]
            used.add(var[n])
    for n, acc in zip(leaf_inputs, accessors, strict=True):
        d = nodes[n]
        conv = d.get("pytype")
        rhs = f"np.{d['dtype'].name}({acc})" if conv else acc
        if rhs != var[n]:
            lines.append(f"{var[n]} = {rhs}")

    # last use of every value, to free it right after
    last: dict[int, int] = {}
    for n in order:
        for a in nodes[n]["args"]:
            last[a] = n
    for gd in g.guards:
        last[gd.node] = max(last.get(gd.node, 0), gd.node)
    keep = set(g.outputs) | set(leaf_inputs)
    frees: dict[int, list[str]] = {}
    for a, n in last.items():
        if a not in keep and nodes[a]["op"] != "const":
            frees.setdefault(n, []).append(var[a])
    inplace = inplace_plan(g, order, last, keep)  # ufuncs that write into a dying operand
    outputs = set(g.outputs)

    for n in order:
        d = nodes[n]
        op = d["op"]
        if op not in ("input", "const"):
            spec = OPS[op]
            args = [var[a] for a in d["args"]]
            if callable(spec.emit):
                expr = spec.emit(args, d["attrs"])
            elif all(nodes[a]["op"] == "const" and nodes[a]["shape"] == () for a in d["args"]) \
                    and d["args"] and not spec.emit.startswith("np."):
                expr = f"np.{spec.impl.__name__}({', '.join(args)})"  # no Python-float maths
            elif n in inplace:
                expr = f"np.{spec.impl.__name__}({', '.join(args)}, out={args[inplace[n]]})"
            else:
                expr = spec.emit.format(*args)
            if op == "broadcast_to" and n in outputs:
                expr += ".copy()"  # a broadcast is a read-only view: results must be writable
            comment = f"  # {comment_text(d['loc'])}" if d.get("loc") else ""
            if isinstance(expr, list):
                lines.extend(ln.format(out=var[n]) for ln in expr)
                lines[-1] += comment
            else:
                lines.append(f"{var[n]} = {expr}{comment}")
        for gd in guards_at.get(n, ()):
            lines.append(_guard_line(var[n], gd))
        fr = frees.get(n)
        if fr:
            lines.append("del " + (", ".join(sorted(fr, key=_natural)) if len(fr) > 1 else fr[0]))

    ret = _pytree_expr(g.out_tree, iter(var[o] for o in g.outputs)) if g.out_tree is not None \
        else ", ".join(var[o] for o in g.outputs)
    lines.append(f"return {ret}")

    header = ["import numpy as np"]
    if g.guards:
        header += ["", "", "class _GuardFailed(Exception):",
                   '    """This code was compiled for another path through the Python code."""']
    big = {k: v for k, v in module_consts if v.size > INLINE_CONST_LIMIT}
    small = [(k, v) for k, v in module_consts if v.size <= INLINE_CONST_LIMIT]

    def assemble(embed_big: bool) -> str:
        out = list(header)
        consts = small + ([(k, big[k]) for k in big] if embed_big else [])
        consts.sort(key=lambda kv: _natural(kv[0]))
        if consts or (big and not embed_big):
            out.append("")
        for k, v in consts:
            out.append(f"{k} = {array_literal(v)}")
        if not embed_big:
            for k in sorted(big, key=_natural):
                out.append(f"# {k}: {big[k].dtype.name}{list(big[k].shape)} constant, bound when "
                           "loaded (written out by Function.save)")
        rng_lines = rng_declare(embed_big)
        if rng_lines and not (consts or (big and not embed_big)):
            out.append("")
        out += rng_lines
        out += ["", "", f"def {name}({', '.join(arg_names)}):"]
        out += ["    " + ln for ln in lines]
        return "\n".join(out) + "\n"

    return Generated(assemble(False), {**big, **rng_env}, assemble(True))


def unique_names(names: list[str], taken: set | None = None) -> list[str]:
    """The names with repeats (and names in ``taken``) suffixed ``_1``, ``_2`` …: two
    parameters of one ``def`` may not share a name (``gg.hvp(lambda v: ...)`` adds a ``v``)."""
    seen = set(taken or ())
    out = []
    for p in names:
        q, k = p, 1
        while q in seen:
            q, k = f"{p}_{k}", k + 1
        seen.add(q)
        out.append(q)
    return out


def _natural(s: str):
    m = re.match(r"[a-z]+(\d+)", s)
    return (int(m.group(1)) if m else 0, s)


def _guard_line(v: str, gd) -> str:
    where = f"{gd.loc}: " if gd.loc else ""
    if gd.kind == "bool":
        cond = f"not {v}" if gd.expected else f"{v}"
        what = f"a Python branch took {not gd.expected} where tracing took {gd.expected}"
    else:
        exp = gd.expected
        if isinstance(exp, float) and math.isnan(exp):
            cond = f"not np.isnan({v})"
        else:
            cond = f"{v} != {literal(exp)}"
        what = f"the value converted by float()/int() is no longer {exp!r}"
    return f"if {cond}:\n        raise _GuardFailed({(where + what)!r})"


def codegen(g, name: str = "f") -> str:
    """NumPy source for any graph: one ``def`` that needs only ``import numpy as np``.

    >>> import numpy as np, gradgraph as gg
    >>> print(gg.codegen(gg.trace(lambda x: np.sin(x) * 2.0, 1.0), name="f"))  # doctest: +ELLIPSIS
    import numpy as np
    <BLANKLINE>
    <BLANKLINE>
    def f(x):
        x = np.float64(x)
        v2 = np.sin(x)  # ...
        v4 = v2 * 2.0  # ...
        del v2
        return v4
    <BLANKLINE>
    """
    return generate(g, name).embedded
