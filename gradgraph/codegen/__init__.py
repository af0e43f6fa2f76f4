"""NumPy source generation."""
