"""The builder that derivative rules (and simplify) use to add nodes to a graph.

``B.multiply(ct, B.cos(x))`` adds (or finds, by interning) a ``cos`` node and a
``multiply`` node and returns the new node id. Python floats, complex numbers, bools and
NumPy arrays become const nodes; Python ints are node ids (write ``2.0``, or
``B.const(2)`` for an integer constant).
"""

from __future__ import annotations

import numpy as np


_NOOP_IF_SAME = {  # structural ops that are the identity when they change nothing
    "reshape": ("shape", lambda d: d["shape"]),
    "broadcast_to": ("shape", lambda d: d["shape"]),
    "transpose": ("axes", lambda d: tuple(range(len(d["shape"])))),
    "astype": ("dtype", lambda d: d["dtype"].name),
}


class Builder:
    def __init__(self, g, role: str = "primal", loc: str | None = None):
        self.g = g
        self.role = role
        self.loc = loc

    def lift(self, a) -> int:
        if isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)):
            if int(a) not in self.g.nx:
                raise KeyError(f"node {a} is not in the graph (write {a}.0 for a constant)")
            return int(a)
        return self.g.const(a.item() if isinstance(a, np.generic) else a)

    def const(self, value) -> int:
        return self.g.const(value)

    def __call__(self, op: str, *args, **attrs) -> int:
        if op in _NOOP_IF_SAME and len(args) == 1 and isinstance(args[0], int):
            key, fact = _NOOP_IF_SAME[op]
            if attrs[key] == fact(self.g[args[0]]):
                return args[0]
        return self.g.add(op, [self.lift(a) for a in args], attrs, role=self.role, loc=self.loc)

    def __getattr__(self, op: str):
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda *args, **attrs: self(op, *args, **attrs)

    # -- facts about nodes ---------------------------------------------------------------

    def shape(self, n) -> tuple:
        return self.g[n]["shape"]

    def dtype(self, n) -> np.dtype:
        return self.g[n]["dtype"]

    def ndim(self, n) -> int:
        return len(self.g[n]["shape"])

    def is_const(self, n) -> bool:
        return self.g[n]["op"] == "const"

    # -- helpers shared by many rules ----------------------------------------------------

    def zeros(self, shape, dtype) -> int:
        return self("zeros", shape=tuple(shape), dtype=np.dtype(dtype).name)

    def unbroadcast(self, ct: int, shape: tuple, nb: int) -> int:
        """Sum ``ct`` (``batch + out_shape``) down to ``batch + shape``: the one place where
        reverse mode undoes NumPy broadcasting."""
        cs = self.shape(ct)
        batch, out = cs[:nb], cs[nb:]
        if out == tuple(shape):
            return ct
        lead = len(out) - len(shape)
        lead_axes = tuple(range(nb, nb + lead))
        one_axes = tuple(nb + lead + i for i, s in enumerate(shape)
                         if s == 1 and out[lead + i] != 1)
        if lead_axes:
            ct = self.sum(ct, axis=lead_axes)
        if one_axes:
            ct = self.sum(ct, axis=tuple(a - lead for a in one_axes), keepdims=True)
        if self.shape(ct) != tuple(batch) + tuple(shape):
            ct = self.reshape(ct, shape=tuple(batch) + tuple(shape))
        return ct

    def broadcast_batched(self, t: int, out_shape: tuple, nb: int) -> int:
        """Bring a tangent ``batch + in_shape`` to ``batch + out_shape`` (forward mode's
        counterpart of :meth:`unbroadcast`)."""
        ts = self.shape(t)
        batch, ins = ts[:nb], ts[nb:]
        target = tuple(batch) + tuple(out_shape)
        if ts == target:
            return t
        if nb and len(ins) < len(out_shape):
            t = self.reshape(t, shape=tuple(batch) + (1,) * (len(out_shape) - len(ins)) + ins)
        return self.broadcast_to(t, shape=target)

    def cast(self, n: int, dtype) -> int:
        dtype = np.dtype(dtype)
        if self.dtype(n) == dtype:
            return n
        return self.astype(n, dtype=dtype.name)

    def axis_shift(self, axis, ndim: int, nb: int):
        """Normalise ``axis`` (None, int or tuple) for an array of ``ndim`` dims and shift it
        past ``nb`` batch axes; None means every non-batch axis."""
        if axis is None:
            return tuple(range(nb, nb + ndim))
        if isinstance(axis, int):
            return axis % ndim + nb if ndim else nb
        return tuple(a % ndim + nb for a in axis)
