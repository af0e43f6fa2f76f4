"""The error tree, and the one helper that finds the user's ``file:line``.

Every gradgraph error derives from :class:`GradgraphError` and, where one fits, from the
matching builtin (``TypeError``, ``ValueError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os
import sys

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = None


def _skip_dirs() -> tuple[str, ...]:
    global _NUMPY_DIR
    if _NUMPY_DIR is None:
        import numpy

        _NUMPY_DIR = os.path.dirname(os.path.abspath(numpy.__file__))
    return (_PKG_DIR, _NUMPY_DIR)


_short_cache: dict[str, str] = {}


def short_path(path: str) -> str:
    """A path as users read it: relative to the working directory when inside it."""
    s = _short_cache.get(path)
    if s is None:
        try:
            rel = os.path.relpath(path)
            s = path if rel.startswith("..") else rel
        except ValueError:
            s = path
        _short_cache[path] = s
    return s


_internal_cache: dict[str, bool] = {}
_USER_CODE = ("cli.py",)  # package files holding user-level example functions (the demo)


def _is_internal(filename: str) -> bool:
    r = _internal_cache.get(filename)
    if r is None:
        full = os.path.abspath(filename)
        r = full.startswith(_skip_dirs()) and os.path.basename(full) not in _USER_CODE
        r = r or filename.startswith(("<gradgraph", "<frozen"))
        _internal_cache[filename] = r
    return r


def user_loc(depth: int = 1) -> str | None:
    """``"file:line"`` of the innermost frame outside gradgraph and NumPy, or None."""
    f = sys._getframe(depth)
    while f is not None:
        fn = f.f_code.co_filename
        if not _is_internal(fn):
            return f"{short_path(fn)}:{f.f_lineno}"
        f = f.f_back
    return None


def _where(loc: str | None) -> str:
    return f"{loc}: " if loc else ""


class GradgraphError(Exception):
    """Base of every gradgraph error. ``.loc`` is the user's ``file:line`` when known."""

    def __init__(self, message: str, loc: str | None = None):
        self.loc = loc
        self.message = message
        super().__init__(_where(loc) + message)


class GradgraphTypeError(GradgraphError, TypeError):
    """A value of the wrong kind (dtype, argument type)."""


class GradgraphValueError(GradgraphError, ValueError):
    """A value of the right kind but the wrong shape, size or content."""


class UnsupportedOperationError(GradgraphError, NotImplementedError):
    """A NumPy function or method that gradgraph has no rule for yet."""


class TracerError(GradgraphError, RuntimeError):
    """A traced value used in a way tracing cannot follow (escaped, mutated, used as a shape)."""


class GuardError(GradgraphError, RuntimeError):
    """Raised by generated code when a call takes a different Python path than the trace."""


class GradgraphIndexError(GradgraphError, IndexError):
    """An index out of bounds for a traced array (as NumPy would raise)."""


class GradgraphRecursionError(GradgraphError, RecursionError):
    """The user's function recursed past Python's limit while being traced."""


class GradgraphFileNotFoundError(GradgraphError, FileNotFoundError):
    """``Function.save`` to a folder that does not exist."""


class AutogradError(GradgraphError, RuntimeError):
    """Misuse of the eager API: backward through a freed graph or a tensor without history,
    an in-place change of a value that backward needs (see gradgraph/eager.py)."""
