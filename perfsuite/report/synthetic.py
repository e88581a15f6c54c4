"""Synthetic runs to try the reports on: realistic raw samples, sweeps, memory, an OOM, noise flags,
profiles and static analysis, plus a baseline with a few injected regressions.

Used by perfsuite's tests and by tools/measure_report.py (the 500-case size and open-time check);
nothing is measured. Latency per call follows ``cost * batch ** 0.8 * runtime factor`` with
one-sided noise (exponential, mean 4%: interference only adds time) and a few slow outliers, the
shape a CPU or GPU run has.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from perfsuite.measure import HostMemory, Measurement, NoiseFlag, OomRecord, StopPolicy, WarmupPolicy, analyze_sweep, summarize, throughput
from perfsuite.results.case import CaseInfo, CaseResult, MemoryResult, ProfileSummary, StaticSummary
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.run import ResultsWriter, RunResult, SweepResult, json_safe

RUNTIMES = ("eager", "compile", "onnxruntime", "autocast-bf16")
RUNTIME_FACTOR = {"eager": 1.0, "compile": 0.72, "onnxruntime": 0.81, "autocast-bf16": 0.6}


@dataclass(frozen=True)
class SyntheticSpec:
    models: int = 25
    runtimes: tuple[str, ...] = RUNTIMES
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16)
    samples: int = 300
    seed: int = 0
    slowdown: float = 1.0  # latency factor applied to the cases in `slowed`
    slowed: tuple[int, ...] = ()  # indexes of cases made slower (regressions against a baseline)
    names: tuple[str, ...] = ()  # model names to use first (hostile names in tests)

    @property
    def cases(self) -> int:
        return self.models * len(self.runtimes) * len(self.batch_sizes)


def _measurement(samples: list[float], noisy: bool) -> Measurement:
    noise = (NoiseFlag("high_iqr", "IQR/median is 14.2% (> 10%)"),) if noisy else ()
    return Measurement(
        samples_s=tuple(samples), stats=summarize(samples), clock="perf_counter_ns", sync_mode="none", device="cpu", threads=1,
        calls_per_sample=1, warmup_calls=12, warmup_settled=True, warmup_time_s=0.2, first_call_s=samples[0] * 3,
        total_time_s=sum(samples), stop_reason="converged", warmup_policy=WarmupPolicy(), stop_policy=StopPolicy(), noise=noise,
    )


def synthetic_run(spec: SyntheticSpec, run_dir: Path = Path("synthetic")) -> RunResult:
    rng = random.Random(spec.seed)
    names = list(spec.names) + [f"model{m:02d}.{'tiny' if m % 3 else 'base'}" for m in range(spec.models)]
    cases: list[CaseResult] = []
    sweeps: list[SweepResult] = []
    index = 0
    for m in range(spec.models):
        model = names[m]
        cost = 0.002 * (1.6 ** (m % 9))  # 2 ms .. 86 ms per call at batch 1
        weights = int(5e6 * (1.9 ** (m % 9)))
        oom_at = spec.batch_sizes[-1] if m % 7 == 6 else None  # one model in seven runs out of memory at the largest batch
        for rt in spec.runtimes:
            info = CaseInfo("", model, model.split(".")[0], "text", "pydoc", rt, 1, "cpu", "fp32", 0, "sequential", 128)
            points = []
            for bs in spec.batch_sizes:
                case = CaseInfo(**{**info.to_dict(), "id": f"{model}-pydoc-{rt}-bs{bs}-cpu", "batch_size": bs})
                if bs == oom_at:
                    oom = OomRecord(batch_size=bs, message=f"CUDA out of memory at batch size {bs}", error_type="OutOfMemoryError")
                    cases.append(CaseResult("test_latency", "latency", case, "oom", "2026-11-25T12:00:00", reason=oom.message, oom=oom))
                    points.append((bs, oom))
                    index += 1
                    continue
                typical = cost * bs**0.8 * RUNTIME_FACTOR.get(rt, 1.0) * (spec.slowdown if index in spec.slowed else 1.0)
                samples = [typical * (1 + rng.expovariate(25)) for _ in range(spec.samples)]  # noise only adds time
                for i in rng.sample(range(spec.samples), max(1, spec.samples // 60)):
                    samples[i] *= 1.3 + rng.random()  # a few slow outliers (a context switch, a page fault)
                meas = _measurement(samples, noisy=index % 17 == 5)
                rss = 300 * 2**20 + weights * 3 + bs * 2**20 * (m % 5 + 1)
                # own figure: the private level 150 MiB before the model, 150 MiB of libraries' pages never counted
                host = HostMemory(rss - bs * 2**20, rss, rss - 2**20, 40, private_peak_bytes=rss - 150 * 2**20,
                                  private_before_model_bytes=150 * 2**20, mapped_weights_bytes=0, own_method="anonymous+malloc_trim")
                memory = MemoryResult(weights_bytes=weights, host=host, tracked_calls=20)
                cases.append(CaseResult("test_latency", "latency", case, "passed", "2026-11-25T12:00:00", measurement=meas,
                                        throughput=throughput(meas, batch_size=bs, tokens_per_call=bs * 128), memory=memory, load_s=0.4))
                points.append((bs, meas))
                index += 1
            sweeps.append(SweepResult(group=cases[-1].case.group, test="test_latency", analysis=analyze_sweep(points)))
        first = next(c for c in cases if c.case.model == model and c.outcome == "passed")
        flops = int(weights / 4 * 2 * (32 + 24 * (m % 5)))  # tokens per call differ: so does arithmetic intensity
        cases.append(CaseResult("test_static", "static", first.case, "passed", "2026-11-25T12:00:00",
                                static=StaticSummary(params=weights // 4, weights_bytes=weights, flops_per_call=flops, flops_per_weight_byte=flops / weights)))
        cases.append(CaseResult("test_profile", "profile", first.case, "passed", "2026-11-25T12:00:00",
                                profile=ProfileSummary(op_table=str(run_dir / "tables" / f"{first.case.id}.ops.csv"), trace=None, active_steps=5,
                                                       total_flops=flops * 5.0, flops_per_call=float(flops),
                                                       top_ops=({"name": "aten::addmm", "count": 40, "self_cpu_us": 812.0},
                                                                {"name": "aten::gelu", "count": 8, "self_cpu_us": 96.0}),
                                                       activities=("cpu",))))
    return RunResult(run_dir=run_dir, status="finished", suite="synthetic", device="cpu", started="20261125-120000",
                     cases=tuple(cases), sweeps=tuple(sweeps), ended="2026-11-25T12:30:00")


def write_run(run: RunResult, run_dir: Path) -> Path:
    """A run folder as a benchmark session leaves it: results.json, env.json, run_config.yaml."""
    run_dir.mkdir(parents=True, exist_ok=True)
    writer = ResultsWriter(run_dir / "results.json", suite=run.suite, device=run.device, started=run.started)
    writer.cases = {c.key: c for c in run.cases}
    writer.finish(run.status, sweeps=run.sweeps)
    env = {"machine_id": "5ynth371c000", "hostname": "synthetic", "python": "3.11.7", "platform": "Linux",
           "cpu": {"model": "Synthetic CPU", "logical_cores": 16, "arch": "x86_64"},
           "threads": {"torch_threads": 8, "torch_interop_threads": 1, "affinity": list(range(8))},
           "packages": {"perfsuite": "0.1.0", "torch": "2.13.0"}, "cuda": {"available": False, "reason": "synthetic run"},
           "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "dirty": False},
           "load": {"loadavg": [0.1, 0.1, 0.1], "busy_cores": 0, "perfsuite_runs": []}}
    atomic_write_text(run_dir / "env.json", json.dumps(json_safe(env), indent=1))
    config = {"suite": run.suite, "device": run.device, "overrides": [], "invocation": ["benches", "--perf-suite", "synthetic"]}
    atomic_write_text(run_dir / "run_config.yaml", yaml.safe_dump(config, sort_keys=False))
    return run_dir
