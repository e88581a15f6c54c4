"""`perfsuite import pytest-benchmark FILE [--out DIR]`: bring existing results into out/runs/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def run_pytest_benchmark(args: argparse.Namespace) -> int:
    from perfsuite.results.importer import import_pytest_benchmark
    from perfsuite.results.layout import OutLayout

    result = import_pytest_benchmark(Path(args.file), OutLayout(Path(args.out).absolute()))
    if result.already_imported:
        print(f"{args.file} was already imported as {result.run_dir}; nothing changed.")
    else:
        print(f"imported {result.benchmarks} benchmark(s) from {args.file} into {result.run_dir}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="import results written by other tools into out/runs/")
    fmt = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    pb = fmt.add_parser(
        "pytest-benchmark",
        help="a pytest-benchmark JSON (--benchmark-json, or .benchmarks/<machine>/NNNN_*.json)",
    )
    pb.add_argument("file", metavar="FILE", help="the pytest-benchmark JSON file")
    pb.add_argument("--out", default="out", metavar="DIR", help="the out/ folder to import into. Default: out")
    pb.set_defaults(func=run_pytest_benchmark)
