"""What a load run leaves behind: one record per request and per batch, and the run's settings.

Times are seconds from the start of the run (t = 0 when `run_load` started its clock)::

    scheduled_s   the schedule's offset for this request
    ready_s       when the sender meant to send it: scheduled_s, or later when a concurrency slot
                  (``max_concurrency``) was not free until then
    sent_s        when it entered the queue (its arrival); ``sent_s - ready_s`` is the sender's error
    batched_s     when the batcher closed the batch holding it
    start_s       when ``serve`` was called on that batch
    end_s         when ``serve`` returned
    token_times_s decoders: each time ``serve`` stamped a token for it (``Batch.token``)

    queueing = start - sent     service = end - start     latency = end - sent

A request still queued when the drain limit ran out is ``unserved``: it is kept, with no
batch times, and counts against every SLO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from perfsuite.measure.stats import json_float

RequestStatus = Literal["completed", "unserved"]
SenderMode = Literal["thread", "inline"]


@dataclass(frozen=True)
class RequestRecord:
    """One request's life (seconds from the run's start; batch times None when unserved)."""

    index: int
    scheduled_s: float
    ready_s: float
    sent_s: float
    status: RequestStatus
    batch_id: int | None = None
    batched_s: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    token_times_s: tuple[float, ...] = ()

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def send_error_s(self) -> float:
        return self.sent_s - self.ready_s

    @property
    def queueing_s(self) -> float | None:
        return None if self.start_s is None else self.start_s - self.sent_s

    @property
    def service_s(self) -> float | None:
        return None if self.start_s is None or self.end_s is None else self.end_s - self.start_s

    @property
    def latency_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.sent_s

    @property
    def ttft_s(self) -> float | None:
        return self.token_times_s[0] - self.sent_s if self.token_times_s else None

    @property
    def tpot_s(self) -> float | None:
        """Mean time per output token after the first (vLLM's TPOT); None below two tokens."""
        ts = self.token_times_s
        return (ts[-1] - ts[0]) / (len(ts) - 1) if len(ts) >= 2 else None

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "status": self.status,
            "scheduled_s": self.scheduled_s,
            "ready_s": self.ready_s,
            "sent_s": self.sent_s,
            "batch_id": self.batch_id,
            "batched_s": self.batched_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "token_times_s": list(self.token_times_s),
        }


@dataclass(frozen=True)
class BatchRecord:
    """One call of ``serve``: which requests, when the batch closed, started and ended."""

    batch_id: int
    request_indices: tuple[int, ...]
    batched_s: float
    start_s: float
    end_s: float

    @property
    def size(self) -> int:
        return len(self.request_indices)

    def to_dict(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "request_indices": list(self.request_indices),
            "batched_s": self.batched_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }


@dataclass(frozen=True)
class LoadSettings:
    """How a run was driven: batcher, concurrency, stopping and draining, and the sender."""

    max_batch: int
    max_wait_s: float
    max_concurrency: int | None
    max_drain_s: float
    min_queries: int | None
    min_duration_s: float | None
    sender: SenderMode
    spin_s: float
    clock: str

    def to_dict(self) -> dict[str, object]:
        return {
            "max_batch": self.max_batch,
            "max_wait_s": self.max_wait_s,
            "max_concurrency": self.max_concurrency,
            "max_drain_s": json_float(self.max_drain_s),  # None: unbounded
            "min_queries": self.min_queries,
            "min_duration_s": self.min_duration_s,
            "sender": self.sender,
            "spin_s": self.spin_s,
            "clock": self.clock,
        }


@dataclass(frozen=True)
class LoadResult:
    """Every request and batch of one run, in send order, with the settings that drove it."""

    requests: tuple[RequestRecord, ...]
    batches: tuple[BatchRecord, ...]
    settings: LoadSettings
    last_sent_s: float  # when the sender sent its last request (0.0 if none)
    ended_s: float  # when the worker stopped (drained, or the drain limit ran out)
    drain_cut: bool  # the drain limit ran out with requests still queued
    extra: Mapping[str, object] | None = None  # the caller's description (arrival spec, scenario name)

    @property
    def completed(self) -> tuple[RequestRecord, ...]:
        return tuple(r for r in self.requests if r.completed)

    @property
    def unserved(self) -> tuple[RequestRecord, ...]:
        return tuple(r for r in self.requests if not r.completed)

    @property
    def streaming(self) -> bool:
        """``serve`` stamped tokens (a decoder): TTFT and TPOT exist."""
        return any(r.token_times_s for r in self.requests)

    def to_dict(self) -> dict[str, object]:
        return {
            "settings": self.settings.to_dict(),
            "last_sent_s": json_float(self.last_sent_s),
            "ended_s": json_float(self.ended_s),
            "drain_cut": self.drain_cut,
            "extra": dict(self.extra or {}),
            "requests": [r.to_dict() for r in self.requests],
            "batches": [b.to_dict() for b in self.batches],
        }
