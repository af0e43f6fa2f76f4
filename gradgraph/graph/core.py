"""``gg.Graph``: a networkx DAG of NumPy operations.

Invariants that keep the rest of the code simple:

* node ids are ints handed out in increasing order and a node only ever refers to nodes
  that already exist, so ``sorted(ids)`` is a topological order (no recursion, no sort);
* nodes are interned on ``(op, args, attrs)``: building the same computation twice returns
  the same node, so ``x * x`` is one node with a repeated operand and CSE happens on insert;
* every node's data has ``op``, ``args``, ``shape``, ``dtype``, ``role``, ``loc`` and
  ``attrs`` (the op's parameters); consts also have ``value``, inputs ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import networkx as nx
import numpy as np

from ..ops import registry
from ..ops.random import is_rng

ROLES = ("input", "const", "primal", "adjoint", "tangent")


@dataclass(frozen=True)
class Guard:
    """A Python decision taken while tracing: ``kind`` is ``"bool"`` (``bool(node) ==
    expected``) or ``"value"`` (``node == expected``, from ``float()``/``int()``)."""

    node: int
    kind: str
    expected: Any
    loc: str | None = None


def freeze(v):
    """A hashable, deterministic key for an attribute value."""
    if isinstance(v, (list, tuple)):
        return tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, np.dtype):
        return ("dtype", v.str)
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    return v


def const_key(value):
    if isinstance(value, (bool, int, float, complex)):
        return ("py", type(value).__name__, repr(value))
    a = np.asarray(value)
    if a.size <= 64:
        return ("np", type(value).__name__, a.dtype.str, a.shape, a.tobytes())
    return ("id", id(value))


DTYPE_SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "int64": "i64",
               "int32": "i32", "int8": "i8", "int16": "i16", "uint8": "u8", "bool": "bool",
               "complex128": "c128", "complex64": "c64"}


def aval_str(shape, dtype) -> str:
    d = DTYPE_SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)
    return f"{d}[{','.join(map(str, shape))}]"


_AVAL_CACHE: dict = {}  # (op, operand avals, frozen attrs) -> (shape, dtype)


class Graph:
    """A traced computation: a networkx DiGraph plus inputs, outputs and guards.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x: np.sin(x) * 2.0, 1.0)
    >>> [g.nx.nodes[n]["op"] for n in g.order()]
    ['input', 'sin', 'const', 'multiply']
    """

    def __init__(self):
        self.nx = nx.DiGraph()
        self._intern: dict[tuple, int] = {}
        self._next = 1
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.guards: list[Guard] = []
        self.in_tree = None  # pytree structure of the arguments (set by tracing)
        self.out_tree = None  # pytree structure of the outputs
        self.arg_names: list[str] | None = None  # the user's positional argument names

    # -- building ------------------------------------------------------------------------

    def _new(self, data: dict) -> int:
        n = self._next
        self._next += 1
        # networkx's own storage, written directly: add_node/add_edge cost 5x more here,
        # and this is the hot path of tracing and expansion (same layout as DiGraph.add_edge)
        G = self.nx
        G._node[n] = data
        G._succ[n] = {}
        pred = G._pred[n] = {}
        for a in data["args"]:
            if a not in pred:
                pred[a] = G._succ[a][n] = {}
        return n

    def input(self, shape, dtype, name=None, weak=False, loc=None) -> int:
        n = self._new(dict(op="input", args=(), attrs={}, shape=tuple(shape),
                           dtype=np.dtype(dtype), role="input", loc=loc, name=name, weak=weak))
        self.inputs.append(n)
        return n

    def const(self, value, loc=None) -> int:
        key = ("const", const_key(value))
        n = self._intern.get(key)
        if n is None:
            weak = isinstance(value, (bool, int, float, complex))
            dtype = np.dtype(object) if is_rng(value) else np.result_type(value)  # a generator
            n = self._new(dict(op="const", args=(), attrs={}, shape=np.shape(value),
                               dtype=dtype, role="const", loc=loc,
                               value=value, weak=weak))
            self._intern[key] = n
        return n

    def add(self, op: str, args: Iterable[int], attrs: dict | None = None, *,
            role="primal", loc=None, shape=None, dtype=None) -> int:
        """Add (or find) the node ``op(*args, **attrs)``; shape/dtype come from the op's
        rule unless given (the tracer passes those of the value it computed)."""
        args = tuple(args)
        attrs = attrs or {}
        spec = registry.OPS[op]
        fk = freeze(attrs) if attrs else ()
        key = (op, args, fk) if spec.pure else None
        if key is not None:
            n = self._intern.get(key)
            if n is not None:
                return n
        if shape is None:
            nodes = self.nx._node
            avals = tuple([(nodes[a]["shape"], nodes[a]["dtype"], nodes[a].get("weak", False))
                           for a in args])
            # shape rules are pure functions of avals and attrs: derivative expansions ask
            # the same few questions thousands of times (hot path of expand and simplify)
            ak = (op, avals, fk)
            sd = _AVAL_CACHE.get(ak)
            if sd is None:
                sd = spec.shape(list(avals), **attrs)
                if len(_AVAL_CACHE) > 200_000:
                    _AVAL_CACHE.clear()
                _AVAL_CACHE[ak] = sd
            shape, dtype = sd
        n = self._new(dict(op=op, args=args, attrs=attrs, shape=tuple(shape),
                           dtype=np.dtype(dtype), role=role, loc=loc))
        if key is not None:
            self._intern[key] = n
        return n

    def copy(self) -> "Graph":
        g = Graph.__new__(Graph)
        g.nx = self.nx.copy()
        g._intern = dict(self._intern)
        g._next = self._next
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g.guards = list(self.guards)
        g.in_tree, g.out_tree, g.arg_names = self.in_tree, self.out_tree, self.arg_names
        for k, v in self.__dict__.items():  # attributes other parts added (random_meta …),
            g.__dict__.setdefault(k, v)  # as the rewrite replay keeps them
        return g

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __getitem__(self, n: int) -> dict:
        return self.nx._node[n]  # the node's data dict (networkx's own storage, no view)

    def order(self) -> list[int]:
        """Node ids in topological order (ids only grow along edges)."""
        return sorted(self.nx.nodes)

    def count(self, role: str | None = None) -> int:
        """Number of nodes, or of nodes of one role (``"input"``, ``"adjoint"`` …)."""
        if role is None:
            return len(self)
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return sum(1 for _, r in self.nx.nodes(data="role") if r == role)

    def live(self) -> set[int]:
        """Nodes that outputs or guards depend on, and impure nodes (random draws always run,
        so compiled code draws as often as the Python function); the rest is dead code."""
        keep = set()
        stack = list(self.outputs) + [gd.node for gd in self.guards]
        nodes = self.nx._node
        ops = registry.OPS
        stack += [n for n, d in nodes.items() if d["op"] in ops and not ops[d["op"]].pure]
        while stack:
            n = stack.pop()
            if n in keep:
                continue
            keep.add(n)
            stack.extend(nodes[n]["args"])
        return keep

    def names(self) -> dict[int, str]:
        """Every node's display name, unique: when two nodes stand for the same thing (the
        adjoint of v4 from a first and a second expansion), the later one keeps ``v<id>``."""
        out, taken = {}, set()
        for n in self.order():
            name = self.name(n)
            if name in taken:
                name = f"v{n}"
            taken.add(name)
            out[n] = name
        return out

    def name(self, n: int) -> str:
        """Display name: user argument names for inputs, ``v3_bar``/``v3_dot`` for the
        adjoint/tangent that stands for node 3, ``v7`` otherwise."""
        nodes, suffixes, seen = self.nx._node, [], set()
        while True:  # follow "stands for" links (v3_bar_dot …); no recursion, no cycles
            d = nodes.get(n)
            if d is None:  # the node it stands for is gone (dead code): keep its id
                base = f"v{n}"
                break
            if d.get("name") and d["op"] == "input":
                base = d["name"]
                break
            of = d.get("of")
            if of is None or n in seen:
                base = f"v{n}"
                break
            seen.add(n)
            suffixes.append(of[1])
            n = of[0]
        return "_".join([base] + suffixes[::-1])

    def __str__(self) -> str:
        from .listing import listing

        return listing(self)

    def __repr__(self) -> str:
        return (f"<gg.Graph: {len(self)} nodes, {len(self.inputs)} inputs, "
                f"{len(self.outputs)} outputs, {len(self.guards)} guards>")

    def to_dot(self) -> str:
        """Graphviz DOT text; adjoint and tangent nodes are coloured and shaped apart."""
        from .listing import to_dot

        return to_dot(self)

    def _repr_svg_(self):
        from .listing import to_svg

        return to_svg(self)

    def evaluate(self, *args):
        """Evaluate with the slow reference interpreter (for checking generated code)."""
        from ..interp import evaluate

        return evaluate(self, *args)
