"""The deep-profile tables of the headline: per-layer time, memory by phase, Nsight runs.

Pure, like `perfsuite.report.headline` (which calls these for the results of kind "profile"):
each profile-kind result belongs to one stage, known by the section it carries or, for a result
that failed before it filled one, by its test's name; the torch.profiler ones keep their own table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from perfsuite.report.units import change, duration, si, size
from perfsuite.results.case import CaseResult

STAGE_TESTS = {"test_layers": "layers", "test_memory_timeline": "memory", "test_nsight": "nsight"}
MEMORY_PHASES = ("load", "warm-up", "timed", "profiled")


def stage_of(r: CaseResult) -> str:
    """"layers", "memory", "nsight" or "torch" (the torch.profiler pass) for a profile-kind result."""
    if r.layers is not None:
        return "layers"
    if r.memory_timeline is not None:
        return "memory"
    if r.nsight is not None:
        return "nsight"
    return STAGE_TESTS.get(r.test, "torch")


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _share(value: Any) -> str:
    return f"{100 * float(value):.1f}%" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _number(value: Any, fmt: Callable[[float | None], str]) -> str:
    return fmt(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def layer_rows(r: CaseResult) -> list[tuple[str, ...]]:
    """(case, module, type, time, share, calls, params, FLOPs) per top module; one row with the reason when none."""
    lay = r.layers
    if lay is None:
        return [(r.case.id, "-", "-", "-", "-", "-", "-", "-", f"{r.outcome}: {_short(r.reason)}")]
    rows = []
    for i, top in enumerate(lay.top):
        note = f"hooks {change(lay.hook_overhead)}" if i == 0 and lay.hook_overhead is not None else ""
        rows.append((
            r.case.id if i == 0 else "", str(top.get("module") or "<root>"), str(top.get("type") or "-"),
            _number(top.get("time_s"), duration), _share(top.get("share")), _number(top.get("calls"), lambda v: f"{v:g}"),
            _number(top.get("params"), si), _number(top.get("flops"), lambda v: si(v, "FLOP")), note,
        ))
    return rows


def memory_row(r: CaseResult) -> tuple[str, ...]:
    """(case, source, peak per phase..., notes)."""
    mt = r.memory_timeline
    if mt is None:
        return (r.case.id, "-", *("-" for _ in MEMORY_PHASES), f"{r.outcome}: {_short(r.reason)}")
    source = {"cuda": "CUDA allocated", "cpu": "host RSS"}.get(mt.device_kind, mt.device_kind)
    peaks = []
    for phase in MEMORY_PHASES:
        found = next((p for p in mt.phases if p.get("phase") == phase), None)
        if found is None:
            peaks.append("-")
            continue
        grew = found.get("peak_increase_bytes")
        peaks.append(size(found.get("peak_bytes")) + (f" (+{size(grew)})" if isinstance(grew, int) and grew > 0 else ""))
    artifact = "snapshot" if mt.snapshot else ("RSS timeline" if mt.timeline else "")
    return (r.case.id, source, *peaks, artifact)


def nsight_rows(r: CaseResult) -> list[tuple[str, ...]]:
    ns = r.nsight
    if ns is None:
        return [(r.case.id, "-", r.outcome, _short(r.reason, 80))]
    return [(r.case.id if i == 0 else "", str(run.get("tool")), str(run.get("status")),
             _short(str(run.get("report") or run.get("reason") or ""), 80)) for i, run in enumerate(ns.runs)]


def profiler_overhead(r: CaseResult) -> str:
    ratio = r.profile.overhead_ratio if r.profile is not None else None
    return change(ratio) if ratio is not None else "-"


LAYER_HEADER = ("case", "module", "type", "time/forward", "share", "calls", "params", "FLOPs", "notes")
MEMORY_HEADER = ("case", "source", *(f"{p} peak" for p in MEMORY_PHASES), "file")
NSIGHT_HEADER = ("case", "tool", "status", "report or reason")


def deep_rows(results: Sequence[CaseResult]) -> Mapping[str, list[tuple[str, ...]]]:
    """The rows of each deep-profile table, by stage; a stage without results has none."""
    out: dict[str, list[tuple[str, ...]]] = {"layers": [], "memory": [], "nsight": []}
    for r in results:
        stage = stage_of(r)
        if stage == "layers":
            out["layers"] += layer_rows(r)
        elif stage == "memory":
            out["memory"].append(memory_row(r))
        elif stage == "nsight":
            out["nsight"] += nsight_rows(r)
    return out
