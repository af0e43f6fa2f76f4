"""Random draws: one op per distribution, ``random.normal``, ``random.integers`` …

A random node is ``random.<distribution>(rng, *params)``: its first operand is a const node
whose value is the ``np.random.Generator`` or ``np.random.RandomState`` drawn from (the global
``np.random`` functions draw from NumPy's hidden ``RandomState``), the others are the
distribution's array parameters. ``attrs`` hold the options (``size``, ``dtype``, ``replace``
…), ``params`` (the keyword names of the parameter operands) and, where the method's name
differs from the op's, ``call``. Evaluating the node calls that method, so the interpreter,
tracing and the generated code all draw fresh values from the very same generator, in graph
order. Random ops are impure (``Op.pure=False``): they are never merged or folded, and the
graph keeps them alive even when their value is unused (``Graph.live``), so compiled code
draws exactly as often as the Python function.

The draw itself has no derivative. Reparameterised samples differentiate because tracing
records ``rng.normal(loc, scale)`` with traced parameters as ``loc + scale * z`` over a
``random.standard_normal`` node ``z`` (likewise ``uniform``, ``exponential``, and indexing for
``choice``/``permutation`` of a traced array; see ``gradgraph/trace/random.py``); the numbers
are bit for bit those NumPy draws. Differentiating through the parameters of any other
distribution raises ``UnsupportedOperationError``.

>>> import numpy as np
>>> from gradgraph.ops.registry import OPS
>>> op = OPS["random.normal"]
>>> op.pure, op.emit(["rng", "v2"], {"params": ("loc",), "size": (3,)})
(False, 'rng.normal(loc=v2, size=(3,))')
>>> np.allclose(op.impl(np.random.default_rng(0), 1.0, params=("loc",), size=(2,)),
...             np.random.default_rng(0).normal(1.0, size=(2,)))
True
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

from ..errors import UnsupportedOperationError
from .registry import Op, register

RNG_TYPES = (np.random.Generator, np.random.RandomState)


def is_rng(x) -> bool:
    """True for NumPy generators (``Generator``, ``RandomState``), proxies included."""
    return isinstance(x, RNG_TYPES)


def global_rng() -> np.random.RandomState:
    """The hidden ``RandomState`` behind ``np.random.randn`` and friends."""
    return np.random.mtrand._rand


def rng_text(rng) -> str:
    """A deterministic description of a generator (no memory address), for listings."""
    if rng is global_rng():
        return "np.random"
    return f"{type(rng).__name__}({type(_bit_generator(rng)).__name__})"


# The observer of every draw made through the op table (tracing, the interpreter): set by
# gradgraph.trace.random to check that a generator's state moves only by recorded draws.
observer = None


def draw(rng, call: str, kwargs: dict):
    method = getattr(rng, call)
    if observer is None:
        return method(**kwargs)
    return observer(rng, method, kwargs)


# -- the table ---------------------------------------------------------------------------------

# family: how the output shape follows from size and the parameters
#   "scalar": size, else the broadcast of the parameters
#   "event":  size (or the broadcast batch) plus the last axis of the named parameter
#   "choice", "permutation", "permuted": see _shape
_FLOAT, _INT = "float64", "int64"
DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    # continuous
    "standard_normal": ("scalar", _FLOAT), "normal": ("scalar", _FLOAT),
    "random": ("scalar", _FLOAT), "uniform": ("scalar", _FLOAT),
    "standard_exponential": ("scalar", _FLOAT), "exponential": ("scalar", _FLOAT),
    "standard_gamma": ("scalar", _FLOAT), "gamma": ("scalar", _FLOAT),
    "beta": ("scalar", _FLOAT), "chisquare": ("scalar", _FLOAT),
    "noncentral_chisquare": ("scalar", _FLOAT), "f": ("scalar", _FLOAT),
    "noncentral_f": ("scalar", _FLOAT), "standard_cauchy": ("scalar", _FLOAT),
    "standard_t": ("scalar", _FLOAT), "vonmises": ("scalar", _FLOAT),
    "pareto": ("scalar", _FLOAT), "weibull": ("scalar", _FLOAT), "power": ("scalar", _FLOAT),
    "laplace": ("scalar", _FLOAT), "gumbel": ("scalar", _FLOAT),
    "logistic": ("scalar", _FLOAT), "lognormal": ("scalar", _FLOAT),
    "rayleigh": ("scalar", _FLOAT), "wald": ("scalar", _FLOAT),
    "triangular": ("scalar", _FLOAT),
    # discrete
    "integers": ("scalar", _INT), "random_integers": ("scalar", _INT),
    "binomial": ("scalar", _INT), "negative_binomial": ("scalar", _INT),
    "poisson": ("scalar", _INT), "zipf": ("scalar", _INT), "geometric": ("scalar", _INT),
    "hypergeometric": ("scalar", _INT), "logseries": ("scalar", _INT),
    # multivariate: the event axis comes from this parameter
    "multivariate_normal": ("event:mean", _FLOAT), "dirichlet": ("event:alpha", _FLOAT),
    "multinomial": ("event:pvals", _INT),
    "multivariate_hypergeometric": ("event:colors", _INT),
    # combinatorial
    "choice": ("choice", ""), "permutation": ("permutation", ""), "permuted": ("permuted", ""),
}

OPTIONS = frozenset({"size", "dtype", "endpoint", "replace", "axis", "shuffle", "method",
                     "check_valid", "tol", "out"})
_META = ("call", "params")


def _kwargs(vals, attrs) -> dict:
    kw = {k: v for k, v in attrs.items() if k not in _META}
    kw.update(zip(attrs.get("params", ()), vals))
    return kw


def _impl(dist):
    def impl(rng, *vals, **attrs):
        return draw(rng, attrs.get("call", dist), _kwargs(vals, attrs))

    impl.__name__ = dist
    return impl


def _literal(v) -> str:
    if isinstance(v, float) and not np.isfinite(v):
        return f"float({str(v)!r})"
    return repr(v)


def _emit(dist):
    def emit(args, attrs):
        parts = [f"{p}={a}" for p, a in zip(attrs.get("params", ()), args[1:], strict=True)]
        parts += [f"{k}={_literal(v)}" for k, v in sorted(attrs.items()) if k not in _META]
        return f"{args[0]}.{attrs.get('call', dist)}({', '.join(parts)})"

    return emit


def _shape(dist, family, default_dtype):
    def rule(avals, **attrs):
        params = dict(zip(attrs.get("params", ()), avals[1:]))
        size = attrs.get("size")
        size = () if size is None else ((size,) if isinstance(size, int) else tuple(size))
        pshapes = [a[0] for a in params.values()]
        dtype = attrs.get("dtype")
        if family == "scalar":
            shape = size if attrs.get("size") is not None else np.broadcast_shapes(*pshapes)
        elif family.startswith("event:"):
            ev = params[family[6:]][0]
            if attrs.get("size") is not None:
                shape = size + ev[-1:]
            else:
                batch = [s for k, s in params.items() if k != family[6:]]
                if dist == "multinomial":  # the batch broadcasts n with pvals[:-1]
                    batch.append(ev[:-1])
                shape = (np.broadcast_shapes(*batch) if batch else ()) + ev[-1:]
        elif family == "choice":
            a = params.get("a")
            rest = ()
            if a is not None and a[0]:
                ax = attrs.get("axis", 0) % len(a[0])
                rest = a[0][:ax] + a[0][ax + 1:]
            shape = size + rest
            dtype = dtype or (a[1] if a is not None else np.dtype(int))
        else:  # permutation, permuted
            x = params.get("x")
            shape = x[0] if x is not None else (attrs["x"],)
            dtype = dtype or (x[1] if x is not None else np.dtype(int))
        return tuple(shape), np.dtype(dtype or default_dtype)

    return rule


def _no_derivative(dist):
    def rule(*args, **attrs):
        raise UnsupportedOperationError(
            f"np.random {dist}: gradgraph has no reparameterisation rule for the parameters "
            "of this distribution, so it cannot differentiate the draws with respect to them "
            "(normal, uniform, exponential, and choice/permutation of a traced array do "
            "differentiate). Wrap the parameters in gg.stop_gradient, or draw standard "
            "variates and transform them yourself")

    return rule


for _dist, (_family, _dtype) in DISTRIBUTIONS.items():
    register(Op(
        name=f"random.{_dist}", impl=_impl(_dist), emit=_emit(_dist), kind="other",
        shape=_shape(_dist, _family, _dtype), vjp=_no_derivative(_dist),
        jvp=_no_derivative(_dist), pure=False, domain="random", nin=None,
        numpy=(f"np.random.{_dist}", f"Generator.{_dist}", f"RandomState.{_dist}"),
        doc=f"a fresh {_dist} draw from the generator operand on every evaluation"))


# -- what a graph knows about its generators -------------------------------------------------


def graph_meta(g) -> dict:
    """``{"names": {id: user name}, "args": {id: argument position}, "impure": (loc, why)}``
    of a traced graph (set by gradgraph.trace.random when the trace ends)."""
    return getattr(g, "random_meta", None) or g.nx.graph.get("random_meta") or {}


def set_graph_meta(g, meta: dict) -> None:
    # both places: Graph.copy keeps the networkx graph's attributes, the rewrite replay
    # keeps the Graph's own attributes
    g.random_meta = meta
    g.nx.graph["random_meta"] = meta


# -- code generation: the generators a graph draws from --------------------------------------


def bind_generators(g, order, arg_names: list[str]):
    """Names for the generator consts of ``g``: ``np.random`` for NumPy's global generator,
    the user's argument name for a generator passed as an argument, else a module-level name
    (the user's own variable name where known, else ``rng0``, ``rng1`` …).

    Returns ``(names, env, declare)``: ``{node: expression}``, ``{name: generator}`` to bind in
    the module's globals, and ``declare(standalone) -> lines`` for the module header.
    """
    from ..codegen.driver import safe_name

    nodes = g.nx._node
    meta = graph_meta(g)
    names: dict[int, str] = {}
    env: dict[str, object] = {}
    taken = set(arg_names) | {"np"}
    taken |= {nodes[n].get("name") for n in g.inputs if nodes[n].get("name")}
    by_obj: dict[int, str] = {}
    k = 0
    for n in order:
        d = nodes[n]
        if d["op"] != "const" or not is_rng(d["value"]):
            continue
        v = d["value"]
        if v is global_rng():
            names[n] = "np.random"
            continue
        i = meta.get("args", {}).get(id(v))
        if i is not None and i < len(arg_names):
            names[n] = arg_names[i]
            continue
        if id(v) in by_obj:
            names[n] = by_obj[id(v)]
            continue
        hint = meta.get("names", {}).get(id(v))
        name = safe_name(hint) if hint else None
        if name is None or name in taken or name.startswith("_"):
            while f"rng{k}" in taken:
                k += 1
            name = f"rng{k}"
        taken.add(name)
        names[n] = by_obj[id(v)] = name
        env[name] = v

    def declare(standalone: bool) -> list[str]:
        out = []
        for name, v in env.items():
            if standalone:
                out.append(f"# {name}: the {rng_text(v)} this function draws from; assign "
                           "another to seed it")
                out.append(f"{name} = {_fresh(v)}")
            else:
                out.append(f"# {name}: the {rng_text(v)} this function draws from, bound when "
                           "loaded")
        return out

    return names, env, declare


def _fresh(rng) -> str:
    """Source that makes a fresh, unseeded generator of the same kind."""
    bg = type(_bit_generator(rng)).__name__
    if isinstance(rng, np.random.Generator):
        return "np.random.default_rng()" if bg == "PCG64" else \
            f"np.random.Generator(np.random.{bg}())"
    return "np.random.RandomState()" if bg == "MT19937" else \
        f"np.random.RandomState(np.random.{bg}())"


# -- generator states ----------------------------------------------------------------------------


def get_state(rng):
    """The full state of a generator (restorable with :func:`set_state`)."""
    if isinstance(rng, np.random.RandomState):
        return rng.get_state(legacy=False)
    return rng.bit_generator.state


def set_state(rng, state) -> None:
    if isinstance(rng, np.random.RandomState):
        rng.set_state(state)
    else:
        rng.bit_generator.state = state


def _bit_generator(rng):
    return rng.bit_generator if isinstance(rng, np.random.Generator) else rng._bit_generator


_MT_BYTES = 624 * 4 + 4  # mt19937_state: uint32 key[624]; int pos


def fingerprint(rng):
    """A cheap comparable summary of a generator's state: it changes whenever a draw moves
    the state. MT19937's state getter copies 2.5 kB through Python (~80 us), so its raw bytes
    are read through the ctypes interface instead (~1 us). (A RandomState's cached second
    Gaussian is not part of it.)"""
    bg = _bit_generator(rng)
    kind = type(bg)
    if _MT_RAW and kind is np.random.MT19937:
        return ctypes.string_at(bg.ctypes.state_address, _MT_BYTES)
    st = bg.state
    if kind is np.random.PCG64 or kind is np.random.PCG64DXSM:  # the default: no recursion
        return (st["state"]["state"], st["state"]["inc"], st["has_uint32"], st["uinteger"])
    return state_key(st)


def _check_mt_raw() -> bool:
    """The raw-bytes fingerprint agrees with NumPy's own view of an MT19937 state."""
    try:
        bg = np.random.MT19937(0)
        raw = ctypes.string_at(bg.ctypes.state_address, _MT_BYTES)
        st = bg.state["state"]
        return (raw[:-4] == np.asarray(st["key"], np.uint32).tobytes()
                and int.from_bytes(raw[-4:], sys.byteorder, signed=True) == st["pos"])
    except Exception:  # pragma: no cover  (no ctypes interface)
        return False


def state_key(state):
    """A comparable form of a state (arrays become bytes)."""
    if isinstance(state, dict):
        return tuple((k, state_key(v)) for k, v in sorted(state.items()))
    if isinstance(state, (tuple, list)):
        return tuple(state_key(v) for v in state)
    if isinstance(state, np.ndarray):
        return (state.dtype.str, state.shape, state.tobytes())
    return state


_MT_RAW = _check_mt_raw()
