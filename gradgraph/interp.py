"""The reference interpreter: evaluate a graph node by node with each op's ``impl``.

Slow and obviously right; tests compare generated code against it.
"""

from __future__ import annotations

import numpy as np

from .errors import GradgraphValueError, GuardError, user_loc
from .ops.registry import OPS
from .trace.pytree import flatten, unflatten
from .trace.random import rng_arguments, split_rng_args


def evaluate(g, *args, check_guards: bool = True):
    """Evaluate ``g`` on ``args`` (the same pytree structure the graph was traced with).

    >>> import numpy as np, gradgraph as gg
    >>> g = gg.trace(lambda x: np.sin(x) * 2.0, 1.0)
    >>> round(float(g.evaluate(0.5)), 6)
    0.958851
    """
    args, rngs = split_rng_args(args)  # generator arguments (trace/random.py)
    passed = rng_arguments(g, rngs)  # the generator a call passes in stands for the traced one
    leaves, tree = flatten(args)
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    if len(leaves) != len(inputs) or g.in_tree is not None and tree != g.in_tree:
        # a graph is specialised to its arguments' structure: another one (even with as
        # many leaves) would bind values to the wrong inputs
        raise GradgraphValueError(
            f"the graph was traced for arguments of structure {g.in_tree} ({len(inputs)} "
            f"array leaves), got {tree} ({len(leaves)}); trace again for these arguments",
            loc=user_loc())
    env: dict[int, object] = {}
    for n, v in zip(inputs, leaves):
        if np.shape(v) != g[n]["shape"]:  # NumPy would broadcast it into wrong numbers
            raise GradgraphValueError(
                f"input {g.name(n)} was traced with shape {g[n]['shape']}, got "
                f"{np.shape(v)}; trace again for this shape", loc=user_loc())
        env[n] = np.float64(v) if g[n].get("pytype") else v
    guards: dict[int, list] = {}
    for gd in g.guards:
        guards.setdefault(gd.node, []).append(gd)
    live = g.live()
    for n in sorted(live):
        d = g[n]
        if d["op"] == "input":
            if n not in env:
                raise ValueError(f"input {g.name(n)} has no value (a captured outer value)")
            continue
        if d["op"] == "const":
            env[n] = passed.get(id(d["value"]), d["value"]) if passed else d["value"]
        else:
            env[n] = OPS[d["op"]].impl(*(env[a] for a in d["args"]), **d["attrs"])
        for gd in guards.get(n, ()) if check_guards else ():
            got = bool(env[n]) if gd.kind == "bool" else np.asarray(env[n]).item()
            same = got == gd.expected or (got != got and gd.expected != gd.expected)
            if not same:
                raise GuardError(f"guard failed: traced with {gd.expected!r}, now {got!r}",
                                 loc=gd.loc)
    outs = [env[o] for o in g.outputs]
    return unflatten(g.out_tree, outs) if g.out_tree is not None else tuple(outs)
