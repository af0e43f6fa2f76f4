"""Every script in examples/ runs (in a temporary directory, as __main__) and prints the
course notes' numbers; the expected numbers are computed here from closed forms. Files they
write are checked when the optional extra is installed (the check is skipped otherwise), and
a missing extra gives a one-line message while the numbers still print."""

import math
import os
import runpy
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCRIPTS = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py") and not f.startswith("_"))


def has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.fixture
def run_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def run(name):
        runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
        return capsys.readouterr().out

    return run


def test_every_example_is_covered():
    assert set(SCRIPTS) == {
        "notes_tables.py", "matlab_gradient.py", "extended_graph.py", "vector_chain_rule.py",
        "pytorch_snippets.py", "control_flow.py", "sin_derivative.py", "tanh_derivatives.py",
        "mlp_assignment.py",
        "dask_loss_gradient.py"}  # run by tests/test_dask.py (needs the [dask] extra)


def test_notes_tables(run_example):
    out = run_example("notes_tables.py")
    y = math.log(2) + 2 * 5 - math.sin(5)
    d1, d2 = 1 / 2 + 5, 2 - math.cos(5)
    assert f"y = v7 = {y:.3f}, ∂y/∂x1 = v̇7 = {d1:g}" in out  # 11.652, 5.5
    assert f"∂y/∂x1 = v̄1 = {d1:g}, ∂y/∂x2 = v̄2 = {d2:.3f}" in out  # 5.5, 1.716
    assert f"v3 = ln v1    {math.log(2):.3f}" in out and f"{math.sin(5):.3f}" in out


def test_matlab_gradient(run_example):
    out = run_example("matlab_gradient.py")
    assert f"f(2,3) = {2 * 3 + math.sin(2):f}" in out  # 6.909297
    assert f"[df/dx1, df/dx2] = [{3 + math.cos(2):f}, {2:f}]" in out  # [2.583853, 2.000000]


def test_extended_graph_and_its_picture(run_example, tmp_path):
    out = run_example("extended_graph.py")
    e = math.exp(0.0)
    assert f"y = {e * (e + 1)}, y' = {2 * e * e + e} (first extension), " \
           f"y'' = {4 * e * e + e} (second extension)" in out
    dot = (tmp_path / "extended_graph.dot").read_text()
    assert dot.startswith("digraph") and "doubleoctagon" in dot and "x_bar" in dot
    if shutil.which("dot") is None:
        assert "apt-get install graphviz" in out and "dot -Tpng extended_graph.dot" in out
        pytest.skip("Graphviz's dot program is not installed: PNG not checked")
    png = (tmp_path / "extended_graph.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_vector_chain_rule(run_example):
    out = run_example("vector_chain_rule.py")
    rng = np.random.default_rng(7)  # the example's data, and its closed forms
    x, w = rng.normal(size=4), rng.normal(size=4)
    X, y = rng.normal(size=(3, 4)), rng.normal(size=3)
    assert f"example 1: dz/dw = {np.round(2 * (x @ w - 0.5) * x, 4)}" in out
    assert f"example 2: dz/dw = {np.round(2 * (X @ w - y) @ X, 4)}" in out
    assert "case 3: vector y of vector u of vector x: (3, 4) = (3, 5) x (5, 4)" in out


def test_pytorch_snippets(run_example):
    out = run_example("pytorch_snippets.py")
    x = np.arange(4.0)
    assert f"y = 2 x^T x = tensor({2 * x @ x:.0f}., grad_fn=<multiply>)" in out  # 28
    assert "x.grad = tensor([ 0.,  4.,  8., 12.])" in out and list(4 * x) == [0, 4, 8, 12]
    assert "x.grad == 4*x: tensor([ True,  True,  True,  True])" in out
    assert f"y = x.sum() = tensor({x.sum():.0f}., grad_fn=<sum>)" in out
    assert "x.grad = tensor([1., 1., 1., 1.])" in out
    assert "d(sum x*x)/dx = tensor([0., 2., 4., 6.])" in out
    assert "x.grad = tensor([0., 1., 4., 9.])   x.grad == u: " \
           "tensor([ True,  True,  True,  True])" in out
    assert "second backward: AutogradError" in out and "retain_graph=True" in out


def test_control_flow(run_example):
    out = run_example("control_flow.py")
    # the path: 2a doubled until |b| >= 1000, times 100 when the sum is negative
    k_scalar = 2 * 2 ** math.ceil(math.log2(1000 / (2 * 0.3119)))
    norm = math.sqrt(0.0524 ** 2 + 0.0269 ** 2 + 0.8601 ** 2)
    k_row = 100 * 2 * 2 ** math.ceil(math.log2(1000 / (2 * norm)))
    assert (k_scalar, k_row) == (4096, 204800)
    assert f"a.grad = tensor({k_scalar}.)" in out
    assert f"a.grad = tensor([[{k_row}., {k_row}., {k_row}.]])" in out
    assert f"d sqrt(x)/dx = {0.5 / math.sqrt(1.24686):.4f}" in out and "0.4478" in out
    assert f"d x^2/dx = {2 * 1.24686:.4f}" in out and "2.4937" in out


def test_sin_derivative(run_example, tmp_path):
    out = run_example("sin_derivative.py")
    assert "max |df/dx - cos x| = 0.0e+00" in out
    if not has("matplotlib"):
        assert 'pip install "gradgraph[plot]"' in out
        pytest.skip("matplotlib ([plot] extra) not installed: PNG not checked")
    assert (tmp_path / "sin_derivative.png").read_bytes()[:4] == b"\x89PNG"


def test_tanh_derivatives(run_example, tmp_path):
    out = run_example("tanh_derivatives.py")
    t = math.tanh(0.5)
    s2 = 1 - t * t  # sech^2
    # derived by hand: d/dx P(t) = P'(t) (1 - t^2) with t = tanh x
    closed = {0: t, 1: s2, 2: -2 * t * s2, 3: (6 * t * t - 2) * s2, 4: (16 * t - 24 * t ** 3) * s2}
    rows = out.splitlines()[1:8]
    for k, v in closed.items():
        order, nodes, value = rows[k].split()[:3]  # the value gg.derivative computed at 0.5
        assert int(order) == k and math.isclose(float(value), v, rel_tol=1e-9), (k, v)
    if not has("matplotlib"):
        pytest.skip("matplotlib ([plot] extra) not installed: PNG not checked")
    assert (tmp_path / "tanh_derivatives.png").read_bytes()[:4] == b"\x89PNG"


def test_mlp_assignment(run_example, tmp_path):
    out = run_example("mlp_assignment.py")
    assert "y1(2, -2) = 0.0   [dy1/dx1, dy1/dx2](2, -2) = [0.0, 0.0]" in out
    assert "eager: y1 = 0.0, x.grad = [0.0, 0.0]" in out
    if not has("scipy"):
        assert 'pip install "gradgraph[mat]"' in out
        pytest.skip("scipy ([mat] extra) not installed: .mat file not checked")
    import scipy.io

    pred = scipy.io.loadmat(str(tmp_path / "mlp_predictions.mat"))["pred"]
    assert pred.shape == (21, 21) and pred.dtype == np.float64
    g = np.linspace(-1, 1, 21)
    X, Y = np.meshgrid(g, g)  # MATLAB's [X, Y] = meshgrid(x, y)
    assert np.mean((pred - (2 * X + X * Y)) ** 2) < 0.05  # it fits 2 x1 + x1 x2


def test_missing_extras_give_a_message_and_the_numbers(run_example, monkeypatch, tmp_path):
    for mod in ("matplotlib", "matplotlib.pyplot", "scipy", "scipy.io"):
        monkeypatch.setitem(sys.modules, mod, None)  # import now raises ImportError
    out = run_example("sin_derivative.py")
    assert '[sin_derivative.png skipped: it needs matplotlib; install it with: pip install ' \
           '"gradgraph[plot]"]' in out and "checked against np.cos" in out
    out = run_example("mlp_assignment.py")
    assert 'pip install "gradgraph[mat]"' in out and "gradient [0, 0]" in out
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.mat"))


def test_an_example_runs_as_a_program(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "notes_tables.py")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "checked against the closed forms: 11.652, 5.5, (5.5, 1.716)" in r.stdout
