"""Graph over networkx, its human views, and the builder used by tracer and rules."""

from .build import Builder  # noqa: F401
from .core import Graph, Guard, aval_str  # noqa: F401
