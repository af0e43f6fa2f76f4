"""Elementwise ops: one partial derivative per input; both modes are derived from it.

A partial is a node (multiplied with the cotangent/tangent), ``IDENTITY``/``NEGATE``, None
(no contribution), or a callable ``f(B, v)`` that applies the (diagonal, so self-adjoint)
linear map to ``v`` directly, e.g. ``where(mask, v, 0)`` instead of ``v * mask``.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .registry import IDENTITY, NEGATE, Op, elementwise_shape, register


def ew(name, ufunc, partials=None, sympy=None, emit=None, domain="real", kind=None,
       numpy=None, doc=""):
    """Register an elementwise op backed by a NumPy ufunc (or ufunc-like callable)."""
    nin = getattr(ufunc, "nin", None)
    if emit is None:
        emit = f"np.{ufunc.__name__}(" + ", ".join(f"{{{i}}}" for i in range(nin or 1)) + ")"
    return register(Op(
        name=name, impl=ufunc, emit=emit, shape=elementwise_shape(ufunc),
        kind=kind or ("elementwise" if partials else "nondiff"), partials=partials,
        sympy=sympy, domain=domain, nin=nin, numpy=numpy or (f"np.{ufunc.__name__}",), doc=doc))


def _apply_where(mask):
    return lambda B, v: B.where(mask, v, 0.0)


# -- arithmetic ---------------------------------------------------------------------------

ew("add", np.add, lambda B, a, o, act: (IDENTITY, IDENTITY),
   sympy=lambda x, y: x + y, emit="{0} + {1}", numpy=("np.add", "+"))
ew("subtract", np.subtract, lambda B, a, o, act: (IDENTITY, NEGATE),
   sympy=lambda x, y: x - y, emit="{0} - {1}", numpy=("np.subtract", "-"))
ew("multiply", np.multiply, lambda B, a, o, act: (a[1], a[0]),
   sympy=lambda x, y: x * y, emit="{0} * {1}", numpy=("np.multiply", "*"))


def _divide_partials(B, a, o, act):
    x, y = a
    px = (lambda B, v: B.divide(v, y)) if act[0] else None
    py = (lambda B, v: B.negative(B.divide(B.multiply(v, o), y))) if act[1] else None
    return px, py


ew("divide", np.true_divide, _divide_partials, sympy=lambda x, y: x / y, emit="{0} / {1}",
   domain="real,nonzero", numpy=("np.divide", "np.true_divide", "/"))


def _power_partials(B, a, o, act):
    """d/dx = y * x ** (y - 1), written x ** where(y == 0, 1, y - 1) so that x ** 0 has
    derivative 0 also at x = 0; d/dy = log(x) * out, with log(1) at x = 0 (out is 0 there for
    y > 0), as JAX does."""
    x, y = a
    px = py = None
    if act[0]:
        if B.is_const(y):
            y1 = B.const(_exponent_minus_one(B.g[y]["value"]))
        else:
            y1 = B.where(B.equal(y, 0.0), 1.0, B.subtract(y, 1.0))
        px = B.multiply(y, B(_POW[B.g[o]["op"]], x, y1))
    if act[1]:
        py = B.multiply(o, B.log(B.where(B.equal(x, 0.0), 1.0, x)))
    return px, py


_POW = {"power": "power", "float_power": "float_power"}


def _exponent_minus_one(v):
    if isinstance(v, (int, float)):
        return 1 if v == 0 and isinstance(v, int) else (1.0 if v == 0 else v - 1)
    v = np.asarray(v)
    return np.where(v == 0, np.ones((), v.dtype), v - np.ones((), v.dtype))


ew("power", np.power, _power_partials, sympy=lambda x, y: x ** y, emit="{0} ** {1}",
   domain="positive,real", numpy=("np.power", "**"),
   doc="d(x**0)/dx = 0 also at x = 0; d/dy uses log(x) with 0 for x = 0 (out = 0 there)")
ew("negative", np.negative, lambda B, a, o, act: (NEGATE,), sympy=lambda x: -x, emit="-{0}",
   numpy=("np.negative", "unary -"))
ew("positive", np.positive, lambda B, a, o, act: (IDENTITY,), sympy=lambda x: x,
   emit="+{0}", numpy=("np.positive", "unary +"))
ew("reciprocal", np.reciprocal, lambda B, a, o, act: (B.negative(B.multiply(o, o)),),
   sympy=lambda x: 1 / x, domain="nonzero")
ew("square", np.square, lambda B, a, o, act: (B.multiply(2.0, a[0]),), sympy=lambda x: x ** 2)
ew("sqrt", np.sqrt, lambda B, a, o, act: (lambda B, v: B.divide(B.multiply(0.5, v), o),),
   sympy=sp.sqrt, domain="positive")
ew("cbrt", np.cbrt, lambda B, a, o, act: (lambda B, v: B.divide(v, B.multiply(3.0, B.multiply(o, o))),),
   sympy=lambda x: sp.real_root(x, 3), domain="positive")

# -- exponentials and logarithms ----------------------------------------------------------

LN2, LN10 = math.log(2.0), math.log(10.0)
ew("exp", np.exp, lambda B, a, o, act: (o,), sympy=sp.exp)
ew("exp2", np.exp2, lambda B, a, o, act: (B.multiply(o, LN2),), sympy=lambda x: 2 ** x)
ew("expm1", np.expm1, lambda B, a, o, act: (B.add(o, 1.0),), sympy=lambda x: sp.exp(x) - 1)
ew("log", np.log, lambda B, a, o, act: (lambda B, v: B.divide(v, a[0]),), sympy=sp.log,
   domain="positive")
ew("log2", np.log2, lambda B, a, o, act: (lambda B, v: B.divide(v, B.multiply(a[0], LN2)),),
   sympy=lambda x: sp.log(x, 2), domain="positive")
ew("log10", np.log10, lambda B, a, o, act: (lambda B, v: B.divide(v, B.multiply(a[0], LN10)),),
   sympy=lambda x: sp.log(x, 10), domain="positive")
ew("log1p", np.log1p, lambda B, a, o, act: (lambda B, v: B.divide(v, B.add(a[0], 1.0)),),
   sympy=lambda x: sp.log(1 + x), domain="positive")
ew("logaddexp", np.logaddexp,
   lambda B, a, o, act: tuple(B.exp(B.subtract(x, o)) if f else None for x, f in zip(a, act)),
   sympy=lambda x, y: sp.log(sp.exp(x) + sp.exp(y)))
ew("logaddexp2", np.logaddexp2,
   lambda B, a, o, act: tuple(B.exp2(B.subtract(x, o)) if f else None for x, f in zip(a, act)),
   sympy=lambda x, y: sp.log(2 ** x + 2 ** y, 2))

# -- trigonometric and hyperbolic ---------------------------------------------------------


def _one_minus_sq(B, x):
    return B.subtract(1.0, B.multiply(x, x))


ew("sin", np.sin, lambda B, a, o, act: (B.cos(a[0]),), sympy=sp.sin)
ew("cos", np.cos, lambda B, a, o, act: (B.negative(B.sin(a[0])),), sympy=sp.cos)
ew("tan", np.tan, lambda B, a, o, act: (B.add(1.0, B.multiply(o, o)),), sympy=sp.tan,
   domain="open_unit")
ew("arcsin", np.arcsin,
   lambda B, a, o, act: (lambda B, v: B.divide(v, B.sqrt(_one_minus_sq(B, a[0]))),),
   sympy=sp.asin, domain="open_unit", numpy=("np.arcsin", "np.asin"))
ew("arccos", np.arccos,
   lambda B, a, o, act: (lambda B, v: B.negative(B.divide(v, B.sqrt(_one_minus_sq(B, a[0])))),),
   sympy=sp.acos, domain="open_unit", numpy=("np.arccos", "np.acos"))
ew("arctan", np.arctan,
   lambda B, a, o, act: (lambda B, v: B.divide(v, B.add(1.0, B.multiply(a[0], a[0]))),),
   sympy=sp.atan, numpy=("np.arctan", "np.atan"))
ew("sinh", np.sinh, lambda B, a, o, act: (B.cosh(a[0]),), sympy=sp.sinh)
ew("cosh", np.cosh, lambda B, a, o, act: (B.sinh(a[0]),), sympy=sp.cosh)
ew("tanh", np.tanh, lambda B, a, o, act: (_one_minus_sq(B, o),), sympy=sp.tanh)
ew("arcsinh", np.arcsinh,
   lambda B, a, o, act: (lambda B, v: B.divide(v, B.sqrt(B.add(B.multiply(a[0], a[0]), 1.0))),),
   sympy=sp.asinh, numpy=("np.arcsinh", "np.asinh"))
ew("arccosh", np.arccosh,
   lambda B, a, o, act: (lambda B, v: B.divide(v, B.sqrt(B.subtract(B.multiply(a[0], a[0]), 1.0))),),
   sympy=sp.acosh, domain="gt1", numpy=("np.arccosh", "np.acosh"))
ew("arctanh", np.arctanh, lambda B, a, o, act: (lambda B, v: B.divide(v, _one_minus_sq(B, a[0])),),
   sympy=sp.atanh, domain="open_unit", numpy=("np.arctanh", "np.atanh"))


def _arctan2_partials(B, a, o, act):
    y, x = a
    r2 = B.add(B.multiply(x, x), B.multiply(y, y))
    py = (lambda B, v: B.divide(B.multiply(v, x), r2)) if act[0] else None
    px = (lambda B, v: B.negative(B.divide(B.multiply(v, y), r2))) if act[1] else None
    return py, px


ew("arctan2", np.arctan2, _arctan2_partials, sympy=sp.atan2, domain="real,positive",
   numpy=("np.arctan2", "np.atan2"))
ew("hypot", np.hypot,
   lambda B, a, o, act: tuple((lambda B, v, x=x: B.divide(B.multiply(v, x), o)) if f else None
                              for x, f in zip(a, act)),
   sympy=lambda x, y: sp.sqrt(x ** 2 + y ** 2), domain="nonzero,nonzero")
ew("deg2rad", np.deg2rad, lambda B, a, o, act: (B.const(math.pi / 180),),
   sympy=lambda x: x * sp.pi / 180, numpy=("np.deg2rad", "np.radians"))
ew("rad2deg", np.rad2deg, lambda B, a, o, act: (B.const(180 / math.pi),),
   sympy=lambda x: x * 180 / sp.pi, numpy=("np.rad2deg", "np.degrees"))

# -- piecewise: abs, max/min, where, clip ------------------------------------------------

ew("absolute", np.absolute, lambda B, a, o, act: (B.sign(a[0]),), sympy=sp.Abs,
   emit="np.abs({0})", domain="nonzero", numpy=("np.abs", "np.absolute", "abs()"),
   doc="abs'(0) = sign(0) = 0")
ew("fabs", np.fabs, lambda B, a, o, act: (B.sign(a[0]),), sympy=sp.Abs, domain="nonzero",
   doc="abs'(0) = sign(0) = 0")


def _copysign_partials(B, a, o, act):
    x, y = a
    same = B.equal(B.signbit(x), B.signbit(y))  # copysign(x, y) = +-x
    return (lambda B, v: B.where(same, v, B.negative(v))) if act[0] else None, None


ew("copysign", np.copysign, _copysign_partials, domain="nonzero,nonzero",
   sympy=lambda x, y: sp.Abs(x) * sp.sign(y), doc="no derivative w.r.t. the sign source y")
ew("conjugate", np.conjugate, lambda B, a, o, act: (IDENTITY,), sympy=lambda x: x,
   numpy=("np.conjugate", "np.conj", ".conj()"), doc="the identity on real arrays")


ew("float_power", np.float_power, _power_partials, sympy=lambda x, y: x ** y,
   domain="positive,real")


def _extremum_partials(greater, nan_aware=False):
    """maximum/minimum: with one operand a constant the tie gives 0 (ReLU'(0) = 0); with both
    traced (inputs or values computed from them, differentiated or not) a tie splits the
    derivative evenly, so maximum(x, x)' = 1. The rule looks at the graph, not at which
    inputs are being differentiated, so grad w.r.t. x alone and w.r.t. (x, y) agree.
    ``fmax``/``fmin`` pick the other operand where one is NaN (``nan_aware``)."""

    def partials(B, a, o, act):
        x, y = a
        wins_x, wins_y = B(greater, x, y), B(greater, y, x)
        if nan_aware:
            wins_x, wins_y = B.logical_or(wins_x, B.isnan(y)), B.logical_or(wins_y, B.isnan(x))
        if B.is_const(x) or B.is_const(y):
            return (_apply_where(wins_x) if act[0] else None,
                    _apply_where(wins_y) if act[1] else None)
        tie = B.equal(x, y)

        def split(win):
            return lambda B, v: B.where(win, v, B.where(tie, B.multiply(0.5, v), 0.0))

        return split(wins_x) if act[0] else None, split(wins_y) if act[1] else None

    return partials


_TIES = ("ties: a constant operand gets 0 (ReLU'(0) = 0); two traced operands split 1/2")
ew("maximum", np.maximum, _extremum_partials("greater"), sympy=sp.Max, domain="real,real",
   doc=_TIES)
ew("minimum", np.minimum, _extremum_partials("less"), sympy=sp.Min, domain="real,real",
   doc=_TIES)
ew("fmax", np.fmax, _extremum_partials("greater", True), sympy=sp.Max, domain="real,real",
   doc=_TIES + "; a NaN operand passes the other one (and its derivative)")
ew("fmin", np.fmin, _extremum_partials("less", True), sympy=sp.Min, domain="real,real",
   doc=_TIES + "; a NaN operand passes the other one (and its derivative)")


def _where_partials(B, a, o, act):
    c = a[0]
    return (None,
            (lambda B, v: B.where(c, v, 0.0)) if act[1] else None,
            (lambda B, v: B.where(c, 0.0, v)) if act[2] else None)


def _where_impl(c, x, y):
    return np.where(c, x, y)


_where_impl.nin = 3
_where_impl.__name__ = "where"
ew("where", _where_impl, _where_partials,
   sympy=lambda c, x, y: sp.Piecewise((x, c), (y, True)), domain="bool,real,real",
   numpy=("np.where",))


def _clip_impl(x, lo, hi):
    return np.clip(x, lo, hi)


def _clip_partials(B, a, o, act):
    """clip(x, lo, hi) is minimum(maximum(x, lo), hi) (NumPy's definition, also for lo > hi),
    and its derivative is that composition's under the maximum/minimum tie conventions: with
    constant bounds the derivative at a bound is 0; traced bounds split ties 1/2."""
    x, lo, hi = a
    traced = [not B.is_const(n) for n in a]
    if not (traced[1] or traced[2]):  # the common case, x.clip(0, 1): one mask
        return (_apply_where(B.logical_and(B.greater(x, lo), B.less(x, hi))), None, None)
    dt = B.dtype(o).name

    def weight(cond, tie, split):  # [cond] + [tie]/2, as a float mask
        w = B.astype(cond, dtype=dt)
        return B.add(w, B.multiply(0.5, B.astype(tie, dtype=dt))) if split else w

    m = B.maximum(x, lo)
    tie_lo, tie_hi = B.equal(x, lo), B.equal(m, hi)
    both_lo = traced[0] and traced[1]
    through_m = weight(B.less(m, hi), tie_hi, traced[2])  # d out / d m
    px = plo = phi = None
    if act[0]:
        wx = B.multiply(through_m, weight(B.greater(x, lo), tie_lo, both_lo))
        px = lambda B, v: B.multiply(v, wx)  # noqa: E731
    if act[1]:
        wlo = B.multiply(through_m, weight(B.greater(lo, x), tie_lo, both_lo))
        plo = lambda B, v: B.multiply(v, wlo)  # noqa: E731
    if act[2]:
        whi = weight(B.less(hi, m), tie_hi, True)
        phi = lambda B, v: B.multiply(v, whi)  # noqa: E731
    return px, plo, phi


_clip_impl.nin = 3
_clip_impl.__name__ = "clip"
ew("clip", _clip_impl, _clip_partials, sympy=lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi),
   domain="real,lower,upper", numpy=("np.clip", ".clip()"),
   doc="minimum(maximum(x, lo), hi): constant bounds give derivative 0 at a bound; traced "
       "bounds split ties 1/2")

class _floor(sp.floor):
    """floor for translations of mod/fmod: SymPy leaves floor's derivative unevaluated; it is
    0 wherever it exists, which is what gradgraph's rules (and any oracle) need."""

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _numpycode(self, printer):
        return f"{printer._module_format('numpy.floor')}({printer._print(self.args[0])})"


class _trunc(sp.Function):
    """trunc (round towards zero), piecewise constant like _floor."""

    @classmethod
    def eval(cls, z):
        if z.is_Number:
            return sp.Integer(int(z))

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _numpycode(self, printer):
        return f"{printer._module_format('numpy.trunc')}({printer._print(self.args[0])})"


ew("mod", np.remainder,
   lambda B, a, o, act: (IDENTITY, B.negative(B.floor_divide(a[0], a[1])) if act[1] else None),
   sympy=lambda x, y: x - y * _floor(x / y), domain="positive,positive", emit="{0} % {1}",
   numpy=("np.mod", "np.remainder", "%"), doc="d/dy = -floor(x / y)")
ew("fmod", np.fmod,
   lambda B, a, o, act: (IDENTITY, B.negative(B.trunc(B.divide(a[0], a[1]))) if act[1] else None),
   sympy=lambda x, y: x - y * _trunc(x / y), domain="positive,positive",
   doc="d/dy = -trunc(x / y)")

# -- no derivative (zero almost everywhere, or boolean) -----------------------------------

_ZERO = "piecewise constant: zero derivative"
for _n, _u, _s, _d in [
    ("sign", np.sign, sp.sign, "real"), ("floor", np.floor, sp.floor, "real"),
    ("ceil", np.ceil, sp.ceiling, "real"),
    ("trunc", np.trunc, _trunc, "real"),
    ("rint", np.rint, None, "real"),
    ("floor_divide", np.floor_divide, lambda x, y: _floor(x / y), "real,nonzero"),
    ("heaviside", np.heaviside, lambda x, h: sp.Piecewise((0, x < 0), (h, sp.Eq(x, 0)), (1, True)),
     "real,real"),
    ("isnan", np.isnan, None, "nonfinite"), ("isinf", np.isinf, None, "nonfinite"),
    ("isfinite", np.isfinite, None, "nonfinite"), ("signbit", np.signbit, None, "real"),
    ("logical_not", np.logical_not, sp.Not, "bool"),
    ("logical_and", np.logical_and, sp.And, "bool"),
    ("logical_or", np.logical_or, sp.Or, "bool"), ("logical_xor", np.logical_xor, sp.Xor, "bool"),
]:
    ew(_n, _u, sympy=_s, emit="{0} // {1}" if _n == "floor_divide" else None, domain=_d,
       doc=_ZERO if _n not in ("isnan", "isinf", "isfinite", "signbit") and "logical" not in _n
       else "boolean result: no derivative")

for _n, _u, _sym, _s in [
    ("greater", np.greater, ">", sp.Gt), ("greater_equal", np.greater_equal, ">=", sp.Ge),
    ("less", np.less, "<", sp.Lt), ("less_equal", np.less_equal, "<=", sp.Le),
    ("equal", np.equal, "==", sp.Eq), ("not_equal", np.not_equal, "!=", sp.Ne),
]:
    ew(_n, _u, sympy=_s, emit=f"{{0}} {_sym} {{1}}", numpy=(f"np.{_n}", _sym),
       doc="boolean result: no derivative")


def _round_impl(x, decimals=0):
    return np.round(x, decimals)


_round_impl.nin = 1
_round_impl.__name__ = "round"
ew("round", _round_impl, emit=lambda a, attrs: f"np.round({a[0]}, {attrs.get('decimals', 0)})",
   numpy=("np.round", "np.around", ".round()"), doc=_ZERO)
