"""The opt-in algebraic pass: collect like terms of +, -, *, / by constants and atoms, then
write each polynomial back in Horner form. It is how high derivatives stop swelling (the 8th
derivative of tanh is a degree-9 polynomial in tanh(x)), and it is **not** exact: it
reassociates and distributes, so values agree with the exact pipeline only to rounding, and
where an intermediate value is inf or NaN the two may differ (``t*t - t*t`` collects to 0).
So it runs only when asked: ``gg.config.simplify = "algebra"`` or
``gg.simplify(g, algebra=True)``.

A *region* is the float64 arithmetic (``add subtract multiply negative divide``, and
``power`` by a small integer constant) whose operands have the node's shape or are scalar
constants. Everything else is an *atom*. A polynomial is ``{monomial: float}``, a monomial a
sorted tuple of ``(atom, exponent)``; exponents may be negative (``1 / x``). Coefficients are
floats (integers stay exact up to 2**53; Fractions made long chains of decimal constants
crawl). The pass never returns a bigger graph than it was given. Division by a
polynomial that is not one term makes the denominator an atom. Polynomials growing past
``MAX_TERMS`` terms become atoms too, so expansion never explodes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .replay import Replay, copy_inputs, dce
from ..graph.core import Guard

MAX_TERMS = 32
_ARITH = {"add", "subtract", "multiply", "negative", "divide", "power", "square"}
_F64 = np.dtype(np.float64)


def _mono_mul(a: tuple, b: tuple) -> tuple:
    if not a:
        return b
    if not b:
        return a
    d = dict(a)
    for v, e in b:
        k = d.get(v, 0) + e
        if k:
            d[v] = k
        else:
            del d[v]
    return tuple(sorted(d.items()))


def p_add(p, q, sign=1):
    r = dict(p)
    for m, c in q.items():
        k = r.get(m, 0) + sign * c
        if k:
            r[m] = k
        else:
            r.pop(m, None)
    return r


def p_mul(p, q):
    r: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = _mono_mul(m1, m2)
            k = r.get(m, 0) + c1 * c2
            if k:
                r[m] = k
            else:
                r.pop(m, None)
    return r


class _Algebra:
    def __init__(self, cx: Replay):
        self.cx = cx
        self.poly: dict[int, dict] = {}  # old region node -> polynomial over new-graph atoms
        self.emitted: dict[tuple, int] = {}
        self.inverse: dict[int, int] = {}
        self.d = None  # the old node whose polynomial is being written (role, loc)
        self.hits = 0

    # -- polynomials of old nodes ---------------------------------------------------------

    def of(self, old_arg: int):
        """The polynomial of an operand: its own, a constant, or a new atom."""
        p = self.poly.get(old_arg)
        if p is not None:
            return p
        n = self.cx.m[old_arg]
        d = self.cx.node(n)
        if d["op"] == "const" and d["shape"] == ():
            v = d["value"]
            try:
                f = float(v)
            except (TypeError, ValueError):
                return {((n, 1),): 1.0}
            if f != f or f in (float("inf"), float("-inf")):
                return {((n, 1),): 1.0}
            return {(): f} if f else {}
        return {((n, 1),): 1.0}

    def build(self, op, args, attrs):
        ps = [self.of(a) for a in args]
        if op == "add":
            return p_add(ps[0], ps[1])
        if op == "subtract":
            return p_add(ps[0], ps[1], -1)
        if op == "negative":
            return {m: -c for m, c in ps[0].items()}
        if op == "square":
            return self._mul(ps[0], ps[0])
        if op == "multiply":
            return self._mul(ps[0], ps[1])
        if op == "divide":
            den = ps[1]
            if len(den) == 1:
                (m, c), = den.items()
                inv = {tuple((v, -e) for v, e in m): 1.0 / c}
                return self._mul(ps[0], inv)
            atom = self.emit(den)
            return self._mul(ps[0], {((atom, -1),): 1.0})
        if op == "power":
            k = self._small_int(args[1])
            if k is None:
                return None
            if k < 0:
                return None
            r = {(): 1.0}
            for _ in range(k):
                r = self._mul(r, ps[0])
                if r is None:
                    return None
            return r
        return None

    def _small_int(self, old_arg):
        n = self.cx.m[old_arg]
        d = self.cx.node(n)
        if d["op"] != "const" or d["shape"] != ():
            return None
        v = d["value"]
        try:
            fv = float(v)
        except (TypeError, ValueError):
            return None
        return int(fv) if fv.is_integer() and 0 <= fv <= 8 else None

    def _mul(self, p, q):
        if p is None or q is None:
            return None
        if len(p) * len(q) > 8 * MAX_TERMS:  # expanding would cost more than it saves
            return None
        return p_mul(p, q)

    # -- writing polynomials back ---------------------------------------------------------

    def const(self, c) -> int:
        return self.cx.scalar(float(c), _F64)

    def atom(self, v: int, e: int) -> int:
        """``v ** e`` for a monomial factor (negative: the reciprocal, made once)."""
        if e < 0:
            inv = self.inverse.get(v)
            if inv is None:
                inv = self.inverse[v] = self.cx.make("divide", self.const(1), v)
            v, e = inv, -e
        r = v
        for _ in range(e - 1):
            r = self.cx.make("multiply", r, v)
        return r

    def emit(self, p: dict) -> int:
        """A node computing ``p``, Horner-style: split on the atom in most terms."""
        key = tuple(sorted(p.items()))
        hit = self.emitted.get(key)
        if hit is not None:
            return hit
        r = self._emit(p)
        self.emitted[key] = r
        return r

    def _emit(self, p):
        cx = self.cx
        if not p:
            return self.const(0)
        if len(p) == 1:
            (m, c), = p.items()
            if not m:
                return self.const(c)
            node = None
            for v, e in m:
                f = self.atom(v, e)
                node = f if node is None else cx.make("multiply", node, f)
            if c == 1:
                return node
            if c == -1:
                return cx.make("negative", node)
            return cx.make("multiply", self.const(c), node)
        count = Counter((v, 1 if e > 0 else -1) for m in p for v, e in m)
        if not count:
            return self.const(sum(p.values()))
        (v, s), _ = max(count.items(), key=lambda kv: (kv[1], -kv[0][0], kv[0][1]))
        inner, rest = {}, {}
        for m, c in p.items():
            e = dict(m).get(v, 0)
            if e and (e > 0) == (s > 0):
                mm = dict(m)
                mm[v] = e - s
                if not mm[v]:
                    del mm[v]
                inner[tuple(sorted(mm.items()))] = c
            else:
                rest[m] = c
        # pull a common sign out of the inner part, so "a - v*q" reads as it would by hand
        neg = all(c < 0 for c in inner.values())
        if neg:
            inner = {m: -c for m, c in inner.items()}
        q = self.emit(inner)
        prod = self.atom(v, s) if inner == {(): 1} else cx.make("multiply", self.atom(v, s), q)
        if not rest:
            return cx.make("negative", prod) if neg else prod
        r = self.emit(rest)
        return cx.make("subtract" if neg else "add", r, prod)


def algebra(g, stats: Counter):
    """One replay of ``g`` that collects polynomials in its float64 arithmetic regions."""
    from .rules import RULES, rules_by_op

    cx = Replay(g, rules_by_op(RULES), stats)
    A = _Algebra(cx)
    nodes = g.nx._node
    new = cx.new
    copy_inputs(cx)
    guarded = {gd.node for gd in g.guards}
    live = g.live()
    m = cx.m

    def need(a):
        """New-graph node of old node ``a``, writing its polynomial out when it has one."""
        r = m.get(a)
        if r is None:
            d = nodes[a]
            cx.cur = A.d = d
            first = cx.last + 1
            r = A.emit(A.poly[a])
            nd = new.nx._node[r]
            if r >= first and "of" in d and "of" not in nd and nd["op"] != "const":
                nd["of"] = (m.get(d["of"][0], d["of"][0]), d["of"][1])
            if nd["shape"] != d["shape"]:
                r = cx.make("broadcast_to", r, shape=d["shape"])
            m[a] = r
        return r

    for n in sorted(live):
        if n in m:
            continue
        d = nodes[n]
        op = d["op"]
        if op == "const":
            m[n] = cx.const(d["value"], n)
            continue
        if (op in _ARITH and n not in guarded and d["dtype"] == _F64 and all(
                nodes[a]["shape"] == d["shape"] or (nodes[a]["op"] == "const"
                                                   and nodes[a]["shape"] == ())
                for a in d["args"])):
            cx.cur = A.d = d
            p = A.build(op, d["args"], d["attrs"])
            if p is not None and len(p) <= MAX_TERMS:
                A.poly[n] = p
                A.hits += 1
                continue
        args = tuple(need(a) for a in d["args"])
        cx.cur = d
        m[n] = cx.emit(op, args, d["attrs"], d, n)
    new.outputs = [need(o) for o in g.outputs]
    new.guards = [Guard(m[gd.node], gd.kind, gd.expected, gd.loc) for gd in g.guards]
    new._next = max(new._next, cx.last + 1, max(g.inputs, default=0) + 1)
    stats["algebra"] += A.hits
    dce(new)
    return new
