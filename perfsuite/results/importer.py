"""`perfsuite import pytest-benchmark FILE`: turn a pytest-benchmark JSON into a perfsuite run folder.

The run folder `runs/<ts>_imported-<stem>/` gets the file verbatim as `benchmark.json`, an
`env.json` built from its `machine_info`/`commit_info` (marked `"imported": true`, with the keys
perfsuite's own env.json has where the source says them), a `run_config.yaml` saying where it
came from, and a `results.json` with one typed latency result per benchmark, so `perfsuite
report` (and every other reader of `load_run`) reads an imported run like a measured one. Its
statistics are pytest-benchmark's summary (p50 = median; p90/p95/p99 not established) unless the
file kept the raw per-round data (`--benchmark-save-data`), which is then summarized in full. `<ts>` is the file's own `datetime` in local time, like every run folder name.
Importing the same file twice finds the first import and does nothing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from perfsuite.errors import PerfDataError
from perfsuite.measure.stats import DEFAULT_CI_CONFIDENCE, DEFAULT_PERCENTILE_CONFIDENCE, SampleStats, summarize
from perfsuite.measure.throughput import throughput
from perfsuite.results.case import CaseInfo, CaseResult
from perfsuite.results.layout import RUN_TS_FORMAT, OutLayout, atomic_write_text, slugify
from perfsuite.results.reading import Doc
from perfsuite.results.run import ResultsWriter

STATS_REQUIRED: tuple[str, ...] = ("min", "max", "mean", "stddev", "median", "rounds")
POSITIVE_STATS = ("min", "max", "mean", "median", "rounds")  # > 0; the spread (stddev) may be 0
SOURCE_FORMAT = "pytest-benchmark"


@dataclass(frozen=True)
class ImportResult:
    run_dir: Path
    benchmarks: int
    already_imported: bool


def _bad(file: Path, what: str) -> PerfDataError:
    return PerfDataError(
        f"{file} is not a pytest-benchmark JSON file: {what}. Such files are written by "
        "`pytest --benchmark-json=FILE` or `--benchmark-save` (under .benchmarks/<machine>/NNNN_*.json)."
    )


def load_pytest_benchmark(file: Path) -> tuple[bytes, dict[str, Any]]:
    """The raw bytes and the validated content of a pytest-benchmark JSON file."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise PerfDataError(f"{file} does not exist.") from None
    except OSError as exc:
        raise PerfDataError(f"cannot read {file}: {exc.strerror}.") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _bad(file, f"it is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise _bad(file, f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); is it truncated?") from exc
    validate_pytest_benchmark(file, data)
    return raw, data


def validate_pytest_benchmark(file: Path, data: Any) -> None:
    """Raise a PerfDataError naming the first missing or wrong key."""
    if not isinstance(data, dict):
        raise _bad(file, f"the top level is a {type(data).__name__}, not an object")
    for key, kind in (("benchmarks", list), ("machine_info", dict), ("datetime", str)):
        if key not in data:
            raise _bad(file, f"the key {key!r} is missing")
        if not isinstance(data[key], kind):
            raise _bad(file, f"{key!r} is a {type(data[key]).__name__}, expected a {kind.__name__}")
    if "commit_info" in data and not isinstance(data["commit_info"], dict):
        raise _bad(file, "'commit_info' is not an object")
    if _parse_datetime(data["datetime"]) is None:
        raise _bad(file, f"'datetime' is {data['datetime']!r}, not an ISO date-time")
    if not data["benchmarks"]:
        raise _bad(file, "it holds no benchmarks (the run saved an empty list)")
    for i, bench in enumerate(data["benchmarks"]):
        where = f"benchmarks[{i}]"
        if not isinstance(bench, dict):
            raise _bad(file, f"{where} is not an object")
        if not isinstance(bench.get("name"), str):
            raise _bad(file, f"{where}.name is missing")
        stats = bench.get("stats")
        if not isinstance(stats, dict):
            raise _bad(file, f"{where}.stats is missing ({bench['name']})")
        for key in STATS_REQUIRED:
            value = stats.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise _bad(file, f"{where}.stats.{key} is {'missing' if value is None else repr(value)} ({bench['name']})")
            if value < 0 or (value == 0 and key in POSITIVE_STATS):  # nothing measured takes no or negative time
                raise _bad(file, f"{where}.stats.{key} is {value!r}, not a physical {'duration' if key != 'rounds' else 'count'} ({bench['name']})")


def _parse_datetime(text: str) -> _dt.datetime | None:
    try:
        when = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when.astimezone().replace(tzinfo=None) if when.tzinfo is not None else when


def env_from(data: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """env.json of an imported run: perfsuite's env keys where machine_info says them, and the originals."""
    mi: Mapping[str, Any] = data.get("machine_info") or {}
    ci: Mapping[str, Any] = data.get("commit_info") or {}
    cpu: Mapping[str, Any] = mi.get("cpu") if isinstance(mi.get("cpu"), dict) else {}
    platform_parts = [str(mi[k]) for k in ("system", "release", "machine") if mi.get(k)]
    return {
        "imported": True,
        "source": {"format": SOURCE_FORMAT, "file": str(source), "version": data.get("version")},
        "machine_id": None,  # perfsuite's id hashes facts pytest-benchmark does not record; baselines must not mix
        "hostname": mi.get("node"),
        "platform": "-".join(platform_parts) or None,
        "python": mi.get("python_version"),
        "cpu": {
            "model": cpu.get("brand_raw") or mi.get("processor") or None,
            "logical_cores": cpu.get("count"),
            "arch": cpu.get("arch_string_raw") or mi.get("machine"),
        },
        "packages": {"pytest-benchmark": data.get("version")},
        "cuda": {"available": None, "reason": "not recorded by pytest-benchmark"},
        "git": {"commit": ci.get("id"), "dirty": ci.get("dirty"), "branch": ci.get("branch")},
        "machine_info": dict(mi),
        "commit_info": dict(ci),
    }


def run_config_from(data: Mapping[str, Any], source: Path, raw: bytes, now: _dt.datetime) -> dict[str, Any]:
    return {
        "imported": True,
        "source": {
            "format": SOURCE_FORMAT,
            "file": str(source),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "datetime": data["datetime"],
            "version": data.get("version"),
        },
        "imported_at": now.isoformat(timespec="seconds"),
        "benchmarks": [b.get("fullname") or b["name"] for b in data["benchmarks"]],
    }


def _case_of(bench: Mapping[str, Any]) -> CaseInfo:
    """perfsuite's own case when the benchmark came from perfsuite; else one named after the test."""
    info = bench.get("extra_info")
    case = info.get("case") if isinstance(info, Mapping) else None
    if isinstance(case, Mapping):
        try:
            return CaseInfo.from_doc(Doc(case, "case", "benchmark.json"))
        except PerfDataError:
            pass  # not perfsuite's shape: fall back to the name
    name = str(bench.get("fullname") or bench["name"])
    return CaseInfo(
        id=name, model=str(bench["name"]), model_family="imported", modality="unknown", dataset="-",
        runtime="-", batch_size=1, device="unknown", precision="unknown", seed=0,
    )


def _summary_of(stats: Mapping[str, Any]) -> SampleStats:
    """pytest-benchmark's summary as perfsuite statistics; what it does not keep is marked not established."""
    why = "pytest-benchmark's summary keeps no such percentile (save runs with --benchmark-save-data)"
    mean = float(stats["mean"])
    return SampleStats(
        n=int(stats["rounds"]),
        min_s=float(stats["min"]),
        max_s=float(stats["max"]),
        mean_s=mean,
        stdev_s=float(stats["stddev"]),
        p50_s=float(stats["median"]),
        p90_s=None,
        p95_s=None,
        p99_s=None,
        iqr_s=float(stats["iqr"]) if isinstance(stats.get("iqr"), (int, float)) else None,
        cv=float(stats["stddev"]) / mean if mean > 0 else None,
        median_ci_s=None,
        ci_confidence=DEFAULT_CI_CONFIDENCE,
        percentile_confidence=DEFAULT_PERCENTILE_CONFIDENCE,
        not_established={"p90": why, "p95": why, "p99": why, "median_ci": why},
    )


def results_from(data: Mapping[str, Any], path: Path, *, started: str) -> ResultsWriter:
    """results.json of an imported run: one passed latency result per benchmark."""
    writer = ResultsWriter(path, suite=f"imported:{SOURCE_FORMAT}", device=None, started=started, imported=True)
    finished = str(data["datetime"])
    for bench in data["benchmarks"]:
        stats = bench["stats"]
        case = _case_of(bench)
        raw = stats.get("data")
        samples = tuple(float(v) for v in raw) if isinstance(raw, list) and raw and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw
        ) else None
        summary = summarize(samples) if samples else _summary_of(stats)
        writer.cases[f"{bench['name']}::{case.id}"] = CaseResult(
            test=str(bench.get("name", "")).split("[")[0] or "imported",
            kind="latency",
            case=case,
            outcome="passed",
            finished=finished,
            summary=summary,
            imported_samples_s=samples,
            throughput=throughput(summary, batch_size=case.batch_size),
            details={"imported_from": SOURCE_FORMAT, "name": bench["name"]},
        )
    writer.finish("finished")  # writes the file; the caller checks write_error
    return writer


def _previous_import(runs: Path, base: str, raw: bytes) -> Path | None:
    if not runs.is_dir():
        return None
    for entry in sorted(runs.iterdir()):
        if entry.name == base or (entry.name.startswith(base + "-") and entry.name[len(base) + 1 :].isdigit()):
            existing = entry / "benchmark.json"
            if existing.is_file() and existing.read_bytes() == raw:
                return entry
    return None


def import_pytest_benchmark(file: Path, layout: OutLayout, *, now: _dt.datetime | None = None) -> ImportResult:
    """Import `file` into `layout.runs`; the folder appears whole or not at all."""
    raw, data = load_pytest_benchmark(file)
    when = _parse_datetime(data["datetime"])
    assert when is not None  # validated
    base = f"{when.strftime(RUN_TS_FORMAT)}_imported-{slugify(file.stem)}"
    count = len(data["benchmarks"])
    previous = _previous_import(layout.runs, base, raw)
    if previous is not None:
        return ImportResult(previous, count, already_imported=True)
    layout.runs.mkdir(parents=True, exist_ok=True)
    # Build in a hidden folder, then rename: an interrupted import leaves no half run folder.
    staging = layout.runs / f".import-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        tmp = staging / ".benchmark.json.partial"
        tmp.write_bytes(raw)
        os.replace(tmp, staging / "benchmark.json")
        source = file.absolute()
        atomic_write_text(staging / "env.json", json.dumps(env_from(data, source), indent=2, sort_keys=True) + "\n")
        config = run_config_from(data, source, raw, now or _dt.datetime.now())
        atomic_write_text(staging / "run_config.yaml", yaml.safe_dump(config, sort_keys=False))
        results = results_from(data, staging / "results.json", started=when.strftime(RUN_TS_FORMAT))
        if results.write_error:
            raise PerfDataError(f"cannot write the imported run's results: {results.write_error}")
        for n in range(1, 1000):
            target = layout.runs / (base if n == 1 else f"{base}-{n}")
            if target.exists():
                continue
            os.rename(staging, target)
            return ImportResult(target, count, already_imported=False)
        raise PerfDataError(f"no free run folder name for {base} under {layout.runs}")
    finally:
        if staging.exists():
            shutil.rmtree(staging)
