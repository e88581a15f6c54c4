"""`perfsuite` console script: the parts of perfsuite that run without pytest."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from perfsuite import __version__
from perfsuite.errors import PerfError

# Modules under perfsuite.commands, each with `register(subparsers)`.
COMMANDS: tuple[str, ...] = ("env", "report", "export", "track", "doctor", "bootstrap", "migrate_out", "import_cmd", "list_cmd", "baseline", "compare", "ab", "init", "new", "nsys_cmd", "history", "merge", "gate")


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
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit flush
        return code
    except PerfError as exc:
        from perfsuite.config.redact import redact_urls

        print(f"perfsuite: error: {redact_urls(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `perfsuite report | head`: the reader has what it wanted. Python's documented recipe:
        # point stdout at devnull so the flush at exit does not raise again, and exit quietly.
        _stdout_to_devnull()
        return 1
    except OSError as exc:  # a file or folder the command could not use: the user's to fix, never exit 1 ("regressed")
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"perfsuite: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by an object without a file descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
