"""The end-of-session table: latency percentiles, throughput, memory, first call, load, noise.

Pure formatting: takes results.json entries, returns lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MIB = 1024 * 1024


def _ms(value: float | None) -> str:
    return "n/e" if value is None else f"{value * 1e3:.3f}"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:.1f}"


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def latency_rows(results: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        m = r.get("measurement") or {}
        stats = m.get("stats") or {}
        tp = r.get("throughput") or {}
        mem = (r.get("memory") or {}).get("host") or {}
        flags = ",".join(f["code"] for f in m.get("noise", []))
        rows.append(
            [
                r["case"],
                r["outcome"],
                _ms(stats.get("p50_s")),
                _ms(stats.get("p90_s")),
                _ms(stats.get("p99_s")),
                str(stats.get("n", "-")),
                _num(tp.get("samples_per_s")),
                _num(tp.get("tokens_per_s"), "{:.0f}"),
                _mib(mem.get("rss_peak_bytes")),
                _ms(m.get("first_call_s")) if m else "-",
                _num(r.get("load_s"), "{:.2f}"),
                flags or _short(r.get("reason")),
            ]
        )
    return rows


HEADER = ["case", "outcome", "p50 ms", "p90 ms", "p99 ms", "n", "samples/s", "tokens/s", "RSS peak MiB", "first call ms", "load s", "noise"]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def summary_lines(results: Sequence[Mapping[str, Any]], sweeps: Sequence[Mapping[str, Any]]) -> list[str]:
    latency = [r for r in results if r.get("kind", "latency") == "latency"]
    lines = table(HEADER, latency_rows(latency)) if latency else []
    gens = [r for r in results if r.get("kind") == "generation" and r.get("generation")]
    if gens:
        lines.append("")
        rows = []
        for r in gens:
            g = r["generation"]
            rows.append(
                [
                    r["case"],
                    _ms((g.get("ttft") or {}).get("p50_s")),
                    _ms((g.get("tpot") or {}).get("p50_s")),
                    _num((g.get("decode_tokens_per_s") or {}).get("p50_s")),
                    _ms((g.get("e2e") or {}).get("p50_s")),
                    str(g.get("n_runs")),
                ]
            )
        lines += table(["generation case", "TTFT p50 ms", "TPOT p50 ms", "decode tok/s p50", "e2e p50 ms", "runs"], rows)
    for sweep in sweeps:
        lines.append("")
        knee = sweep.get("knee_batch_size")
        lines.append(f"batch sweep {sweep['group']}: knee at batch size {knee if knee is not None else '-'} ({sweep.get('knee_reason', '')})")
        for row in sweep.get("rows", []):
            if row.get("status") == "oom":
                lines.append(f"  bs {row['batch_size']:>4}: OOM")
            else:
                lines.append(f"  bs {row['batch_size']:>4}: p50 {_ms(row.get('latency_p50_s'))} ms, {_num(row.get('samples_per_s'))} samples/s")
    profiles = [r for r in results if r.get("kind") == "profile" and r.get("profile")]
    if profiles:
        lines.append("")
        rows = []
        for r in profiles:
            p = r["profile"]
            top = (p.get("top_ops") or [{}])[0].get("name", "-")
            gflop = p.get("flops_per_call")
            rows.append([r["case"], _num(gflop / 1e9 if gflop else None, "{:.3f}"), top, "yes" if p.get("trace") else "no"])
        lines += table(["profiled case", "GFLOP/call", "top op", "trace"], rows)
    statics = [r for r in results if r.get("kind") == "static" and r.get("static")]
    if statics:
        lines.append("")
        rows = [
            [r["case"], f"{r['static']['params'] / 1e6:.2f}", _mib(r["static"]["weights_bytes"]), _num(r["static"]["flops_per_call"] / 1e9, "{:.3f}")]
            for r in statics
        ]
        lines += table(["static case", "params M", "weights MiB", "GFLOP/call"], rows)
    noisy = [r["case"] for r in latency if (r.get("measurement") or {}).get("noisy")]
    if noisy:
        lines.append("")
        lines.append(f"noisy ({len(noisy)}): " + ", ".join(noisy) + "  -> see extra_info.noise; do not gate on these")
    return lines
