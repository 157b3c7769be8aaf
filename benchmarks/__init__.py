"""Benchmarks on real traffic: budgeted tables and the default policy, gesture-engine vs GoRules ZEN.

Run ``python -m benchmarks --quick`` (seconds: shows everything runs and agrees) or ``python -m
benchmarks`` (about 10 minutes, with a 1,000,000-complaint batch); see docs/benchmarks.md.
"""
