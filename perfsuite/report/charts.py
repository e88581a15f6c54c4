"""The report's charts, from typed results: per-model panels (latency distributions, throughput and
latency vs batch size, memory by kind), the comparison's forest plot, and the FLOPs table (the roofline
chart is `perfsuite.report.roofline_chart`). Pure: results in, `Markup` out (drawn by `perfsuite.report.svg`)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from perfsuite.report import units
from perfsuite.report.shown import SEVERITY, ComparisonView, Panel, ShownVerdict
from perfsuite.report.svg import BASE_COLOR, PALETTE, VERDICT_COLORS, BarRow, Box, BoxRow, Marker, Series, bar_chart, box_chart, line_chart
from perfsuite.report.svg_forest import ForestRow, forest_plot
from perfsuite.results.case import CaseResult
from perfsuite.results.run import RunResult, SweepResult

FOREST_ROWS = 80  # rows drawn in the forest plot: the worst first; the table lists every verdict
MEMORY_KINDS = ("weights", "own host RSS", "process RSS peak", "host RSS growth", "CUDA max allocated", "CUDA max reserved")


def _rate(v: float) -> str:
    return units.si(v) + "/s"


def _memory(c: CaseResult) -> tuple[float | None, ...]:
    m = c.memory
    if m is None:
        return (None,) * len(MEMORY_KINDS)
    host, cuda = m.host, m.cuda
    return (
        float(m.weights_bytes) if m.weights_bytes is not None else None,
        float(host.own_peak_bytes) if host and host.own_peak_bytes is not None else None,
        float(host.rss_peak_bytes) if host else None,
        float(max(host.rss_peak_bytes - host.rss_start_bytes, 0)) if host else None,
        float(cuda.max_allocated_bytes) if cuda else None,
        float(cuda.max_reserved_bytes) if cuda else None,
    )


def _boxes(c: CaseResult, base: CaseResult | None) -> list[tuple[str, Box, Box | None]]:
    """(suffix, box, baseline box) for each sampled figure of a timed case."""
    def box(samples: Sequence[float] | None) -> Box | None:
        return Box.of(samples) if samples else None

    if c.kind == "generation" and c.generation is not None:
        g, bg = c.generation, base.generation if base is not None else None
        out = []
        for name, head, old in (("TTFT", g.ttft_samples_s, bg.ttft_samples_s if bg else None), ("e2e", g.e2e_samples_s, bg.e2e_samples_s if bg else None)):
            b = box(head)
            if b is not None:
                out.append((f" · {name}", b, box(old)))
        return out
    b = box(c.samples_s)
    return [("", b, box(base.samples_s if base is not None else None))] if b is not None else []


def model_panels(cases: Sequence[CaseResult], sweeps: Sequence[SweepResult], baseline: RunResult | None, *, open_first: int) -> list[Panel]:
    """One panel per model × dataset × device, holding every runtime and batch size of it."""
    timed = [c for c in cases if c.kind in ("latency", "generation", "scenario")]
    runtimes = list(dict.fromkeys(c.case.runtime for c in timed))
    color = {rt: PALETTE[i % len(PALETTE)] for i, rt in enumerate(runtimes)}
    groups: dict[tuple[str, str, str], list[CaseResult]] = {}
    for c in timed:
        groups.setdefault((c.case.model, c.case.dataset, c.case.device), []).append(c)
    base = {c.key: c for c in baseline.cases if c.outcome == "passed"} if baseline is not None else {}
    knees = {(s.test, s.group): s for s in sweeps}
    panels = []
    for i, ((model, dataset, device), members) in enumerate(groups.items()):
        members.sort(key=lambda c: (runtimes.index(c.case.runtime), c.kind, c.case.batch_size))
        charts, notes = _panel_charts(members, base, knees, color)
        title = f"{model} · {dataset} · {device}"
        panels.append(Panel(f"panel-{i}", title, i < open_first, tuple(members), tuple(charts), tuple(notes)))
    return panels


def model_note(result: CaseResult) -> str | None:
    """What the built model says about itself (details.model.note): e.g. a snapshot's own code that was not run."""
    model = result.details.get("model") if isinstance(result.details, dict) else None
    note = model.get("note") if isinstance(model, dict) else None
    return f"model {result.case.model}: {note}" if isinstance(note, str) and note else None


def generated_text_line(result: CaseResult) -> str | None:
    """What a real model answered to the case's first prompt (greedy): the reader's check that it is a real model."""
    g = result.generation
    if g is None or g.output_text is None:
        return None
    text = " ".join(g.output_text.split())
    line = f"{result.case.id} answered the first prompt: {(text if len(text) <= 160 else text[:157] + '...')!r}"
    tokens = result.details.get("token_parity") if isinstance(result.details, dict) else None
    if isinstance(tokens, dict) and isinstance(tokens.get("match"), int) and isinstance(tokens.get("tokens"), int):
        line += f" (greedy tokens as eager fp32's: {tokens['match']} of {tokens['tokens']})"
    return line


def _panel_charts(members: list[CaseResult], base: dict[str, CaseResult], knees: dict[tuple[str, str], SweepResult],
                  color: dict[str, str]) -> tuple[list[Markup], list[str]]:
    charts: list[Markup] = []
    notes = [f"{c.case.runtime} · bs{c.case.batch_size} ({c.test}): {c.outcome}" + (f": {_clip(c.reason)}" if c.reason else "")
             for c in members if c.outcome != "passed"]
    notes += list(dict.fromkeys(n for n in map(model_note, members) if n))
    notes += [n for n in map(generated_text_line, members) if n]
    passed = [c for c in members if c.outcome == "passed"]
    rows = [BoxRow(f"{c.case.runtime} · bs{c.case.batch_size}{suffix}", b, old, color[c.case.runtime],
                   "(noisy: " + ", ".join(c.noise_codes) + ")" if c.noise_codes else "")
            for c in passed for suffix, b, old in _boxes(c, base.get(c.key))]
    if rows:
        charts.append(box_chart(rows, title="Latency distribution per case", fmt=units.duration,
                                axis_label="time per call" + ("; grey: baseline" if any(r.base for r in rows) else "")))
    unsampled = [c.case.id for c in passed if c.kind == "latency" and not c.samples_s]
    if unsampled:
        notes.append(f"{len(unsampled)} case(s) kept no raw samples (imported, or save_raw_samples: false): medians only, in the table")
    latency = [c for c in passed if c.kind == "latency"]
    by_rt: dict[str, list[CaseResult]] = {}
    for c in latency:
        by_rt.setdefault(c.case.runtime, []).append(c)
    if any(len({c.case.batch_size for c in cs}) >= 2 for cs in by_rt.values()):
        charts += _sweep_charts(by_rt, base, knees, color, [c for c in members if c.outcome == "oom"])
    charts += [chart for c in passed if c.kind == "scenario" and (chart := scenario_chart(c)) is not None]
    chart, note = _memory_chart([c for c in latency if c.memory is not None])
    charts += [chart] if chart is not None else []
    notes += [note] if note else []
    return charts, notes


def scenario_chart(c: CaseResult) -> Markup | None:
    """A sweep's latency vs offered rate (p50, p99), the SLO's latency line, the max rate and the knee; None without a sweep."""
    s = c.scenario
    sweep = s.sweep if s is not None else None
    if s is None or sweep is None or not sweep.points:
        return None
    points = sorted(sweep.points, key=lambda p: p.rate_per_s)
    series = [Series("p50", tuple((p.rate_per_s, p.latency_p50_s) for p in points if p.latency_p50_s), PALETTE[0]),  # type: ignore[misc]
              Series("p99", tuple((p.rate_per_s, p.latency_p99_s) for p in points if p.latency_p99_s), PALETTE[1], dashed=True)]  # type: ignore[misc]
    slo_ms = (s.slo or {}).get("latency_ms")
    if isinstance(slo_ms, (int, float)):
        q = (s.slo or {}).get("attainment", 0.99)
        ends = (points[0].rate_per_s, points[-1].rate_per_s)
        series.append(Series(f"SLO: p{q * 100:g} <= {units.duration(slo_ms * 1e-3)}", tuple((x, slo_ms * 1e-3) for x in dict.fromkeys(ends)),
                             VERDICT_COLORS["regressed"], dashed=True))
    at = {p.rate_per_s: p.latency_p99_s or p.latency_p50_s for p in points}
    markers = []
    if sweep.max_rate_per_s is not None:
        markers.append(Marker(sweep.max_rate_per_s, at.get(sweep.max_rate_per_s), f"max rate {_rate(sweep.max_rate_per_s)}", VERDICT_COLORS["ok"]))
    if sweep.knee_rate_per_s is not None:
        markers.append(Marker(sweep.knee_rate_per_s, at.get(sweep.knee_rate_per_s), f"knee {_rate(sweep.knee_rate_per_s)}", PALETTE[2]))
    title = f"{c.case.runtime} · bs{c.case.batch_size} · {s.name}: latency vs offered rate ({sweep.status})"
    return line_chart([x for x in series if x.points], title=title, x_label="offered rate (requests/s)", y_label="latency per request",
                      y_fmt=units.duration, y_log=True, markers=markers)


def _memory_chart(cases: list[CaseResult]) -> tuple[Markup | None, str]:
    """Bars per case and kind; a kind with the same value in every case (the weights) is said once instead."""
    rows = [BarRow(f"{c.case.runtime} · bs{c.case.batch_size}", _memory(c)) for c in cases]
    same = [i for i in range(len(MEMORY_KINDS)) if len(rows) > 1 and rows[0].values[i] is not None and len({r.values[i] for r in rows}) == 1]
    note = "; ".join(f"{MEMORY_KINDS[i]}: {units.size(rows[0].values[i])} in every case" for i in same)
    rows = [BarRow(r.label, tuple(None if i in same else v for i, v in enumerate(r.values))) for r in rows]
    if not any(v is not None for r in rows for v in r.values):
        return None, note
    return bar_chart(rows, MEMORY_KINDS, title="Memory by kind", fmt=units.size, axis_label="bytes (binary units)"), note


def _clip(text: str | None, limit: int = 120) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sweep_charts(by_rt: dict[str, list[CaseResult]], base: dict[str, CaseResult], knees: dict[tuple[str, str], SweepResult],
                  color: dict[str, str], ooms: list[CaseResult]) -> list[Markup]:
    tput, lat, markers = [], [], []
    for rt, cs in by_rt.items():
        cs = sorted(cs, key=lambda c: c.case.batch_size)
        pts = tuple((float(c.case.batch_size), c.throughput.samples_per_s) for c in cs if c.throughput and c.throughput.samples_per_s)
        tput.append(Series(rt, pts, color[rt]))  # type: ignore[arg-type]
        old = tuple((float(c.case.batch_size), b.throughput.samples_per_s) for c in cs
                    if (b := base.get(c.key)) is not None and b.throughput and b.throughput.samples_per_s)
        if old:
            tput.append(Series(f"{rt} (baseline)", old, color[rt], dashed=True, in_legend=False))  # type: ignore[arg-type]
        lat.append(Series(f"{rt} p50", tuple((float(c.case.batch_size), c.stats.p50_s) for c in cs if c.stats and c.stats.p50_s), color[rt]))  # type: ignore[arg-type]
        p99 = tuple((float(c.case.batch_size), c.stats.p99_s) for c in cs if c.stats and c.stats.p99_s)
        if p99:
            lat.append(Series(f"{rt} p99", p99, color[rt], dashed=True))  # type: ignore[arg-type]
        sweep = knees.get((cs[0].test, cs[0].case.group))
        knee = sweep.analysis.knee_batch_size if sweep else None
        at = dict(pts)
        if knee is not None and float(knee) in at:
            markers.append(Marker(float(knee), at[float(knee)], f"{rt}: knee at bs{knee}", color[rt]))
    for c in ooms:
        markers.append(Marker(float(c.case.batch_size), None, f"{c.case.runtime}: OOM at bs{c.case.batch_size}", VERDICT_COLORS["regressed"]))
    return [
        line_chart([s for s in tput if s.points], title="Throughput vs batch size", x_label="batch size", y_label="samples/s",
                   y_fmt=_rate, markers=markers, extra_legend=[("baseline", BASE_COLOR, True)] if any(s.dashed for s in tput) else ()),
        line_chart([s for s in lat if s.points], title="Latency vs batch size", x_label="batch size", y_label="latency per call",
                   y_fmt=units.duration, y_log=True),
    ]


def _unchanged(v: ShownVerdict) -> bool:
    """An ok exact figure (weights, FLOPs) that did not move: nothing to draw."""
    return v.verdict == "ok" and v.low is None and abs(v.ratio - 1.0) < 1e-3


def forest(comparison: ComparisonView) -> tuple[Markup | None, str]:
    """The forest plot of change ratios, worst first; throughput is left out (it mirrors latency)."""
    shown = [v for v in comparison.verdicts if v.metric != "throughput" and not _unchanged(v)]
    shown.sort(key=lambda v: (-SEVERITY[v.verdict], -v.badness()[0]))
    if not shown:
        return None, "nothing to draw: no case passed on both sides, or only unchanged exact figures were compared"
    rows = []
    for v in shown[:FOREST_ROWS]:
        ratio, low, high = v.badness()
        rows.append(ForestRow(f"{v.case} · {v.metric}", ratio, low, high, v.threshold, v.verdict, v.note))
    note = f"showing the {FOREST_ROWS} worst of {len(shown)} verdicts; the case table lists every one" if len(shown) > FOREST_ROWS else ""
    return forest_plot(rows, title="Change vs baseline per case and metric"), note


def _achieved(cases: Sequence[CaseResult]) -> dict[str, tuple[float, float | None]]:
    """case id -> (median latency, weights bytes) of its passed latency result."""
    out = {}
    for c in cases:
        if c.kind == "latency" and c.outcome == "passed" and c.stats and c.stats.p50_s:
            out[c.case.id] = (c.stats.p50_s, float(c.memory.weights_bytes) if c.memory and c.memory.weights_bytes else None)
    return out


def flops_points(cases: Sequence[CaseResult]) -> list[tuple[CaseResult, float, float | None, float | None, float | None]]:
    """(case, FLOPs per call, weights bytes, p50 latency, achieved FLOP/s) from static results, else profiles."""
    timed = _achieved(cases)
    found: dict[str, tuple[CaseResult, float, float | None]] = {}
    for c in cases:
        if c.kind == "static" and c.static is not None:
            found[c.case.id] = (c, float(c.static.flops_per_call), float(c.static.weights_bytes))
    for c in cases:
        if c.kind == "profile" and c.profile is not None and c.profile.flops_per_call and c.case.id not in found:
            found[c.case.id] = (c, c.profile.flops_per_call, None)
    out = []
    for cid, (c, flops, weights) in found.items():
        p50, timed_weights = timed.get(cid, (None, None))
        weights = weights or timed_weights
        out.append((c, flops, weights, p50, flops / p50 if p50 else None))
    return out


def flops_rows(cases: Sequence[CaseResult]) -> list[dict[str, str]]:
    from perfsuite.results.roofline import roofline_points

    rows = []
    placed = {p.case: p for p in roofline_points(cases)}
    for c, flops, weights, p50, achieved in flops_points(cases):
        s, point = c.static, placed.get(c.case.id)
        peak = point.peak if point is not None else (s.peak if s is not None else None)
        if point is not None and point.pct_of_peak_flops is not None:
            of_peak = f"{point.pct_of_peak_flops:.3g}%" + (f" ({point.bound}-bound)" if point.bound else "")
        else:
            of_peak = "–" if peak is None or peak.omitted is None else "no peak (see the roofline's caption)"
        rows.append({
            "moved": units.size(s.bytes_per_call, "–") if s is not None else "–",
            "ai": f"{s.flops_per_byte:.3g}" if s is not None and s.flops_per_byte else "–",
            "of_peak": of_peak,
            "attention": ("not counted: " + s.attention_not_counted) if s is not None and s.attention_not_counted else "",
            "id": c.case.id, "source": "static analysis" if c.kind == "static" else "profiler",
            "params": units.si(c.static.params) if c.static else "–", "weights": units.size(weights, "–"),
            "flops": units.si(flops, "FLOP"), "intensity": f"{flops / weights:.3g}" if weights else "–",
            "p50": units.duration(p50, "–"), "achieved": units.si(achieved, "FLOP/s") if achieved else "–",
        })
    return rows
