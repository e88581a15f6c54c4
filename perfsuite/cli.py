"""`perfsuite` console script: the parts of perfsuite that run without pytest."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from perfsuite import __version__
from perfsuite.errors import PerfError

# Modules under perfsuite.commands, each with `register(subparsers)`.
COMMANDS: tuple[str, ...] = ("env", "report", "bootstrap", "migrate_out", "import_cmd", "baseline", "compare", "ab")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfsuite", description="perfsuite without pytest.")
    parser.add_argument("--version", action="version", version=f"perfsuite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"perfsuite.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PerfError as exc:
        print(f"perfsuite: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
