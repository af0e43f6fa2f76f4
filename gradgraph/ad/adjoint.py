"""Reverse mode: add adjoint nodes (``v3_bar``) to the graph, the course notes' "extended
graph". Nothing is computed here; every rule builds ordinary nodes, so the result can be
expanded again (second and n-th derivatives cost no extra code).
"""

from __future__ import annotations

import numpy as np

from ..errors import GradgraphError, GradgraphValueError
from ..graph.build import Builder
from ..ops.registry import IDENTITY, NEGATE, OPS


def active_nodes(g, wrt) -> set[int]:
    """Nodes whose value depends differentiably on ``wrt``: real floating dtype, reached
    through ops that have a derivative."""
    active = set(wrt)
    nodes = g.nx._node
    lo = min(wrt, default=0)
    for n in g.order():
        if n <= lo or n in active:
            continue
        d = nodes[n]
        if d["op"] in ("input", "const") or d["dtype"].kind != "f":
            continue
        if OPS[d["op"]].kind == "nondiff":
            continue
        if any(a in active for a in d["args"]):
            active.add(n)
    return active


def apply_partial(B, p, v):
    """Multiply ``v`` by an elementwise partial (see ``ops/elementwise.py``)."""
    if p is IDENTITY:
        return v
    if p is NEGATE:
        return B.negative(v)
    if callable(p):
        return p(B, v)
    return B.multiply(v, p)


def name_as(g, node, of, suffix):
    """Give ``node`` the display name ``<of>_<suffix>`` unless it already stands for
    something (or is an input or constant)."""
    d = g[node]
    if d["role"] in ("adjoint", "tangent") and "of" not in d:
        d["of"] = (of, suffix)


def expand_adjoint(g, wrt, seeds, nb=0, record=None):
    """Add adjoint nodes to ``g`` in place. ``seeds`` is a list of ``(output, cotangent)``
    node pairs; the cotangents carry ``nb`` leading batch axes. Returns ``{w: node}`` with
    the adjoint of every node of ``wrt`` (zeros where nothing flows).

    ``record`` (a dict, for ``gg.explain``) receives ``"bar"``: ``{node: its adjoint}`` and
    ``"terms"``: ``{node: [(consumer, contribution), ...]}`` in accumulation order."""
    nodes = g.nx._node
    order = g.order()
    active = active_nodes(g, wrt)
    wrt_set = set(wrt)
    ct: dict[int, int] = {}
    acc = Builder(g, "adjoint")
    for o, s in seeds:
        if o in active:
            acc.loc = nodes[o].get("loc")
            ct[o] = acc.add(ct[o], s) if o in ct else s
    for n in reversed(order):
        c = ct.get(n)
        if c is None or n in wrt_set and nodes[n]["op"] == "input":
            continue
        d = nodes[n]
        name_as(g, c, n, "bar")
        if record is not None:
            record.setdefault("bar", {})[n] = c
        B = Builder(g, "adjoint", d.get("loc"))
        args = d["args"]
        act = [a in active for a in args]
        spec = OPS[d["op"]]
        batch = B.shape(c)[:nb]
        if spec.kind == "elementwise":
            ps = spec.partials(B, args, n, act, **d["attrs"])
            if len(ps) != len(args):
                raise GradgraphError(f"op {d['op']}: partials gave {len(ps)} values for "
                                     f"{len(args)} inputs")
            contribs = [None if not f or p is None else
                        B.unbroadcast(apply_partial(B, p, c), B.shape(a), nb)
                        for a, p, f in zip(args, ps, act)]
        else:
            contribs = [spec.vjp(B, c, i, args, n, nb, **d["attrs"]) if f else None
                        for i, f in enumerate(act)]
        for a, v in zip(args, contribs):
            if v is None:
                continue
            want = batch + nodes[a]["shape"]
            if nodes[v]["shape"] != want:
                raise GradgraphError(
                    f"internal: the adjoint rule of {d['op']} gave shape {nodes[v]['shape']} "
                    f"for an input of shape {nodes[a]['shape']} (batch {batch})", loc=d.get("loc"))
            acc.loc = d.get("loc")
            ct[a] = acc.add(ct[a], v) if a in ct else v
            if record is not None:
                record.setdefault("terms", {}).setdefault(a, []).append((n, v))
    out = {}
    for w in wrt:
        d = nodes[w]
        c = ct.get(w)
        batch = _seed_batch(g, seeds, nb)
        if c is None:
            c = acc.zeros(batch + d["shape"], d["dtype"])
        c = Builder(g, "adjoint", d.get("loc")).cast(c, d["dtype"])
        if nodes[c]["role"] == "adjoint" and "of" not in nodes[c]:
            nodes[c]["of"] = (w, "bar")
        out[w] = c
    return out


def _seed_batch(g, seeds, nb):
    for o, s in seeds:
        return g[s]["shape"][:nb]
    return ()


def ones(B, shape, dtype):
    """A seed of ones: the literal ``1.0`` for a float64 scalar, else a zero-copy broadcast."""
    dtype = np.dtype(dtype)
    one = 1.0 if dtype == np.float64 else np.ones((), dtype)
    return B.const(one) if shape == () else B.broadcast_to(one, shape=tuple(shape))


def default_wrt(g) -> list[int]:
    """Every real floating input of ``g`` (captured outer values excluded)."""
    return [n for n in g.inputs if g[n]["dtype"].kind == "f" and not g[n].get("capture")]


def adjoint(g, wrt=None, seed=None):
    """``g`` plus adjoint nodes (reverse mode): a superset graph whose outputs are ``g``'s
    outputs followed by the adjoint of each node of ``wrt``.

    ``wrt`` defaults to every floating input; ``seed`` is the cotangent of the output (an
    array, or a node id of ``g``), by default 1 for a scalar output.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> ga = gg.adjoint(g)
    >>> ga.count("adjoint") > 0, [round(float(v), 3) for v in ga.evaluate(2.0, 5.0)[1]]
    (True, [5.5, 1.716])
    """
    g2 = g.copy()
    wrt = default_wrt(g2) if wrt is None else list(wrt)
    B = Builder(g2, "adjoint")
    if seed is None:
        if len(g2.outputs) != 1 or g2[g2.outputs[0]]["shape"] != ():
            raise GradgraphValueError(
                "gg.adjoint without a seed needs one scalar output; pass seed= (the output's "
                "cotangent) for other outputs")
        o = g2.outputs[0]
        seeds = [(o, ones(B, (), g2[o]["dtype"]))]
    else:
        seeds_in = seed if isinstance(seed, (list, tuple)) else [seed]
        seeds = [(o, s if isinstance(s, int) else B.const(np.asarray(s)))
                 for o, s in zip(g2.outputs, seeds_in, strict=True)]
    nb = len(g2[seeds[0][1]]["shape"]) - len(g2[seeds[0][0]]["shape"])
    cts = expand_adjoint(g2, wrt, seeds, nb)
    g2.outputs = list(g.outputs) + [cts[w] for w in wrt]
    g2.out_tree = ("tuple", (g.out_tree if g.out_tree is not None else
                             ("tuple", ("*",) * len(g.outputs)), ("tuple", ("*",) * len(wrt))))
    return g2
