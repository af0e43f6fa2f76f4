"""The eager API, PyTorch style: ``gg.tensor``, ``.backward()``, ``.grad``, ``gg.no_grad``.

Eager tensors are tracers (:class:`Tensor` subclasses the tracer) whose trace never closes:
every NumPy function, ufunc, method and operator on a tensor that requires grad is recorded
as a node of an ordinary ``gg.Graph`` (the op table computes its value at once), and
``backward`` adds adjoint nodes to that same graph with ``expand_adjoint`` and evaluates
them. So the eager API shares every rule with ``gg.grad``, and ``create_graph=True`` (the
gradient as graph nodes again) gives second derivatives for free.

>>> import numpy as np, gradgraph as gg
>>> x = gg.tensor(np.arange(4.0), requires_grad=True)
>>> y = 2 * np.dot(x, x)
>>> y
tensor(28., grad_fn=<multiply>)
>>> y.backward()
>>> x.grad
tensor([ 0.,  4.,  8., 12.])

Memory. A graph holds what one connected computation recorded: an operation whose inputs
come from no live graph (only leaves and constants) opens a new graph, one that meets two
graphs merges the smaller into the larger, and ``backward`` without ``retain_graph`` frees
the graph it ran through (its nodes and saved values are dropped; tensors keep their own
values). A graph nobody refers to is freed by reference counting. So a training loop holds
one step's graph at a time: leaves (parameters) are never owned by a graph, each step's
first operation opens a new one. See ``docs/eager.md``.
"""

from __future__ import annotations

import numpy as np

from .eager_graph import (_DETACHED, EagerTrace, TensorBase, _grad_wanted, _raw, _tensors,
                          _unwrap, _wrap, enable_grad, is_grad_enabled, no_grad)
from .errors import AutogradError, GradgraphTypeError, GradgraphValueError, user_loc
from .graph.core import Graph
from .trace.tracer import Tracer

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled"]


class Tensor(TensorBase):
    """An eager array: a NumPy value, whether it requires grad, and (unless it is a leaf)
    the graph node that computed it. Make one with :func:`gg.tensor <tensor>`.

    NumPy functions, ufuncs, methods and operators work on it; results are tensors. On
    tensors that require grad they are recorded (and must have a gradgraph rule), on others
    they are plain NumPy.

    >>> import numpy as np, gradgraph as gg
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad, x.shape, x.dtype, y.item()
    (tensor([2., 4.]), (2,), dtype('float64'), 5.0)
    """

    __slots__ = ()
    __hash__ = object.__hash__  # by identity, as PyTorch (so tensors fit in sets and dicts)

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        t = tensor(data, requires_grad, dtype)
        for k in ("_trace", "_node", "_value", "_req", "_grad", "_version", "_cow", "_op"):
            setattr(self, k, getattr(t, k))

    # -- NumPy protocols -----------------------------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _grad_wanted((inputs, kwargs.get("out"))):
            for o in _tensors(kwargs.get("out") or (), []):
                o._check_writable()
            return Tracer.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)
        out = kwargs.get("out")
        if out:
            targets = _tensors(out, [])
            for t in targets:
                t._before_write()
            getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
            for t in targets:
                t._version[0] += 1
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)), inputs)

    def __array_function__(self, func, types, args, kwargs):
        if _grad_wanted((args, kwargs)):
            return Tracer.__array_function__(self, func, types, args, kwargs)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)), args)

    def __array__(self, dtype=None, copy=None):
        if self._req:
            raise GradgraphTypeError(
                "cannot turn a tensor that requires grad into a NumPy array (its gradient "
                "would be lost): use t.detach().numpy(), or np.stack([...]) to build an "
                "array of tensors", loc=user_loc())
        a = self._value if dtype is None else self._value.astype(dtype, copy=False)
        return a.copy() if copy else a

    # -- facts -----------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._req

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        self.requires_grad_(flag)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by ``gg.tensor``/``detach`` (no graph node)."""
        return self._node is None

    @property
    def grad_fn(self) -> str | None:
        """The op that computed this tensor (``"multiply"``), None for a leaf."""
        return self._op if self._node is not None else None

    @property
    def graph(self) -> Graph | None:
        """The ``gg.Graph`` this tensor was recorded in (with adjoint nodes after a
        ``backward(retain_graph=True)``), None for a leaf."""
        T, _ = self._resolve()
        return None if T is None else T.g

    @property
    def grad(self) -> "Tensor | None":
        """The gradient accumulated by ``backward`` (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            value = Tensor._make(np.array(value, dtype=self.dtype))
        if value.shape != self.shape:
            raise GradgraphValueError(f"a gradient of shape {value.shape} for a tensor of "
                                      f"shape {self.shape}", loc=user_loc())
        self._grad = value

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="tensor(")
        extra = "" if self.dtype in (np.float64, np.int64, np.bool_) else f", dtype={self.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._op}>"
        elif self._req:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __str__ = __repr__

    def __format__(self, spec):
        if spec and self._value.size == 1:
            return format(self.item(), spec)  # f"{loss:.3f}", as for a float
        return format(str(self), spec)

    # -- autograd --------------------------------------------------------------------------

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or stop) recording operations on this leaf; returns it.

        >>> import numpy as np, gradgraph as gg
        >>> gg.tensor(np.arange(3.0)).requires_grad_()
        tensor([0., 1., 2.], requires_grad=True)
        """
        if self._node is not None:
            if not requires_grad:
                raise AutogradError(
                    "requires_grad can only be changed on a leaf tensor; for a computed "
                    "tensor without history use t.detach()", loc=user_loc())
            return self
        if requires_grad and self.dtype.kind != "f":
            raise GradgraphTypeError(
                f"only real floating tensors can require grad, not dtype {self.dtype}; make "
                "it with a float dtype, e.g. gg.tensor(data, dtype=float)", loc=user_loc())
        self._req = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf this tensor depends
        on. ``gradient`` is needed unless the tensor has one element (for a vector ``y``,
        ``y.backward(v)`` gives the vector-Jacobian product ``v @ J``). The graph is freed
        afterwards unless ``retain_graph`` (default: ``create_graph``); ``create_graph``
        records the gradient as graph nodes, so it can be differentiated again.

        >>> import gradgraph as gg
        >>> x = gg.tensor(2.0, requires_grad=True)
        >>> (x ** 3).backward(create_graph=True)
        >>> dx = x.grad            # 3 x^2, differentiable again
        >>> x.grad = None
        >>> dx.backward()
        >>> float(dx), float(x.grad)   # 3 x^2 = 12, 6 x = 12
        (12.0, 12.0)
        """
        loc = user_loc()
        if not self._req:
            raise AutogradError(
                "this tensor does not require grad and has no graph, so there is nothing to "
                "differentiate: make the inputs with gg.tensor(..., requires_grad=True) (or "
                "call x.requires_grad_()) before computing with them, outside gg.no_grad()",
                loc=loc)
        if gradient is None:
            if self._value.size != 1:
                raise GradgraphValueError(
                    f"backward() without a gradient needs a tensor with one element, this one "
                    f"has shape {self.shape}: pass gradient= (an array of that shape, e.g. "
                    "np.ones_like(y) to differentiate the sum), or call y.sum().backward()",
                    loc=loc)
        elif np.shape(_raw(gradient)) != self.shape:
            raise GradgraphValueError(
                f"the gradient has shape {np.shape(_raw(gradient))}, but the tensor has shape "
                f"{self.shape}: pass an array of the tensor's shape", loc=loc)
        retain = create_graph if retain_graph is None else bool(retain_graph)
        T, n = self._resolve()
        if T is None:  # a leaf: d(self)/d(self) is the identity
            seed = np.ones(self.shape, self.dtype) if gradient is None else gradient
            self._accumulate(seed if isinstance(seed, Tensor) and create_graph
                             else np.array(_raw(seed), dtype=self.dtype), create_graph)
            return
        if T.freed:
            raise AutogradError(
                "trying to backward through the graph a second time: .backward() at "
                f"{T.freed} already freed it (its saved values are gone). Pass "
                "retain_graph=True to the first backward if you need to backward through "
                "the graph again, or recompute the forward pass", loc=loc)
        T.backward(n, gradient, retain, create_graph, loc)

    def _accumulate(self, new, create: bool):
        if self._grad is None:
            self._grad = new if isinstance(new, Tensor) else Tensor._make(new)
        elif create or self._grad._node is not None:
            ctx = enable_grad() if create else no_grad()
            with ctx:
                self._grad = self._grad + new
        else:
            self._grad += new  # in place, as PyTorch accumulates

    def detach(self) -> "Tensor":
        """The same values as a leaf without history (nothing flows back through it).

        >>> import numpy as np, gradgraph as gg
        >>> x = gg.tensor(np.arange(4.0), requires_grad=True)
        >>> u = (x * x).detach()
        >>> (u * x).sum().backward()
        >>> bool((x.grad == u).all())
        True
        """
        t = Tensor._make(self._value)
        if self._node is not None or self._cow:
            t._cow = True
        else:
            t._version = self._version
        return t

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._value.size != 1:
            raise GradgraphValueError(f"item() needs a tensor with one element, not shape "
                                      f"{self.shape}", loc=user_loc())
        return self._value.item()

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (sharing memory; raises for tensors that require
        grad: use ``t.detach().numpy()``)."""
        return self.__array__()

    def tolist(self):
        return self._value.tolist()

    def norm(self) -> "Tensor":
        """The 2-norm of all elements (PyTorch's ``t.norm()``)."""
        from .trace.numpy_api import HANDLERS

        if np.linalg.norm in HANDLERS or not _grad_wanted((self,)):
            return np.linalg.norm(self)
        return np.sqrt(np.sum(self * self))

    def clone(self) -> "Tensor":
        """A copy that stays in the graph (gradients flow back through it)."""
        if _grad_wanted((self,)):
            return np.positive(self)
        return Tensor._make(self._value.copy())

    copy = clone

    def astype(self, dtype, copy=True):
        if _grad_wanted((self,)):
            return Tracer.astype(self, dtype)
        return Tensor._make(self._value.astype(dtype))

    # -- Python values (no guards: eager code runs once) ----------------------------------

    def __bool__(self):
        if self._value.size != 1:
            raise GradgraphValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous: use "
                ".any() or .all()", loc=user_loc())
        return bool(self._value)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub" or self._value.size != 1:
            raise TypeError(f"only integer tensors with one element can be used as an "
                            f"index, not {self.dtype} of shape {self.shape}")
        return int(self._value)

    # -- indexing ------------------------------------------------------------------------

    def __getitem__(self, idx):
        if _grad_wanted((self, idx)):
            return Tracer.__getitem__(self, idx)
        return _wrap(self._value[_unwrap(idx)], (self,))

    def __setitem__(self, idx, value):
        if is_grad_enabled() and (self._req or _raw_req(value)):
            raise AutogradError(
                "assignment into a tensor that requires grad (or of one that does) is not "
                "recorded: build a new tensor (np.where(mask, v, x), np.concatenate), or "
                "assign under gg.no_grad() if no gradient should flow", loc=user_loc())
        self._before_write()
        self._value[_unwrap(idx)] = _unwrap(value)
        self._version[0] += 1

    # -- in place ------------------------------------------------------------------------

    def _check_writable(self):
        if self._req and self._node is None and is_grad_enabled():
            raise AutogradError(
                "a leaf tensor that requires grad is changed in place: its old value may be "
                "needed by backward. Do the update under `with gg.no_grad():` (an optimizer "
                "step), or write w = w - ... for a new tensor", loc=user_loc())

    def _before_write(self):
        """Called before changing ``_value`` in place."""
        self._check_writable()
        if self._node is not None:
            raise AutogradError(
                "a tensor computed with gradient tracking is changed in place under "
                "gg.no_grad(): backward would see the wrong value. Use t.detach() (or a new "
                "tensor) for the changed copy", loc=user_loc())
        if self._cow:
            self._value, self._version, self._cow = self._value.copy(), [0], False

    def _inplace(self, ufunc, other):
        if is_grad_enabled() and (self._req or _raw_req(other)):
            self._check_writable()
            r = ufunc(self, other)  # recorded out of place; this object now names the result
            self._trace, self._node, self._value = r._trace, r._node, r._value
            self._req, self._op, self._version, self._cow = r._req, r._op, r._version, r._cow
            return self
        self._before_write()
        ufunc(self._value, _unwrap(other), out=self._value)
        self._version[0] += 1
        return self

    def __iadd__(self, o): return self._inplace(np.add, o)
    def __isub__(self, o): return self._inplace(np.subtract, o)
    def __imul__(self, o): return self._inplace(np.multiply, o)
    def __itruediv__(self, o): return self._inplace(np.true_divide, o)
    def __ipow__(self, o): return self._inplace(np.power, o)

    def add_(self, other, alpha=1.0) -> "Tensor":
        return self._inplace(np.add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1.0) -> "Tensor":
        return self._inplace(np.subtract, other if alpha == 1 else other * alpha)

    def mul_(self, other) -> "Tensor":
        return self._inplace(np.multiply, other)

    def div_(self, other) -> "Tensor":
        return self._inplace(np.true_divide, other)

    def zero_(self) -> "Tensor":
        """Set every element to 0 in place (``x.grad.zero_()``); returns the tensor."""
        if self._node is not None:  # e.g. a create_graph gradient: it leaves its graph
            self._trace, self._node, self._req, self._op = _DETACHED, None, False, None
            self._value, self._version, self._cow = np.zeros_like(self._value), [0], False
            return self
        self._before_write()
        self._value[...] = 0
        self._version[0] += 1
        return self

    def fill_(self, value) -> "Tensor":
        self._before_write()
        self._value[...] = _unwrap(value)
        self._version[0] += 1
        return self


def _raw_req(x) -> bool:
    return any(t._req for t in _tensors(x, []))


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (array, list, scalar or tensor).
    ``requires_grad=True`` needs a real floating dtype.

    >>> import numpy as np, gradgraph as gg
    >>> x = gg.tensor(np.arange(4.0), requires_grad=True)
    >>> x, x.grad
    (tensor([0., 1., 2., 3.], requires_grad=True), None)
    >>> gg.tensor([1, 2])
    tensor([1, 2])
    """
    value = np.array(_raw(data), dtype=dtype, copy=True)
    if value.dtype == object:
        raise GradgraphTypeError("gg.tensor needs numbers (an array, a list of numbers or a "
                                 "scalar); to stack tensors that require grad use np.stack",
                                 loc=user_loc())
    return Tensor._make(value).requires_grad_(requires_grad)


EagerTrace.tensor_type = Tensor  # the trace makes gg.Tensor objects
