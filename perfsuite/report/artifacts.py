"""What the end of a benchmark session writes into the run folder besides results.json.

`tables/cases.csv`, `tables/metrics.parquet` (`perfsuite.report.tables`) and `summary.md`
(`perfsuite.report.markdown`). The plugin calls `write_run_files` inside its guard, so a bug here
becomes one reported problem, never a changed exit code or a lost result; a file that cannot be
written (a read-only or full disk) is a warning, since results.json, the record, is already saved.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from perfsuite.report.markdown import write_run_summary
from perfsuite.report.tables import PerfTablesWarning, write_run_tables
from perfsuite.results.run import RunResult


def write_run_files(run: RunResult) -> list[Path]:
    """Write the run's tables and summary.md; the paths written."""
    written: list[Path] = []
    writers: tuple[Callable[[RunResult], list[Path]], ...] = (write_run_tables, lambda r: [write_run_summary(r)])
    for write in writers:
        try:
            written += write(run)
        except OSError as exc:
            warnings.warn(PerfTablesWarning(f"perfsuite could not write into {run.run_dir}: {exc.strerror or exc} ({exc.filename or ''})"), stacklevel=2)
    return written
