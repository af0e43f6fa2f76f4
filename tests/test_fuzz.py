"""Property-based tests: random programs drawn from the op table (``tests/fuzz_programs.py``),
each checked for generated code == interpreter == plain NumPy, gradients against finite
differences and SymPy, orders 1-3 through nested transforms, forward == reverse, simplify on
== off, and ``fn.save`` == in-memory code.

Profiles (docs/reliability.md):

* CI (default run): a fixed set of programs (``derandomize``), about a minute;
* long: ``GRADGRAPH_FUZZ=long python -m pytest -m slow tests/test_fuzz.py`` draws 10,000 new
  programs (``GRADGRAPH_FUZZ_N`` changes the count).

Every counterexample the fuzzer ever found is replayed below as a regular test.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import fuzz_programs as fp
from fuzz_programs import Input, Program, Step
from gradgraph.ops.registry import OPS

CI_EXAMPLES = 1200
LONG = os.environ.get("GRADGRAPH_FUZZ") == "long"
LONG_EXAMPLES = int(os.environ.get("GRADGRAPH_FUZZ_N", "10000"))

# No shrinking: the drawn value is a seed, and a smaller seed is not a smaller program (the
# failing program is printed by note() instead).
_common = dict(deadline=None, database=None, print_blob=True,
               phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


def _run(seed: int, max_steps: int):
    prog = fp.random_program(np.random.default_rng(seed), max_steps=max_steps)
    note(repr(prog))  # printed with the falsifying seed: paste it into REGRESSIONS below
    fp.check_program(prog, seed)


@settings(max_examples=CI_EXAMPLES, derandomize=True, **_common)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_programs_ci_profile(seed):
    _run(seed, max_steps=5)


@pytest.mark.slow
@pytest.mark.skipif("'slow' not in config.getoption('markexpr')",
                    reason="the long profile runs with -m slow (GRADGRAPH_FUZZ=long)")
@settings(max_examples=LONG_EXAMPLES if LONG else 2000, derandomize=False, **_common)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_programs_long_profile(seed):
    _run(seed, max_steps=8)


# -- the fuzzer itself ---------------------------------------------------------------------------


def test_the_fuzzer_draws_from_the_registry_at_run_time():
    ew = fp.elementwise_ops()
    assert {"sin", "multiply", "where", "maximum", "log"} <= set(ew)
    for name in ew:  # each drawn op really is in the table and elementwise
        assert name in OPS and OPS[name].kind in ("elementwise", "nondiff")
    drawn = set(ew) | set(fp.api_ops())
    missing = sorted(n for n, op in OPS.items()  # random draws (impure) cannot be rerun
                     if op.differentiable and op.pure and n not in drawn
                     and n not in fp.INTERNAL)
    if missing:  # new ops with no public spelling in API_CALLS yet: say so, do not fail
        warnings.warn(f"ops not drawn by the fuzzer: {missing}", stacklevel=1)


def test_programs_are_deterministic_data():
    a = fp.random_program(np.random.default_rng(7))
    b = fp.random_program(np.random.default_rng(7))
    assert repr(a) == repr(b)
    assert eval(repr(a), {"Program": Program, "Input": Input, "Step": Step}) == a


def test_a_wrong_derivative_is_caught():
    """The checks are not vacuous: a program whose gradgraph derivative is tampered with
    (sin's partial replaced by sin itself) fails the finite-difference check."""
    prog = Program([Input([0.3, 1.1])], [Step("sin", (("v", 0),))], out=1, weights=[1.0, -0.5])
    old = OPS["sin"].partials
    OPS["sin"].partials = lambda B, a, o, act: (B.sin(a[0]),)
    try:
        with pytest.raises(fp.Mismatch):
            fp.check_program(prog, seed=0)
    finally:
        OPS["sin"].partials = old
    assert fp.check_program(prog, seed=0)


def test_fd_check_rejects_a_small_error():
    fd = np.array([1.0, 2.0])
    fp.fd_close(fd + 1e-9, fd, np.zeros(2), 1.0, "close")
    with pytest.raises(fp.Mismatch):
        fp.fd_close(fd * 1.001, fd, np.zeros(2), 1.0, "off by 0.1%")


# -- every counterexample ever found, replayed (docs/reliability.md lists the fixes) -------------

REGRESSIONS = {
    # forward mode of x[mask]: the getitem shape rule sampled the mask as all False, so the
    # tangent had shape (0,) (fixed in ops/shape.py: the rule gets the known result shape)
    "mask_getitem_tangent_shape": (9, Program(
        inputs=[Input([[0.6482, 1.2461, 1.0812], [1.2547, -1.4202, -0.1883]]),
                Input([0.9919, 1.4499, 0.8538]), Input([[0.7222], [-0.6608]])],
        steps=[Step("astype", (("v", 2),), {"dtype": "float32"}),
               Step("reshape", (("v", 3),), {"shape": (2, 1)}),
               Step("sign", (("v", 4),)),
               Step("arcsin", (("v", 2, "open_unit"),)),
               Step("getitem", (("v", 4),), {"index": ("mask", [[True], [True]])})],
        out=7, weights=[0.586, -0.61])),
    # the adjoint of x[idx] with a batch axis wrote np.add.at(out, (:, idx), v): a SyntaxError
    # in the generated code (fixed in ops/shape.py: slices spelled slice(...) outside [])
    "batched_index_add_syntax": (792, Program(
        inputs=[Input([[0.4789]])],
        steps=[Step("getitem", (("v", 0),), {"index": ("intarray", [0, -1, -1])}),
               Step("concatenate", (("v", 1), ("c", [[0.496], [-0.494], [0.059]])),
                    {"axis": -2}),
               Step("arcsin", (("v", 2, "open_unit"),)),
               Step("deg2rad", (("v", 2),)),
               Step("concatenate", (("v", 3), ("v", 4)), {"axis": -2})],
        out=5, weights=[[-0.852], [-0.272], [0.305], [0.034], [0.671], [0.443], [-0.431],
                        [0.003], [0.486], [-0.607], [-0.237], [-0.599]])),
    # jacrev of an empty output: the (0, 2, 1) zero constant was written np.array([]), shape
    # (0,) (fixed in codegen/driver.py: empty constants written np.zeros(shape))
    "empty_output_jacobian": (171, Program(
        inputs=[Input([[0.1472, -0.3211], [-0.1668, 1.1796]]),
                Input([[0.1312, -0.5794], [-0.8865, 1.1905]]), Input([[1.1774], [1.3168]])],
        steps=[Step("arctanh", (("v", 2, "open_unit"),)),
               Step("add", (("v", 2), ("c", [[-0.533], [1.338]]))),
               Step("getitem", (("v", 4),), {"index": ("mask", [[False], [False]])}),
               Step("logaddexp", (("v", 5), ("c", 0.477)))],
        out=6, weights=[])),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_counterexample(name):
    seed, prog = REGRESSIONS[name]
    assert fp.check_program(prog, seed)
