"""``gg.verify``: gradgraph's generated derivative code against SymPy's exact derivative and
against central finite differences, with a report that says which check disagreed.

Sits above ``api.py`` (it calls the transforms; they never import it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .errors import GradgraphTypeError, GradgraphValueError
from .symbolic import _map, _opaque_steps, to_output, translate
from .trace import trace as _trace
from .trace.pytree import flatten, unflatten

# Size limits of gg.verify (SymPy's cost grows fast with the size of the expression).
MAX_ELEMENTS = 100  # scalar elements of the arguments differentiated
MAX_OPS = 20_000  # element-level operations of the traced graph (sum of node sizes)
MAX_ENTRIES = 20_000  # entries of the derivative tensor (out.size * elements ** order)

_TOL = {  # (rtol, atol) against SymPy, by the lowest precision involved
    "float64": (1e-7, 1e-9),
    "float32": (1e-4, 1e-5),
}
# finite differences run in float64 (float32 arguments are upcast); a float32 node in the
# graph (an explicit cast) makes them take the float32 step and tolerances
_FD_TOL = {"float64": (1e-5, 1e-6), "float32": (1e-3, 1e-3)}
_FD_STEP = {k: np.finfo(k).eps ** (1 / 3) for k in _FD_TOL}  # central: h ~ eps^(1/3)


@dataclass
class Check:
    """One comparison of the generated derivative with a reference."""

    name: str
    ok: bool
    max_abs_error: float
    max_rel_error: float
    rtol: float
    atol: float
    worst: str = ""
    skipped: str = ""  # why the check could not be made (then ok is True)


class VerifyReport:
    """What :func:`verify` found. True when both checks agree within tolerance.

    ``expected`` (SymPy) and ``actual`` (generated code) have the structure of the
    transform's output; ``finite_differences`` likewise; ``failed`` names the checks that
    disagreed (``"sympy"``, ``"finite differences"``).
    """

    def __init__(self, *, what, expected, actual, finite_differences, sympy_expr, checks):
        self.what = what
        self.expected = expected
        self.actual = actual
        self.finite_differences = finite_differences
        self.sympy_expr = sympy_expr
        self.checks = {c.name: c for c in checks}
        sym = self.checks["sympy"]
        self.max_abs_error = sym.max_abs_error
        self.max_rel_error = sym.max_rel_error
        fd = self.checks["finite differences"]
        self.fd_max_abs_error = fd.max_abs_error
        self.fd_max_rel_error = fd.max_rel_error
        self.failed = tuple(c.name for c in checks if not c.ok)
        self.ok = not self.failed

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        state = "passed" if self.ok else "FAILED (" + ", ".join(self.failed) + " disagreed)"
        fd = self.checks["finite differences"]
        fd_text = "skipped" if fd.skipped else f"{fd.max_abs_error:.3g}"
        return (f"<gg.verify {self.what}: {state}; SymPy max abs error "
                f"{self.max_abs_error:.3g}, finite differences {fd_text}>")

    def __str__(self) -> str:
        lines = [f"gg.verify {self.what}: " + ("passed" if self.ok else "FAILED")]
        for c in self.checks.values():
            if c.skipped:
                lines.append(f"  {c.name:<19} skipped: {c.skipped}")
                continue
            lines.append(f"  {c.name:<19} {'ok' if c.ok else 'DISAGREES':<9} max abs error "
                         f"{c.max_abs_error:.3g}, max rel error {c.max_rel_error:.3g} "
                         f"(rtol {c.rtol:g}, atol {c.atol:g})")
            if not c.ok and c.worst:
                lines.append(f"    worst entry: {c.worst}")
        if self.failed == ("sympy",):
            lines.append("  finite differences agree with the generated code: suspect the op's "
                         "SymPy translation, or a point where SymPy's convention differs "
                         "(ties of max/min, abs at 0)")
        elif self.failed == ("finite differences",):
            lines.append("  SymPy agrees with the generated code: the point may be near a kink "
                         "or a branch of the Python control flow, or badly scaled for "
                         "differences")
        elif self.failed:
            lines.append("  both references disagree with the generated code: suspect the "
                         "derivative rule of an op in this function")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(str(self)) + "</pre>"


def _precision(dtypes) -> str:
    return "float32" if any(np.dtype(d).itemsize < 8 for d in dtypes) else "float64"


def _exact(v) -> sp.Float:
    return sp.Float(float(v), _DIGITS)


_DIGITS = 30  # SymPy evaluates derivatives to this many digits


def _sym_value(v) -> float:
    """A SymPy number as a float: NaN where it is not real (NumPy's real arithmetic)."""
    if v is sp.nan or v is sp.zoo:
        return math.nan
    if v == sp.oo:
        return math.inf
    if v == -sp.oo:
        return -math.inf
    try:
        c = complex(sp.N(v, _DIGITS))
    except TypeError:
        raise GradgraphValueError(f"SymPy could not evaluate {v} to a number") from None
    if abs(c.imag) > 1e-12 * max(1.0, abs(c.real)):
        return math.nan
    return c.real


class _Diff:
    """SymPy derivatives of an object array along a sequence of symbol arrays, memoised."""

    def __init__(self):
        self.cache: dict = {}

    def __call__(self, e, s):
        key = (e, s)
        r = self.cache.get(key)
        if r is None:
            r = self.cache[key] = sp.diff(e, s)
        return r

    def tensor(self, out: np.ndarray, seq) -> np.ndarray:
        cur = out
        for syms in seq:
            nxt = np.empty(cur.shape + syms.shape, dtype=object)
            for i in np.ndindex(cur.shape):
                for j in np.ndindex(syms.shape):
                    nxt[i + j] = self(cur[i], syms[j])
            cur = nxt
        return cur


def _evaluate(a: np.ndarray, point: dict) -> np.ndarray:
    out = np.empty(a.shape, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        out[idx] = _sym_value(sp.sympify(a[idx]).xreplace(point))
    return out


def _compare(name, actual, ref, rtol, atol) -> Check:
    """Entry ``i`` agrees when ``|a - r| <= atol * max(1, max|r|) + rtol * |r|``; NaN agrees
    with NaN only. The relative error is taken over the entries where ``r != 0``."""
    al = [np.asarray(x, np.float64) for x in flatten(actual, "output")[0]]
    rl = [np.asarray(x, np.float64) for x in flatten(ref, "output")[0]]
    a = np.concatenate([x.ravel() for x in al]) if al else np.zeros(0)
    r = np.concatenate([x.ravel() for x in rl]) if rl else np.zeros(0)
    if a.shape != r.shape:
        return Check(name, False, math.inf, math.inf, rtol, atol,
                     f"{a.size} entries from the generated code, {r.size} from {name}")
    finite = np.abs(r[np.isfinite(r)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    with np.errstate(invalid="ignore"):
        err = np.abs(a - r)
        both_nan = np.isnan(a) & np.isnan(r)
        same_inf = np.isinf(a) & (a == r)
        err = np.where(both_nan | same_inf, 0.0, err)
        err = np.where(np.isnan(err), math.inf, err)
        bad = err > atol * scale + rtol * np.abs(r)
        nz = (r != 0) & np.isfinite(r)
        rel = err[nz] / np.abs(r[nz])
    worst = ""
    if a.size and bad.any():
        k = int(np.argmax(np.where(bad, err, -1.0)))
        worst = f"flat index {k}: {name} {r[k]!r}, generated code {a[k]!r}"
    return Check(name, not bad.any(), float(err.max()) if a.size else 0.0,
                 float(rel.max()) if rel.size else 0.0, rtol, atol, worst)


def _gg_derivative(f, seq, scalar):
    """The transform computing the derivative along the argnums sequence ``seq``."""
    from . import api

    if len(seq) == 1:
        return api.grad(f, seq[0]) if scalar else api.jacrev(f, seq[0])
    if len(seq) == 2 and seq[0] == seq[1] and scalar:
        return api.hessian(f, seq[0])
    return api.jacfwd(_gg_derivative(f, seq[:-1], scalar), seq[-1])


def _fd(fun, args, leaf_pos: list[int], arg_tree, step: float):
    """Central differences of ``fun`` along every element of the leaves at ``leaf_pos``
    (positions among the flattened ``args``); one array ``out.shape + leaf.shape`` each,
    in float64."""
    leaves, tree = flatten(tuple(args))
    leaves = [np.asarray(x, np.float64) if i in leaf_pos else x for i, x in enumerate(leaves)]
    results = []
    for p in leaf_pos:
        x0 = leaves[p]
        cols = []
        for idx in np.ndindex(x0.shape):
            h = step * max(1.0, abs(float(x0[idx])))
            vals = []
            for sgn in (1.0, -1.0):
                x = x0.copy()
                x[idx] += sgn * h
                trial = list(leaves)
                trial[p] = x
                vals.append(np.asarray(fun(*unflatten(tree, trial)), np.float64))
            cols.append((vals[0] - vals[1]) / (2 * h))
        oshape = np.shape(cols[0]) if cols else ()
        arr = np.stack(cols, axis=-1) if cols else np.zeros(oshape + (0,))
        results.append(arr.reshape(oshape + x0.shape))
    return unflatten(arg_tree, results)


def verify(f, *args, argnums=0, order: int = 1, rtol: float | None = None,
           atol: float | None = None, max_elements: int = MAX_ELEMENTS,
           max_ops: int = MAX_OPS, max_entries: int = MAX_ENTRIES) -> VerifyReport:
    """Check gradgraph's generated derivative of ``f`` at ``args`` against SymPy's exact
    derivative and against central finite differences.

    ``order=1`` checks the gradient (``gg.grad``, scalar ``f``) or Jacobian (``gg.jacrev``,
    shape ``out.shape + in.shape``); ``order=2`` the Hessian (``gg.hessian``; for a tuple
    ``argnums`` the blocks ``H[i][j]`` from ``gg.jacfwd(gg.grad(f, i), j)``); higher orders
    apply ``gg.jacfwd`` again. Finite differences are taken of ``f`` (order 1) or of the
    order ``k - 1`` generated derivative (order ``k``), in float64, step
    ``eps**(1/3) * max(1, |x|)``; they are skipped for functions using ``gg.stop_gradient``
    (plain NumPy cannot see it).

    An entry agrees when ``|actual - expected| <= atol * max(1, max|expected|) +
    rtol * |expected|``: against SymPy ``rtol=1e-7, atol=1e-9``, against finite differences
    ``1e-5, 1e-6``; with a float32 node anywhere in the graph ``1e-4, 1e-5`` and ``1e-3,
    1e-3`` (and the float32 step). ``rtol``/``atol`` override the SymPy ones. Arguments above
    ``max_elements`` differentiated elements, graphs above ``max_ops`` element operations
    or derivatives above ``max_entries`` entries are refused with a ``ValueError``.

    >>> import numpy as np, gradgraph as gg
    >>> r = gg.verify(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0,
    ...               argnums=(0, 1))
    >>> bool(r), [round(float(v), 3) for v in r.expected]
    (True, [5.5, 1.716])
    """
    from .api import _single_array_output, _wrt

    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
        raise GradgraphValueError(f"gg.verify: order must be an int >= 1, got {order!r}")
    order = int(order)
    g = _trace(f, *args)
    nums, per_arg = _wrt(g, argnums, "gg.verify")
    tuple_argnums = not isinstance(argnums, (int, np.integer))
    y = _single_array_output(g, "gg.verify")
    yd = g[y]
    if yd["dtype"].kind != "f":
        raise GradgraphTypeError(f"gg.verify needs a real floating output, got {yd['dtype']}",
                                 loc=yd.get("loc"))
    if order >= 2:
        for i, ns in zip(nums, per_arg):
            if g.in_tree[1][i] != "*":
                raise GradgraphValueError(
                    f"gg.verify(order={order}) needs argument {g.arg_names[i]!r} to be one "
                    "array (Hessians of pytree arguments are not formed); pass its leaves as "
                    "separate arguments")
        if tuple_argnums and order > 2:
            raise GradgraphValueError("gg.verify with a tuple argnums supports order 1 and 2; "
                                      "verify higher orders one argument at a time")
    # -- the size limits, before SymPy sees anything
    n_in = sum(int(np.prod(g[n]["shape"], dtype=np.int64)) for ns in per_arg for n in ns)
    if n_in > max_elements:
        raise GradgraphValueError(
            f"gg.verify: the arguments differentiated have {n_in} elements, above the limit "
            f"of {max_elements} (max_elements); SymPy would take too long. Verify a smaller "
            "instance of the same function (e.g. n = 5), or pass max_elements=")
    n_ops = sum(int(np.prod(g[n]["shape"], dtype=np.int64)) for n in g.live()
                if g[n]["op"] not in ("input", "const"))
    if n_ops > max_ops:
        raise GradgraphValueError(
            f"gg.verify: the traced graph has {n_ops} element operations, above the limit of "
            f"{max_ops} (max_ops); SymPy would take too long. Verify a smaller instance, or "
            "pass max_ops=")
    n_out = int(np.prod(yd["shape"], dtype=np.int64))
    n_entries = n_out * n_in ** order
    if n_entries > max_entries:
        raise GradgraphValueError(
            f"gg.verify: the order-{order} derivative has {n_entries} entries, above the "
            f"limit of {max_entries} (max_entries). Verify a smaller instance, or pass "
            "max_entries=")
    leaves, _ = flatten(tuple(args))
    tr = translate(g, leaves, opaque=True)
    out = _map(lambda e: _opaque_steps(sp.sympify(e), tr.opaque), tr.env[y])
    # the point: exact values of every symbol, then of every opaque node in creation order
    inputs = [n for n in g.inputs if not g[n].get("capture")]
    point: dict = {}
    for n, leaf in zip(inputs, leaves):
        if n in tr.symbols:
            vals = np.asarray(leaf)
            for idx in np.ndindex(vals.shape):
                v = vals[idx]
                # the argument's exact binary value, as a 30-digit Float: exact Rationals
                # make SymPy factor huge integers in powers like (p/2**52)**(p/2**52)
                point[tr.symbols[n][idx]] = (_exact(v) if np.isrealobj(vals) else
                                             _exact(v.real) + sp.I * _exact(v.imag))
    resolved = {}
    for dmy, expr in tr.opaque:
        e = sp.sympify(expr).xreplace(resolved)
        resolved[dmy] = e
        point[dmy] = _exact(_sym_value(e.xreplace(point)))
    sympy_expr = to_output(_map(lambda e: sp.sympify(e).xreplace(resolved), out))
    scalar = yd["shape"] == ()
    D = _Diff()
    syms = {i: [tr.symbols[n] for n in ns] for i, ns in zip(nums, per_arg)}
    trees = {i: g.in_tree[1][i] for i in nums}

    def expected_for(seq):
        if len(seq) == 1:  # one array per leaf, in the argument's structure
            return unflatten(trees[seq[0]], [_evaluate(D.tensor(out, [s]), point)
                                             for s in syms[seq[0]]])
        return _evaluate(D.tensor(out, [syms[i][0] for i in seq]), point)

    prec = _precision(g[n]["dtype"] for n in g.live() if g[n]["dtype"].kind == "f")
    # plain NumPy runs stop_gradient as the identity: differences of f cannot see it
    fd_skip = ("the function uses gg.stop_gradient, which finite differences of the NumPy "
               "function cannot see" if any(g[n]["op"] == "stop_gradient" for n in g.live())
               else "")

    def fd_for(seq):
        lower = f if len(seq) == 1 else _gg_derivative(f, seq[:-1], scalar)
        pos = [inputs.index(n) for n in per_arg[nums.index(seq[-1])]]
        return _fd(lower, args, pos, trees[seq[-1]], _FD_STEP[prec])

    if order == 1 and tuple_argnums:
        seqs = [(i,) for i in nums]
        # one gg.grad / gg.jacrev with the tuple argnums, as a user would call it
        actual = _gg_derivative(f, (tuple(nums),), scalar)(*args)
        expected = tuple(expected_for(s) for s in seqs)
        fd = None if fd_skip else tuple(fd_for(s) for s in seqs)
    elif order == 2 and tuple_argnums:
        actual = tuple(tuple(_gg_derivative(f, (i, j), scalar)(*args) for j in nums)
                       for i in nums)
        expected = tuple(tuple(expected_for((i, j)) for j in nums) for i in nums)
        fd = None if fd_skip else tuple(tuple(fd_for((i, j)) for j in nums) for i in nums)
    else:
        seq = (nums[0],) * order
        actual = _gg_derivative(f, seq, scalar)(*args)
        expected, fd = expected_for(seq), None if fd_skip else fd_for(seq)
    r0, a0 = _TOL[prec]
    checks = [_compare("sympy", actual, expected, r0 if rtol is None else rtol,
                       a0 if atol is None else atol)]
    if fd is None:
        checks.append(Check("finite differences", True, math.nan, math.nan, *_FD_TOL[prec],
                            skipped=fd_skip))
    else:
        checks.append(_compare("finite differences", actual, fd, *_FD_TOL[prec]))
    name = getattr(f, "__name__", "f")
    names = ", ".join(g.arg_names[i] for i in nums)
    what = f"of {'f' if name == '<lambda>' else name} (order {order} w.r.t. {names})"
    return VerifyReport(what=what, expected=expected, actual=actual, finite_differences=fd,
                        sympy_expr=sympy_expr, checks=checks)


__all__ = ["verify", "VerifyReport", "Check"]
