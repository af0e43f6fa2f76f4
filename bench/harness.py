"""Timing, checking and machine facts shared by every workload."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

# CPU time of this process (all its threads): on a shared machine, other jobs' load inflates
# it far less than wall time, since time spent descheduled is not counted
clock = time.process_time


def pin_threads() -> str:
    """Limit every thread pool to one thread; returns a sentence saying how."""
    how = ["OMP/OPENBLAS/MKL_NUM_THREADS=1 and XLA single-threaded (environment, set before "
           "NumPy is imported)"]
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
        how.append("threadpoolctl.threadpool_limits(1)")
    except ImportError:
        how.append("threadpoolctl not installed")
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        how.append("torch.set_num_threads(1)")
    except (ImportError, RuntimeError):
        pass
    return "; ".join(how)


def _calibrate(fn, target: float) -> int:
    """Calls per sample so that one sample takes about ``target`` seconds."""
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            fn()
        dt = clock() - t0
        if dt >= target or number >= 1 << 20:
            return max(1, int(number * target / max(dt, 1e-9)))
        number *= 4 if dt < target / 10 else 2


def interleaved(fns: dict, repeats: int = 9, target: float = 0.02) -> dict:
    """Median seconds per call of each function, the samples of all functions interleaved
    (round r runs every function once, starting at a rotating position) so that a change of
    machine load hits them alike."""
    names = list(fns)
    numbers = {k: _calibrate(fns[k], target) for k in names}
    samples: dict = {k: [] for k in names}
    for r in range(repeats):
        for i in range(len(names)):
            k = names[(i + r) % len(names)]
            fn, number = fns[k], numbers[k]
            t0 = clock()
            for _ in range(number):
                fn()
            samples[k].append((clock() - t0) / number)
    return {k: statistics.median(v) for k, v in samples.items()}


def to_numpy(v):
    """Peers' results as NumPy (tuples kept)."""
    if isinstance(v, (tuple, list)):
        return tuple(to_numpy(x) for x in v)
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if hasattr(v, "full") and type(v).__module__.startswith("casadi"):
        v = v.full()
    return np.asarray(v, dtype=float)


def same_numbers(got, want, rtol=1e-9, atol=1e-12) -> str | None:
    """None when ``got`` equals ``want`` (pytrees of arrays) to the tolerance, else why not."""
    got, want = to_numpy(got), to_numpy(want)
    if isinstance(want, tuple):
        if not isinstance(got, tuple) or len(got) != len(want):
            return "different structure"
        for i, (a, b) in enumerate(zip(got, want)):
            why = same_numbers(a, b, rtol, atol)
            if why:
                return f"part {i}: {why}"
        return None
    a, b = np.squeeze(got), np.squeeze(want)
    if a.shape != b.shape:
        return f"shape {np.shape(got)} instead of {np.shape(want)}"
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
    err = float(np.max(np.abs(a - b), initial=0.0))
    if not np.isfinite(err) or err > atol * scale + rtol * scale:
        return f"max abs error {err:.3g} (scale {scale:.3g})"
    return None


@dataclass
class Row:
    tool: str
    seconds: float | None = None  # per call (or per build, see the workload's unit)
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Result:
    key: str
    title: str
    unit: str  # "per call", "build + first call" ...
    target: str
    rows: list = field(default_factory=list)
    verdict: str = ""  # "met", "missed: ...", measured facts
    text: str = ""  # free text (tables) added under the rows
    baseline: str = "hand-written NumPy"

    def row(self, tool):
        for r in self.rows:
            if r.tool == tool:
                return r
        return None

    def ratio(self, tool, base=None):
        a, b = self.row(tool), self.row(base or self.baseline)
        if not a or not b or a.seconds is None or b.seconds is None:
            return None
        return a.seconds / b.seconds


def timed_peers(result: Result, want, fns: dict, repeats: int, target: float,
                rtol=1e-9, atol=1e-12):
    """Check each function's numbers against ``want`` (a peer with wrong numbers is reported,
    not timed), then time the rest interleaved; rows are appended to ``result``."""
    ok = {}
    for name, (fn, note) in fns.items():
        if fn is None:
            result.rows.append(Row(name, None, note))
            continue
        try:
            why = same_numbers(fn(), want, rtol, atol)
        except Exception as e:  # a peer that fails is reported, the bench goes on
            why = f"{type(e).__name__}: {str(e)[:120]}"
        if why:
            result.rows.append(Row(name, None, f"not timed: numbers differ ({why})"))
        else:
            ok[name] = (fn, note)
    times = interleaved({k: v[0] for k, v in ok.items()}, repeats, target) if ok else {}
    for name, (fn, note) in ok.items():
        result.rows.append(Row(name, times[name], note))
    order = list(fns)
    result.rows.sort(key=lambda r: order.index(r.tool) if r.tool in order else len(order))


def machine() -> dict:
    """Facts printed at the top of the report."""
    import numpy

    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": sys.version.split()[0], "platform": platform.platform(),
            "numpy": numpy.__version__, "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        info["cpu"] = platform.processor()
    try:
        info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        pass
    try:
        import threadpoolctl

        blas = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = ", ".join(f"{p.get('internal_api')} {p.get('version')} "
                                 f"({p.get('architecture')}, {p.get('num_threads')} thread)"
                                 for p in blas)
    except ImportError:
        pass
    info["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=os.path.dirname(__file__), timeout=10).stdout.strip()
        info["gradgraph commit"] = rev or "?"
    except (OSError, subprocess.SubprocessError):
        pass
    return info
