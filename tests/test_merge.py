"""`perfsuite merge`: shards and machines into one run folder, machines side by side, never averaged."""

from __future__ import annotations

import json

import pytest

from history_runs import history_run
from perfsuite.cli import main
from perfsuite.errors import PerfDataError
from perfsuite.results.merge import merge_benchmark_json, merge_runs, shard_notes
from perfsuite.results.run import load_run


def test_two_machines_side_by_side(tmp_path, capsys):
    a = history_run(tmp_path / "a", 0, 0.010, machine="m-a")
    b = history_run(tmp_path / "b", 0, 0.030, machine="m-b", host="host-b")
    for run, median in ((a, 0.010), (b, 0.030)):
        (run.run_dir / "benchmark.json").write_text(json.dumps({
            "machine_info": {"perfsuite_machine_id": run.run_dir.parent.name}, "commit_info": {},
            "benchmarks": [{"fullname": "t.py::test_latency[x]", "stats": {"median": median}}]}))
    assert main(["merge", str(a.run_dir), str(b.run_dir), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    (merged,) = (tmp_path / "out" / "runs").iterdir()
    assert f"merged run folder: {merged}" in out
    run = load_run(merged)
    by_id = {c.case.id: c for c in run.cases}
    assert set(by_id) == {"gpt2.tiny-pydoc-eager-bs1-cpu@m-a", "gpt2.tiny-pydoc-eager-bs1-cpu@m-b"}
    assert by_id["gpt2.tiny-pydoc-eager-bs1-cpu@m-a"].stats.p50_s == pytest.approx(0.010)  # each machine's own numbers
    assert by_id["gpt2.tiny-pydoc-eager-bs1-cpu@m-b"].stats.p50_s == pytest.approx(0.030)
    machines = json.loads((merged / "machines.json").read_text())["machines"]
    assert [m["machine_id"] for m in machines] == ["m-a", "m-b"]
    bench = json.loads((merged / "benchmark.json").read_text())
    assert sorted(b["extra_info"]["perfsuite_machine_id"] for b in bench["benchmarks"]) == ["a", "b"]
    html = (merged / "report.html").read_text()
    assert "Machines side by side" in html and "m-a" in html and "m-b" in html and "10.0 ms" in html and "30.0 ms" in html


def test_shards_of_one_machine_merge_into_one_run(tmp_path):
    from synthetic_runs import IMAGE, fake_measurement, result, write_run

    a = history_run(tmp_path / "a", 0, 0.010)
    b = write_run(tmp_path / "b" / "20261101-000001_hist", [result(IMAGE, measurement=fake_measurement())])
    (b.run_dir / "env.json").write_text((a.run_dir / "env.json").read_text())
    for i, run in enumerate((a, b), 1):
        (run.run_dir / "run_config.yaml").write_text(f"suite: s\nshard: {i}/3\n")
    assert shard_notes([a.run_dir, b.run_dir]) == ["shards [3] of 3 are not among the merged runs: their cases are missing"]
    merged = merge_runs([a.run_dir, b.run_dir], tmp_path / "out")
    assert sorted(c.case.id for c in load_run(merged).cases) == ["gpt2.tiny-pydoc-eager-bs1-cpu", IMAGE.id]  # no machine suffix
    assert not (merged / "report.html").exists() or "Machines side by side" in (merged / "report.html").read_text()


def test_a_killed_part_and_parts_of_other_suites_are_said_not_hidden(tmp_path, capsys):
    a = history_run(tmp_path / "a", 0, 0.010, machine="m-a")
    b = history_run(tmp_path / "b", 0, 0.030, machine="m-b")
    doc = json.loads((b.run_dir / "results.json").read_text())
    doc["status"], doc["suite"] = "running", "nightly"  # its process was killed mid-run; another suite
    (b.run_dir / "results.json").write_text(json.dumps(doc))
    assert main(["merge", str(a.run_dir), str(b.run_dir), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    (merged,) = (tmp_path / "out" / "runs").iterdir()
    run = load_run(merged)
    assert run.status == "interrupted" and f"{b.run_dir.name}: never finished (status running" in run.error
    assert run.suite == f"{load_run(a.run_dir).suite}+nightly" and "perfsuite: warning: the merged run is interrupted" in out
    assert f"(suite {run.suite}, status interrupted)" in out


def test_the_same_case_twice_on_one_machine_is_refused(tmp_path):
    a = history_run(tmp_path / "a", 0, 0.010)
    b = history_run(tmp_path / "b", 1, 0.011)
    with pytest.raises(PerfDataError, match="is in both .* same machine id m-a"):
        merge_runs([a.run_dir, b.run_dir], tmp_path / "out")


def test_runs_of_another_schema_version_are_refused_naming_them(tmp_path, capsys):
    a = history_run(tmp_path / "a", 0, 0.010)
    b = history_run(tmp_path / "b", 0, 0.010, machine="m-b")
    doc = json.loads((b.run_dir / "results.json").read_text())
    doc["schema_version"] = 1
    (b.run_dir / "results.json").write_text(json.dumps(doc))
    assert main(["merge", str(a.run_dir), str(b.run_dir), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot merge runs of different results schema versions" in err and f"{b.run_dir} has schema_version 1" in err
    assert not (tmp_path / "out").exists()  # nothing half-merged
    assert main(["merge", str(a.run_dir), "--out", str(tmp_path / "out")]) == 2
    assert "at least two run folders" in capsys.readouterr().err


def test_workers_benchmark_json_is_one_document(tmp_path):
    docs = [{"machine_info": {"perfsuite_machine_id": "m"}, "perfsuite": {"suite": "s"}, "benchmarks": [{"fullname": f"t::{n}"}]} for n in ("b", "a")]
    merged = merge_benchmark_json(docs, run_dir=tmp_path)
    assert [b["fullname"] for b in merged["benchmarks"]] == ["t::a", "t::b"]
    assert merged["perfsuite"] == {"suite": "s", "run_dir": str(tmp_path), "merged_from": 2}
    assert "perfsuite_machine_id" not in merged["benchmarks"][0].get("extra_info", {})  # one machine: nothing to tell apart
