"""The headline of a run, one table per kind of test: what the terminal prints and summary.md shows.

Pure: typed results (and, when the gate compared the run, its `Comparison`) in; `Table`s and
`Note`s of plain text out. `perfsuite.report.terminal` renders them aligned and coloured,
`perfsuite.report.markdown` as GitHub tables, so both show the same figures by construction.

One table per kind, because each kind has its own columns: latency (p50/p90/p99, samples/s,
tokens/s, memory, verdict), generation (TTFT, TPOT, decode rate), profile, static; one small
table per batch sweep; when a run measured several runtimes, one comparing them with eager. Figures get readable units (`perfsuite.report.units`): a figure that was
not established is `n/e`, one that does not apply `-`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perfsuite.compare.speedup import REFERENCE_RUNTIME, speedups
from perfsuite.report.deep_tables import LAYER_HEADER, MEMORY_HEADER, NSIGHT_HEADER, deep_rows, profiler_overhead, stage_of
from perfsuite.results.metrics import DEFS, value_of
from perfsuite.report.units import change, duration, si, size
from perfsuite.results.case import KINDS, CaseResult
from perfsuite.results.run import SweepResult
from perfsuite.results.runtime_setup import RuntimeSetup
from perfsuite.runtimes.reference import IS_REFERENCE

if TYPE_CHECKING:
    from perfsuite.compare.verdict import Comparison, Verdict

NOT_ESTABLISHED = "n/e"
NOT_APPLICABLE = "-"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, a tone for colour (`bad`, `warn`, `good`) and whether it is a status word."""

    text: str
    tone: str | None = None
    status: bool = False  # an outcome or a verdict: Markdown marks it with an icon


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def numeric_columns(header: Sequence[str], rows: Sequence[Sequence[Cell | str]]) -> tuple[bool, ...]:
    """Per column: right-align it (every cell a figure or a placeholder)? The first column never."""
    def figure(cell: Cell | str) -> bool:
        text = cell.text if isinstance(cell, Cell) else cell
        return text in (NOT_ESTABLISHED, NOT_APPLICABLE, "inf", "-inf") or text[:1].isdigit() or (text[:1] in "+-" and text[1:2].isdigit())

    return tuple(i > 0 and all(figure(row[i]) for row in rows) for i in range(len(header)))


@dataclass(frozen=True)
class Note:
    text: str
    tone: str | None = None


Block = Table | Note

_OUTCOME_TONE = {"failed": "bad", "error": "bad", "oom": "warn", "skipped": "warn"}
_RANK = {"ok": 0, "inconclusive": 1, "regressed": 2}
_VERDICT_TONE = {"ok": "good", "inconclusive": "warn", "regressed": "bad"}


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _outcome(r: CaseResult) -> Cell:
    return Cell(r.outcome, _OUTCOME_TONE.get(r.outcome), status=r.outcome != "passed")


def _figure(r: CaseResult, metric: str, fmt: Callable[[float | None], str], *, measured: bool) -> Cell:
    """`fmt` of one metric: n/e (warn) when its part was measured but the figure not established."""
    value = value_of(metric, r)
    if value is not None:
        return Cell(fmt(value))
    return Cell(NOT_ESTABLISHED, "warn") if measured else Cell(NOT_APPLICABLE)


def _notes(r: CaseResult) -> Cell:
    if r.noise_codes:
        return Cell(",".join(r.noise_codes), "warn")
    return Cell(_short(r.reason), _OUTCOME_TONE.get(r.outcome))


def verdict_cells(comparison: Comparison | None) -> dict[str, Cell]:
    """One cell per result key (`test::case id`): the worst verdict of its metrics, and by how much.

    `regressed latency +12.3%`, `inconclusive latency +4.1%`, `ok`, `ok, improved latency -8.0%`;
    `new` for a case the baseline does not have.
    """
    if comparison is None:
        return {}
    by_key: dict[str, list[Verdict]] = {}
    for v in comparison.verdicts:
        by_key.setdefault(f"{v.test}::{v.case}", []).append(v)
    out = {}
    for key, verdicts in by_key.items():
        worst = max(verdicts, key=lambda v: _RANK[v.verdict])  # the first of the worst: latency before memory
        if worst.verdict == "ok":
            improved = next((v for v in verdicts if v.improved), None)
            text = "ok" if improved is None else f"ok, improved {improved.metric} {change(improved.estimate.ratio)}"
        else:
            text = f"{worst.verdict} {worst.metric} {change(worst.estimate.ratio)}"
        out[key] = Cell(text, _VERDICT_TONE[worst.verdict], status=True)
    for key in comparison.new:
        out.setdefault(key, Cell("new", status=True))
    return out


def _drop_empty(header: Sequence[str], rows: Sequence[Sequence[Cell]], optional: Iterable[str]) -> Table:
    """Leave out the optional columns that have nothing in any row (CUDA memory on a CPU run...)."""
    keep = [i for i, h in enumerate(header) if h not in optional or any(row[i].text != NOT_APPLICABLE for row in rows)]
    return Table("", tuple(header[i] for i in keep), tuple(tuple(row[i] for i in keep) for row in rows))


def _titled(table: Table, kind: str, results: Sequence[CaseResult]) -> Table:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    others = ", ".join(f"{n} {o}" for o, n in counts.items() if o != "passed")
    title = f"{kind}: {len(results)} case{'s' if len(results) != 1 else ''}" + (f" ({others})" if others else "")
    return Table(title, table.header, table.rows)


LATENCY_HEADER = ("case", "outcome", "p50", "p90", "p99", "n", "samples/s", "tokens/s", "own RSS", "CUDA peak", "first call", "load", "verdict", "notes")
GENERATION_HEADER = ("case", "outcome", "TTFT p50", "TPOT p50", "decode tokens/s", "e2e p50", "runs", "own RSS", "load", "verdict", "notes")
PROFILE_HEADER = ("case", "outcome", "FLOPs/call", "top op", "profiler overhead", "trace", "notes")
STATIC_HEADER = ("case", "outcome", "params", "weights", "FLOPs/call", "verdict", "notes")
OPTIONAL = ("tokens/s", "CUDA peak", "verdict", "offered/s", "goodput/s", "SLO met", "TTFT p99", "TPOT p99", "max rate/s", "knee/s",
            "send err p50")


def _latency_row(r: CaseResult, verdict: Cell) -> tuple[Cell, ...]:
    has_stats = r.stats is not None
    tp = r.throughput
    return (
        Cell(r.case.id), _outcome(r),
        *(_figure(r, f"latency_{p}_s", duration, measured=has_stats) for p in ("p50", "p90", "p99")),
        Cell(str(r.stats.n) if r.stats is not None else NOT_APPLICABLE),
        _figure(r, "samples_per_s", si, measured=tp is not None),
        _figure(r, "tokens_per_s", si, measured=tp is not None and not tp.established),  # '-' for image models
        _figure(r, "host_rss_own_bytes", size, measured=False),
        _figure(r, "cuda_max_allocated_bytes", size, measured=False),
        _figure(r, "first_call_s", duration, measured=False),
        _figure(r, "load_s", duration, measured=False),
        verdict, _notes(r),
    )


def _generation_row(r: CaseResult, verdict: Cell) -> tuple[Cell, ...]:
    g = r.generation
    return (
        Cell(r.case.id), _outcome(r),
        _figure(r, "ttft_p50_s", duration, measured=g is not None),
        _figure(r, "tpot_p50_s", duration, measured=g is not None and g.tpot is not None),
        _figure(r, "decode_tokens_per_s_p50", si, measured=g is not None and g.decode_tokens_per_s is not None),
        _figure(r, "e2e_p50_s", duration, measured=g is not None),
        Cell(str(g.n_runs) if g is not None else NOT_APPLICABLE),
        _figure(r, "host_rss_own_bytes", size, measured=False),
        _figure(r, "load_s", duration, measured=False),
        verdict, Cell(_short(r.reason), _OUTCOME_TONE.get(r.outcome)),
    )


def _profile_row(r: CaseResult, verdict: Cell) -> tuple[Cell, ...]:
    p = r.profile
    return (
        Cell(r.case.id), _outcome(r), _figure(r, "flops_per_call", lambda v: si(v, "FLOP"), measured=False),
        Cell(_short(p.top_op, 40) if p is not None and p.top_op else NOT_APPLICABLE),
        Cell(profiler_overhead(r)),
        Cell(NOT_APPLICABLE if p is None else ("yes" if p.trace else "no")),
        Cell(_short(r.reason), _OUTCOME_TONE.get(r.outcome)),
    )


def _static_row(r: CaseResult, verdict: Cell) -> tuple[Cell, ...]:
    return (
        Cell(r.case.id), _outcome(r), _figure(r, "params", si, measured=False), _figure(r, "weights_bytes", size, measured=False),
        _figure(r, "flops_per_call", lambda v: si(v, "FLOP"), measured=False), verdict, Cell(_short(r.reason), _OUTCOME_TONE.get(r.outcome)),
    )


SCENARIO_HEADER = ("case", "outcome", "scenario", "offered/s", "achieved/s", "goodput/s", "SLO met", "p50", "p99", "queue p99",
                   "service p50", "TTFT p99", "TPOT p99", "max rate/s", "knee/s", "batch", "saturated", "send err p50", "verdict", "notes")


def _attainment(r: CaseResult) -> Cell:
    s = r.scenario
    if s is None or s.attainment is None:
        return Cell(NOT_APPLICABLE)
    fraction, verdict = s.attainment_fraction, s.attainment_verdict
    tone = {"pass": "good", "fail": "bad", "inconclusive": "warn"}.get(verdict or "")
    interval = s.attainment.get("interval")
    around = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if isinstance(interval, list) and len(interval) == 2 else ""
    return Cell(f"{fraction:.3f}{around} {verdict}" if fraction is not None else NOT_ESTABLISHED, tone)


def _scenario_row(r: CaseResult, verdict: Cell) -> tuple[Cell, ...]:
    s = r.scenario
    ran = s is not None and s.sent > 0
    sweep = s.sweep if s is not None else None
    saturated = NOT_APPLICABLE if s is None or not ran else {True: "yes", False: "no", None: NOT_ESTABLISHED}[s.oversaturated]
    max_rate = _figure(r, "scenario_max_rate_per_s", si, measured=sweep is not None)
    if sweep is not None and sweep.max_rate_per_s is not None and sweep.interval[1] is not None:
        status = "" if sweep.status == "converged" else f", {sweep.status.replace('_', ' ')}"
        low, high = sweep.drift_interval
        drift = f"; drift {sweep.drift - 1:.0%}: [{si(low)}, {si(high)})" if sweep.drift and low and high else ""
        max_rate = Cell(f"{si(sweep.max_rate_per_s)} (< {si(sweep.interval[1])}{status}{drift})", None if not status else "warn")
    notes = _short(s.oversaturation_reason if s is not None and s.oversaturated else r.reason) if r.outcome == "passed" else _short(r.reason)
    return (
        Cell(r.case.id), _outcome(r), Cell(s.kind if s is not None else NOT_APPLICABLE),
        _figure(r, "scenario_offered_rate_per_s", si, measured=False),
        _figure(r, "scenario_achieved_rate_per_s", si, measured=ran),
        _figure(r, "scenario_goodput_per_s", si, measured=False),
        _attainment(r),
        *(_figure(r, f"scenario_{m}_s", duration, measured=ran) for m in ("latency_p50", "latency_p99", "queueing_p99", "service_p50")),
        *(_figure(r, f"scenario_{m}_s", duration, measured=ran and getattr(s, m.split("_")[0]) is not None) for m in ("ttft_p99", "tpot_p99")),
        max_rate,
        _figure(r, "scenario_knee_rate_per_s", si, measured=False),
        _figure(r, "scenario_mean_batch_size", lambda v: f"{v:.2f}" if v is not None else NOT_APPLICABLE, measured=False),
        Cell(saturated, "bad" if saturated == "yes" else None),
        _figure(r, "scenario_send_error_p50_s", duration, measured=ran and s is not None and s.send_error is not None),
        verdict, Cell(notes, "warn" if s is not None and s.oversaturated else _OUTCOME_TONE.get(r.outcome)),
    )


_FORMATS: Mapping[str, Callable[[float | None], str]] = {"duration": duration, "size": size, "si": si}


def _with_registry_columns(kind: str, header: Sequence[str], rows: list[tuple[Cell, ...]], results: Sequence[CaseResult]
                           ) -> tuple[tuple[str, ...], list[tuple[Cell, ...]], tuple[str, ...]]:
    """The kind's table with a column for each registry metric of that kind that declares one (`MetricDef.column`),
    before the last two columns (verdict and notes); left out where no case has the figure."""
    extra = [d for d in DEFS if d.column and kind in d.kinds and d.column not in header]
    if not extra:
        return tuple(header), rows, ()
    names = tuple(d.column for d in extra if d.column)
    cells = [tuple(_figure(r, d.name, _FORMATS[d.fmt], measured=False) for d in extra) for r in results]
    return ((*header[:-2], *names, *header[-2:]), [(*row[:-2], *more, *row[-2:]) for row, more in zip(rows, cells)], names)


_KIND_TABLES: Mapping[str, tuple[tuple[str, ...], Callable[[CaseResult, Cell], tuple[Cell, ...]]]] = {
    "latency": (LATENCY_HEADER, _latency_row),
    "generation": (GENERATION_HEADER, _generation_row),
    "profile": (PROFILE_HEADER, _profile_row),
    "static": (STATIC_HEADER, _static_row),
    "scenario": (SCENARIO_HEADER, _scenario_row),
}


def sweep_table(sweep: SweepResult) -> Table:
    """The throughput/latency curve of one case group over its batch sizes, and its knee."""
    a = sweep.analysis
    knee = a.knee_batch_size if a.knee_batch_size is not None else NOT_APPLICABLE
    rows = []
    for row in a.rows:
        status = {"ok": Cell("ok"), "oom": Cell("OOM", "bad", status=True)}.get(row.status, Cell(row.status.replace("_", " "), "warn", status=True))
        ok = row.status == "ok"
        rows.append((
            Cell(str(row.batch_size)), status,
            Cell(duration(row.latency_p50_s) if ok else NOT_APPLICABLE),
            Cell(duration(row.latency_p99_s) if ok else NOT_APPLICABLE),
            Cell(si(row.samples_per_s) if ok else NOT_APPLICABLE),
            Cell(change(1.0 + row.gain_per_doubling) if row.gain_per_doubling is not None else NOT_APPLICABLE),
            Cell(_short(row.reason)),
        ))
    return Table(
        f"batch sweep {sweep.group}: knee at batch size {knee} ({a.knee_reason})",
        ("batch size", "status", "p50", "p99", "samples/s", "gain/doubling", "notes"),
        tuple(rows),
    )


RUNTIME_HEADER = ("model-dataset-bs", "runtime", "precision", "p50", "vs eager", "prep cold", "prep warm", "cache", "parity", "notes")


def _precision(r: CaseResult) -> str:
    return r.case.precision + (f" {r.case.precision_mode}" if r.case.precision_mode else "")


def _parity(r: CaseResult) -> Cell:
    p = r.parity
    if p is None:
        return Cell(NOT_APPLICABLE)
    if not p.checked:
        return Cell("reference" if p.reason == IS_REFERENCE else "not checked", None if p.reason == IS_REFERENCE else "warn")
    if not p.passed:
        return Cell("failed", "bad", status=True)
    return Cell("ok" if p.max_abs is None else f"ok, max abs {p.max_abs:.2g}")


def _without_runtime(r: CaseResult) -> str:
    """The case's id without its runtime and device: model-dataset-bs<N> plus any -s<len>, -o<n>, -kvstatic, -mix part."""
    c = r.case
    label = c.id.replace(f"-{c.runtime}-bs{c.batch_size}", f"-bs{c.batch_size}", 1)
    return label.removesuffix(f"-{c.device}") if label != c.id else f"{c.model}-{c.dataset}-bs{c.batch_size}"


def _token_match(r: CaseResult) -> Cell:
    """A generation case's greedy tokens against eager fp32's (`details.token_parity`), as `match/tokens`."""
    found = r.details.get("token_parity") if isinstance(r.details, dict) else None
    if not isinstance(found, dict):
        return Cell("reference" if r.case.runtime == REFERENCE_RUNTIME and r.case.precision == "fp32" else NOT_APPLICABLE)
    text = f"{found.get('match')}/{found.get('tokens')} tokens"
    return Cell(text if found.get("passed") else f"failed, {text}", None if found.get("passed") else "bad", status=not found.get("passed"))


def _preparation(setup: RuntimeSetup | None) -> str:
    if setup is None:
        return ""
    if setup.backend == "compile":
        return f"{setup.graphs} graph(s), {setup.graph_breaks} break(s), {setup.recompiles} recompile(s)"
    return f"{setup.exporter} export" + (" (fallback)" if setup.fallback_reason else "") + f", {','.join(setup.providers)}"


def runtime_table(results: Sequence[CaseResult], reference: str = REFERENCE_RUNTIME, *, kind: str = "latency") -> Table | None:
    """Each runtime's latency p50 (generation: whole generate calls, e2e p50) next to eager's, with the
    speed-up (`perfsuite.compare.speedup`), what its preparation cost (compile / export, cold and warm)
    and its parity check (generation: greedy tokens matched); None when the results have a single runtime."""
    latency = [r for r in results if r.kind == kind]
    if len({r.case.runtime for r in latency}) < 2:
        return None
    ratios = speedups(latency, reference)
    rows = []
    for r in sorted(latency, key=lambda r: (r.case.model, r.case.dataset, r.case.batch_size, r.case.seq_len or 0, r.case.output_len or 0,
                                            _without_runtime(r), r.case.runtime != reference)):
        setup = r.runtime_setup
        if r.case.runtime == reference:
            ratio = Cell("1.00x (ref)")
        else:
            value = ratios.get(r.key)
            ratio = Cell(NOT_APPLICABLE) if value is None else Cell(f"{value:.2f}x", "good" if value > 1 else None)
        notes = _preparation(setup) if r.outcome == "passed" else _short(r.reason)
        if r.outcome != "passed":
            figure = _outcome(r)
        elif kind == "generation":
            figure = Cell(duration(r.generation.e2e.p50_s, NOT_ESTABLISHED) if r.generation is not None else NOT_APPLICABLE)
        else:
            figure = _figure(r, "latency_p50_s", duration, measured=r.stats is not None)
        rows.append((
            Cell(_without_runtime(r)),
            Cell(r.case.runtime), Cell(_precision(r)), figure, ratio,
            Cell(duration(setup.cold_s, NOT_APPLICABLE) if setup else NOT_APPLICABLE),
            Cell(duration(setup.warm_s, NOT_APPLICABLE) if setup else NOT_APPLICABLE),
            Cell(setup.cache if setup else NOT_APPLICABLE),
            _token_match(r) if kind == "generation" else _parity(r), Cell(notes, _OUTCOME_TONE.get(r.outcome)),
        ))
    title = (f"generation runtimes vs {reference}: speed-up = {reference} e2e p50 / this e2e p50 (whole generate calls); "
             "prep = compile before timing; parity = greedy tokens matched") if kind == "generation" else (
             f"runtimes vs {reference}: speed-up = {reference} p50 / this p50 (above 1 is faster); prep = compile / export before timing")
    return Table(title, RUNTIME_HEADER, tuple(rows))


def _deep_blocks(profiles: Sequence[CaseResult]) -> list[Block]:
    """Per-layer time (top modules), memory peak by phase, Nsight runs: one table each, when present."""
    rows = deep_rows(profiles)
    titles = {
        "layers": ("layers: the slowest modules per case (inclusive time per forward, share of the model's; forward hooks, own pass)", LAYER_HEADER),
        "memory": ("memory timeline: peak per phase (+ growth within it)", MEMORY_HEADER),
        "nsight": ("nsight: Nsight Systems / Compute over each case's timed test", NSIGHT_HEADER),
    }
    out: list[Block] = []
    for stage, (title, header) in titles.items():
        if rows[stage]:
            out.append(Table(title, header, tuple(tuple(Cell(text) for text in row) for row in rows[stage])))
    return out
ROOFLINE_HEADER = ("case", "achieved", "FLOP/B moved", "of peak FLOP/s", "of peak bandwidth", "bound", "of its roof")


def roofline_blocks(results: Sequence[CaseResult]) -> list[Block]:
    """Each case's place on its device's roofline (static analysis + latency median), and why a case has no roofs."""
    from perfsuite.results.roofline import roofline_points

    points = roofline_points(results)
    if not points:
        return []

    def pct(v: float | None) -> Cell:
        return Cell(f"{v:.3g}%" if v is not None else NOT_APPLICABLE)

    rows = tuple((Cell(p.case), Cell(si(p.achieved_flops_per_s, "FLOP/s")), Cell(f"{p.intensity:.3g}" if p.intensity else NOT_APPLICABLE),
                  pct(p.pct_of_peak_flops), pct(p.pct_of_peak_bandwidth), Cell(p.bound or NOT_APPLICABLE), pct(p.pct_of_roof))
                 for p in points)
    peaks = {f"{p.peak.device} {p.peak.dtype}: {si(p.peak.flops_per_s, 'FLOP/s')}, {size(p.peak.bytes_per_s)}/s" for p in points if p.peak.omitted is None}
    blocks: list[Block] = [Table(f"roofline: {len(points)} case{'s' if len(points) != 1 else ''} (peaks: {'; '.join(sorted(peaks)) or 'none'})",
                                 ROOFLINE_HEADER, rows)]
    for why in sorted({p.peak.omitted for p in points if p.peak.omitted}):
        blocks.append(Note(f"no roofline peak: {why}", "warn"))
    return blocks


OWN_HEADER = ("case", "test", "metric", "value", "better", "vs baseline")


def own_metrics_table(results: Sequence[CaseResult], comparison: Comparison | None = None) -> Table | None:
    """The tests' own figures (`perf.metric`), one row each, with the gate's verdict where there is one."""
    verdicts = {(f"{v.test}::{v.case}", v.metric): v for v in comparison.verdicts} if comparison is not None else {}
    rows = []
    for r in results:
        for m in r.metrics:
            v = verdicts.get((r.key, m.name))
            cell = Cell(NOT_APPLICABLE) if v is None else Cell(f"{v.verdict} {change(v.estimate.ratio)}", _VERDICT_TONE[v.verdict], status=True)
            rows.append((Cell(r.case.id), Cell(r.test), Cell(m.name), Cell(f"{m.value:.4g} {m.unit}".strip()), Cell(m.better), cell))
    if not rows:
        return None
    table = _drop_empty(OWN_HEADER, rows, ("vs baseline",))
    return Table(f"own metrics: {len(rows)}", table.header, table.rows)


def headline(results: Sequence[CaseResult], sweeps: Sequence[SweepResult] = (), comparison: Comparison | None = None) -> tuple[Block, ...]:
    """The run's tables, one per kind present (latency first), each sweep's, then the warnings."""
    verdicts = verdict_cells(comparison)
    blocks: list[Block] = []
    for kind in KINDS:
        of_kind = [r for r in results if r.kind == kind and not r.metrics_only]  # figures only: the own-metrics table
        deep: list[Block] = []
        if kind == "profile":  # the torch.profiler pass; the deep-profile stages get their own tables after it
            deep = _deep_blocks(of_kind)
            of_kind = [r for r in of_kind if stage_of(r) == "torch"]
        if not of_kind:
            blocks += deep
            continue
        header, row = _KIND_TABLES[kind]
        rows = [row(r, verdicts.get(r.key, Cell(NOT_APPLICABLE))) for r in of_kind]
        header, rows, extra = _with_registry_columns(kind, header, rows, of_kind)
        blocks.append(_titled(_drop_empty(header, rows, (*OPTIONAL, *extra)), kind, of_kind))
        blocks += deep
        if kind == "static":
            blocks += roofline_blocks(results)
        if kind == "latency":
            runtimes = runtime_table(of_kind)  # eager vs compiled / exported / mixed-precision runtimes
            blocks += [runtimes] if runtimes is not None else []
            blocks += [sweep_table(s) for s in sweeps]
        if kind == "generation":
            runtimes = runtime_table(of_kind, kind="generation")  # eager vs compiled generate, int8, bf16
            blocks += [runtimes] if runtimes is not None else []
    own = own_metrics_table(results, comparison)
    blocks += [own] if own is not None else []
    latency = [r for r in results if r.kind == "latency" and not r.metrics_only]
    noisy = [r.case.id for r in latency if r.noise_codes]
    if noisy:
        blocks.append(Note(f"noisy ({len(noisy)}): " + ", ".join(noisy) + "  -> see results.json measurement.noise; do not gate on these", "warn"))
    unestablished = [r.case.id for r in latency if r.outcome == "passed" and not r.median_established]
    if unestablished:
        blocks.append(Note(f"median not established ({len(unestablished)}): " + ", ".join(unestablished), "warn"))
    from perfsuite.report.charts import generated_text_line, model_note

    notes = [model_note(r) for r in results]
    blocks += [Note(n, "warn") for n in dict.fromkeys(n for n in notes if n)]
    blocks += [Note(line) for line in dict.fromkeys(map(generated_text_line, results)) if line]
    return tuple(blocks)

