"""Small SVG charts drawn at build time: box plots, line charts, grouped bars, a forest plot, a scatter.

Pure functions from plain numbers to `Markup`; every piece of text and every attribute value is
escaped here, so a case id like `<script>` is drawn as text. No plotting library: the report is one
offline file, and a few hundred lines of SVG keep it small (a 500-case report stays a few MB,
where an inlined plotly bundle alone is 3.5 MB) and its charts need no JavaScript to appear.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#bab0ac")
VERDICT_COLORS = {"regressed": "#d62728", "inconclusive": "#d89b00", "ok": "#2b9a3e"}
BASE_COLOR = "#9a9a9a"
WIDTH = 580
CHAR_W = 6.6  # glyph width of the 11px sans-serif labels (DejaVu Sans' widest lowercase), for layout
TITLE_H = 22  # room for a chart's title above it
LEGEND_H = 14  # one row of a legend
MAX_LABEL = 42  # characters of a row label shown before it is cut (the whole text is in its tooltip)

Fmt = Callable[[float], str]


def el(tag: str, attrs: dict[str, object] | None = None, *children: object) -> Markup:
    """One element; attribute values and str children are escaped, Markup children are kept."""
    parts = [f"<{tag}"]
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        parts.append(f' {key}="{escape(shown)}"')
    if not children:
        return Markup("".join(parts) + "/>")
    body = "".join(str(c) if isinstance(c, Markup) else str(escape(str(c))) for c in children)
    return Markup("".join(parts) + ">" + body + f"</{tag}>")


def short(text: str, limit: int = MAX_LABEL) -> str:
    """Cut in the middle: a case id's end (batch size, device, metric) says as much as its start."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 5
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


@dataclass(frozen=True)
class Scale:
    """Data -> pixels, linear or logarithmic."""

    lo: float
    hi: float
    p0: float
    p1: float
    log: bool = False

    @classmethod
    def fit(cls, values: Iterable[float], p0: float, p1: float, *, log: bool = False, zero: bool = False) -> Scale:
        vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
        if not vals:
            return cls(0.0, 1.0, p0, p1, False)
        lo, hi = min(vals), max(vals)
        if zero and not log:
            lo = min(lo, 0.0)
        if log:
            lo, hi = lo / 1.15, hi * 1.15
        else:
            pad = (hi - lo) * 0.06 or abs(hi) * 0.1 or 1.0
            lo, hi = (lo if zero and lo == 0 else lo - pad), hi + pad
        return cls(lo, hi, p0, p1, log)

    def __call__(self, v: float) -> float:
        if self.log:
            a, b, x = math.log(self.lo), math.log(self.hi), math.log(max(v, self.lo * 1e-3))
        else:
            a, b, x = self.lo, self.hi, v
        t = (x - a) / (b - a) if b != a else 0.5
        return self.p0 + t * (self.p1 - self.p0)

    def ticks(self, n: int = 5) -> list[float]:
        if self.log:
            return _log_ticks(self.lo, self.hi)
        span = self.hi - self.lo
        raw = span / max(n, 1)
        mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5) if hi / lo < 1e3 else (1,):
            v = m * 10.0**e
            if lo <= v <= hi:
                out.append(v)
    if len(out) < 3:  # a narrow range: round linear steps read better than one or two powers of ten
        return Scale(lo, hi, 0.0, 1.0).ticks(4)
    return out


def frame(height: float, label: str, *body: Markup, width: int = WIDTH) -> Markup:
    """The <svg> of one chart: its title drawn above the body, and as the accessible name."""
    return el("svg", {"class": "chart", "viewBox": f"0 0 {width} {height + TITLE_H:.0f}", "width": width, "height": f"{height + TITLE_H:.0f}",
                      "role": "img", "aria-label": label}, el("title", None, label),
              el("text", {"x": 4, "y": 14, "class": "chart-title"}, short(label, 80)),
              el("g", {"transform": f"translate(0 {TITLE_H})"}, *body))


def _x_axis(scale: Scale, y: float, fmt: Fmt, label: str) -> list[Markup]:
    out = [el("line", {"x1": scale.p0, "x2": scale.p1, "y1": y, "y2": y, "class": "axis"})]
    for t in scale.ticks():
        x = scale(t)
        out.append(el("line", {"x1": x, "x2": x, "y1": y, "y2": y + 4, "class": "axis"}))
        out.append(el("text", {"x": x, "y": y + 15, "text-anchor": "middle", "class": "tick"}, fmt(t)))
    out.append(el("text", {"x": (scale.p0 + scale.p1) / 2, "y": y + 30, "text-anchor": "middle", "class": "axis-label"}, label))
    return out


def _grid(scale: Scale, top: float, bottom: float) -> list[Markup]:
    return [el("line", {"x1": scale(t), "x2": scale(t), "y1": top, "y2": bottom, "class": "grid"}) for t in scale.ticks()]


def label_width(labels: Iterable[str], limit: int = MAX_LABEL) -> float:
    longest = max((len(short(s, limit)) for s in labels), default=4)
    return min(12 + longest * CHAR_W, 12 + limit * CHAR_W)


def row_label(text: str, x: float, y: float, *, limit: int = MAX_LABEL) -> Markup:
    return el("text", {"x": x, "y": y, "text-anchor": "end", "dominant-baseline": "middle", "class": "row-label"},
              el("title", None, text), short(text, limit))


def legend(items: Sequence[tuple[str, str, bool]], x: float, y: float, right: float = WIDTH - 10) -> tuple[list[Markup], int]:
    """(name, colour, dashed) entries, wrapped onto as many rows as they need; returns the rows used."""
    out, x0, rows = [], x, 1
    for name, color, dashed in items:
        text = short(name, 28)
        step = 30 + len(text) * CHAR_W
        if x > x0 and x + step > right:
            x, y, rows = x0, y + LEGEND_H, rows + 1
        out.append(el("line", {"x1": x, "x2": x + 18, "y1": y, "y2": y, "stroke": color, "stroke-width": 2.5,
                               "stroke-dasharray": "4 3" if dashed else None}))
        out.append(el("text", {"x": x + 22, "y": y, "dominant-baseline": "middle", "class": "tick"}, text))
        x += step
    return out, rows if items else 0


# -- box plots ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    """Tukey box of one sample: quartiles, whiskers at the last point within 1.5 IQR, outliers beyond."""

    q1: float
    median: float
    q3: float
    low: float
    high: float
    outliers: tuple[float, ...]
    n: int

    @classmethod
    def of(cls, samples: Sequence[float], max_outliers: int = 40) -> Box:
        xs = sorted(samples)
        q1, med, q3 = (_quantile(xs, p) for p in (0.25, 0.5, 0.75))
        fence_lo, fence_hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        inside = [x for x in xs if fence_lo <= x <= fence_hi] or xs
        outliers = [x for x in xs if x < fence_lo or x > fence_hi]
        if len(outliers) > max_outliers:  # keep the extremes and an even spread between them
            step = (len(outliers) - 1) / (max_outliers - 1)
            outliers = [outliers[round(i * step)] for i in range(max_outliers)]
        return cls(q1, med, q3, inside[0], inside[-1], tuple(outliers), len(xs))


def _quantile(xs: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) of sorted `xs`."""
    pos = p * (len(xs) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(xs) - 1)
    return xs[i] + (xs[j] - xs[i]) * (pos - i)


@dataclass(frozen=True)
class BoxRow:
    label: str
    box: Box
    base: Box | None = None
    color: str = PALETTE[0]
    note: str = ""  # tooltip text after the figures


def box_chart(rows: Sequence[BoxRow], *, title: str, fmt: Fmt, axis_label: str) -> Markup:
    left = label_width(r.label for r in rows)
    row_h = 30 if any(r.base for r in rows) else 22
    top, height = 8, 8 + row_h * len(rows) + 44
    values = [v for r in rows for b in (r.box, r.base) if b for v in (b.low, b.high, *b.outliers)]
    positive = all(v > 0 for v in values)
    log = positive and bool(values) and max(values) / min(values) > 20
    scale = Scale.fit(values, left, WIDTH - 16, log=log)
    body = _grid(scale, top, top + row_h * len(rows))
    for i, r in enumerate(rows):
        mid = top + row_h * i + row_h / 2
        body.append(row_label(r.label, left - 8, mid))
        if r.base is not None:
            body.append(_box(r.base, scale, mid - 7, 6, BASE_COLOR, f"baseline: {_box_text(r.base, fmt)}"))
            body.append(_box(r.box, scale, mid + 4, 8, r.color, f"{r.label}: {_box_text(r.box, fmt)} {r.note}"))
        else:
            body.append(_box(r.box, scale, mid, 10, r.color, f"{r.label}: {_box_text(r.box, fmt)} {r.note}"))
    body += _x_axis(scale, top + row_h * len(rows) + 4, fmt, axis_label + (" (log scale)" if log else ""))
    return frame(height, title, *body)


def _box_text(b: Box, fmt: Fmt) -> str:
    return f"median {fmt(b.median)}, IQR {fmt(b.q1)}–{fmt(b.q3)}, whiskers {fmt(b.low)}–{fmt(b.high)}, {b.n} samples"


def _box(b: Box, s: Scale, mid: float, h: float, color: str, tip: str) -> Markup:
    parts = [
        el("title", None, tip),
        el("line", {"x1": s(b.low), "x2": s(b.high), "y1": mid, "y2": mid, "stroke": color, "class": "whisker"}),
        el("line", {"x1": s(b.low), "x2": s(b.low), "y1": mid - h / 3, "y2": mid + h / 3, "stroke": color, "class": "whisker"}),
        el("line", {"x1": s(b.high), "x2": s(b.high), "y1": mid - h / 3, "y2": mid + h / 3, "stroke": color, "class": "whisker"}),
        el("rect", {"x": s(b.q1), "y": mid - h / 2, "width": max(s(b.q3) - s(b.q1), 1.0), "height": h, "fill": color, "stroke": color, "class": "box"}),
        el("line", {"x1": s(b.median), "x2": s(b.median), "y1": mid - h / 2, "y2": mid + h / 2, "class": "median"}),
    ]
    parts += [el("circle", {"cx": s(v), "cy": mid, "r": 1.6, "fill": color, "class": "outlier"}) for v in b.outliers]
    return el("g", None, *parts)


# -- line charts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]  # (x, y), x ascending
    color: str
    dashed: bool = False
    in_legend: bool = True


@dataclass(frozen=True)
class Marker:
    """A labelled point on a line chart (the knee, an OOM at the x axis)."""

    x: float
    y: float | None  # None: on the x axis
    text: str
    color: str


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, y_fmt: Fmt,
               markers: Sequence[Marker] = (), y_log: bool = False, extra_legend: Sequence[tuple[str, str, bool]] = ()) -> Markup:
    entries = [(s.name, s.color, s.dashed) for s in series if s.in_legend] + list(extra_legend)
    body, legend_rows = legend(entries, 64, 10)
    left, top, plot_h = 64, 16 + LEGEND_H * legend_rows, 170
    xs = [x for s in series for x, _ in s.points] + [m.x for m in markers]
    ys = [y for s in series for _, y in s.points] + [m.y for m in markers if m.y is not None]
    x_log = bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 4
    sx = Scale.fit(xs, left, WIDTH - 20, log=x_log)
    sy = Scale.fit(ys, top + plot_h, top, log=y_log and bool(ys) and min(ys) > 0, zero=not y_log)
    for t in sy.ticks(4):
        y = sy(t)
        body.append(el("line", {"x1": left, "x2": WIDTH - 20, "y1": y, "y2": y, "class": "grid"}))
        body.append(el("text", {"x": left - 6, "y": y, "text-anchor": "end", "dominant-baseline": "middle", "class": "tick"}, y_fmt(t)))
    body.append(el("text", {"x": 12, "y": top + plot_h / 2, "class": "axis-label", "text-anchor": "middle",
                            "transform": f"rotate(-90 12 {top + plot_h / 2:.1f})"}, y_label))
    ticks = sorted({x for x in xs})
    body.append(el("line", {"x1": left, "x2": WIDTH - 20, "y1": top + plot_h, "y2": top + plot_h, "class": "axis"}))
    for t in ticks if len(ticks) <= 12 else sx.ticks():
        body.append(el("text", {"x": sx(t), "y": top + plot_h + 15, "text-anchor": "middle", "class": "tick"}, f"{t:g}"))
    body.append(el("text", {"x": (left + WIDTH - 20) / 2, "y": top + plot_h + 30, "text-anchor": "middle", "class": "axis-label"}, x_label))
    for s in series:
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
        tip = f"{s.name}: " + ", ".join(f"{x:g} → {y_fmt(y)}" for x, y in s.points)
        body.append(el("g", None, el("title", None, tip),
                       el("polyline", {"points": pts, "fill": "none", "stroke": s.color, "stroke-width": 2,
                                       "stroke-dasharray": "5 4" if s.dashed else None}),
                       *(el("circle", {"cx": sx(x), "cy": sy(y), "r": 3, "fill": s.color}) for x, y in s.points)))
    for m in markers:
        y = sy(m.y) if m.y is not None else top + plot_h
        body.append(el("g", None, el("title", None, m.text),
                       el("circle", {"cx": sx(m.x), "cy": y, "r": 6, "fill": "none", "stroke": m.color, "stroke-width": 2}),
                       el("text", {"x": sx(m.x) + 8, "y": y - 8, "class": "marker", "fill": m.color}, short(m.text, 24))))
    return frame(top + plot_h + 40, title, *body)


# -- grouped bars ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BarRow:
    label: str
    values: tuple[float | None, ...]  # one per kind; None: not measured


def bar_chart(rows: Sequence[BarRow], kinds: Sequence[str], *, title: str, fmt: Fmt, axis_label: str) -> Markup:
    shown = [i for i in range(len(kinds)) if any(r.values[i] is not None for r in rows)]
    left = label_width(r.label for r in rows)
    bar_h = 12
    row_h = bar_h * len(shown) + 10
    body, legend_rows = legend([(kinds[i], PALETTE[i % len(PALETTE)], False) for i in shown], left, 10)
    top = 12 + LEGEND_H * legend_rows
    scale = Scale.fit([v or 0.0 for r in rows for v in r.values] + [0.0], left, WIDTH - 70, zero=True)
    body += _grid(scale, top, top + row_h * len(rows))
    for r_i, r in enumerate(rows):
        y0 = top + row_h * r_i + 5
        body.append(row_label(r.label, left - 8, y0 + bar_h * len(shown) / 2))
        for k, i in enumerate(shown):
            v = r.values[i]
            if v is None:
                continue
            y = y0 + k * bar_h
            body.append(el("g", None, el("title", None, f"{r.label}: {kinds[i]} {fmt(v)}"),
                           el("rect", {"x": scale(0), "y": y, "width": max(scale(v) - scale(0), 0.5), "height": bar_h - 1.5,
                                       "fill": PALETTE[i % len(PALETTE)]}),
                           el("text", {"x": scale(v) + 4, "y": y + bar_h / 2, "dominant-baseline": "middle", "class": "bar-value"}, fmt(v))))
    body += _x_axis(scale, top + row_h * len(rows) + 2, fmt, axis_label)
    return frame(top + row_h * len(rows) + 38, title, *body)


# -- scatter -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Roof:
    """A roofline's roofs: y = min(peak, bandwidth · x), drawn as a bent line with its label."""

    label: str
    peak: float
    bandwidth: float
    color: str = "#555555"

    def at(self, x: float) -> float:
        return min(self.peak, self.bandwidth * x)


def scatter(points: Sequence[Point], *, title: str, x_label: str, y_label: str, x_fmt: Fmt, y_fmt: Fmt,
            groups: Sequence[tuple[str, str]] = (), roofs: Sequence[Roof] = ()) -> Markup:
    """Log-log points; `groups` ((name, colour), at most a row or two) make the legend; `roofs` are drawn as lines."""
    body, rows = legend([(name, color, False) for name, color in groups[:12]], 70, 10)
    left, top, plot_h = 70, 12 + LEGEND_H * rows, 220
    xs = [p.x for p in points]
    ridges = [r.peak / r.bandwidth for r in roofs if r.bandwidth > 0]
    ridges += [x / 8 for x in ridges]  # a stretch of the memory roof left of each ridge point
    sx = Scale.fit(xs + ridges, left, WIDTH - 20, log=True)
    sy = Scale.fit([p.y for p in points] + [r.peak for r in roofs] + [r.at(sx.lo) for r in roofs], top + plot_h, top, log=True)
    body += _grid(sx, top, top + plot_h)
    for t in sy.ticks():
        body.append(el("line", {"x1": left, "x2": WIDTH - 20, "y1": sy(t), "y2": sy(t), "class": "grid"}))
        body.append(el("text", {"x": left - 6, "y": sy(t), "text-anchor": "end", "dominant-baseline": "middle", "class": "tick"}, y_fmt(t)))
    body.append(el("text", {"x": 12, "y": top + plot_h / 2, "class": "axis-label", "text-anchor": "middle",
                            "transform": f"rotate(-90 12 {top + plot_h / 2:.1f})"}, y_label))
    body += _x_axis(sx, top + plot_h, x_fmt, x_label + " (log scale)")
    for r in roofs:
        xs_r = [sx.lo] + ([r.peak / r.bandwidth] if sx.lo < r.peak / r.bandwidth < sx.hi else []) + [sx.hi]
        line = " ".join(f"{sx(x):.1f},{sy(r.at(x)):.1f}" for x in xs_r)
        body.append(el("g", {"class": "roof"}, el("title", None, f"{r.label}: peak {y_fmt(r.peak)}, bandwidth {r.bandwidth:.3g} B/s"),
                       el("polyline", {"points": line, "fill": "none", "stroke": r.color, "stroke-width": 1.5, "stroke-dasharray": "5 3"}),
                       el("text", {"x": WIDTH - 24, "y": sy(r.peak) - 4, "text-anchor": "end", "class": "tick"}, short(r.label, 60))))
    for p in points:
        body.append(el("g", None, el("title", None, f"{p.label}: {x_fmt(p.x)}, {y_fmt(p.y)}"),
                       el("circle", {"cx": sx(p.x), "cy": sy(p.y), "r": 4, "fill": p.color, "fill-opacity": 0.8})))
    return frame(top + plot_h + 40, title, *body)
