"""Random numbers, and other impurities, met while tracing.

A draw made while tracing is a value of that one call. Kept as a constant, every later call
of the compiled code would silently reuse the same "random" numbers. So each trace opens a
:class:`Scope` that

* **intercepts the draws** and records them as random nodes (``gradgraph/ops/random.py``):
  NumPy's global functions (``np.random.randn`` …) are wrapped in the ``np.random`` module for
  the length of the trace (reference counted under a lock, restored in ``finally``, and inert in
  other threads); ``Generator`` and ``RandomState`` objects reachable from the traced function
  (its arguments, globals and closure cells, default arguments, helper functions it names, the
  instance of a bound method) are swapped for recording proxies, because their methods are C
  code that cannot be patched on the type. A proxy is a subclass instance (``isinstance`` still
  holds) that forwards everything to the real generator, and records only while its own thread
  is tracing. The recorded node draws from the *real* generator, so tracing, the interpreter and
  the generated code all draw from the very same object, in the Python function's order;
* **checks the generators' states**: the state of NumPy's global generator and of every
  generator the scope knows is fingerprinted when the trace starts and followed draw by draw
  (``_observe``); a state that moved by a draw the scope did not record (``from numpy.random
  import randn``, a generator reached another way), an unseeded ``np.random.default_rng()``,
  Python's ``random`` module, the clock, ``open``, ``input()`` or ``os.urandom`` (wrapped like
  ``np.random``) mark the trace **impure**;
* **undoes the draws** when the trace is pure: each generator drawn from is put back to its
  state before its first draw, so the compiled code (or the enclosing trace that inlines this
  graph) then draws the same numbers again, exactly those the Python function would have
  drawn. An impure trace keeps the states where the Python function left them and freezes its
  draws into constants; its Function then runs (traces) the Python function on every call,
  after one :class:`ImpureFunctionWarning` naming the file:line.

The recording itself (proxies, call normalisation, reparameterisation) is in
``random_record.py``; the rules as users see them are in ``docs/side-effects.md``.

>>> import numpy as np, gradgraph as gg
>>> rng = np.random.default_rng(0)
>>> f = gg.compile(lambda x: x + rng.standard_normal())
>>> first, second = float(f(0.0)), float(f(0.0))
>>> check = np.random.default_rng(0)
>>> first == check.standard_normal(), second == check.standard_normal()
(True, True)
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import io
import os
import random as _pyrandom
import time
import types
import warnings
import weakref

import numpy as np

from ..errors import _is_internal, user_loc
from ..ops.random import (fingerprint, global_rng, graph_meta, is_rng, rng_text,
                          set_graph_meta, set_state, get_state)
from ..ops.registry import OPS
from .random_record import (ALIASES, DISTRIBUTIONS, IMPURE_METHODS, GeneratorProxy,
                            RandomStateProxy, _Entry, _foreign, _lock, _marked, _scopes,
                            current_scope, proxy_of, real_of, record_draw)


class ImpureFunctionWarning(UserWarning):
    """A traced function does something compiled code cannot repeat (an unknown random
    source, the clock, a file): gradgraph runs the Python function on every call instead."""


# -- swapping generators for proxies (process-wide, reference counted) -------------------------


class _Slot:
    """A place holding a generator: a dict entry, a closure cell, a default argument."""

    def __init__(self, kind, holder, key=None):
        self.kind, self.holder, self.key = kind, holder, key
        self.id = (kind, id(holder), key)

    def get(self):
        if self.kind == "dict":
            return self.holder.get(self.key)
        if self.kind == "cell":
            return self.holder.cell_contents
        return self.holder.__defaults__[self.key]

    def set(self, v):
        if self.kind == "dict":
            self.holder[self.key] = v
        elif self.kind == "cell":
            self.holder.cell_contents = v
        else:
            d = self.holder.__defaults__
            self.holder.__defaults__ = d[:self.key] + (v,) + d[self.key + 1:]


_installed: dict[tuple, list] = {}  # slot id -> [slot, original, proxy, count]


def _install(slot: _Slot):
    """Put a proxy in the slot (or count one more user of the proxy already there); returns
    the real generator."""
    with _lock:
        e = _installed.get(slot.id)
        if e is not None:
            e[3] += 1
            return e[1]
        cur = slot.get()
        if not is_rng(cur) or real_of(cur) is not cur:
            return real_of(cur) if is_rng(cur) else None
        proxy = proxy_of(cur)
        slot.set(proxy)
        _installed[slot.id] = [slot, cur, proxy, 1]
        return cur


def _uninstall(slot: _Slot):
    with _lock:
        e = _installed.get(slot.id)
        if e is None:
            return
        e[3] -= 1
        if e[3] == 0:
            del _installed[slot.id]
            try:
                if slot.get() is e[2]:  # unless the function rebound the name meanwhile
                    slot.set(e[1])
            except (ValueError, IndexError, TypeError):  # an emptied cell, changed defaults
                pass


# -- wrapping module functions while any thread traces --------------------------------------


def _global_draw(name, fn):
    def wrapper(*args, **kwargs):
        scope = current_scope()
        if scope is None:
            _foreign[0] += 1
            return fn(*args, **kwargs)
        return record_draw(scope, global_rng(), name, *args, **kwargs)

    wrapper.__wrapped__ = fn
    wrapper.__name__ = name
    wrapper.__doc__ = fn.__doc__
    wrapper.__gg_make__ = lambda f: _global_draw(name, f)
    return wrapper


def _default_rng(fn):
    def default_rng(seed=None):
        if seed is None and current_scope() is not None:
            current_scope().mark_impure(
                user_loc(), "it calls np.random.default_rng() without a seed (fresh entropy "
                "on every call)")
        return fn(seed)

    default_rng.__wrapped__ = fn
    default_rng.__doc__ = fn.__doc__
    default_rng.__gg_make__ = _default_rng
    return default_rng


def _patch_table() -> list[tuple[object, str, object]]:
    """``(module, name, wrapper)`` for everything wrapped while tracing."""
    out = []
    rand = global_rng()
    for name in dir(np.random):
        fn = getattr(np.random, name)
        dist = ALIASES.get(name, name)
        bound = getattr(fn, "__self__", None) is rand or name in ("ranf", "sample")
        if name.startswith("_") or not callable(fn):
            continue
        if bound and dist in DISTRIBUTIONS:
            out.append((np.random, name, _global_draw(name, fn)))
        elif name in IMPURE_METHODS and (bound or name == "seed"):
            out.append((np.random, name, _marked(fn, f"np.random.{name} "
                                                     f"({IMPURE_METHODS[name]})", True)))
    out.append((np.random, "default_rng", _default_rng(np.random.default_rng)))
    for name in dir(_pyrandom):
        fn = getattr(_pyrandom, name)
        if getattr(fn, "__self__", None) is _pyrandom._inst and name not in ("getstate",):
            out.append((_pyrandom, name, _marked(fn, f"Python's random.{name}")))
    for name in ("time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic",
                 "monotonic_ns", "process_time", "process_time_ns"):
        out.append((time, name, _marked(getattr(time, name), f"time.{name} (the clock)")))
    out.append((builtins, "open", _marked(builtins.open, "open (reading or writing a file)")))
    out.append((io, "open", _marked(io.open, "open (reading or writing a file)")))
    out.append((builtins, "input", _marked(builtins.input, "input()")))
    out.append((os, "urandom", _marked(os.urandom, "os.urandom")))
    return out


_table: list | None = None  # [module dict, name, wrapper, wrapped], made once
_patch_users = 0


def _patch():
    global _table, _patch_users
    with _lock:
        _patch_users += 1
        if _patch_users > 1:
            return
        if _table is None:
            _table = [[vars(m), n, w, vars(m)[n]] for m, n, w in _patch_table()]
        for row in _table:
            d, name, w, orig = row
            cur = d.get(name)
            if cur is not orig and cur is not w and callable(cur):  # replaced since: wrap that
                row[2] = w = _rewrap(w, cur)
                row[3] = cur
            d[name] = w


def _rewrap(w, fn):
    """The same kind of wrapper as ``w``, around ``fn``."""
    return w.__gg_make__(fn) if hasattr(w, "__gg_make__") else w


def _unpatch():
    global _patch_users
    with _lock:
        _patch_users -= 1
        if _patch_users:
            return
        for d, name, w, orig in _table:
            if d.get(name) is w:  # unless someone else replaced it meanwhile
                d[name] = orig


# -- finding the generators a function can reach -----------------------------------------------


@functools.lru_cache(maxsize=4096)
def _code_names(code) -> frozenset:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return frozenset(names)


def _is_function(v) -> bool:
    return isinstance(v, (types.FunctionType, types.MethodType, functools.partial)) or (
        type(v).__module__ == "gradgraph.function")


def reachable(fun, limit: int = 200):
    """``(slots, tracked)``: the places holding generators the traced function can reach
    (``(slot, hint name)``, to swap for proxies) and generators found inside containers (only
    watched, for detection)."""
    slots: list[tuple[_Slot, str]] = []
    tracked: list = []
    seen: set[int] = set()
    stack = [(fun, 0)]

    def look(v, holder_slot, hint, names, depth):
        if is_rng(v):
            slots.append((holder_slot, hint))
        elif _is_function(v):
            stack.append((v, depth + 1))
        elif isinstance(v, (list, tuple)):  # only watched: a list item cannot be swapped safely
            tracked.extend(x for x in v[:64] if is_rng(x))
        elif isinstance(v, dict):  # state["rng"]
            _dict_slots(v, None)
        elif isinstance(v, types.ModuleType):
            if not v.__name__.startswith(("numpy", "gradgraph")):
                for nm in names:  # config.rng
                    if is_rng(v.__dict__.get(nm)):
                        slots.append((_Slot("dict", v.__dict__, nm), nm))
        elif isinstance(getattr(v, "__dict__", None), dict) and not isinstance(v, type):
            _dict_slots(v.__dict__, None)  # model.rng, sampler.gen

    def _dict_slots(d, hint):
        for k, x in list(d.items())[:256]:
            if is_rng(x):
                slots.append((_Slot("dict", d, k), k if isinstance(k, str) else hint))

    while stack and len(seen) < limit:
        f, depth = stack.pop()
        if id(f) in seen or depth > 4:
            continue
        seen.add(id(f))
        if type(f).__module__ == "gradgraph.function":
            continue  # a Function traces itself: its own scope finds its generators
        if isinstance(f, functools.partial):
            stack.append((f.func, depth))
            tracked.extend(x for x in tuple(f.args) + tuple(f.keywords.values()) if is_rng(x))
            continue
        if isinstance(f, types.MethodType):
            stack.append((f.__func__, depth))
            d = getattr(f.__self__, "__dict__", None)
            if isinstance(d, dict) and not isinstance(f.__self__, (type, types.ModuleType)):
                _dict_slots(d, None)
            continue
        if not isinstance(f, types.FunctionType):
            call = getattr(type(f), "__call__", None)
            if isinstance(call, types.FunctionType):  # a callable object
                stack.append((types.MethodType(call, f), depth))
            continue
        code = f.__code__
        names = _code_names(code)
        if not _is_internal(code.co_filename):  # gradgraph's own lambdas: closures only
            g = f.__globals__
            for nm in names:
                if nm in g:
                    look(g[nm], _Slot("dict", g, nm), nm, names, depth)
        for nm, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                v = cell.cell_contents
            except ValueError:  # not yet bound
                continue
            look(v, _Slot("cell", cell), nm, names, depth)
        defaults = f.__defaults__ or ()
        positional = code.co_varnames[:code.co_argcount]
        for i, v in enumerate(defaults):
            if is_rng(v):
                slots.append((_Slot("defaults", f, i),
                              positional[len(positional) - len(defaults) + i]))
        for k, v in (f.__kwdefaults__ or {}).items():
            if is_rng(v):
                slots.append((_Slot("dict", f.__kwdefaults__, k), k))
    return slots, tracked


# -- the scope of one trace -------------------------------------------------------------------


def _where_defined(fun) -> str | None:
    from ..errors import short_path

    f = getattr(fun, "__func__", fun)
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    return f"{short_path(code.co_filename)}:{code.co_firstlineno}"


class Scope:
    """The random-number bookkeeping of one trace (see the module docstring)."""

    def __init__(self, trace, fun, rng_args=()):
        self.trace = trace
        self.fun = fun
        self.rng_args = tuple((i, real_of(o)) for i, o in rng_args)
        self.entries: dict[int, _Entry] = {}
        self.hints: dict[int, str] = {}
        self.impure: tuple[str | None, str] | None = None
        self._slots: list[_Slot] = []
        self._proxies: dict[int, object] = {}
        self._foreign = _foreign[0]

    def entry(self, rng) -> _Entry:
        e = self.entries.get(id(rng))
        if e is None:
            e = self.entries[id(rng)] = _Entry(rng)
        return e

    def mark_impure(self, loc, reason: str):
        if self.impure is None:
            self.impure = (loc, reason)

    def _shared_global(self, e: _Entry) -> bool:
        """Another thread drew from np.random's global generator during this trace: its state
        says nothing about this trace, and must not be put back."""
        return e.obj is global_rng() and _foreign[0] != self._foreign

    def moved(self, e: _Entry, loc):
        if self._shared_global(e):
            return
        since = f"after {e.last_loc}" if e.last_loc else "since tracing started"
        self.mark_impure(loc, f"the state of {rng_text(e.obj)} moved {since} by a draw "
                              "gradgraph did not record (a generator reached in a way it "
                              "cannot follow, e.g. `from numpy.random import randn` or through "
                              "an attribute)")

    # -- entering and leaving -------------------------------------------------------------

    def __enter__(self):
        _patch()
        try:
            self.entry(global_rng())
            for i, real in self.rng_args:
                self.entry(real)
            slots, tracked = reachable(self.fun)
            for slot, hint in slots:
                real = _install(slot)
                if real is None:
                    continue
                self._slots.append(slot)
                self.entry(real)
                if hint:
                    self.hints.setdefault(id(real), hint)
            for real in tracked:
                self.entry(real_of(real))
        except BaseException:
            self._release()
            raise
        for s in _scopes():  # enclosing scopes learn the names, for readable generated code
            for k, v in self.hints.items():
                s.hints.setdefault(k, v)
        _scopes().append(self)
        return self

    def call_args(self, args) -> tuple:
        """The arguments to call the function with: generators replaced by proxies."""
        args = list(args)
        for i, real in self.rng_args:
            p = self._proxies.get(id(real))
            if p is None:
                p = self._proxies[id(real)] = proxy_of(real)
            args[i] = p
        return tuple(args)

    def _release(self):
        for slot in reversed(self._slots):
            _uninstall(slot)
        self._slots = []
        _unpatch()

    def __exit__(self, exc_type, exc, tb):
        stack = _scopes()
        if stack and stack[-1] is self:
            stack.pop()
        self._release()
        if exc_type is None:
            self._finish()

    def _finish(self):
        for e in self.entries.values():
            if fingerprint(e.obj) != e.fp:
                self.moved(e, _where_defined(self.fun))
        g = self.trace.g
        drawn = {id(d["value"]) for d in g.nx._node.values()
                 if d["op"] == "const" and is_rng(d["value"])}
        set_graph_meta(g, {
            "args": {id(real): i for i, real in self.rng_args if id(real) in drawn},
            "names": {k: v for k, v in self.hints.items() if k in drawn},
            "impure": self.impure})
        if self.impure is not None:
            freeze_draws(g, self.trace.values)
            parent = current_scope()
            if parent is not None:
                parent.mark_impure(*self.impure)
        else:
            for e in self.entries.values():
                if e.snapshot is not None and not self._shared_global(e):
                    set_state(e.obj, e.snapshot)  # undo the draws: compiled code redraws them


def freeze_draws(g, values) -> None:
    """Turn the random nodes of ``g`` into constants holding the values drawn while tracing
    (for a trace that is run once, never compiled for reuse)."""
    for n, d in list(g.nx._node.items()):
        spec = OPS.get(d["op"])
        if spec is None or spec.pure:
            continue
        for a in set(d["args"]):
            g.nx.remove_edge(a, n)
        d.update(op="const", args=(), attrs={}, role="const", value=values[n])


# -- what gg.Function needs --------------------------------------------------------------------


def split_rng_args(args: tuple):
    """``(args, found)``: top-level generator arguments replaced by ``()`` (no leaves), and
    ``found`` as ``((position, generator), ...)``."""
    if not any(is_rng(a) for a in args):
        return args, ()
    found = tuple((i, a) for i, a in enumerate(args) if is_rng(a))
    return tuple(() if is_rng(a) else a for a in args), found


def rng_key(found) -> tuple:
    """The part of a call's cache key that generator arguments make (their kind)."""
    return tuple((i, type(real_of(a)).__name__) for i, a in found)


def impurity(g):
    """``(loc, reason)`` when tracing found something compiled code cannot repeat."""
    return graph_meta(g).get("impure")


def rng_arguments(g, found) -> dict:
    """``{id(generator traced with): generator passed now}`` for generator arguments."""
    if not found:
        return {}
    where = {i: k for k, i in graph_meta(g).get("args", {}).items()}
    return {where[i]: real_of(obj) for i, obj in found if i in where}


def _where_drawn(g):
    """``(generators bound in the code, positions of generator arguments)`` of a graph."""
    where = graph_meta(g).get("args", {})
    bound, positions = {}, set()
    for d in g.nx._node.values():
        if d["op"] == "const" and is_rng(d["value"]):
            i = where.get(id(d["value"]))
            if i is None:
                bound[id(d["value"])] = d["value"]
            else:
                positions.add(i)
    return list(bound.values()), sorted(positions)


def _generators(where, args):
    bound, positions = where
    gens = bound + [real_of(args[i]) for i in positions if i < len(args)]
    return list({id(r): r for r in gens}.values())


@contextlib.contextmanager
def preserved(g, args):
    """Run generated code without moving the states of the generators it draws from (for
    ``Function.graph/source/save``, which run a variant to check its guards)."""
    gens = _generators(_where_drawn(g), args)
    states = [get_state(r) for r in gens]
    try:
        yield
    finally:
        for r, s in zip(gens, states):
            set_state(r, s)


def guard_safe(fn, g, guard_exc):
    """``fn`` that, when a guard fails after it drew numbers, puts the generators back so the
    next variant (or the new trace) draws those same numbers."""
    if not g.guards or not any(not OPS[d["op"]].pure for d in g.nx._node.values()
                               if d["op"] in OPS):
        return fn

    where = _where_drawn(g)

    def run(*args):
        gens = _generators(where, args)
        states = [get_state(r) for r in gens]
        try:
            return fn(*args)
        except guard_exc:
            for r, s in zip(gens, states):
                set_state(r, s)
            raise

    run.__wrapped__ = fn
    return run


# Function -> (its number of variants, whether it moved a generator): a Function seen not to
# draw is not watched again until it compiles another variant (another Python path)
_DRAWS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _variants(fn) -> int:
    return sum(map(len, getattr(fn, "_variants", {}).values()))


class Rewind:
    """``gg.vjp`` evaluates ``f`` for the value and again inside ``vjp_fn``: this puts the
    generators back to their states before the forward pass while ``vjp_fn`` runs (and
    forward again after), so the cotangents belong to the very draws the value came from.
    A Function seen not to move any generator is not watched again.

    >>> import numpy as np, gradgraph as gg
    >>> rng = np.random.default_rng(0)
    >>> y, back = gg.vjp(lambda x: x * rng.standard_normal(), 2.0)
    >>> bool(back(1.0)[0] * 2.0 == y)
    True
    """

    def __init__(self, fwd, f, args):
        self.gens = []
        if current_scope() is not None or _DRAWS.get(fwd) == (_variants(fwd), False):
            return  # inside a trace both passes are recorded (two draws): see side-effects.md
        self.fwd = fwd
        slots, tracked = reachable(f)
        found = [global_rng()] + [real_of(slot.get()) for slot, _ in slots] + tracked
        found += [real_of(a) for _, a in split_rng_args(tuple(args))[1]]
        self.gens = [r for r in {id(r): r for r in found if is_rng(r)}.values()]
        self.fps = [fingerprint(r) for r in self.gens]
        self.states = [get_state(r) for r in self.gens]

    def forward_done(self) -> None:
        if not self.gens:
            return
        moved = [fingerprint(r) != fp for r, fp in zip(self.gens, self.fps)]
        _DRAWS[self.fwd] = (_variants(self.fwd), any(moved))
        self.gens = [r for r, m in zip(self.gens, moved) if m]
        self.states = [s for s, m in zip(self.states, moved) if m]

    def __call__(self, back, *args):
        if not self.gens:
            return back(*args)
        now = [get_state(r) for r in self.gens]
        for r, st in zip(self.gens, self.states):
            set_state(r, st)
        try:
            return back(*args)
        finally:
            for r, st in zip(self.gens, now):
                set_state(r, st)


def warn_impure(name: str, impure, stacklevel: int = 3) -> None:
    loc, reason = impure
    where = f"{loc}: " if loc else ""
    warnings.warn(
        f"{where}{name}: {reason}. Compiled code cannot repeat that, so gradgraph runs (traces) "
        "the Python function on every call instead of reusing compiled code: values and "
        "gradients stay those of the Python function, calls are slower. Move it out of the "
        "function, or pass its result in as an argument (see docs/side-effects.md)",
        ImpureFunctionWarning, stacklevel=stacklevel)


def evaluate_impure(g, args):
    """The outputs of a traced graph whose draws are constants, on ``args``."""
    from ..interp import evaluate

    return evaluate(g, *args)


def refuse_save(name: str, impure) -> None:
    from ..errors import GradgraphError

    loc, reason = impure
    raise GradgraphError(f"{name} cannot be saved as a module: {reason}, which compiled code "
                         "cannot repeat (see docs/side-effects.md)", loc=loc)


__all__ = ["ImpureFunctionWarning", "Scope", "split_rng_args", "rng_key", "impurity",
           "preserved", "guard_safe", "rng_arguments", "Rewind", "warn_impure",
           "evaluate_impure", "refuse_save", "record_draw", "real_of", "proxy_of", "reachable", "freeze_draws", "current_scope",
           "GeneratorProxy", "RandomStateProxy"]
