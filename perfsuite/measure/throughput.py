"""Throughput from a latency measurement, and the batch-sweep curve with its knee.

`throughput` turns one `Measurement` (or `SampleStats`) into samples/s and tokens/s
from the same median latency: ``samples_per_s = batch_size / p50`` and
``tokens_per_s = tokens_per_call / p50``.

`analyze_sweep` takes ``(batch_size, stats)`` points (OOM records allowed) and reports
the throughput/latency curve and its **knee**:

    gain per doubling between consecutive batch sizes b1 < b2 with throughputs T1, T2:
        g = (T2 / T1) ** (1 / log2(b2 / b1)) - 1
    knee = the smallest measured batch size b_i such that every later step
           (b_i -> b_i+1, b_i+1 -> b_i+2, ...) has g < min_gain (default 10%).

i.e. past the knee, doubling the batch buys less than ``min_gain`` more throughput
while latency keeps growing.

Nothing here raises on a measurement that could not establish its median (too few samples on a
slow machine): `throughput` returns rates of None with the reason in ``not_established``, and
the sweep lists such a batch size as ``not_established`` (with the reason, e.g. the case hit its
hard budget) and draws the curve from the rest. No knee (None, with a reason) when fewer than
two batch sizes have an established median or throughput still grows by ``min_gain`` per
doubling at the largest one. Batch sizes at or beyond the first OOM are listed but not part of
the curve.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from perfsuite.measure.oom import OomRecord
from perfsuite.measure.record import Measurement
from perfsuite.measure.stats import SampleStats

DEFAULT_MIN_GAIN = 0.10


@dataclass(frozen=True)
class Throughput:
    """Rates from the median latency of one measurement."""

    latency_p50_s: float | None
    samples_per_s: float | None
    tokens_per_s: float | None
    batch_size: int
    not_established: str | None = None  # why the rates are None (median not established)

    @property
    def established(self) -> bool:
        return self.samples_per_s is not None

    def to_dict(self) -> dict[str, float | int | str | None]:
        return {
            "latency_p50_s": self.latency_p50_s,
            "samples_per_s": self.samples_per_s,
            "tokens_per_s": self.tokens_per_s,
            "batch_size": self.batch_size,
            "not_established": self.not_established,
        }


def _stats(x: Measurement | SampleStats) -> SampleStats:
    return x.stats if isinstance(x, Measurement) else x


def throughput(m: Measurement | SampleStats, *, batch_size: int = 1, tokens_per_call: int | None = None) -> Throughput:
    """samples/s and tokens/s of one call of ``batch_size`` samples (``tokens_per_call`` tokens).

    Without an established, positive median the rates are None and ``not_established`` says why.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    stats = _stats(m)
    p50 = stats.p50_s
    if p50 is None or p50 <= 0:
        why = stats.not_established.get("p50") or f"median is {p50!r}"
        return Throughput(None, None, None, batch_size, not_established=f"median latency not established: {why}")
    return Throughput(
        latency_p50_s=p50,
        samples_per_s=batch_size / p50,
        tokens_per_s=None if tokens_per_call is None else tokens_per_call / p50,
        batch_size=batch_size,
    )


@dataclass(frozen=True)
class SweepRow:
    batch_size: int
    status: str  # "ok", "oom", "skipped" (beyond the first OOM, did not run), "not_established" (no median)
    latency_p50_s: float | None
    latency_p99_s: float | None
    samples_per_s: float | None
    gain_per_doubling: float | None  # from the previous "ok" row; None on the first
    reason: str | None = None  # why a row is not "ok"


@dataclass(frozen=True)
class SweepAnalysis:
    rows: tuple[SweepRow, ...]
    knee_batch_size: int | None
    knee_reason: str
    best_batch_size: int | None  # highest samples/s
    min_gain: float

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": [row.__dict__.copy() for row in self.rows],
            "knee_batch_size": self.knee_batch_size,
            "knee_reason": self.knee_reason,
            "best_batch_size": self.best_batch_size,
            "min_gain": self.min_gain,
        }


def gain_per_doubling(b1: int, t1: float, b2: int, t2: float) -> float:
    """Relative throughput gain per doubling of the batch between two points (b1 < b2)."""
    if not 0 < b1 < b2:
        raise ValueError(f"need 0 < b1 < b2, got {b1}, {b2}")
    return (t2 / t1) ** (1.0 / math.log2(b2 / b1)) - 1.0


def analyze_sweep(
    points: Iterable[tuple[int, Measurement | SampleStats | OomRecord]],
    *,
    min_gain: float = DEFAULT_MIN_GAIN,
) -> SweepAnalysis:
    """Curve and knee of a batch sweep (see the module docstring for the definitions)."""
    if not min_gain > 0:
        raise ValueError(f"min_gain must be > 0, got {min_gain!r}")
    ordered = sorted(points, key=lambda p: p[0])
    sizes = [b for b, _ in ordered]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"batch sizes must be unique, got {sizes}")
    rows: list[SweepRow] = []
    curve: list[tuple[int, float]] = []
    oom_at: int | None = None
    for b, result in ordered:
        if isinstance(result, OomRecord) or oom_at is not None:
            status = "oom" if isinstance(result, OomRecord) else "skipped"
            reason = result.message if isinstance(result, OomRecord) else f"beyond the first OOM at batch {oom_at}"
            oom_at = b if oom_at is None else oom_at
            rows.append(SweepRow(b, status, None, None, None, None, reason))
            continue
        tp = throughput(result, batch_size=b)
        if tp.samples_per_s is None:
            rows.append(SweepRow(b, "not_established", None, None, None, None, tp.not_established))
            continue
        gain = gain_per_doubling(curve[-1][0], curve[-1][1], b, tp.samples_per_s) if curve else None
        curve.append((b, tp.samples_per_s))
        rows.append(SweepRow(b, "ok", tp.latency_p50_s, _stats(result).p99_s, tp.samples_per_s, gain))
    best = max(curve, key=lambda p: p[1])[0] if curve else None
    knee, reason = _knee(rows, min_gain, oom_at)
    return SweepAnalysis(tuple(rows), knee, reason, best, min_gain)


def _knee(rows: list[SweepRow], min_gain: float, oom_at: int | None) -> tuple[int | None, str]:
    ok = [r for r in rows if r.status == "ok"]
    if len(ok) < 2:
        return None, f"needs at least two batch sizes with an established median, have {len(ok)}"
    knee = None
    # walk from the largest batch down while every step after the candidate stays below min_gain
    for i in range(len(ok) - 1, 0, -1):
        gain = ok[i].gain_per_doubling  # set on every "ok" row after the first
        if gain is None or gain >= min_gain:
            break
        knee = ok[i - 1].batch_size
    if knee is None:
        tail = f" (batch {oom_at} ran out of memory)" if oom_at is not None else ""
        return None, (
            f"throughput still grows >= {min_gain:.0%} per doubling at the largest batch "
            f"{ok[-1].batch_size}{tail}; sweep larger batches"
        )
    return knee, f"every step after batch {knee} gains < {min_gain:.0%} throughput per doubling"
