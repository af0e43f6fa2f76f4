"""Tracing: run the user's function on :class:`Tracer` values that carry a concrete value
and a graph node, and record every NumPy operation as a node.

``Trace`` owns one graph. Traces nest (a transform called inside a traced function opens a
new one): operations go to the innermost open trace, and a tracer of an outer trace seen
there becomes an *input* of the inner graph (a capture), never a constant, so nested
derivatives never confuse their perturbations.
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import GradgraphTypeError, GradgraphValueError, TracerError, user_loc
from ..graph.core import Graph, Guard
from ..ops.registry import OPS

_local = threading.local()


def computing_values() -> bool:
    """True while an op's ``impl`` computes a traced value in this thread: what a library
    does in there (dask names its graphs with uuid4) is not a side effect of the user's code."""
    return getattr(_local, "impl", 0) > 0


def _concrete(conv, value):
    """``conv(value)`` for a Python decision; a lazy value (dask) computes here."""
    _local.impl = getattr(_local, "impl", 0) + 1
    try:
        return conv(value)
    finally:
        _local.impl -= 1


def trace_stack() -> list["Trace"]:
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


class Trace:
    """An open recording: the graph being built and the value of each node."""

    def __init__(self):
        self.g = Graph()
        self.values: dict[int, object] = {}
        self.active = True
        self.captured: list[tuple[int, "Tracer"]] = []
        self._capture_ids: dict[int, int] = {}
        self.max_ops: int | None = None

    def __enter__(self):
        trace_stack().append(self)
        return self

    def __exit__(self, *exc):
        trace_stack().pop()
        self.active = False

    # -- values to nodes -----------------------------------------------------------------

    def input(self, value, name=None) -> "Tracer":
        n = self.g.input(np.shape(value), np.result_type(value), name=name)
        self.values[n] = value
        return Tracer(self, n, value)

    def lift(self, v) -> int:
        if isinstance(v, Tracer):
            if v._trace is self:
                return v._node
            if not v._trace.active:
                raise v._trace.escaped(v._node)
            n = self._capture_ids.get(id(v))
            if n is None:
                n = self.g.input(v.shape, v.dtype, name=f"captured{len(self.captured)}")
                self.g[n]["capture"] = True
                self.values[n] = v._value
                self._capture_ids[id(v)] = n
                self.captured.append((n, v))
            return n
        if isinstance(v, np.ndarray) and v.dtype == object:
            return self.lift(_from_object_array(v))
        if isinstance(v, np.generic):
            v = v.item() if v.dtype.kind in "biufc" and not isinstance(v, np.floating) else v
        n = self.g.const(v)
        self.values[n] = self.g[n]["value"]
        return n

    def apply(self, op: str, inputs, attrs=None, loc=None) -> "Tracer":
        """Record ``op(*inputs, **attrs)`` and compute its value."""
        return self.apply_nodes(op, [self.lift(x) for x in inputs], attrs, loc or user_loc())

    def apply_nodes(self, op: str, nodes, attrs=None, loc=None) -> "Tracer":
        attrs = attrs or {}
        spec = OPS[op]
        _local.impl = getattr(_local, "impl", 0) + 1
        try:
            with np.errstate(all="ignore"):
                value = spec.impl(*(self.values[n] for n in nodes), **attrs)
        except (ValueError, IndexError) as e:  # NumPy's own complaint, at the user's line
            raise _numpy_error(op, e, [self.g[n]["shape"] for n in nodes], loc) from e
        finally:
            _local.impl -= 1
        if isinstance(value, (np.ndarray, np.generic)):  # hot path: no np.shape/result_type
            shape, dtype = value.shape, value.dtype
        else:
            shape, dtype = np.shape(value), np.result_type(value)
        n = self.g.add(op, nodes, attrs, loc=loc, shape=shape, dtype=dtype)
        self.values.setdefault(n, value)
        # ids count the nodes made (cheaper than len(), which asks networkx)
        if self.max_ops is not None and self.g._next > self.max_ops + 1 \
                and len(self.g) > self.max_ops:
            raise TracerError(
                f"tracing recorded more than {self.max_ops} operations (set by "
                "gg.config.max_trace_ops); a Python loop on traced values may never end",
                loc=self.g[n]["loc"])
        return Tracer(self, n, self.values[n])

    def guard(self, node: int, kind: str, expected, loc=None):
        if not self.active:  # float()/bool() of an escaped tracer: its value is stale
            raise self.escaped(node)
        self.g.guards.append(Guard(node, kind, expected, loc or user_loc()))

    def tracer(self, n: int) -> "Tracer":
        """The traced value of node ``n`` (an eager trace makes a ``gg.Tensor``)."""
        return Tracer(self, n, self.values[n])

    def recording(self, inputs) -> "Trace":
        """The trace that records an operation on ``inputs`` when no trace is open: this
        one (an eager trace picks, merges or opens the graph; see gradgraph/eager.py)."""
        if not self.active:
            n = next((x._node for x in inputs if isinstance(x, Tracer) and x._trace is self), 0)
            raise self.escaped(n)
        return self

    def escaped(self, node: int) -> TracerError:
        """The error for a tracer of this (closed) trace used after its call returned."""
        where = self.g.nx._node.get(node, {}).get("loc")
        where = f" (at {where})" if where else ""
        return TracerError(
            f"a traced value escaped its trace: it was computed inside a traced call{where} "
            "and used after that call returned (e.g. kept in a global, a list or an "
            "attribute). Return it from the function instead.", loc=user_loc())


def _numpy_error(op, e, shapes, loc):
    from ..errors import GradgraphIndexError

    cls = GradgraphIndexError if isinstance(e, IndexError) else GradgraphValueError
    shapes = ", ".join(str(s) for s in shapes)
    return cls(f"{op} on shapes {shapes}: {e}. The same call fails in plain NumPy; fix the "
               "shapes or the index", loc=loc)


def current_trace(inputs) -> Trace:
    """The innermost open trace, or the (always open) trace of an eager tensor."""
    stack = trace_stack()
    if stack:
        return stack[-1]
    for x in inputs:
        if isinstance(x, Tracer):
            return x._trace.recording(inputs)
    raise AssertionError("no trace")  # pragma: no cover


def _from_object_array(a: np.ndarray):
    """``np.array([t1, t2])`` of traced scalars arrives as an object array: stack it."""
    flat = list(a.ravel())
    if not flat:
        raise GradgraphValueError("an empty object array cannot be traced", loc=user_loc())
    if not any(isinstance(x, Tracer) for x in flat):
        return np.array(a.tolist())
    return np.reshape(np.stack(flat), a.shape)


def _ufunc_method(name):
    def method(self, *args, **kwargs):
        return getattr(np, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


class Tracer:
    """A traced array: behaves like the NumPy value it holds while recording operations.

    Convert it with ``float()``/``int()`` only when the Python value is really needed: that
    records a guard specialising the compiled code on the value.
    """

    __slots__ = ("_trace", "_node", "_value")
    __array_priority__ = 1000
    __hash__ = None  # like an ndarray

    def __init__(self, trace: Trace, node: int, value):
        self._trace = trace
        self._node = node
        self._value = value

    # -- NumPy protocols -----------------------------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .numpy_api import handle_ufunc

        return handle_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .numpy_api import handle_function

        return handle_function(func, args, kwargs)

    # -- facts -----------------------------------------------------------------------------

    @property
    def shape(self):
        try:
            return self._trace.g[self._node]["shape"]
        except KeyError:  # its node was dropped when its (finished) trace was simplified
            raise self._trace.escaped(self._node) from None

    @property
    def dtype(self):
        try:
            return self._trace.g[self._node]["dtype"]
        except KeyError:
            raise self._trace.escaped(self._node) from None

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def T(self):
        return np.transpose(self)

    @property
    def mT(self):
        return np.swapaxes(self, -1, -2)

    def __len__(self):
        if not self.shape:
            raise GradgraphTypeError("len() of a 0-d traced array (as in NumPy)", loc=user_loc())
        return self.shape[0]

    def __repr__(self):
        from ..graph.core import aval_str

        return f"Tracer({aval_str(self.shape, self.dtype)}, node v{self._node}, value={self._value!r})"

    # -- Python decisions become guards ------------------------------------------------

    def __bool__(self):
        if not self._trace.active:
            raise self._trace.escaped(self._node)
        if self.shape not in ((), (1,)) and self.size != 1:
            raise GradgraphValueError(
                f"the truth value of a traced array of shape {self.shape} is ambiguous (as in "
                "NumPy); use .any() or .all(), or np.where for elementwise choices",
                loc=user_loc())
        b = _concrete(bool, self._value)
        self._trace.guard(self._node, "bool", b)
        return b

    def _python_value(self, conv):
        if not self._trace.active:  # checked first: the value of a past call is stale
            raise self._trace.escaped(self._node)
        if self.size != 1:
            raise GradgraphValueError(
                f"only a one-element traced array can be converted to a Python scalar, "
                f"not shape {self.shape}", loc=user_loc())
        v = _concrete(lambda a: conv(np.asarray(a).reshape(())), self._value)
        self._trace.guard(self._node, "value", v)
        return v

    def __float__(self):
        return self._python_value(float)

    def __int__(self):
        return self._python_value(int)

    def __complex__(self):
        return self._python_value(complex)

    def item(self):
        return self._python_value(lambda a: a.item())

    def tolist(self):
        if self.shape:
            return [x.tolist() for x in self]
        return self.item()

    def __index__(self):
        raise TracerError(
            "a traced value was used where Python needs a plain integer (a shape, a range(), "
            "a list index); its value depends on the inputs. Use int(x) to specialise the "
            "compiled code on it (recorded as a guard), or index with the array itself",
            loc=user_loc())

    # -- indexing and iteration ----------------------------------------------------------

    def __getitem__(self, idx):
        from .numpy_api import getitem

        return getitem(self, idx)

    def __setitem__(self, idx, value):
        raise TracerError(
            "in-place assignment into a traced array (x[...] = v) is not supported: build a "
            "new array instead, e.g. x = np.where(mask, v, x) or np.concatenate(...)",
            loc=user_loc())

    def __iter__(self):
        if not self.shape:
            raise GradgraphTypeError("iteration over a 0-d traced array (as in NumPy)",
                                     loc=user_loc())
        return (self[i] for i in range(self.shape[0]))

    # -- operators -------------------------------------------------------------------------

    def __add__(self, o): return np.add(self, o)
    def __radd__(self, o): return np.add(o, self)
    def __sub__(self, o): return np.subtract(self, o)
    def __rsub__(self, o): return np.subtract(o, self)
    def __mul__(self, o): return np.multiply(self, o)
    def __rmul__(self, o): return np.multiply(o, self)
    def __truediv__(self, o): return np.true_divide(self, o)
    def __rtruediv__(self, o): return np.true_divide(o, self)
    def __floordiv__(self, o): return np.floor_divide(self, o)
    def __rfloordiv__(self, o): return np.floor_divide(o, self)
    def __mod__(self, o): return np.remainder(self, o)
    def __rmod__(self, o): return np.remainder(o, self)
    def __pow__(self, o): return np.power(self, o)
    def __rpow__(self, o): return np.power(o, self)
    def __matmul__(self, o): return np.matmul(self, o)
    def __rmatmul__(self, o): return np.matmul(o, self)
    def __neg__(self): return np.negative(self)
    def __pos__(self): return np.positive(self)
    def __abs__(self): return np.absolute(self)
    def __lt__(self, o): return np.less(self, o)
    def __le__(self, o): return np.less_equal(self, o)
    def __gt__(self, o): return np.greater(self, o)
    def __ge__(self, o): return np.greater_equal(self, o)
    def __eq__(self, o): return np.equal(self, o)
    def __ne__(self, o): return np.not_equal(self, o)
    def __and__(self, o): return np.logical_and(self, o)
    def __or__(self, o): return np.logical_or(self, o)
    def __invert__(self): return np.logical_not(self)

    # -- ndarray methods ---------------------------------------------------------------------

    def sum(self, axis=None, dtype=None, keepdims=False): return np.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)
    def mean(self, axis=None, dtype=None, keepdims=False): return np.mean(self, axis=axis, dtype=dtype, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return np.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return np.min(self, axis=axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return np.prod(self, axis=axis, keepdims=keepdims)
    def var(self, axis=None, ddof=0, keepdims=False): return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def std(self, axis=None, ddof=0, keepdims=False): return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return np.all(self, axis=axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return np.any(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None): return np.argmax(self, axis=axis)
    def argmin(self, axis=None): return np.argmin(self, axis=axis)
    def cumsum(self, axis=None): return np.cumsum(self, axis=axis)
    def dot(self, o): return np.dot(self, o)
    def clip(self, a_min=None, a_max=None): return np.clip(self, a_min, a_max)
    def round(self, decimals=0): return np.round(self, decimals)
    def ravel(self): return np.ravel(self)
    def flatten(self): return np.ravel(self)
    def squeeze(self, axis=None): return np.squeeze(self, axis=axis)
    def swapaxes(self, a, b): return np.swapaxes(self, a, b)
    def copy(self): return self
    def conj(self): return np.conjugate(self)
    def trace(self, offset=0, axis1=0, axis2=1): return np.trace(self, offset, axis1, axis2)
    def diagonal(self, offset=0, axis1=0, axis2=1): return np.diagonal(self, offset, axis1, axis2)
    def take(self, indices, axis=None): return np.take(self, indices, axis=axis)
    def repeat(self, repeats, axis=None): return np.repeat(self, repeats, axis=axis)
    def argsort(self, axis=-1, kind=None): return np.argsort(self, axis=axis, kind=kind)
    def cumprod(self, axis=None): return np.cumprod(self, axis=axis)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return np.reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = axes[0]
        return np.transpose(self, axes or None)

    def astype(self, dtype, copy=True):
        from .numpy_api import astype

        return astype(self, dtype)

    def __iadd__(self, o):  # x += y rebinds x, as for JAX arrays; see docs/tracing.md
        return np.add(self, o)

    def __isub__(self, o): return np.subtract(self, o)
    def __imul__(self, o): return np.multiply(self, o)
    def __itruediv__(self, o): return np.true_divide(self, o)


# NumPy's object-array loops call methods named after ufuncs (``np.sin(obj_array)`` calls
# ``element.sin()``), so give the tracer those, and ``np.array([t1, t2])`` keeps working.
for _name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "arcsin",
              "arccos", "arctan", "log1p", "expm1", "log2", "log10", "exp2", "arcsinh",
              "arccosh", "arctanh", "square", "reciprocal", "absolute", "sign", "floor",
              "ceil", "rint", "conjugate", "cbrt", "deg2rad", "rad2deg", "fabs", "trunc"):
    setattr(Tracer, _name, _ufunc_method(_name))
