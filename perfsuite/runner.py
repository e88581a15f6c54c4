"""Measure one case: the timed loop, then a short memory pass, with device state and OOM handling.

The benchmark tests in benches/ stay thin: they hand a case's callable to these functions and
pass the result on to pytest-benchmark and the run's results.json.

Nothing but the model call runs beside the timed rounds: the 10 ms samplers of host RSS and
NVML memory (and the CUDA allocator peaks) track a short pass of a few calls *after* them
(`_memory_pass`), and around the timed block NVML is only read at entry and exit (energy
counter, clocks, throttling) with no polling thread (`_tracked`). On CPU a fixed reference kernel
is timed right before and right after the timed block (`perfsuite.measure.speed_probe`): a case
around which the whole machine ran slow is flagged ``host_slow``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from perfsuite.config.schema import Case
from perfsuite.measure import (
    Clock,
    CudaPeakMemory,
    Measurement,
    NvmlMonitor,
    OomRecord,
    RssSampler,
    catch_oom,
    clock_for,
    measure,
    throughput,
    weights_bytes,
)
from perfsuite.measure.contention import ContentionMonitor
from perfsuite.measure.memory import release_freed_heap
from perfsuite.measure.speed_probe import session_probe
from perfsuite.measure.engine import Progress, ProgressFn
from perfsuite.measure.mps import MpsPeakMemory
from perfsuite.measure.throughput import Throughput
from perfsuite.profile.nvtx import phase_ranges
from perfsuite.report.progress import current_progress
from perfsuite.results.case import MemoryResult

#: Period of the NVML monitor around the timed block: it reads at entry and exit and its thread
#: sleeps in between, so nothing polls during the timed rounds (below threading.TIMEOUT_MAX).
ENDPOINTS_ONLY_PERIOD_S = 1e6
#: The memory pass: at least this many calls (or MEMORY_PASS_MIN_S of calls, whichever comes
#: first) and at least MEMORY_PASS_PERIODS sampling periods, so the RSS/NVML threads see the calls.
MEMORY_PASS_CALLS = 3
MEMORY_PASS_MIN_S = 0.5
MEMORY_PASS_PERIODS = 5
MEMORY_PASS_MAX_SAMPLES = 1000


@dataclass
class CaseOutcome:
    """What measuring a case produced: a measurement, or an OOM record; always the memory seen."""

    measurement: Measurement | None = None
    oom: OomRecord | None = None
    memory: MemoryResult = field(default_factory=MemoryResult)
    nvml: Any = None  # perfsuite.measure.NvmlReport on CUDA
    throughput: Throughput | None = None
    contention: Any = None  # perfsuite.measure.contention.ContentionReport: was the CPU ours?
    speed: Any = None  # perfsuite.measure.speed_probe.SpeedReport: was the machine itself slow? (CPU cases)

    def device_state(self, samples: int | None = None) -> dict[str, Any] | None:
        """NVML memory, energy (per sample when `samples` is given), clocks, throttling; None off CUDA.

        Energy covers every call in the tracked block, warm-up included, so `samples` must too.
        """
        return None if self.nvml is None else self.nvml.to_dict(samples=samples)


def _gpu_index(device: str) -> int:
    return int(device.split(":")[1]) if ":" in device else 0


@contextlib.contextmanager
def _tracked(case: Case, outcome: CaseOutcome) -> Iterator[None]:
    """Around the timed rounds. On CUDA: NVML energy, clocks and throttling, read at entry and exit.

    No sampler thread runs during the timed rounds (it would take the GIL and the pinned core
    every 10 ms); memory is tracked afterwards by `_memory_pass`. On a GPU without NVML's energy
    counter (before Volta), energy is then the trapezoid of the power read at entry and exit.
    """
    nvml = None
    cuda = case.device.startswith("cuda")
    probe = session_probe() if case.device == "cpu" else None  # a reference kernel on the case's core, before and after
    before = probe.measure() if probe is not None else None
    with contextlib.ExitStack() as stack:
        if cuda:
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # NVML missing: a warning, metrics marked unavailable
                nvml = stack.enter_context(NvmlMonitor(_gpu_index(case.device), period_s=ENDPOINTS_ONLY_PERIOD_S))
        hw = case.config.hardware  # innermost: counts the measured block, not the monitors' start
        contention = stack.enter_context(ContentionMonitor(threads=hw.threads, cpu_bound=not cuda, pinned=hw.pin))
        try:
            yield
        finally:
            stack.close()
            if nvml is not None:
                outcome.nvml = nvml.report
            outcome.contention = contention.report
            if probe is not None and before is not None:
                outcome.speed = probe.report(before, probe.measure())


def _memory_pass(
    case: Case,
    outcome: CaseOutcome,
    run: Callable[[], object],
    now_s: Callable[[], float],
    progress: ProgressFn | None,
    calls_per_run: int = 1,
) -> None:
    """A few calls after the timed rounds inside the memory trackers (host RSS; CUDA peaks + NVML memory; MPS memory).

    `run` makes one synchronized call (or a pipelined block of `calls_per_run`); it repeats until
    MEMORY_PASS_CALLS runs or MEMORY_PASS_MIN_S seconds, and at least MEMORY_PASS_PERIODS
    sampling periods. ``memory["tracked_calls"]`` records how many calls were tracked.
    """
    period = case.config.measure.memory_period_s
    cuda = case.device.startswith("cuda")
    # Heap pages the timed rounds (or earlier cases) freed go back first: the pass's peak is then
    # what the case holds plus what its calls touch, not what glibc kept mapped from before.
    release_freed_heap()
    with contextlib.ExitStack() as stack:
        rss = stack.enter_context(RssSampler(period_s=period))
        peak = stack.enter_context(CudaPeakMemory(device=case.device)) if cuda else None
        mps = stack.enter_context(MpsPeakMemory(period_s=period)) if case.device == "mps" else None
        nvml = None
        if cuda:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                nvml = stack.enter_context(NvmlMonitor(_gpu_index(case.device), period_s=period))
        n = 0
        try:
            t0 = now_s()
            while True:
                run()
                n += 1
                elapsed = now_s() - t0
                if progress is not None:
                    progress(Progress("memory", n, max(n, MEMORY_PASS_CALLS), elapsed, MEMORY_PASS_MIN_S))
                enough = n >= MEMORY_PASS_CALLS or elapsed >= MEMORY_PASS_MIN_S
                if (enough and elapsed >= MEMORY_PASS_PERIODS * period) or n >= MEMORY_PASS_MAX_SAMPLES:
                    break
        finally:
            stack.close()
            outcome.memory = replace(
                outcome.memory,
                host=rss.result,
                cuda=peak.result if peak is not None else None,
                mps=mps.result if mps is not None else None,
                tracked_calls=n * calls_per_run,
            )
            if nvml is not None and nvml.report is not None:
                outcome.nvml = _with_memory_of(outcome.nvml, nvml.report)


def _with_memory_of(timed: Any, memory: Any) -> Any:
    """The timed block's NVML report (energy, clocks) with the memory pass's memory peaks."""
    if timed is None:
        return memory

    def peak(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else max(a or 0, b or 0)

    missing = {k: v for k, v in timed.unavailable.items() if k not in ("process_peak_bytes", "device_used_peak_bytes")}
    for key in ("process_peak_bytes", "device_used_peak_bytes"):
        if getattr(memory, key) is None and getattr(timed, key) is None and key in memory.unavailable:
            missing[key] = memory.unavailable[key]
    return dataclasses.replace(
        timed,
        process_peak_bytes=peak(timed.process_peak_bytes, memory.process_peak_bytes),
        device_used_peak_bytes=peak(timed.device_used_peak_bytes, memory.device_used_peak_bytes),
        samples=timed.samples + memory.samples,
        unavailable=missing,
    )


def _with_memory_ahead(progress: ProgressFn | None) -> ProgressFn | None:
    """`measure`'s progress callback, with the memory pass's estimate added to ``after_s``."""
    if progress is None:
        return None

    def report(event: Progress) -> None:
        per = event.elapsed_s / max(event.n, 1)  # per call (warm-up) or per sample (sampling)
        ahead = min(MEMORY_PASS_MIN_S, MEMORY_PASS_CALLS * per)
        progress(dataclasses.replace(event, after_s=event.after_s + ahead))

    return report


def measure_latency(
    case: Case, call: Callable[[dict[str, Any]], Any], batches: Any, module: Any, *, progress: ProgressFn | None = None
) -> CaseOutcome:
    """Time `call(inputs)` over the prepared batches with the case's clock and policies, then a memory pass.

    ``progress`` defaults to the callback the pytest plugin installed (`current_progress`).
    """
    cycle = itertools.cycle(batches.inputs)
    return measure_callable(
        case, lambda: call(next(cycle)), batch_size=case.batch_size, tokens_per_call=round(batches.tokens_per_batch) or None,
        weights=weights_bytes(module), progress=progress,
    )


def measure_callable(
    case: Case,
    fn: Callable[[], Any],
    *,
    batch_size: int,
    tokens_per_call: int | None = None,
    weights: int | None = None,
    progress: ProgressFn | None = None,
) -> CaseOutcome:
    """Time ``fn()`` with the case's clock and policies (warm-up, adaptive stop, noise flags), then a memory pass.

    The engine behind `perf.measure` and the latency benches: ``batch_size`` items (and
    ``tokens_per_call`` tokens) per call make the rates; ``weights`` is the model's size when known.
    An out-of-memory error is caught and returned as ``oom``.
    """
    spec = case.config.measure
    clock: Clock = clock_for(case.device, mode=spec.cuda_timing, block=spec.cuda_block)
    progress = progress if progress is not None else current_progress.get()
    outcome = CaseOutcome(memory=MemoryResult(weights_bytes=weights))
    with catch_oom(batch_size, device=case.device) as oom:
        with _tracked(case, outcome):
            m = measure(
                fn, clock=clock, warmup=spec.warmup, stop=spec.stop, disable_gc=spec.disable_gc, progress=_with_memory_ahead(progress),
                phase=phase_ranges(case.device),  # NVTX ranges on CUDA (for Nsight), nothing elsewhere
            )
        _memory_pass(case, outcome, lambda: clock.collect(fn, 1), clock.now_s, progress, clock.calls_per_sample)
    if oom.record is not None:
        outcome.oom = oom.record
        return outcome
    flag = outcome.nvml.noise_flag() if outcome.nvml is not None else None
    if flag is not None:
        m = m.with_noise(flag.code, flag.reason)
    if outcome.contention is not None and (busy := outcome.contention.noise_flag()) is not None:
        m = m.with_noise(busy.code, busy.reason)  # "contended": the pinned core was not ours
    m = m.with_extra(contention=outcome.contention.to_dict()) if outcome.contention is not None else m
    if outcome.speed is not None:
        if (slow := outcome.speed.noise_flag()) is not None:
            m = m.with_noise(slow.code, slow.reason)  # "host_slow": the whole machine ran slow around the case
        m = m.with_extra(speed_probe=outcome.speed.to_dict())
    outcome.measurement = m
    # Rates of None (with the reason) when the median could not be established: never a crash.
    outcome.throughput = throughput(m, batch_size=batch_size, tokens_per_call=tokens_per_call)
    return outcome


def measure_generation_case(case: Case, model: Any, batches: Any) -> tuple[Any, CaseOutcome]:
    """TTFT / TPOT / decode tokens/s of greedy `generate` with min_new_tokens == max_new_tokens."""
    return measure_generate(case, model.module, batches.inputs[0], max_new_tokens=case.max_new_tokens)


def measure_generate(case: Case, module: Any, inputs: Any, *, max_new_tokens: int) -> tuple[Any, CaseOutcome]:
    """``module.generate(**inputs)`` timed token by token (`measure_generation`), then one tracked call for memory.

    The engine behind `perf.generate` and the generation benches: the case's generation runs and
    warm-up runs, the case's slowdown (gate experiments) after every forward, OOM caught.
    """
    from perfsuite.measure import measure_generation, time_generation
    from perfsuite.measure.generation import GeneratedOutput, generated_output
    from perfsuite.runtimes.eager import slowed_forwards

    spec = case.config.measure
    kwargs = generate_kwargs(case)
    outcome = CaseOutcome(memory=MemoryResult(weights_bytes=weights_bytes(module)))
    result = None
    with catch_oom(case.batch_size, device=case.device) as oom, slowed_forwards(module, case.runtime.slowdown):
        with _tracked(case, outcome), phase_ranges(case.device)("timed"):  # warm-up runs included (NVTX on CUDA)
            result = measure_generation(
                module, inputs, max_new_tokens=max_new_tokens, runs=spec.generation_runs, warmup_runs=spec.generation_warmup_runs,
                generate_kwargs=kwargs,
            )
        # one more generate call, tracked: the memory pass (MEMORY_PASS_MIN_S makes it one call); its output
        # gives the generated tokens (what a reader checks the model said) and the KV cache it held
        seen: list[GeneratedOutput] = []
        clock = time.perf_counter
        # The prefill alone first (one forward over the prompt, filling the KV cache), then whole generate calls:
        # what the prompt costs and what decoding adds on top, as two peaks.
        prefill = CaseOutcome(memory=MemoryResult(weights_bytes=outcome.memory.weights_bytes))
        _memory_pass(case, prefill, lambda: _prefill(module, inputs), clock, None)
        _memory_pass(case, outcome, lambda: time_generation(module, inputs, max_new_tokens=max_new_tokens, generate_kwargs=kwargs,
                                                            on_output=lambda o: seen.append(generated_output(o, inputs))), clock, None)
    outcome.oom = oom.record
    if result is not None:
        result = replace(result, output=seen[-1] if seen else None, prefill_memory=prefill.memory if outcome.oom is None else None)
    return result, outcome


def generate_kwargs(case: Case) -> dict[str, Any]:
    """What the case adds to every generate call: a static KV cache (infer.kv_cache: static, preallocated for prompt +
    new tokens); under a compile runtime, transformers' compiled decoding step (which needs the static cache)."""
    if case.runtime.backend == "compile":
        from perfsuite.runtimes.compiled import generate_compile_kwargs

        return generate_compile_kwargs(case.runtime.compile)
    return {"cache_implementation": "static"} if case.config.infer.kv_cache == "static" else {}


def _prefill(module: Any, inputs: Any) -> None:
    """One forward over the prompt with the KV cache on, as generate's first step does (the last position's
    logits only, where the model takes `logits_to_keep`); device-synchronized."""
    import inspect

    import torch

    from perfsuite.measure.sync import synchronize

    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(module.forward).parameters else {}
    with torch.inference_mode():
        out = module(**inputs, use_cache=True, **last_only)
    synchronize(str(next(module.parameters()).device))
    del out
