"""The op table drives these tests: every registered op (``tests/optable.py`` iterates the
registry) is checked for values (interpreter == generated code == NumPy, shapes, dtypes,
float32), for derivatives to order 3 against SymPy and against central differences in random
directions, and for the linear-map identities of forward and reverse mode.
"""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np
import pytest
import sympy as sp

import gradgraph as gg
from gradgraph.ops.registry import OPS

import optable
from optable import Case

CASES = optable.cases()
IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"


def test_every_registered_op_has_a_case():
    missing = optable.uncovered()
    assert not missing, (f"ops without a test case in tests/optable.py: {missing}; add cases "
                         "(STRUCTURED, or RANDOM_PARAMS for random.*) for them")


def _float_args(args, dtype):
    return tuple(np.asarray(a, dtype) if np.asarray(a).dtype.kind == "f" else a for a in args)


def _close(got, want, rtol, what, atol=0.0):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale + 1e-300,
                               equal_nan=True, err_msg=what)


def _nodes_agree_with_shape_rules(g):
    """Each node's recorded shape/dtype (from the NumPy value while tracing) is what its op's
    shape rule says (which is what derivative rules rely on)."""
    for n in g.order():
        d = g[n]
        if d["op"] in ("input", "const") or d["op"].startswith("random."):
            continue
        if d["op"] == "getitem" and any(g[a]["dtype"] == np.bool_ for a in d["args"][1:]):
            continue  # the rule samples masks as zeros; the tracer records the true count
        avals = [(g[a]["shape"], g[a]["dtype"], g[a].get("weak", False)) for a in d["args"]]
        rule = OPS[d["op"]].shape(avals, **d["attrs"])
        assert (tuple(rule[0]), np.dtype(rule[1])) == (d["shape"], d["dtype"]), (
            f"shape rule of {d['op']} gives {rule}, NumPy gave {(d['shape'], d['dtype'])}")


def _values_agree_with_nodes(g, args):
    """Every node of a (derivative) graph evaluates to the shape and dtype the graph says."""
    env = optable.numeric_values(g, args)
    for n, v in env.items():
        d = g[n]
        if d["op"] == "const" or d["op"].startswith("random."):
            continue
        assert np.shape(v) == d["shape"], f"node {g.name(n)} ({d['op']}): shape"
        if not (d["op"] == "input" and d.get("pytype")):
            assert np.result_type(v) == d["dtype"], (
                f"node {g.name(n)} ({d['op']}): dtype {np.result_type(v)}, graph says "
                f"{d['dtype']}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values(case: Case):
    with np.errstate(all="ignore"):
        want = case.fn(*case.args)
    F = gg.compile(case.fn)
    got = F(*case.args)
    g = gg.trace(case.fn, *case.args)
    ev = g.evaluate(*case.args)
    for what, v in (("generated code", got), ("interpreter", ev)):
        assert np.shape(v) == np.shape(want), f"{what}: shape {np.shape(v)} != {np.shape(want)}"
        assert np.result_type(v) == np.result_type(want), (
            f"{what}: dtype {np.result_type(v)} != NumPy's {np.result_type(want)}")
        _close(v, want, 1e-12, what)
    if case.in_graph:
        assert any(g[n]["op"] == case.op for n in g.order()), f"no {case.op} node in the graph"
    _nodes_agree_with_shape_rules(g)
    if case.float32:
        args32 = _float_args(case.args, np.float32)
        with np.errstate(all="ignore"):
            want32 = case.fn(*args32)
        got32 = F(*args32)
        assert np.result_type(got32) == np.result_type(want32), (
            f"float32: dtype {np.result_type(got32)} != NumPy's {np.result_type(want32)}")
        _close(got32, want32, 1e-5, "float32")


# -- derivatives --------------------------------------------------------------------------


class Levels:
    """``s = sum(w * fn(args))`` and its derivatives ``G_k`` (grad of grad of grad, in the
    random direction ``u``): ``h_k = <u, G_k>`` and ``G_{k+1} = grad h_k``."""

    def __init__(self, case: Case, order: int):
        rng = np.random.default_rng(len(case.id))
        self.case = case
        self.nums = case.argnums
        with np.errstate(all="ignore"):
            out = np.asarray(case.fn(*case.args))
        self.w = rng.normal(size=out.shape)
        self.u = [rng.normal(size=np.shape(case.args[k])) for k in self.nums]
        w, fn = self.w, case.fn
        self.s = lambda *a: np.sum(w * fn(*a))
        self.G = [None]
        self.h = [self.s]
        for _ in range(order):
            Gk = gg.grad(self.h[-1], argnums=self.nums)
            self.G.append(Gk)
            self.h.append(self._dir(Gk))

    def _dir(self, Gk):
        u = self.u
        return lambda *a: sum(np.sum(uk * gk) for uk, gk in zip(u, Gk(*a)))

    def shifted(self, eps):
        a = list(self.case.args)
        for k, uk in zip(self.nums, self.u):
            a[k] = a[k] + eps * uk
        return a

    def tangents(self):
        t = [np.zeros(np.shape(a), np.asarray(a).dtype) for a in self.case.args]
        for k, uk in zip(self.nums, self.u):
            t[k] = uk
        return tuple(t)


def _flat(parts):
    return np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])


def _num(e) -> float:
    return float(sp.N(e))


def _graph_oracle(case, L, v, order):
    """SymPy's exact derivatives of the traced graph, translated op by op: the value of ``s``,
    the full gradient, and for orders 2 and 3 the directional ``<v, G_k>`` = d/dr
    d^(k-1)/dt^(k-1) s(x + t u + r v) at 0 (the point substituted first keeps it small)."""
    g = gg.trace(case.fn, *case.args)
    (out,), syms = optable.sympy_graph(g, case.args, L.nums)
    S = sum(np.ravel(L.w * out), sp.Integer(0))
    flat = [x for sm in syms for x in sm.ravel()]
    x0 = [float(a) for k in L.nums for a in np.ravel(case.args[k])]
    point = dict(zip(flat, map(sp.Float, x0)))
    value = _num(S.xreplace(point))
    levels = [("full", np.array([_num(sp.diff(S, x).xreplace(point)) for x in flat]))]
    t, r = sp.symbols("t r", real=True)
    ud = np.concatenate([np.ravel(u) for u in L.u])
    line = {x: sp.Float(a) + sp.Float(float(b)) * t + sp.Float(float(c)) * r
            for x, a, b, c in zip(flat, x0, ud, v)}
    e = sp.diff(S.xreplace(line), r)
    for _ in range(2, order + 1):
        e = sp.diff(e, t)
        levels.append(("dir", _num(e.xreplace({t: 0, r: 0}))))
    return value, levels


@functools.lru_cache(maxsize=None)
def _scalar_partials(name, diff, order):
    """The elementwise op's SymPy translation on one scalar per input, and its partial
    derivatives up to ``order`` with respect to the inputs ``diff``, as NumPy functions."""
    spec = OPS[name]
    xs = sp.symbols(f"x0:{spec.nin}", real=True)
    f = spec.sympy(*xs)
    exprs = {(): f}
    for k in range(1, order + 1):
        for idx in itertools.combinations_with_replacement(diff, k):
            exprs[idx] = sp.diff(exprs[idx[:-1]], xs[idx[-1]]).replace(
                sp.DiracDelta, lambda *a: sp.Integer(0))
    keys = list(exprs)
    fn = sp.lambdify(xs, [exprs[k] for k in keys], modules="numpy")
    return keys, fn


def _unbroadcast(a, shape):
    while a.ndim > len(shape):
        a = a.sum(axis=0)
    return np.sum(a, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True) \
        .reshape(shape)


def _elementwise_oracle(case, L, v, order):
    """For an elementwise op SymPy differentiates the scalar function once (cached); the
    array derivatives follow by broadcasting: G_j = unbroadcast(w * sum over m, n of
    U_m U_n d^3 f / dx_j dx_m dx_n), and so on."""
    keys, fn = _scalar_partials(case.op, L.nums, order)
    out_shape = np.broadcast_shapes(*(np.shape(a) for a in case.args))
    flat = [np.broadcast_to(a, out_shape).ravel() for a in case.args]
    with np.errstate(all="ignore"):
        vals = fn(*[a if a.dtype == bool else a.astype(float) for a in flat])
    d = {k: np.broadcast_to(np.asarray(x, dtype=float), (len(flat[0]),)).reshape(out_shape)
         for k, x in zip(keys, vals)}
    w = L.w
    U = {j: np.broadcast_to(u, out_shape) for j, u in zip(L.nums, L.u)}
    value = float(np.sum(w * d[()]))
    levels = []
    for k in range(1, order + 1):
        parts = []
        for j in L.nums:
            acc = np.zeros(out_shape)
            for rest in itertools.product(L.nums, repeat=k - 1):
                coef = np.prod([U[m] for m in rest], axis=0) if rest else 1.0
                acc = acc + coef * d[tuple(sorted((j,) + rest))]
            parts.append(_unbroadcast(w * acc, np.shape(case.args[j])))
        levels.append(("full", _flat(parts)))
    return value, levels


SMOOTH = [c for c in CASES if c.smooth and c.argnums]
ZERO = [c for c in CASES if not c.smooth and c.argnums]


@pytest.mark.parametrize("case", SMOOTH, ids=[c.id for c in SMOOTH])
def test_derivatives_against_sympy_and_differences(case: Case):
    order = case.order
    L = Levels(case, order)
    args = case.args
    Gv = [None] + [L.G[k](*args) for k in range(1, order + 1)]
    hv = [float(L.h[0](*args))] + [
        float(sum(np.sum(u * gk) for u, gk in zip(L.u, Gv[k]))) for k in range(1, order + 1)]
    # 1. SymPy: the exact value and derivatives (full vectors, or <v, G_k> in a direction v)
    v = np.random.default_rng(7).normal(size=sum(np.size(u) for u in L.u))
    oracle = _elementwise_oracle if case.elementwise else _graph_oracle
    value, levels = oracle(case, L, v, order)
    _close(hv[0], value, 1e-10 if case.rtol <= 1e-7 else case.rtol, "SymPy translation: value")
    for k, (kind, want) in enumerate(levels, start=1):
        got = _flat(Gv[k]) if kind == "full" else float(v @ _flat(Gv[k]))
        _close(got, want, case.rtol * 10 ** (k - 1), f"order {k} vs SymPy ({kind})", atol=1e-9)
    # 2. central differences in the random direction u, level by level
    eps = 1e-5
    for k in range(order if case.fd else 0):
        hk = L.h[k]
        fd = (float(hk(*L.shifted(eps))) - float(hk(*L.shifted(-eps)))) / (2 * eps)
        _close(hv[k + 1], fd, 1e-5, f"order {k + 1} vs central differences", atol=1e-6)
    # 3. forward mode agrees: jvp of s, and jvp of the gradient (forward-over-reverse)
    tol = max(1e-9, case.rtol)  # case.rtol is looser where float32 rounding happens inside
    _, t1 = gg.jvp(L.s, tuple(args), L.tangents())
    _close(t1, hv[1], tol, "jvp of s vs reverse", atol=1e-12)
    if order >= 2:
        _, t2 = gg.jvp(L.G[1], tuple(args), L.tangents())
        _close(_flat(t2), _flat(Gv[2]), tol, "forward-over-reverse vs reverse-over-reverse",
               atol=1e-12)
    # 4. every node of the derivative graph has the shape and dtype the graph says
    _values_agree_with_nodes(L.G[1].graph(*args), args)
    if case.float32:
        args32 = _float_args(args, np.float32)
        for k, gk in zip(L.nums, L.G[1](*args32)):
            assert np.asarray(gk).dtype == np.float32, f"float32 gradient is {gk.dtype}"


@pytest.mark.parametrize("case", ZERO, ids=[c.id for c in ZERO])
def test_zero_derivative_ops(case: Case):
    L = Levels(case, 1)
    for gk in L.G[1](*case.args):
        assert np.all(np.asarray(gk) == 0), "an op without a derivative gave a nonzero one"
    _, t = gg.jvp(L.s, tuple(case.args), L.tangents())
    assert float(t) == 0.0


def _float_out(c):
    with np.errstate(all="ignore"):
        return np.result_type(c.fn(*c.args)).kind == "f"


FLOAT_OUT = [c for c in CASES if c.argnums and _float_out(c)]


@pytest.mark.parametrize("case", FLOAT_OUT, ids=[c.id for c in FLOAT_OUT])
def test_linear_maps_transpose_and_jacobians_agree(case: Case):
    """<v, J u> = <J^T v, u> (gg.jvp against gg.vjp), and jacfwd == jacrev (the batched,
    nb = 1 forms of every rule)."""
    rng = np.random.default_rng(3)
    L = Levels(case, 0)
    out, back = gg.vjp(case.fn, *case.args)
    v = rng.normal(size=np.shape(out))
    cts = back(v)
    _, Ju = gg.jvp(case.fn, tuple(case.args), L.tangents())
    lhs = float(np.sum(v * Ju))
    rhs = float(sum(np.sum(cts[k] * u) for k, u in zip(L.nums, L.u)))
    tol = max(1e-9, case.rtol)
    _close(lhs, rhs, tol, "<v, J u> vs <J^T v, u>", atol=1e-12)
    Jr = gg.jacrev(case.fn, argnums=L.nums)(*case.args)
    Jf = gg.jacfwd(case.fn, argnums=L.nums)(*case.args)
    nd = np.ndim(out)
    for k, (jr, jf, u) in enumerate(zip(Jr, Jf, L.u)):
        assert np.shape(jr) == np.shape(out) + np.shape(u)
        _close(jr, jf, tol, f"jacrev vs jacfwd (argument {L.nums[k]})", atol=1e-12)
    JU = sum(np.tensordot(jr, u, axes=np.ndim(u)) if np.ndim(u) else jr * u
             for jr, u in zip(Jr, L.u))
    _close(JU, Ju, tol, "jacobian @ u vs jvp", atol=1e-12)
    assert nd == np.ndim(Ju)


# -- random draws ------------------------------------------------------------------------

RANDOM = optable.random_cases()


@pytest.mark.parametrize("rc", RANDOM, ids=[r.id for r in RANDOM])
def test_random_draws_are_numpys(rc):
    from gradgraph.ops.random import get_state, set_state

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rng = rc.generator()
        F = gg.compile(lambda x: (x, rc.call(rng)))
        for _ in range(2):  # fresh draws on every call, each one NumPy's from that state
            state = get_state(rng)
            got = F(0.0)[1]
            set_state(rng, state)
            want = rc.call(rng)
            np.testing.assert_array_equal(got, want)
            assert np.asarray(got).dtype == np.asarray(want).dtype
        g = F.graph(0.0)
        assert any(g[n]["op"] == rc.op for n in g.order())
