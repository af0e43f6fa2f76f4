"""gradgraph: trace plain NumPy into a networkx graph, differentiate it by adding adjoint
and tangent nodes, simplify it, and compile it back to readable NumPy."""

from . import config  # noqa: F401
from .ad.adjoint import adjoint
from .ad.tangent import tangent
from .api import (compile, derivative, detach, elementwise_grad, grad, hessian, hvp,
                  jacfwd, jacobian, jacrev, jvp, stop_gradient, value_and_grad, vjp)
from .checks import verify
from .codegen.driver import codegen
from .eager import Tensor, no_grad, tensor
from .errors import GradgraphError, UnsupportedOperationError
from .explain import explain
from .function import Function
from .graph.core import Graph
from .rewrite import simplify
from .rewrite.sizes import sizes  # an addition to API.md: node counts per derivative order
from .symbolic import to_sympy
from .trace import trace

__version__ = "0.1.0"

__all__ = [
    "compile", "grad", "value_and_grad", "elementwise_grad", "jacrev", "jacfwd", "jacobian",
    "hessian", "hvp", "derivative", "jvp", "vjp", "stop_gradient", "detach", "Function",
    "trace", "Graph", "adjoint", "tangent", "simplify", "codegen", "GradgraphError",
    "UnsupportedOperationError", "config", "to_sympy", "verify", "explain",
    "tensor", "Tensor", "no_grad",
]
