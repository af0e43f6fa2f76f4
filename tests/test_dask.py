"""Generated code on Dask arrays (docs/dask.md): ``gg.grad(f)(x)`` with dask data returns a
lazy dask array equal to the NumPy result; guards compute what they need; the example runs.
Needs the optional extra ``[dask]`` (CI installs it). About 5 s."""

from __future__ import annotations

import os
import runpy

import numpy as np
import pytest

import gradgraph as gg

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
from dask.callbacks import Callback  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CountComputes(Callback):
    """Counts the Dask graphs actually computed inside the ``with`` block."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _start(self, dsk):
        self.n += 1


rng = np.random.default_rng(0)
N = 8000
X_NP = rng.normal(size=(N, 5))
Y_NP = rng.normal(size=N)
W = rng.normal(size=5)


def data():
    return da.from_array(X_NP, chunks=(2000, 5)), da.from_array(Y_NP, chunks=2000)


def mse(w, X, y):
    r = np.tanh(X @ w) - y
    return np.mean(r ** 2) + 0.01 * np.sum(w ** 2)


def logistic(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, -y * z)) / len(y) + np.max(np.abs(z))


def leaky(w, X, y):
    z = (X * w).sum(axis=1)
    return np.sum(np.where(z > 0, z, 0.1 * z) ** 2 * y[::-1])


def huberish(w, X, y):
    return np.linalg.norm(X @ w - y) + np.sum(np.clip(X, -1, 1) @ w) + np.sum(
        np.exp(X[:100] @ w))


@pytest.mark.parametrize("f", [mse, logistic, leaky, huberish])
def test_grad_on_dask_data_is_a_lazy_dask_array_equal_to_numpy(f):
    X, y = data()
    df = gg.grad(f)
    want = df(W, X_NP, Y_NP)  # the same Function on NumPy arrays
    with CountComputes() as c:
        got = df(W, X, y)
    assert isinstance(got, da.Array)
    assert c.n == 0  # nothing computed: tracing and the call only built the Dask graph
    np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-13)
    # the compiled code is the NumPy code, unchanged
    assert df.source(W, X, y) == df.source(W, X_NP, Y_NP)


def test_value_and_grad_and_a_gradient_with_respect_to_the_data():
    X, y = data()
    vg = gg.value_and_grad(mse, argnums=(0, 1))
    (v, (gw, gX)), (v0, (gw0, gX0)) = vg(W, X, y), vg(W, X_NP, Y_NP)
    assert isinstance(v, da.Array) and isinstance(gX, da.Array)
    np.testing.assert_allclose(float(v.compute()), float(v0), rtol=1e-13)
    np.testing.assert_allclose(gw.compute(), gw0, rtol=1e-12)
    np.testing.assert_allclose(gX.compute(), gX0, rtol=1e-12, atol=1e-15)


def test_the_signature_keys_dask_apart_from_numpy_but_not_by_chunks():
    df = gg.grad(mse)
    df(W, X_NP, Y_NP)
    X, y = data()
    df(W, X, y)
    df(W, X.rechunk((1000, 5)), y.rechunk(1000))  # other chunks: the same variant
    assert df.trace_count == 2


def test_guards_compute_what_they_decide_on():
    X, _ = data()

    def f(w, X):
        z = X @ w
        if np.mean(z) > 0:  # a Python decision on a lazy value: bool() computes it
            return np.sum(z ** 2)
        return np.sum(np.abs(z))

    df = gg.grad(f)
    with CountComputes() as c:
        g1 = df(W, X)
    assert c.n == 2  # once while tracing, once in the compiled code's guard check
    with CountComputes() as c:
        g1b = df(W, X)
    assert c.n == 1  # a compiled call: the guard check only
    g2 = df(-W, X)  # the other branch: the guard fails, the other path is traced
    for got, w in ((g1, W), (g1b, W), (g2, -W)):
        assert isinstance(got, da.Array)
        np.testing.assert_allclose(got.compute(), df(w, X_NP), rtol=1e-12)


def test_the_dask_example_runs(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(os.path.join(ROOT, "examples", "dask_loss_gradient.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "lazy gradient: dask.array.core.Array, shape (8,), 8 chunks of data" in out
    assert f"loss {np.log(2.0):.6f};" in out  # w = 0, b = 0: the log-loss is ln 2
    err = float(out.split("max |dask - numpy| = ")[1].split()[0])
    assert err < 1e-12
    final = float(out.split("after 30 steps: loss ")[1].split(",")[0])
    assert final < 0.55  # gradient descent on the chunks made progress
