"""results.json: every case's result, rewritten atomically after each case.

A run stopped half-way (Ctrl-C, a crash, CI's time limit) still leaves the finished cases on
disk: the file is complete and valid JSON after every case, never half-written.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.results.layout import atomic_write_text

RESULTS_SCHEMA_VERSION = 1


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON: they become null (a metric that could not be computed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class ResultsWriter:
    path: Path
    header: dict[str, Any]
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "running"

    def record(self, test: str, case_id: str, outcome: str, data: dict[str, Any]) -> None:
        """Add (or replace) one case's result and write the file."""
        self.cases[f"{test}::{case_id}"] = {
            "test": test,
            "case": case_id,
            "outcome": outcome,
            "finished": _dt.datetime.now().isoformat(timespec="seconds"),
            **data,
        }
        self.flush()

    def finish(self, status: str) -> None:
        self.status = status
        self.flush()

    def flush(self) -> None:
        doc = {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "status": self.status,
            **self.header,
            "results": list(self.cases.values()),
        }
        atomic_write_text(self.path, json.dumps(_json_safe(doc), indent=1, allow_nan=False))


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
