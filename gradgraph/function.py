"""``gg.Function``: a traced-and-compiled callable, cached per input signature.

A call outside any trace looks up the variants compiled for the call's signature (pytree
structure, shapes and dtypes, never values), runs the first whose guards hold, and traces and
compiles a new variant when none does, so results are always those of the Python function.
A call inside a trace (a transform of a transform, or an eager tensor) inlines the graph.
"""

from __future__ import annotations

import gc
import itertools
import linecache
import os
import tempfile
import threading

import numpy as np

from . import config
from .codegen.driver import generate, safe_name
from .errors import GradgraphFileNotFoundError, GradgraphValueError, user_loc
from .trace import arg_names_of, trace_call
from .trace.pytree import flatten, unflatten
from .trace.random import evaluate_impure, guard_safe, impurity, preserved, refuse_save, \
    rng_key, split_rng_args, warn_impure
from .trace.tracer import Tracer, current_trace, trace_stack

_counter = itertools.count(1)


class _Traced(Exception):
    pass


def _leaf_key(x):
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char)
    if t is float or t is int or t is bool or t is complex:
        return t
    if isinstance(x, Tracer):
        raise _Traced
    if isinstance(x, np.generic):
        return ("scalar", x.dtype.char)
    if isinstance(x, np.ndarray):
        return (x.shape, x.dtype.char, t)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return (t, tuple(x.shape), np.dtype(x.dtype).char)
    return None  # flatten will name the problem


def signature(args):
    """The cache key of a call: structure, shapes and dtypes of the arguments."""
    key = []
    for a in args:  # every call pays for this: a plain loop, no generator, no calls
        t = type(a)
        if t is float or t is int:
            key.append(t)
        elif t is np.ndarray:
            key.append((a.shape, a.dtype.char))
        else:
            break
    else:
        return tuple(key)
    args, rngs = split_rng_args(args)  # generator arguments: their kind is part of the key
    try:
        leaves, tree = flatten(args)
        return (tree, tuple(_leaf_key(x) for x in leaves)) + rng_key(rngs)
    except _Traced:
        return None


_slow = object()


def freeze_captures(g, captured):
    """Outer traced values seen by a top-level compile become constants (their value now)."""
    for n, t in captured:
        d = g[n]
        d.update(op="const", role="const", value=t._value)
        g.inputs.remove(n)


class Variant:
    """One compiled specialisation: its graph, source and the executed ``def``."""

    def __init__(self, g, name: str):
        gen = generate(g, name)
        self.graph = g
        self.source = gen.source
        self.standalone = gen.embedded
        filename = f"<gradgraph {name}#{next(_counter)}>"
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        env = {"__name__": "gradgraph.generated", **gen.env}
        exec(compile(self.source, filename, "exec"), env)
        self.fn = env[safe_name(name)]
        self.guard_exc = env.get("_GuardFailed", _NeverRaised)
        self.fn = guard_safe(self.fn, g, self.guard_exc)  # a failed guard undoes its draws
        self.impure = impurity(g)  # (loc, reason): never reused, see trace/random.py


class _NeverRaised(Exception):
    pass


class Function:
    """A function traced into a graph, expanded, simplified and compiled to NumPy source.

    >>> import numpy as np, gradgraph as gg
    >>> f = gg.compile(lambda x: np.sin(x) * 2.0)
    >>> round(float(f(0.5)), 6)
    0.958851
    >>> "np.sin(x)" in f.source(0.5)
    True
    """

    def __init__(self, fun, transform=None, *, name=None, arg_names=None):
        self.fun = fun
        self.transform = transform  # Graph -> Graph (adds derivative nodes), or None
        base = name or getattr(fun, "__name__", "f")
        self.__name__ = safe_name("f" if base == "<lambda>" else base)
        self.__doc__ = getattr(fun, "__doc__", None)
        self._arg_names = arg_names
        self._variants: dict = {}
        self._lock = threading.RLock()
        self.trace_count = 0  # how many times the function was traced (for tests and users)
        self._impure = None  # (loc, reason) once tracing found an impurity (trace/random.py)

    def arg_names(self, nargs: int) -> list[str]:
        if self._arg_names is not None:
            return self._arg_names(nargs) if callable(self._arg_names) else list(self._arg_names)
        return arg_names_of(self.fun, nargs)

    def __repr__(self):
        return f"<gg.Function {self.__name__}: {sum(map(len, self._variants.values()))} variants>"

    # -- building ------------------------------------------------------------------------

    def _build(self, args):
        """Trace, expand, simplify: the graph of this call, and the outer values it saw."""
        T = trace_call(self.fun, args, self.arg_names(len(args)))
        self.trace_count += 1
        g = T.g
        if self.transform is not None:
            g = self.transform(g)
        if config.simplify:
            from .rewrite import simplify

            g = simplify(g, inplace=True)
        return g, T.captured

    def _compile(self, args) -> Variant:
        # a graph is hundreds of thousands of small dicts and no cycles: the cyclic GC's
        # full passes over them made compiling superlinear (1.6x slower at 100k ops)
        was_on = gc.isenabled()
        gc.disable()
        try:
            g, captured = self._build(args)
            if captured:
                freeze_captures(g, captured)
            return Variant(g, self.__name__)
        finally:
            if was_on:
                gc.enable()

    def _variant(self, args, key=None) -> Variant:
        """A variant whose guards hold for ``args`` (compiling one when needed)."""
        key = signature(args) if key is None else key
        for v in self._variants.get(key, ()):
            if _guards_hold(v, args):
                return v
        with self._lock:
            for v in self._variants.get(key, ()):  # compiled by another thread meanwhile?
                if _guards_hold(v, args):
                    return v
            v = self._compile(args)
            if v.impure is not None:
                self._note_impure(v)
            else:
                self._variants.setdefault(key, []).append(v)
        return v

    # -- calling -------------------------------------------------------------------------

    def __call__(self, *args):
        key = signature(args) if not trace_stack() else None
        if key is None:
            return self._inline(args)
        if self._impure is not None:  # cannot be compiled: run the Python function each call
            g, captured = self._build(args)
            freeze_captures(g, captured)
            return evaluate_impure(g, args)
        variants = self._variants.get(key)
        tried = len(variants) if variants else 0
        if variants:
            for v in variants:
                try:
                    return v.fn(*args)
                except v.guard_exc:
                    continue
        with self._lock:
            # another thread may have compiled this signature while we waited for the lock
            # (new variants go in front): try those before tracing again
            now = self._variants.get(key, ())
            for v in now[:len(now) - tried]:
                try:
                    return v.fn(*args)
                except v.guard_exc:
                    continue
            v = self._compile(args)
            if v.impure is not None:
                self._note_impure(v)
                return evaluate_impure(v.graph, args)
            self._variants.setdefault(key, []).insert(0, v)
        return v.fn(*args)

    def _note_impure(self, v):
        if self._impure is None:
            self._impure = v.impure
            warn_impure(self.__name__, v.impure, stacklevel=4)

    def _inline(self, args):
        """Called inside a trace: trace the function and replay its graph into the open
        trace, so the caller's derivatives see through it."""
        g, captured = self._build(args)
        leaves, _ = flatten(split_rng_args(args)[0])
        outer = current_trace(leaves)
        m: dict[int, int] = {}
        inputs = [n for n in g.inputs if not g[n].get("capture")]
        for n, leaf in zip(inputs, leaves, strict=True):
            m[n] = outer.lift(leaf)
        for n, t in captured:
            m[n] = outer.lift(t)
        for n in sorted(g.live()):
            if n in m:
                continue
            d = g[n]
            if d["op"] == "const":
                m[n] = outer.lift(d["value"])
                continue
            before = outer.g._next
            m[n] = outer.apply_nodes(d["op"], [m[a] for a in d["args"]], d["attrs"],
                                     d.get("loc"))._node
            if m[n] >= before and d["role"] in ("adjoint", "tangent"):
                outer.g[m[n]]["role"] = d["role"]
                if "of" in d and d["of"][0] in m:
                    outer.g[m[n]]["of"] = (m[d["of"][0]], d["of"][1])
        for gd in g.guards:
            outer.guard(m[gd.node], gd.kind, gd.expected, gd.loc)
        outs = [outer.tracer(m[o]) for o in g.outputs]
        return unflatten(g.out_tree, outs)

    # -- looking -------------------------------------------------------------------------

    def graph(self, *args):
        """The expanded, simplified graph compiled for these arguments."""
        return self._variant(args).graph

    def source(self, *args) -> str:
        """The generated NumPy source for these arguments."""
        return self._variant(args).source

    def save(self, path, *args) -> str:
        """Write a standalone module (needs only NumPy) for these arguments; returns path.

        The file is written atomically: it appears whole or not at all.
        """
        v = self._variant(args)
        if v.impure is not None:
            refuse_save(self.__name__, v.impure)
        text = v.standalone
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise GradgraphFileNotFoundError(f"cannot save to {path}: the directory {folder} "
                                             "does not exist; create it first", loc=user_loc())
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".gradgraph-", suffix=".py")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def _repr_html_(self):
        """Notebook display: the repr, then each compiled variant's graph (as SVG when the
        optional graphviz package and its dot program are present) and generated source."""
        import html

        from .graph.listing import to_svg

        parts = [f"<code>{html.escape(repr(self))}</code>"]
        for v in [v for vs in self._variants.values() for v in vs][:4]:
            svg = to_svg(v.graph)
            parts.append(svg if svg else f"<pre>{html.escape(str(v.graph))}</pre>")
            parts.append("<details><summary>generated source</summary><pre>"
                         f"{html.escape(v.source)}</pre></details>")
        return "\n".join(parts)


def _guards_hold(v: Variant, args) -> bool:
    if not v.graph.guards:
        return True
    try:
        with preserved(v.graph, args):  # checking the guards must not consume draws
            v.fn(*args)
        return True
    except v.guard_exc:
        return False


def check_shape(what: str, got, want, hint: str = ""):
    if tuple(np.shape(got)) != tuple(want):
        raise GradgraphValueError(f"{what} has shape {tuple(np.shape(got))}, expected "
                                  f"{tuple(want)}{hint}")
