"""The comparison's forest plot: one row per case and metric, the change with its interval, coloured by verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from perfsuite.report.svg import BASE_COLOR, VERDICT_COLORS, Scale, el, frame, label_width, legend, row_label


@dataclass(frozen=True)
class ForestRow:
    label: str
    ratio: float  # > 1: worse
    low: float | None  # None: no interval (medians only, or an exact figure)
    high: float | None
    threshold: float  # 0.05: the verdict's limit is at 1.05
    verdict: str
    note: str = ""


FOREST_WIDTH = 1100  # the comparison's one chart gets the page's width
FOREST_LABEL = 70


def forest_plot(rows: Sequence[ForestRow], *, title: str) -> Markup:
    width = FOREST_WIDTH
    left = label_width((r.label for r in rows), FOREST_LABEL)
    row_h, top = 16, 26
    ends = [v for r in rows for v in (r.ratio, r.low, r.high, 1 + r.threshold, 1 / (1 + r.threshold)) if v and v > 0]
    lo, hi = max(min(ends, default=0.9), 0.2), min(max(ends, default=1.1), 5.0)  # beyond 5x or 1/5: drawn as clipped
    span = max(hi, 1 / lo)
    scale = Scale(1 / span / 1.05, span * 1.05, left, width - 70, log=True)
    fmt = lambda r: f"{(r - 1) * 100:+.1f}%" if abs(r - 1) < 0.1 else f"{(r - 1) * 100:+.0f}%"  # noqa: E731
    bottom = top + row_h * len(rows)
    body, _ = legend([(v, c, False) for v, c in VERDICT_COLORS.items()], left, 10, width)
    body += [el("line", {"x1": scale(t), "x2": scale(t), "y1": top, "y2": bottom, "class": "grid"}) for t in _ratio_ticks(scale)]
    body.append(el("line", {"x1": scale(1), "x2": scale(1), "y1": top, "y2": bottom, "class": "no-change"}))
    for i, r in enumerate(rows):
        mid = top + row_h * i + row_h / 2
        color = VERDICT_COLORS.get(r.verdict, BASE_COLOR)
        clip = lambda v: min(max(v, scale.lo), scale.hi)  # noqa: E731
        interval = f"[{fmt(r.low)}, {fmt(r.high)}]" if r.low is not None and r.high is not None else "(no interval)"
        parts = [el("title", None, f"{r.label}: {r.verdict}, change {fmt(r.ratio)} {interval}, threshold ±{r.threshold:.0%}. {r.note}")]
        if r.low is not None and r.high is not None:
            parts.append(el("line", {"x1": scale(clip(r.low)), "x2": scale(clip(r.high)), "y1": mid, "y2": mid, "stroke": color, "stroke-width": 2}))
        parts.append(el("line", {"x1": scale(1 + r.threshold), "x2": scale(1 + r.threshold), "y1": mid - 5, "y2": mid + 5, "class": "threshold"}))
        parts.append(el("rect", {"x": scale(clip(r.ratio)) - 3.5, "y": mid - 3.5, "width": 7, "height": 7, "fill": color}))
        parts.append(el("text", {"x": width - 64, "y": mid, "dominant-baseline": "middle", "class": "bar-value"}, fmt(r.ratio)))
        body.append(row_label(r.label, left - 8, mid, limit=FOREST_LABEL))
        body.append(el("g", {"class": f"forest-row verdict-{r.verdict}"}, *parts))
    body.append(el("line", {"x1": scale.p0, "x2": scale.p1, "y1": bottom + 2, "y2": bottom + 2, "class": "axis"}))
    for t in _ratio_ticks(scale):
        body.append(el("text", {"x": scale(t), "y": bottom + 17, "text-anchor": "middle", "class": "tick"}, fmt(t)))
    body.append(el("text", {"x": (left + width - 70) / 2, "y": bottom + 32, "text-anchor": "middle", "class": "axis-label"},
                   "change, head vs baseline (right = worse; bar = confidence interval, tick = threshold)"))
    return frame(bottom + 40, title, *body, width=width)


def _ratio_ticks(scale: Scale) -> list[float]:
    cands = (0.2, 0.5, 0.67, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0)
    inside = [t for t in cands if scale.lo <= t <= scale.hi]
    while len(inside) > 9:  # keep the ends and 1.0, thin the rest
        inside = [t for i, t in enumerate(inside) if i % 2 == 0 or t == 1.0]
    return inside
