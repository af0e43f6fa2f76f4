"""The notes' vector chain rule examples.

Example 1: x, w in R^n, y in R, z = (<x, w> - y)^2   =>  dz/dw = 2(<x, w> - y) x^T
Example 2: X in R^(m x n), w in R^n, y in R^m, z = ||Xw - y||^2  =>  dz/dw = 2(Xw - y)^T X

Both gradients come from gg.grad and are checked against these closed forms; then the three
shape cases of the chain rule (scalar/vector/matrix) are checked with Jacobians:
dy/dx = dy/du @ du/dx has shape 1 x n, then (1 x k)(k x n), then (m x k)(k x n).

Run: python examples/vector_chain_rule.py
"""

import numpy as np

import gradgraph as gg


def z1(w, x, y):
    a = np.dot(x, w)  # a = <x, w>
    b = a - y
    return b ** 2


def z2(w, X, y):
    a = X @ w
    b = a - y
    return np.linalg.norm(b) ** 2


def main():
    rng = np.random.default_rng(7)
    n, m = 4, 3

    # -- example 1 ---------------------------------------------------------------------------------
    x, w, y = rng.normal(size=n), rng.normal(size=n), 0.5

    dz_dw = gg.grad(z1)(w, x, y)
    closed = 2 * (np.dot(x, w) - y) * x  # 2(<x,w> - y) x^T
    print("example 1: dz/dw =", np.round(dz_dw, 4))
    print("   2(<x,w>-y)x^T  =", np.round(closed, 4))
    np.testing.assert_allclose(dz_dw, closed, rtol=1e-13)

    # -- example 2 ---------------------------------------------------------------------------------
    X, yv = rng.normal(size=(m, n)), rng.normal(size=m)

    dz_dw2 = gg.grad(z2)(w, X, yv)
    closed2 = 2 * (X @ w - yv) @ X  # 2(Xw - y)^T X
    print("example 2: dz/dw =", np.round(dz_dw2, 4))
    print("   2(Xw-y)^T X    =", np.round(closed2, 4))
    np.testing.assert_allclose(dz_dw2, closed2, rtol=1e-12)

    # -- the three cases: shapes of dy/dx = dy/du . du/dx -----------------------------------------
    k = 5
    A = rng.normal(size=(k, n))
    C = rng.normal(size=(m, k))
    cases = {
        "1: scalar y of scalar u of vector x": (lambda u: np.sin(u), lambda x: np.sum(x ** 2)),
        "2: scalar y of vector u of vector x": (lambda u: np.sum(np.tanh(u)), lambda x: A @ x),
        "3: vector y of vector u of vector x": (lambda u: C @ np.sin(u), lambda x: A @ x),
    }
    for name, (outer, inner) in cases.items():
        u = inner(x)
        dy_du = np.atleast_2d(gg.jacrev(outer)(u))  # Jacobians as matrices: 1 x 1, 1 x k, m x k
        du_dx = np.atleast_2d(gg.jacrev(inner)(x))
        dy_dx = np.atleast_2d(gg.jacrev(lambda x: outer(inner(x)))(x))
        print(f"case {name}: {dy_dx.shape} = {dy_du.shape} x {du_dx.shape}")
        np.testing.assert_allclose(dy_dx, dy_du @ du_dx, rtol=1e-12)
    # the same Jacobians, from the closed forms
    np.testing.assert_allclose(gg.jacrev(lambda x: C @ np.sin(A @ x))(x),
                               C @ np.diag(np.cos(A @ x)) @ A, rtol=1e-12)
    print("checked against the closed forms 2(<x,w>-y)x^T, 2(Xw-y)^T X and the chain rule")


if __name__ == "__main__":
    main()
