"""Random programs drawn from the op table, and the checks every program must pass.

A :class:`Program` is plain data (inputs with their values, then steps), so a failing case
prints as Python that can be pasted into ``tests/test_fuzz.py`` as a regular test. Running
a program is running an ordinary NumPy function (:func:`make_function`): the same function
is called on NumPy arrays (the reference), traced by gradgraph, and differentiated.

What is drawn comes from ``gradgraph.ops.registry.OPS`` at run time:

* every elementwise (or zero-derivative elementwise) op whose ``impl`` is a NumPy ufunc or a
  ufunc-like function with ``nin``, called exactly as a user would (``np.sin(v)``), with
  each input brought into the op's sampling ``domain`` by a small adapter (``v*v + 0.5`` for
  ``positive`` …);
* the structured ops listed in :data:`API_CALLS` (reductions, reshapes, indexing, joins,
  products, casts), each by its public NumPy spelling, when its op is registered.

:func:`check_program` runs the checks of docs/reliability.md on one program.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

import gradgraph as gg
from gradgraph.ops.registry import OPS

# -- programs as data ------------------------------------------------------------------------


@dataclass
class Input:
    """One positional argument: its values (nested lists) and dtype; ``py`` passes a
    shape-() float64 input as a Python float (the ``pytype`` path)."""

    value: object
    dtype: str = "float64"
    py: bool = False

    def make(self):
        a = np.array(self.value, dtype=self.dtype)
        return float(a) if self.py else a


@dataclass
class Step:
    """``call`` is an op name (elementwise) or a key of :data:`API_CALLS`; ``args`` are
    ``("v", k)`` (the k-th value: inputs first, then step results), ``("v", k, adapter)``
    or ``("c", constant)``; ``attrs`` are the call's parameters."""

    call: str
    args: tuple
    attrs: dict = field(default_factory=dict)


@dataclass
class Program:
    inputs: list
    steps: list
    out: int = -1  # index of the returned value
    weights: object = None  # the cotangent that makes a scalar: sum(out * weights)

    def args(self) -> tuple:
        return tuple(i.make() for i in self.inputs)

    def float_argnums(self) -> list[int]:
        return [k for k, i in enumerate(self.inputs) if i.dtype.startswith("float")]


# -- adapters: bring any value into an op's domain, smoothly -------------------------------

ADAPTERS = {
    "real": None,
    "positive": lambda v: v * v + 0.5,
    "nonzero": lambda v: v * v + 0.5,
    "gt1": lambda v: v * v + 1.5,
    "open_unit": lambda v: np.tanh(v) * 0.8,
    "bool": lambda v: v > 0.3,
}


def domains_of(op, nin: int) -> list[str]:
    toks = [t.strip() for t in (op.domain or "real").split(",")]
    toks = toks + [toks[-1]] * (nin - len(toks))
    return [t if t in ADAPTERS or t in CONST_DOMAINS else "positive" for t in toks[:nin]]


CONST_DOMAINS = {"const": (-0.5, 0.5), "lower": (-0.5, -0.1), "upper": (0.6, 1.2)}


def resolve(arg, vals):
    if arg[0] == "c":
        c = arg[1]
        return np.array(c) if isinstance(c, list) else c
    v = vals[arg[1]]
    if len(arg) > 2 and ADAPTERS.get(arg[2]) is not None:
        v = ADAPTERS[arg[2]](v)
    return v


# -- the public NumPy spellings of the structured ops ------------------------------------------
# Each entry: op name it records -> (how to call it, how to draw its attributes or None when
# it does not apply to these shapes). Entries whose op is not registered are skipped.


def _axes_draw(r, shape, keepdims_ok=True):
    nd = len(shape)
    if nd == 0:
        return {"axis": None, "keepdims": False}
    choice = r.integers(0, 3)
    if choice == 0:
        return {"axis": None, "keepdims": bool(r.integers(0, 2))}
    ax = int(r.integers(-nd, nd))
    return {"axis": ax, "keepdims": bool(r.integers(0, 2))}


def _reduce(name):
    return (lambda xs, at: getattr(np, name)(xs[0], axis=at["axis"], keepdims=at["keepdims"]),
            lambda r, shapes: _axes_draw(r, shapes[0]))


def _reshape_draw(r, shapes):
    s = shapes[0]
    size = int(np.prod(s, dtype=np.int64))
    opts = [(size,), (1, size), (size, 1)]
    if size % 2 == 0 and size > 2:
        opts.append((2, -1))
    return {"shape": opts[int(r.integers(0, len(opts)))]}


def _transpose_draw(r, shapes):
    nd = len(shapes[0])
    if nd < 2:
        return {"axes": None}
    return {"axes": tuple(int(a) for a in r.permutation(nd))}


def _getitem_draw(r, shapes):
    s = shapes[0]
    if not s:
        return None
    kind = int(r.integers(0, 5))
    n = s[0]
    if kind == 0:
        return {"index": ("int", int(r.integers(-n, n)))}
    if kind == 1:
        start = int(r.integers(0, n))
        return {"index": ("slice", start, None, int(r.choice([1, -1, 2])))}
    if kind == 2:
        return {"index": ("intarray", [int(i) for i in r.integers(-n, n, size=3)])}
    if kind == 3:
        m = r.integers(0, 2, size=s).astype(bool).tolist()
        return {"index": ("mask", m)}
    if len(s) >= 2:
        return {"index": ("tuple", int(r.integers(0, n)), int(r.integers(0, s[1])))}
    return {"index": ("ellipsis",)}


def _index(at):
    k = at["index"]
    if k[0] == "int":
        return k[1]
    if k[0] == "slice":
        return slice(k[1] if k[3] > 0 else None, k[2], k[3])
    if k[0] == "intarray":
        return np.array(k[1])
    if k[0] == "mask":
        return np.array(k[1], dtype=bool)
    if k[0] == "tuple":
        return (k[1], k[2])
    return (Ellipsis, None)


def _matmul_draw(r, shapes):
    s = shapes[0]
    if not s:
        return None
    k = s[-1]
    m = int(r.integers(1, 4))
    right = (k,) if r.integers(0, 2) else (k, m)
    return {"right": r.uniform(-1.5, 1.5, size=right).round(3).tolist()}


def _join_draw(r, shapes):
    nd = len(shapes[0])
    return {"axis": int(r.integers(-nd, nd)) if nd else 0}


def _stack_draw(r, shapes):
    nd = len(shapes[0])
    return {"axis": int(r.integers(-nd - 1, nd + 1))}


def _broadcast_draw(r, shapes):
    return {"shape": (2,) + tuple(shapes[0])}


def _cast_draw(r, shapes):
    return {"dtype": str(r.choice(["float32", "int64", "float64"]))}


API_CALLS = {
    "sum": _reduce("sum"),
    "mean": _reduce("mean"),
    "max": _reduce("max"),
    "min": _reduce("min"),
    "prod": _reduce("prod"),
    "var": _reduce("var"),
    "std": _reduce("std"),
    "reshape": (lambda xs, at: np.reshape(xs[0], at["shape"]), _reshape_draw),
    "transpose": (lambda xs, at: np.transpose(xs[0], at["axes"]), _transpose_draw),
    "broadcast_to": (lambda xs, at: np.broadcast_to(xs[0], at["shape"]), _broadcast_draw),
    "getitem": (lambda xs, at: xs[0][_index(at)], _getitem_draw),
    "matmul": (lambda xs, at: xs[0] @ np.array(at["right"]), _matmul_draw),
    "dot": (lambda xs, at: np.dot(xs[0], np.array(at["right"])),
            lambda r, shapes: _matmul_draw(r, shapes) if len(shapes[0]) <= 2 else None),
    "concatenate": (lambda xs, at: np.concatenate([xs[0], xs[1]], axis=at["axis"]),
                    lambda r, shapes: _join_draw(r, shapes) if shapes[0] else None),
    "stack": (lambda xs, at: np.stack([xs[0], xs[1]], axis=at["axis"]), _stack_draw),
    "astype": (lambda xs, at: xs[0].astype(at["dtype"]), _cast_draw),
    "stop_gradient": (lambda xs, at: gg.stop_gradient(xs[0]), lambda r, shapes: {}),
    "cumsum": (lambda xs, at: np.cumsum(xs[0], axis=at["axis"]),
               lambda r, shapes: {"axis": int(r.integers(-len(shapes[0]), len(shapes[0])))}
               if shapes[0] else None),
    "trace": (lambda xs, at: np.trace(xs[0]),
              lambda r, shapes: {} if len(shapes[0]) == 2 else None),
    "norm": (lambda xs, at: np.linalg.norm(xs[0] * xs[0] + 0.5, axis=at["axis"]),
             lambda r, shapes: {"axis": None if not shapes[0] or r.random() < 0.5 else
                                int(r.integers(0, len(shapes[0])))}),
    "outer": (lambda xs, at: np.outer(xs[0], np.array(at["right"])),
              lambda r, shapes: {"right": r.uniform(-1, 1, size=2).round(3).tolist()}
              if len(shapes[0]) == 1 else None),
    "inner": (lambda xs, at: np.inner(xs[0], np.array(at["right"])),
              lambda r, shapes: {"right": r.uniform(-1, 1, size=shapes[0][-1:]).round(3)
                                 .tolist()} if shapes[0] else None),
    "vdot": (lambda xs, at: np.vdot(xs[0], np.array(at["right"])),
             lambda r, shapes: {"right": r.uniform(-1, 1, size=shapes[0]).round(3).tolist()}),
    "tensordot": (lambda xs, at: np.tensordot(xs[0], np.array(at["right"]), axes=1),
                  lambda r, shapes: {"right": r.uniform(-1, 1, size=shapes[0][-1:] + (2,))
                                     .round(3).tolist()} if shapes[0] else None),
    "einsum": (lambda xs, at: np.einsum(at["spec"], xs[0], np.array(at["right"])),
               lambda r, shapes: {"spec": "ij,jk->ik", "right": r.uniform(
                   -1, 1, size=(shapes[0][1], 2)).round(3).tolist()}
               if len(shapes[0]) == 2 else None),
    "inv": (lambda xs, at: np.linalg.inv(_invertible(xs[0])),
            lambda r, shapes: {} if _square(shapes[0]) else None),
    "det": (lambda xs, at: np.linalg.det(_invertible(xs[0])),
            lambda r, shapes: {} if _square(shapes[0]) else None),
    "solve": (lambda xs, at: np.linalg.solve(_invertible(xs[0]), np.array(at["right"])),
              lambda r, shapes: {"right": r.uniform(-1, 1, size=shapes[0][-1:]).round(3)
                                 .tolist()} if _square(shapes[0]) else None),
}


def _square(shape) -> bool:
    return len(shape) == 2 and shape[0] == shape[1]


def _invertible(v):
    """A well-conditioned matrix made from any square ``v`` (diagonally dominant)."""
    return 0.3 * np.tanh(v) + 1.5 * np.eye(np.shape(v)[-1])
NARGS = {"concatenate": 2, "stack": 2}  # the second operand has the first one's shape

# Ops whose derivative has kinks or jumps: programs using them skip finite differences and
# SymPy (the other checks are exact and still run).
NONSMOOTH = {"copysign", "absolute", "fabs", "maximum", "minimum", "fmax", "fmin", "where",
             "clip", "mod", "fmod", "max", "min", "round", "sign", "floor", "ceil", "trunc",
             "rint", "floor_divide", "heaviside", "astype"}
# Ops whose SymPy translation is too slow to differentiate in a fuzz loop (symbolic
# inverses and determinants simplify for minutes); finite differences still check them.
SYMPY_SLOW = {"inv", "solve", "det"}
# Internal ops (derivative plumbing) and ops with no input: never drawn directly.
INTERNAL = {"index_add", "zeros", "eye", "count_nonzero"}


def elementwise_ops() -> list[str]:
    """Elementwise ops of the registry that can be called like a ufunc."""
    out = []
    for name, op in sorted(OPS.items()):
        if name in INTERNAL or name in API_CALLS:
            continue
        if op.kind not in ("elementwise", "nondiff"):
            continue
        if not getattr(op.shape, "__qualname__", "").startswith("elementwise_shape"):
            continue  # reductions and index ops with no derivative (argmax …)
        nin = getattr(op.impl, "nin", None) or op.nin
        if not nin or not callable(op.impl) or not traceable(name):
            continue
        out.append(name)
    return out


def api_ops() -> list[str]:
    return [name for name in API_CALLS if name in OPS and traceable(name)]


@functools.lru_cache(maxsize=None)
def traceable(name: str) -> bool:
    """Whether the op's public NumPy spelling traces yet (ops are being added while the
    tracer's handlers catch up; ``test_fuzz.py`` lists the ones that do not)."""
    r = np.random.default_rng(0)
    for shape in ((2, 2), (3,), (2, 3), ()):
        x = r.uniform(0.2, 0.9, size=shape)
        if name in API_CALLS:
            attrs = API_CALLS[name][1](r, [shape])
            if attrs is None:
                continue
            step = Step(name, (("v", 0),) * NARGS.get(name, 1), attrs)
        else:
            step = Step(name, tuple(("v", 0) for _ in range(nin_of(name))))
        try:
            with np.errstate(all="ignore"):
                gg.trace(lambda v: call_step(step, [v] * len(step.args)), x)
            return True
        except gg.UnsupportedOperationError:
            return False
        except Exception:
            continue
    return True


def nin_of(name) -> int:
    if name in API_CALLS:
        return NARGS.get(name, 1)
    op = OPS[name]
    return getattr(op.impl, "nin", None) or op.nin


def call_step(step: Step, xs):
    if step.call in API_CALLS:
        return API_CALLS[step.call][0](xs, step.attrs)
    return OPS[step.call].impl(*xs)


def make_function(prog: Program):
    """The program as an ordinary NumPy function of its inputs."""
    names = [f"a{k}" for k in range(len(prog.inputs))]

    def run(*args):
        vals = list(args)
        for step in prog.steps:
            vals.append(call_step(step, [resolve(a, vals) for a in step.args]))
        return vals[prog.out]

    run.__name__ = "prog"
    run.arg_names = lambda n: names[:n]
    return run


def make_scalar(prog: Program):
    """``sum(prog(*args) * weights)``: the scalar function whose gradients are checked."""
    run = make_function(prog)
    w = np.array(prog.weights, dtype=np.float64)

    def loss(*args):
        return np.sum(run(*args) * w)

    return loss


@functools.lru_cache(maxsize=None)
def op_is_smooth(name: str) -> bool:
    """Whether an op's derivative is continuous where the fuzzer samples it: known kink ops
    are listed in NONSMOOTH; any other elementwise op is judged from its SymPy translation
    (a derivative with sign, Heaviside, Piecewise … has jumps)."""
    if name in NONSMOOTH or name == "stop_gradient":
        return False
    if name in API_CALLS:
        return True
    op = OPS[name]
    if op.kind == "nondiff" or op.sympy is None:
        return False
    import sympy as sp

    xs = sp.symbols(f"x0:{nin_of(name)}", real=True)
    try:
        e = op.sympy(*xs)
        ds = [sp.diff(e, x) for x in xs]
    except Exception:
        return False
    bad = (sp.sign, sp.Heaviside, sp.DiracDelta, sp.Piecewise, sp.Derivative, sp.Abs,
           sp.floor, sp.ceiling, sp.Max, sp.Min, sp.Mod, sp.Subs)
    return not any(d.has(b) for d in [e, *ds] for b in bad)


def is_smooth(prog: Program) -> bool:
    """True when finite differences of the plain NumPy function see the same derivative:
    no kinks or jumps, no float32 rounding, no stop_gradient (NumPy does not know it)."""
    return all(op_is_smooth(s.call) for s in prog.steps)


def has_float32(prog: Program) -> bool:
    return any(s.call == "astype" and s.attrs.get("dtype") == "float32" for s in prog.steps)


# -- drawing programs --------------------------------------------------------------------------

BASE_SHAPES = [(), (3,), (2, 3), (3, 1), (2, 2), (1, 3), (2, 1, 2)]


def _broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _value_ok(v) -> bool:
    a = np.asarray(v)
    if a.dtype.kind == "c" or a.dtype == object:
        return False
    if a.dtype.kind == "f":
        return bool(np.all(np.isfinite(a))) and (a.size == 0 or float(np.max(np.abs(a))) < 1e3)
    return True


def random_program(r: np.random.Generator, max_steps: int = 5, ops=None) -> Program:
    """A program drawn with the generator ``r`` (hypothesis supplies the seed)."""
    ops = ops if ops is not None else elementwise_ops() + api_ops()
    if r.random() < 0.6:  # most programs stay smooth, so finite differences and SymPy apply
        ops = [o for o in ops if op_is_smooth(o)]
    base = BASE_SHAPES[int(r.integers(0, len(BASE_SHAPES)))]
    n_in = int(r.integers(1, 4))
    inputs = []
    for k in range(n_in):
        shape = tuple(d if r.random() < 0.7 else 1 for d in base)
        if shape and r.random() < 0.25:
            shape = shape[1:]
        vals = r.uniform(-1.5, 1.5, size=shape).round(4)
        if k == n_in - 1 and k > 0 and r.random() < 0.15:  # a non-differentiated int input
            inputs.append(Input(r.integers(-3, 4, size=shape).tolist(), "int64"))
            continue
        py = shape == () and r.random() < 0.4
        inputs.append(Input(vals.tolist(), "float64", py=py))
    prog = Program(inputs, [])
    vals = list(prog.args())  # what the program really sees (Python floats stay floats)
    np_vals = [np.asarray(v) for v in vals]  # the same, as arrays, for shapes and dtypes
    n_steps = int(r.integers(1, max_steps + 1))
    tries = 0
    while len(prog.steps) < n_steps and tries < 6 * n_steps:
        tries += 1
        name = ops[int(r.integers(0, len(ops)))]
        step = _draw_step(r, name, np_vals)
        if step is None:
            continue
        try:
            with np.errstate(all="ignore"):
                v = call_step(step, [resolve(a, vals) for a in step.args])
        except Exception:
            continue
        if not _value_ok(v):
            continue
        prog.steps.append(step)
        vals.append(v)
        np_vals.append(np.asarray(v))
    # return the last floating value (the inputs are floating when nothing else is)
    floats = [k for k, v in enumerate(np_vals) if v.dtype.kind == "f"]
    prog.out = floats[-1]
    out = np_vals[prog.out]
    prog.weights = r.uniform(-1, 1, size=out.shape).round(3).tolist()
    return prog


def _pick(r, np_vals, want=None):
    """Index of an existing value, recent ones likelier; ``want`` filters by shape."""
    cand = [k for k, v in enumerate(np_vals) if want is None or want(v)]
    if not cand:
        return None
    w = np.arange(1, len(cand) + 1, dtype=float) ** 2
    return cand[int(r.choice(len(cand), p=w / w.sum()))]


def _draw_step(r, name, np_vals):
    nin = nin_of(name)
    floaty = lambda v: v.dtype.kind == "f"  # noqa: E731
    if name in API_CALLS:
        k = _pick(r, np_vals, floaty)
        if k is None:
            return None
        shapes = [np_vals[k].shape]
        attrs = API_CALLS[name][1](r, shapes)
        if attrs is None:
            return None
        args = [("v", k)]
        if nin == 2:
            k2 = _pick(r, np_vals, lambda v: v.shape == np_vals[k].shape and floaty(v))
            args.append(("v", k2) if k2 is not None and r.random() < 0.7 else
                        ("c", r.uniform(-1, 1, size=shapes[0]).round(3).tolist()))
        return Step(name, tuple(args), attrs)
    op = OPS[name]
    doms = domains_of(op, nin)
    args = []
    first_shape = None
    for i, dom in enumerate(doms):
        if dom in CONST_DOMAINS:
            lo_hi = CONST_DOMAINS[dom] if dom != "const" else ((-0.5, -0.1) if i == 1 else
                                                                (0.6, 1.2))
            args.append(("c", float(round(r.uniform(*lo_hi), 3))))
            continue
        ok = (lambda v: floaty(v) or dom == "bool") if first_shape is None else (
            lambda v, s=first_shape: _broadcastable(v.shape, s))
        if i > 0 and r.random() < 0.25 or dom == "bool" and r.random() < 0.3:
            k = None
        else:
            k = _pick(r, np_vals, ok)
        if k is None:
            shape = first_shape if first_shape is not None and r.random() < 0.7 else ()
            c = r.uniform(-1.5, 1.5, size=shape).round(3)
            if dom in ("positive", "nonzero"):
                c = np.abs(c) + 0.5
            elif dom == "open_unit":
                c = np.tanh(c) * 0.8
            elif dom == "gt1":
                c = np.abs(c) + 1.5
            elif dom == "bool":
                c = c > 0.3
            args.append(("c", c.tolist() if shape else c.item()))
            if first_shape is None:
                first_shape = tuple(shape)
            continue
        v = np_vals[k]
        if dom == "bool" and v.dtype == bool:
            args.append(("v", k))
        else:
            args.append(("v", k) if dom == "real" else ("v", k, dom))
        if first_shape is None:
            first_shape = v.shape
        else:
            first_shape = np.broadcast_shapes(first_shape, v.shape)
    if not any(a[0] == "v" for a in args):
        return None
    return Step(name, tuple(args))


# -- checks --------------------------------------------------------------------------------------


class Mismatch(AssertionError):
    pass


STATS: collections.Counter = collections.Counter()  # which checks ran (docs/reliability.md)


def close(a, b, what, rtol=1e-10, atol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise Mismatch(f"{what}: shapes {a.shape} vs {b.shape}")
    if a.dtype.kind == "b" or b.dtype.kind == "b":
        if not np.array_equal(a, b):
            raise Mismatch(f"{what}: {a} vs {b}")
        return
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if not np.allclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True):
        err = np.max(np.abs(a64 - b64)) if a.size else 0.0
        raise Mismatch(f"{what}: max abs difference {err:.3g}\n  got  {a!r}\n  want {b!r}")


def tree_close(a, b, what, **kw):
    if isinstance(a, (tuple, list)):
        if not isinstance(b, (tuple, list)) or len(a) != len(b):
            raise Mismatch(f"{what}: structure {type(a).__name__}[{len(a)}] vs {b!r}")
        for i, (x, y) in enumerate(zip(a, b)):
            tree_close(x, y, f"{what}[{i}]", **kw)
        return
    close(a, b, what, **kw)


def fd_derivative(fun, args, argnum):
    """Central differences with one Richardson step; also an error estimate per entry."""
    args = list(args)
    x0 = np.array(args[argnum], dtype=np.float64)
    py = isinstance(args[argnum], float)
    y0 = np.asarray(fun(*args), dtype=np.float64)
    grad = np.zeros(y0.shape + x0.shape)
    err = np.zeros_like(grad)
    for idx in np.ndindex(x0.shape or ()):
        h = 1e-4 * max(1.0, abs(float(x0[idx])))

        def at(d):
            x = x0.copy()
            x[idx] += d
            a = list(args)
            a[argnum] = float(x) if py else x
            with np.errstate(all="ignore"):
                return np.asarray(fun(*a), dtype=np.float64)

        d1 = (at(h) - at(-h)) / (2 * h)
        d2 = (at(h / 2) - at(-h / 2)) / h
        sel = (Ellipsis,) + tuple(idx)
        grad[sel] = d2 + (d2 - d1) / 3
        err[sel] = np.abs(d2 - d1)
    return grad, err, y0


def fd_close(ad, fd, err, scale, what):
    ad = np.asarray(ad, dtype=np.float64)
    if ad.shape != fd.shape:
        raise Mismatch(f"{what}: shape {ad.shape}, finite differences {fd.shape}")
    tol = 1e-5 * (np.abs(fd) + 1.0) * max(1.0, scale) + 10 * err
    bad = ~(np.abs(ad - fd) <= tol)
    if np.any(bad):
        raise Mismatch(f"{what} disagrees with finite differences\n  got  {ad!r}\n  fd   {fd!r}")


def _load_saved(path, name):
    spec = importlib.util.spec_from_file_location(f"gg_saved_{abs(hash(path))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def _argnums_of(prog: Program, r):
    fl = prog.float_argnums()
    k = int(r.integers(1, len(fl) + 1))
    chosen = sorted(r.choice(fl, size=k, replace=False).tolist())
    if len(chosen) == 1 and r.random() < 0.5:
        a = chosen[0]
        return a - len(prog.inputs) if r.random() < 0.3 else a
    return tuple(chosen)


def _as_tuple(argnums):
    return argnums if isinstance(argnums, tuple) else (argnums,)


def sympy_gradient(prog: Program, argnum: int, budget: float = 10.0):
    """The gradient of ``sum(prog * weights)`` by SymPy, from the ops' ``sympy`` translations
    (evaluated over the traced graph), or None when SymPy gives no number within ``budget``
    seconds (a SIGALRM deadline, in the main thread only)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return _sympy_gradient(prog, argnum)

    def stop(*_):
        raise _SympyTimeout

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        return _sympy_gradient(prog, argnum)
    except _SympyTimeout:
        STATS["SymPy over budget"] += 1
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _SympyTimeout(Exception):
    pass


def _sympy_gradient(prog: Program, argnum: int):
    import sympy as sp

    args = prog.args()
    loss = make_scalar(prog)
    syms, subs = [], {}
    for k, (inp, a) in enumerate(zip(prog.inputs, args)):
        arr = np.asarray(a)
        s = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(arr.shape):
            sym = sp.Symbol(f"a{k}_{'_'.join(map(str, idx))}", real=True)
            s[idx] = sym
            subs[sym] = float(arr[idx])
        syms.append(s)
    g = gg.trace(loss, *args)
    expr = graph_to_sympy(g, syms)
    target = syms[argnum]
    out = np.zeros(target.shape)
    for idx in np.ndindex(target.shape):
        d = sp.diff(expr, target[idx]).subs(subs)
        try:
            out[idx] = float(sp.N(d, 30))
        except TypeError:  # an unevaluated sign'(x) or similar: no verdict from SymPy
            return None
    return out


def graph_to_sympy(g, syms):
    """Evaluate a primal graph on object arrays of SymPy symbols with each op's ``sympy``."""
    leaves = [s for s in syms]
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    env = {}
    for n, s in zip(inputs, leaves, strict=True):
        env[n] = s if s.shape else s[()]
    for n in sorted(g.live()):
        d = g[n]
        if n in env:
            continue
        if d["op"] == "const":
            v = d["value"]
            a = np.asarray(v)
            env[n] = (a.astype(object) if a.dtype.kind == "f" else a) if a.ndim else v
            continue
        op = OPS[d["op"]]
        xs = [env[a] for a in d["args"]]
        if op.kind in ("elementwise", "nondiff") and not d["attrs"]:
            f = np.vectorize(op.sympy, otypes=[object])
            r = f(*[np.asarray(x, dtype=object) for x in xs])
        else:
            r = op.sympy(*xs, **d["attrs"])
        r = np.asarray(r, dtype=object)
        env[n] = r if r.shape else r[()]
    (o,) = g.outputs
    out = env[o]
    return out[()] if isinstance(out, np.ndarray) else out


def check_program(prog: Program, seed: int = 0, sympy_ok: bool = True, order3: bool = True):
    """Every check of docs/reliability.md on one program; raises :class:`Mismatch`."""
    r = np.random.default_rng(seed)
    run = make_function(prog)
    args = prog.args()
    with np.errstate(all="ignore"):
        want = run(*args)  # plain NumPy: the reference

        # 1. generated code == interpreter == plain NumPy
        F = gg.compile(run)
        got = F(*args)
        close(got, want, "compiled value")
        close(F.graph(*args).evaluate(*args), want, "interpreted value (compiled graph)")
        close(gg.trace(run, *args).evaluate(*args), want, "interpreted value (traced graph)")
        assert F.source(*args).startswith("import numpy as np")

        # 7. fn.save module == in-memory code
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "saved_prog.py")
            F.save(path, *args)
            tree_close(_load_saved(path, F.__name__)(*args), got, "saved module value",
                       rtol=0, atol=0)

        fl = prog.float_argnums()
        loss = make_scalar(prog)
        argnums = _argnums_of(prog, r)
        nums = [a % len(prog.inputs) for a in _as_tuple(argnums)]
        smooth = is_smooth(prog)
        rt = 2e-5 if has_float32(prog) else 1e-9  # two derivative modes agree to rounding
        value = float(loss(*args))

        # 2. gradients: against finite differences (smooth programs) and SymPy
        G = gg.grad(gg.compile(loss) if r.random() < 0.3 else loss, argnums=argnums)
        grads = G(*args)
        grads_t = grads if isinstance(argnums, tuple) else (grads,)
        assert len(grads_t) == len(nums)
        for a, gr in zip(nums, grads_t):
            assert np.shape(gr) == np.shape(args[a]), (np.shape(gr), np.shape(args[a]))
        STATS["programs"] += 1
        STATS["steps"] += len(prog.steps)
        if smooth:
            STATS["gradient vs finite differences"] += 1
            for a, gr in zip(nums, grads_t):
                fd, err, _ = fd_derivative(loss, args, a)
                fd_close(gr, fd, err, abs(value), f"gradient wrt a{a}")
        size = sum(np.size(a) for a in args)
        symbolic = not any(st.call in SYMPY_SLOW for st in prog.steps)
        if smooth and sympy_ok and symbolic and size <= 6 and len(prog.steps) <= 4:
            for a, gr in zip(nums, grads_t):
                want_sym = sympy_gradient(prog, a)
                if want_sym is not None:
                    STATS["gradient vs SymPy"] += 1
                    close(gr, want_sym, f"gradient wrt a{a} vs SymPy", rtol=1e-8, atol=1e-10)
            if hasattr(gg, "verify"):
                rep = gg.verify(loss, *args, argnums=nums[0])  # gradgraph's own SymPy check
                STATS["gg.verify"] += 1
                if not rep:
                    raise Mismatch(f"gg.verify disagrees: {rep}")

        # save the gradient too
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "saved_grad.py")
            G.save(path, *args)
            tree_close(_load_saved(path, G.__name__)(*args), grads, "saved gradient",
                       rtol=0, atol=0)

        # 6. simplify on == off (fresh Functions: the variants are cached per Function)
        with gg.config.options(simplify=False):
            tree_close(gg.compile(run)(*args), got, "value with simplify off", rtol=1e-12)
            tree_close(gg.grad(loss, argnums=argnums)(*args), grads,
                       "gradient with simplify off", rtol=1e-12)

        # 5. forward == reverse
        a = nums[0]
        out_float = np.asarray(want).dtype.kind == "f"
        if out_float:
            Jr = gg.jacrev(run, argnums=a)(*args)
            Jf = gg.jacfwd(run, argnums=a)(*args)
            close(Jf, Jr, f"jacfwd vs jacrev wrt a{a}", rtol=rt, atol=rt * 1e-2)
            wJ = np.tensordot(np.asarray(prog.weights), Jr, axes=np.ndim(want))
            close(wJ, grads_t[0], "weights . jacrev vs grad", rtol=rt, atol=rt * 1e-2)
        tangents = tuple(
            (float(r.uniform(-1, 1)) if isinstance(x, float) else
             r.uniform(-1, 1, size=np.shape(x)).round(3)) if k in fl else np.zeros_like(x)
            for k, x in enumerate(args))
        y, t_out = gg.jvp(run, args, tangents)
        close(y, want, "jvp primal output")
        y2, back = gg.vjp(run, *args)
        close(y2, want, "vjp primal output")
        u = r.uniform(-1, 1, size=np.shape(want)).round(3) if np.ndim(want) else \
            np.float64(r.uniform(-1, 1))
        if out_float:
            cts = back(u)
            assert isinstance(cts, tuple) and len(cts) == len(args)
            lhs = float(np.sum(u * np.asarray(t_out)))
            rhs = sum(float(np.sum(np.asarray(cts[k]) * np.asarray(tangents[k]))) for k in fl)
            scale = float(np.sum(np.abs(u * np.asarray(t_out)))) + 1.0
            close(lhs, rhs, "<u, J t> (jvp) vs <J^T u, t> (vjp)", rtol=rt, atol=rt * scale)

        # 3. orders 2 and 3 through nested transforms
        if size <= 8:
            H = gg.hessian(loss, argnums=a)(*args)
            STATS["order 2"] += 1
            n = np.size(args[a])
            G1 = gg.grad(loss, argnums=a)
            if smooth:
                fd, err, _ = fd_derivative(G1, args, a)
                fd_close(H, fd, err, max(1.0, float(np.max(np.abs(grads_t[0])))),
                         f"hessian wrt a{a}")
            Hr = gg.jacrev(G1, argnums=a)(*args)
            close(H, Hr, "hessian (fwd-over-rev) vs jacrev(grad)", rtol=rt, atol=rt * 1e-2)
            v = r.uniform(-1, 1, size=np.shape(args[a])).round(3)
            hv_args = list(args)
            hv = gg.hvp(loss, argnums=a)(*hv_args, v if np.ndim(args[a]) else float(v))
            close(hv, np.reshape(np.reshape(H, (n, n)) @ np.ravel(v), np.shape(args[a])),
                  "hvp vs hessian @ v", rtol=rt, atol=rt * 1e-2)
            if order3 and n <= 3 and len(prog.steps) <= 5:
                inner = gg.hessian(loss, argnums=a)
                T = (gg.jacfwd if r.random() < 0.5 else gg.jacrev)(inner, argnums=a)(*args)
                STATS["order 3"] += 1
                if smooth:
                    fd, err, _ = fd_derivative(inner, args, a)
                    fd_close(T, fd, err, max(1.0, float(np.max(np.abs(H)))),
                             f"third derivative wrt a{a}")
                else:
                    T2 = gg.jacrev(gg.jacfwd(G1, argnums=a), argnums=a)(*args)
                    close(T, T2, "third derivative two ways", rtol=rt, atol=rt * 1e-2)
    return True
