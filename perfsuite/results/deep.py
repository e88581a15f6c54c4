"""The deep-profile parts of a result: per-layer time, memory timeline, Nsight runs.

Each is an optional section of a `CaseResult` (kind "profile"): results.json files written before
they existed read back with the section None, and a reader that does not know a section ignores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfsuite.results.reading import Doc


@dataclass(frozen=True)
class LayerSummary:
    """The layer pass: where its table is, the top modules, and what the hooks cost."""

    table: str
    passes: int
    root_time_s: float
    hooked_median_s: float
    unhooked_median_s: float
    top: tuple[Mapping[str, Any], ...] = ()  # the top_n rows (LayerRow.to_dict), slowest first
    modules: int = 0
    flops_note: str | None = None

    @classmethod
    def of(cls, timing: Any, top_n: int) -> LayerSummary:
        return cls(
            table=str(timing.table_path),
            passes=timing.passes,
            root_time_s=timing.root_time_s,
            hooked_median_s=timing.hooked_median_s,
            unhooked_median_s=timing.unhooked_median_s,
            top=tuple(r.to_dict() for r in timing.top(top_n)),
            modules=len(timing.rows),
            flops_note=timing.flops_note,
        )

    @property
    def hook_overhead(self) -> float | None:
        """hooked / unhooked median forward time (1.10: the hooks cost 10%)."""
        return self.hooked_median_s / self.unhooked_median_s if self.unhooked_median_s > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "passes": self.passes,
            "root_time_s": self.root_time_s,
            "hooked_median_s": self.hooked_median_s,
            "unhooked_median_s": self.unhooked_median_s,
            "hook_overhead": self.hook_overhead,
            "top": [dict(r) for r in self.top],
            "modules": self.modules,
            "flops_note": self.flops_note,
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> LayerSummary:
        return cls(
            table=doc.string("table"),
            passes=doc.integer("passes"),
            root_time_s=doc.number("root_time_s"),
            hooked_median_s=doc.number("hooked_median_s"),
            unhooked_median_s=doc.number("unhooked_median_s"),
            top=tuple(r.data for r in doc.items("top", [])),
            modules=doc.integer("modules", 0),
            flops_note=doc.string("flops_note", None),
        )


@dataclass(frozen=True)
class MemoryTimelineSummary:
    """The memory timeline: per-phase peaks, and the snapshot (CUDA) or RSS timeline (CPU) file."""

    device_kind: str
    table: str
    phases: tuple[Mapping[str, Any], ...]  # PhasePeak.to_dict, in phase order
    snapshot: str | None = None
    timeline: str | None = None
    samples: int = 0
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, timeline: Any) -> MemoryTimelineSummary:
        return cls(
            device_kind=timeline.device_kind,
            table=str(timeline.table_path),
            phases=tuple(p.to_dict() for p in timeline.phases),
            snapshot=None if timeline.snapshot_path is None else str(timeline.snapshot_path),
            timeline=None if timeline.timeline_path is None else str(timeline.timeline_path),
            samples=timeline.samples,
            notes=tuple(timeline.notes),
        )

    def peak_bytes(self, phase: str) -> int | None:
        for p in self.phases:
            if p.get("phase") == phase and isinstance(p.get("peak_bytes"), int):
                return int(p["peak_bytes"])
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_kind": self.device_kind,
            "table": self.table,
            "phases": [dict(p) for p in self.phases],
            "snapshot": self.snapshot,
            "timeline": self.timeline,
            "samples": self.samples,
            "notes": list(self.notes),
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> MemoryTimelineSummary:
        for i, p in enumerate(doc.items("phases", [])):
            p.string("phase"), p.integer("peak_bytes")
        return cls(
            device_kind=doc.string("device_kind"),
            table=doc.string("table"),
            phases=tuple(p.data for p in doc.items("phases", [])),
            snapshot=doc.string("snapshot", None),
            timeline=doc.string("timeline", None),
            samples=doc.integer("samples", 0),
            notes=doc.strings("notes", ()),
        )


@dataclass(frozen=True)
class NsightSummary:
    """Each Nsight tool's run on the case (NsightRun.to_dict): ran, failed or skipped, with the command."""

    runs: tuple[Mapping[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [dict(r) for r in self.runs]}

    @classmethod
    def from_doc(cls, doc: Doc) -> NsightSummary:
        for r in doc.items("runs", []):
            r.string("tool"), r.string("status"), r.string("command")
        return cls(runs=tuple(r.data for r in doc.items("runs", [])))
