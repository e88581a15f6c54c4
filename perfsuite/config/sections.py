"""The sections every composed config shares: pipeline, profiling, output, measure, seed.

Defaults live only in the schema dataclasses (`TorchProfilerSpec`, `DirectOutputSpec`, ...):
the YAML presets set values, the readers here take a missing key's default from the dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from perfsuite.config.fields import Fields
from perfsuite.config.run_settings import measure_spec
from perfsuite.config.scenario import scenario_spec
from perfsuite.config.schema import (
    MAX_OP_TABLE_ROWS,
    MAX_PROFILER_STEPS,
    STAGES,
    DirectOutputSpec,
    MeasureSpec,
    OutputSpec,
    ProfilingSpec,
    ScenarioSpec,
    TorchOutputSpec,
    TorchProfilerSpec,
)
from perfsuite.config.tracking import tracking_spec

TOP_LEVEL = ("hardware", "dataset", "inference_runtime", "pipeline", "profiling", "output", "suite", "seed", "measure", "scenario")


def _default(cls: type, name: str) -> Any:
    """A field's default from the schema dataclass: the one place defaults live."""
    return next(fl.default for fl in dataclasses.fields(cls) if fl.name == name)


def _profiling_spec(prof: Fields, files: Mapping[str, str | None], overridden: Mapping[str, str]) -> ProfilingSpec:
    from perfsuite.config.profiling import deep_profiling_specs

    t = prof.required("torch")
    d = functools.partial(_default, TorchProfilerSpec)
    activities = t.str_list("activities", nonempty=True, default=list(d("activities")))
    for i, act in enumerate(activities):
        if act not in ("cpu", "cuda"):
            t.error(f"activities[{i}]", "unknown profiler activity", value=act, allowed=["cpu", "cuda"])
    spec = TorchProfilerSpec(
        enabled=t.boolean("enabled", default=d("enabled")),
        activities=activities,
        record_shapes=t.boolean("record_shapes", default=d("record_shapes")),
        profile_memory=t.boolean("profile_memory", default=d("profile_memory")),
        with_stack=t.boolean("with_stack", default=d("with_stack")),
        with_flops=t.boolean("with_flops", default=d("with_flops")),
        wait=t.integer("wait", minimum=0, maximum=MAX_PROFILER_STEPS, default=d("wait")),
        warmup=t.integer("warmup", minimum=0, maximum=MAX_PROFILER_STEPS, default=d("warmup")),
        active=t.integer("active", minimum=1, maximum=MAX_PROFILER_STEPS, default=d("active")),
    )
    t.done()
    if spec.steps > MAX_PROFILER_STEPS:
        t.error("active", f"wait + warmup + active = {spec.steps} profiled calls, more than perfsuite's limit of {MAX_PROFILER_STEPS}", value=spec.active)
    layers, memory, nsys, ncu = deep_profiling_specs(prof, files, overridden)
    prof.done()
    return ProfilingSpec(torch=spec, layers=layers, memory=memory, nsys=nsys, ncu=ncu)


def _output_spec(out: Fields, tracking_file: str | None) -> OutputSpec:
    from perfsuite.profile.torch_profiler import SORT_KEYS

    d = out.required("direct")
    direct = DirectOutputSpec(
        record_output_shapes=d.boolean("record_output_shapes", default=_default(DirectOutputSpec, "record_output_shapes")),
        save_raw_samples=d.boolean("save_raw_samples", default=_default(DirectOutputSpec, "save_raw_samples")),
    )
    d.done()
    t = out.required("torch")
    torch = TorchOutputSpec(
        export_trace=t.boolean("export_trace", default=_default(TorchOutputSpec, "export_trace")),
        op_table_rows=t.integer("op_table_rows", minimum=1, maximum=MAX_OP_TABLE_ROWS, default=_default(TorchOutputSpec, "op_table_rows")),
        sort_by=t.string("sort_by", choices=SORT_KEYS, default=_default(TorchOutputSpec, "sort_by")),
    )
    t.done()
    # output.tracking / output.trackers come from conf/output/tracking/: errors name that file.
    tr = Fields({k: out.data[k] for k in ("tracking", "trackers") if k in out.data}, section="output", file=tracking_file, overridden=out.overridden)
    out._read.update(("tracking", "trackers"))
    tracking = tracking_spec(tr)
    tr.done()
    out.done()
    return OutputSpec(direct=direct, torch=torch, tracking=tracking)


@dataclasses.dataclass(frozen=True)
class Sections:
    """The shared sections of one composed config, validated."""

    measure: MeasureSpec
    stages: tuple[str, ...]
    seed: int
    profiling: ProfilingSpec
    output: OutputSpec
    scenario: ScenarioSpec | None = None


# Sections config.yaml always composes in: deleting one (~KEY) is an error, never a silent default.
REQUIRED_SECTIONS = ("hardware", "dataset", "inference_runtime", "pipeline", "profiling", "output", "measure", "model", "infer")


def check_sections(data: dict[str, Any], files: Mapping[str, str | None], overridden: Mapping[str, str]) -> Sections:
    top = Fields(data, section="", file=files.get("config"), overridden=overridden)
    for key in (*TOP_LEVEL, "model", "infer"):
        top._read.add(key)
    top.done()
    for key in REQUIRED_SECTIONS:
        top.required(key)
    measure = measure_spec(top.required("measure"))
    p = Fields(data.get("pipeline"), section="pipeline", file=files.get("pipeline"), overridden=overridden)
    stages = p.str_list("stages", nonempty=True)
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            p.error(f"stages[{i}]", "unknown stage", value=stage, allowed=STAGES)
    p.done()
    prof = Fields(data.get("profiling"), section="profiling", file=files.get("profiling/torch"), overridden=overridden)
    profiling = _profiling_spec(prof, files, overridden)
    out = Fields(data.get("output"), section="output", file=files.get("output/direct"), overridden=overridden)
    output = _output_spec(out, files.get("output/tracking"))
    seed = top.integer("seed", minimum=0, default=0)
    scenario = scenario_spec(data.get("scenario"), file=files.get("scenario"), overridden=overridden)
    return Sections(measure, stages, seed, profiling, output, scenario)
