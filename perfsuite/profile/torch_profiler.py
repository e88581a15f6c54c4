"""torch.profiler over a few calls of a case: chrome trace, op table, FLOPs.

The schedule is `wait` idle steps, `warmup` steps whose events are discarded, then `active`
recorded steps (conf/profiling/torch/*.yaml). The trace is exported exactly once, from the
`on_trace_ready` handler (torch raises if the same profile is exported twice), gzipped into
`traces/<case>.json.gz`; the op table goes to `tables/<case>.ops.csv` (<case>: the case id's
safe file stem, the id itself for every id perfsuite builds from its own conf tree).

The headline op is the first op by the table's sort key that is not one of the profiler's own
step wrappers (`ProfilerStep*`, the schedule's span around each step, always on top by total
time). The profiler's overhead is measured on the same callable: the median time of a call with
the profiler recording (its active steps) against the median of as many calls without it, just
before. A profiler that fails, or a trace that cannot be written (disk full), raises
`PerfProfileError` with the reason, and no partial file is left.
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.config.schema import CaseConfig, TorchOutputSpec, TorchProfilerSpec
from perfsuite.errors import PerfProfileError
from perfsuite.profile.files import remove_quietly, write_artifact, write_csv, write_failed
from perfsuite.results.layout import path_inside

#: The profiler's own spans around each scheduled step: never the headline op.
STEP_WRAPPER_PREFIX = "ProfilerStep"
#: Unprofiled calls timed before the profiled pass (at least; as many as the active steps when more).
MIN_UNPROFILED_CALLS = 5

OP_COLUMNS = ("name", "count", "self_cpu_us", "cpu_total_us", "self_device_us", "device_total_us", "flops", "self_cpu_memory_bytes")


@dataclass(frozen=True)
class ProfilerSettings:
    """What the profiled pass does: the validated `profiling.torch` and `output.torch` sections.

    No defaults of its own: they live in the schema dataclasses, which the validator also reads.
    """

    profiling: TorchProfilerSpec = TorchProfilerSpec()
    output: TorchOutputSpec = TorchOutputSpec()

    @classmethod
    def from_config(cls, config: CaseConfig) -> ProfilerSettings:
        return cls(config.profiling.torch, config.output.torch)

    @property
    def steps(self) -> int:
        return self.profiling.steps


@dataclass(frozen=True)
class ProfileResult:
    trace_path: Path | None
    table_path: Path
    active_steps: int
    total_flops: int | None  # summed over the active steps; None when FLOP counting was off
    flops_per_call: float | None
    top_ops: tuple[dict[str, Any], ...]  # the first op_table_rows rows by sort_by
    activities: tuple[str, ...]
    dropped_activities: dict[str, str] = field(default_factory=dict)
    headline_op: str | None = None  # top op by the sort key, profiler step wrappers excluded
    overhead: ProfilerOverhead | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace": str(self.trace_path) if self.trace_path else None,
            "op_table": str(self.table_path),
            "active_steps": self.active_steps,
            "total_flops": self.total_flops,
            "flops_per_call": self.flops_per_call,
            "top_ops": list(self.top_ops),
            "activities": list(self.activities),
            "dropped_activities": dict(self.dropped_activities),
            "headline_op": self.headline_op,
            "overhead": None if self.overhead is None else self.overhead.to_dict(),
        }


@dataclass(frozen=True)
class ProfilerOverhead:
    """Median seconds per call with the profiler recording vs without it, on the same callable.

    Synchronized calls timed with perf_counter (the device's queue drained after each), so both
    medians include the same launch and sync costs; only the profiler differs.
    """

    unprofiled_median_s: float
    profiled_median_s: float
    unprofiled_calls: int
    profiled_calls: int

    @property
    def ratio(self) -> float | None:
        """profiled / unprofiled median: 1.25 means the profiler made each call 25% slower (None: no time seen)."""
        return self.profiled_median_s / self.unprofiled_median_s if self.unprofiled_median_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "unprofiled_median_s": self.unprofiled_median_s,
            "profiled_median_s": self.profiled_median_s,
            "unprofiled_calls": self.unprofiled_calls,
            "profiled_calls": self.profiled_calls,
            "ratio": self.ratio,
        }


def headline_op(rows: list[dict[str, Any]]) -> str | None:
    """The first op of the sorted table that is not a profiler step wrapper (`ProfilerStep*`)."""
    return next((r["name"] for r in rows if not str(r["name"]).startswith(STEP_WRAPPER_PREFIX)), None)


def _activities(settings: ProfilerSettings, device: str) -> tuple[list[Any], tuple[str, ...], dict[str, str]]:
    import torch
    from torch.profiler import ProfilerActivity

    chosen, names, dropped = [], [], {}
    for name in settings.profiling.activities:
        if name == "cuda" and not (device.startswith("cuda") and torch.cuda.is_available()):
            dropped[name] = "the case does not run on CUDA"
            continue
        chosen.append(ProfilerActivity.CPU if name == "cpu" else ProfilerActivity.CUDA)
        names.append(name)
    if not chosen:
        raise ValueError(f"no profiler activity left for device {device} (asked for {list(settings.profiling.activities)})")
    return chosen, tuple(names), dropped


def _op_rows(averages: Any) -> list[dict[str, Any]]:
    rows = []
    for ev in averages:
        rows.append(
            {
                "name": ev.key,
                "count": int(ev.count),
                "self_cpu_us": float(ev.self_cpu_time_total),
                "cpu_total_us": float(ev.cpu_time_total),
                "self_device_us": float(getattr(ev, "self_device_time_total", 0.0) or 0.0),
                "device_total_us": float(getattr(ev, "device_time_total", 0.0) or 0.0),
                "flops": int(getattr(ev, "flops", 0) or 0),
                "self_cpu_memory_bytes": int(getattr(ev, "self_cpu_memory_usage", 0) or 0),
            }
        )
    return rows


_SORT_KEYS = {
    "self_cpu_time_total": "self_cpu_us",
    "cpu_time_total": "cpu_total_us",
    "self_cuda_time_total": "self_device_us",
    "cuda_time_total": "device_total_us",
    "self_device_time_total": "self_device_us",
    "device_time_total": "device_total_us",
    "flops": "flops",
    "count": "count",
}
SORT_KEYS = tuple(_SORT_KEYS)


def profiler_session(settings: ProfilerSettings, device: str) -> Any:
    """torch.profiler with the case's settings, recording everything inside it (no schedule, no export).

    The memory timeline's "profiled" phase runs under it: what the profiler's own buffers cost.
    """
    from torch.profiler import profile

    activities, _, _ = _activities(settings, device)
    p = settings.profiling
    return profile(activities=activities, record_shapes=p.record_shapes, profile_memory=p.profile_memory,
                   with_stack=p.with_stack, with_flops=p.with_flops)


def _timed_call(fn: Callable[[], Any], sync: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def _gzip(raw: Path, dest: Path) -> None:
    with raw.open("rb") as src, gzip.open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst)


def profile_case(
    fn: Callable[[], Any],
    settings: ProfilerSettings,
    *,
    device: str,
    out_dir: Path,
    name: str,
    sync: Callable[[], None] = lambda: None,
) -> ProfileResult:
    """Profile `settings.steps` calls of `fn`; write the trace and op table under `out_dir`.

    `name` (a case id) may hold any text: the files are named by its safe stem
    (`perfsuite.results.layout.file_stem`), always inside `out_dir/traces` and `out_dir/tables`.
    Raises `PerfProfileError` when the profiler fails or a file cannot be written.
    """
    import torch
    from torch.profiler import profile, schedule

    prof_spec, out_spec = settings.profiling, settings.output
    if out_spec.sort_by not in _SORT_KEYS:
        raise ValueError(f"unknown op table sort key {out_spec.sort_by!r}; known: {sorted(_SORT_KEYS)}")
    activities, names, dropped = _activities(settings, device)
    traces, tables = out_dir / "traces", out_dir / "tables"
    raw_trace = path_inside(traces, name, ".json")
    trace_path = path_inside(traces, name, ".json.gz")
    table = path_inside(tables, name, ".ops.csv")
    traces.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    exported: list[Path] = []
    first_active = prof_spec.wait + prof_spec.warmup

    def on_ready(prof: Any) -> None:
        if out_spec.export_trace and not exported:  # exporting the same profile twice raises
            exported.append(raw_trace)  # before writing: a failed export still gets its partial file removed
            prof.export_chrome_trace(str(raw_trace))

    with torch.inference_mode():
        unprofiled = [_timed_call(fn, sync) for _ in range(max(MIN_UNPROFILED_CALLS, prof_spec.active))]
    step_times: list[float] = []
    try:
        with profile(
            activities=activities,
            schedule=schedule(wait=prof_spec.wait, warmup=prof_spec.warmup, active=prof_spec.active, repeat=1),
            on_trace_ready=on_ready,
            record_shapes=prof_spec.record_shapes,
            profile_memory=prof_spec.profile_memory,
            with_stack=prof_spec.with_stack,
            with_flops=prof_spec.with_flops,
        ) as prof:
            with torch.inference_mode():
                for _ in range(settings.steps):
                    step_times.append(_timed_call(fn, sync))
                    prof.step()
        averages = prof.key_averages()
    except OSError as exc:  # the trace export ran out of space (or permission) inside the profiler
        remove_quietly(raw_trace, trace_path)
        raise write_failed(raw_trace, "trace", exc) from exc
    except Exception as exc:
        remove_quietly(raw_trace, trace_path)
        raise PerfProfileError(f"torch.profiler failed on this case: {type(exc).__name__}: {exc}") from exc
    rows = _op_rows(averages)
    key = _SORT_KEYS[out_spec.sort_by]
    rows.sort(key=lambda r: r[key], reverse=True)
    try:
        write_csv(table, OP_COLUMNS, rows, "op table")
        if exported:
            write_artifact(trace_path, lambda p: _gzip(raw_trace, p), "trace", also_remove=[raw_trace])
    finally:
        remove_quietly(raw_trace)
    total = sum(r["flops"] for r in rows) if prof_spec.with_flops else None
    active_times = step_times[first_active:]
    return ProfileResult(
        trace_path=trace_path if exported else None,
        table_path=table,
        active_steps=prof_spec.active,
        total_flops=total,
        flops_per_call=(total / prof_spec.active) if total is not None else None,
        top_ops=tuple(rows[: out_spec.op_table_rows]),
        activities=names,
        dropped_activities=dropped,
        headline_op=headline_op(rows),
        overhead=ProfilerOverhead(
            unprofiled_median_s=statistics.median(unprofiled),
            profiled_median_s=statistics.median(active_times),
            unprofiled_calls=len(unprofiled),
            profiled_calls=len(active_times),
        ),
    )
