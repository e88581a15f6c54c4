"""A run of every kind of result, built from typed parts on fake clocks (no torch, no pytest session).

The report tests (tables, terminal, Markdown, export) read it back through `load_run`, as every
reader does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from perfsuite.measure import CpuClock, HostMemory, OomRecord, StopPolicy, WarmupPolicy, analyze_sweep, measure, summarize, throughput
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.results import CaseInfo, CaseResult, ResultsWriter, RunResult, SweepResult, load_run
from perfsuite.results.case import GenerationSummary, MemoryResult, ProfileSummary, StaticSummary

MIB = 1024 * 1024
TEXT = CaseInfo(
    id="gpt2.tiny-pydoc-eager-bs1-cpu", model="gpt2.tiny", model_family="gpt2", modality="text", dataset="pydoc",
    runtime="eager", batch_size=1, device="cpu", precision="fp32", seed=0, sampling="sequential", seq_len=128,
)
IMAGE = dataclasses.replace(TEXT, id="resnet50.tiny-sample_images-eager-bs2-cpu", model="resnet50.tiny", model_family="resnet",
                            modality="image", dataset="sample_images", batch_size=2, seq_len=None, image_size=64)
HOSTILE_ID = 'evil|`x`<script>alert("1")</script>\n*b* $x$ =cmd() 漢字 ' + "z" * 150
HOSTILE = dataclasses.replace(TEXT, id=HOSTILE_ID, model="<img src=x onerror=alert(1)>|m", model_family="=SUM(A1)")


def fake_measurement(durations=(0.010, 0.011, 0.009, 0.010)):
    timer = FakeTimer()
    work = ScriptedWork(timer.advance, list(durations))
    return measure(work, clock=CpuClock(timer), warmup=WarmupPolicy(min_calls=2, window=2, rel_tol=0.5),
                   stop=StopPolicy(min_time_s=0.1, min_rounds=20, max_time_s=1.0))


def unestablished_measurement():
    """Calls of 1 s under a 5 s hard budget: too few samples for a median."""
    timer = FakeTimer()
    return measure(ScriptedWork(timer.advance, [1.0]), clock=CpuClock(timer),
                   warmup=WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=2),
                   stop=StopPolicy(min_time_s=0.1, min_rounds=5, max_time_s=4.0, hard_max_time_s=5.0))


def result(case, outcome="passed", kind="latency", test=None, **parts):
    return CaseResult(test=test or f"test_{kind}", kind=kind, case=case, outcome=outcome, finished="2026-11-25T12:00:00", **parts)


def generation_summary() -> GenerationSummary:
    ttft = tuple(0.020 + 0.001 * (i % 3) for i in range(11))
    e2e = tuple(0.200 + 0.002 * (i % 3) for i in range(11))
    return GenerationSummary(
        n_runs=11, warmup_runs=1, new_tokens=8, batch_size=1, prompt_tokens=32, ttft=summarize(ttft), e2e=summarize(e2e),
        tpot=summarize([0.025] * 11), decode_tokens_per_s=summarize([40.0] * 11), ttft_samples_s=ttft, e2e_samples_s=e2e,
    )


def cases() -> list[CaseResult]:
    m = fake_measurement()
    m4 = fake_measurement((0.030, 0.031, 0.029))
    slow = unestablished_measurement()
    noisy = fake_measurement((0.004, 0.005)).with_noise("throttled", "the device throttled")
    memory = MemoryResult(weights_bytes=3 * MIB, host=HostMemory(100 * MIB, 400 * MIB, 300 * MIB, 5,
                                                                  private_peak_bytes=420 * MIB, private_before_model_bytes=20 * MIB))
    bs4 = dataclasses.replace(TEXT, id="gpt2.tiny-pydoc-eager-bs4-cpu", batch_size=4)
    return [
        result(TEXT, measurement=m, throughput=throughput(m, batch_size=1, tokens_per_call=128), memory=memory, load_s=1.5),
        result(bs4, measurement=m4, throughput=throughput(m4, batch_size=4, tokens_per_call=512), memory=memory, load_s=1.5),
        result(IMAGE, measurement=noisy, throughput=throughput(noisy, batch_size=2), memory=memory),
        result(dataclasses.replace(TEXT, id="bert.tiny-pydoc-eager-bs8-cpu", model="bert.tiny", model_family="bert", batch_size=8),
               measurement=slow, throughput=throughput(slow, batch_size=8)),
        result(HOSTILE, "failed", reason="RuntimeError: boom\nsecond line | with a pipe"),
        result(dataclasses.replace(TEXT, id="bert.tiny-pydoc-eager-bs16-cpu", batch_size=16), "oom", reason="OOM at batch size 16",
               oom=OomRecord(16, "out of memory", "OutOfMemoryError")),
        result(TEXT, kind="generation", generation=generation_summary(), memory=memory, load_s=1.5),
        result(TEXT, kind="profile", profile=ProfileSummary(op_table="tables/x.ops.csv", trace="traces/x.json.gz", flops_per_call=2.5e9,
                                                            top_ops=({"name": "aten::mm"},))),
        result(TEXT, kind="static", static=StaticSummary(params=124_000_000, weights_bytes=496 * MIB, flops_per_call=3_000_000_000)),
    ]


def write_run(folder: Path, results: list[CaseResult] | None = None, *, status: str = "finished") -> RunResult:
    """A run folder with results.json; read back with `load_run`."""
    folder.mkdir(parents=True, exist_ok=True)
    w = ResultsWriter(folder / "results.json", suite="synthetic", device="cpu", started="20261125-120000")
    all_cases = cases() if results is None else results
    for r in all_cases:
        w.record(r)
    points = [(r.case.batch_size, r.measurement) for r in all_cases if r.kind == "latency" and r.case.model == "gpt2.tiny" and r.measurement]
    sweeps = [SweepResult("gpt2.tiny-pydoc-eager-cpu", "test_latency", analyze_sweep(points))] if len(points) > 1 else []
    w.finish(status, sweeps=sweeps)
    return load_run(folder)
