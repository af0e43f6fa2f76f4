"""Buffers of the generated code: which values own a fresh array, which are views, which
dead array a ufunc may write its result into (``out=``), and an estimate of peak memory.

The generated code frees every value right after its last use (``del``). On top of that, an
elementwise arithmetic op whose operand dies at that op, owns its array (no view of it is
alive) and has the result's shape and dtype, writes into it: ``x_bar = np.add(v11, v13,
out=v11)``. That saves an allocation (and, for big arrays, the page faults of a fresh one).
Transcendental ufuncs are left alone: NumPy's SIMD loops for them run slower in place.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops.registry import OPS

INPLACE_MIN_SIZE = 4096  # elements; below this an allocation costs less than out='s overhead
INPLACE_OPS = frozenset({"add", "subtract", "multiply", "divide", "negative"})
# ops whose result is a new array of its own (everything else may be a view or an alias)
_FRESH = frozenset({"matmul", "dot", "sum", "mean", "max", "min", "prod", "var", "std",
                    "zeros", "eye", "index_add", "concatenate", "stack", "where", "clip",
                    "astype", "einsum", "tensordot", "outer", "inner", "trace"})


def owns_buffer(op: str) -> bool:
    spec = OPS.get(op)
    if spec is None:
        return False
    return op in _FRESH or (isinstance(spec.impl, np.ufunc) and spec.pure)


def _size(d) -> int:
    return math.prod(d["shape"])


def inplace_plan(g, order, last, keep) -> dict[int, int]:
    """``{node: operand position}`` for the nodes that write into a dying operand."""
    nodes = g.nx._node
    succ = g.nx._succ
    plan: dict[int, int] = {}
    for n in order:
        d = nodes[n]
        if d["op"] not in INPLACE_OPS or not d["shape"] or _size(d) < INPLACE_MIN_SIZE:
            continue
        for k, a in enumerate(d["args"]):
            da = nodes[a]
            if (last.get(a) != n or a in keep or da["op"] in ("input", "const")
                    or da["shape"] != d["shape"] or da["dtype"] != d["dtype"]
                    or not owns_buffer(da["op"])):
                continue
            if _no_live_view(nodes, succ, last, keep, a, n):
                plan[n] = k
                break
    return plan


def _no_live_view(nodes, succ, last, keep, a, n) -> bool:
    """No view of ``a`` (reshape, transpose, getitem ..., and views of those) is still
    needed after node ``n``: it would see the write."""
    stack = [a]
    seen = set()
    while stack:
        b = stack.pop()
        for c in succ[b]:
            if c in seen or owns_buffer(nodes[c]["op"]):
                continue
            seen.add(c)
            if c in keep or last.get(c, c) >= n:
                return False
            stack.append(c)
    return True


def peak_bytes(g) -> dict:
    """Estimate the memory the generated code of ``g`` holds, freeing each value after its
    last use as the code does: ``{"peak": bytes, "inputs": bytes, "outputs": bytes}``.
    Views and in-place results count nothing; every other array counts its size.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.grad(lambda x: np.sum(np.tanh(x) ** 2)).graph(np.ones(1000))
    >>> est = peak_bytes(g)
    >>> est["inputs"], est["outputs"], 8000 <= est["peak"] <= 32000
    (8000, 8000, True)
    """
    nodes = g.nx._node
    live = g.live()
    order = sorted(live | set(g.inputs))
    last: dict[int, int] = {}
    for n in order:
        for a in nodes[n]["args"]:
            last[a] = n
    keep = set(g.outputs) | set(g.inputs)
    plan = inplace_plan(g, order, last, keep)
    frees: dict[int, list[int]] = {}
    for a, n in last.items():
        if a not in keep:
            frees.setdefault(n, []).append(a)
    own: dict[int, int] = {}  # node -> bytes it owns
    cur = peak = 0
    for n in order:
        d = nodes[n]
        if d["op"] not in ("input", "const") and n not in plan and owns_buffer(d["op"]):
            own[n] = _size(d) * d["dtype"].itemsize
            cur += own[n]
        elif n in plan:  # takes over its operand's buffer
            a = d["args"][plan[n]]
            own[n] = own.pop(a, 0)
        peak = max(peak, cur)
        for a in frees.get(n, ()):
            cur -= own.pop(a, 0)
    size = lambda ns: sum(_size(nodes[n]) * nodes[n]["dtype"].itemsize for n in ns)  # noqa
    return {"peak": peak, "inputs": size(g.inputs), "outputs": size(set(g.outputs))}
