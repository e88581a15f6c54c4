"""The report's roofline: each case's achieved FLOP/s against its arithmetic intensity, under its device's roofs.

Pure: typed results in, `Markup` and a caption out. Roofs are drawn only from recorded peaks (GPU
datasheet or the CPU probe, `perfsuite.measure.peaks`); a case whose device has none is still
drawn, and the caption names why it has no roof. Runs from before bytes-moved estimates fall back
to FLOPs per weight byte on the x axis, without roofs.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from perfsuite.report import units
from perfsuite.report.charts import flops_points
from perfsuite.report.svg import PALETTE, Point, Roof, scatter
from perfsuite.results.case import CaseResult
from perfsuite.results.roofline import roofline_points


def roofline(cases: Sequence[CaseResult]) -> tuple[Markup | None, str]:
    """The roofline chart and its caption; (None, "") when no case has FLOPs and a median latency."""
    placed = [p for p in roofline_points(cases) if p.intensity]
    by_id = {c.case.id: c for c in cases if c.kind == "static"}
    if not placed:
        return _weight_bytes_view(cases)
    models = list(dict.fromkeys(by_id[p.case].case.model for p in placed))
    color = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    pts = [Point(p.intensity or 0.0, p.achieved_flops_per_s, _label(p), color[by_id[p.case].case.model]) for p in placed]
    roofs, seen, omitted = [], set(), {}
    for p in placed:
        peak = p.peak
        if peak.flops_per_s and peak.bytes_per_s and peak.omitted is None:
            key = (peak.device, peak.dtype, peak.flops_per_s, peak.bytes_per_s)
            if key not in seen:
                seen.add(key)
                roofs.append(Roof(f"{peak.device} {peak.dtype}", peak.flops_per_s, peak.bytes_per_s, "#555555" if not roofs else "#999999"))
        elif peak.omitted:
            omitted[peak.omitted] = omitted.get(peak.omitted, 0) + 1
    svg = scatter(pts, title="Roofline: achieved FLOP/s vs arithmetic intensity", x_label="FLOPs per byte moved",
                  y_label="achieved FLOP/s", x_fmt=lambda v: f"{v:.3g}", y_fmt=lambda v: units.si(v),
                  groups=[(m, color[m]) for m in models] if len(models) <= 12 else (), roofs=roofs)
    caption = ("Each point: FLOPs per call over the case's median latency, against FLOPs per byte moved (an eager, unfused "
               "estimate of weights and activations read and written; see docs/roofline.md). Dashed: the device's roofs, "
               "min(peak FLOP/s, intensity × memory bandwidth).")
    peaks = sorted({f"{p.peak.device} {p.peak.dtype} {units.si(p.peak.flops_per_s, 'FLOP/s')} and {units.size(p.peak.bytes_per_s)}/s "
                    f"({p.peak.source})" for p in placed if p.peak.flops_per_s and p.peak.bytes_per_s and p.peak.omitted is None})
    if peaks:
        caption += " Peaks: " + "; ".join(peaks) + "."
    for why, n in omitted.items():
        caption += f" No roof for {n} case(s): {why}."
    return svg, caption


def _label(p: object) -> str:
    pct = getattr(p, "pct_of_roof", None)
    return f"{getattr(p, 'case')}" + (f" ({pct:.3g}% of its roof)" if pct is not None else "")


def _weight_bytes_view(cases: Sequence[CaseResult]) -> tuple[Markup | None, str]:
    """Older runs (no bytes-moved estimate, no peaks): achieved FLOP/s against FLOPs per weight byte."""
    found = [(c, flops / weights, achieved) for c, flops, weights, _, achieved in flops_points(cases) if weights and achieved]
    if not found:
        return None, ""
    models = list(dict.fromkeys(c.case.model for c, _, _ in found))
    color = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    pts = [Point(x, y, c.case.id, color[c.case.model]) for c, x, y in found]
    svg = scatter(pts, title="Achieved FLOP/s vs arithmetic intensity", x_label="FLOPs per weight byte",
                  y_label="achieved FLOP/s", x_fmt=lambda v: f"{v:.3g}", y_fmt=lambda v: units.si(v),
                  groups=[(m, color[m]) for m in models] if len(models) <= 12 else ())
    return svg, ("Achieved FLOP/s against FLOPs per weight byte, a lower bound on arithmetic intensity. No roofs: these results "
                 "record no bytes-moved estimate or device peaks (run the static_analysis stage with this perfsuite).")
