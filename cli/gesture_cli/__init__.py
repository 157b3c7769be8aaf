"""The ``gesture`` command line: a thin layer that turns arguments into library calls."""

from .main import main

__all__ = ["main"]
