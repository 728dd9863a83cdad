"""Benchmarks run by `make bench` (not collected by pytest). Each prints rows of one table."""
