"""`perfsuite export [RUN_DIR] [--format csv|parquet|json] [--table cases|metrics] [-o PATH]`.

A run's tables for a spreadsheet or a notebook, from its results.json: any run, imported ones and
runs made before perfsuite wrote tables included. `cases` has one row per case (a column per
metric), `metrics` one row per case x metric (docs/tables.md). By default csv exports `cases`,
parquet and json export `metrics`, into the run's tables/ folder; `-o -` writes csv or json to
stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.run import RESULTS_FILE, RunResult, load_run

FORMATS = ("csv", "parquet", "json")
TABLES = ("cases", "metrics")


def _load(args: argparse.Namespace) -> RunResult:
    from perfsuite.commands.report import newest_readable

    if not args.run_dir:
        result, skipped = newest_readable(Path(args.out))
        for why in skipped:
            print(f"perfsuite: skipping an unreadable run: {why}", file=sys.stderr)
        return result
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise PerfDataError(f"{run_dir} is not a folder; pass a run folder (out/runs/<run>, with a {RESULTS_FILE}), or leave RUN_DIR out for the newest run")
    return load_run(run_dir)


def content(run: RunResult, fmt: str, table: str) -> tuple[bytes, int]:
    """The exported file and its row count."""
    from perfsuite.report import tables

    if table == "cases":
        records, columns = tables.case_records(run), tables.wide_columns(run)
    else:
        records, columns = tables.metric_records(run), list(tables.LONG_COLUMNS)
    if fmt == "csv":
        return tables.csv_text(columns, records).encode("utf-8"), len(records)
    if fmt == "json":
        return tables.json_text(records).encode("utf-8"), len(records)
    try:
        return tables.parquet_bytes(records, columns), len(records)
    except ImportError as exc:
        raise PerfDataError(f"--format parquet needs {tables.PARQUET_NEEDS} ({exc}); --format csv and json need neither") from None


def run(args: argparse.Namespace) -> int:
    from perfsuite.report.tables import TABLES_DIR
    from perfsuite.results.layout import atomic_write_bytes

    result = _load(args)
    table = args.table or ("cases" if args.format == "csv" else "metrics")
    if args.output == "-" and args.format == "parquet":
        raise PerfDataError("-o - (stdout) takes csv or json; Parquet is binary: give a file path")
    if result.status != "finished":
        print(f"perfsuite: note: run {result.run_dir.name} is {result.status}: exporting the {len(result.cases)} results it has", file=sys.stderr)
    data, rows = content(result, args.format, table)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return 0
    path = Path(args.output) if args.output else result.run_dir / TABLES_DIR / f"{table}.{args.format}"
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise PerfDataError(f"cannot write {path}: {exc.strerror or exc}; pass -o PATH to a writable place") from None
    print(f"wrote {path} ({rows} rows of {table}, run {result.run_dir.name})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write a run's tables as CSV, Parquet or JSON (one row per case, or per case x metric)")
    p.add_argument("run_dir", nargs="?", help="a run folder (default: the newest readable one under OUT/runs)")
    p.add_argument("--format", choices=FORMATS, default="csv", help="file format (default: csv)")
    p.add_argument("--table", choices=TABLES, help="cases: a row per case; metrics: a row per case x metric (default: cases for csv, metrics otherwise)")
    p.add_argument("-o", "--output", metavar="PATH", help="where to write; - for stdout (default: RUN_DIR/tables/TABLE.FORMAT)")
    p.add_argument("--out", default="out", help="the out/ folder to look in (default: out)")
    p.set_defaults(func=run)
