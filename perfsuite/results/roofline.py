"""A run's roofline points: each case's static analysis (FLOPs, bytes, roofs) joined with its median latency.

Derived, never measured twice: results.json carries them (`roofline`, rewritten with the cases),
and every reader can derive them again from the typed cases of an older run.
"""

from __future__ import annotations

from collections.abc import Iterable

from perfsuite.measure.roofline import RooflinePoint, roofline_point
from perfsuite.results.case import CaseResult


def roofline_points(cases: Iterable[CaseResult]) -> tuple[RooflinePoint, ...]:
    """One point per case with a passed static analysis that recorded roofs and a passed latency median."""
    cases = tuple(cases)
    medians = {c.case.id: c.stats.p50_s for c in cases
               if c.kind == "latency" and c.outcome == "passed" and c.stats is not None and c.stats.p50_s}
    out = []
    for c in cases:
        s = c.static
        if c.kind != "static" or c.outcome != "passed" or s is None or s.peak is None or not s.flops_per_call:
            continue
        median = medians.get(c.case.id)
        if median:
            out.append(roofline_point(c.case.id, float(s.flops_per_call), s.bytes_per_call, median, s.peak))
    return tuple(out)
