"""SymPy as the exact oracle: ``gg.to_sympy`` (here) and ``gg.verify`` (``checks.py``).

``to_sympy`` evaluates a traced graph with NumPy object arrays of SymPy expressions, using
each op's ``sympy`` field from the op table (a scalar SymPy function for elementwise ops,
applied with broadcasting; a callable on object arrays for structured ops). ``verify``
differentiates that expression exactly and compares it, entry by entry, with the derivative
code gradgraph generates and with central finite differences.

Both sit above ``api.py``: they call the transforms, the transforms never import them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import GradgraphValueError, UnsupportedOperationError
from .ops.registry import OPS
from .trace import trace as _trace
from .trace.pytree import flatten, leaf_paths, unflatten

# -- scalars and arrays of SymPy objects -----------------------------------------------------


def _obj(v) -> np.ndarray:
    """``v`` as an object array; a 0-d one for a single SymPy object (never iterated)."""
    if isinstance(v, np.ndarray):
        return v if v.dtype == object else _map(sym_number, v)
    out = np.empty((), dtype=object)
    out[()] = v
    return out


def _map(fn, a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        out[idx] = fn(a[idx])
    return out


def sym_number(v):
    """A NumPy/Python number as a SymPy number: integral floats become Integers, short
    decimals (``0.1``) the Rational they spell, other floats a Float of full precision."""
    if isinstance(v, (bool, np.bool_)):
        return sp.true if v else sp.false
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, (complex, np.complexfloating)):
        return sym_number(v.real) + sp.I * sym_number(v.imag)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return sp.nan
        if math.isinf(v):
            return sp.oo if v > 0 else -sp.oo
        if v.is_integer():
            return sp.Integer(int(v))
        text = repr(v)
        digits = text.split("e")[0].replace("-", "").replace(".", "").strip("0")
        return sp.Rational(text) if len(digits) <= 8 else sp.Float(v, 17)
    return sp.sympify(v)


def _is_elementwise(spec) -> bool:
    # ops made by ops.elementwise.ew carry the broadcasting shape rule, nondiff ones too
    return spec.kind == "elementwise" or getattr(spec.shape, "__qualname__", "").startswith(
        "elementwise_shape")


def _numeric_operand(v: np.ndarray, dtype: np.dtype):
    """Integer/boolean operands of structured ops (index arrays, masks) as NumPy arrays."""
    try:
        return v.astype(np.bool_ if dtype.kind == "b" else np.int64)
    except TypeError:
        return None


def element_symbols(name: str, shape: tuple, dtype) -> np.ndarray:
    """The symbols of one argument: ``x`` for a scalar, ``w_0_1`` for ``w[0, 1]``; real
    symbols for real floating arguments.

    >>> element_symbols("w", (2, 2), np.float64)[0, 1]
    w_0_1
    """
    assume = {"real": True} if np.dtype(dtype).kind == "f" else {}
    out = np.empty(tuple(shape), dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = sp.Symbol("_".join([name, *map(str, idx)]), **assume)
    return out


def symbol_names(g) -> list[str]:
    """Base symbol names of the graph's (non-captured) inputs: the argument's name, and for
    pytree leaves the path, ``params["w"][1]`` giving ``params_w_1``."""
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    names: list[str] = []
    if g.in_tree is not None and g.arg_names is not None:
        for an, t in zip(g.arg_names, g.in_tree[1]):
            for p in leaf_paths(t, ""):
                names.append(re.sub(r"\W", "_", an + re.sub(r"\[['\"]?(.*?)['\"]?\]", r"_\1", p)))
    if len(names) != len(inputs):  # a graph not made by tracing: the inputs' own names
        names = [g[n].get("name") or f"v{n}" for n in inputs]
    seen: dict[str, int] = {}
    out = []
    for nm in names:
        k = seen.get(nm, 0)
        seen[nm] = k + 1
        out.append(nm if k == 0 else f"{nm}_{k}")
    return out


@dataclass
class Translation:
    """A graph evaluated on SymPy objects: ``env`` maps node ids to object arrays,
    ``symbols`` input nodes to their symbol arrays, ``opaque`` lists ``(dummy, expression)``
    for zero-derivative nodes made opaque (creation order: later ones may use earlier ones)."""

    env: dict
    symbols: dict
    opaque: list = field(default_factory=list)


def translate(g, leaves, opaque: bool = False) -> Translation:
    """Evaluate ``g`` on SymPy objects. Real and complex inputs become element symbols,
    integer and boolean inputs enter as their values (``leaves``). With ``opaque``, every
    float node of a zero-derivative op (``floor``, ``sign``, ``stop_gradient`` …) becomes a
    fresh symbol, so SymPy's derivative follows gradgraph's convention (zero) exactly.

    Integer and boolean nodes without a translation (``argmax``, ``argsort``, ``isnan`` …),
    and symbolic integer operands of structured ops (an index computed by a cast), take their
    values at ``leaves``: like Python control flow, they fix the path these arguments take.
    So do opaque nodes without a translation (``round``)."""
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    numeric: dict = {}

    def value_at(n):
        if not numeric:
            numeric.update(node_values(g, leaves))
        return np.asarray(numeric[n])

    env: dict[int, np.ndarray] = {}
    symbols: dict[int, np.ndarray] = {}
    dummies: list = []
    for n, leaf, nm in zip(inputs, leaves, symbol_names(g), strict=True):
        d = g[n]
        if d["dtype"].kind in "fc":
            symbols[n] = env[n] = element_symbols(nm, d["shape"], d["dtype"])
        else:
            env[n] = _obj(np.asarray(leaf))
    for n in sorted(g.live()):
        if n in env:
            continue
        d = g[n]
        if d["op"] == "const":
            env[n] = _obj(np.asarray(d["value"]))
            continue
        if d["op"] == "input":
            raise GradgraphValueError(f"input {g.name(n)} has no value (a captured outer value)")
        spec = OPS[d["op"]]
        if spec.sympy is None and d["dtype"].kind in "biu":
            env[n] = _obj(value_at(n))
            continue
        args = [env[a] for a in d["args"]]
        if spec.sympy is None and opaque and _is_opaque(spec, d, g):
            out = _obj(value_at(n))  # held constant below anyway: its value will do
        elif spec.sympy is None:
            raise UnsupportedOperationError(
                f"op {d['op']!r} has no SymPy translation yet (its `sympy` field in the op "
                "table is empty), so gg.to_sympy cannot express this function",
                loc=d.get("loc"))
        elif _is_elementwise(spec):
            fn = spec.sympy
            if d["attrs"]:
                fn = (lambda f, at: lambda *e: f(*e, **at))(spec.sympy, d["attrs"])
            out = np.frompyfunc(fn, len(args), 1)(*args) if args else fn()
        else:
            ops = []
            for a, v in zip(d["args"], args):
                dt = g[a]["dtype"]
                num = None
                if dt.kind in "biu":
                    num = _numeric_operand(v, dt)
                    num = value_at(a) if num is None else num
                ops.append(v if num is None else num)
            out = spec.sympy(*ops, **d["attrs"])
        out = _obj(out) if not isinstance(out, np.ndarray) else out.astype(object, copy=False)
        if out.shape != d["shape"]:
            raise UnsupportedOperationError(
                f"the SymPy translation of op {d['op']!r} gave shape {out.shape}, but the "
                f"node has shape {d['shape']}", loc=d.get("loc"))
        if opaque and _is_opaque(spec, d, g):
            expr = out
            out = np.empty(expr.shape, dtype=object)
            for idx in np.ndindex(expr.shape):
                out[idx] = sp.Dummy(f"{d['op']}{n}", real=True)
                dummies.append((out[idx], expr[idx]))
        env[n] = out
    return Translation(env, symbols, dummies)


def node_values(g, leaves) -> dict:
    """Every node's value at ``leaves`` (the flattened arguments), by the reference
    interpreter on a copy of ``g`` whose outputs are all its nodes."""
    from .interp import evaluate

    h = g.copy()
    h.outputs = sorted(h.nx)
    h.out_tree = None
    h.in_tree = flatten(tuple(leaves))[1]  # the leaves passed one by one, extra inputs too
    return dict(zip(h.outputs, evaluate(h, *leaves)))


def _is_opaque(spec, d, g) -> bool:
    if d["dtype"].kind == "f":
        return spec.kind == "nondiff"
    # float -> integer casts carry no derivative either
    return d["dtype"].kind in "iu" and any(g[a]["dtype"].kind == "f" for a in d["args"])


_STEPS = (sp.floor, sp.ceiling, sp.sign, sp.Heaviside, sp.frac)


def _opaque_steps(e, opaque: list):
    """Step functions inside translations (``fmod``'s floor, ``mod``) as opaque symbols, the
    way :func:`translate` treats zero-derivative nodes: SymPy cannot differentiate ``floor``,
    and gives DiracDelta for ``sign``; gradgraph's convention is zero. Bottom-up, so an inner
    step is made opaque before the one around it."""
    if not e.has(sp.Mod, *_STEPS):
        return e
    e = e.replace(sp.Mod, lambda a, b: a - b * sp.floor(a / b))  # NumPy's remainder
    made: dict = {}

    def opaque_symbol(t):
        d = made.get(t)
        if d is None:
            d = made[t] = sp.Dummy(type(t).__name__, real=True)
            opaque.append((d, t))
        return d

    return e.replace(lambda t: isinstance(t, _STEPS) and not t.is_number, opaque_symbol)


def to_output(a: np.ndarray):
    """An object array as what ``to_sympy`` returns: an expression (0-d), a ``Matrix``
    (2-D) or an ``Array`` (1-D and 3-D and up) of the same shape."""
    a = _map(sp.sympify, a)
    if a.ndim == 0:
        return a[()]
    if a.ndim == 2:
        return sp.Matrix(a.shape[0], a.shape[1], list(a.ravel()))
    return sp.Array(list(a.ravel()), a.shape)


def to_sympy(f, *args):
    """``f``'s traced graph as SymPy.

    Real floating arguments become symbols named after the argument: ``x`` for a scalar
    ``x``, ``w_0_1`` for element ``[0, 1]`` of an array ``w``, and for pytree leaves the
    leaf's path (``params["w"][1]`` is ``params_w_1``); the symbols are real. Integer and
    boolean arguments (never differentiated) enter as their values. The result is a SymPy
    expression for a scalar output, a ``Matrix`` for a 2-D output and an ``Array`` of the
    output's shape otherwise; pytree outputs keep their structure. A function with Python
    control flow gives the expression of the path these arguments took.

    >>> import numpy as np, gradgraph as gg
    >>> gg.to_sympy(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    x1*x2 + log(x1) - sin(x2)
    >>> gg.to_sympy(lambda w, x: w @ x, np.ones((2, 2)), np.ones(2))
    [w_0_0*x_0 + w_0_1*x_1, w_1_0*x_0 + w_1_1*x_1]
    """
    g = _trace(f, *args)
    leaves, _ = flatten(tuple(args))
    tr = translate(g, leaves)
    outs = [to_output(tr.env[o]) for o in g.outputs]
    return unflatten(g.out_tree, outs) if g.out_tree is not None else tuple(outs)


__all__ = ["to_sympy", "translate", "element_symbols", "node_values"]
