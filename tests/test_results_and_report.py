"""results.json writes, the pytest-benchmark bridge and the terminal summary."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat

import pytest

from perfsuite.benchmark_fixture import record_measurement
from perfsuite.errors import PerfDataError
from perfsuite.measure import CpuClock, HostMemory, OomRecord, StopPolicy, WarmupPolicy, analyze_sweep, measure, throughput
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.report.terminal import summary_lines
from perfsuite.results import CaseInfo, CaseResult, ResultsWriter, SweepResult, load_run
from perfsuite.results.case import MemoryResult
from perfsuite.results.layout import atomic_write_text


def fake_measurement():
    timer = FakeTimer()
    work = ScriptedWork(timer.advance, [0.010, 0.011, 0.009, 0.010])
    return measure(work, clock=CpuClock(timer), warmup=WarmupPolicy(min_calls=2, window=2, rel_tol=0.5), stop=StopPolicy(min_time_s=0.1, min_rounds=20, max_time_s=1.0))


CASE = CaseInfo(
    id="gpt2.tiny-pydoc-eager-bs1-cpu", model="gpt2.tiny", model_family="gpt2", modality="text", dataset="pydoc",
    runtime="eager", batch_size=1, device="cpu", precision="fp32", seed=0, sampling="sequential", seq_len=128,
)


def result(case_id="a", outcome="passed", **parts):
    case = dataclasses.replace(CASE, id=case_id)
    return CaseResult(test="test_latency", kind="latency", case=case, outcome=outcome, finished="2026-11-25T12:00:00", **parts)


def writer(tmp_path):
    return ResultsWriter(tmp_path / "results.json", suite="s", device="cpu", started="20261125-120000")


def test_results_file_is_complete_after_every_case(tmp_path):
    w = writer(tmp_path)
    w.record(result("a", measurement=fake_measurement()))
    run = load_run(tmp_path)
    assert run.status == "running" and [c.case.id for c in run.cases] == ["a"]
    w.record(result("b", "failed", reason="boom", load_s=math.nan))
    w.finish("interrupted")
    run = load_run(tmp_path)
    assert run.status == "interrupted" and len(run.cases) == 2 and run.ended
    assert run.cases[1].load_s is None and run.cases[1].reason == "boom"  # NaN is stored as null, never invalid JSON
    assert not [p for p in tmp_path.iterdir() if p.name != "results.json"]  # no temp files left


def test_a_result_reads_back_exactly_as_written(tmp_path):
    m = fake_measurement()
    original = result(
        measurement=m,
        throughput=throughput(m, batch_size=1, tokens_per_call=100),
        memory=MemoryResult(weights_bytes=10, host=HostMemory(1, 3, 2, 5)),
        oom=None,
        load_s=0.5,
        details={"runtime": {"name": "eager"}},
    )
    w = writer(tmp_path)
    w.record(original)
    w.finish("finished")
    (back,) = load_run(tmp_path).cases
    assert back.measurement.samples_s == m.samples_s and back.stats == m.stats
    assert back.throughput == original.throughput and back.memory == original.memory
    assert back.case == original.case and back.details == original.details and back.median_established


@pytest.mark.parametrize(
    "path, value, key",
    [
        (("results", 0, "measurement", "samples_s"), "fast", "results[0].measurement.samples_s"),
        (("results", 0, "case", "batch_size"), "one", "results[0].case.batch_size"),
        (("results", 0, "memory"), [1, 2], "results[0].memory"),
        (("results", 0, "throughput", "samples_per_s"), {"x": 1}, "results[0].throughput.samples_per_s"),
        (("results", 0, "outcome"), "exploded", "results[0].outcome"),
        (("status",), 7, "status"),
        (("results",), {"a": 1}, "results"),
    ],
)
def test_wrong_inner_types_are_a_clear_error_naming_the_key(tmp_path, path, value, key):
    m = fake_measurement()
    w = writer(tmp_path)
    w.record(result(measurement=m, throughput=throughput(m), memory=MemoryResult(weights_bytes=1)))
    w.finish("finished")
    doc = json.loads((tmp_path / "results.json").read_text())
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(PerfDataError, match=re.escape(f"'{key}'")):
        load_run(tmp_path)


def _written_run(tmp_path):
    from perfsuite.measure.stats import summarize

    m = fake_measurement()
    w = writer(tmp_path)
    w.record(result(measurement=m, throughput=throughput(m), memory=MemoryResult(weights_bytes=1)))
    # an imported run's statistics (no samples to recompute them from)
    w.record(result("b", summary=summarize((0.010, 0.011, 0.012)), imported_samples_s=(0.010, 0.011, 0.012)))
    w.finish("finished")
    return json.loads((tmp_path / "results.json").read_text())


@pytest.mark.parametrize("where, value", [
    ((0, "measurement", "samples_s", 0), -0.007),  # a negative duration
    ((0, "measurement", "samples_s", 1), 0.0),  # a call that took no time
    ((0, "throughput", "samples_per_s"), -100.0),
    ((1, "summary", "p50_s"), -7.03e-3),
    ((1, "summary", "min_s"), 0),
    ((1, "summary", "stdev_s"), -1e-4),
    ((1, "imported_samples_s", 2), -0.012),
])
def test_physically_impossible_figures_are_refused_on_read(tmp_path, capsys, where, value):
    """results.json is read back by report, compare, gate and history: a negative or zero time must not be shown as a figure."""
    from perfsuite.cli import main

    doc = _written_run(tmp_path)
    load_run(tmp_path)  # as written, it reads
    node = doc["results"]
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    (tmp_path / "results.json").write_text(json.dumps(doc))
    with pytest.raises(PerfDataError, match=r"(a number|numbers) >=? 0"):
        load_run(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"results[{where[0]}].{where[1]}" in err and "Traceback" not in err


def test_a_failed_write_keeps_every_result_in_memory(tmp_path, monkeypatch):
    from perfsuite.results import run as run_module

    w = writer(tmp_path)
    w.record(result("a"))

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module, "atomic_write_text", full_disk)
    w.record(result("b"))  # no exception: the session goes on
    w.finish("finished")
    assert "No space left on device" in w.write_error and str(w.path) in w.write_error
    assert [c.case.id for c in w.snapshot().cases] == ["a", "b"]
    assert [c.case.id for c in load_run(tmp_path).cases] == ["a"]  # the last good file is intact


def test_run_folder_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644


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
        result(
            "gpt2.tiny-pydoc-eager-bs1-cpu",
            measurement=m,
            throughput=throughput(m, batch_size=1, tokens_per_call=128),
            memory=MemoryResult(host=HostMemory(0, 900 * 1024 * 1024, 0, 3, private_peak_bytes=350 * 1024 * 1024, private_before_model_bytes=50 * 1024 * 1024)),
            load_s=1.5,
        ),
        result("bert.tiny-pydoc-eager-bs4-cpu", "oom", reason="OOM at batch size 4"),
    ]
    sweeps = [SweepResult("g", "test_latency", analyze_sweep([(1, m), (8, OomRecord(8, "out of memory", "OutOfMemoryError"))]))]
    lines = summary_lines(results, sweeps)
    text = "\n".join(lines)
    assert lines[0] == "latency: 2 cases (1 oom)" and lines[1].split()[:5] == ["case", "outcome", "p50", "p90", "p99"]
    row = next(line for line in lines if line.startswith("gpt2.tiny"))
    assert row.split() == ["gpt2.tiny-pydoc-eager-bs1-cpu", "passed", "10.0", "ms", "n/e", "n/e", "20", "100", "12.8k", "300", "MiB", "10.0", "ms", "1.50", "s"]
    assert "OOM at batch size 4" in text and "\x1b" not in text  # no colour without a paint function
    sweep = lines.index("batch sweep g: knee at batch size - (needs at least two batch sizes with an established median, have 1)")
    assert lines[sweep + 4].split()[:2] == ["8", "OOM"]


def test_summary_of_a_case_whose_median_was_not_established():
    timer = FakeTimer()
    work = ScriptedWork(timer.advance, [1.0])
    m = measure(work, clock=CpuClock(timer), warmup=WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=2),
                stop=StopPolicy(min_time_s=0.1, min_rounds=5, max_time_s=4.0, hard_max_time_s=5.0))
    assert 0 < m.rounds < 11 and m.median_s is None  # the hard budget stopped it before the median floor
    tp = throughput(m, batch_size=4)
    sweep = analyze_sweep([(4, m), (8, m)])
    lines = summary_lines([result("slow", measurement=m, throughput=tp)], [SweepResult("g", "test_latency", sweep)])
    text = "\n".join(lines)
    assert "median not established (1): slow" in text and "not established" in text
    row = next(line for line in lines if line.startswith("slow"))
    assert row.split()[2:5] == ["n/e", "n/e", "n/e"]
