"""Scale: long graphs without recursion, memory linear in the graph, 10**7-element arrays.

The default run differentiates a 40,000-node trace (a 100,000-node gradient graph) with
Python's recursion limit lowered, about 5 s. The measurements (peak memory at 10k/50k/100k
nodes through ``gg.grad`` and ``gg.hvp``, a gradient over 10**7 elements) are
``@pytest.mark.slow``: ``python -m pytest -m slow tests/test_scale.py -s`` prints the table
recorded in docs/reliability.md.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import gradgraph as gg

def slow(test):
    """A measurement: runs only when selected with ``-m slow``."""
    skip = pytest.mark.skipif("'slow' not in config.getoption('markexpr')",
                              reason="a measurement: run with -m slow")
    return pytest.mark.slow(skip(test))


def chain(steps: int):
    """``sum(x_n)`` with ``x_{k+1} = sin(x_k) * 0.5``: two traced nodes per step."""
    def f(x):
        for _ in range(steps):
            x = np.sin(x) * 0.5
        return np.sum(x)

    return f


def chain_grad(steps: int, x):
    """The same derivative by the chain rule in plain NumPy: prod_k 0.5 cos(x_k)."""
    d = np.ones_like(x)
    for _ in range(steps):
        d = d * 0.5 * np.cos(x)
        x = np.sin(x) * 0.5
    return d


def chain_hvp(steps: int, x, v):
    """Second derivative of the elementwise chain (forward recurrence), times ``v``."""
    d, dd = np.ones_like(x), np.zeros_like(x)
    for _ in range(steps):
        c, s = 0.5 * np.cos(x), -0.5 * np.sin(x)
        d, dd = c * d, c * dd + s * d * d
        x = np.sin(x) * 0.5
    return dd * v


class lower_recursion_limit:
    """Python's recursion limit set just above the current depth: any recursion over the
    graph fails loudly."""

    def __init__(self, headroom: int = 250):
        self.headroom = headroom

    def __enter__(self):
        self.old = sys.getrecursionlimit()
        depth = len(_stack())
        sys.setrecursionlimit(depth + self.headroom)

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.old)


def _stack():
    import inspect

    return inspect.stack(0)


X = np.linspace(0.1, 0.9, 4)


def test_a_100k_node_gradient_graph_without_recursion():
    steps = 20_000  # 40,003 traced nodes; the gradient graph has about 100,000
    f = chain(steps)
    df = gg.grad(f)
    t = time.perf_counter()
    with lower_recursion_limit():
        g = df(X)
        n = len(df.graph(X))
    assert n >= 99_000, n
    np.testing.assert_allclose(g, chain_grad(steps, X), rtol=1e-10, atol=1e-300)
    assert time.perf_counter() - t < 120


_MEASURE = """
import resource, sys, time, tracemalloc
import numpy as np, gradgraph as gg
sys.path.insert(0, {tests!r})
from test_scale import chain, chain_grad, chain_hvp, X
transform, nodes, use_tracemalloc = {transform!r}, {nodes}, {tm}
steps = nodes // 2
f, v = chain(steps), np.array([1.0, -0.5, 0.25, 2.0])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if use_tracemalloc:
    tracemalloc.start()
t = time.perf_counter()
out = gg.grad(f)(X) if transform == "grad" else gg.hvp(f)(X, v)
seconds = time.perf_counter() - t
traced = tracemalloc.get_traced_memory()[1] if use_tracemalloc else 0
want = chain_grad(steps, X) if transform == "grad" else chain_hvp(steps, X, v)
assert np.allclose(out, want, rtol=1e-9, atol=1e-300), (out, want)
rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
print(rss, traced, seconds)
"""


def measure(transform: str, nodes: int, use_tracemalloc: bool = False):
    """``(peak RSS growth, tracemalloc peak or 0, seconds)`` of building and running one
    transform of the chain in a fresh process (peak RSS cannot be reset in-process)."""
    import os
    import subprocess

    code = _MEASURE.format(tests=os.path.dirname(os.path.abspath(__file__)),
                           transform=transform, nodes=nodes, tm=use_tracemalloc)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=3000)
    assert out.returncode == 0, out.stderr[-3000:]
    rss, traced, seconds = out.stdout.split()
    return int(rss), int(traced), float(seconds)


@slow
@pytest.mark.parametrize("transform", ["grad", "hvp"])
def test_memory_is_linear_in_the_graph(transform):
    """Peak memory of tracing, expanding, compiling and running each transform at 10k, 50k
    and 100k traced nodes, per node. Peak RSS in fresh processes (tracemalloc slows this
    code ~15x, so it gives the Python-heap figure at 10k only)."""
    rows = []
    for nodes in (10_000, 50_000, 100_000):
        rss, _, seconds = measure(transform, nodes)
        rows.append((nodes, rss, seconds))
        print(f"\n{transform}: {nodes} traced nodes, peak RSS +{rss / 2**20:.0f} MiB, "
              f"{rss / nodes / 1024:.1f} KiB per node, {seconds:.1f} s")
    _, traced, seconds = measure(transform, 10_000, use_tracemalloc=True)
    print(f"{transform}: 10000 traced nodes, tracemalloc peak {traced / 2**20:.0f} MiB, "
          f"{traced / 10_000 / 1024:.1f} KiB per node ({seconds:.0f} s under tracemalloc)")
    per_node = [rss / nodes for nodes, rss, _ in rows]
    assert per_node[-1] <= 1.5 * per_node[0], (rows, "memory grows faster than the graph")


@slow
def test_a_gradient_over_10_million_elements():
    n = 10_000_000
    x = np.linspace(-3.0, 3.0, n)

    def f(x):
        return np.sum(np.sin(x) * x) + np.mean(np.tanh(x) ** 2)

    df = gg.grad(f)
    t = time.perf_counter()
    df(x)
    first = time.perf_counter() - t
    t = time.perf_counter()
    g = df(x)
    again = time.perf_counter() - t
    th = np.tanh(x)
    want = np.cos(x) * x + np.sin(x) + 2 * th * (1 - th ** 2) / n
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
    print(f"\n10**7 elements: first call (trace, compile, run) {first:.2f} s, then {again:.2f} s")
