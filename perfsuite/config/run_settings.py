"""Run-wide settings: the hardware and measure sections, and the `RunSpec` over all cases.

One pytest process pins its threads, seeds and measures every case of a run the same way, so
hardware, measure policy, pipeline stages and seed are validated per composed config and then
required to agree across the cases (`run_spec`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from perfsuite.config.fields import Fields
from perfsuite.config.schema import MAX_CUDA_BLOCK, MAX_GENERATION_RUNS, CaseConfig, HardwareSpec, MeasureSpec, RunSpec
from perfsuite.errors import PerfConfigError


def available_cpus() -> tuple[int, ...]:
    """The CPUs this process may run on (its affinity mask), or all of them where there is no mask."""
    if hasattr(os, "sched_getaffinity"):
        return tuple(sorted(os.sched_getaffinity(0)))
    return tuple(range(os.cpu_count() or 1))


def hardware_spec(data: Any, device: str, *, file: str | None, overridden: Mapping[str, str]) -> HardwareSpec:
    f = Fields(data, section="hardware", file=file, overridden=overridden)
    cpus = available_cpus()
    hint = f"this process may run on {len(cpus)} CPU(s): {_ranges(cpus)} (its affinity mask)"
    spec = HardwareSpec(
        device=f.string("device", choices=("cpu", "cuda", "mps")),
        threads=f.integer("threads", minimum=1),
        interop_threads=f.integer("interop_threads", minimum=1, default=1),
        pin=f.boolean("pin", default=False),
        cores=f.int_list("cores", minimum=0, default=None),
        cudnn_benchmark=f.boolean("cudnn_benchmark", default=False),
        deterministic=f.boolean("deterministic", default=False),
    )
    f.done()
    if spec.device != device.split(":")[0]:
        f.error("device", f"this hardware preset is for {spec.device} but --device is {device}", value=spec.device)
    for key in ("threads", "interop_threads"):
        if getattr(spec, key) > len(cpus):
            f.error(key, f"more threads than CPUs this process may run on ({len(cpus)})", value=getattr(spec, key), allowed=f"1..{len(cpus)}", hint=hint)
    if spec.cores is not None:
        for i, core in enumerate(spec.cores):
            if core not in cpus:
                f.error(f"cores[{i}]", "this process may not run on that CPU", value=core, allowed=_ranges(cpus), hint=hint)
        if len(set(spec.cores)) != len(spec.cores):
            f.error("cores", "lists a CPU twice", value=list(spec.cores))
    return spec


def _ranges(cpus: tuple[int, ...]) -> str:
    """(0, 1, 2, 5) -> '0-2,5'."""
    groups: list[list[int]] = []
    for cpu in cpus:
        if groups and groups[-1][1] == cpu - 1:
            groups[-1][1] = cpu
        else:
            groups.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in groups)


def _policy(f: Fields, cls: type) -> Any:
    """Build a measure policy dataclass from a section; its own checks become errors with the file."""
    names = [fl.name for fl in dataclasses.fields(cls)]
    kwargs = {}
    for name in names:
        if name in f.data:
            value = f.data[name]
            kwargs[name] = tuple(value) if isinstance(value, list) else value
        f._read.add(name)
    f.done()
    try:
        return cls(**kwargs)
    except PerfConfigError as exc:
        key = (exc.key or "").split(".")[-1]
        f.error(key, exc.detail, value=exc.value, allowed=exc.allowed, hint=exc.hint)
    except TypeError as exc:  # e.g. a mapping where a number belongs
        f.error("", f"bad value: {exc}")


def measure_spec(m: Fields) -> MeasureSpec:
    from perfsuite.measure.policy import StopPolicy, WarmupPolicy

    g = m.required("generation")
    spec = MeasureSpec(
        warmup=_policy(m.required("warmup"), WarmupPolicy),
        stop=_policy(m.required("stop"), StopPolicy),
        cuda_timing=m.string("cuda_timing", choices=("isolated", "pipelined"), default="isolated"),
        cuda_block=m.integer("cuda_block", minimum=1, maximum=MAX_CUDA_BLOCK, default=10),
        memory_period_s=_positive(m, "memory_period_s", 0.01),
        generation_runs=g.integer("runs", minimum=1, maximum=MAX_GENERATION_RUNS, default=11),
        generation_warmup_runs=g.integer("warmup_runs", minimum=0, maximum=MAX_GENERATION_RUNS, default=1),
        disable_gc=m.boolean("disable_gc", default=True),
    )
    g.done()
    m.done()
    return spec


def _positive(f: Fields, key: str, default: float) -> float:
    value = f._get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        f.error(key, "must be a number > 0 (seconds)", value=value)
    return float(value)


def run_spec(configs: Sequence[CaseConfig], *, file: str | None = None) -> RunSpec:
    """The run-wide settings, which every case must share: one process runs them all, in turn."""
    first = configs[0]
    spec = RunSpec(hardware=first.hardware, measure=first.measure, stages=first.stages, seed=first.seed, tracking=first.output.tracking)
    for cfg in configs[1:]:
        for field, key in (("hardware", "hardware"), ("measure", "measure"), ("stages", "pipeline.stages"), ("seed", "seed"), ("tracking", "output.tracking")):
            mine = cfg.output.tracking if field == "tracking" else getattr(cfg, field)
            if mine != getattr(spec, field):
                raise PerfConfigError(
                    f"'{key}' differs between cases {first.model.id}/{first.dataset.name} and {cfg.model.id}/{cfg.dataset.name}, "
                    "but it is a run-wide setting (one process pins threads, seeds and measures every case the same way)",
                    file=file,
                    key=key,
                    value=_describe(mine),
                    allowed=[_describe(getattr(spec, field))],
                    hint=f"set {key} once for the run (conf/config.yaml, the suite's overrides or --perf-override), not in a model or dataset preset",
                )
    return spec


def _describe(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
