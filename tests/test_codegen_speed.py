"""The performance features of the generated code, checked for correctness (nothing timed):
in-place ufuncs only where no live value sees the write, writable results, the peak-memory
estimate against tracemalloc, the signature fast path, and a long chain. About 2 s."""

import tracemalloc

import numpy as np
import pytest

import gradgraph as gg
from gradgraph.codegen.memory import INPLACE_MIN_SIZE, peak_bytes
from gradgraph.function import signature

N = INPLACE_MIN_SIZE  # arrays big enough for out=


def test_inplace_is_used_and_right():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=N), rng.normal(size=N)

    def f(x, y):
        a = x * y
        b = a + y          # a dies here: b may take a's buffer
        return np.sum(np.tanh(b) * b)

    df = gg.grad(f, argnums=(0, 1))
    assert "out=" in df.source(x, y)
    t = np.tanh(x * y + y)
    s = 1 - t * t
    gb = t + (x * y + y) * s  # d/db sum(tanh(b) * b)
    gx, gy = df(x, y)
    np.testing.assert_allclose(gx, gb * y, rtol=1e-12)
    np.testing.assert_allclose(gy, gb * (x + 1), rtol=1e-12)
    # the inputs are never written into
    x0, y0 = x.copy(), y.copy()
    df(x, y)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)


def test_no_write_into_a_buffer_a_live_view_shares():
    x = np.linspace(0, 1, N)

    def f(x):
        a = x * 2.0
        v = a[::-1]        # a view of a, used after a's last direct use
        b = a + 1.0        # must not write into a
        return np.concatenate([b, v])

    F = gg.compile(f)
    np.testing.assert_array_equal(F(x), np.concatenate([x * 2.0 + 1.0, (x * 2.0)[::-1]]))
    assert "out=" not in F.source(x)  # b is not written into a: its view v is still needed


def test_small_arrays_and_scalars_stay_plain():
    x = np.ones(10)
    assert "out=" not in gg.grad(lambda x: np.sum((x * x + x) * x)).source(x)
    assert "out=" not in gg.grad(lambda x: (x * x + x) * x).source(2.0)


def test_outputs_are_writable_arrays():
    g = gg.grad(lambda x: np.sum(x))(np.ones(3))
    g *= 2.0
    assert g.tolist() == [2.0, 2.0, 2.0]
    h = gg.elementwise_grad(lambda x: x * 3.0)(np.ones((2, 2)))
    h[0, 0] = 0.0
    assert h.tolist() == [[0.0, 3.0], [3.0, 3.0]]


def _traced_peak(fn, *args):
    fn(*args)  # warm up
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return peak


def test_peak_estimate_against_tracemalloc():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 300))

    def f(x):
        return np.sum(np.tanh(x) ** 2 * np.sin(x))

    G = gg.grad(f)
    est = peak_bytes(G.graph(x))
    measured = _traced_peak(G, x)  # includes the output, not the input
    assert est["outputs"] == x.nbytes and est["inputs"] == x.nbytes
    assert 0.7 * measured <= est["peak"] <= 1.5 * measured, (est, measured)


def test_signature_fast_path():
    a = np.ones((2, 3))
    assert signature((2.0, 5.0)) == (float, float) == signature((3.0, -1.0))
    assert signature((a, 1)) == (((2, 3), "d"), int)
    assert signature((a,)) != signature((a.astype(np.float32),))
    assert signature(({"w": a}, 2.0))[0] != (float,)  # pytrees take the slow path
    f = gg.grad(lambda x, y: x * y)
    assert float(f(2.0, 5.0)) == 5.0 and float(f(2.0, np.float64(5.0))) == 2.0 * 0 + 5.0
    assert len(f._variants) == 2


@pytest.mark.parametrize("n", [5000])  # past the recursion limit
def test_long_chain_compiles_without_recursion(n):
    def chain(x):
        for i in range(n):
            x = np.sin(x) if i % 2 else x * 1.0001 + 0.1
        return np.sum(x)

    x = np.linspace(0, 1, 4)
    g = gg.grad(chain)(x)
    assert g.shape == (4,) and np.all(np.isfinite(g))
