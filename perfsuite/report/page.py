"""What the HTML report shows, built from typed results. Pure: no file is read here.

`ReportInputs` is everything `perfsuite.report.html` found in a run folder (each part may be
missing, and `problems` says what is); `build_page` turns it into a `Page`, the template's only
context: header facts, banners, the case table as JSON, one panel of charts per model, the
comparison's forest plot, profiles and FLOPs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from perfsuite.report import units
from perfsuite.compare.speedup import speedups
from perfsuite.report.charts import flops_rows, forest, model_panels
from perfsuite.report.deep_tables import LAYER_HEADER, MEMORY_HEADER, NSIGHT_HEADER, deep_rows, profiler_overhead
from perfsuite.report.roofline_chart import roofline
from perfsuite.report.shown import ComparisonView, Panel, worst
from perfsuite.report.trend import trend_rows
from perfsuite.results.case import CaseResult
from perfsuite.results.run import RunResult

OPEN_PANELS = 6  # panels drawn open; the rest are closed <details> the browser lays out on demand
TIMED = ("latency", "generation")


@dataclass(frozen=True)
class ReportInputs:
    run_dir: Path
    run: RunResult | None  # None: results.json missing or unreadable (see problems)
    env: Mapping[str, Any] = field(default_factory=dict)
    run_config: Mapping[str, Any] = field(default_factory=dict)
    comparison: ComparisonView | None = None
    baseline: RunResult | None = None  # the compared run itself, when loaded: its boxes and curves are drawn too
    links: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)  # case id -> (trace, op table) hrefs
    deep_links: tuple[tuple[str, str, str], ...] = ()  # (case id, what, href): layer tables, memory snapshots/timelines
    problems: tuple[str, ...] = ()  # what is missing or unreadable, in words
    trends: tuple[Any, ...] = ()  # perfsuite.report.trend.Trend: this run's cases in the history store
    machines: tuple[Mapping[str, Any], ...] = ()  # a merged run's source machines (machines.json)
    diffs: tuple[Any, ...] = ()  # perfsuite.results.profile_diff.CaseDiff of each regressed case
    diff_links: Mapping[str, str | None] = field(default_factory=dict)  # case id -> href of its diff.csv
    generated: str = ""
    version: str = ""


@dataclass(frozen=True)
class Page:
    title: str
    facts: tuple[tuple[str, str], ...]
    banners: tuple[tuple[str, str], ...]  # (level: error|warn|info, text)
    cards: tuple[tuple[str, str, str], ...]  # (value, label, level)
    table_json: Markup
    rows: int
    comparison: ComparisonView | None
    forest_svg: Markup | None
    forest_note: str
    panels: tuple[Panel, ...]
    open_panels: int
    profiles: tuple[Mapping[str, Any], ...]
    deep: tuple[Mapping[str, Any], ...]  # the deep-profile tables: {title, header, rows}
    deep_links: tuple[tuple[str, str, str], ...]
    flops: tuple[Mapping[str, str], ...]
    roofline_svg: Markup | None
    trends: tuple[Mapping[str, Any], ...]
    machines: tuple[Mapping[str, Any], ...]
    side_by_side: tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]  # (machine ids, rows of case + p50 per machine)
    roofline_note: str
    diffs: tuple[Mapping[str, Any], ...]
    generated: str
    version: str
    own: tuple[tuple[str, ...], ...] = ()  # the tests' own figures (perf.metric): OWN_HEADER rows


def script_json(data: Any) -> Markup:
    """JSON for a <script type="application/json"> block: '<', '>' and '&' escaped so no text can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def build_page(inp: ReportInputs) -> Page:
    run = inp.run
    cases = run.cases if run is not None else ()
    panels = model_panels(cases, run.sweeps if run else (), inp.baseline, open_first=OPEN_PANELS)
    panel_of = {c.key: p.anchor for p in panels for c in p.cases}
    verdicts = inp.comparison.by_key() if inp.comparison else {}
    faster = speedups(cases)  # eager p50 / this runtime's p50, for runs with several runtimes
    rows = [table_row(c, panel_of.get(c.key), verdicts.get(c.key, ()), inp.links.get(c.case.id, (None, None)), faster.get(c.key))
            for c in cases if c.kind in (*TIMED, "scenario") and not c.metrics_only]
    forest_svg, forest_note = forest(inp.comparison) if inp.comparison else (None, "")
    flops = flops_rows(cases)
    roofline_svg, roofline_note = roofline(cases)
    return Page(
        title=f"perfsuite report: {inp.run_dir.name}",
        facts=header_facts(inp),
        banners=banners(inp),
        cards=cards(cases, inp.comparison),
        table_json=script_json(rows),
        rows=len(rows),
        comparison=inp.comparison,
        forest_svg=forest_svg,
        forest_note=forest_note,
        panels=tuple(panels),
        open_panels=OPEN_PANELS,
        profiles=tuple(profile_rows(cases, inp.links)),
        deep=tuple(deep_sections(cases)),
        deep_links=inp.deep_links,
        flops=tuple(flops),
        trends=tuple(trend_rows(inp.trends)),
        machines=inp.machines,
        side_by_side=machine_table(cases) if inp.machines else ((), ()),
        roofline_svg=roofline_svg,
        roofline_note=roofline_note,
        diffs=tuple(diff_rows(inp.diffs, inp.diff_links)),
        generated=inp.generated,
        version=inp.version,
        own=own_rows(cases, inp.comparison),
    )


def own_rows(cases: Sequence[CaseResult], comparison: ComparisonView | None) -> tuple[tuple[str, ...], ...]:
    """One row per figure a test recorded with perf.metric, with its verdict when compared."""
    verdicts = {(v.key, v.metric): v for v in comparison.verdicts} if comparison is not None else {}
    rows = []
    for c in cases:
        for m in c.metrics:
            v = verdicts.get((c.key, m.name))
            shown = "-" if v is None else f"{v.verdict} {units.change(v.ratio)}"
            rows.append((c.case.id, c.test, m.name, f"{m.value:.4g} {m.unit}".strip(), m.better, shown))
    return tuple(rows)


def machine_table(cases: Sequence[CaseResult]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """A merged run's median latencies, one column per machine id: side by side, never pooled."""
    from perfsuite.report.units import duration
    from perfsuite.results.merge import side_by_side

    machines, rows = side_by_side(cases)
    return tuple(machines), tuple((str(r["case"]), *(duration(r.get(m)) for m in machines)) for r in rows)


def table_row(
    c: CaseResult, panel: str | None, verdicts: Sequence[Any], links: tuple[str | None, str | None], speedup: float | None = None
) -> dict[str, Any]:
    """One row of the case table (short keys: 500 rows stay small). Numbers stay raw; the page formats them."""
    info, stats = c.case, c.stats
    row: dict[str, Any] = {
        "id": info.id, "test": c.test, "kind": c.kind, "model": info.model, "dataset": info.dataset, "runtime": info.runtime,
        "bs": info.batch_size, "device": info.device, "prec": info.precision, "outcome": c.outcome, "reason": c.reason or "",
        "noise": list(c.noise_codes), "panel": panel, "trace": links[0], "ops": links[1], "spd": speedup,
    }
    if c.kind == "generation" and c.generation is not None:
        g = c.generation
        stats = g.e2e
        row["ttft"] = g.ttft.p50_s
        row["tpot"] = g.tpot.p50_s if g.tpot else None
        row["tps"] = g.decode_tokens_per_s.p50_s if g.decode_tokens_per_s else None
    else:
        tp = c.throughput
        row["sps"] = tp.samples_per_s if tp else None
        row["tps"] = tp.tokens_per_s if tp else None
    row.update(p50=stats.p50_s if stats else None, p90=stats.p90_s if stats else None, p99=stats.p99_s if stats else None,
               n=stats.n if stats else None)
    if c.kind == "scenario" and c.scenario is not None:  # per-request latency (sent to served) and the achieved rate
        s, lat = c.scenario, c.scenario.latency
        row.update(sps=s.achieved_rate_per_s, tps=None, p50=lat.p50_s if lat else None, p90=lat.p90_s if lat else None,
                   p99=lat.p99_s if lat else None, n=s.sent or None)
    mem = c.memory
    row["mem"] = mem.host.own_peak_bytes if mem and mem.host else None
    row["rss"] = mem.host.rss_peak_bytes if mem and mem.host else None  # the process's peak: context
    row["gpu"] = mem.cuda.max_allocated_bytes if mem and mem.cuda else None
    if verdicts:
        main = next((v for v in verdicts if v.metric in ("latency", "ttft")), verdicts[0])
        row.update(verdict=worst(v.verdict for v in verdicts), chg=main.ratio, lo=main.low, hi=main.high, metric=main.metric,
                   why="; ".join(f"{v.metric}: {v.verdict} {units.change(v.ratio)}" + (f" ({v.note})" if v.note else "") for v in verdicts))
    else:
        row["verdict"] = ""
    return row


def _get(doc: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)  # type: ignore[assignment]
    return doc


def header_facts(inp: ReportInputs) -> tuple[tuple[str, str], ...]:
    env, run, cfg = inp.env, inp.run, inp.run_config
    facts: list[tuple[str, str]] = [("run folder", inp.run_dir.name)]
    if run is not None:
        facts.append(("suite · device · status", f"{run.suite or '?'} · {run.device or '?'} · {run.status}" + (" (imported)" if run.imported else "")))
        facts.append(("started · ended", f"{run.started or '?'} · {run.ended or '?'}"))
    git = _get(env, "git") or {}
    if git.get("commit"):
        facts.append(("git commit", f"{str(git['commit'])[:12]} on {git.get('branch') or '?'}" + (" (uncommitted changes)" if git.get("dirty") else "")))
    if env.get("machine_id"):
        cpu = _get(env, "cpu") or {}
        facts.append(("machine id", str(env["machine_id"])))
        facts.append(("cpu", f"{cpu.get('model', '?')} · {cpu.get('logical_cores', '?')} logical cores · {cpu.get('arch', '?')} · host {env.get('hostname', '?')}"))
    cuda = _get(env, "cuda") or {}
    devices = cuda.get("devices") if isinstance(cuda.get("devices"), list) else []
    if devices:
        names = ", ".join(str(d.get("name")) for d in devices if isinstance(d, Mapping))
        facts.append(("gpu", f"{names} · driver {cuda.get('driver') or '?'} · CUDA {cuda.get('torch_cuda') or '?'}"))
    elif cuda:
        facts.append(("gpu", f"none ({cuda.get('reason') or 'not available'})"))
    packages = _get(env, "packages") or {}
    if packages or env.get("python"):
        shown = [f"python {env.get('python', '?')}"] + [f"{k} {v}" for k, v in packages.items() if v and k != "nvidia-ml-py"]
        facts.append(("versions", " · ".join(shown)))
    threads = _get(env, "threads") or {}
    if threads:
        parts = [f"torch {threads.get('torch_threads', '?')} (interop {threads.get('torch_interop_threads', '?')})"]
        if threads.get("affinity") is not None:
            parts.append(f"pinned to cores {threads['affinity']}")
        parts += [f"{k}={threads[k]}" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if threads.get(k)]
        facts.append(("threads", " · ".join(parts)))
    load = _get(env, "load") or {}
    if load.get("loadavg"):
        others = load.get("perfsuite_runs")
        facts.append(("load at start", f"load average {load['loadavg'][0]} · {load.get('busy_cores', '?')} busy cores"
                      + (f" · {len(others)} other perfsuite run(s) holding cores" if others else "")))
    if cfg.get("invocation") is not None:
        facts.append(("command", "pytest " + " ".join(str(a) for a in cfg["invocation"])))
    if cfg.get("overrides"):
        facts.append(("overrides", " ".join(str(o) for o in cfg["overrides"])))
    return tuple(facts)


def banners(inp: ReportInputs) -> tuple[tuple[str, str], ...]:
    out = [("error", p) for p in inp.problems]
    run = inp.run
    if run is None:
        return tuple(out)
    if run.status == "interrupted":
        out.append(("warn", "The run was interrupted (Ctrl-C or a time limit): only the cases that finished are shown."))
    elif run.status == "running":
        out.append(("warn", "results.json still says 'running': the run had not ended when this report was written, or it was killed."))
    elif run.status == "error":
        out.append(("error", f"perfsuite's own session-end work failed: {run.error}. The measured cases are intact."))
    if run.imported:
        out.append(("info", "Imported from pytest-benchmark: no memory or noise data; p90/p99 only when the file kept its raw rounds."))
    timed = [c for c in run.cases if c.kind in TIMED]
    noisy = [c for c in timed if c.noise_codes]
    if noisy:
        codes: dict[str, int] = {}
        for c in noisy:
            for code in c.noise_codes:
                codes[code] = codes.get(code, 0) + 1
        listed = ", ".join(f"{k} ×{n}" for k, n in sorted(codes.items(), key=lambda kv: -kv[1]))
        out.append(("warn", f"{len(noisy)} of {len(timed)} timed cases flagged their measurement as noisy ({listed}): "
                            "treat their figures as rough; the gate widens their intervals, and a disturbed run cannot prove a regression."))
    comparison = inp.comparison
    if comparison is not None and comparison.case_counts()["inconclusive"]:
        out.append(("warn", comparison.decision if "COULD NOT JUDGE" in comparison.decision else
                    f"The gate could not judge {comparison.case_counts()['inconclusive']} case(s): a regression in them would pass unseen "
                    "(see each verdict's note for why)."))
    failed = [c for c in run.cases if c.outcome in ("failed", "error", "oom")]
    if failed:
        out.append(("error", f"{len(failed)} case(s) did not pass: " + ", ".join(f"{c.case.id} ({c.outcome})" for c in failed[:8])
                    + (" …" if len(failed) > 8 else "")))
    if not run.cases:
        out.append(("warn", "The run has no case results yet."))
    return tuple(out)


def cards(cases: Sequence[CaseResult], comparison: ComparisonView | None) -> tuple[tuple[str, str, str], ...]:
    passed = sum(c.outcome == "passed" for c in cases)
    out = [(f"{passed}/{len(cases)}", "results passed", "ok" if passed == len(cases) else "warn")]
    noisy = sum(bool(c.noise_codes) for c in cases)
    out.append((str(noisy), "noisy measurements", "warn" if noisy else "ok"))
    if comparison is not None:
        counts = comparison.case_counts()
        for word in ("regressed", "inconclusive", "ok"):
            out.append((str(counts[word]), f"cases {word}", word if counts[word] else "none"))
    return tuple(out)


def profile_rows(cases: Sequence[CaseResult], links: Mapping[str, tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    out = []
    for c in cases:
        if c.kind != "profile" or c.profile is None:
            continue
        p = c.profile
        trace, ops = links.get(c.case.id, (None, None))
        ops_shown = [op for op in p.top_ops if isinstance(op, Mapping) and not str(op.get("name")).startswith("ProfilerStep")]  # the schedule's own span
        top = [f"{op.get('name')} ({units.duration(float(op.get('self_cpu_us') or 0) * 1e-6)} self CPU)" for op in ops_shown[:3]]
        out.append({"id": c.case.id, "flops": units.si(p.flops_per_call, "FLOP") if p.flops_per_call else "–",
                    "top": top, "trace": trace, "ops": ops, "activities": ", ".join(p.activities),
                    "overhead": profiler_overhead(c),
                    "missing": [w for w, href, stored in (("trace", trace, p.trace), ("op table", ops, p.op_table)) if stored and not href]})
    return out


def deep_sections(cases: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """Per-layer time, memory by phase and Nsight runs: the same rows as the terminal's tables."""
    rows = deep_rows([c for c in cases if c.kind == "profile"])
    titles = (
        ("layers", "Per-layer time: the slowest modules (inclusive time per forward, forward hooks in a pass of their own)", LAYER_HEADER),
        ("memory", "Memory timeline: peak per phase (growth within the phase in brackets)", MEMORY_HEADER),
        ("nsight", "Nsight Systems / Nsight Compute", NSIGHT_HEADER),
    )
    return [{"id": key, "title": title, "header": header, "rows": rows[key]} for key, title, header in titles if rows[key]]
def diff_rows(diffs: Sequence[Any], links: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """The profile diff of each regressed case: its top ops by change in self time per step, or why there is none."""
    out = []
    for d in diffs:
        rows = [{"name": r.name, "delta": f"{r.delta_self_us:+.1f} µs", "base": f"{r.base_self_us:.1f} µs",
                 "head": f"{r.head_self_us:.1f} µs", "ratio": f"{r.ratio:.2f}×" if r.ratio is not None else "new",
                 "calls": f"{r.delta_count:+g}", "basis": r.time_basis} for r in d.top]
        out.append({"id": d.case, "href": links.get(d.case), "rows": rows, "reason": d.reason or ""})
    return out
