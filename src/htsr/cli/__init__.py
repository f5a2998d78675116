"""The ``htsr`` command line: thin over the Python API."""

from htsr.cli.main import main

__all__ = ["main"]
