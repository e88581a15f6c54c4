"""pipeline=deep_profile the way a user runs it (a pytest subprocess): the files each stage writes,
what the results and reports show, a profiler that fails on one case, and a model's output overlay."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.profile.layers import LAYER_COLUMNS
from perfsuite.results import load_run

FAST = as_overrides(list(FAST_POLICY))
CASE = "gpt2.tiny-pydoc-eager-bs1-cpu"


def _run(pytester: pytest.Pytester, out, *args: str) -> pytest.RunResult:
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-suite", "smoke", "--perf-out-dir", str(out), "-rs", *FAST]
    return pytester.runpytest_subprocess(*argv, *args)


def test_deep_profile_writes_trace_ops_layers_and_memory_per_case(pytester, tmp_path):
    out = tmp_path / "out"
    result = _run(pytester, out, *as_overrides(["pipeline=deep_profile", "model=gpt2.tiny", "dataset=pydoc", "infer.batch_sizes=[1]",
                                                 "profiling.layers.passes=2", "profiling.memory.timed_calls=3"]))
    # latency, generation, static, profile, layers, memory timeline pass; nsight skips (no nsys here, ncu needs CUDA)
    result.assert_outcomes(passed=6, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*nsys: nsys not found on PATH: install NVIDIA Nsight Systems*ncu: ncu analyses CUDA kernels*Command: nsys profile*"])
    result.stdout.fnmatch_lines(["layers: the slowest modules per case*", "case * module * type * time/forward * share *", f"{CASE} * hooks *"])
    result.stdout.fnmatch_lines(["memory timeline: peak per phase*", f"{CASE} * host RSS *"])
    result.stdout.fnmatch_lines(["profile: 1 case", "case * outcome * FLOPs/call * top op * profiler overhead *", f"{CASE} * passed * aten::*"])
    (run_dir,) = sorted((out / "runs").iterdir())
    with gzip.open(run_dir / "traces" / f"{CASE}.json.gz", "rt") as fh:
        assert fh and "traceEvents" in json.load(fh)
    ops = list(csv.DictReader((run_dir / "tables" / f"{CASE}.ops.csv").open()))
    assert ops and ops[0]["name"]
    layers = list(csv.DictReader((run_dir / "tables" / f"{CASE}.layers.csv").open()))
    assert tuple(layers[0]) == LAYER_COLUMNS and layers[0]["module"] == "" and layers[0]["type"] == "GPT2LMHeadModel"
    assert {"transformer", "lm_head"} <= {r["module"] for r in layers}
    phases = [r["phase"] for r in csv.DictReader((run_dir / "tables" / f"{CASE}.memory.csv").open())]
    assert phases == ["load", "warm-up", "timed", "profiled"] and (run_dir / "tables" / f"{CASE}.rss.csv").is_file()

    run = load_run(run_dir)
    by_test = {r.test: r for r in run.cases}
    latency, profile = by_test["test_latency"], by_test["test_profile"]
    assert latency.outcome == "passed" and latency.stats.p50_s > 0
    assert not profile.profile.top_op.startswith("ProfilerStep") and profile.profile.overhead_ratio > 0
    lay = by_test["test_layers"].layers
    assert lay.passes == 2 and lay.hook_overhead > 0 and 0 < len(lay.top) <= 5 and lay.top[0]["time_s"] > 0
    mt = by_test["test_memory_timeline"].memory_timeline
    assert mt.device_kind == "cpu" and mt.peak_bytes("load") > 0 and mt.peak_bytes("profiled") > 0
    nsight = by_test["test_nsight"]
    assert nsight.outcome == "skipped" and [r["status"] for r in nsight.nsight.runs] == ["skipped", "skipped"]
    assert nsight.nsight.runs[0]["command"].startswith("nsys profile --trace=cuda,nvtx,osrt")
    html = (run_dir / "report.html").read_text()
    assert 'id="deep-profile"' in html and f"{CASE}.layers.csv" in html and "RSS timeline" in html


FAILING_PROFILER = '''
import pytest
import torch.profiler

_real = torch.profiler.profile


class _Broken:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("CUPTI_ERROR_NOT_INITIALIZED (injected)")


def pytest_runtest_setup(item):
    torch.profiler.profile = _Broken if "distilbert" in item.nodeid and "test_profile" in item.nodeid else _real
'''


def test_a_failing_profiler_fails_one_profile_and_an_overlay_changes_one_model(pytester, tmp_path, conf_dir, monkeypatch):
    pytester.makepyfile(failprof=FAILING_PROFILER)
    monkeypatch.setenv("PYTHONPATH", f"{pytester.path}:{REPO}")
    user = conf_dir({"model/bert/output/torch/default.yaml": "export_trace: false\nop_table_rows: 2\n",
                     "pipeline/timed_and_profiled.yaml": "stages: [direct_inference, torch_profiler]\n"})
    out = tmp_path / "out"
    result = _run(pytester, out, "-p", "failprof", "--perf-conf-dir", str(user),
                  *as_overrides(["pipeline=timed_and_profiled", "model=[gpt2.tiny,bert.tiny,distilbert.tiny]", "dataset=pydoc",
                                 "infer.batch_sizes=[1]", "profiling/torch=torch-profiler.min"]))
    result.assert_outcomes(passed=6, failed=1)  # 3 latency + gpt2's generation + 2 profiles pass; distilbert's profile fails
    result.stdout.fnmatch_lines(["*distilbert.tiny-pydoc-eager-bs1-cpu: profile failed: torch.profiler failed on this case: RuntimeError: CUPTI_ERROR*"])
    (run_dir,) = sorted((out / "runs").iterdir())
    run = load_run(run_dir)
    prof = {r.case.model: r for r in run.cases if r.test == "test_profile"}
    latency = {r.case.model: r for r in run.cases if r.test == "test_latency"}
    assert prof["distilbert.tiny"].outcome == "failed" and "CUPTI_ERROR_NOT_INITIALIZED" in prof["distilbert.tiny"].reason
    assert latency["distilbert.tiny"].outcome == "passed" and latency["distilbert.tiny"].stats.p50_s > 0  # its timings stay
    assert not (run_dir / "traces" / "distilbert.tiny-pydoc-eager-bs1-cpu.json.gz").exists()
    # bert's overlay: no trace, two op rows kept in the result; gpt2 keeps the shared settings
    assert prof["bert.tiny"].profile.trace is None and len(prof["bert.tiny"].profile.top_ops) == 2
    assert not (run_dir / "traces" / "bert.tiny-pydoc-eager-bs1-cpu.json.gz").exists()
    assert prof["gpt2.tiny"].profile.trace is not None and len(prof["gpt2.tiny"].profile.top_ops) == 20
    assert (run_dir / "traces" / "gpt2.tiny-pydoc-eager-bs1-cpu.json.gz").is_file()
