"""The replay that every rewrite runs in: copy a graph node by node, in topological order,
into a fresh :class:`Graph`, looking each node up in a substitution map.

Replaying (instead of editing in place) keeps the graph invariants for free: a node is
only added after its operands, ids only grow along edges, and interning on insert merges
the nodes that become identical once their operands were rewritten (CSE after expansion).

Ids are kept where possible so a simplified listing reads like the original: a surviving
node keeps its old id unless a node made by a rule already took it, inputs always keep theirs.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..graph.core import Graph, Guard
from ..ops.registry import OPS
from .rules import SPECIAL_ARG_OPS

_REBUILT = {"nx", "_intern", "_next", "inputs", "outputs", "guards", "rewrite_stats"}
_STANDARD = {"op", "args", "attrs", "shape", "dtype", "role", "loc"}
# dtypes with which a weak Python scalar and a 0-d array of the same value promote alike
DEFAULT_WIDTH = {np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.complex128),
                 np.dtype(np.bool_)}
MAX_DEPTH = 8  # rules applied to the nodes that rules make, this many levels deep


class Replay:
    """State of one rewrite walk: the old graph, the new one, and the map old id -> new id.

    Rules receive the replay as ``cx`` and build with :meth:`make` and :meth:`scalar`; the
    node being rewritten (``cx.cur``) lends its role and ``loc`` to what they build.
    """

    def __init__(self, g: Graph, rules_by_op: dict, stats: Counter):
        self.old = g
        self.rules_by_op = rules_by_op
        self.stats = stats
        new = Graph.__new__(Graph)
        for k, v in g.__dict__.items():  # keep attributes other parts may have added
            if k not in _REBUILT:
                setattr(new, k, v)
        new.nx = type(g.nx)()
        new._intern, new._next = {}, 1
        new.inputs, new.outputs, new.guards = [], [], []
        self.new = new
        self.m: dict[int, int] = {}
        self.input_ids = set(g.inputs)
        self.last = 0
        self.cur: dict | None = None
        self.depth = 0
        self._uniform: dict = {}
        nodes = g.nx._node
        # weak Python scalars may replace 0-d arrays only where no narrower dtype exists
        chars = {dt.char for dt in DEFAULT_WIDTH}
        self.default_width = all(d["dtype"].char in chars for d in nodes.values())

    # -- ids -----------------------------------------------------------------------------

    def _reserve(self, want: int = 0):
        n = max(want, self.last + 1)
        while n in self.input_ids:
            n += 1
        self.new._next = n

    def _created(self, before: int, r: int) -> bool:
        if self.new._next != before:
            self.last = r
            return True
        return False

    # -- building ------------------------------------------------------------------------

    def const(self, value, want: int = 0) -> int:
        self._reserve(want)
        before = self.new._next
        r = self.new.const(value)
        self._created(before, r)
        return r

    def scalar(self, value, dtype) -> int:
        """A scalar constant that promotes like a 0-d array of ``dtype``: a Python scalar
        (readable, weak) where that changes nothing, else a 0-d array."""
        dtype = np.dtype(dtype)
        if self.default_width and dtype in DEFAULT_WIDTH and np.ndim(value) == 0:
            v = np.asarray(value, dtype).item()
            if type(v) in (bool, int, float, complex):
                return self.const(v)
        return self.const(np.asarray(value, dtype))

    def emit(self, op: str, args: tuple, attrs: dict, d: dict, want: int = 0) -> int:
        """Add ``op(*args)`` with the aval, role, loc and extra data of old node data ``d``."""
        self._reserve(want)
        before = self.new._next
        r = self.new.add(op, args, attrs, role=d["role"], loc=d.get("loc"),
                         shape=d["shape"], dtype=d["dtype"])
        if self._created(before, r):
            nd = self.new.nx._node[r]
            if len(d) > len(_STANDARD):
                for k, v in d.items():
                    if k not in _STANDARD:
                        nd[k] = v
            of = d.get("of")
            if of is not None and of[0] in self.m:
                nd["of"] = (self.m[of[0]], of[1])
        else:
            self.stats["cse"] += 1
        return r

    def make(self, op: str, *args, **attrs) -> int:
        """Build ``op(*args, **attrs)`` for a rule (shape from the op's rule), simplified by
        the rules in turn. ``args`` are new-graph ids; floats become constants."""
        args = tuple(a if isinstance(a, int) and not isinstance(a, bool) else self.const(a)
                     for a in args)
        nodes = self.new.nx._node
        avals = [(nodes[a]["shape"], nodes[a]["dtype"], nodes[a].get("weak", False))
                 for a in args]
        shape, dtype = OPS[op].shape(avals, **attrs)
        d = {"op": op, "shape": tuple(shape), "dtype": np.dtype(dtype),
             "role": self.cur["role"], "loc": self.cur.get("loc"), "attrs": attrs}
        if self.depth < MAX_DEPTH:
            self.depth += 1
            try:
                r = self.try_rules(op, args, attrs, d)
            finally:
                self.depth -= 1
            if r is not None:
                return r
        return self.emit(op, args, attrs, d)

    def try_rules(self, op, args, attrs, d):
        nodes = self.new.nx._node
        mine, always = self.rules_by_op[op]
        if len(args) == 1:
            arg_ops = (nodes[args[0]]["op"],)
            rules = mine if arg_ops[0] in SPECIAL_ARG_OPS else always
        elif args:
            arg_ops = {nodes[a]["op"] for a in args}
            rules = always if arg_ops.isdisjoint(SPECIAL_ARG_OPS) else mine
        else:
            arg_ops, rules = {None}, mine
        for rule in rules:
            if rule.arg_ops is not None and rule.arg_ops.isdisjoint(arg_ops):
                continue
            r = rule.fn(self, op, args, attrs, d)
            if r is None:
                continue
            nr = self.new.nx._node[r]
            if nr["shape"] != d["shape"] or nr["dtype"] != d["dtype"]:
                self.stats["rejected " + rule.name] += 1  # a rule must keep shape and dtype
                continue
            self.stats[rule.name] += 1
            return r
        return None

    # -- facts about new-graph nodes -------------------------------------------------------

    def node(self, n: int) -> dict:
        return self.new.nx._node[n]

    def uniform(self, n: int):
        """The value every element of node ``n`` has, when it is a known constant: a Python
        scalar (weak const) or a 0-d array, else None. Sees through broadcast/reshape."""
        u = self._uniform.get(n, _UNKNOWN)  # rules ask about the same operands again
        if u is _UNKNOWN:
            u = self._uniform[n] = self._uniform_of(n)
        return u

    def _uniform_of(self, n: int):
        d = self.new.nx._node[n]
        op = d["op"]
        if op == "const":
            v = d["value"]
            if type(v) in (bool, int, float, complex):
                return v
            a = np.asarray(v)
            if a.size == 1:
                return a.reshape(())
            if 1 < a.size <= 64 and a.dtype.kind in "biuf":
                f = a.flat[0]
                if np.all(a == f):
                    return a.flat[0:1].reshape(())
            return None
        if op in ("broadcast_to", "reshape") and d["shape"] != ():
            inner = self.uniform(d["args"][0])
            if inner is None:
                return None
            return np.asarray(inner, d["dtype"])
        return None

    def is_scalar_const(self, n: int) -> bool:
        d = self.new.nx._node[n]
        return d["op"] == "const" and d["shape"] == ()


def copy_inputs(cx: "Replay") -> None:
    """Inputs first, at their own ids and with all their data (names, pytypes, generators)."""
    nodes, new = cx.old.nx._node, cx.new
    for n in cx.old.inputs:
        d = nodes[n]
        new._next = n
        r = new.input(d["shape"], d["dtype"], name=d.get("name"), weak=d.get("weak", False),
                      loc=d.get("loc"))
        for k, v in d.items():
            if k not in _STANDARD and k not in ("name", "weak"):
                new.nx._node[r][k] = v
        cx.m[n] = r


def replay(g: Graph, rules_by_op: dict, stats: Counter) -> Graph:
    """One bottom-up walk over the live part of ``g``: every node's operands are already
    rewritten when its own rules run. Returns the new graph (dead code dropped)."""
    cx = Replay(g, rules_by_op, stats)
    nodes = g.nx._node
    new = cx.new
    copy_inputs(cx)
    guarded = {gd.node for gd in g.guards}
    live = g.live()
    m = cx.m
    new_nodes = new.nx._node
    add = new.add
    input_ids = cx.input_ids
    n_std = len(_STANDARD)
    cse = 0
    for n in sorted(live):
        if n in m:
            continue
        d = nodes[n]
        op = d["op"]
        if op == "const":
            m[n] = cx.const(d["value"], n)
            continue
        args = tuple([m[a] for a in d["args"]])
        if n not in guarded and OPS[op].pure:
            cx.cur = d
            first = cx.last + 1
            r = cx.try_rules(op, args, d["attrs"], d)
            if r is not None:
                if r >= first and "of" in d and "of" not in new_nodes[r]:
                    of = d["of"]  # a node a rule made in this node's place stands for the same
                    new_nodes[r]["of"] = (m.get(of[0], of[0]), of[1])
                m[n] = r
                continue
        # Replay.emit, inlined: this line runs once per node of every graph compiled
        want = n if n > cx.last else cx.last + 1
        while want in input_ids:
            want += 1
        new._next = want
        r = add(op, args, d["attrs"], role=d["role"], loc=d.get("loc"), shape=d["shape"],
                dtype=d["dtype"])
        if new._next != want:
            cx.last = r
            if len(d) > n_std:
                nd = new_nodes[r]
                for k, v in d.items():
                    if k not in _STANDARD:
                        nd[k] = v
                of = d.get("of")
                if of is not None and of[0] in m:
                    nd["of"] = (m[of[0]], of[1])
        else:
            cse += 1
        m[n] = r
    stats["cse"] += cse
    new.outputs = [m[o] for o in g.outputs]
    new.guards = [Guard(m[gd.node], gd.kind, gd.expected, gd.loc) for gd in g.guards]
    new._next = max(new._next, cx.last + 1, max(g.inputs, default=0) + 1)
    stats["dce"] += len(nodes) - len(live) - len(set(g.inputs) - live)
    removed = dce(new)
    stats["dce"] += removed
    return new


_UNKNOWN = object()


class _Pure:
    pure = True


_PURE = _Pure()


def dce(g: Graph) -> int:
    """Remove (in place) nodes that no output, guard or impure op needs; inputs stay.
    Returns how many were removed."""
    nodes = g.nx._node
    live = g.live() | set(g.inputs)
    dead = [n for n in nodes if n not in live]
    if dead:
        g.nx.remove_nodes_from(dead)
        g._intern = {k: v for k, v in g._intern.items() if v in live}
    return len(dead)
