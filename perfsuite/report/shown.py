"""The records the HTML report draws from: a comparison's verdicts (from `compare_runs` or from a
verdicts.json the gate wrote) and one panel of charts per model."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from perfsuite.compare.verdict import VERDICTS, Comparison, Verdict
from perfsuite.results.case import CaseResult
from perfsuite.results.reading import Doc


SEVERITY = {"ok": 0, "inconclusive": 1, "regressed": 2}


def worst(verdicts: Iterable[str]) -> str:
    """A case is as bad as its worst metric."""
    return max(verdicts, key=SEVERITY.__getitem__, default="ok")


@dataclass(frozen=True)
class ShownVerdict:
    """One metric's verdict, as the report shows it: the ratio head/base and its interval."""

    case: str
    test: str
    metric: str
    verdict: str
    ratio: float
    low: float | None  # None: no interval (medians only, or an exact figure)
    high: float | None
    threshold: float
    lower_is_better: bool
    improved: bool = False
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.test}::{self.case}"

    def badness(self) -> tuple[float, float | None, float | None]:
        """(ratio, low, high) turned so that > 1 is worse, whatever the metric's direction."""
        if self.lower_is_better:
            return self.ratio, self.low, self.high
        inv = lambda x: None if x is None else 1.0 / x  # noqa: E731
        return 1.0 / self.ratio, inv(self.high), inv(self.low)

    @classmethod
    def of(cls, v: Verdict) -> ShownVerdict:
        e = v.estimate
        interval = e.method not in ("exact", "summary") and math.isfinite(e.low) and math.isfinite(e.high)
        return cls(v.case, v.test, v.metric, v.verdict, e.ratio, e.low if interval else None, e.high if interval else None,
                   v.threshold, v.lower_is_better, v.improved, v.note)

    @classmethod
    def from_doc(cls, doc: Doc) -> ShownVerdict:
        verdict = doc.string("verdict")
        if verdict not in VERDICTS:
            raise doc.fail("verdict", f"one of {', '.join(VERDICTS)}", verdict)
        method = doc.string("method", "")
        interval = method not in ("exact", "summary")
        return cls(
            case=doc.string("case"),
            test=doc.string("test"),
            metric=doc.string("metric"),
            verdict=verdict,
            ratio=doc.number("ratio"),
            low=doc.number("ci_low", None) if interval else None,
            high=doc.number("ci_high", None) if interval else None,
            threshold=doc.number("threshold"),
            lower_is_better=doc.string("direction", "lower_is_better") == "lower_is_better",
            improved=doc.boolean("improved", False),
            note=doc.string("note", ""),
        )


@dataclass(frozen=True)
class ComparisonView:
    """Verdicts of this run against a baseline, and where they came from."""

    label: str  # "baseline 'main' (saved ..., machine ...)"
    source: str  # how the report got them: "compared now", "the gate of this session", "verdicts.json"
    verdicts: tuple[ShownVerdict, ...]
    new: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    alpha: float | None = None
    tests: int | None = None
    decision: str = ""

    def by_key(self) -> dict[str, tuple[ShownVerdict, ...]]:
        out: dict[str, list[ShownVerdict]] = {}
        for v in self.verdicts:
            out.setdefault(v.key, []).append(v)
        return {k: tuple(v) for k, v in out.items()}

    def counts(self) -> dict[str, int]:
        """Metric verdicts of each kind."""
        return {w: sum(v.verdict == w for v in self.verdicts) for w in VERDICTS}

    def case_counts(self) -> dict[str, int]:
        """Cases (test and case id) of each kind, by their worst metric."""
        verdicts = [worst(v.verdict for v in vs) for vs in self.by_key().values()]
        return {w: verdicts.count(w) for w in VERDICTS}

    @classmethod
    def of(cls, comparison: Comparison, label: str, source: str, decision: str = "") -> ComparisonView:
        return cls(label, source, tuple(ShownVerdict.of(v) for v in comparison.verdicts), tuple(comparison.new),
                   tuple(comparison.removed), comparison.alpha, comparison.tests, decision)

    @classmethod
    def from_doc(cls, data: Any, file: str) -> ComparisonView:
        """A verdicts.json written by the gate (`perfsuite.report.verdicts.verdicts_doc`)."""
        doc = Doc.root(data, file)
        base = doc.mapping("base", {})
        gate = doc.mapping("gate", {})
        name = base.get("baseline") or base.get("label") or "?"
        label = f"baseline {name!r}" + (f" (saved {base['saved']}, machine {base.get('machine_id')})" if base.get("saved") else "")
        return cls(
            label=label,
            source=f"{file}, written by the gate",
            verdicts=tuple(ShownVerdict.from_doc(v) for v in doc.items("verdicts")),
            new=doc.strings("new", ()),
            removed=doc.strings("removed", ()),
            alpha=doc.number("alpha", None),
            tests=doc.integer("tests", None),
            decision=str(gate.get("decision") or ""),
        )


@dataclass(frozen=True)
class Panel:
    """The charts of one model on one dataset and device: every runtime and batch size of it."""

    anchor: str  # "panel-3": an id that holds no user text
    title: str
    open: bool
    cases: tuple[CaseResult, ...]
    charts: tuple[Markup, ...]
    notes: tuple[str, ...] = ()
