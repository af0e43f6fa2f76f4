"""Evaluation-speed workloads: each builds gradgraph's function, the hand-written NumPy an
expert would write, and every installed peer, checks that all give the same numbers, then
times them interleaved."""

from __future__ import annotations

import math
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

import gradgraph as gg

from . import peers
from .harness import Result, Row, clock, timed_peers


@dataclass
class Config:
    quick: bool = False
    repeats: int = 9
    target: float = 0.02  # seconds per timing sample
    peers: tuple = peers.PEERS

    def use(self, name):
        return name in self.peers and peers.get(name) is not None


def _absent(cfg, name):
    if name not in cfg.peers:
        return (None, "skipped (--peers)")
    return (None, peers.missing(name))


# -- MLP loss gradient ---------------------------------------------------------------------


def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    o = h @ w2 + b2
    return np.mean((o - y) ** 2)


def mlp_hand(params, x, y):
    """Backprop as written by hand (in place where an expert would)."""
    w1, b1, w2, b2 = params
    a = x @ w1
    a += b1
    h = np.tanh(a)
    o = h @ w2
    o += b2
    o -= y
    o *= 2.0 / o.size  # d loss / d o
    gw2 = h.T @ o
    gb2 = o.sum(axis=0)
    dh = o @ w2.T
    h *= h
    np.subtract(1.0, h, out=h)
    dh *= h
    gw1 = x.T @ dh
    gb1 = dh.sum(axis=0)
    return gw1, gb1, gw2, gb2


def mlp_data(batch, seed=0):
    rng = np.random.default_rng(seed)
    params = (rng.normal(size=(64, 256)) / 8, rng.normal(size=256) / 10,
              rng.normal(size=(256, 10)) / 16, rng.normal(size=10) / 10)
    return params, rng.normal(size=(batch, 64)), rng.normal(size=(batch, 10))


def mlp_peers(cfg, params, x, y) -> dict:
    fns = {}
    if cfg.use("jax"):
        import jax
        import jax.numpy as jnp

        def jloss(p, x, y):
            w1, b1, w2, b2 = p
            h = jnp.tanh(x @ w1 + b1)
            return jnp.mean((h @ w2 + b2 - y) ** 2)

        jg = jax.jit(jax.grad(jloss))
        jp, jx, jy = jax.device_put(params), jax.device_put(x), jax.device_put(y)
        fns["JAX (jit)"] = (lambda: jax.block_until_ready(jg(jp, jx, jy)), "")
    else:
        fns["JAX (jit)"] = _absent(cfg, "jax")
    if cfg.use("torch"):
        import torch

        tp = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def tgrad():
            w1, b1, w2, b2 = tp
            h = torch.tanh(tx @ w1 + b1)
            loss = torch.mean((h @ w2 + b2 - ty) ** 2)
            return torch.autograd.grad(loss, tp)

        fns["PyTorch (eager)"] = (tgrad, "")
    else:
        fns["PyTorch (eager)"] = _absent(cfg, "torch")
    if cfg.use("autograd"):
        import autograd
        import autograd.numpy as anp

        def aloss(p, x, y):
            w1, b1, w2, b2 = p
            h = anp.tanh(anp.dot(x, w1) + b1)
            return anp.mean((anp.dot(h, w2) + b2 - y) ** 2)

        ag = autograd.grad(aloss)
        fns["autograd"] = (lambda: ag(params, x, y), "")
    else:
        fns["autograd"] = _absent(cfg, "autograd")
    if cfg.use("pytensor"):
        import pytensor
        import pytensor.tensor as pt

        w1, w2, xs, ys = pt.dmatrix(), pt.dmatrix(), pt.dmatrix(), pt.dmatrix()
        b1, b2 = pt.dvector(), pt.dvector()
        h = pt.tanh(xs @ w1 + b1)
        loss = pt.mean((h @ w2 + b2 - ys) ** 2)
        f = pytensor.function([w1, b1, w2, b2, xs, ys], pytensor.grad(loss, [w1, b1, w2, b2]))
        fns["PyTensor"] = (lambda f=f: f(*params, x, y), "")
    else:
        fns["PyTensor"] = _absent(cfg, "pytensor")
    return fns


def mlp(cfg: Config) -> Result:
    r = Result("mlp", "MLP loss gradient: batch 256, 64 -> 256 -> 10, tanh, squared error, "
               "w.r.t. all weights and biases", "per call", "<= 1.0x hand-written backprop")
    params, x, y = mlp_data(32 if cfg.quick else 256)
    G = gg.grad(mlp_loss)
    want = mlp_hand(params, x, y)
    fns = {"hand-written NumPy": (lambda: mlp_hand(params, x, y), "backprop by hand"),
           "gradgraph": (lambda: G(params, x, y), "gg.grad")}
    fns.update(mlp_peers(cfg, params, x, y))
    timed_peers(r, want, fns, cfg.repeats, cfg.target)
    q = r.ratio("gradgraph")
    r.verdict = _verdict(q, 1.0)
    return r


def _verdict(q, limit, what="x hand-written"):
    if q is None:
        return "not measured"
    return (f"met: {q:.3f}{what} (target <= {limit}x)" if q <= limit else
            f"missed: {q:.3f}{what} (target <= {limit}x)")


# -- the notes' function: gradient per call ------------------------------------------------


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def notes_hand(x1, x2):
    return 1.0 / x1 + x2, x1 - math.cos(x2)


def notes_grad(cfg: Config) -> Result:
    r = Result("notes", "Gradient of ln(x1) + x1*x2 - sin(x2) at (2, 5)", "per call",
               "<= 3 us per call")
    df = gg.grad(notes, argnums=(0, 1))
    want = notes_hand(2.0, 5.0)
    fns = {"hand-written NumPy": (lambda: notes_hand(2.0, 5.0), "Python math, by hand"),
           "gradgraph": (lambda: df(2.0, 5.0), "gg.grad(f, argnums=(0, 1))")}
    if cfg.use("jax"):
        import jax
        import jax.numpy as jnp

        jg = jax.jit(jax.grad(lambda a, b: jnp.log(a) + a * b - jnp.sin(b), argnums=(0, 1)))
        fns["JAX (jit)"] = (lambda: jax.block_until_ready(jg(2.0, 5.0)), "")
    else:
        fns["JAX (jit)"] = _absent(cfg, "jax")
    if cfg.use("torch"):
        import torch

        def tg():
            a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
            b = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
            return torch.autograd.grad(torch.log(a) + a * b - torch.sin(b), (a, b))

        fns["PyTorch (eager)"] = (tg, "tensors made per call")
    else:
        fns["PyTorch (eager)"] = _absent(cfg, "torch")
    if cfg.use("autograd"):
        import autograd
        import autograd.numpy as anp

        ag = autograd.grad(lambda a, b: anp.log(a) + a * b - anp.sin(b), argnum=(0, 1))
        fns["autograd"] = (lambda: ag(2.0, 5.0), "")
    else:
        fns["autograd"] = _absent(cfg, "autograd")
    if cfg.use("pytensor"):
        import pytensor
        import pytensor.tensor as pt

        a, b = pt.dscalar(), pt.dscalar()
        f = pytensor.function([a, b], pytensor.grad(pt.log(a) + a * b - pt.sin(b), [a, b]))
        fns["PyTensor"] = (lambda f=f: f(2.0, 5.0), "")
    else:
        fns["PyTensor"] = _absent(cfg, "pytensor")
    if cfg.use("casadi"):
        import casadi as ca

        a = ca.SX.sym("a", 2)
        f = ca.Function("g", [a], [ca.gradient(ca.log(a[0]) + a[0] * a[1] - ca.sin(a[1]), a)])
        pt2 = np.array([2.0, 5.0])
        fns["CasADi"] = (lambda f=f: tuple(f(pt2).full().ravel()), "SX function")
    else:
        fns["CasADi"] = _absent(cfg, "casadi")
    timed_peers(r, want, fns, cfg.repeats, cfg.target)
    g = r.row("gradgraph")
    if g and g.seconds is not None:
        us = g.seconds * 1e6
        r.verdict = (f"met: {us:.2f} us per call" if us <= 3 else f"missed: {us:.2f} us") + \
            " (target <= 3 us)"
    return r


# -- Rosenbrock -----------------------------------------------------------------------------


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_grad_hand(x):
    xm, xp = x[:-1], x[1:]
    t = xp - xm * xm
    g = np.zeros_like(x)
    g[:-1] = -400.0 * xm * t - 2.0 * (1.0 - xm)
    g[1:] += 200.0 * t
    return g


def _rosen_diag(x):
    d = np.zeros_like(x)
    d[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    d[1:] += 200.0
    return d, -400.0 * x[:-1]


def rosen_hvp_hand(x, v):
    d, o = _rosen_diag(x)
    hv = d * v
    hv[:-1] += o * v[1:]
    hv[1:] += o * v[:-1]
    return hv


def rosen_hess_hand(x):
    d, o = _rosen_diag(x)
    return np.diag(d) + np.diag(o, 1) + np.diag(o, -1)


def _rosen_peer_fns(cfg, kind, x, v):
    fns = {}
    if cfg.use("jax"):
        import jax
        import jax.numpy as jnp

        def jr(x):
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        jx, jv = jax.device_put(x), jax.device_put(v)
        if kind == "grad":
            f = jax.jit(jax.grad(jr))
            fns["JAX (jit)"] = (lambda f=f: jax.block_until_ready(f(jx)), "")
        elif kind == "hvp":
            f = jax.jit(lambda x, v: jax.jvp(jax.grad(jr), (x,), (v,))[1])
            fns["JAX (jit)"] = (lambda f=f: jax.block_until_ready(f(jx, jv)),
                                "forward-over-reverse")
        else:
            f = jax.jit(jax.hessian(jr))
            fns["JAX (jit)"] = (lambda f=f: jax.block_until_ready(f(jx)), "jax.hessian")
    else:
        fns["JAX (jit)"] = _absent(cfg, "jax")
    if cfg.use("torch"):
        import torch
        from torch.func import grad as t_grad
        from torch.func import hessian as t_hessian
        from torch.func import jvp as t_jvp

        def tr(x):
            return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        tx, tv = torch.from_numpy(x), torch.from_numpy(v)
        if kind == "grad":
            def tg():
                xx = tx.clone().requires_grad_()
                return torch.autograd.grad(tr(xx), xx)[0]

            fns["PyTorch (eager)"] = (tg, "torch.autograd.grad")
        elif kind == "hvp":
            fns["PyTorch (eager)"] = (lambda: t_jvp(t_grad(tr), (tx,), (tv,))[1],
                                      "torch.func jvp of grad")
        else:
            fns["PyTorch (eager)"] = (lambda: t_hessian(tr)(tx), "torch.func.hessian")
    else:
        fns["PyTorch (eager)"] = _absent(cfg, "torch")
    if cfg.use("autograd"):
        import autograd
        import autograd.numpy as anp

        def ar(x):
            return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        if kind == "grad":
            f = autograd.grad(ar)
            fns["autograd"] = (lambda f=f: f(x), "")
        elif kind == "hvp":
            f = autograd.hessian_tensor_product(ar)
            fns["autograd"] = (lambda f=f: f(x, v), "hessian_tensor_product")
        else:
            f = autograd.hessian(ar)
            fns["autograd"] = (lambda f=f: f(x), "")
    else:
        fns["autograd"] = _absent(cfg, "autograd")
    if cfg.use("pytensor"):
        import pytensor
        import pytensor.tensor as pt
        from pytensor.gradient import hessian as pt_hessian
        from pytensor.gradient import hessian_vector_product

        xs, vs = pt.dvector(), pt.dvector()
        c = pt.sum(100.0 * (xs[1:] - xs[:-1] ** 2) ** 2 + (1.0 - xs[:-1]) ** 2)
        if kind == "grad":
            f = pytensor.function([xs], pytensor.grad(c, xs))
            fns["PyTensor"] = (lambda f=f: f(x), "")
        elif kind == "hvp":
            f = pytensor.function([xs, vs], hessian_vector_product(c, xs, vs))
            fns["PyTensor"] = (lambda f=f: f(x, v), "hessian_vector_product")
        else:
            f = pytensor.function([xs], pt_hessian(c, xs))
            fns["PyTensor"] = (lambda f=f: f(x), "gradient.hessian")
    else:
        fns["PyTensor"] = _absent(cfg, "pytensor")
    if cfg.use("casadi"):
        import casadi as ca

        xs, vs = ca.SX.sym("x", x.size), ca.SX.sym("v", x.size)
        c = ca.sum1(100.0 * (xs[1:] - xs[:-1] ** 2) ** 2 + (1.0 - xs[:-1]) ** 2)
        gr = ca.gradient(c, xs)
        if kind == "grad":
            f = ca.Function("g", [xs], [gr])
            fns["CasADi"] = (lambda f=f: f(x), "SX")
        elif kind == "hvp":
            f = ca.Function("hv", [xs, vs], [ca.jtimes(gr, xs, vs)])
            fns["CasADi"] = (lambda f=f: f(x, v), "SX jtimes of the gradient")
        else:
            f = ca.Function("h", [xs], [ca.hessian(c, xs)[0]])
            fns["CasADi"] = (lambda f=f: f(x), "SX hessian")
    else:
        fns["CasADi"] = _absent(cfg, "casadi")
    return fns


def rosenbrock(cfg: Config) -> list:
    out = []
    rng = np.random.default_rng(3)
    for kind, n, limit in (("grad", 1000, 1.2), ("hvp", 1000, 1.3), ("hessian", 100, 2.0)):
        n = min(n, 50) if cfg.quick else n
        x, v = rng.uniform(-1.5, 1.5, n), rng.normal(size=n)
        title = {"grad": f"Rosenbrock gradient, n = {n}",
                 "hvp": f"Rosenbrock Hessian-vector product, n = {n}",
                 "hessian": f"Rosenbrock dense Hessian, n = {n}"}[kind]
        r = Result(f"rosen-{kind}", title, "per call", f"<= {limit}x hand-written")
        if kind == "grad":
            G = gg.grad(rosen)
            want = rosen_grad_hand(x)
            fns = {"hand-written NumPy": (lambda: rosen_grad_hand(x), "closed form"),
                   "gradgraph": (lambda: G(x), "gg.grad")}
        elif kind == "hvp":
            H = gg.hvp(rosen)
            want = rosen_hvp_hand(x, v)
            fns = {"hand-written NumPy": (lambda: rosen_hvp_hand(x, v), "tridiagonal, by hand"),
                   "gradgraph": (lambda: H(x, v), "gg.hvp (forward-over-reverse)")}
        else:
            H = gg.hessian(rosen)
            want = rosen_hess_hand(x)
            fns = {"hand-written NumPy": (lambda: rosen_hess_hand(x), "np.diag, by hand"),
                   "gradgraph": (lambda: H(x), "gg.hessian (jacfwd of grad)")}
        fns.update(_rosen_peer_fns(cfg, kind, x, v))
        timed_peers(r, want, fns, cfg.repeats, cfg.target)
        r.verdict = _verdict(r.ratio("gradgraph"), limit)
        out.append(r)
    out.append(hvp_ratio(cfg))
    return out


def hvp_ratio(cfg: Config) -> Result:
    """Issue 5: the cost of gg.hvp relative to gg.grad (forward-over-reverse never forms H)."""
    r = Result("hvp-ratio", "Rosenbrock: Hessian-vector product time / gradient time",
               "per call", "a small constant (forward-over-reverse)")
    rng = np.random.default_rng(4)
    lines = ["| n | gg.grad | gg.hvp | hvp / grad | hand grad | hand hvp | hand hvp / grad |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for n in ((50, 200) if cfg.quick else (1000, 10_000)):
        x, v = rng.uniform(-1.5, 1.5, n), rng.normal(size=n)
        G, H = gg.grad(rosen), gg.hvp(rosen)
        assert np.allclose(H(x, v), rosen_hvp_hand(x, v)) and np.allclose(G(x), rosen_grad_hand(x))
        from .harness import interleaved

        t = interleaved({"g": lambda: G(x), "h": lambda: H(x, v), "hg": lambda: rosen_grad_hand(x),
                         "hh": lambda: rosen_hvp_hand(x, v)}, cfg.repeats, cfg.target)
        lines.append(f"| {n} | {t['g'] * 1e6:.1f} us | {t['h'] * 1e6:.1f} us | "
                     f"{t['h'] / t['g']:.2f} | {t['hg'] * 1e6:.1f} us | {t['hh'] * 1e6:.1f} us | "
                     f"{t['hh'] / t['hg']:.2f} |")
        r.rows.append(Row(f"n = {n}", t["h"], f"hvp/grad = {t['h'] / t['g']:.2f}"))
    r.text = "\n".join(lines)
    r.verdict = "measured: " + ", ".join(f"{row.tool}: {row.note}" for row in r.rows)
    return r


# -- the 8th derivative of tanh ---------------------------------------------------------------


def tanh8_coefficients():
    """Coefficients of d^8/dx^8 tanh(x) as a polynomial in t = tanh(x) (from SymPy, once)."""
    import sympy as sp

    x, t = sp.symbols("x t")
    d = sp.diff(sp.tanh(x), x, 8)
    p = sp.Poly(sp.expand(d.rewrite(sp.tanh).subs(sp.tanh(x), t)), t)
    return [float(c) for c in p.all_coeffs()]  # highest power first


def tanh8_hand_factory():
    c = tanh8_coefficients()  # degree 9, odd: t * q(t*t)
    q = [float(a) for a in c[::2]]  # coefficients of t^9, t^7, ... t^1 -> q in s = t*t

    def hand(x):
        t = np.tanh(x)
        s = t * t
        p = q[0] * s
        for a in q[1:-1]:
            p += a
            p *= s
        p += q[-1]
        p *= t
        return p

    return hand


def tanh8(cfg: Config) -> Result:
    r = Result("tanh8", "8th derivative of tanh, elementwise on 10,000 points", "per call",
               "<= 2x a hand-written polynomial in tanh")
    x = np.linspace(-2, 2, 100 if cfg.quick else 10_000)
    hand = tanh8_hand_factory()
    want = hand(x)
    d8 = gg.derivative(np.tanh, order=8)
    with gg.config.options(simplify="algebra"):
        d8a = gg.derivative(np.tanh, order=8)
        d8a(x)
    nodes_exact, nodes_alg = len(d8.graph(x)), len(d8a.graph(x))
    fns = {"hand-written NumPy": (lambda: hand(x), "Horner in tanh(x)**2"),
           "gradgraph": (lambda: d8(x), f"gg.derivative(np.tanh, 8), {nodes_exact} nodes"),
           "gradgraph (algebra)": (lambda: d8a(x), f"gg.config.simplify = 'algebra', "
                                                   f"{nodes_alg} nodes")}
    if cfg.use("jax"):
        import jax
        import jax.numpy as jnp

        f = jnp.tanh
        for _ in range(8):
            f = jax.grad(f)
        jf = jax.jit(jax.vmap(f))
        jx = jax.device_put(x)
        fns["JAX (jit)"] = (lambda: jax.block_until_ready(jf(jx)), "vmap of grad^8, jit")
    else:
        fns["JAX (jit)"] = _absent(cfg, "jax")
    if cfg.use("torch"):
        import torch

        tx = torch.from_numpy(x)

        def td():
            xx = tx.clone().requires_grad_()
            y = torch.tanh(xx)
            for k in range(8):
                (y,) = torch.autograd.grad(y.sum(), xx, create_graph=k < 7)
            return y

        fns["PyTorch (eager)"] = (td, "autograd.grad x8, create_graph")
    else:
        fns["PyTorch (eager)"] = _absent(cfg, "torch")
    if cfg.use("autograd"):
        import autograd
        import autograd.numpy as anp

        f = anp.tanh
        for _ in range(8):
            f = autograd.elementwise_grad(f)
        fns["autograd"] = (lambda f=f: f(x), "elementwise_grad x8")
    else:
        fns["autograd"] = _absent(cfg, "autograd")
    if cfg.use("pytensor"):
        import pytensor
        import pytensor.tensor as pt

        xs = pt.dvector()
        y = pt.tanh(xs)
        t0 = clock()
        for _ in range(8):
            y = pytensor.grad(y.sum(), xs)
        f = pytensor.function([xs], y)
        build = clock() - t0
        fns["PyTensor"] = (lambda f=f: f(x), f"grad x8; build + compile {build:.1f} s")
    else:
        fns["PyTensor"] = _absent(cfg, "pytensor")
    if cfg.use("casadi"):
        import casadi as ca

        s = ca.SX.sym("s")
        y = ca.tanh(s)
        for _ in range(8):
            y = ca.jacobian(y, s)
        f = ca.Function("d8", [s], [y]).map(x.size)
        fns["CasADi"] = (lambda f=f: f(x.reshape(1, -1)), "SX jacobian x8, map")
    else:
        fns["CasADi"] = _absent(cfg, "casadi")
    timed_peers(r, want, fns, cfg.repeats, cfg.target, rtol=1e-9, atol=1e-12)
    q, qa = r.ratio("gradgraph"), r.ratio("gradgraph (algebra)")
    r.verdict = (_verdict(q, 2.0) + " with the exact default; "
                 + _verdict(qa, 2.0) + " with the opt-in algebraic pass")
    return r


# -- second derivative of an 80-step chain ------------------------------------------------------


def chain80(x):
    for _ in range(80):
        x = np.sin(x) * x + 0.1
    return x


def chain80_hand(x):
    """Second-order forward mode written out by hand: (v, v', v'') through each step."""
    v, d1, d2 = x, np.ones_like(x), np.zeros_like(x)
    for _ in range(80):
        s, c = np.sin(v), np.cos(v)
        g1 = c * v + s  # d/dv (sin v * v)
        g2 = 2.0 * c - s * v  # d2/dv2
        d2 = g2 * d1 * d1 + g1 * d2
        d1 = g1 * d1
        v = s * v + 0.1
    return d2


def chain2(cfg: Config) -> Result:
    r = Result("chain80", "Second derivative of 80 steps of x <- sin(x)*x + 0.1, on 1,000 points",
               "per call", "faster than PyTensor", baseline="hand-written NumPy")
    x = np.linspace(0.1, 0.9, 50 if cfg.quick else 1000)
    want = chain80_hand(x)
    t0 = clock()
    d2 = gg.derivative(chain80, order=2)
    d2(x)
    build = clock() - t0
    fns = {"hand-written NumPy": (lambda: chain80_hand(x), "second-order forward mode by hand"),
           "gradgraph": (lambda: d2(x), f"gg.derivative(f, 2), {len(d2.graph(x))} nodes, "
                                        f"compiled in {build:.2f} s")}
    if cfg.use("pytensor"):
        import pytensor
        import pytensor.tensor as pt

        xs = pt.dvector()
        y = xs
        for _ in range(80):
            y = pt.sin(y) * y + 0.1
        t0 = clock()
        g1 = pytensor.grad(y.sum(), xs)
        f = pytensor.function([xs], pytensor.grad(g1.sum(), xs))
        fns["PyTensor"] = (lambda f=f: f(x), f"grad of grad, built in {clock() - t0:.1f} s")
    else:
        fns["PyTensor"] = _absent(cfg, "pytensor")
    if cfg.use("jax"):
        import jax
        import jax.numpy as jnp

        def jc(x):
            for _ in range(80):
                x = jnp.sin(x) * x + 0.1
            return x

        jf = jax.jit(jax.vmap(jax.grad(jax.grad(jc))))
        jx = jax.device_put(x)
        fns["JAX (jit)"] = (lambda: jax.block_until_ready(jf(jx)), "vmap of grad of grad")
    else:
        fns["JAX (jit)"] = _absent(cfg, "jax")
    if cfg.use("torch"):
        import torch

        tx = torch.from_numpy(x)

        def tc():
            xx = tx.clone().requires_grad_()
            y = xx
            for _ in range(80):
                y = torch.sin(y) * y + 0.1
            (g,) = torch.autograd.grad(y.sum(), xx, create_graph=True)
            (h,) = torch.autograd.grad(g.sum(), xx)
            return h

        fns["PyTorch (eager)"] = (tc, "")
    else:
        fns["PyTorch (eager)"] = _absent(cfg, "torch")
    if cfg.use("autograd"):
        import autograd
        import autograd.numpy as anp

        def ac(x):
            for _ in range(80):
                x = anp.sin(x) * x + 0.1
            return x

        f2 = autograd.elementwise_grad(autograd.elementwise_grad(ac))
        fns["autograd"] = (lambda: f2(x), "")
    else:
        fns["autograd"] = _absent(cfg, "autograd")
    timed_peers(r, want, fns, cfg.repeats, cfg.target, rtol=1e-8)
    q = r.ratio("gradgraph", "PyTensor")
    r.verdict = ("not measured (PyTensor missing)" if q is None else
                 (f"met: {q:.2f}x PyTensor's time" if q < 1 else f"missed: {q:.2f}x PyTensor's time"))
    return r


# -- peak memory ------------------------------------------------------------------------------


def _peak(fn):
    fn()
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return peak


def memory(cfg: Config) -> Result:
    from gradgraph.codegen.memory import peak_bytes

    batch = 2000 if cfg.quick else 100_000
    r = Result("memory", f"Peak memory of the MLP gradient, batch {batch:,} (tracemalloc)",
               "bytes", "<= 1.1x hand-written")
    params, x, y = mlp_data(batch, seed=5)
    G = gg.grad(mlp_loss)
    assert all(np.allclose(a, b) for a, b in zip(G(params, x, y), mlp_hand(params, x, y)))
    ph, pg = _peak(lambda: mlp_hand(params, x, y)), _peak(lambda: G(params, x, y))
    est = peak_bytes(G.graph(params, x, y))
    r.rows = [Row("hand-written NumPy", ph, "measured"), Row("gradgraph", pg, "measured"),
              Row("gradgraph estimate", est["peak"], "codegen.memory.peak_bytes (intermediates "
                                                        "and outputs, inputs excluded)")]
    r.verdict = _verdict(pg / ph, 1.1)
    r.text = ("Peers allocate outside Python's allocator (XLA, libtorch), where tracemalloc "
              "cannot see, so only NumPy code is compared.")
    return r
