"""``gg.simplify``: the rewrite pipeline, an explicit ordered list of passes.

========  ==========================================================================
pass      what it does
========  ==========================================================================
rewrite   one bottom-up replay into a fresh graph: CSE by interning (nodes that become
          identical once their operands are rewritten merge), then the named rules of
          :data:`gradgraph.rewrite.rules.RULES`, in order, first hit wins
algebra   opt-in (``gg.config.simplify = "algebra"``): collect like terms into polynomials,
          write them in Horner form, then ``rewrite`` again. Exact only to rounding.
dce       drop what no output, guard or impure op (random draws) needs; inputs stay
========  ==========================================================================

The rewrite pass runs again while it still finds something (at most ``MAX_ROUNDS``); on
derivative graphs a second round rarely hits. Hit counts per rule are kept on the result
(``g.rewrite_stats``, printable). Switch the passes off inside the transforms with
``gg.config.simplify = False`` (or ``with gg.config.options(simplify=False): ...``).
"""

from __future__ import annotations

from collections import Counter

from .replay import dce, replay  # noqa: F401  (dce: also public)
from .rules import RULES, rules_by_op

MAX_ROUNDS = 1  # bottom-up with rules on already-rewritten operands: one round is a fixpoint
PASSES = ("rewrite", "algebra (opt-in)", "dce")  # the order, for docs and for printing
_TABLE = None


class RewriteStats:
    """Hit counts of one ``gg.simplify`` call: ``stats["mul-one"]``, ``print(stats)``."""

    def __init__(self, before: int):
        self.before = before
        self.after = before
        self.rounds = 0
        self.hits: Counter = Counter()

    def __getitem__(self, name: str) -> int:
        return self.hits[name]

    def __str__(self) -> str:
        lines = [f"simplify: {self.before} -> {self.after} nodes in {self.rounds} round(s)"]
        names = ["cse"] + [r.name for r in RULES] + ["dce"]
        names += sorted(k for k in self.hits if k not in names)
        for k in names:
            if self.hits[k]:
                lines.append(f"  {k:<24}{self.hits[k]:>8}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<RewriteStats {self.before} -> {self.after} nodes>"


def _rounds(cur, table, stats):
    for _ in range(MAX_ROUNDS):
        hits = Counter()
        cur = replay(cur, table, hits)
        stats.rounds += 1
        stats.hits.update(hits)
        if not any(v for k, v in hits.items() if k != "dce" and not k.startswith("rejected")):
            break
    return cur


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = rules_by_op(RULES)
    return _TABLE


def simplify(g, inplace: bool = False, rules=None, algebra: bool | None = None):
    """CSE, constant folding, algebraic rewrites that never change a value, and dead-code
    elimination. ``algebra=True`` (or ``gg.config.simplify = "algebra"``) adds the opt-in
    pass of :mod:`gradgraph.rewrite.algebra`, which collects like terms and is exact only to
    rounding. Inputs (their ids and order), guards, ``stop_gradient`` and impure nodes,
    roles, ``of`` names and ``loc`` of surviving nodes are kept. ``g.rewrite_stats`` on the
    result holds the hit count of every rule.

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x: (np.sin(x), np.cos(x))[0], 1.0)
    >>> len(g), len(gg.simplify(g))
    (3, 2)
    >>> g = gg.trace(lambda x: -(-x) * 1.0 + np.sin(x) ** 2, 0.5)
    >>> s = gg.simplify(g)
    >>> [s[n]["op"] for n in s.order()]
    ['input', 'sin', 'multiply', 'add']
    >>> s.rewrite_stats["neg-neg"], s.rewrite_stats["pow-small-int"]
    (1, 1)
    """
    if algebra is None:
        from .. import config

        algebra = config.simplify == "algebra"
    table = _table() if rules is None else rules_by_op(rules)
    stats = RewriteStats(len(g))
    cur = _rounds(g, table, stats)
    if algebra:
        from .algebra import algebra as collect

        cand = _rounds(collect(cur, stats.hits), table, stats)
        if len(cand) <= len(cur):  # collecting may not pay (many atoms): keep the smaller
            cur = cand
        else:
            stats.hits["algebra kept out"] += 1
    stats.after = len(cur)
    cur.rewrite_stats = stats
    if inplace:
        g.__dict__.clear()
        g.__dict__.update(cur.__dict__)
        return g
    return cur
