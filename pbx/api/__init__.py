"""Shared plumbing of the REST API: error rendering, strict input, pagination, permissions."""
