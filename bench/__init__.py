"""gradgraph's benchmarks against hand-written NumPy and the peers (JAX, PyTorch, autograd,
PyTensor, CasADi). Run ``python -m bench`` (see ``python -m bench --help``); it writes
``docs/benchmarks.md`` and the plots in ``docs/img/``.

Threads are pinned to one before NumPy is imported (environment variables here, then
threadpoolctl and ``torch.set_num_threads`` at run time), so every tool runs single-threaded.
"""

import os

for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
