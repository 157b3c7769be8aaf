"""Benchmarks: one first-hit decision table, many engines, one table of µs per decision.

Run ``python -m benchmarks --quick`` (under a minute) or ``python -m benchmarks`` (full); see
docs/benchmarks.md.
"""
