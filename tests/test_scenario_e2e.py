"""Load scenarios the way a user runs them: `pytest benches --perf-override scenario=server` in a subprocess."""

from __future__ import annotations

import json

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from perfsuite.results import load_run

# A short server run: half the measured capacity, Poisson arrivals, at least 1 s and 150 requests, a loose p99 SLO.
SERVER = as_overrides([
    *FAST_POLICY, "model=bert.tiny", "dataset=pydoc", "infer.batch_sizes=[2]", "scenario=server", "scenario.rate_of_capacity=0.5",
    "scenario.duration_s=1", "scenario.min_queries=150", "scenario.max_drain_s=2", "scenario.slo.p99_ms=500",
])


@pytest.fixture
def run_scenario(pytester: pytest.Pytester, tmp_path):
    out = tmp_path / "out"

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-suite", "smoke",
                                             "--perf-out-dir", str(out), *args)

    run.out = out  # type: ignore[attr-defined]
    return run


def test_server_scenario_records_latency_split_rates_goodput_and_gates_them(run_scenario):
    saved = run_scenario(*SERVER, "-k", "scenario", "--perf-baseline-save", "main")
    saved.assert_outcomes(passed=1)  # only the scenario bench: -k; its case id ends in the scenario's name
    saved.stdout.fnmatch_lines([
        "scenario: 1 case",
        "case * outcome * scenario * offered/s * achieved/s * goodput/s * SLO met * p50 * p99 * queue p99 * service p50 *",
        "bert.tiny-pydoc-eager-bs2-cpu-server * passed * server *",
    ])
    (run_dir,) = sorted((run_scenario.out / "runs").iterdir())
    run = load_run(run_dir)
    (r,) = run.of_kind("scenario")
    s = r.scenario
    assert r.test == "test_scenario" and r.case.id == "bert.tiny-pydoc-eager-bs2-cpu-server" and s.kind == "server"
    assert s.sent >= 150 and s.completed == s.sent and s.max_batch == 2 and set(s.batch_sizes) <= {1, 2}
    assert s.target_rate_per_s == pytest.approx(0.5 * s.capacity_per_s) and s.offered_rate_per_s > 0 and s.achieved_rate_per_s > 0
    assert s.latency.p50_s > 0 and s.queueing.p50_s >= 0 and s.service.p50_s > 0 and s.send_error.p50_s >= 0
    assert s.latency.p99_s is None and "662" in s.latency.not_established["p99"]  # fewer than 662 requests cannot establish p99: n/e
    assert s.goodput_per_s > 0 and s.attainment["total"] == s.sent and len(s.schedule_sha256) == 64
    header = (run_dir / "tables" / "cases.csv").read_text().splitlines()[0]
    assert "scenario_goodput_per_s" in header and "scenario_latency_p99_s" in header
    assert "latency vs offered rate" not in (run_dir / "report.html").read_text()  # a server run draws no sweep chart
    bench = json.loads((run_dir / "benchmark.json").read_text())
    assert bench["benchmarks"][0]["stats"]["rounds"] == s.completed  # pytest-benchmark's rounds: per-request latencies

    compared = run_scenario(*SERVER, "-k", "scenario", "--perf-compare", "main")
    compared.assert_outcomes(passed=1)
    verdicts = json.loads((sorted((run_scenario.out / "runs").iterdir())[-1] / "verdicts.json").read_text())["verdicts"]
    assert [v["metric"] for v in verdicts if v["test"] == "test_scenario"] == ["goodput"]


def test_no_scenario_leaves_the_suite_as_it_was(run_scenario):
    result = run_scenario(*as_overrides(["model=bert.tiny", "dataset=pydoc", "infer.batch_sizes=[1]"]), "--collect-only", "-q")
    out = result.stdout.str()
    assert "test_latency[bert.tiny-pydoc-eager-bs1-cpu]" in out and "test_scenario" not in out


def test_a_decoder_under_a_compile_runtime_serves_its_compiled_generate(run_scenario, conf_dir):
    """A decoder's scenario case generates with the case's generate kwargs: here a compile runtime's compiled decoding step
    (dynamo's eager backend: no C++ build), warmed per batch size before the load; TTFT / TPOT per request."""
    conf = conf_dir({"inference_runtime/compile_fast.yaml": "name: compile_fast\nbackend: compile\ncompile:\n  backend: eager\n"})
    result = run_scenario("--perf-conf-dir", str(conf), "-k", "scenario", *as_overrides([
        *FAST_POLICY, "model=llama.tiny", "dataset=pydoc", "infer.batch_sizes=[2]", "infer.seq_len=16", "infer.max_new_tokens=4",
        "inference_runtime=compile_fast", "scenario=server", "scenario.rate_of_capacity=0.3", "scenario.duration_s=1",
        "scenario.min_queries=40", "scenario.max_drain_s=5", "scenario.slo.ttft_ms=500", "scenario.slo.tpot_ms=100"]))
    result.assert_outcomes(passed=1)
    (run_dir,) = sorted((run_scenario.out / "runs").iterdir())
    (r,) = load_run(run_dir).of_kind("scenario")
    s = r.scenario
    assert r.case.id == "llama.tiny-pydoc-compile_fast-bs2-cpu-server" and s.completed == s.sent >= 40
    assert s.ttft.p50_s > 0 and s.tpot.p50_s > 0 and s.goodput_per_s is not None
    assert any((run_scenario.out / "cache" / "compile").iterdir())  # the warm-up compiled in the case's own cache folder
