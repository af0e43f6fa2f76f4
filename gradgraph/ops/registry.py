"""The op table: every fact about an op in one :class:`Op` definition.

An op is registered once, in the module of its family (``elementwise``, ``reduce``, ``shape``,
``linalg``), and everything else (the tracer's dispatch, the interpreter, the derivative
expansions, the code generator, ``to_sympy``, the tests and ``docs/ops.md``) reads it from here.

Derivative rules come in three forms, and both modes are derived from them:

* ``partials`` (elementwise ops): ``partials(B, args, out, active, **attrs)`` returns one
  node per input (or None for "no contribution"; the markers ``IDENTITY`` and ``NEGATE`` mean the
  identity and negation, so ``add`` makes no ``multiply`` nodes). Reverse mode multiplies the
  cotangent by each partial and unbroadcasts; forward mode sums partial * tangent.
* ``vjp`` + ``jvp`` (linear and other structured ops): ``vjp(B, ct, i, args, out, nb, **attrs)``
  gives the cotangent of input ``i``; ``jvp(B, tangents, args, out, nb, **attrs)`` gives the
  output tangent, where ``tangents[i]`` is None for inputs that carry no tangent. ``nb`` is the
  number of leading batch axes on the cotangent/tangent (0, or 1 inside ``jacrev``/``jacfwd``).
  For a linear op the jvp is the op itself applied to the tangent.
* ``kind="nondiff"``: floor, sign, comparisons: no adjoint or tangent nodes are made.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

class _Marker:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


IDENTITY = _Marker("IDENTITY")  # partial marker: d out / d in = 1 (no multiply node)
NEGATE = _Marker("NEGATE")  # partial marker: d out / d in = -1


@dataclass
class Op:
    name: str
    impl: Callable[..., Any]
    emit: str | Callable[..., str]
    kind: str = "elementwise"  # elementwise | linear | other | nondiff
    shape: Callable[..., tuple] | None = None  # (avals, **attrs) -> (shape, dtype)
    partials: Callable[..., tuple] | None = None
    vjp: Callable[..., Any] | None = None
    jvp: Callable[..., Any] | None = None
    sympy: Callable[..., Any] | None = None
    domain: str = "real"
    nin: int | None = None  # number of inputs (None: variadic)
    pure: bool = True  # False: never merged with an identical node (random draws)
    doc: str = ""
    numpy: tuple = field(default_factory=tuple)  # NumPy names this op captures, for docs/ops.md
    family: str = ""  # the module that registered it (set by register), for docs/ops.md

    @property
    def differentiable(self) -> bool:
        return self.kind != "nondiff"


OPS: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} registered twice")
    if not op.family:  # the registering module, skipping helpers in this file
        f = sys._getframe(1)
        while f is not None and f.f_globals.get("__name__") == __name__:
            f = f.f_back
        op.family = f.f_globals.get("__name__", "") if f is not None else ""
    OPS[op.name] = op
    return op


def get(name: str) -> Op:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} in the op table") from None


# -- shape and dtype rules ---------------------------------------------------------------

_sample_cache: dict[tuple, np.dtype] = {}


def _sample(shape, dtype, weak):
    if weak:
        return dtype.type(0).item()  # a Python scalar: NumPy treats it as weakly typed
    return np.zeros((1,) if shape else (), dtype)


def elementwise_shape(impl):
    """Shape rule of an elementwise op: broadcast the shapes, let NumPy pick the dtype on
    one-element samples (cached), so promotion rules are NumPy's own."""

    def rule(avals, **attrs):
        shape = np.broadcast_shapes(*(a[0] for a in avals))
        key = (impl, tuple((a[1], a[2], bool(a[0])) for a in avals), tuple(sorted(attrs.items())))
        dt = _sample_cache.get(key)
        if dt is None:
            with np.errstate(all="ignore"):
                r = impl(*(_sample(s, d, w) for s, d, w in avals), **attrs)
            dt = np.result_type(r)
            _sample_cache[key] = dt
        return shape, dt

    return rule


def abstract_eval(impl):
    """Fallback shape rule: run the implementation on zero-strided arrays of the right shapes."""

    def rule(avals, **attrs):
        args = [
            _sample(s, d, True) if w else np.broadcast_to(np.zeros((), d), s) for s, d, w in avals
        ]
        with np.errstate(all="ignore"):
            r = impl(*args, **attrs)
        return np.shape(r), np.result_type(r)

    return rule
