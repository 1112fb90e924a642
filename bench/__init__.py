"""Benchmarks: each script prints, as its last line, one JSON object of its figures."""
