"""Measure one case: the timed loop plus memory, device state and OOM handling around it.

The benchmark tests in benches/ stay thin: they hand a case's callable to these functions and
pass the result on to pytest-benchmark and the run's results.json.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from perfsuite.config.schema import Case
from perfsuite.measure import (
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
from perfsuite.measure.throughput import Throughput
from perfsuite.results.case import MemoryResult


@dataclass
class CaseOutcome:
    """What measuring a case produced: a measurement, or an OOM record; always the memory seen."""

    measurement: Measurement | None = None
    oom: OomRecord | None = None
    memory: MemoryResult = field(default_factory=MemoryResult)
    nvml: Any = None  # perfsuite.measure.NvmlReport on CUDA
    throughput: Throughput | None = None
    contention: Any = None  # perfsuite.measure.contention.ContentionReport: was the CPU ours?

    def device_state(self, samples: int | None = None) -> dict[str, Any] | None:
        """NVML memory, energy (per sample when `samples` is given), clocks, throttling; None off CUDA.

        Energy covers every call in the tracked block, warm-up included, so `samples` must too.
        """
        return None if self.nvml is None else self.nvml.to_dict(samples=samples)


@contextlib.contextmanager
def _tracked(case: Case, outcome: CaseOutcome) -> Iterator[None]:
    """Host RSS always; on CUDA the allocator peaks and NVML (memory, energy, clocks, throttling)."""
    period = case.config.measure.memory_period_s
    cuda = case.device.startswith("cuda")
    with contextlib.ExitStack() as stack:
        rss = stack.enter_context(RssSampler(period_s=period))
        peak = stack.enter_context(CudaPeakMemory(device=case.device)) if cuda else None
        nvml = None
        if cuda:
            index = int(case.device.split(":")[1]) if ":" in case.device else 0
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # NVML missing: a warning, metrics marked unavailable
                nvml = stack.enter_context(NvmlMonitor(index, period_s=period))
        hw = case.config.hardware  # innermost: counts the measured block, not the samplers' start
        contention = stack.enter_context(ContentionMonitor(threads=hw.threads, cpu_bound=not cuda, pinned=hw.pin))
        try:
            yield
        finally:
            stack.close()
            outcome.memory = replace(outcome.memory, host=rss.result, cuda=peak.result if peak is not None else None)
            if nvml is not None:
                outcome.nvml = nvml.report
            outcome.contention = contention.report


def measure_latency(case: Case, call: Callable[[dict[str, Any]], Any], batches: Any, module: Any) -> CaseOutcome:
    """Time `call(inputs)` over the prepared batches with the case's clock and policies."""
    spec = case.config.measure
    clock = clock_for(case.device, mode=spec.cuda_timing, block=spec.cuda_block)
    cycle = itertools.cycle(batches.inputs)
    outcome = CaseOutcome(memory=MemoryResult(weights_bytes=weights_bytes(module)))
    with _tracked(case, outcome), catch_oom(case.batch_size, device=case.device) as oom:
        m = measure(lambda: call(next(cycle)), clock=clock, warmup=spec.warmup, stop=spec.stop)
    if oom.record is not None:
        outcome.oom = oom.record
        return outcome
    flag = outcome.nvml.noise_flag() if outcome.nvml is not None else None
    if flag is not None:
        m = m.with_noise(flag.code, flag.reason)
    if outcome.contention is not None and (busy := outcome.contention.noise_flag()) is not None:
        m = m.with_noise(busy.code, busy.reason)  # "contended": the pinned core was not ours
    m = m.with_extra(contention=outcome.contention.to_dict()) if outcome.contention is not None else m
    outcome.measurement = m
    # Rates of None (with the reason) when the median could not be established: never a crash.
    outcome.throughput = throughput(m, batch_size=case.batch_size, tokens_per_call=round(batches.tokens_per_batch) or None)
    return outcome


def measure_generation_case(case: Case, model: Any, batches: Any) -> tuple[Any, CaseOutcome]:
    """TTFT / TPOT / decode tokens/s of greedy `generate` with min_new_tokens == max_new_tokens."""
    from perfsuite.measure import measure_generation

    spec = case.config.measure
    outcome = CaseOutcome(memory=MemoryResult(weights_bytes=weights_bytes(model.module)))
    inputs = batches.inputs[0]
    result = None
    with _tracked(case, outcome), catch_oom(case.batch_size, device=case.device) as oom:
        result = measure_generation(
            model.module,
            inputs,
            max_new_tokens=case.config.infer.max_new_tokens,
            runs=spec.generation_runs,
            warmup_runs=spec.generation_warmup_runs,
        )
    outcome.oom = oom.record
    return result, outcome
