"""The machinery behind the eager API (``gradgraph/eager.py`` is the public face): grad
mode, :class:`EagerTrace` (an always-open trace that records tensor operations as nodes of a
``gg.Graph``), merging two such graphs, and ``backward``: ``expand_adjoint`` adds adjoint
nodes to the same graph, and they are evaluated with the op table's implementations.

Memory: an operation whose inputs come from no live graph (only leaves and constants) opens
a new graph, one that meets two graphs merges the smaller into the larger, and a backward
without ``retain_graph`` frees the graph it ran through. Leaves are never owned by a graph,
so a training loop holds one step's graph at a time; a graph nobody refers to any more is
freed by reference counting.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .ad.adjoint import expand_adjoint, ones
from .errors import AutogradError, user_loc
from .graph.build import Builder
from .graph.core import Graph
from .ops.registry import OPS
from .trace.tracer import Trace, Tracer, trace_stack

SMALL = 64  # constants up to this many elements are copied into a graph (bigger: shared)

# -- grad mode ------------------------------------------------------------------------------

_state = threading.local()


def is_grad_enabled() -> bool:
    """False inside ``gg.no_grad()``.

    >>> import gradgraph as gg
    >>> from gradgraph.eager import is_grad_enabled
    >>> with gg.no_grad():
    ...     is_grad_enabled()
    False
    """
    return getattr(_state, "enabled", True)


class _GradMode(contextlib.ContextDecorator):
    _mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _state.enabled = self._mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False


class no_grad(_GradMode):  # noqa: N801  (the PyTorch name)
    """Context manager (or decorator) in which tensor operations record nothing and give
    tensors that do not require grad; in-place updates of leaves are allowed.

    >>> import numpy as np, gradgraph as gg
    >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> with gg.no_grad():
    ...     v = w * 3.0
    ...     w -= 0.5          # an optimizer step: in place, w stays the same leaf
    >>> v.requires_grad, w
    (False, tensor([0.5, 1.5], requires_grad=True))
    """

    _mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Turn recording back on inside ``no_grad``."""


class TensorBase(Tracer):
    """The state of an eager tensor (the public methods are on ``gg.Tensor``): its value
    (always an ndarray), whether it requires grad, and its graph node unless it is a leaf."""

    __slots__ = ("_req", "_grad", "_version", "_cow", "_op")

    @classmethod
    def _make(cls, value: np.ndarray, trace=None, node=None, req=False, op=None):
        t = cls.__new__(cls)
        t._trace = trace if trace is not None else _DETACHED
        t._node = node
        t._value = value
        t._req = req
        t._grad = None
        t._version = [0]  # shared with views and detached copies of the same storage
        t._cow = False  # the array is a graph's: copy it before changing it in place
        t._op = op
        return t

    def _resolve(self):
        """``(trace, node)`` after merges (``(None, None)`` for a leaf)."""
        T, n = self._trace, self._node
        if n is None:
            return None, None
        while T.forward is not None:
            T, m = T.forward
            n = m[n]
        self._trace, self._node = T, n
        return T, n

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype


# -- the trace ------------------------------------------------------------------------------


class EagerTrace(Trace):
    """An always-open trace: one graph, the values of its nodes, and which nodes depend
    differentiably on a leaf (``grad_nodes``). Leaves enter as input nodes."""

    tensor_type = TensorBase  # the class of the tensors it makes (gg.Tensor, set by eager.py)

    def __init__(self):
        super().__init__()
        self.grad_nodes: set[int] = set()
        self.leaf_of: dict[int, TensorBase] = {}  # input node -> the leaf tensor it stands for
        self._lifted: dict[int, int] = {}  # id(tensor) -> node (leaves and tensor consts)
        # values shared with tensors that may change in place: node -> [(counter, version)]
        self.tracked: dict[int, list] = {}
        self.forward: tuple[EagerTrace, dict] | None = None  # set when merged into another
        self.freed: str | None = None  # where backward freed it ("file:line")

    # -- choosing where to record ---------------------------------------------------------

    def recording(self, inputs) -> "EagerTrace":
        traces: list[EagerTrace] = []
        for x in inputs:
            if isinstance(x, TensorBase) and x._node is not None:
                T = x._resolve()[0]
                if not T.freed and all(T is not t for t in traces):
                    traces.append(T)
        if not traces:
            return EagerTrace()
        traces.sort(key=lambda t: len(t.g), reverse=True)
        for t in traces[1:]:
            traces[0].absorb(t)
        return traces[0]

    # -- values to nodes ------------------------------------------------------------------

    def lift(self, v) -> int:
        if isinstance(v, TensorBase):
            return self._lift_tensor(v)
        if isinstance(v, np.ndarray) and v.dtype != object and v.size <= SMALL:
            v = v.copy()  # the caller may change its array later; the graph keeps this one
        return super().lift(v)

    def _lift_tensor(self, t: "TensorBase") -> int:
        T, n = t._resolve()
        if not t._req or not is_grad_enabled():
            return self._const_of(t)
        if n is None:  # a leaf that requires grad: an input node, once per version
            k = self._lifted.get(id(t))
            if k is not None and self.leaf_of.get(k) is t and fresh(self.tracked[k]):
                return k
            k = self._input(t, leaf=True)
            self._lifted[id(t)] = k
            return k
        if T is not self and not T.freed:  # a live graph not chosen by recording(): merge
            self.absorb(T)
            T, n = t._resolve()
        if T is self:
            return n
        k = self._input(t)  # its graph was freed by backward: backward through it fails
        self.g[k]["freed"] = T.freed
        return k

    def _input(self, t: "TensorBase", leaf=False) -> int:
        k = self.g.input(t.shape, t.dtype, loc=user_loc())
        self.values[k] = t._value
        self.grad_nodes.add(k)
        if leaf:
            self.leaf_of[k] = t
            self.tracked[k] = [(t._version, t._version[0])]
        return k

    def _const_of(self, t: "TensorBase") -> int:
        k = self._lifted.get(id(t))
        if k is not None and self.g[k]["op"] == "const" and k in self.tracked \
                and self.tracked[k][0][0] is t._version and fresh(self.tracked[k]):
            return k
        a = t._value
        if a.size <= SMALL:
            return super().lift(a.copy())
        k = self.g.const(a.view())  # a new view: a new node if the array changed since
        self.values[k] = self.g[k]["value"]
        self.tracked[k] = [(t._version, t._version[0])]
        self._lifted[id(t)] = k
        return k

    # -- recording ----------------------------------------------------------------------

    def apply(self, op, inputs, attrs=None, loc=None):
        attrs = attrs or {}
        if OPS[op].kind == "nondiff" or not is_grad_enabled() or not any(
                isinstance(x, TensorBase) and x._req for x in inputs):
            with np.errstate(all="ignore"):
                value = OPS[op].impl(*(_raw(x) for x in inputs), **attrs)
            return _wrap(value, inputs)
        return self.tracer(super().apply(op, inputs, attrs, loc)._node)

    def apply_nodes(self, op, nodes, attrs=None, loc=None) -> "TensorBase":
        attrs = attrs or {}
        with np.errstate(all="ignore"):
            value = OPS[op].impl(*(self.values[n] for n in nodes), **attrs)
        n = self.g.add(op, nodes, attrs, loc=loc, shape=np.shape(value),
                       dtype=np.result_type(value))
        if n not in self.values:
            self.values[n] = value
            self._mark(n)
            if isinstance(value, np.ndarray) and value.base is not None:
                self._track_views(n, value)
        return self._bound(n)

    def guard(self, node, kind, expected, loc=None):
        pass  # eager code runs once: there is no compiled code whose path could change

    def _mark(self, n: int):
        d = self.g[n]
        if OPS[d["op"]].kind != "nondiff" and d["dtype"].kind == "f" and any(
                a in self.grad_nodes for a in d["args"]):
            self.grad_nodes.add(n)

    def _track_views(self, n: int, value: np.ndarray):
        """A view of a leaf's array (reshape, transpose, slicing) changes with the leaf."""
        for a in self.g[n]["args"]:
            if a in self.tracked and isinstance(self.values[a], np.ndarray) \
                    and np.may_share_memory(value, self.values[a]):
                self.tracked.setdefault(n, []).extend(self.tracked[a])

    def _bound(self, n: int) -> "TensorBase":
        return self.tensor_type._make(np.asarray(self.values[n]), self, n, n in self.grad_nodes,
                            self.g[n]["op"])

    def tracer(self, n: int) -> "TensorBase":
        """The user's tensor for node ``n``: bound to the graph if it requires grad, else a
        plain tensor (it needs no history)."""
        if n in self.grad_nodes and is_grad_enabled():
            return self._bound(n)
        t = self.tensor_type._make(np.asarray(self.values[n]))
        t._cow = True  # its array is the graph's: copy before changing it in place
        return t

    # -- merging and backward ------------------------------------------------------------

    def absorb(self, src: "EagerTrace"):
        """Merge ``src`` into this graph (see :func:`absorb`)."""
        absorb(self, src)

    def backward(self, root: int, gradient, retain: bool, create: bool, loc):
        seed_node = None
        if isinstance(gradient, TensorBase) and create and gradient._req:
            seed_node = self.lift(gradient)
        cts = adjoints(self, root, None if gradient is None else _raw(gradient), seed_node, loc)
        grads = []
        for w, c in cts.items():
            leaf = self.leaf_of.get(w)
            if leaf is not None:
                with enable_grad():
                    grads.append((leaf, self.tracer(c) if create else
                                  np.array(self.values[c], dtype=leaf.dtype)))
        if not retain:
            self.freed = loc or "?"
            drop(self)
        for leaf, new in grads:
            leaf._accumulate(new, create)


_DETACHED = EagerTrace()  # the trace of tensors that are in no graph (it never records)


# -- helpers -------------------------------------------------------------------------------


def _raw(x):
    return x._value if isinstance(x, TensorBase) else x


def _unwrap(x):
    """Tensors to their arrays, inside tuples, lists and dicts too."""
    if isinstance(x, TensorBase):
        return x._value
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _tensors(x, out):
    if isinstance(x, TensorBase):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for v in x:
            _tensors(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _tensors(v, out)
    return out


def _wrap(value, sources=()):
    """A result computed without recording, as a tensor (arrays inside tuples/lists too).
    A view of a source shares its storage: its version counter, or copy-on-write when the
    source's array belongs to a graph."""
    if isinstance(value, (tuple, list)):
        return type(value)(_wrap(v, sources) for v in value)
    if not isinstance(value, (np.ndarray, np.generic)) or np.asarray(value).dtype == object:
        return value
    t = EagerTrace.tensor_type._make(np.asarray(value))
    if isinstance(value, np.ndarray):
        for s in _tensors(list(sources), []):
            if np.may_share_memory(value, s._value):
                if s._node is not None or s._cow:
                    t._cow = True
                else:
                    t._version = s._version
                break
    return t


def _grad_wanted(args) -> bool:
    if trace_stack():
        return True  # inside a transform: the tracer records (the tensor is a constant there)
    found = _tensors(args, [])
    if any(not isinstance(x, TensorBase) for x in _tracers(args)):
        return True
    return is_grad_enabled() and any(t._req for t in found)


def _tracers(x):
    if isinstance(x, Tracer):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _tracers(v)]
    return []


# -- merging and backward ---------------------------------------------------------------


def fresh(entries) -> bool:
    """True when no tracked array (``(version counter, version when used)``) changed."""
    return all(c[0] == v for c, v in entries)


def drop(T):
    """Forget ``T``'s nodes and saved values (tensors keep their own values)."""
    T.g, T.values, T.grad_nodes = Graph(), {}, set()
    T.leaf_of, T._lifted, T.tracked = {}, {}, {}


def absorb(dst, src):
    """Copy ``src``'s nodes (and values) into ``dst``; tensors of ``src`` find their new node
    through ``src.forward`` the next time they are used."""
    m: dict[int, int] = {}
    g, sg = dst.g, src.g
    for n in sg.order():
        d = sg[n]
        op = d["op"]
        if op == "input":
            leaf = src.leaf_of.get(n)
            k = dst._lifted.get(id(leaf)) if leaf is not None else None
            if k is None or dst.leaf_of.get(k) is not leaf or \
                    dst.tracked[k][0][1] != src.tracked[n][0][1]:
                k = g.input(d["shape"], d["dtype"], loc=d.get("loc"))
                if d.get("freed"):
                    g[k]["freed"] = d["freed"]
                dst.values[k] = src.values[n]
                if leaf is not None:
                    dst.leaf_of[k] = leaf
                    dst._lifted.setdefault(id(leaf), k)
        elif op == "const":
            k = g.const(d["value"])
            dst.values.setdefault(k, d["value"])
        else:
            k = g.add(op, [m[a] for a in d["args"]], d["attrs"], role=d["role"],
                      loc=d.get("loc"), shape=d["shape"], dtype=d["dtype"])
            if n in src.values:
                dst.values.setdefault(k, src.values[n])
            if "of" in d and d["of"][0] in m and "of" not in g[k]:
                g[k]["of"] = (m[d["of"][0]], d["of"][1])
        if n in src.grad_nodes:
            dst.grad_nodes.add(k)
        if n in src.tracked and not (op == "input" and dst.tracked.get(k) == src.tracked[n]):
            dst.tracked.setdefault(k, []).extend(src.tracked[n])
        m[n] = k
    src.forward = (dst, m)
    drop(src)


def reached_inputs(T, root: int) -> list[int]:
    """Input nodes the root depends on differentiably (those backward will reach)."""
    nodes, gn = T.g.nx._node, T.grad_nodes
    seen, out, stack = set(), [], [root]
    while stack:
        n = stack.pop()
        if n in seen or n not in gn:
            continue
        seen.add(n)
        if nodes[n]["op"] == "input":
            out.append(n)
        else:
            stack.extend(nodes[n]["args"])
    return sorted(out)


def adjoints(T, root: int, seed, seed_node, loc) -> dict[int, int]:
    """Expand the adjoint of ``root`` (seeded with ones, the array ``seed``, or the node
    ``seed_node``) into ``T``'s graph and evaluate it: ``{input node: adjoint node}``."""
    g = T.g
    wrt = reached_inputs(T, root)
    for w in wrt:
        if g[w].get("freed"):
            raise AutogradError(
                "trying to backward through a graph a second time: a tensor on this path "
                f"comes from a graph that .backward() at {g[w]['freed']} already freed. Pass "
                "retain_graph=True to the first backward to keep the graph, or recompute the "
                "forward pass", loc=loc)
    B = Builder(g, "adjoint", g[root].get("loc"))
    if seed_node is not None:
        s = seed_node
    elif seed is None:
        s = ones(B, g[root]["shape"], g[root]["dtype"])
    else:
        s = B.const(np.array(seed, dtype=g[root]["dtype"]))  # a copy: never a stale node
    cts = expand_adjoint(g, wrt, [(root, s)])
    evaluate(T, [cts[w] for w in wrt], loc)
    g.outputs = [root] + [cts[w] for w in wrt]  # so that print(t.graph) shows them
    return cts


def evaluate(T, targets, loc):
    """Compute the values of the new (adjoint) nodes that ``targets`` need, after checking
    that no value they read was changed in place since it was recorded."""
    nodes, values = T.g.nx._node, T.values
    need, stack = set(), list(targets)
    while stack:
        n = stack.pop()
        if n in need or n in values:
            continue
        need.add(n)
        stack.extend(nodes[n]["args"])
    for n in need:
        for a in nodes[n]["args"]:
            if a not in need and a in T.tracked and not fresh(T.tracked[a]):
                raise AutogradError(
                    "a value the gradient needs was changed in place after it was used (the "
                    f"tensor used at {nodes[a].get('loc') or '?'}). Change tensors in place "
                    "(an optimizer step under gg.no_grad()) only after backward, or write "
                    "w = w - lr * g", loc=loc)
    with np.errstate(all="ignore"):
        for n in sorted(need):
            d = nodes[n]
            if d["op"] == "const":
                values[n] = d["value"]
            else:
                values[n] = OPS[d["op"]].impl(*(values[a] for a in d["args"]), **d["attrs"])
                T._mark(n)
