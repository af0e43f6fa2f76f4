"""Recording one draw: the proxies that stand in for generators while tracing, the
normalisation of a NumPy random call into a random node (``gradgraph/ops/random.py``), the
reparameterisations that make samples with traced parameters differentiable, and the observer
that follows each generator's state draw by draw. The scope that installs all this for one
trace is in ``gradgraph/trace/random.py``.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GradgraphValueError, TracerError, UnsupportedOperationError, user_loc
from ..ops import random as ops_random
from ..ops.random import DISTRIBUTIONS, OPTIONS, fingerprint, get_state, rng_text
from .tracer import Tracer, computing_values

if TYPE_CHECKING:
    from .random import Scope

_local = threading.local()
_lock = threading.RLock()


def _scopes() -> list["Scope"]:
    s = getattr(_local, "scopes", None)
    if s is None:
        s = _local.scopes = []
    return s


def current_scope() -> "Scope | None":
    s = getattr(_local, "scopes", None)
    return s[-1] if s else None


# -- method names ----------------------------------------------------------------------------

ALIASES = {"randn": "standard_normal", "rand": "random", "random_sample": "random",
           "ranf": "random", "sample": "random", "randint": "integers"}
# methods that cannot be a node: they mutate in place, reseed or hand out fresh entropy
IMPURE_METHODS = {"shuffle": "shuffles an array in place", "bytes": "draws raw bytes",
                  "spawn": "spawns child generators", "seed": "reseeds the generator",
                  "set_state": "sets the generator's state", "tomaxint": "draws raw integers"}


def _call_name(rng, dist: str) -> str:
    """The method that draws ``dist`` on this kind of generator."""
    if dist == "integers" and isinstance(rng, np.random.RandomState):
        return "randint"
    return dist


@functools.lru_cache(maxsize=None)
def _signature(kind: type, call: str) -> inspect.Signature:
    return inspect.signature(getattr(kind, call))


def _bind(rng, call, args, kwargs):
    sig = _signature(type(rng), call)
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        sig = sig.replace(parameters=params[1:])
    try:
        return sig.bind(*args, **kwargs).arguments
    except TypeError as e:
        raise TypeError(f"{call}(): {e}") from None


# -- calls that make a trace impure -----------------------------------------------------------

# callers that use the clock or files for their own bookkeeping, not for the traced values
_EXCLUDED_CALLERS = ("gradgraph", "logging", "coverage", "_pytest", "pytest", "pluggy",
                     "hypothesis", "importlib", "linecache", "tokenize", "inspect",
                     "traceback", "warnings", "threading")


# Draws from NumPy's global generator by threads that are not tracing: the global state is
# process-wide, so a trace elsewhere cannot tell them from its own unrecorded draws.
_foreign = [0]


def _marked(fn, what: str, global_state: bool = False):
    """``fn`` that marks the tracing thread's scope impure (unless called by a library that
    only uses it for its own bookkeeping). ``global_state``: it moves np.random's state."""
    def wrapper(*args, **kwargs):
        scope = current_scope()
        if scope is None and global_state:
            _foreign[0] += 1
        elif scope is not None and not computing_values():
            if any(isinstance(a, Tracer) for a in args):
                raise TracerError(f"{what} cannot work on a traced array in place; build a new "
                                  "array instead (x = rng.permutation(x))", loc=user_loc())
            caller = sys._getframe(1).f_globals.get("__name__", "") or ""
            if not caller.startswith(_EXCLUDED_CALLERS):
                scope.mark_impure(user_loc(), f"it calls {what}")
        return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn
    wrapper.__name__ = getattr(fn, "__name__", "wrapper")
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    wrapper.__gg_make__ = lambda f: _marked(f, what, global_state)
    return wrapper


# -- proxies ------------------------------------------------------------------------------------


def _proxy_getattribute(self, name):
    if name.startswith("__") or name.startswith("_gg_"):
        return object.__getattribute__(self, name)
    real = object.__getattribute__(self, "_gg_real")
    scope = current_scope()
    if scope is not None:
        dist = ALIASES.get(name, name)
        if dist in DISTRIBUTIONS and hasattr(real, name):
            return functools.partial(record_draw, scope, real, name)
        if name in IMPURE_METHODS:
            return _marked(getattr(real, name), f"{rng_text(real)}.{name} "
                                                f"({IMPURE_METHODS[name]})")
    return getattr(real, name)


class GeneratorProxy(np.random.Generator):
    """Stands in for a ``Generator`` while tracing: records draws, forwards the rest."""

    __getattribute__ = _proxy_getattribute

    def __init__(self, real):
        super().__init__(real.bit_generator)  # shares the bit generator: C-level users agree
        object.__setattr__(self, "_gg_real", real)


class RandomStateProxy(np.random.RandomState):
    """Stands in for a ``RandomState`` while tracing: records draws, forwards the rest."""

    __getattribute__ = _proxy_getattribute

    def __init__(self, real):
        super().__init__(real._bit_generator)
        object.__setattr__(self, "_gg_real", real)


def real_of(x):
    """The generator behind a proxy (or ``x`` itself)."""
    if isinstance(x, (GeneratorProxy, RandomStateProxy)):
        return object.__getattribute__(x, "_gg_real")
    return x


def proxy_of(real):
    real = real_of(real)
    return GeneratorProxy(real) if isinstance(real, np.random.Generator) else \
        RandomStateProxy(real)


# -- recording a draw ---------------------------------------------------------------------------


def _size(v):
    if v is None:
        return None
    if isinstance(v, (int, np.integer, Tracer)):
        return (int(v),)
    return tuple(int(s) for s in v)


def _option(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Tracer):
        return v.item()  # a Python value is needed: specialise on it (a guard)
    return v


def _param(v):
    return np.asarray(v) if isinstance(v, (list, tuple)) else v


def record_draw(scope: "Scope", real, method: str, *args, **kwargs):
    """Record ``real.<method>(*args, **kwargs)`` as random nodes of the scope's trace and
    return the traced value (drawn now, from ``real``)."""
    loc = user_loc()
    dist = ALIASES.get(method, method)
    call = _call_name(real, dist)
    params: dict = {}
    opts: dict = {}
    if method in ("randn", "rand"):
        if kwargs:
            raise TypeError(f"{method}() got unexpected keyword arguments {sorted(kwargs)}")
        if args:
            opts["size"] = _size(args)
    else:
        for k, v in _bind(real, call, args, kwargs).items():
            (opts if k in OPTIONS else params)[k] = v
    if opts.pop("out", None) is not None:
        raise UnsupportedOperationError(
            f"{method}(..., out=...) writes into an array in place; tracing needs a new array: "
            "drop out=", loc=loc)
    if "size" in opts:
        opts["size"] = _size(opts["size"])
        if opts["size"] is None:
            del opts["size"]
    if "dtype" in opts:
        opts["dtype"] = np.dtype(opts["dtype"]).name
    opts = {k: _option(v) for k, v in opts.items()}
    params = {k: _param(v) for k, v in params.items() if v is not None}
    for pop in ("a", "x"):  # a population size: an option (the output shape depends on it)
        if dist in ("choice", "permutation") and isinstance(params.get(pop), (int, np.integer)):
            opts[pop] = int(params.pop(pop))
    if dist in REPARAM and any(isinstance(params.get(k), Tracer) for k in REPARAM[dist][0]):
        return REPARAM[dist][1](scope, real, params, opts, loc)
    return _node(scope, real, dist, params, opts, loc)


def _node(scope, real, dist, params, opts, loc):
    T = scope.trace
    attrs = dict(opts)
    call = _call_name(real, dist)
    if call != dist:
        attrs["call"] = call
    if params:
        attrs["params"] = tuple(params)
    nodes = [T.lift(real)] + [T.lift(v) for v in params.values()]
    t = T.apply_nodes(f"random.{dist}", nodes, attrs, loc)
    if type(t._value) in (float, int, bool):  # a Python scalar: NumPy treats it as weak
        T.g[t._node]["weak"] = True
    return t


def _draw_shape(opts, *params):
    """``size`` when given (None stays None), else the parameters' broadcast shape."""
    if "size" in opts:
        return opts["size"]
    shape = np.broadcast_shapes(*(np.shape(p) for p in params))
    return shape or None


def _standard(scope, real, dist, size, loc, **more):
    return _node(scope, real, dist, {}, ({"size": size} if size is not None else {}) | more, loc)


def _nonneg(v, what, loc):
    val = v._value if isinstance(v, Tracer) else v
    if np.any(np.asarray(val) < 0):
        raise GradgraphValueError(f"{what} < 0 (as NumPy says)", loc=loc)


# Reparameterisations: draws of a distribution whose parameters are traced, written as a
# transform of a standard draw. Each gives bit for bit NumPy's numbers (tests/test_random.py).

def _normal(scope, real, params, opts, loc):
    mu, sigma = params.get("loc", 0.0), params.get("scale", 1.0)
    _nonneg(sigma, "scale", loc)
    z = _standard(scope, real, "standard_normal", _draw_shape(opts, mu, sigma), loc)
    return np.add(mu, np.multiply(sigma, z))


def _uniform(scope, real, params, opts, loc):
    lo, hi = params.get("low", 0.0), params.get("high", 1.0)
    u = _standard(scope, real, "random", _draw_shape(opts, lo, hi), loc)
    return np.add(lo, np.multiply(np.subtract(hi, lo), u))


def _exponential(scope, real, params, opts, loc):
    scale = params.get("scale", 1.0)
    _nonneg(scale, "scale", loc)
    e = _standard(scope, real, "standard_exponential", _draw_shape(opts, scale), loc)
    return np.multiply(scale, e)


def _take(x, idx, axis):
    return x[(slice(None),) * axis + (idx,)]


def _population(x, what, opts, real, loc):
    if x.ndim == 0:
        raise GradgraphValueError(f"{what} must be an integer or at least 1-dimensional "
                                  "(as NumPy says)", loc=loc)
    axis = opts.pop("axis", 0)
    if isinstance(real, np.random.RandomState) and x.ndim != 1 and what == "a":
        raise GradgraphValueError("a must be 1-dimensional (as NumPy's RandomState.choice says)",
                                  loc=loc)
    axis = axis % x.ndim
    return axis, x.shape[axis]


def _choice(scope, real, params, opts, loc):
    a = params.pop("a")
    axis, n = _population(a, "a", opts, real, loc)
    idx = _node(scope, real, "choice", params, opts | {"a": n}, loc)
    return _take(a, idx, axis)


def _permutation(scope, real, params, opts, loc):
    x = params.pop("x")
    axis, n = _population(x, "x", opts, real, loc)
    idx = _node(scope, real, "permutation", {}, {"x": n}, loc)
    return _take(x, idx, axis)


# distribution -> (the parameters that, traced, call for the rule; the rule)
REPARAM = {"normal": (("loc", "scale"), _normal), "uniform": (("low", "high"), _uniform),
           "exponential": (("scale",), _exponential), "choice": (("a",), _choice),
           "permutation": (("x",), _permutation)}


# -- the observer of every op-table draw: states move only by recorded draws --------------------


class _Entry:
    """One generator a scope follows: the fingerprint its state should have now, and its full
    state before the first recorded draw (to undo the draws when the trace ends)."""

    __slots__ = ("obj", "fp", "snapshot", "last_loc")

    def __init__(self, obj):
        self.obj = obj
        self.fp = fingerprint(obj)
        self.snapshot = None
        self.last_loc = None


def _observe(rng, method, kwargs):
    scope = current_scope()
    if scope is None:
        return method(**kwargs)
    e = scope.entry(rng)
    loc = user_loc()
    if e.snapshot is None:
        e.snapshot = get_state(rng)
    if fingerprint(rng) != e.fp:
        scope.moved(e, loc)
    value = method(**kwargs)
    e.fp = fingerprint(rng)
    e.last_loc = loc
    return value


ops_random.observer = _observe
