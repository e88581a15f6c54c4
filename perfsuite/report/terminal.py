"""The end-of-session table: latency percentiles, throughput, memory, first call, load, noise.

Pure formatting: takes typed `CaseResult`s and `SweepResult`s, returns lines. A figure that was
not established shows as `n/e`; one that does not apply shows as `-`.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfsuite.measure.throughput import Throughput
from perfsuite.report.runtimes import runtime_lines
from perfsuite.results.case import CaseResult
from perfsuite.results.run import SweepResult

MIB = 1024 * 1024


def _ms(value: float | None) -> str:
    return "n/e" if value is None else f"{value * 1e3:.3f}"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f}"


def _rate(tp: Throughput | None, value: float | None, fmt: str) -> str:
    """n/e when the median (so every rate) is not established; - when the rate does not apply."""
    if tp is not None and not tp.established:
        return "n/e"
    return _num(value, fmt)


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def latency_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    rows = []
    for r in results:
        stats = r.stats
        tp = r.throughput
        host = r.memory.host if r.memory is not None else None
        rows.append(
            [
                r.case.id,
                r.outcome,
                _ms(stats.p50_s) if stats else "-",
                _ms(stats.p90_s) if stats else "-",
                _ms(stats.p99_s) if stats else "-",
                str(stats.n) if stats else "-",
                _rate(tp, tp.samples_per_s if tp else None, "{:.1f}"),
                _rate(tp, tp.tokens_per_s if tp else None, "{:.0f}"),
                _mib(host.rss_peak_bytes) if host else "n/a",
                _ms(r.measurement.first_call_s) if r.measurement else "-",
                _num(r.load_s, "{:.2f}"),
                ",".join(r.noise_codes) or _short(r.reason),
            ]
        )
    return rows


HEADER = ["case", "outcome", "p50 ms", "p90 ms", "p99 ms", "n", "samples/s", "tokens/s", "RSS peak MiB", "first call ms", "load s", "noise"]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _p50(stats: object) -> float | None:
    return getattr(stats, "p50_s", None)


def summary_lines(results: Sequence[CaseResult], sweeps: Sequence[SweepResult]) -> list[str]:
    latency = [r for r in results if r.kind == "latency"]
    lines = table(HEADER, latency_rows(latency)) if latency else []
    lines += runtime_lines(latency)  # eager vs compiled/exported runtimes, when the run has several
    gens = [r for r in results if r.kind == "generation" and r.generation is not None]
    if gens:
        lines.append("")
        rows = []
        for r in gens:
            g = r.generation
            assert g is not None
            rows.append(
                [
                    r.case.id,
                    _ms(_p50(g.ttft)),
                    _ms(_p50(g.tpot)),
                    _num(_p50(g.decode_tokens_per_s)),
                    _ms(_p50(g.e2e)),
                    str(g.n_runs),
                ]
            )
        lines += table(["generation case", "TTFT p50 ms", "TPOT p50 ms", "decode tok/s p50", "e2e p50 ms", "runs"], rows)
    for sweep in sweeps:
        a = sweep.analysis
        lines.append("")
        knee = a.knee_batch_size
        lines.append(f"batch sweep {sweep.group}: knee at batch size {knee if knee is not None else '-'} ({a.knee_reason})")
        for row in a.rows:
            if row.status == "ok":
                lines.append(f"  bs {row.batch_size:>4}: p50 {_ms(row.latency_p50_s)} ms, {_num(row.samples_per_s)} samples/s")
            elif row.status == "oom":
                lines.append(f"  bs {row.batch_size:>4}: OOM")
            else:
                lines.append(f"  bs {row.batch_size:>4}: {row.status.replace('_', ' ')} ({_short(row.reason)})")
    profiles = [r for r in results if r.kind == "profile" and r.profile is not None]
    if profiles:
        lines.append("")
        rows = []
        for r in profiles:
            p = r.profile
            assert p is not None
            gflop = p.flops_per_call
            rows.append([r.case.id, _num(gflop / 1e9 if gflop else None, "{:.3f}"), p.top_op or "-", "yes" if p.trace else "no"])
        lines += table(["profiled case", "GFLOP/call", "top op", "trace"], rows)
    statics = [r for r in results if r.kind == "static" and r.static is not None]
    if statics:
        lines.append("")
        rows = []
        for r in statics:
            st = r.static
            assert st is not None
            rows.append([r.case.id, f"{st.params / 1e6:.2f}", _mib(st.weights_bytes), _num(st.flops_per_call / 1e9, "{:.3f}")])
        lines += table(["static case", "params M", "weights MiB", "GFLOP/call"], rows)
    noisy = [r.case.id for r in latency if r.noise_codes]
    if noisy:
        lines.append("")
        lines.append(f"noisy ({len(noisy)}): " + ", ".join(noisy) + "  -> see results.json measurement.noise; do not gate on these")
    unestablished = [r.case.id for r in latency if r.outcome == "passed" and not r.median_established]
    if unestablished:
        lines.append(f"median not established ({len(unestablished)}): " + ", ".join(unestablished))
    return lines
