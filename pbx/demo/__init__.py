"""Demo data for `make run` (top layer: it uses every app)."""
