"""Subcommands of the `perfsuite` console script, one module each.

Each module defines `register(subparsers)` that adds its parser and sets `func` (args -> exit code).
"""
