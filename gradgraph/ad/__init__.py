"""Automatic differentiation as graph expansion: adjoint (reverse) and tangent (forward)."""
