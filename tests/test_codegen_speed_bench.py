"""A smoke test of bench/ with trivial sizes and no peers: the workloads run, check their
numbers and the report is written. Nothing here is a measurement. About 2 s."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def bench_pkg(monkeypatch):
    monkeypatch.syspath_prepend(ROOT)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS",
              "JAX_PLATFORMS", "JAX_ENABLE_X64", "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMBA_NUM_THREADS", "TF_CPP_MIN_LOG_LEVEL"):
        monkeypatch.setenv(k, os.environ.get(k, "1"))  # bench/__init__ sets; undone after
    import bench  # noqa: F401

    return sys.modules["bench"]


def test_bench_smoke(bench_pkg, tmp_path):
    from bench import harness, report
    from bench.workloads_compile import sizes, spine_chain
    from bench.workloads_speed import Config, memory, notes_grad, rosenbrock

    cfg = Config(quick=True, repeats=2, target=0.001, peers=())
    results = [notes_grad(cfg), memory(cfg), spine_chain(cfg)]
    results += rosenbrock(cfg)
    results += sizes(cfg)
    for r in results:
        assert r.verdict, r.key
        assert not any("numbers differ" in row.note for row in r.rows), r.key
    notes = results[0]
    assert notes.row("gradgraph").seconds > 0 and notes.row("JAX (jit)").seconds is None
    out = tmp_path / "benchmarks.md"
    report.write(results, str(out), harness.machine(), {"jax": "not installed"}, cfg,
                 "test", ["a gap"], {})
    text = out.read_text()
    assert "## Summary: targets" in text and "Rosenbrock gradient" in text and "a gap" in text


def test_same_numbers_says_why(bench_pkg):
    import numpy as np

    from bench.harness import same_numbers

    assert same_numbers((np.ones(3), 2.0), (np.ones(3), 2.0)) is None
    assert "max abs error" in same_numbers(np.ones(3) * 1.1, np.ones(3))
    assert "structure" in same_numbers((1.0,), (1.0, 2.0))
