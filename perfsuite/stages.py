"""The deep stages of a suite case behind `perf.profile`, `perf.layers`, `perf.memory_timeline`, `perf.static`, `perf.nsight`.

Each runs in a test of its own, after the timed ones (nothing here runs inside timed rounds), and
fills the case's result with its summary; a stage that fails (a profiler error, a full disk)
fails its test only, with the reason, and the case's timings stand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from perfsuite.errors import PerfProfileError
from perfsuite.profile.nvtx import phase_ranges

if TYPE_CHECKING:
    from perfsuite.api import Perf


def _profiling(perf: Perf, section: str) -> tuple[Any, Any, Any]:
    """(case, draft, the case's `profiling.<section>` settings) of a profiling stage; the test skips when the section is off."""
    case, draft = perf.case, perf.draft
    draft.kind = "profile"
    spec = getattr(case.config.profiling, section)
    if not spec.enabled:
        pytest.skip(f"profiling.{section}.enabled is false")
    return case, draft, spec


def profile(perf: Perf, runtime: Any, batch: Any) -> Any:
    """torch.profiler around a few calls: traces/<case>.json.gz, tables/<case>.ops.csv, the headline op, the overhead."""
    from perfsuite.profile import ProfilerSettings, profile_case
    from perfsuite.results.case import ProfileSummary

    case, draft = perf.case, perf.draft
    draft.kind = "profile"
    settings = ProfilerSettings.from_config(case.config)
    if not settings.profiling.enabled:
        pytest.skip("profiling.torch.enabled is false")
    inputs = batch.inputs[0]
    try:
        with phase_ranges(case.device)("profiled"):  # an NVTX range on CUDA, for Nsight's timeline
            result = profile_case(lambda: runtime(inputs), settings, device=case.device, out_dir=perf.session.run_dir, name=case.id, sync=perf.sync)
    except PerfProfileError as exc:
        pytest.fail(f"{case.id}: profile failed: {exc}", pytrace=False)
    draft.profile = ProfileSummary.of(result)
    assert result.table_path.is_file() and result.top_ops
    assert result.trace_path is None or result.trace_path.stat().st_size > 0
    return draft.profile


def layers(perf: Perf, model: Any, runtime: Any, batch: Any) -> Any:
    """Forward hooks on every module in forwards of their own: tables/<case>.layers.csv and the top modules."""
    from perfsuite.profile.layers import time_layers
    from perfsuite.results.deep import LayerSummary

    case, draft, spec = _profiling(perf, "layers")
    inputs = batch.inputs[0]
    if case.runtime.backend == "pytorch":
        call = lambda: runtime(inputs)  # noqa: E731 - the eager runtime calls the module: its hooks fire
    else:  # compiled / exported runtimes run no module forward a hook could see: time the eager model
        call = lambda: model.forward(inputs)  # noqa: E731
        draft.details["layers_of"] = f"the eager model (runtime {case.runtime.name} runs no per-module forward)"
    try:
        with phase_ranges(case.device)("layers"):
            timing = time_layers(model.module, call, out_dir=perf.session.run_dir, name=case.id, passes=spec.passes,
                                 warmup=spec.warmup, sync=perf.sync, count_flops=spec.count_flops)
    except PerfProfileError as exc:
        pytest.fail(f"{case.id}: layer pass failed: {exc}", pytrace=False)
    draft.layers = LayerSummary.of(timing, spec.top_n)
    assert timing.table_path.is_file() and timing.rows and timing.rows[0].module == ""
    return draft.layers


def memory_timeline(perf: Perf, runtime: Any, batch: Any, load: Any = None) -> Any:
    """The warm-up, timed and profiled phases replayed under memory trackers; ``load``: the model's load phase."""
    from perfsuite.profile.memory_timeline import PhaseRun, record_timeline
    from perfsuite.profile.torch_profiler import ProfilerSettings, profiler_session
    from perfsuite.results.deep import MemoryTimelineSummary

    case, draft, spec = _profiling(perf, "memory")
    inputs = batch.inputs[0]
    settings = ProfilerSettings.from_config(case.config)
    phases = [
        PhaseRun("warm-up", spec.warmup_calls),
        PhaseRun("timed", spec.timed_calls),
        PhaseRun("profiled", settings.steps, lambda: profiler_session(settings, case.device)),
    ]
    try:
        with phase_ranges(case.device)("memory"):
            timeline = record_timeline(lambda: runtime(inputs), phases, device=case.device, out_dir=perf.session.run_dir, name=case.id,
                                       max_entries=spec.max_entries, period_s=spec.period_s, sync=perf.sync, load=load)
    except PerfProfileError as exc:
        pytest.fail(f"{case.id}: memory timeline failed: {exc}", pytrace=False)
    draft.memory_timeline = MemoryTimelineSummary.of(timeline)
    assert timeline.table_path.is_file() and {p.phase for p in timeline.phases} >= {"warm-up", "timed", "profiled"}
    return draft.memory_timeline


def static(perf: Perf, model: Any, batch: Any) -> Any:
    """Parameters, weight bytes, FLOPs and bytes moved per call, and the device's roofs; nothing timed.

    FLOPs are counted on the model's own forward, whatever the case's runtime: a compiled or
    exported runtime runs the same model, and ONNX Runtime runs no torch op a counter could see.
    """
    from perfsuite.measure.roofs import device_peak
    from perfsuite.profile.static import analyze
    from perfsuite.results.case import StaticSummary

    case, draft = perf.case, perf.draft
    draft.kind = "static"
    inputs = batch.inputs[0]
    result = analyze(model.module, lambda: model.forward(inputs))
    try:
        env = json.loads((perf.session.run_dir / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        env = {}
    cpu = env.get("cpu") if isinstance(env.get("cpu"), dict) else {}
    peak = device_peak(case.device, case.precision, out_dir=perf.session.out_dir, machine_id=env.get("machine_id"),
                       cpu_name=str(cpu.get("model") or "cpu"))
    draft.static = StaticSummary.of({**result, "peak": peak.to_dict()})
    assert result["params"] == model.info().params
    assert result["flops_per_call"] > 0
    return draft.static


def nsight(perf: Perf, timed: Path) -> Any:
    """Nsight Systems / Compute over the case's timed test (``timed``: its file) in a child run, where the tools exist."""
    from perfsuite.profile.nsight import TOOLS, NsightRun, child_for, not_applicable, nsight_command, run_nsight
    from perfsuite.results.deep import NsightSummary
    from perfsuite.results.layout import path_inside

    case, draft, session = perf.case, perf.draft, perf.session
    draft.kind = "profile"
    plan = session.plan
    folder = session.run_dir / "nsight"
    node = f"{timed}::test_latency[{case.id}]"
    child = child_for(case, node, suite=plan.suite.name, overrides=plan.overrides, conf_dirs=plan.conf_dirs[:-1], out_dir=folder / "out")
    runs = []
    for tool in TOOLS:
        cmd = nsight_command(tool, case, child, folder)
        why_not = not_applicable(tool, case, getattr(case.config.profiling, tool).enabled)
        if why_not is not None:
            runs.append(NsightRun(tool, cmd.shell(), "skipped", why_not))
            continue
        runs.append(run_nsight(cmd, log_path=path_inside(folder, case.id, f".{tool}.log")))
    draft.nsight = NsightSummary(tuple(r.to_dict() for r in runs))
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        pytest.fail("; ".join(f"{r.tool}: {r.reason}" for r in failed), pytrace=False)
    if not any(r.status == "ran" for r in runs):
        pytest.skip("; ".join(f"{r.tool}: {r.reason}" for r in runs) + f". Command: {runs[0].command}")
    return draft.nsight
