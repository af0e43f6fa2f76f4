"""A ``gg.Function`` called from many threads at once: the trace stack is thread-local and
compiling is locked, so every thread gets its own, right numbers. About 2 s."""

from __future__ import annotations

import threading

import numpy as np

import gradgraph as gg

N_THREADS = 8


def _run_threads(work):
    """Start ``N_THREADS`` threads together (a barrier), join them, re-raise any error."""
    barrier = threading.Barrier(N_THREADS)
    errors: list = []

    def body(k):
        try:
            barrier.wait()
            work(k)
        except BaseException as e:  # noqa: BLE001 (reported below, with its thread)
            errors.append((k, e))

    threads = [threading.Thread(target=body, args=(k,)) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors


def loss(x, w):
    h = np.tanh(x @ w)
    if np.sum(h) > 0:  # a guard: the branch taken depends on the values
        return np.sum(h ** 2)
    return np.sum(np.sin(h))


def loss_grad_by_hand(x, w):
    h = np.tanh(x @ w)
    dh = 2 * h if np.sum(h) > 0 else np.cos(h)
    dz = dh * (1 - h ** 2)
    return x.T @ dz


def _inputs(k, r):
    n = k + 1  # a different signature per thread: shapes (n, 3) and (3, 2)
    x = r.uniform(-1, 1, size=(n, 3))
    w = r.uniform(-1, 1, size=(3, 2)) * (1 if k % 2 else -1)
    return x, w


def test_one_function_from_8_threads_with_different_signatures():
    dloss = gg.grad(loss, argnums=1)

    def work(k):
        r = np.random.default_rng(k)
        for _ in range(20):
            x, w = _inputs(k, r)
            np.testing.assert_allclose(dloss(x, w), loss_grad_by_hand(x, w), rtol=1e-12,
                                       atol=1e-14)

    _run_threads(work)
    assert len(dloss._variants) == N_THREADS  # one cache entry per signature


def test_the_same_signature_from_8_threads_compiles_once():
    calls = []

    def f(x):
        calls.append(threading.get_ident())
        return np.sum(np.exp(x) * x)

    df = gg.grad(f)
    x = np.linspace(-1, 1, 5)
    want = np.exp(x) * (x + 1)
    out = [None] * N_THREADS

    def work(k):
        out[k] = df(x)

    _run_threads(work)
    for o in out:
        np.testing.assert_allclose(o, want, rtol=1e-13)
    assert df.trace_count == 1 and len(calls) == 1


def test_nested_transforms_traced_in_parallel():
    """Hessians (forward over reverse, traced inside traces) in 8 threads at once."""
    def f(x):
        return np.sum(np.sin(x) * x[::-1])

    H = gg.hessian(f)

    def work(k):
        x = np.linspace(0.1, 1.0, k + 2)
        n = len(x)
        rev = np.eye(n)[::-1]
        # d2/dx2 of sum(sin(x) * Rx): -diag(sin x * Rx) + diag(cos x) R + R^T diag(cos x)
        want = -np.diag(np.sin(x) * x[::-1]) + np.diag(np.cos(x)) @ rev + rev.T @ np.diag(
            np.cos(x))
        for _ in range(5):
            np.testing.assert_allclose(H(x), want, rtol=1e-12, atol=1e-14)

    _run_threads(work)


def test_the_trace_stack_is_per_thread():
    """A thread tracing a slow function never sees another thread's open trace."""
    from gradgraph.trace.tracer import trace_stack

    seen = []
    inside = threading.Event()
    release = threading.Event()

    def slow(x):
        inside.set()
        release.wait(10)
        return x * 2.0

    t = threading.Thread(target=lambda: gg.compile(slow)(1.0))
    t.start()
    inside.wait(10)
    seen.append(len(trace_stack()))  # this thread: no open trace
    assert float(gg.compile(lambda x: x + 1.0)(1.0)) == 2.0  # and it compiles normally
    release.set()
    t.join(10)
    assert seen == [0]
