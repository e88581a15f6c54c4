"""A run's results.json: written after every case by `ResultsWriter`, read back by `load_run`.

A run stopped half-way (Ctrl-C, SIGTERM, a crash, CI's time limit) still leaves the finished
cases on disk: the file is complete, valid JSON after every case, never half-written, and ends
with a final status (`finished`, `interrupted` or `error` with the message). A write that fails
(read-only folder, full disk) never loses what was measured: the results stay in memory, the
session goes on, and the failure is reported once at the end.

Every reader (terminal table, `perfsuite report`, the gate and the reports) goes through
`load_run(dir)` and gets typed objects; a file of the right shape but with wrong inner types is
a `PerfDataError` naming the key, never an AttributeError.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.measure.throughput import SweepAnalysis, SweepRow
from perfsuite.results.case import CaseResult
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.reading import Doc
from perfsuite.results.roofline import RooflinePoint, roofline_points

RESULTS_SCHEMA_VERSION = 2
RUN_STATUSES = ("running", "finished", "interrupted", "error")
RESULTS_FILE = "results.json"


def json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: they become null (a metric that could not be computed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class SweepResult:
    """The throughput/latency curve of one case group over its batch sizes."""

    group: str  # model-dataset-runtime-device
    test: str
    analysis: SweepAnalysis

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "test": self.test, **self.analysis.to_dict()}

    @classmethod
    def from_doc(cls, doc: Doc) -> SweepResult:
        rows = []
        for row in doc.items("rows"):
            rows.append(
                SweepRow(
                    batch_size=row.integer("batch_size"),
                    status=row.string("status"),
                    latency_p50_s=row.number("latency_p50_s", None),
                    latency_p99_s=row.number("latency_p99_s", None),
                    samples_per_s=row.number("samples_per_s", None),
                    gain_per_doubling=row.number("gain_per_doubling", None),
                    reason=row.string("reason", None),
                )
            )
        analysis = SweepAnalysis(
            rows=tuple(rows),
            knee_batch_size=doc.integer("knee_batch_size", None),
            knee_reason=doc.string("knee_reason", ""),
            best_batch_size=doc.integer("best_batch_size", None),
            min_gain=doc.number("min_gain"),
        )
        return cls(group=doc.string("group"), test=doc.string("test"), analysis=analysis)


@dataclass(frozen=True)
class RunResult:
    """Everything results.json says about one run, typed."""

    run_dir: Path
    status: str
    suite: str | None
    device: str | None
    started: str | None
    cases: tuple[CaseResult, ...]
    sweeps: tuple[SweepResult, ...] = ()
    error: str | None = None
    ended: str | None = None
    imported: bool = False

    def of_kind(self, kind: str) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if c.kind == kind)

    @property
    def roofline(self) -> tuple[RooflinePoint, ...]:
        """Each case's place on its device's roofline (static analysis + median latency); derived."""
        return roofline_points(self.cases)


@dataclass
class ResultsWriter:
    """Holds a run's results in memory and rewrites results.json after every change."""

    path: Path
    suite: str | None
    device: str | None
    started: str | None
    imported: bool = False
    cases: dict[str, CaseResult] = field(default_factory=dict)
    sweeps: list[SweepResult] = field(default_factory=list)
    status: str = "running"
    error: str | None = None
    ended: str | None = None
    write_error: str | None = None  # the first failed write: reported at the end of the session
    keep: dict[str, str] = field(default_factory=dict)  # file name -> text: the run folder's other files, restored with it
    lost: str | None = None  # set when the run folder vanished mid-run and was restored: what could not be


    def record(self, result: CaseResult) -> None:
        """Add (or replace) one case's result and write the file."""
        self.cases[result.key] = result
        self.flush()

    def finish(self, status: str, *, error: str | None = None, sweeps: Iterable[SweepResult] = ()) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
        self.status = status
        self.error = error
        self.sweeps = list(sweeps) or self.sweeps
        self.ended = _dt.datetime.now().isoformat(timespec="seconds")
        self.flush()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "status": self.status,
            "error": self.error,
            "suite": self.suite,
            "device": self.device,
            "started": self.started,
            "ended": self.ended,
            "imported": self.imported,
            "results": [c.to_dict() for c in self.cases.values()],
            "sweeps": [s.to_dict() for s in self.sweeps],
            # Derived from the cases (readers derive it again): achieved FLOP/s and % of the device's peaks.
            "roofline": [p.to_dict() for p in roofline_points(self.cases.values())],
        }

    def flush(self) -> bool:
        """Write results.json; on failure keep everything in memory, remember why, return False.

        A run folder deleted while the run goes on (a cleanup job, `rm -rf out/runs/*`) is made
        again with the files kept in memory (``keep``: env.json, run_config.yaml) and results.json,
        and ``lost`` says so: what else it held (traces, tables written so far) is gone.
        """
        folder = self.path.parent
        if self.keep and not folder.is_dir() and self.lost is None:
            self.lost = (f"the run folder {folder} was deleted while the run was going on; perfsuite made it again with "
                         f"results.json and {', '.join(sorted(self.keep))}, but the traces and files written into it before are gone")
            try:
                for name, text in self.keep.items():
                    atomic_write_text(folder / name, text)
            except OSError:
                pass  # the results.json write below says why
        try:
            text = json.dumps(json_safe(self.to_dict()), indent=1, allow_nan=False)
            atomic_write_text(self.path, text)
        except OSError as exc:
            if self.write_error is None:
                self.write_error = f"cannot write {self.path}: {exc.strerror or exc}"
            return False
        return True

    def snapshot(self) -> RunResult:
        """The results held in memory, as a reader would load them."""
        return RunResult(
            run_dir=self.path.parent,
            status=self.status,
            suite=self.suite,
            device=self.device,
            started=self.started,
            cases=tuple(self.cases.values()),
            sweeps=tuple(self.sweeps),
            error=self.error,
            ended=self.ended,
            imported=self.imported,
        )


def load_run(run_dir: Path) -> RunResult:
    """Read and validate `run_dir/results.json` into typed results."""
    path = Path(run_dir) / RESULTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PerfDataError(f"{run_dir} has no {RESULTS_FILE} (is it a perfsuite run folder?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfDataError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PerfDataError(f"{path} is not valid JSON ({exc}); the run may have been killed while writing") from None
    return parse_run(data, run_dir=Path(run_dir), file=str(path))


def parse_run(data: Any, *, run_dir: Path, file: str) -> RunResult:
    """Validate a results document (results.json, or the copy inside a baseline) into a RunResult."""
    doc = Doc.root(data, file)
    version = doc.integer("schema_version")
    if version != RESULTS_SCHEMA_VERSION:
        raise PerfDataError(
            f"{file} has results schema_version {version}; this perfsuite reads {RESULTS_SCHEMA_VERSION}. "
            "Re-run the benchmarks with this version to get a readable run."
        )
    status = doc.string("status")
    if status not in RUN_STATUSES:
        raise doc.fail("status", f"one of {', '.join(RUN_STATUSES)}", status)
    return RunResult(
        run_dir=run_dir,
        status=status,
        suite=doc.string("suite", None),
        device=doc.string("device", None),
        started=doc.string("started", None),
        cases=tuple(CaseResult.from_doc(c) for c in doc.items("results")),
        sweeps=tuple(SweepResult.from_doc(s) for s in doc.items("sweeps", [])),
        error=doc.string("error", None),
        ended=doc.string("ended", None),
        imported=doc.boolean("imported", False),
    )


def latest_run(out: Path) -> Path:
    """The newest run folder under `out/runs` that has a results.json."""
    runs_dir = Path(out) / "runs"
    runs = sorted(p for p in runs_dir.iterdir() if (p / RESULTS_FILE).is_file()) if runs_dir.is_dir() else []
    if not runs:
        raise PerfDataError(f"no run folder with a {RESULTS_FILE} under {runs_dir}; run `pytest benches` first or pass RUN_DIR")
    return runs[-1]
