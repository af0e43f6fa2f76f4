"""The gradgraph command: demo, show (graph, code, DOT, tables; gradient, Hessian, n-th
derivative), verify, and how errors in the user's file are reported. Expected numbers are
closed forms; most tests call main() in-process (fast), one runs `python -m gradgraph`."""

import math
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gradgraph.cli import main, parse_at

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

USER_FILE = '''\
import numpy as np
import gradgraph as gg


def notes(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def weighted(v, s):
    return s * np.sum(v ** 2)


def relu(x):
    return np.maximum(x, 0.0)


def helper(x):
    return x / undefined_name


def broken(x):
    return np.sin(helper(x))


def no_rule(x):
    return np.interp(x, [0.0, 1.0], [0.0, 2.0])


print("loading prints go to stderr")
LIMIT = 3
'''


@pytest.fixture
def user(tmp_path):
    p = tmp_path / "model.py"
    p.write_text(USER_FILE)
    return str(p)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def exits(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def g_true(x1, x2):
    return (1 / x1 + x2, x1 - math.cos(x2))


# -- demo --------------------------------------------------------------------------------------


def test_demo_prints_the_notes_numbers_and_both_tables(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    y = math.log(2) + 10 - math.sin(5)
    d1, d2 = g_true(2.0, 5.0)
    assert f"value: y = {y:.3f}" in out
    assert f"gradient: dy/dx1 = {d1:.3f}, dy/dx2 = {d2:.3f}" in out
    assert "forward mode at x1 = 2, x2 = 5" in out and "reverse mode at x1 = 2, x2 = 5" in out
    assert f"{d2:.3f}" == "1.716"
    assert "v̄2 = v̄5 × cos v2 + v̄4 × v1 = -0.284 + 2 = 1.716" in out
    assert "x1_bar" in out  # the extended graph and the generated gradient code


# -- show --------------------------------------------------------------------------------------


def test_show_gradient_listing_and_result(capsys, user):
    code, out, err = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--grad")
    assert code == 0 and "loading prints go to stderr" in err
    assert "x1_bar" in out and "# adjoint" in out
    result = out.split("result: ")[1]
    got = [float(v) for v in result.strip(" ()\n").split(",")]
    np.testing.assert_allclose(got, g_true(2.0, 5.0), rtol=1e-15)


def test_show_code_is_runnable_numpy(capsys, user):
    code, out, err = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--grad",
                         "--code")
    assert code == 0 and out.startswith("import numpy as np") and "loading" not in out
    env: dict = {}
    exec(compile(out, "<generated>", "exec"), env)
    got = env["grad_notes"](3.0, 0.5)
    np.testing.assert_allclose(got, g_true(3.0, 0.5), rtol=1e-15)


def test_show_dot_and_graph_only(capsys, user):
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--grad", "--dot")
    assert code == 0 and out.startswith("digraph") and "doubleoctagon" in out
    assert "legend_adjoint" in out and "style=dashed" in out
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--graph")
    assert code == 0 and "v3:f64[] = log x1" in out and "result:" not in out


def test_show_tables(capsys, user):
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--table")
    assert code == 0 and "forward mode" in out and "reverse mode" in out
    assert "v̇7 = v̇6 - v̇5 = 5.5 - 0 = 5.5" in out
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--grad", "--table")
    assert "forward mode" not in out and "∂y/∂x2 = v̄2 = 1.716" in out


def test_show_hessian_of_two_scalar_arguments(capsys, user):
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--hessian")
    assert code == 0 and "packed in one vector" in out
    H = np.array([float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?",
                                                out.split("result: ")[1])]).reshape(2, 2)
    np.testing.assert_allclose(H, [[-1 / 4, 1.0], [1.0, math.sin(5.0)]], rtol=1e-6)  # printed


def test_show_order_and_list_arguments(capsys, user):
    code, out, _ = run(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--order", "3",
                       "--argnums", "0")
    assert code == 0 and "order 3 w.r.t. x1" in out
    assert math.isclose(float(out.split("result: ")[1]), 2 / 2.0 ** 3, rel_tol=1e-12)
    code, out, _ = run(capsys, "show", f"{user}:weighted", "--at", "[1, 2], 3", "--grad")
    assert code == 0 and "(array" not in out
    assert "[ 6. 12.]" in out and "5.0" in out  # d/dv = 2 s v, d/ds = sum v^2


def test_parse_at():
    v, s = parse_at("[[1, 2], [3, 4]], -1")
    assert v.dtype == np.float64 and v.shape == (2, 2) and s == -1.0 and type(s) is float


# -- verify ------------------------------------------------------------------------------------


def test_verify_passes_and_fails_with_exit_status(capsys, user):
    code, out, _ = run(capsys, "verify", f"{user}:notes", "--at", "2.0, 5.0")
    assert code == 0 and "passed" in out and "sympy" in out
    code, out, _ = run(capsys, "verify", f"{user}:notes", "--at", "2.0, 5.0", "--hessian")
    assert code == 0 and "order 2" in out
    # at the kink, gradgraph's convention ReLU'(0) = 0 is not what SymPy's Heaviside(0) and
    # central differences say (1/2): a real disagreement, so exit status 1
    code, out, _ = run(capsys, "verify", f"{user}:relu", "--at", "0.0")
    assert code == 1 and "FAILED" in out
    assert run(capsys, "verify", f"{user}:relu", "--at", "0.5")[0] == 0


# -- errors ------------------------------------------------------------------------------------


def test_errors_in_the_users_code_show_their_file_and_line_only(capsys, user):
    code, out, err = run(capsys, "show", f"{user}:broken", "--at", "1.0", "--grad")
    assert code == 1
    assert f'File "{user}", line 18, in helper' in err and "NameError" in err
    assert f'File "{user}", line 22, in broken' in err
    assert "gradgraph/" not in err.replace(user, "")  # no gradgraph frames
    code, out, err = run(capsys, "show", f"{user}:no_rule", "--at", "1.0", "--grad")
    assert code == 1 and "UnsupportedOperationError" in err and "model.py:26" in err
    assert "np.interp" in err


def test_errors_while_loading(capsys, tmp_path):
    syn = tmp_path / "syn.py"
    syn.write_text("def f(x):\n    return x +\n")
    code, _, err = run(capsys, "show", f"{syn}:f", "--at", "1.0")
    assert code == 1 and "SyntaxError" in err and "line 2" in err and str(syn) in err
    imp = tmp_path / "imp.py"
    imp.write_text(textwrap.dedent("""\
        import numpy as np
        raise RuntimeError("broken at import")
        """))
    code, _, err = run(capsys, "verify", f"{imp}:f", "--at", "1.0")
    assert code == 1 and f'File "{imp}", line 2' in err and "broken at import" in err


def test_bad_target_and_arguments_say_what_was_expected(capsys, user):
    code, _, err = exits(capsys, "show", user, "--at", "1.0")
    assert code == 2 and "expected FILE.py:FUNC" in err
    code, _, err = exits(capsys, "show", user + "x:notes", "--at", "1.0")
    assert code == 2 and "no such file" in err
    code, _, err = exits(capsys, "show", f"{user}:nope", "--at", "1.0")
    assert code == 2 and "no function 'nope'" in err and "no_rule, notes, relu" in err
    code, _, err = exits(capsys, "show", f"{user}:LIMIT", "--at", "1.0")
    assert code == 2 and "not a function" in err
    code, _, err = exits(capsys, "show", f"{user}:notes", "--at", "x, 2")
    assert code == 2 and '"2.0, 5.0"' in err
    code, _, err = exits(capsys, "show", f"{user}:notes", "--at", "2.0, 5.0", "--order", "2")
    assert code == 2 and "--argnums" in err
    code, _, err = exits(capsys, "show", f"{user}:notes", "--at", "1, 2", "--grad", "--hessian")
    assert code == 2  # argparse: mutually exclusive


# -- as a program --------------------------------------------------------------------------------


def test_python_dash_m_and_the_extended_graph_picture(tmp_path):
    """The README's path to a picture: gradgraph show ... --dot | dot -Tpng."""
    cmd = [sys.executable, "-m", "gradgraph", "show",
           os.path.join(EXAMPLES, "extended_graph.py") + ":f", "--at", "0.0", "--grad", "--dot"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("digraph") and "x_bar" in r.stdout
    assert not list(tmp_path.iterdir())  # loading the example wrote nothing
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed (apt-get install graphviz)")
    png = subprocess.run(["dot", "-Tpng"], input=r.stdout.encode(), capture_output=True,
                         timeout=60)
    assert png.returncode == 0 and png.stdout[:8] == b"\x89PNG\r\n\x1a\n"


# -- pictures ----------------------------------------------------------------------------------


def test_dot_marks_adjoint_and_tangent_nodes_apart_with_a_legend():
    import gradgraph as gg

    g = gg.trace(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    G = gg.tangent(gg.adjoint(g))  # forward-over-reverse: every role is present
    dot = G.to_dot()
    node = {ln.split()[0]: ln for ln in dot.splitlines() if ln.startswith("  n")
            and "[label=" in ln}
    styles: dict = {}
    for n in G.order():
        ln = node[f"n{n}"]
        styles.setdefault(G[n]["role"], set()).add(
            (ln.split("shape=")[1].split(",")[0], ln.split("fillcolor=")[1].split('"')[1]))
    assert all(len(s) == 1 for s in styles.values())  # one look per role
    looks = [next(iter(styles[r])) for r in ("primal", "adjoint", "tangent")]
    assert len({shape for shape, _ in looks}) == 3 and len({fill for _, fill in looks}) == 3
    assert "cluster_legend" in dot and "legend_adjoint" in dot and "legend_tangent" in dot
    seed = [n for n in G.order() if G[n]["op"] == "const"][0]
    assert f'n{seed} [label="{G.name(seed)} = 1.0"' in dot  # constants show their value


def test_svg_and_notebook_display():
    import gradgraph as gg

    f = gg.grad(lambda x: np.sin(x) * x)
    assert "0 variants" in f._repr_html_()
    f(1.0)
    html = f._repr_html_()
    assert "generated source" in html and "grad_f" in html
    try:
        import graphviz  # noqa: F401
    except ImportError:
        assert "x_bar" in html  # without graphviz: the listing
        pytest.skip("the graphviz package ([graphviz] extra) is not installed")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    assert "<svg" in html
    assert gg.trace(np.sin, 1.0)._repr_svg_().lstrip().startswith("<?xml")
