"""The gradient of a loss over a chunked data set, on Dask's local scheduler.

gradgraph compiles the gradient to plain NumPy code; called on ``dask.array`` data, that same
code builds a lazy Dask graph (NumPy's ``__array_function__``/``__array_ufunc__`` protocols
carry each call to Dask), so the gradient is a lazy array computed chunk by chunk, and a
data set larger than memory works the same way (``da.from_zarr``, ``da.from_npy_stack`` …).

Run it: ``python examples/dask_loss_gradient.py`` (needs ``pip install "gradgraph[dask]"``).
"""

import numpy as np

import gradgraph as gg


def loss(w, b, X, y):
    """Logistic regression: mean log-loss plus a small L2 penalty."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w ** 2)


def main():
    try:
        import dask
        import dask.array as da
    except ImportError:
        print('[this example needs dask; install it with: pip install "gradgraph[dask]"]')
        return

    rng = np.random.default_rng(0)
    n, d = 200_000, 8
    X_np = rng.normal(size=(n, d))
    w_true = np.linspace(-1.0, 1.0, d)
    y_np = (X_np @ w_true + 0.3 > rng.logistic(size=n)).astype(np.float64)
    X = da.from_array(X_np, chunks=(25_000, d))  # 8 chunks of 25,000 rows
    y = da.from_array(y_np, chunks=25_000)

    grad = gg.value_and_grad(loss, argnums=(0, 1))
    w, b = np.zeros(d), 0.0
    with dask.config.set(scheduler="threads"):  # Dask's local (threaded) scheduler
        value, (gw, gb) = grad(w, b, X, y)
        print(f"lazy gradient: {type(gw).__module__}.{type(gw).__name__}, shape {gw.shape}, "
              f"{len(X.chunks[0])} chunks of data")
        value, gw, gb = dask.compute(value, gw, gb)
        want_value, (want_w, want_b) = grad(w, b, X_np, y_np)  # the same code on NumPy
        err = max(np.max(np.abs(gw - want_w)), abs(gb - want_b), abs(value - want_value))
        print(f"loss {float(value):.6f}; max |dask - numpy| = {err:.1e}")

        for step in range(30):  # plain gradient descent, each step computed on the chunks
            value, (gw, gb) = dask.compute(*grad(w, b, X, y))
            w, b = w - 2.0 * gw, b - 2.0 * gb
        print(f"after 30 steps: loss {float(value):.4f}, w = {np.round(w, 2).tolist()}")
    print(f"generated code, shared by NumPy and Dask arrays:\n{grad.source(w, b, X_np, y_np)}")


if __name__ == "__main__":
    main()
