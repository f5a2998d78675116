"""The package version (one place; read by the package root and by saved reports)."""

__version__ = "0.1.0"
