"""Speed-up of each runtime over eager within one run: eager's p50 / the runtime's p50. Pure.

The p50 is the latency median, or for a generation case the median of whole generate calls (e2e).
Cases are matched on what they measure besides the runtime: test, model, dataset, batch size,
sequence length, output length and device. A ratio above 1 means faster than eager. A case with no passed eager
counterpart, or either median not established, has no ratio (None), never a made-up one.
"""

from __future__ import annotations

from collections.abc import Sequence

from perfsuite.results.case import CaseResult

REFERENCE_RUNTIME = "eager"  # conf/inference_runtime/pytorch.yaml's name


def _counterpart(r: CaseResult) -> tuple[object, ...]:
    c = r.case
    return (r.test, c.model, c.dataset, c.batch_size, c.seq_len, c.image_size, c.output_len, c.device)


def _p50(r: CaseResult) -> float | None:
    stats = r.generation.e2e if r.generation is not None else r.stats
    return stats.p50_s if r.outcome == "passed" and stats is not None and stats.p50_s else None


def speedups(results: Sequence[CaseResult], reference: str = REFERENCE_RUNTIME) -> dict[str, float | None]:
    """`CaseResult.key` -> reference p50 / this case's p50, for every case that is not the reference."""
    base = {_counterpart(r): _p50(r) for r in results if r.case.runtime == reference}
    out: dict[str, float | None] = {}
    for r in results:
        if r.case.runtime == reference:
            continue
        ref, mine = base.get(_counterpart(r)), _p50(r)
        out[r.key] = ref / mine if ref is not None and mine is not None else None
    return out
