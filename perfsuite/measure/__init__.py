"""perfsuite's measurement engine: clocks, warm-up, adaptive stopping, statistics, memory, energy.

Main entry point::

    from perfsuite.measure import measure, clock_for, WarmupPolicy, StopPolicy

    m = measure(lambda: model(**inputs), clock=clock_for("cpu"), warmup=WarmupPolicy(), stop=StopPolicy())
    m.median_s, m.stats.p99_s          # p99 is None (reason in m.stats.not_established) below 662 samples
    m.noise                            # NoiseFlag(code, reason) for max_time, high_iqr, warmup_not_settled ...
    benchmark.extra_info.update(m.to_extra_info())   # JSON-safe, schema_version 1 (docs/measurement.md)

Modules: `stats` (pure statistics), `policy` (WarmupPolicy, StopPolicy), `clocks`
(CpuClock, CudaClock), `engine` (measure, warm_up), `record` (Measurement),
`throughput` (rates, batch-sweep knee), `generation` (TTFT/TPOT), `memory`
(CUDA peak, host RSS, weights), `mps` (Apple GPU clock and memory), `sync` (waiting for a
device), `nvml` (GPU memory, energy, clocks), `contention` (was the
pinned core ours while sampling), `oom`
(OOM records), `fakes` (fake timer / torch.cuda / pynvml for tests), `peaks` (GPU datasheet
peaks), `cpu_peaks` (a CPU's measured peaks, cached), `roofs` (the peaks of a case's device),
`roofline` (a case's place on its roofline; pure).

Importing this package does not import torch, transformers, psutil or pynvml.
"""

from __future__ import annotations

from perfsuite.measure.clocks import Clock, CpuClock, CudaClock, Reading, clock_for
from perfsuite.measure.engine import WarmupResult, measure, warm_up
from perfsuite.measure.generation import GenerationMeasurement, GenerationTiming, measure_generation, time_generation
from perfsuite.measure.memory import CudaMemory, CudaPeakMemory, HostMemory, RssSampler, weights_bytes
from perfsuite.measure.nvml import DeviceState, NvmlMonitor, NvmlReport, NvmlUnavailableWarning
from perfsuite.measure.oom import OomRecord, catch_oom, is_oom, oom_record
from perfsuite.measure.policy import StopPolicy, WarmupPolicy
from perfsuite.measure.record import SCHEMA_VERSION, Measurement, NoiseFlag
from perfsuite.measure.stats import (
    SampleStats,
    median_ci,
    min_samples_for_percentile,
    percentile,
    summarize,
)
from perfsuite.measure.throughput import SweepAnalysis, SweepRow, Throughput, analyze_sweep, throughput

__all__ = [
    "SCHEMA_VERSION",
    "Clock",
    "CpuClock",
    "CudaClock",
    "CudaMemory",
    "CudaPeakMemory",
    "DeviceState",
    "GenerationMeasurement",
    "GenerationTiming",
    "HostMemory",
    "Measurement",
    "NoiseFlag",
    "NvmlMonitor",
    "NvmlReport",
    "NvmlUnavailableWarning",
    "OomRecord",
    "Reading",
    "RssSampler",
    "SampleStats",
    "StopPolicy",
    "SweepAnalysis",
    "SweepRow",
    "Throughput",
    "WarmupPolicy",
    "WarmupResult",
    "analyze_sweep",
    "catch_oom",
    "clock_for",
    "is_oom",
    "measure",
    "measure_generation",
    "median_ci",
    "min_samples_for_percentile",
    "oom_record",
    "percentile",
    "summarize",
    "throughput",
    "weights_bytes",
    "time_generation",
    "warm_up",
]
