"""`RuntimeSetup`: what a compiled or exported runtime did before its case was timed.

torch.compile: compile time with an empty cache (cold) and with the cache populated (warm), graphs,
graph breaks and recompiles. ONNX Runtime: export time (cold), session creation from the cached
file (warm), which exporter made the file and why a fallback was taken, the providers in use.
None of it is inside the timed rounds; it is recorded next to them (`CaseResult.runtime_setup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfsuite.results.reading import Doc

CACHE_STATES = ("cold", "warm")


@dataclass(frozen=True)
class RuntimeSetup:
    backend: str  # the runtime backend ("compile", "onnxruntime")
    cache: str  # "cold": the case started with no cached artifact; "warm": it found one
    artifact_dir: str | None = None  # out/cache/<runtime>/<hash>
    cold_s: float | None = None  # compile / export with an empty cache; None when not measured
    warm_s: float | None = None  # compile with the cache populated / ONNX session creation from the file
    # torch.compile
    graphs: int | None = None  # graphs dynamo captured (1 with no graph break)
    graph_breaks: int | None = None
    break_reasons: Mapping[str, int] = field(default_factory=dict)
    recompiles: int | None = None  # during preparation (every prepared batch ran once): none left for the timed rounds
    recompile_reasons: tuple[str, ...] = ()
    # ONNX Runtime
    exporter: str | None = None  # "dynamo", "torchscript", or "file" (a shipped .onnx)
    fallback_reason: str | None = None  # why the dynamo exporter was not used
    providers: tuple[str, ...] = ()  # execution providers of the session, in order
    notes: tuple[str, ...] = ()  # anything a reader should know (providers dropped, cached export, ...)

    def __post_init__(self) -> None:
        if self.cache not in CACHE_STATES:
            raise ValueError(f"RuntimeSetup.cache must be one of {CACHE_STATES}, not {self.cache!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "cache": self.cache,
            "artifact_dir": self.artifact_dir,
            "cold_s": self.cold_s,
            "warm_s": self.warm_s,
            "graphs": self.graphs,
            "graph_breaks": self.graph_breaks,
            "break_reasons": dict(self.break_reasons),
            "recompiles": self.recompiles,
            "recompile_reasons": list(self.recompile_reasons),
            "exporter": self.exporter,
            "fallback_reason": self.fallback_reason,
            "providers": list(self.providers),
            "notes": list(self.notes),
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> RuntimeSetup:
        cache = doc.string("cache")
        if cache not in CACHE_STATES:
            raise doc.fail("cache", f"one of {', '.join(CACHE_STATES)}", cache)
        reasons = doc.mapping("break_reasons", {})
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in reasons.values()):
            raise doc.fail("break_reasons", "an object of counts (whole numbers)", reasons)
        for key in ("cold_s", "warm_s"):
            value = doc.number(key, None)
            if value is not None and value < 0:
                raise doc.fail(key, "a duration >= 0", value)
        for key in ("graphs", "graph_breaks", "recompiles"):
            value = doc.integer(key, None)
            if value is not None and value < 0:
                raise doc.fail(key, "a count >= 0", value)
        return cls(
            backend=doc.string("backend"),
            cache=cache,
            artifact_dir=doc.string("artifact_dir", None),
            cold_s=doc.number("cold_s", None),
            warm_s=doc.number("warm_s", None),
            graphs=doc.integer("graphs", None),
            graph_breaks=doc.integer("graph_breaks", None),
            break_reasons=reasons,
            recompiles=doc.integer("recompiles", None),
            recompile_reasons=doc.strings("recompile_reasons", ()),
            exporter=doc.string("exporter", None),
            fallback_reason=doc.string("fallback_reason", None),
            providers=doc.strings("providers", ()),
            notes=doc.strings("notes", ()),
        )
