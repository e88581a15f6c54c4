"""`profiling.layers`, `profiling.memory`, `profiling.nsys`, `profiling.ncu`: the deep-profile presets.

Each comes from its own preset file (conf/profiling/<name>/*.yaml), so an error names that file.
A section missing from a composed config (a user's own config.yaml that predates them) takes the
schema defaults; a key the schema does not know is an error that lists the valid keys.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any

from perfsuite.config.fields import Fields
from perfsuite.config.schema import (
    MAX_PROFILER_STEPS,
    NCU_SETS,
    NSYS_SAMPLES,
    NSYS_TRACES,
    LayerTimingSpec,
    MemoryTimelineSpec,
    NcuSpec,
    NsysSpec,
)

MAX_MEMORY_ENTRIES = 10_000_000
MAX_TOP_N = 1000


def _default(cls: type, name: str) -> Any:
    return next(fl.default for fl in dataclasses.fields(cls) if fl.name == name)


def _section(data: Mapping[str, Any], name: str, files: Mapping[str, str | None], overridden: Mapping[str, str]) -> Fields:
    return Fields(data.get(name), section=f"profiling.{name}", file=files.get(f"profiling/{name}"), overridden=overridden)


def _optional_string(f: Fields, key: str) -> str | None:
    return f.string(key, default=None)


def layers_spec(f: Fields) -> LayerTimingSpec:
    d = functools.partial(_default, LayerTimingSpec)
    spec = LayerTimingSpec(
        enabled=f.boolean("enabled", default=d("enabled")),
        passes=f.integer("passes", minimum=1, maximum=MAX_PROFILER_STEPS, default=d("passes")),
        warmup=f.integer("warmup", minimum=0, maximum=MAX_PROFILER_STEPS, default=d("warmup")),
        top_n=f.integer("top_n", minimum=1, maximum=MAX_TOP_N, default=d("top_n")),
        count_flops=f.boolean("count_flops", default=d("count_flops")),
    )
    f.done()
    return spec


def memory_spec(f: Fields) -> MemoryTimelineSpec:
    d = functools.partial(_default, MemoryTimelineSpec)
    period = f._get("period_s", d("period_s"))
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not (math.isfinite(period) and period > 0):
        f.error("period_s", "must be a number > 0 (seconds)", value=period, allowed="e.g. 0.005")
    spec = MemoryTimelineSpec(
        enabled=f.boolean("enabled", default=d("enabled")),
        warmup_calls=f.integer("warmup_calls", minimum=0, maximum=MAX_PROFILER_STEPS, default=d("warmup_calls")),
        timed_calls=f.integer("timed_calls", minimum=1, maximum=MAX_PROFILER_STEPS, default=d("timed_calls")),
        max_entries=f.integer("max_entries", minimum=1, maximum=MAX_MEMORY_ENTRIES, default=d("max_entries")),
        period_s=float(period),
    )
    f.done()
    return spec


def nsys_spec(f: Fields) -> NsysSpec:
    d = functools.partial(_default, NsysSpec)
    trace = f.str_list("trace", nonempty=True, default=list(d("trace")))
    for i, t in enumerate(trace):
        if t not in NSYS_TRACES:
            f.error(f"trace[{i}]", "unknown nsys trace", value=t, allowed=NSYS_TRACES)
    spec = NsysSpec(
        enabled=f.boolean("enabled", default=d("enabled")),
        trace=trace,
        sample=f.string("sample", choices=NSYS_SAMPLES, default=d("sample")),
        capture_nvtx=_optional_string(f, "capture_nvtx"),
        extra_args=f.str_list("extra_args", default=[]),
    )
    f.done()
    return spec


def ncu_spec(f: Fields) -> NcuSpec:
    d = functools.partial(_default, NcuSpec)
    regex = _optional_string(f, "kernel_regex")
    if regex is not None:
        import re

        try:
            re.compile(regex)
        except re.error as exc:
            f.error("kernel_regex", f"not a regular expression ({exc})", value=regex)
    spec = NcuSpec(
        enabled=f.boolean("enabled", default=d("enabled")),
        set=f.string("set", choices=NCU_SETS, default=d("set")),
        kernel_regex=regex,
        launch_skip=f.integer("launch_skip", minimum=0, maximum=10**9, default=d("launch_skip")),
        launch_count=f.integer("launch_count", minimum=1, maximum=10**9, default=d("launch_count")),
        nvtx_include=_optional_string(f, "nvtx_include"),
        extra_args=f.str_list("extra_args", default=[]),
    )
    f.done()
    return spec


def deep_profiling_specs(
    prof: Fields, files: Mapping[str, str | None], overridden: Mapping[str, str]
) -> tuple[LayerTimingSpec, MemoryTimelineSpec, NsysSpec, NcuSpec]:
    """The four presets of `prof` (the `profiling` section), each read against its own file."""
    readers = (("layers", layers_spec), ("memory", memory_spec), ("nsys", nsys_spec), ("ncu", ncu_spec))
    out = []
    for name, read in readers:
        prof._read.add(name)
        out.append(read(_section(prof.data, name, files, overridden)))
    return tuple(out)  # type: ignore[return-value]
