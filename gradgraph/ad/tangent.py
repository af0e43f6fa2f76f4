"""Forward mode: add tangent nodes (``v3_dot``) in topological order, from the same
per-op partials (elementwise ops) and linear rules (``jvp``) that reverse mode uses."""

from __future__ import annotations

import numpy as np

from ..errors import GradgraphError
from ..graph.build import Builder
from ..ops.registry import OPS
from .adjoint import active_nodes, apply_partial, default_wrt, name_as


def expand_tangent(g, directions: dict, nb: int = 0) -> dict:
    """Add tangent nodes to ``g`` in place. ``directions`` maps input nodes to tangent nodes
    (with ``nb`` leading batch axes). Returns ``{node: tangent}`` for every node reached."""
    nodes = g.nx._node
    order = g.order()
    active = active_nodes(g, list(directions))
    tan = dict(directions)
    for n in order:
        if n in tan or n not in active:
            continue
        d = nodes[n]
        args = d["args"]
        ts = [tan.get(a) for a in args]
        if all(t is None for t in ts):
            continue
        B = Builder(g, "tangent", d.get("loc"))
        batch = next(B.shape(t)[:nb] for t in ts if t is not None)
        want = batch + d["shape"]
        spec = OPS[d["op"]]
        if spec.kind == "elementwise":
            ps = spec.partials(B, args, n, [t is not None for t in ts], **d["attrs"])
            if len(ps) != len(args):
                raise GradgraphError(f"op {d['op']}: partials gave {len(ps)} values for "
                                     f"{len(args)} inputs")
            terms = []
            for t, p in zip(ts, ps):
                if t is None or p is None:
                    continue
                if nb and len(nodes[t]["shape"]) - nb < len(d["shape"]):
                    t = B.broadcast_batched(t, d["shape"], nb)
                terms.append(apply_partial(B, p, t))
            if not terms:
                continue
            r = terms[0]
            for t in terms[1:]:
                r = B.add(r, t)
            if nodes[r]["shape"] != want:
                r = B.broadcast_to(r, shape=want)
        else:
            r = spec.jvp(B, ts, args, n, nb, **d["attrs"])
            if r is None:
                continue
        if nodes[r]["shape"] != want:
            raise GradgraphError(
                f"internal: the tangent rule of {d['op']} gave shape {nodes[r]['shape']}, "
                f"expected {want}", loc=d.get("loc"))
        if nodes[r]["dtype"] != d["dtype"] and d["dtype"].kind == "f":
            r = B.cast(r, d["dtype"])
        name_as(g, r, n, "dot")
        tan[n] = r
    return tan


def tangent(g, wrt=None, direction=None):
    """``g`` plus tangent nodes (forward mode): a superset graph whose outputs are ``g``'s
    outputs followed by the tangent of each output.

    ``wrt`` defaults to every floating input; ``direction`` gives one tangent per node of
    ``wrt`` (arrays, or node ids of ``g``), by default new inputs named ``<input>_dot``.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> gt = gg.tangent(g, wrt=[g.inputs[0]], direction=[1.0])
    >>> round(float(gt.evaluate(2.0, 5.0)[1]), 3)
    5.5
    """
    g2 = g.copy()
    wrt = default_wrt(g2) if wrt is None else list(wrt)
    B = Builder(g2, "tangent")
    if direction is None:
        dirs = {}
        for w in wrt:
            d = g2[w]
            t = g2.input(d["shape"], d["dtype"], name=f"{g2.name(w)}_dot")
            dirs[w] = t
        if g2.in_tree is not None:
            g2.in_tree = ("tuple", tuple(g2.in_tree[1]) + ("*",) * len(wrt))
            g2.arg_names = list(g2.arg_names or []) + [g2[dirs[w]]["name"] for w in wrt]
    else:
        dirs_in = direction if isinstance(direction, (list, tuple)) else [direction]
        dirs = {w: (t if isinstance(t, int) else B.const(
            np.asarray(t, dtype=g2[w]["dtype"]) if np.ndim(t) else float(t)))
            for w, t in zip(wrt, dirs_in, strict=True)}
    tan = expand_tangent(g2, dirs, 0)
    outs = []
    for o in g.outputs:
        t = tan.get(o)
        if t is None:
            t = B.zeros(g2[o]["shape"], g2[o]["dtype"])
        outs.append(t)
    g2.outputs = list(g.outputs) + outs
    tree = g.out_tree if g.out_tree is not None else ("tuple", ("*",) * len(g.outputs))
    g2.out_tree = ("tuple", (tree, tree))
    return g2
