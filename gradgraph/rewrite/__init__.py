"""Graph rewrites: ``gg.simplify`` and its passes."""

from .simplify import simplify  # noqa: F401
