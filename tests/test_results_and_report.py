"""results.json writes, the pytest-benchmark bridge and the terminal summary."""

from __future__ import annotations

import json
import math

import pytest

from perfsuite.benchmark_fixture import record_measurement
from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.report.terminal import summary_lines
from perfsuite.results.records import ResultsWriter, load_results


def fake_measurement():
    timer = FakeTimer()
    work = ScriptedWork(timer.advance, [0.010, 0.011, 0.009, 0.010])
    return measure(work, clock=CpuClock(timer), warmup=WarmupPolicy(min_calls=2, window=2, rel_tol=0.5), stop=StopPolicy(min_time_s=0.1, min_rounds=20, max_time_s=1.0))


def test_results_file_is_complete_after_every_case(tmp_path):
    w = ResultsWriter(tmp_path / "results.json", {"suite": "s"})
    w.record("test_latency", "a", "passed", {"x": 1.0})
    doc = load_results(tmp_path / "results.json")
    assert doc["status"] == "running" and [r["case"] for r in doc["results"]] == ["a"]
    w.record("test_latency", "b", "failed", {"reason": "boom", "nan": math.nan})
    w.finish("interrupted")
    doc = load_results(tmp_path / "results.json")
    assert doc["status"] == "interrupted" and len(doc["results"]) == 2
    assert doc["results"][1]["nan"] is None  # never invalid JSON
    assert not [p for p in tmp_path.iterdir() if p.name != "results.json"]  # no temp files left


def test_bridge_gives_pytest_benchmark_the_same_samples():
    from pytest_benchmark.fixture import BenchmarkFixture

    m = fake_measurement()
    added = []

    class Node:
        name = "test_x"
        _nodeid = "t.py::test_x"

    bench = BenchmarkFixture.__new__(BenchmarkFixture)  # only what _make_stats needs
    bench._mode = None
    for attr, value in dict(_disable_gc=False, _timer="t", _min_rounds=1, _max_time=1, _min_time=0, _precision=None,
                            _confidence=None, _warmup=False, _add_stats=added.append, name="test_x", fullname="t.py::test_x",
                            group=None, param=None, params=None, extra_info={}, cprofile_stats=None).items():
        setattr(bench, attr, value)
    record_measurement(bench, m)
    stats = bench.stats.stats
    assert stats.rounds == m.rounds and stats.median == pytest.approx(m.median_s)
    assert bench.stats.options["timer"] == "perf_counter_ns" and added
    with pytest.raises(RuntimeError, match="already used"):
        record_measurement(bench, m)


def test_summary_table_shows_percentiles_and_not_established():
    m = fake_measurement()
    results = [
        {
            "case": "gpt2.tiny-pydoc-eager-bs1-cpu",
            "outcome": "passed",
            "kind": "latency",
            "measurement": m.to_extra_info(),
            "throughput": {"samples_per_s": 100.0, "tokens_per_s": 12800.0},
            "memory": {"host": {"rss_peak_bytes": 300 * 1024 * 1024}},
            "load_s": 1.5,
        },
        {"case": "bert.tiny-pydoc-eager-bs4-cpu", "outcome": "skipped", "kind": "latency", "reason": "OOM at batch size 4"},
    ]
    sweeps = [{"group": "g", "knee_batch_size": 4, "knee_reason": "why", "rows": [{"batch_size": 1, "status": "ok", "latency_p50_s": 0.01, "samples_per_s": 100.0}, {"batch_size": 8, "status": "oom"}]}]
    lines = summary_lines(results, sweeps)
    text = "\n".join(lines)
    assert "p99 ms" in lines[0] and "10.000" in text and "300.0" in text and "n/e" in text
    assert "OOM at batch size 4" in text and "knee at batch size 4" in text and "bs    8: OOM" in text
    assert json.dumps(results)  # summary input stays plain data
