"""Opskeeper: the Python side of the automation and compliance framework."""

__version__ = "0.1.0"
