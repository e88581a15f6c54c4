"""Writing a profiling artifact (trace, table, snapshot) so that a failure leaves nothing half-written.

A trace is large: a disk that fills up while it is written must not leave a truncated file that a
viewer (or the report's link) would choke on. `write_artifact` removes whatever the writer left and
raises `PerfProfileError` naming the file and the OS error, so the stage is marked failed with that
reason and the run goes on.
"""

from __future__ import annotations

import csv
import errno
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfProfileError


def remove_quietly(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:  # nothing more to do about a file we cannot remove; the error already names it
            pass


def write_failed(path: Path, what: str, exc: OSError) -> PerfProfileError:
    """The error for a file that could not be written (and was removed): names it and why."""
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or type(exc).__name__)
    return PerfProfileError(
        f"writing the {what} {path} failed ({why}: {exc}); the partial file was removed. "
        "Free space in the run folder (or point --perf-out-dir elsewhere) and rerun this stage"
    )


def write_artifact(path: Path, write: Callable[[Path], None], what: str, *, also_remove: Sequence[Path] = ()) -> Path:
    """`write(path)`; on an OSError, remove `path` (and `also_remove`) and raise `PerfProfileError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        remove_quietly(path, *also_remove)
        raise write_failed(path, what, exc) from exc
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]], what: str) -> Path:
    def write(p: Path) -> None:
        with p.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)

    return write_artifact(path, write, what)
