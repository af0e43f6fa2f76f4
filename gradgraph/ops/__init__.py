"""The op table. Importing this package registers every op family."""

from . import einsum, elementwise, linalg, linalg_inv, random, reduce, shape  # noqa: F401  (registration)
from .registry import IDENTITY, NEGATE, OPS, Op, get, register  # noqa: F401
