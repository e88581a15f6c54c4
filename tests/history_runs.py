"""Run folders for history tests: one latency case at a chosen median, a chosen commit and machine id."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from synthetic_runs import TEXT, fake_measurement, result, write_run

from perfsuite.measure import throughput
from perfsuite.results.history import HistoryStore, read_env
from perfsuite.results.run import RunResult


def history_run(runs: Path, index: int, p50_s: float, *, commit: str | None = None, machine: str = "m-a", host: str = "host-a",
                slowdown: float = 0.0) -> RunResult:
    """runs/<ts>_hist (timestamps in index order) with env.json naming the commit and the machine.

    `slowdown`: run_config.yaml's composed config sets inference_runtime.slowdown to it, as
    `--perf-override inference_runtime.slowdown=...` does (the value itself is not applied).
    """
    folder = runs / f"20261101-{index:06d}_hist"
    m = fake_measurement((p50_s, p50_s * 1.002, p50_s * 0.998, p50_s))
    run = write_run(folder, [result(TEXT, measurement=m, throughput=throughput(m, batch_size=1))])
    env = {"machine_id": machine, "hostname": host, "git": {"commit": commit or f"{index:02d}" + "c" * 38, "dirty": False, "branch": "main"},
           "cpu": {"model": f"CPU of {machine}"}}
    (folder / "env.json").write_text(json.dumps(env))
    composed = {"gpt2.tiny-pydoc-eager": {"inference_runtime": {"name": "eager", "slowdown": slowdown}}}
    overrides = [f"inference_runtime.slowdown={slowdown}"] if slowdown else []
    (folder / "run_config.yaml").write_text(yaml.safe_dump({"suite": "synthetic", "overrides": overrides, "composed": composed}))
    return run


def append(store: HistoryStore, run: RunResult, wall_s: dict | None = None) -> bool:
    return store.append(run, read_env(run.run_dir), wall_s=wall_s)
