"""Benchmarks: each prints its tables and writes them to BENCHMARKS.md. Run from the repository
root as modules, e.g. ``python -m bench.chess_styles``."""
