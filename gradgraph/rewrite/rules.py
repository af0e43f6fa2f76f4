"""The rewrite rules, as data: each :class:`Rule` has a name, the ops it looks at, and a
function ``fn(cx, op, args, attrs, d) -> new node id | None`` (``cx`` is the
:class:`~gradgraph.rewrite.replay.Replay`, ``args`` are already-rewritten operands, ``d`` the
old node's data, whose shape and dtype the replacement must keep).

Every rule gives bit-for-bit the same values as the node it replaces, NaN, inf and the sign of
zero included, with one documented exception (``pow-small-int``: NumPy's own array fast path
computes ``x ** 2`` as ``x * x`` and ``x ** -1`` as ``1 / x``; for 0-d values NumPy calls C
``pow``, which can differ from the correctly rounded ``x * x`` by one ulp). Hence what is NOT
here: ``x * 0 -> 0`` and ``x - x -> 0`` (wrong for NaN and inf), ``x + 0.0 -> x`` (turns -0.0
into 0.0; ``x + -0.0`` and ``x - 0.0`` are exact and are here), reassociation
``(x * a) * b -> x * (a * b)`` (rounding, overflow), and ``x ** 3 -> x * x * x`` (two roundings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ops.registry import OPS

FOLD_LIMIT = 4096  # constant folding makes arrays of at most this many elements
NO_FOLD = {"stop_gradient"}  # kept for enclosing transforms (derivatives must not flow)


@dataclass(frozen=True)
class Rule:
    name: str
    ops: tuple  # op names it applies to; ("*",) = every op
    fn: Callable
    doc: str
    # the rule can only fire when some operand's op is one of these (None: always); a cheap
    # test that keeps the walk fast on the many nodes no rule touches
    arg_ops: frozenset | None = None

    def __repr__(self):
        return f"Rule({self.name!r}: {self.doc})"


def _same_aval(cx, n, d) -> bool:
    nd = cx.node(n)
    return nd["shape"] == d["shape"] and nd["dtype"] == d["dtype"]


def _as(cx, n, d):
    """``n`` itself when it already has ``d``'s aval, a broadcast view when only the shape
    differs, else None (a dtype change would need a cast: not this rule's business)."""
    nd = cx.node(n)
    if nd["dtype"] != d["dtype"]:
        return None
    if nd["shape"] == d["shape"]:
        return n
    return cx.make("broadcast_to", n, shape=d["shape"])


def _is(u, value) -> bool:
    """The uniform value ``u`` equals ``value`` (NaN never does; -0.0 vs 0.0 is checked)."""
    if u is None:
        return False
    try:
        v = complex(np.asarray(u).item())
    except (TypeError, ValueError):
        return False
    if v != value:
        return False
    if value == 0 and isinstance(value, float):
        return math.copysign(1.0, v.real) == math.copysign(1.0, value)
    return True


def _float(cx, n) -> bool:
    return cx.node(n)["dtype"].kind == "f"


# -- constant folding ----------------------------------------------------------------------


def _fold(cx, op, args, attrs, d):
    spec = OPS[op]
    if op in NO_FOLD or not spec.pure:
        return None
    nodes = cx.new.nx._node
    if not all(nodes[a]["op"] == "const" for a in args):
        return None
    size = math.prod(d["shape"])
    if size > FOLD_LIMIT or (size > 64 and op in ("zeros", "eye")) or op == "broadcast_to":
        return None  # a broadcast stays a zero-copy view (operands use its scalar)
    with np.errstate(all="ignore"):
        try:
            r = spec.impl(*(nodes[a]["value"] for a in args), **attrs)
        except Exception:  # leave the error to run time, where the user sees it
            return None
    if np.shape(r) != d["shape"] or np.result_type(r) != d["dtype"]:
        return None
    if d["shape"] == ():
        return cx.scalar(r, d["dtype"])
    return cx.const(np.array(r, dtype=d["dtype"]))


def _elementwise(op) -> bool:
    spec = OPS[op]
    return spec.kind == "elementwise" or (spec.kind == "nondiff" and isinstance(spec.impl, np.ufunc))


def _fold_uniform(cx, op, args, attrs, d):
    """``op(broadcast_to(c, s), k)`` for elementwise ops: fold on the scalars, then broadcast
    (the seeds of ones that reverse mode makes, scaled by the ``mean`` rule's count)."""
    if not _elementwise(op) or not args or d["shape"] == ():
        return None
    vals = [cx.uniform(a) for a in args]
    if any(v is None for v in vals):
        return None
    with np.errstate(all="ignore"):
        try:
            r = OPS[op].impl(*vals, **attrs)
        except Exception:
            return None
    if np.result_type(r) != d["dtype"]:
        return None
    return cx.make("broadcast_to", cx.scalar(r, d["dtype"]), shape=d["shape"])


def _scalar_for_broadcast(cx, op, args, attrs, d):
    """An operand ``broadcast_to(c, s)`` of an elementwise op becomes the scalar ``c`` when the
    other operands already give the output's shape: NumPy broadcasts a scalar for free."""
    if not _elementwise(op) or len(args) < 2:
        return None
    nodes = cx.new.nx._node
    for i, a in enumerate(args):
        if nodes[a]["op"] != "broadcast_to":
            continue
        others = [nodes[b]["shape"] for j, b in enumerate(args) if j != i]
        if np.broadcast_shapes(*others) != d["shape"]:
            continue
        u = cx.uniform(a)
        if u is None:
            continue
        new_args = list(args)
        new_args[i] = cx.scalar(u, nodes[a]["dtype"])
        return cx.make(op, *new_args, **attrs)
    return None


# -- multiplying and dividing by one, adding zero --------------------------------------------


def _mul_one(cx, op, args, attrs, d):
    a, b = args
    for x, u in ((a, cx.uniform(b)), (b, cx.uniform(a))):
        if _is(u, 1):
            return _as(cx, x, d)
    return None


def _mul_minus_one(cx, op, args, attrs, d):
    a, b = args
    for x, u in ((a, cx.uniform(b)), (b, cx.uniform(a))):
        if _is(u, -1) and _float(cx, x) and cx.node(x)["shape"] == d["shape"]:
            return cx.make("negative", x)
    return None


def _pow2_at_least_one(v) -> bool:
    m, e = math.frexp(v)
    return abs(m) == 0.5 and e >= 1  # +-2**k, k >= 0


def _mul_const_chain(cx, op, args, attrs, d):
    """``c1 * (c2 * x) -> (c1 * c2) * x`` when ``c2 = +-2**k`` (k >= 0) and ``|c1| >= 1``:
    then ``c2 * x`` is exact, ``c1 * c2`` is exact, and ``c2 * x`` overflows only where the
    product does too, so the one rounding left is the same (the power rule's ``2 * x``
    under a constant cotangent, as in ``100 * (2 * t)``)."""
    for outer, inner in ((args[0], args[1]), (args[1], args[0])):
        c1 = cx.uniform(outer)
        ni = cx.node(inner)
        if c1 is None or ni["op"] != "multiply" or not cx.is_scalar_const(outer):
            continue
        for k, x in ((0, ni["args"][1]), (1, ni["args"][0])):
            c2n = ni["args"][k]
            if not cx.is_scalar_const(c2n) or not _float(cx, x):
                continue
            try:
                f1, f2 = float(np.asarray(c1)), float(np.asarray(cx.uniform(c2n)))
            except (TypeError, ValueError):
                continue
            if (math.isfinite(f1) and abs(f1) >= 1 and _pow2_at_least_one(f2)
                    and math.isfinite(f1 * f2) and cx.node(x)["shape"] == d["shape"]):
                return cx.make("multiply", cx.scalar(f1 * f2, d["dtype"]), x)
    return None


def _div_one(cx, op, args, attrs, d):
    a, b = args
    if _is(cx.uniform(b), 1):
        return _as(cx, a, d)
    return None


def _add_neg_zero(cx, op, args, attrs, d):
    a, b = args
    for x, u in ((a, cx.uniform(b)), (b, cx.uniform(a))):
        if _is(u, -0.0):
            return _as(cx, x, d)
    return None


def _sub_zero(cx, op, args, attrs, d):
    a, b = args
    if _is(cx.uniform(b), 0.0):
        return _as(cx, a, d)
    return None


# -- negation --------------------------------------------------------------------------------


def _neg_arg(cx, n):
    nd = cx.node(n)
    return nd["args"][0] if nd["op"] == "negative" else None


def _neg_neg(cx, op, args, attrs, d):
    x = _neg_arg(cx, args[0])
    return x if x is not None and _float(cx, x) else None


def _add_neg(cx, op, args, attrs, d):
    a, b = args
    na, nb = _neg_arg(cx, a), _neg_arg(cx, b)
    if na is not None and nb is not None:
        return cx.make("negative", cx.make("add", na, nb))
    if nb is not None:
        return cx.make("subtract", a, nb)
    if na is not None:
        return cx.make("subtract", b, na)
    return None


def _sub_neg(cx, op, args, attrs, d):
    a, b = args
    na, nb = _neg_arg(cx, a), _neg_arg(cx, b)
    if na is not None and nb is not None:
        return cx.make("subtract", nb, na)
    if nb is not None:
        return cx.make("add", a, nb)
    if na is not None:
        return cx.make("negative", cx.make("add", na, b))
    return None


def _neg_out_of_product(cx, op, args, attrs, d):
    """IEEE rounding is symmetric in sign: ``(-a) * b == -(a * b)``, so negations move
    outwards, where they meet and cancel."""
    a, b = args
    na, nb = _neg_arg(cx, a), _neg_arg(cx, b)
    if na is not None and nb is not None:
        return cx.make(op, na, nb)
    if na is not None and _float(cx, na):
        return cx.make("negative", cx.make(op, na, b))
    if nb is not None and _float(cx, nb):
        return cx.make("negative", cx.make(op, a, nb))
    return None


# -- powers ----------------------------------------------------------------------------------


def _pow_small_int(cx, op, args, attrs, d):
    x, y = args
    if not _float(cx, x) or cx.node(x)["shape"] != d["shape"]:
        return None
    u = cx.uniform(y)
    if _is(u, 1):
        return _as(cx, x, d)
    if _is(u, 2):
        return cx.make("multiply", x, x)
    if _is(u, -1):
        return cx.make("divide", cx.scalar(1.0, d["dtype"]), x)
    if _is(u, 0):  # pow(x, 0) is 1 for every x, NaN included
        one = cx.scalar(1.0, d["dtype"])
        return one if d["shape"] == () else cx.make("broadcast_to", one, shape=d["shape"])
    return None


# -- structure -------------------------------------------------------------------------------


def _noop_structural(cx, op, args, attrs, d):
    nd = cx.node(args[0])
    if nd["shape"] != d["shape"] or nd["dtype"] != d["dtype"]:
        return None
    if op == "transpose" and tuple(attrs["axes"]) != tuple(range(len(d["shape"]))):
        return None
    return args[0]


def _transpose_transpose(cx, op, args, attrs, d):
    inner = cx.node(args[0])
    if inner["op"] != "transpose":
        return None
    a, b = inner["attrs"]["axes"], attrs["axes"]
    axes = tuple(a[i] for i in b)
    x = inner["args"][0]
    if axes == tuple(range(len(axes))):
        return x
    return cx.make("transpose", x, axes=axes)


def _reshape_chain(cx, op, args, attrs, d):
    inner = cx.node(args[0])
    if inner["op"] == "reshape":
        x = inner["args"][0]
        return x if cx.node(x)["shape"] == d["shape"] else cx.make("reshape", x,
                                                                    shape=d["shape"])
    return None


def _uniform_structure(cx, op, args, attrs, d):
    """``reshape``/``broadcast_to`` of a value that is one constant everywhere becomes a
    broadcast of that scalar (``np.reshape(1.0, (1, 1))`` feeding ``broadcast_to``)."""
    if d["shape"] == ():
        return None
    inner = cx.node(args[0])
    if inner["shape"] == () and inner["op"] == "const" and op == "broadcast_to":
        return None  # already the canonical form
    u = cx.uniform(args[0])
    if u is None:
        return None
    return cx.make("broadcast_to", cx.scalar(u, d["dtype"]), shape=d["shape"])


def _broadcast_chain(cx, op, args, attrs, d):
    inner = cx.node(args[0])
    if inner["op"] == "broadcast_to":
        return cx.make("broadcast_to", inner["args"][0], shape=d["shape"])
    return None


# -- the ordered list ------------------------------------------------------------------------

_EVERY = ("*",)
_CONSTISH = frozenset({"const", "broadcast_to", "reshape"})  # where uniform values come from
_NEG = frozenset({"negative"})
RULES: tuple[Rule, ...] = (
    Rule("fold-constants", _EVERY, _fold,
         "a pure op on constants is computed now (up to 4096 elements; not stop_gradient, "
         "not broadcast_to)", frozenset({"const", None})),
    Rule("fold-uniform", _EVERY, _fold_uniform,
         "an elementwise op on broadcast constants: fold the scalars, broadcast the result",
         _CONSTISH),
    Rule("noop-structural", ("reshape", "broadcast_to", "transpose", "astype"), _noop_structural,
         "reshape/broadcast/transpose/cast that changes nothing is its operand"),
    Rule("uniform-structure", ("reshape", "broadcast_to"), _uniform_structure,
         "reshape/broadcast of a constant-everywhere value is a broadcast of its scalar",
         _CONSTISH),
    Rule("transpose-transpose", ("transpose",), _transpose_transpose,
         "two transposes compose into one (or none)", frozenset({"transpose"})),
    Rule("reshape-reshape", ("reshape",), _reshape_chain, "reshape of reshape is one reshape",
         frozenset({"reshape"})),
    Rule("broadcast-broadcast", ("broadcast_to",), _broadcast_chain,
         "broadcast of broadcast is one broadcast", frozenset({"broadcast_to"})),
    Rule("mul-one", ("multiply",), _mul_one, "x * 1 and 1 * x (seeds of ones) are x",
         _CONSTISH),
    Rule("div-one", ("divide",), _div_one, "x / 1 is x", _CONSTISH),
    Rule("add-minus-zero", ("add",), _add_neg_zero, "x + (-0.0) is x (x + 0.0 is not: -0.0)",
         _CONSTISH),
    Rule("sub-zero", ("subtract",), _sub_zero, "x - 0.0 is x", _CONSTISH),
    Rule("mul-minus-one", ("multiply",), _mul_minus_one, "x * -1 is -x", _CONSTISH),
    Rule("mul-const-chain", ("multiply",), _mul_const_chain,
         "c1 * (2**k * x) -> (c1 * 2**k) * x for |c1| >= 1, k >= 0 (the only exact merge)",
         frozenset({"const"})),
    Rule("pow-small-int", ("power",), _pow_small_int,
         "x**1 -> x, x**2 -> x*x, x**-1 -> 1/x, x**0 -> 1 (float x)", _CONSTISH),
    Rule("neg-neg", ("negative",), _neg_neg, "-(-x) is x", _NEG),
    Rule("add-neg", ("add",), _add_neg, "a + (-b) -> a - b, (-a) + b -> b - a", _NEG),
    Rule("sub-neg", ("subtract",), _sub_neg, "a - (-b) -> a + b, (-a) - b -> -(a + b)", _NEG),
    Rule("neg-out-of-product", ("multiply", "divide"), _neg_out_of_product,
         "(-a) * b -> -(a * b), (-a) * (-b) -> a * b (and for /)", _NEG),
    Rule("scalar-for-broadcast", _EVERY, _scalar_for_broadcast,
         "an operand broadcast_to(c, s) is the scalar c where the other operands give the shape",
         frozenset({"broadcast_to"})),
)


def rules_by_op(rules=RULES) -> dict:
    """``{op: (rules in order, the rules among them that need no special operand)}``; rules
    for every op (``"*"``) keep their place."""
    table: dict[str, tuple] = {}
    for op in OPS:
        mine = [r for r in rules if r.ops == _EVERY or op in r.ops]
        table[op] = (mine, [r for r in mine if r.arg_ops is None])
    return table


SPECIAL_ARG_OPS = frozenset().union(*(r.arg_ops for r in RULES if r.arg_ops is not None))
