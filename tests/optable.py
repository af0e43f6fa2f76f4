"""The op table's test cases: for every registered op, plain NumPy functions that exercise it
on a scalar, a vector (3,), a (3, 2) matrix and a broadcasting pair, with inputs sampled from
the op's ``domain`` (``gradgraph/ops/domains.py``).

``cases()`` iterates the registry: an op with no case here makes ``test_ops.py`` fail, so a new
op cannot slip in untested. Elementwise ops get their cases generated from the op itself;
structured ops list theirs in ``STRUCTURED``; ``random.*`` ops are drawn from ``RANDOM``.

``sympy_graph`` evaluates a traced graph on SymPy symbols with each op's ``sympy`` translation
(the test's exact oracle); zero-derivative nodes enter as their numeric value, which is the
convention (no derivative) stated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

import gradgraph as gg
from gradgraph.ops.domains import per_input, sample
from gradgraph.ops.registry import OPS


@dataclass
class Case:
    op: str
    name: str
    fn: Callable  # plain NumPy
    args: tuple  # sampled float64 (or bool) arrays
    diff: tuple | None = None  # argnums differentiated (default: every float argument)
    smooth: bool = True  # derivative checks against SymPy and differences; False: expect 0
    order: int = 3  # highest derivative order checked
    in_graph: bool = True  # the traced graph of fn contains a node of op
    float32: bool = True  # also run on float32 inputs
    rtol: float = 1e-7
    fd: bool = True  # compare the first derivative with differences of the NumPy function
    elementwise: bool = False  # generated from an elementwise op: SymPy works on one element

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}"

    @property
    def argnums(self) -> tuple:
        if self.diff is not None:
            return self.diff
        return tuple(i for i, a in enumerate(self.args) if np.asarray(a).dtype.kind == "f")


def _rng(key: str) -> np.random.Generator:
    """A generator seeded by the case's name (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(sum((i + 1) * ord(c) for i, c in enumerate(key)))


# -- elementwise ops: generated from the op ------------------------------------------------

# where an op has a kink or jump (distance below 0.05 is resampled), beyond domains.py's
KINKS: dict[str, Callable] = {
    "maximum": lambda x, y: x - y, "minimum": lambda x, y: x - y,
    "fmax": lambda x, y: x - y, "fmin": lambda x, y: x - y,
    "clip": lambda x, lo, hi: np.minimum(np.abs(x - lo), np.abs(x - hi)),
    "mod": lambda x, y: _frac_dist(x / y), "fmod": lambda x, y: _frac_dist(x / y),
    "floor_divide": lambda x, y: _frac_dist(x / y),
    "greater": lambda x, y: x - y, "less": lambda x, y: x - y, "equal": lambda x, y: x - y,
    "greater_equal": lambda x, y: x - y, "less_equal": lambda x, y: x - y,
    "not_equal": lambda x, y: x - y,
}


def _frac_dist(r):
    return np.abs(r - np.round(r))


def _sample_args(key, domains, shapes, kink=None):
    rng = _rng(key)
    for _ in range(200):
        args = tuple(sample(d, s, rng) for d, s in zip(domains, shapes, strict=True))
        if kink is None:
            return args
        with np.errstate(all="ignore"):
            if np.all(np.abs(kink(*args)) > 0.05):
                return args
    raise AssertionError(f"{key}: could not sample away from the kinks")


EW_SHAPES = {1: [("scalar", [()]), ("vector", [(3,)]), ("matrix", [(3, 2)])],
             2: [("scalar", [(), ()]), ("vector", [(3,), (3,)]), ("matrix", [(3, 2), (3, 2)]),
                 ("broadcast", [(1, 2), (3, 1)]), ("broadcast2", [(3, 2), (2,)])],
             3: [("scalar", [(), (), ()]), ("vector", [(3,)] * 3), ("matrix", [(3, 2)] * 3),
                 ("broadcast", [(1, 2), (3, 1), (3, 2)])]}


def _is_elementwise(spec) -> bool:
    return getattr(spec.shape, "__qualname__", "").startswith("elementwise_shape")


def ew_cases(name):
    spec = OPS[name]
    doms = per_input(spec.domain, spec.nin)
    for label, shapes in EW_SHAPES[spec.nin]:
        args = _sample_args(f"{name}-{label}", doms, shapes, KINKS.get(name))
        yield Case(name, label, spec.impl, args, smooth=spec.differentiable, elementwise=True)


# -- structured ops ------------------------------------------------------------------------

def C(op, name, fn, *shapes, dom="real", **kw) -> Case:
    """A case whose arguments are sampled from ``dom`` (one per argument, or shared) with
    these shapes; an ndarray in ``shapes`` is used as given."""
    doms = per_input(dom, len(shapes))
    rng = _rng(f"{op}-{name}")
    args = tuple(s if isinstance(s, np.ndarray) else sample(d, s, rng)
                 for d, s in zip(doms, shapes, strict=True))
    return Case(op, name, fn, args, **kw)


W = np.array([[0.3, -1.2], [0.7, 0.4], [-0.5, 1.1]])  # a fixed weight (constant operand)
IDX = np.array([0, 0, 2])  # repeated indices: their gradients add up


def _raw(f):
    """``f`` run with ``gg.config.simplify`` off (so the raw expansion's nodes stay)."""
    def run(*a):
        with gg.config.options(simplify=False):
            return f(*a)

    return run


def _grad_of(f, argnums=0):
    return lambda *a: gg.grad(f, argnums=argnums)(*a)


STRUCTURED: dict[str, list[Case]] = {
    "sum": [
        C("sum", "scalar", np.sum, ()), C("sum", "vector", np.sum, (3,)),
        C("sum", "matrix-axis0", lambda x: np.sum(x, axis=0), (3, 2)),
        C("sum", "matrix-axis1-keepdims", lambda x: x.sum(axis=1, keepdims=True), (3, 2)),
        C("sum", "matrix-axes-neg", lambda x: np.sum(x, axis=(-1, 0)), (3, 2)),
        C("sum", "3d-axes02", lambda x: np.sum(x, axis=(0, 2)), (2, 3, 2)),
        C("sum", "broadcast", lambda x, y: np.sum(x * y, axis=0), (1, 2), (3, 1)),
        C("sum", "add-reduce", lambda x: np.add.reduce(x, axis=1), (3, 2)),
    ],
    "mean": [
        C("mean", "scalar", np.mean, ()), C("mean", "vector", np.mean, (3,)),
        C("mean", "matrix-axis0", lambda x: x.mean(axis=0), (3, 2)),
        C("mean", "matrix-keepdims", lambda x: np.mean(x, axis=1, keepdims=True), (3, 2)),
        C("mean", "broadcast", lambda x, y: np.mean(x + y, axis=1), (1, 2), (3, 1)),
    ],
    "max": [
        C("max", "scalar", np.max, ()), C("max", "vector", np.max, (3,)),
        C("max", "matrix-axis1", lambda x: x.max(axis=1), (3, 2)),
        C("max", "matrix-keepdims", lambda x: np.amax(x, axis=0, keepdims=True), (3, 2)),
        C("max", "broadcast", lambda x, y: np.max(x * y, axis=0), (1, 2), (3, 1)),
        C("max", "maximum-reduce", lambda x: np.maximum.reduce(x), (3, 2)),
    ],
    "min": [
        C("min", "scalar", np.min, ()), C("min", "vector", lambda x: x.min(), (3,)),
        C("min", "matrix-axis0", lambda x: np.min(x, axis=0), (3, 2)),
        C("min", "broadcast", lambda x, y: np.amin(x - y, axis=1, keepdims=True),
          (1, 2), (3, 1)),
    ],
    "prod": [
        C("prod", "scalar", np.prod, ()), C("prod", "vector", np.prod, (3,)),
        C("prod", "vector5", lambda x: x.prod(), (5,)),
        C("prod", "one-zero", lambda x: np.prod(x * np.array([1.0, 0.0, 1.0, 1.0])), (4,)),
        C("prod", "two-zeros", lambda x: np.prod(x * np.array([0.0, 1.0, 0.0])), (3,)),
        C("prod", "matrix-axis0", lambda x: np.prod(x, axis=0), (3, 2)),
        C("prod", "matrix-axis1-keepdims", lambda x: np.prod(x, axis=1, keepdims=True), (3, 2)),
        C("prod", "matrix-all", np.prod, (3, 2)),
        C("prod", "broadcast", lambda x, y: np.prod(x + y, axis=0), (1, 2), (3, 1)),
        C("prod", "multiply-reduce", lambda x: np.multiply.reduce(x, axis=1), (3, 2)),
    ],
    "var": [
        C("var", "scalar", np.var, ()), C("var", "vector", np.var, (3,)),
        C("var", "matrix-axis0-ddof1", lambda x: np.var(x, axis=0, ddof=1), (3, 2)),
        C("var", "matrix-keepdims", lambda x: x.var(axis=1, keepdims=True), (3, 2)),
        C("var", "broadcast", lambda x, y: np.var(x * y), (1, 2), (3, 1)),
    ],
    "std": [
        C("std", "vector", np.std, (3,)),
        C("std", "matrix-axis0-ddof1", lambda x: np.std(x, axis=0, ddof=1), (3, 2)),
        C("std", "matrix-keepdims", lambda x: x.std(axis=1, keepdims=True), (3, 2)),
        C("std", "broadcast", lambda x, y: np.std(x + y, axis=0), (1, 2), (3, 1)),
    ],
    "norm": [
        C("norm", "scalar", np.linalg.norm, ()), C("norm", "vector", np.linalg.norm, (3,)),
        C("norm", "matrix-fro", lambda x: np.linalg.norm(x, "fro"), (3, 2)),
        C("norm", "matrix-axis1", lambda x: np.linalg.norm(x, axis=1), (3, 2)),
        C("norm", "matrix-keepdims", lambda x: np.linalg.norm(x, axis=0, keepdims=True), (3, 2)),
        C("norm", "broadcast", lambda x, y: np.linalg.norm(x * y, axis=1), (1, 2), (3, 1)),
        C("norm", "vector-ord1", lambda x: np.linalg.norm(x, 1), (3,), in_graph=False),
        C("norm", "vector-ordinf", lambda x: np.linalg.norm(x, np.inf), (3,), in_graph=False),
        C("norm", "vector-ord-inf", lambda x: np.linalg.norm(x, -np.inf), (3,), in_graph=False),
        C("norm", "vector-ord3", lambda x: np.linalg.norm(x, 3), (3,), in_graph=False),
        C("norm", "vector-ord0", lambda x: np.linalg.norm(x, 0), (3,), in_graph=False),
        C("norm", "matrix-ord1", lambda x: np.linalg.norm(x, 1), (3, 2), in_graph=False),
        C("norm", "matrix-ordinf-axes", lambda x: np.linalg.norm(x, np.inf, axis=(1, 0)),
          (3, 2), in_graph=False),
        C("norm", "matrix-ord-1-keepdims", lambda x: np.linalg.norm(x, -1, keepdims=True,
                                                                    axis=(0, 1)),
          (3, 2), in_graph=False),
    ],
    "cumsum": [
        C("cumsum", "scalar", np.cumsum, ()), C("cumsum", "vector", np.cumsum, (3,)),
        C("cumsum", "matrix-axis0", lambda x: np.cumsum(x, axis=0), (3, 2)),
        C("cumsum", "matrix-axis1", lambda x: x.cumsum(axis=1), (3, 2)),
        C("cumsum", "matrix-flat", lambda x: x.cumsum(), (3, 2)),
        C("cumsum", "broadcast", lambda x, y: np.cumsum(x * y, axis=0), (1, 2), (3, 1)),
    ],
    "argmax": [
        C("argmax", "vector", np.argmax, (3,), smooth=False),
        C("argmax", "matrix-axis1", lambda x: x.argmax(axis=1) * 1.0, (3, 2), smooth=False),
        C("argmax", "keepdims", lambda x: np.argmax(x, axis=0, keepdims=True), (3, 2),
          smooth=False),
    ],
    "argmin": [
        C("argmin", "vector", np.argmin, (3,), smooth=False),
        C("argmin", "matrix", lambda x: x.argmin(axis=0), (3, 2), smooth=False),
    ],
    "argsort": [
        C("argsort", "vector", np.argsort, (3,), smooth=False),
        C("argsort", "matrix-axis0", lambda x: np.argsort(x, axis=0), (3, 2), smooth=False),
    ],
    "all": [C("all", "matrix", lambda x: np.all(x > 0, axis=0), (3, 2), smooth=False),
            C("all", "vector", lambda x: (x > -5).all(), (3,), smooth=False)],
    "any": [C("any", "matrix", lambda x: np.any(x > 0, axis=1, keepdims=True), (3, 2),
              smooth=False)],
    "count_nonzero": [C("count_nonzero", "vector", lambda x: np.count_nonzero(x > 0), (3,),
                        smooth=False)],
    "reshape": [
        C("reshape", "scalar", lambda x: np.reshape(x, (1, 1)), ()),
        C("reshape", "vector", lambda x: x.reshape(3, 1), (3,)),
        C("reshape", "matrix", lambda x: x.reshape(-1), (3, 2)),
        C("reshape", "matrix-2x3", lambda x: np.reshape(x, (2, 3)), (3, 2)),
        C("reshape", "ravel", lambda x: x.ravel() * np.arange(6.0), (3, 2)),
        C("reshape", "flatten", lambda x: x.flatten(), (3, 2)),
        C("reshape", "expand-dims", lambda x: np.expand_dims(x, (0, 2)), (3, 2)),
        C("reshape", "squeeze", lambda x: np.squeeze(x), (3, 1)),
        C("reshape", "squeeze-axis", lambda x: x.squeeze(axis=0), (1, 2)),
        C("reshape", "broadcast", lambda x, y: (x * y).reshape(6), (1, 2), (3, 1)),
        C("reshape", "atleast-2d", lambda x: np.atleast_2d(x), (3,)),
    ],
    "transpose": [
        C("transpose", "vector", lambda x: x.T, (3,)),
        C("transpose", "matrix", lambda x: x.T * W.T, (3, 2)),
        C("transpose", "3d", lambda x: np.transpose(x, (1, 2, 0)), (2, 3, 2)),
        C("transpose", "swapaxes", lambda x: np.swapaxes(x, 0, 2), (2, 3, 2)),
        C("transpose", "moveaxis", lambda x: np.moveaxis(x, 0, -1), (2, 3, 2)),
        C("transpose", "method", lambda x: x.transpose(1, 0), (3, 2)),
        C("transpose", "broadcast", lambda x, y: np.transpose(x * y), (1, 2), (3, 1)),
    ],
    "broadcast_to": [
        C("broadcast_to", "scalar", lambda x: np.broadcast_to(x, (3,)), ()),
        C("broadcast_to", "vector", lambda x: np.broadcast_to(x, (2, 3)), (3,)),
        C("broadcast_to", "matrix", lambda x: np.broadcast_to(x, (3, 2)), (3, 1)),
        C("broadcast_to", "tile", lambda x: np.tile(x, (2, 1)), (3, 2)),
        C("broadcast_to", "repeat", lambda x: np.repeat(x, 2, axis=0), (3, 2)),
    ],
    "astype": [
        # float32 rounding inside: no differences (they would see the rounding steps)
        C("astype", "to-float32", lambda x: x.astype(np.float32), (3,), float32=False,
          rtol=1e-6, fd=False),
        C("astype", "to-int", lambda x: (x * 3).astype(int), (3, 2), smooth=False),
        C("astype", "to-float64", lambda x: x.astype(np.float32).astype(np.float64), (3, 2),
          rtol=1e-6, float32=False, fd=False),
        C("astype", "dtype-arg", lambda x: np.sum(x, dtype=np.float32), (3, 2), rtol=1e-6,
          float32=False, fd=False),
    ],
    "getitem": [
        C("getitem", "scalar", lambda x: x[()], ()),
        C("getitem", "vector-int", lambda x: x[1], (3,)),
        C("getitem", "vector-slice", lambda x: x[1:], (3,)),
        C("getitem", "negative-step", lambda x: x[::-1] * np.arange(3.0), (3,)),
        C("getitem", "negative-step2", lambda x: x[::-2, ::-1], (3, 2)),
        C("getitem", "repeated", lambda x: x[IDX] * np.arange(1.0, 4.0), (3,)),
        C("getitem", "matrix-rows", lambda x: x[IDX], (3, 2)),
        C("getitem", "matrix-pairs", lambda x: x[IDX, np.array([1, 0, 1])], (3, 2)),
        C("getitem", "matrix-columns", lambda x: x[:, [1, 1, 0]], (3, 2)),
        C("getitem", "mask", lambda x: x[x > 0], (3, 2)),
        C("getitem", "const-mask", lambda x: x[np.array([True, False, True])], (3, 2)),
        C("getitem", "none-ellipsis", lambda x: x[None, ..., 0], (3, 2)),
        C("getitem", "separated", lambda x: x[[0, 1], :, 1], (2, 3, 2)),
        C("getitem", "iteration", lambda x: sum(r * i for i, r in enumerate(x)), (3, 2)),
        C("getitem", "take", lambda x: np.take(x, [2, 0, 2], axis=1), (2, 3)),
        C("getitem", "sort", lambda x: np.sort(x, axis=0), (3, 2)),
        C("getitem", "flip", lambda x: np.flip(x, 0), (3, 2)),
        C("getitem", "diagonal", lambda x: np.diagonal(x), (3, 2)),
        C("getitem", "diff", lambda x: np.diff(x, axis=0), (3, 2)),
        C("getitem", "broadcast", lambda x, y: (x * y)[1:, ::-1], (1, 2), (3, 1)),
    ],
    "index_add": [
        C("index_add", "grad-repeated", _grad_of(lambda y: np.sum(y[IDX] ** 3)), (3,)),
        C("index_add", "grad-mask", _grad_of(lambda y: np.sum(np.sin(y[y > 0]))), (3, 2)),
        C("index_add", "diag", lambda x: np.diag(x), (3,)),
        C("index_add", "diag-offset", lambda x: np.diag(x, 1), (2,)),
    ],
    "concatenate": [
        C("concatenate", "scalars-hstack", lambda x, y: np.hstack([x, y]), (), ()),
        C("concatenate", "vectors", lambda x, y: np.concatenate([x, y, x]), (3,), (2,)),
        C("concatenate", "matrix-axis1", lambda x, y: np.concatenate((x, y), axis=1),
          (3, 2), (3, 1)),
        C("concatenate", "vstack", lambda x, y: np.vstack([x, y]), (3, 2), (2,)),
        C("concatenate", "append", lambda x, y: np.append(x, y), (3, 2), (3,)),
        C("concatenate", "const", lambda x: np.concatenate([x, np.ones(2)]), (3,)),
    ],
    "stack": [
        C("stack", "scalars", lambda x, y: np.array([x, y, x * y]), (), ()),
        C("stack", "vectors", lambda x, y: np.stack([x, y], axis=1), (3,), (3,)),
        C("stack", "matrices", lambda x, y: np.stack([x, y]), (3, 2), (3, 2)),
    ],
    "matmul": [
        C("matmul", "1d-1d", lambda x, y: x @ y, (3,), (3,)),
        C("matmul", "1d-2d", lambda x, y: x @ y, (3,), (3, 2)),
        C("matmul", "2d-1d", lambda x, y: x @ y, (3, 2), (2,)),
        C("matmul", "2d-2d", lambda x, y: np.matmul(x, y), (3, 2), (2, 3)),
        C("matmul", "batched", lambda x, y: x @ y, (2, 3, 2), (2, 2, 2)),
        C("matmul", "broadcast-batch", lambda x, y: x @ y, (2, 1, 3, 2), (3, 2, 1)),
        C("matmul", "batched-1d", lambda x, y: x @ y, (2, 3, 2), (2,)),
        C("matmul", "1d-batched", lambda x, y: x @ y, (3,), (2, 3, 2)),
        C("matmul", "const-weight", lambda x: W.T @ x, (3,)),
    ],
    "dot": [
        C("dot", "scalar", lambda x, y: np.dot(x, y), (), (3,)),
        C("dot", "1d-1d", lambda x, y: np.dot(x, y), (3,), (3,)),
        C("dot", "2d-1d", lambda x, y: x.dot(y), (3, 2), (2,)),
        C("dot", "2d-2d", lambda x, y: np.dot(x, y), (3, 2), (2, 3)),
        C("dot", "nd", lambda x, y: np.dot(x, y), (2, 3, 2), (3, 2, 2)),
        C("dot", "nd-1d", lambda x, y: np.dot(x, y), (2, 3, 2), (2,)),
    ],
    "tensordot": [
        C("tensordot", "int1", lambda x, y: np.tensordot(x, y, 1), (3, 2), (2, 3)),
        C("tensordot", "int2", lambda x, y: np.tensordot(x, y), (2, 3, 2), (3, 2)),
        C("tensordot", "int0", lambda x, y: np.tensordot(x, y, 0), (3,), (2,)),
        C("tensordot", "pairs", lambda x, y: np.tensordot(x, y, axes=([0, 2], [2, 0])),
          (2, 3, 2), (2, 3, 2)),
        C("tensordot", "vector", lambda x, y: np.tensordot(x, y, axes=(0, 0)), (3,), (3, 2)),
    ],
    "inner": [
        C("inner", "1d", lambda x, y: np.inner(x, y), (3,), (3,)),
        C("inner", "2d-1d", lambda x, y: np.inner(x, y), (3, 2), (2,)),
        C("inner", "2d-2d", lambda x, y: np.inner(x, y), (3, 2), (2, 2)),
    ],
    "outer": [
        C("outer", "vectors", lambda x, y: np.outer(x, y), (3,), (2,)),
        C("outer", "matrix", lambda x, y: np.outer(x, y), (3, 2), (2,)),
    ],
    "vdot": [
        C("vdot", "vectors", lambda x, y: np.vdot(x, y), (3,), (3,)),
        C("vdot", "matrices", lambda x, y: np.vdot(x, y), (3, 2), (2, 3)),
    ],
    "einsum": [
        C("einsum", "matmul", lambda x, y: np.einsum("ij,jk->ik", x, y), (3, 2), (2, 3)),
        C("einsum", "implicit", lambda x, y: np.einsum("ij,jk", x, y), (3, 2), (2, 2)),
        C("einsum", "dot", lambda x, y: np.einsum("i,i", x, y), (3,), (3,)),
        C("einsum", "transpose", lambda x: np.einsum("ij->ji", x), (3, 2)),
        C("einsum", "sum-axis", lambda x: np.einsum("ij->i", x), (3, 2)),
        C("einsum", "trace", lambda x: np.einsum("ii->", x), (3, 3)),
        C("einsum", "diag", lambda x: np.einsum("ii->i", x), (3, 3)),
        C("einsum", "outer", lambda x, y: np.einsum("i,j->ij", x, y), (3,), (2,)),
        C("einsum", "three", lambda x, y, z: np.einsum("ij,jk,k->i", x, y, z),
          (3, 2), (2, 2), (2,)),
        C("einsum", "ellipsis", lambda x, y: np.einsum("...ij,...jk->...ik", x, y),
          (2, 3, 2), (2, 2, 2)),
        C("einsum", "broadcast", lambda x, y: np.einsum("ij,ij->ij", x, y), (1, 2), (3, 2)),
        C("einsum", "scalar", lambda x, y: np.einsum(",i->i", x, y), (), (3,)),
        C("einsum", "same-operand", lambda x: np.einsum("ij,ij->", x, x), (3, 2)),
    ],
    "trace": [
        C("trace", "square", lambda x: np.trace(x), (3, 3)),
        C("trace", "rectangular-offset", lambda x: np.trace(x, -1), (3, 2)),
        C("trace", "3d-axes", lambda x: np.trace(x, axis1=2, axis2=0), (2, 3, 2)),
        C("trace", "broadcast", lambda x, y: np.trace(x * y), (1, 2), (3, 1)),
    ],
    "inv": [
        C("inv", "matrix", np.linalg.inv, (3, 3), dom="invertible", rtol=1e-6),
        C("inv", "stack", np.linalg.inv, (2, 2, 2), dom="invertible", rtol=1e-6),
    ],
    "det": [
        C("det", "1x1", np.linalg.det, (1, 1), dom="invertible"),
        C("det", "matrix", np.linalg.det, (3, 3), dom="invertible", rtol=1e-6),
        C("det", "stack", np.linalg.det, (2, 2, 2), dom="invertible", rtol=1e-6),
    ],
    "solve": [
        C("solve", "vector", np.linalg.solve, (2, 2), (2,), dom="invertible,real", rtol=1e-6),
        C("solve", "matrix", np.linalg.solve, (2, 2), (2, 3), dom="invertible,real", rtol=1e-6),
        C("solve", "stack-vector", np.linalg.solve, (2, 2, 2), (2,), dom="invertible,real",
          rtol=1e-6),
        C("solve", "stack", np.linalg.solve, (2, 2, 2), (2, 2, 1), dom="invertible,real",
          rtol=1e-6),
    ],
    # simplify folds zeros into constants: trace these without it
    "zeros": [C("zeros", "grad-unused", _raw(lambda x, y: _grad_of(
        lambda a, b: np.sum(np.sin(a)), argnums=(0, 1))(x, y)[1] + y), (3,), (3,)),
              C("zeros", "concatenate-jvp", _raw(lambda x: gg.jacfwd(
                  lambda y: np.concatenate([np.ones(2), y]))(x)), (3,), smooth=False)],
    "eye": [C("eye", "jacrev", _raw(lambda x: gg.jacrev(lambda y: np.sin(y))(x)), (3,))],
    "stop_gradient": [
        # stop_gradient is the identity on numbers: differences cannot see it
        C("stop_gradient", "vector", lambda x: x * gg.stop_gradient(x), (3,), fd=False),
        C("stop_gradient", "matrix", lambda x: np.sin(gg.detach(x)) + x, (3, 2), fd=False),
    ],
    # elementwise ops: extra cases beside the generated ones
    "power": [C("power", "square", lambda x: x ** 2, (3, 2)),
              C("power", "cube-negative-base", lambda x: x ** 3, (3,)),
              C("power", "sqrt", lambda x: x ** 0.5, (3,), dom="positive"),
              C("power", "inverse", lambda x: x ** -1.0, (3,)),
              C("power", "rpow", lambda x: 2.0 ** x, (3,))],
    "clip": [C("clip", "const-bounds", lambda x: np.clip(x, -0.7, 0.9), (3, 2)),
             C("clip", "method-lower-only", lambda x: x.clip(0.1), (3,)),
             C("clip", "upper-only", lambda x: np.clip(x, None, 0.3), (3,))],
    "where": [C("where", "traced-condition", lambda x, y: np.where(x > 0, x * y, -y),
                (3, 2), (3, 2)),
              C("where", "relu", lambda x: np.where(x > 0, x, 0.0), (3,))],
    "maximum": [C("maximum", "relu", lambda x: np.maximum(x, 0.0), (3, 2))],
    "round": [C("round", "decimals", lambda x: np.round(x, 1) * 1.0, (3,), smooth=False)],
    "absolute": [C("absolute", "operator", lambda x: abs(x), (3,))],
    "mod": [C("mod", "operator", lambda x: x % 0.7, (3,), dom="positive")],
    "divide": [C("divide", "rdiv", lambda x: 1.0 / x, (3,))],
}

# The ops whose generated elementwise cases are replaced by the lists above.
ONLY_STRUCTURED = {"stop_gradient"}


# -- random draws: NumPy's own numbers from the same generator state -------------------------

RANDOM_PARAMS: dict[str, dict] = {
    "standard_normal": {}, "normal": dict(loc=0.5, scale=2.0), "random": {},
    "uniform": dict(low=-1.0, high=2.0), "standard_exponential": {},
    "exponential": dict(scale=2.0), "standard_gamma": dict(shape=2.0),
    "gamma": dict(shape=2.0, scale=1.5), "beta": dict(a=2.0, b=3.0), "chisquare": dict(df=3.0),
    "noncentral_chisquare": dict(df=3.0, nonc=1.0), "f": dict(dfnum=3.0, dfden=5.0),
    "noncentral_f": dict(dfnum=3.0, dfden=5.0, nonc=1.0), "standard_cauchy": {},
    "standard_t": dict(df=4.0), "vonmises": dict(mu=0.0, kappa=2.0), "pareto": dict(a=3.0),
    "weibull": dict(a=2.0), "power": dict(a=2.0), "laplace": dict(loc=0.0, scale=1.0),
    "gumbel": dict(loc=0.0, scale=1.0), "logistic": dict(loc=0.0, scale=1.0),
    "lognormal": dict(mean=0.0, sigma=0.5), "rayleigh": dict(scale=1.0),
    "wald": dict(mean=1.0, scale=2.0), "triangular": dict(left=0.0, mode=0.5, right=1.0),
    "integers": dict(low=0, high=10), "random_integers": dict(low=1, high=6),
    "binomial": dict(n=10, p=0.3), "negative_binomial": dict(n=5, p=0.5),
    "poisson": dict(lam=3.0), "zipf": dict(a=2.0), "geometric": dict(p=0.3),
    "hypergeometric": dict(ngood=5, nbad=7, nsample=4), "logseries": dict(p=0.5),
    "multivariate_normal": dict(mean=np.zeros(2), cov=np.array([[1.0, 0.2], [0.2, 1.0]])),
    "dirichlet": dict(alpha=np.array([1.0, 2.0, 3.0])),
    "multinomial": dict(n=10, pvals=np.array([0.2, 0.3, 0.5])),
    "multivariate_hypergeometric": dict(colors=np.array([3, 4, 5]), nsample=4),
    "choice": dict(a=5), "permutation": dict(x=5),
    "permuted": dict(x=np.arange(6.0).reshape(2, 3)),
}
RANDOMSTATE_ONLY = {"random_integers"}
NO_SIZE = {"permutation", "permuted"}


@dataclass
class RandomCase:
    op: str
    dist: str
    kwargs: dict

    @property
    def id(self) -> str:
        return self.op

    def generator(self, seed=11):
        if self.dist in RANDOMSTATE_ONLY:
            return np.random.RandomState(seed)
        return np.random.default_rng(seed)

    def call(self, rng):
        kw = dict(self.kwargs)
        if self.dist not in NO_SIZE:
            kw["size"] = (3,)
        return getattr(rng, self.dist)(**kw)


# -- the registry, covered ------------------------------------------------------------------

def cases() -> list[Case]:
    """Every case of every registered non-random op (fails loudly for an op with none)."""
    out = []
    for name in OPS:
        if name.startswith("random."):
            continue
        if _is_elementwise(OPS[name]) and name not in ONLY_STRUCTURED:
            out.extend(ew_cases(name))
        out.extend(STRUCTURED.get(name, ()))
    return out


def random_cases() -> list[RandomCase]:
    return [RandomCase(n, n[len("random."):], RANDOM_PARAMS[n[len("random."):]])
            for n in OPS if n.startswith("random.") and n[len("random."):] in RANDOM_PARAMS]


def uncovered() -> list[str]:
    """Registered ops with no case here."""
    have = {c.op for c in cases()} | {c.op for c in random_cases()}
    return sorted(set(OPS) - have)


# -- SymPy: a traced graph on symbols --------------------------------------------------------

def _obj(v) -> np.ndarray:
    a = np.asarray(v)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(a.shape):
        x = a[idx]
        out[idx] = x.item() if isinstance(x, np.generic) else x
    return out


def numeric_values(g, args) -> dict:
    """Every live node's value, by the ops' NumPy implementations (like the interpreter)."""
    env = {}
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    for n, a in zip(inputs, args, strict=True):
        env[n] = a
    with np.errstate(all="ignore"):
        for n in sorted(g.live()):
            d = g[n]
            if n in env:
                continue
            env[n] = d["value"] if d["op"] == "const" else OPS[d["op"]].impl(
                *(env[a] for a in d["args"]), **d["attrs"])
    return env


def sympy_graph(g, args, argnums):
    """``(output object array, [symbol arrays of the argnums])``: ``g`` evaluated on real
    symbols for the differentiated arguments, numbers for the others. Nodes of ops without a
    derivative, and non-float nodes, enter as their numeric value."""
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    num = numeric_values(g, args)
    env, syms = {}, []
    for k, (n, a) in enumerate(zip(inputs, args)):
        if k in argnums:
            s = np.empty(np.shape(a), dtype=object)
            for idx in np.ndindex(s.shape):
                s[idx] = sp.Symbol(f"a{k}_{'_'.join(map(str, idx))}", real=True)
            env[n] = s
            syms.append(s)
        else:
            env[n] = _obj(a)
    for n in sorted(g.live()):
        if n in env:
            continue
        d = g[n]
        spec = OPS.get(d["op"])
        if d["op"] == "const" or d["dtype"].kind != "f" or not spec.differentiable:
            env[n] = _obj(num[n])
            continue
        if spec.sympy is None:
            raise AssertionError(f"op {d['op']} has no SymPy translation")
        ops = [env[a] if g[a]["dtype"].kind == "f" else np.asarray(num[a]) for a in d["args"]]
        if _is_elementwise(spec):
            out = np.frompyfunc(spec.sympy, len(ops), 1)(*ops)
        else:
            out = spec.sympy(*ops, **d["attrs"])
        env[n] = np.asarray(out, dtype=object) if not isinstance(out, np.ndarray) else out
        if env[n].shape != d["shape"]:
            raise AssertionError(f"SymPy translation of {d['op']} gave shape {env[n].shape}, "
                                 f"the node has {d['shape']}")
    outs = [env[o] for o in g.outputs]
    return outs, syms
