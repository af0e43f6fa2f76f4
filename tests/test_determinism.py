"""Generated code is the same every time, user text never becomes code, and ``save`` is
atomic. About 10 s (four subprocesses)."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradgraph as gg

# A script that builds a spread of Functions (pytrees with string keys, guards, nested
# transforms, forward and reverse) and prints a hash of every generated source.
SCRIPT = textwrap.dedent('''
    import hashlib, json, sys
    import numpy as np
    import gradgraph as gg

    def mlp(params, x):
        h = np.tanh(x @ params["w1"] + params["b1"])
        out = h @ params["w2"]
        if np.sum(out) > 0:
            return np.sum(out ** 2) + 0.1 * np.sum(params["w1"] ** 2)
        return np.sum(np.abs(out))

    def notes(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)

    r = np.random.default_rng(0)
    params = {"w1": r.normal(size=(3, 4)), "b1": r.normal(size=4), "w2": r.normal(size=(4, 2)),
              "zeta": 1.0, "alpha": np.ones(2)}
    x = r.normal(size=(5, 3))
    v = np.linspace(0.5, 1.5, 3)
    fns = [
        (gg.grad(mlp), (params, x)),
        (gg.value_and_grad(mlp, argnums=(0, 1)), (params, x)),
        (gg.hessian(lambda v: np.sum(np.sin(v) * v[::-1])), (v,)),
        (gg.jacfwd(lambda v: np.cumsum(v) * np.exp(v)), (v,)),
        (gg.hvp(lambda v: np.sum(np.tanh(v) ** 3)), (v, v)),
        (gg.grad(notes, argnums=(0, 1)), (2.0, 5.0)),
        (gg.derivative(np.tanh, order=3), (v,)),
    ]
    out = {}
    for k, (fn, args) in enumerate(fns):
        src = fn.source(*args)
        out[f"{k}:{fn.__name__}"] = hashlib.sha256(src.encode()).hexdigest()
    out["listing"] = hashlib.sha256(str(gg.trace(mlp, params, x)).encode()).hexdigest()
    out["dot"] = hashlib.sha256(gg.trace(mlp, params, x).to_dot().encode()).hexdigest()
    print(json.dumps(out, sort_keys=True))
''')


def _run_script(path, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(path), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_generated_source_is_byte_identical_across_processes(tmp_path):
    script = tmp_path / "build_many.py"
    script.write_text(SCRIPT)
    runs = {seed: _run_script(script, seed) for seed in ("0", "1", "4242", "random")}
    assert len(set(runs.values())) == 1, runs
    assert len(eval(runs["0"].replace("null", "None"))) == 9


def test_generated_source_is_identical_across_fresh_functions_in_one_process():
    def f(p):
        return np.sum(p["b"] * np.sin(p["a"])) + p["c"]

    p = {"c": 2.0, "b": np.ones(3), "a": np.linspace(0, 1, 3)}
    first = gg.grad(f).source(p)
    for _ in range(3):
        assert gg.grad(f).source(p) == first
    # dict order does not matter: keys are sorted, as in JAX
    assert gg.grad(f).source({"a": p["a"], "b": p["b"], "c": 2.0}) == first


# -- user text never becomes code -------------------------------------------------------------

HOSTILE = "a']; import os; os.system('echo pwned'); #"


def _only_numpy_is_imported(src: str):
    """Parse the source: its one import is numpy, and no name reaches os or system."""
    tree = ast.parse(src)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import numpy as np"], imports
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not {"os", "system", "eval", "exec", "__import__"} & (names | attrs)


@pytest.fixture
def no_system(monkeypatch):
    """os.system fails the test if anything calls it."""
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd) or 0)
    yield calls
    assert calls == [], calls


def _save_and_load(fn, tmp_path, *args):
    path = fn.save(tmp_path / "mod.py", *args)
    spec = importlib.util.spec_from_file_location("gg_hostile_mod", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, fn.__name__)


def test_hostile_dict_keys_stay_data(tmp_path, no_system):
    def f(p):
        return np.sum(p[HOSTILE] ** 2) + np.sum(p["b\nimport os"] * 3.0)

    p = {HOSTILE: np.array([1.0, 2.0]), "b\nimport os": np.array([0.5])}
    df = gg.grad(f)
    g = df(p)
    assert set(g) == set(p)
    np.testing.assert_array_equal(g[HOSTILE], [2.0, 4.0])
    np.testing.assert_array_equal(g["b\nimport os"], [3.0])
    src = df.source(p)
    _only_numpy_is_imported(src)
    loaded = _save_and_load(df, tmp_path, p)
    np.testing.assert_array_equal(loaded(p)[HOSTILE], [2.0, 4.0])


def test_hostile_argument_and_function_names(tmp_path, no_system):
    def f(x, y):
        return np.sum(x * y)

    f.__name__ = "f(): import os; os.system('echo pwned') #"
    fn = gg.Function(f, name=f.__name__, arg_names=["x=os.system('echo pwned')", "import os"])
    x = np.array([1.0, 2.0])
    assert float(fn(x, x)) == 5.0
    src = fn.source(x, x)
    _only_numpy_is_imported(src)
    assert float(_save_and_load(fn, tmp_path, x, x)(x, x)) == 5.0


def test_a_source_file_name_with_a_newline_or_quote_stays_a_comment(tmp_path, no_system):
    """``loc`` comments carry the user's file name; a newline in it must not end the comment."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    name = "evil\nimport os; os.system('echo pwned')\n#'\"q.py"
    path = folder / name
    path.write_text("import numpy as np\n\ndef f(x):\n    return np.sum(np.sin(x) * x)\n")
    spec = importlib.util.spec_from_file_location("gg_evil_name", str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    df = gg.grad(mod.f)
    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(df(x), np.sin(x) + x * np.cos(x), rtol=1e-14)
    src = df.source(x)
    _only_numpy_is_imported(src)
    assert "\\nimport os" in src  # the name is there, escaped, inside comments
    for line in src.splitlines():
        if "os.system" in line:
            assert line.split("#", 1)[0].strip() != "" and "#" in line  # only in a comment
    _save_and_load(df, tmp_path, x)


def test_guard_messages_with_hostile_file_names_stay_strings(tmp_path, no_system):
    folder = tmp_path / "g"
    folder.mkdir()
    path = folder / "guard'\"\nos.system('x').py"
    path.write_text("import numpy as np\n\ndef f(x):\n    if x > 0:\n        return x * 2.0\n"
                    "    return x * 3.0\n")
    spec = importlib.util.spec_from_file_location("gg_evil_guard", str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    F = gg.compile(mod.f)
    assert (float(F(1.0)), float(F(-1.0))) == (2.0, -3.0)
    _only_numpy_is_imported(F.source(1.0))


# -- save is atomic -------------------------------------------------------------------------------


def test_save_writes_atomically_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    fn = gg.grad(lambda x: np.sum(np.exp(x)))
    x = np.ones(3)
    target = tmp_path / "grad_mod.py"
    fn.save(target, x)
    good = target.read_text()
    assert good == fn.source(x) or "def " in good
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[: len(text) // 2])
            raise OSError("no space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="no space left"):
        fn.save(target, x)
    assert target.read_text() == good  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grad_mod.py"]
    with pytest.raises(OSError):
        fn.save(tmp_path / "new_mod.py", x)
    assert not (tmp_path / "new_mod.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grad_mod.py"]
    monkeypatch.undo()
    fn.save(target, x)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(
        good.encode()).hexdigest()


def test_parameter_names_never_collide():
    """``gg.hvp`` adds a parameter ``v``; a user argument named ``v`` used to give
    ``def hvp_f(v, v)`` (a SyntaxError). Parameters are made unique instead."""
    def f(v):
        return np.sum(v ** 3)

    x, d = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    hv = gg.hvp(f)
    np.testing.assert_allclose(hv(x, d), 6 * x * d, rtol=1e-14)  # H = diag(6 x)
    src = hv.source(x, d)
    header = next(ln for ln in src.splitlines() if ln.startswith("def "))
    params = header[header.index("(") + 1:header.index(")")].split(", ")
    assert len(params) == len(set(params)) == 2
