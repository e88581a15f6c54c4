"""The end-of-session runtime comparison: each runtime's p50 next to eager's, with the speed-up,
and what its preparation cost (compile / export time cold and warm, graph breaks, exporter).

Pure formatting over typed `CaseResult`s; shown only when a run measured more than one runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfsuite.compare.speedup import REFERENCE_RUNTIME, speedups
from perfsuite.results.case import CaseResult
from perfsuite.results.runtime_setup import RuntimeSetup

HEADER = ["model-dataset-bs", "runtime", "p50 ms", "vs eager", "prep cold s", "prep warm s", "cache", "notes"]


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _notes(setup: RuntimeSetup | None, reason: str | None) -> str:
    if setup is None:
        return (reason or "")[:60]
    if setup.backend == "compile":
        text = f"{setup.graphs} graph(s), {setup.graph_breaks} break(s), {setup.recompiles} recompile(s)"
    else:
        text = f"{setup.exporter} export" + (" (fallback)" if setup.fallback_reason else "") + f", {','.join(setup.providers)}"
    return text


def runtime_rows(results: Sequence[CaseResult], reference: str = REFERENCE_RUNTIME) -> list[list[str]]:
    latency = [r for r in results if r.kind == "latency"]
    ratios = speedups(latency, reference)
    rows = []
    ordered = sorted(latency, key=lambda r: (r.case.model, r.case.dataset, r.case.batch_size, r.case.runtime != reference))
    for r in ordered:
        stats = r.stats
        p50 = stats.p50_s if stats is not None else None
        ratio = ratios.get(r.key)
        setup = r.runtime_setup
        rows.append(
            [
                f"{r.case.model}-{r.case.dataset}-bs{r.case.batch_size}",
                r.case.runtime,
                "n/e" if p50 is None else f"{p50 * 1e3:.3f}",
                "1.00x (ref)" if r.case.runtime == reference else ("-" if ratio is None else f"{ratio:.2f}x"),
                _s(setup.cold_s if setup else None),
                _s(setup.warm_s if setup else None),
                setup.cache if setup else "-",
                _notes(setup, r.reason if r.outcome != "passed" else None),
            ]
        )
    return rows


def runtime_lines(results: Sequence[CaseResult], reference: str = REFERENCE_RUNTIME) -> list[str]:
    """The comparison table, or nothing when the run measured a single runtime."""
    from perfsuite.report.terminal import table

    latency = [r for r in results if r.kind == "latency"]
    if len({r.case.runtime for r in latency}) < 2:
        return []
    return ["", f"runtimes (vs eager: {reference} p50 / this p50, above 1 is faster)", *table(HEADER, runtime_rows(latency, reference))]
