"""docs/benchmarks.md and the plots in docs/img/ from a list of Results."""

from __future__ import annotations

import os

HEADER = """# Benchmarks

Written by `python -m bench` (see `bench/`); do not edit by hand. Every number on this page
comes from one run on the machine below. Each tool's result is checked against the
hand-written NumPy (or gradgraph, where there is no hand-written version) before it is
timed; a tool whose numbers differ is listed as not timed. Times are CPU time of the
benchmark process (`time.process_time`, all its threads: on this shared machine other jobs'
load inflates it far less than wall time; a tool that runs helper threads, as XLA does even
when told to use one, is charged for them), medians of {repeats} interleaved samples (each sample a calibrated loop of about {target_ms:.0f} ms; round r
starts at a rotating tool, so a change in machine load hits all tools alike), single-threaded:
{threads}.

Ratios are to the hand-written NumPy of the same table, measured in the same run.
"""


def _fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _fmt_bytes(b):
    return "-" if b is None else f"{b / 2**20:.1f} MiB"


def table(r) -> str:
    if r.key in ("compile", "spine", "hvp-ratio") or r.key.startswith("sizes"):
        return r.text
    fmt = _fmt_bytes if r.unit == "bytes" else _fmt_time
    base = r.row(r.baseline)
    head = f"| tool | {r.unit} | ratio to {r.baseline} | note |"
    lines = [head, "| --- | --- | --- | --- |"]
    for row in r.rows:
        ratio = ("-" if base is None or base.seconds in (None, 0) or row.seconds is None
                 else f"{row.seconds / base.seconds:.2f}x")
        lines.append(f"| {row.tool} | {fmt(row.seconds)} | {ratio} | {row.note} |")
    return "\n".join(lines) + ("\n\n" + r.text if r.text else "")


def write(results, path, info, versions, cfg, threads, gaps, images):
    out = [HEADER.format(repeats=cfg.repeats, target_ms=cfg.target * 1e3, threads=threads)]
    out.append("## Machine and versions\n")
    out.append("| | |\n| --- | --- |")
    for k, v in list(info.items()) + [(f"{k} version", v) for k, v in versions.items()]:
        out.append(f"| {k} | {v} |")
    out.append("\nThe machine is shared (other jobs may run on its 2 cores: see `load`); the "
               "interleaving keeps ratios fair, absolute times may be high.\n")
    out.append("## Summary: targets\n")
    out.append("| workload | target | result |\n| --- | --- | --- |")
    for r in results:
        out.append(f"| {r.title} | {r.target} | {r.verdict} |")
    for r in results:
        out.append(f"\n## {r.title}\n")
        out.append(f"Target: {r.target}. **{r.verdict}**\n")
        out.append(table(r))
        if r.key in images:
            out.append(f"\n![{r.key}](img/{os.path.basename(images[r.key])})")
    if gaps:
        out.append("\n## Where targets are missed, and why\n")
        out.extend(f"- {g}" for g in gaps)
    out.append("")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    return path


def plots(results, img_dir) -> dict:
    """PNG plots (matplotlib, optional): size per order, compile time vs graph size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    os.makedirs(img_dir, exist_ok=True)
    made = {}
    for r in results:
        if r.key.startswith("sizes") and getattr(r, "extra", None):
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            for name, vals in r.extra.items():
                pts = [(k + 1, v) for k, v in enumerate(vals) if v]
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=name)
            ax.set_yscale("log")
            ax.set_xlabel("derivative order")
            ax.set_ylabel("graph size (nodes / equations)")
            ax.set_title(r.title, fontsize=10)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            p = os.path.join(img_dir, f"{r.key}.png")
            fig.tight_layout()
            fig.savefig(p, dpi=110)
            plt.close(fig)
            made[r.key] = p
        if r.key == "compile":
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            tools = {}
            for row in r.rows:
                if row.seconds is not None and "N" in row.extra:
                    tools.setdefault(row.extra["tool"], []).append((row.extra["N"], row.seconds))
            for tool, pts in tools.items():
                ax.plot(*zip(*sorted(pts)), marker="o", label=tool)
            ns = sorted({n for pts in tools.values() for n, _ in pts})
            if ns:
                ax.plot(ns, [n * 100e-6 for n in ns], "k--", lw=1, label="100 us per op")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("N (elementwise ops in the chain)")
            ax.set_ylabel("seconds to first gradient")
            ax.set_title("Compile time of the gradient vs graph size", fontsize=10)
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
            p = os.path.join(img_dir, "compile-time.png")
            fig.tight_layout()
            fig.savefig(p, dpi=110)
            plt.close(fig)
            made[r.key] = p
    return made
