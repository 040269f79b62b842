"""cam package."""
