"""Optional extras of the examples: a one-line message instead of a traceback when one is
missing (the example still prints and checks its numbers)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess


def optional(module: str, extra: str, what: str):
    """``module`` imported, or None after saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        print(f"[{what} skipped: it needs {module.split('.')[0]}; "
              f"install it with: pip install \"gradgraph[{extra}]\"]")
        return None


def pyplot(what: str):
    """matplotlib.pyplot on the file-only Agg backend, or None (the [plot] extra)."""
    mpl = optional("matplotlib", "plot", what)
    if mpl is None:
        return None
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_dot(dot_text: str, stem: str) -> str | None:
    """Write ``stem.dot`` and, when Graphviz's ``dot`` program is installed, ``stem.png``;
    returns the PNG's path or None (after saying how to render it)."""
    with open(stem + ".dot", "w", encoding="utf-8") as fh:
        fh.write(dot_text)
    print(f"wrote {stem}.dot")
    exe = shutil.which("dot")
    if exe is None:
        print(f"[{stem}.png skipped: Graphviz's dot program is not installed "
              f"(Debian/Ubuntu: apt-get install graphviz); then run: "
              f"dot -Tpng {stem}.dot -o {stem}.png]")
        return None
    subprocess.run([exe, "-Tpng", stem + ".dot", "-o", stem + ".png"], check=True)
    print(f"wrote {stem}.png")
    return os.path.abspath(stem + ".png")
