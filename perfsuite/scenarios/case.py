"""A load scenario over one suite case: the serve callable, the capacity probe, and the scenario run.

    outcome = run_scenario(case, serve_forward(runtime, inputs_by_size, sync), sync=sync)

A request is one sample. A batch of k requests runs the case's runtime on a batch of k samples:
inputs for every batch size 1..max batch are prepared before the load starts (`inputs_by_size`,
from the session), and each size is called once, untimed, before anything is timed (a compiled
runtime specializes on the shape there, not inside the load). Decoders (`serve_generate`) run
``generate`` on the batch and stamp each decoding step through a streamer (TTFT, TPOT).

**Capacity** (`measure_capacity`): full batches back to back, ``max batch / median service
time``; it sizes offline runs (``duration_s`` worth of requests), a server's
``rate_of_capacity`` and a sweep's first rate. The scenarios themselves are
`perfsuite.scenarios.loadgen`'s; their figures `perfsuite.scenarios.metrics`'.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import math
import os
import statistics
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from perfsuite.config.schema import Case, ScenarioSpec
from perfsuite.errors import PerfUsageError
from perfsuite.scenarios.arrivals import ArrivalSpec
from perfsuite.scenarios.loadgen import Batch, Serve, offline, server, single_stream
from perfsuite.scenarios.metrics import LoadMetrics, load_metrics
from perfsuite.scenarios.records import LoadResult
from perfsuite.scenarios.slo import Slo
from perfsuite.scenarios.sweep import ProbeResult, SweepResult, find_max_rate

CAPACITY_MIN_CALLS = 5
CAPACITY_MAX_CALLS = 50
CAPACITY_MIN_TIME_S = 0.5


def scenario_cases(cases: Sequence[Case]) -> tuple[Case, ...]:
    """The selected scenario's cases: each suite case whose config has one, its id ending in the scenario's name.

    Single-stream serves one request at a time, so a (model, dataset, runtime) gets one case: the
    one with the suite's smallest batch size.
    """
    out = []
    for c in cases:
        spec = c.config.scenario
        if spec is None:
            continue
        if spec.kind == "single_stream" and c.batch_size != min(x.batch_size for x in cases if x.config == c.config and x.device == c.device):
            continue
        out.append(replace(c, scenario=spec))
    return tuple(out)


def generates(case: Case) -> bool:
    """A decoder case served by ``generate`` (TTFT/TPOT): the model can, infer.max_new_tokens > 0, and the runtime runs it."""
    return case.model.generative and case.config.infer.max_new_tokens > 0 and case.runtime.generates


def case_slo(spec: ScenarioSpec, *, tokens: bool) -> Slo | None:
    """The scenario's SLO for one case: TTFT/TPOT only where the case generates tokens; None when nothing is left."""
    s = spec.slo
    ttft, tpot = (s.ttft_ms, s.tpot_ms) if tokens else (None, None)
    if s.latency_ms is None and ttft is None and tpot is None:
        return None
    return Slo(latency_ms=s.latency_ms, ttft_ms=ttft, tpot_ms=tpot, attainment=s.attainment)


# -- serving a batch -----------------------------------------------------------------------------------------
def serve_forward(runtime: Callable[[Any], Any], inputs_by_size: Mapping[int, Sequence[Any]], sync: Callable[[], None]) -> Serve:
    """A batch of k requests: one ``runtime(inputs)`` call on a prepared batch of k samples, then a device sync."""
    cycles = _cycles(inputs_by_size)

    def serve(batch: Batch) -> None:
        runtime(next(cycles[len(batch)]))
        sync()

    return serve


def serve_generate(module: Any, inputs_by_size: Mapping[int, Sequence[Any]], sync: Callable[[], None], *, max_new_tokens: int,
                   generate_kwargs: Mapping[str, Any] | None = None) -> Serve:
    """A batch of k requests: greedy ``module.generate`` on k prompts, exactly ``max_new_tokens`` each, every step stamped.

    ``generate_kwargs``: what the case adds to every generate call (`perfsuite.runner.generate_kwargs`: a static KV
    cache, a compile runtime's compiled decoding step)."""
    extra = dict(generate_kwargs or {})
    from transformers.generation.streamers import BaseStreamer  # lazy: only decoders get here

    from perfsuite.measure.generation import pad_token_id

    cycles = _cycles(inputs_by_size)
    pad = pad_token_id(module)

    class _Steps(BaseStreamer):  # type: ignore[misc]
        """generate's first put() is the prompt; each later one is a decoding step of the whole batch."""

        def __init__(self, batch: Batch) -> None:
            self.batch, self.prompt_seen = batch, False

        def put(self, value: Any) -> None:
            sync()
            if self.prompt_seen:
                self.batch.token()
            self.prompt_seen = True

        def end(self) -> None:
            pass

    def serve(batch: Batch) -> None:
        module.generate(**next(cycles[len(batch)]), do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                        min_new_tokens=max_new_tokens, pad_token_id=pad, streamer=_Steps(batch), **extra)
        sync()

    return serve


def _cycles(inputs_by_size: Mapping[int, Sequence[Any]]) -> dict[int, Iterator[Any]]:
    missing = [k for k, v in inputs_by_size.items() if not v]
    if not inputs_by_size or missing:
        raise PerfUsageError(f"a scenario needs prepared inputs for every batch size 1..max batch; none for {missing or 'any size'}")
    return {k: itertools.cycle(v) for k, v in inputs_by_size.items()}


# -- capacity --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capacity:
    """Full batches served back to back before the load: the rate the case can sustain."""

    max_batch: int
    calls: int
    median_s: float

    @property
    def rate_per_s(self) -> float:
        return self.max_batch / self.median_s

    def to_dict(self) -> dict[str, object]:
        return {"max_batch": self.max_batch, "calls": self.calls, "median_s": self.median_s, "rate_per_s": self.rate_per_s}


def warm_up(serve: Serve, max_batch: int, clock: Callable[[], int] = time.perf_counter_ns) -> None:
    """One untimed call of every batch size: shape specialization, lazy initialization, caches."""
    for k in range(1, max_batch + 1):
        serve(Batch(tuple(range(k)), tuple(range(k)), clock))


def measure_capacity(serve: Serve, max_batch: int, clock: Callable[[], int] = time.perf_counter_ns) -> Capacity:
    """Median service time of full batches (at least CAPACITY_MIN_CALLS, for CAPACITY_MIN_TIME_S, at most CAPACITY_MAX_CALLS)."""
    times: list[float] = []
    started = clock()
    while len(times) < CAPACITY_MAX_CALLS and (len(times) < CAPACITY_MIN_CALLS or (clock() - started) * 1e-9 < CAPACITY_MIN_TIME_S):
        t0 = clock()
        serve(Batch(tuple(range(max_batch)), tuple(range(max_batch)), clock))
        times.append(max((clock() - t0) * 1e-9, 1e-9))
    return Capacity(max_batch, len(times), statistics.median(times))


# -- the run ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScenarioOutcome:
    """What one scenario run measured: the capacity probe, the run's (or max-rate probe's) metrics, and a sweep."""

    spec: ScenarioSpec
    max_batch: int
    capacity: Capacity
    slo: Slo | None
    offered_rate_per_s: float | None  # what was asked for: server's rate, a sweep's max rate; None offline / single-stream
    metrics: LoadMetrics | None  # None: a sweep with no passing rate
    schedule_sha256: str | None  # server: the arrival schedule's fingerprint (same seed, same schedule)
    sweep: SweepResult | None = None
    probes: tuple[tuple[float, LoadMetrics], ...] = ()  # a sweep's runs: (offered rate, metrics), in probe order
    sender_cores: tuple[int, ...] | None = None  # where the sender thread ran (None: the process's cores)
    latencies_s: tuple[float, ...] = ()  # the completed requests' latencies of that run (pytest-benchmark's rounds)
    # a sweep: the capacity probe again before each load probe and after the last one (the machine's drift while it ran)
    capacities_during: tuple[Capacity, ...] = ()


def schedule_fingerprint(arrivals: Sequence[float]) -> str:
    """sha256 of the offsets as float64: equal for equal schedules, whatever the platform prints."""
    return hashlib.sha256(struct.pack(f"<{len(arrivals)}d", *arrivals)).hexdigest()


def spare_cores(process_cores: Sequence[int] | None = None) -> tuple[int, ...] | None:
    """Cores the sender thread may spin on without taking the worker's: the machine's others, when the process is pinned."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    mine = set(process_cores if process_cores is not None else os.sched_getaffinity(0))
    every = set(range(os.cpu_count() or 1))
    spare = tuple(sorted(every - mine))
    return spare[:1] or None  # one core: the sender is one thread


@contextmanager
def _gc_off(enabled: bool) -> Iterator[None]:
    was = gc.isenabled()
    if enabled:
        gc.collect()
        gc.disable()
    try:
        yield
    finally:
        if enabled and was:
            gc.enable()


def run_scenario(
    case: Case,
    serve: Serve,
    *,
    tokens: bool = False,
    disable_gc: bool = True,
    sender_cores: tuple[int, ...] | None = None,
) -> ScenarioOutcome:
    """Warm up, measure the capacity, then run the case's scenario (``case.scenario``) through ``serve``.

    ``tokens``: ``serve`` stamps tokens (a decoder): the SLO keeps its TTFT/TPOT thresholds.
    ``sender_cores``: where the sender thread runs (`spare_cores`): a process pinned to one core
    would otherwise make the sender wait for the worker's computation, and its send error grow.
    """
    on_sender_start = (lambda: os.sched_setaffinity(0, sender_cores)) if sender_cores else None
    spec = case.scenario
    if spec is None:
        raise PerfUsageError(f"{case.id} is not a scenario case (select one with --perf-override scenario=NAME)")
    max_batch = 1 if spec.kind == "single_stream" else case.batch_size
    slo = case_slo(spec, tokens=tokens)
    warm_up(serve, max_batch)
    capacity = measure_capacity(serve, max_batch)
    payloads = range(max_batch * 64)  # request i is payloads[i % len]: the index; serve picks the prepared batch by size
    load = {"max_batch": max_batch, "max_wait_s": spec.max_wait_ms * 1e-3, "max_concurrency": spec.concurrency,
            "max_drain_s": spec.max_drain_s}
    with _gc_off(disable_gc):
        if spec.kind == "offline":
            n = max(spec.min_queries, math.ceil(spec.duration_s * capacity.rate_per_s))
            result = offline(serve, payloads, n=n, max_batch=max_batch)
            return ScenarioOutcome(spec, max_batch, capacity, slo, None, load_metrics(result, slo=slo), None, latencies_s=_latencies(result))
        if spec.kind == "single_stream":
            result = single_stream(serve, payloads, min_queries=spec.min_queries, min_duration_s=spec.duration_s,
                                   max_drain_s=spec.max_drain_s)
            return ScenarioOutcome(spec, max_batch, capacity, slo, None, load_metrics(result, slo=slo), None, latencies_s=_latencies(result))

        def run_at(rate: float, seed: int) -> tuple[LoadResult, str]:
            arrivals = ArrivalSpec(spec.arrival, rate, seed, spec.shape).times(n=spec.min_queries, duration_s=spec.duration_s)  # type: ignore[arg-type]
            result = server(serve, payloads, arrivals, **load, extra={"arrivals": {"process": spec.arrival, "rate_per_s": rate,
                                                                                   "seed": seed, "shape": spec.shape}},
                            on_sender_start=on_sender_start)
            return result, schedule_fingerprint(arrivals)

        if spec.kind == "server":
            rate = spec.rate if spec.rate is not None else (spec.rate_of_capacity or 0.0) * capacity.rate_per_s
            result, fingerprint = run_at(rate, spec.seed)
            return ScenarioOutcome(spec, max_batch, capacity, slo, rate, load_metrics(result, slo=slo), fingerprint,
                                   sender_cores=sender_cores, latencies_s=_latencies(result))
        # the machine's own speed can move during a sweep: the capacity probe between load probes says by how much
        # (SweepSummary.drift_interval)
        during: list[Capacity] = []
        swept = _sweep(spec, max_batch, capacity, slo, run_at, lambda: during.append(measure_capacity(serve, max_batch)))
        during.append(measure_capacity(serve, max_batch))
        return replace(swept, sender_cores=sender_cores, capacities_during=tuple(during))


def _sweep(spec: ScenarioSpec, max_batch: int, capacity: Capacity, slo: Slo | None,
           run_at: Callable[[float, int], tuple[LoadResult, str]], between: Callable[[], None] = lambda: None) -> ScenarioOutcome:
    sweep = spec.sweep
    if slo is None or sweep is None:
        raise PerfUsageError(f"scenario {spec.name}: a sweep needs an SLO that applies to the case (p99_ms for a model that does not generate)")
    probes: list[tuple[float, LoadMetrics]] = []
    latencies: dict[float, tuple[float, ...]] = {}

    def probe(rate: float, attempt: int) -> ProbeResult:
        if probes:
            between()  # not before the first: the capacity probe has just run
        result, _ = run_at(rate, spec.seed + len(probes))  # every probe its own schedule: re-measurements differ
        metrics = load_metrics(result, slo=slo)
        probes.append((rate, metrics))
        latencies[rate] = _latencies(result)
        return ProbeResult.from_metrics(rate, metrics)

    start = sweep.start_rate if sweep.start_rate is not None else 0.5 * capacity.rate_per_s
    found = find_max_rate(probe, start_rate_per_s=start, target=slo.attainment, growth=sweep.growth, rel_tol=sweep.rel_tol,
                          max_attempts=sweep.max_attempts, max_probes=sweep.max_probes, knee_on="p50")  # p50: established at every probe
    best = found.max_rate_per_s
    at_best = [m for r, m in probes if best is not None and r == best]
    return ScenarioOutcome(spec, max_batch, capacity, slo, best, at_best[-1] if at_best else None, None, found, tuple(probes),
                           latencies_s=latencies.get(best, ()) if best is not None else ())


def _latencies(result: LoadResult) -> tuple[float, ...]:
    return tuple(v for r in result.completed if (v := r.latency_s) is not None)
