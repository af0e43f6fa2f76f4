"""``python -m bench``: run the workloads, write docs/benchmarks.md and docs/img/*.png.

For BLAS-heavy numbers on machines that set OPENBLAS_CORETYPE, run it as
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench`` (the report records the
BLAS kernel in use).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from . import peers
from .harness import machine, pin_threads

WORKLOADS = ("mlp", "notes", "rosenbrock", "tanh8", "chain80", "compile", "spine",
             "first-call", "memory", "sizes")

# why a target is missed, written from profiles of the generated code and the pipeline; only
# printed for the workloads whose verdict says "missed"
CAUSES = {
    "compile": "Compile time: Python's own `compile()` of the generated source is the largest "
               "stage (about 8-10 us per line on a quiet machine, and a gradient chain is about "
               "2.5 nodes plus 2 `del` lines per op: one node per line is the readability "
               "contract of the generated code); tracing, expansion, simplify and codegen are "
               "pure Python on top of that. Small N also pays the fixed cost of a compile "
               "(Function and Variant set-up, a few ms). The time per op stays flat with N "
               "(the cyclic GC is off during a compile, which removed the superlinear part).",
    "sizes-tanh": "Size per order (exact default): exact rewrites cannot reassociate the fan-out "
                  "sums each reverse pass adds (`(a - b) - b` is not `a - 2*b` in floating "
                  "point), so the graph still grows about 2x per order. The opt-in algebraic "
                  "pass (`gg.config.simplify = 'algebra'`) collects like terms into Horner form "
                  "and meets the target, at the price of bit-exactness (rounding; inf/NaN cases "
                  "can differ), which is why it is not the default.",
    "sizes-notes": "Same cause as for tanh: the exact pipeline keeps every fan-out sum; the "
                   "opt-in algebraic pass meets the growth target.",
    "tanh8": "8th derivative of tanh: with the exact default the graph has ~375 nodes (see size "
             "per order), so evaluation does ~20x the work of a degree-9 Horner polynomial; the "
             "opt-in algebraic pass writes that polynomial itself.",
    "mlp": "MLP gradient: the generated code does what hand-written backprop does (same "
           "matmuls, in-place arithmetic where an operand dies), plus one extra elementwise pass: "
           "the loss's `2 * d` and the mean's `1/n` stay two multiplies, because merging "
           "`c1 * (c2 * x)` into one constant changes results when `c2 * x` overflows. The gap "
           "is a few percent, about what this ratio moves between runs of the bench on this "
           "machine (1.02x-1.04x over the last runs).",
    "notes": "Per-call overhead: the Function's signature check, variant lookup and the "
             "generated function's own `np.float64` conversions.",
    "rosen-grad": "Rosenbrock gradient: the adjoints of `x[1:]` and `x[:-1]` are scattered into "
                  "fresh zero arrays and added, where the hand-written version updates one "
                  "array in place, and the generated code keeps one temporary per node. The "
                  "ratio sits at the target (1.19x-1.28x over the last runs of the bench).",
    "rosen-hvp": "Rosenbrock hvp: forward-over-reverse evaluates the gradient graph and its "
                 "tangent (about 3x the gradient's nodes), while the hand-written version uses "
                 "the tridiagonal Hessian directly.",
    "rosen-hessian": "Dense Hessian: jacfwd over the gradient pushes an n x n identity basis "
                     "through every node of the gradient graph (O(n^2) per node, several n x n "
                     "temporaries), while the hand-written version fills three diagonals.",
    "chain80": "80-step chain: the second derivative by reverse over reverse evaluates the "
               "chain, its adjoint and the adjoint of that (about 1,800 array operations after "
               "simplify), where the hand-written second-order forward recurrence makes about "
               "900; PyTensor fuses its elementwise graph into compiled loops and runs at about "
               "the hand-written speed. Exact rewrites cannot shorten the reverse-over-reverse "
               "sums.",
    "memory": "Peak memory: the generated code holds one temporary per live node; where an "
              "operand cannot be reused in place (a live view of it, or a non-arithmetic op) "
              "it allocates where the hand-written code overwrites.",
    "first-call": "First call: trace, expand, simplify, codegen and Python's compile() of the "
                  "MLP gradient.",
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not numbers)")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated workloads: " + ", ".join(WORKLOADS))
    p.add_argument("--peers", default=",".join(peers.PEERS),
                   help="comma-separated peers to include, or 'none'")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--target", type=float, default=0.02, help="seconds per timing sample")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--out", default=os.path.join(here, "docs", "benchmarks.md"))
    p.add_argument("--img", default=os.path.join(here, "docs", "img"))
    p.add_argument("--no-plots", action="store_true")
    ns = p.parse_args(argv)

    threads = pin_threads()
    from .workloads_compile import compile_time, first_call, sizes, spine_chain
    from .workloads_speed import Config, chain2, memory, mlp, notes_grad, rosenbrock, tanh8

    chosen = [w.strip() for w in ns.only.split(",") if w.strip()]
    bad = [w for w in chosen if w not in WORKLOADS]
    if bad:
        p.error(f"unknown workload(s) {bad}; choose from {', '.join(WORKLOADS)}")
    use = () if ns.peers == "none" else tuple(x.strip() for x in ns.peers.split(","))
    cfg = Config(quick=ns.quick, repeats=3 if ns.quick else ns.repeats,
                 target=0.002 if ns.quick else ns.target, peers=use)
    run = {"mlp": mlp, "notes": notes_grad, "rosenbrock": rosenbrock, "tanh8": tanh8,
           "chain80": chain2, "compile": compile_time, "spine": spine_chain,
           "first-call": first_call, "memory": memory, "sizes": sizes}
    info = machine()
    results = []
    for w in chosen:
        t0 = time.perf_counter()
        print(f"bench: {w} ...", file=sys.stderr, flush=True)
        out = run[w](cfg)
        results.extend(out if isinstance(out, list) else [out])
        print(f"bench: {w} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    from . import report

    images = {} if ns.no_plots else report.plots(results, ns.img)
    gaps = [CAUSES[r.key] for r in results if "missed" in r.verdict and r.key in CAUSES]
    path = report.write(results, ns.out, info, peers.versions(), cfg, threads, gaps, images)
    print(f"bench: wrote {path}" + (f" and {len(images)} plots in {ns.img}" if images else ""),
          file=sys.stderr)
    for r in results:
        print(f"{r.key:>14}: {r.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
