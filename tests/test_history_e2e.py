"""History and shards the way a user runs them: appended at the end of `pytest`, a broken database costs no result."""

from __future__ import annotations

import json

import pytest

from history_runs import append, history_run
from perfsuite.cli import main
from perfsuite.results.history import HistoryStore
from perfsuite.results.run import load_run

SUITE = """
name: quad
description: two tiny models, two batch sizes
models: [gpt2.tiny, bert.tiny]
datasets: [pydoc]
batch_sizes: [1, 2]
"""
# No model is built: the cases only need ids, outcomes and wall times here.
QUICK = """
def test_case(perf_case, perf_record):
    pass
"""


@pytest.fixture
def qrun(pytester: pytest.Pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/quad.yaml": SUITE})
    pytester.makepyfile(test_quick=QUICK)
    out = tmp_path / "out"

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("test_quick.py", "-p", "no:cacheprovider", "--perf-conf-dir", str(conf),
                                             "--perf-out-dir", str(out), "--perf-suite", "quad", *args)

    run.out = out  # type: ignore[attr-defined]
    return run


def test_a_corrupt_history_database_costs_no_result_and_says_how_to_repair(qrun, tmp_path):
    db = tmp_path / "shared" / "history.sqlite"  # --perf-history PATH: a database of the user's choosing
    db.parent.mkdir()
    db.write_bytes(b"garbage, not sqlite " * 100)
    result = qrun("--perf-history", str(db))
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"perfsuite history error: the history database {db} is corrupt or not an SQLite file*mv {db} {db}.corrupt*perfsuite history --add out/runs/*"])
    (run_dir,) = (qrun.out / "runs").iterdir()
    run = load_run(run_dir)
    assert run.status == "finished" and len(run.cases) == 4 and (run_dir / "report.html").is_file()
    assert not (qrun.out / "history").exists()  # the chosen database, not the default one
    # The repair the message names: move it aside, add the run folder again.
    db.rename(db.with_suffix(".corrupt"))
    assert main(["history", "--db", str(db), "--add", str(run_dir)]) == 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT run_dir FROM perfsuite_runs").fetchall() == [(str(run_dir),)]


def test_shards_split_the_cases_and_merge_back(qrun, capsys):
    first = qrun("--perf-shard", "1/2")
    first.assert_outcomes(passed=2, deselected=2)
    first.stdout.fnmatch_lines(["shard 1/2, balanced by count (no history)*", "history: *history.sqlite"])
    second = qrun("--perf-shard", "2/2")
    second.assert_outcomes(passed=2, deselected=2)
    runs = sorted((qrun.out / "runs").iterdir())
    ids = [{c.case.id for c in load_run(r).cases} for r in runs]
    assert len(ids) == 2 and not ids[0] & ids[1] and len(ids[0] | ids[1]) == 4
    # Every run was appended: four wall times, one per case, for the next split to balance by.
    store = HistoryStore(qrun.out / "history" / "history.sqlite")
    assert len(store.costs()) == 4
    assert main(["merge", *map(str, runs), "--out", str(qrun.out)]) == 0
    merged = [r for r in (qrun.out / "runs").iterdir() if r.name.endswith("_merged")]
    assert len(merged) == 1 and len(load_run(merged[0]).cases) == 4
    assert "not among the merged runs" not in capsys.readouterr().out


@pytest.mark.parametrize(("given", "expected"), [(None, "OUT/history/history.sqlite"), ("off", None), ("OFF", None),
                                                 ("h.db", "CWD/h.db"), ("postgresql://u@h/perf", "postgresql://u@h/perf")])
def test_where_history_goes(tmp_path, given, expected):
    from types import SimpleNamespace

    from perfsuite.history_plugin import history_target

    config = SimpleNamespace(getoption=lambda name, default=None: given, invocation_params=SimpleNamespace(dir=tmp_path / "cwd"))
    found = history_target(config, tmp_path / "out")  # type: ignore[arg-type]
    assert found == (expected and expected.replace("OUT", str(tmp_path / "out")).replace("CWD", str(tmp_path / "cwd")))


def test_the_report_gets_a_trend_section_from_history(tmp_path):
    from perfsuite.report.html import write_report
    from perfsuite.report.trend import trends

    store = HistoryStore(tmp_path / "h.sqlite")
    runs = [history_run(tmp_path / "runs", i, 0.010 * (1.1 if i >= 4 else 1.0) * (1 + 0.001 * (i % 3))) for i in range(8)]
    for run in runs:
        append(store, run)
    found = trends(store.points(metric="latency_p50_s"))
    assert [len(t.changes) for t in found] == [1] and found[0].changes[0].index == 4
    path, _ = write_report(runs[-1].run_dir, trends=found)
    html = path.read_text()
    assert '<section id="trends">' in html and "<polyline" in html and "first commit after the change: 04cccccccccc" in html
    assert '<section id="trends">' not in write_report(runs[-1].run_dir, tmp_path / "plain.html")[0].read_text()
    assert json.loads((runs[0].run_dir / "env.json").read_text())["machine_id"] == "m-a"


def test_the_session_reads_its_cases_trends_from_the_store_it_appended_to(tmp_path):
    from types import SimpleNamespace

    from perfsuite.history_plugin import HistoryPlugin

    runs = [history_run(tmp_path / "runs", i, 0.010) for i in range(3)]
    other = history_run(tmp_path / "other", 0, 0.5, machine="m-b")  # another machine: not this report's trend
    plugin = HistoryPlugin(SimpleNamespace(run_dir=runs[-1].run_dir), str(tmp_path / "h.sqlite"))
    plugin.store = HistoryStore(plugin.target)
    for run in [*runs, other]:
        append(plugin.store, run)
    found = plugin.trends(runs[-1])
    assert sorted(t.metric for t in found) == ["latency_p50_s", "samples_per_s"]
    assert all(t.machine_id == "m-a" and len(t.points) == 3 for t in found)
    plugin.error = "locked"
    assert plugin.trends(runs[-1]) == []  # an append that failed: no trend section, no second error
