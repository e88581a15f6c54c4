"""History by commit: runs of one commit are noise, runs with an injected slowdown are marked and left out."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path

import pytest

from history_runs import append, history_run
from perfsuite.cli import main
from perfsuite.report.trend import trends
from perfsuite.results.history import HISTORY_SCHEMA_VERSION, HistoryStore
from perfsuite.results.injected import injected_slowdown, injected_slowdown_of_folder
from perfsuite.results.run import load_run

ONE_COMMIT = "ab" * 20
# Eight runs of one commit: four on a quiet machine, four in a busy stretch 60% slower, the shape of
# the change point `perfsuite history` once reported between runs of one commit.
SAME_COMMIT_P50 = [0.0100, 0.0101, 0.0099, 0.0100, 0.0160, 0.0162, 0.0159, 0.0161]


def lines_of(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  2026")]


def test_runs_of_one_commit_never_report_a_change_point_and_say_why(tmp_path, capsys):
    store = HistoryStore(tmp_path / "h.sqlite")
    for i, p50 in enumerate(SAME_COMMIT_P50):
        append(store, history_run(tmp_path / "runs", i, p50, commit=ONE_COMMIT))
    assert main(["history", "--db", str(tmp_path / "h.sqlite"), "--fail-on-change"]) == 0
    out = capsys.readouterr().out
    assert len(lines_of(out)) == 8 and "change point:" not in out
    assert "(all 8 runs measured one commit: runs of one commit are its noise, never a change point)" in out
    assert "1 series, 0 change point(s)" in out and "1 series of one commit only" in out
    # The same values as runs of eight commits: the busy stretch is a change (what runs of one commit must not be).
    other = HistoryStore(tmp_path / "each.sqlite")
    for i, p50 in enumerate(SAME_COMMIT_P50):
        append(other, history_run(tmp_path / "each", i, p50))
    assert [len(t.changes) for t in trends(other.points(metric="latency_p50_s"))] == [1]


def test_a_commit_measured_again_later_is_listed_and_judged_with_its_first_runs(tmp_path, capsys):
    store = HistoryStore(tmp_path / "h.sqlite")
    commits = [f"{c:02d}" + "d" * 38 for c in range(10)]
    order = [*range(10), 2]  # commit 02 measured again after commit 09
    for i, c in enumerate(order):
        append(store, history_run(tmp_path / "runs", i, 0.010 * (1.2 if c >= 5 else 1.0), commit=commits[c]))
    (found,) = trends(store.points(metric="latency_p50_s"))
    assert [p.git_commit[:2] for p in found.points] == ["00", "01", "02", "02", "03", "04", "05", "06", "07", "08", "09"]
    assert [found.points[c.index].git_commit for c in found.changes] == [commits[5]]
    assert main(["history", "--db", str(tmp_path / "h.sqlite")]) == 0
    listed = lines_of(capsys.readouterr().out)
    assert [line.split()[1][:2] for line in listed][2:4] == ["02", "02"] and "first commit after it 05dddddddddd" in listed[6]


def slowed_history(tmp_path: Path) -> tuple[HistoryStore, list]:
    """Ten commits, one run each, then four commits measured only with slowdown 1.0 (every call twice as long)."""
    store = HistoryStore(tmp_path / "out" / "history" / "history.sqlite")
    runs = [history_run(tmp_path / "out" / "runs", c, 0.010 * (1 + 0.002 * (c % 3)) * (2.0 if c >= 10 else 1.0),
                        commit=f"{c:02d}" + "e" * 38, slowdown=1.0 if c >= 10 else 0.0) for c in range(14)]
    for run in runs:
        assert append(store, run)
    return store, runs


def test_an_injected_slowdown_is_marked_in_the_store_and_left_out_of_change_points(tmp_path, capsys):
    store, runs = slowed_history(tmp_path)
    with sqlite3.connect(store.target) as conn:
        marked = dict(conn.execute("SELECT run_dir, injected_slowdown FROM perfsuite_runs").fetchall())
    assert marked == {str(r.run_dir): (1.0 if i >= 10 else 0.0) for i, r in enumerate(runs)}

    assert main(["history", "--out", str(tmp_path / "out"), "--fail-on-change"]) == 0
    out = capsys.readouterr().out
    listed = lines_of(out)
    slowed = [line for line in listed if "injected slowdown 1 (left out)" in line]
    assert len(listed) == 14 and len(slowed) == 4 and "change point:" not in out
    assert "4 run(s) with an injected slowdown (inference_runtime.slowdown 1) left out" in out
    assert "1 series, 0 change point(s)" in out and "4 run(s) with an injected slowdown left out (--include-injected)" in out

    # Asked for, they are judged, each slowdown of a commit a group of its own: the 2x level is a change.
    assert main(["history", "--out", str(tmp_path / "out"), "--include-injected", "--fail-on-change"]) == 1
    out = capsys.readouterr().out
    flagged = [line for line in lines_of(out) if "change point:" in line]
    assert len(flagged) == 1 and "20261101-000010_hist" in flagged[0] and "injected slowdown 1  <- change point: +100.0%" in flagged[0], out
    assert "left out" not in out


def test_the_report_trend_leaves_injected_runs_out_and_says_so(tmp_path):
    from perfsuite.report.html import write_report

    store, runs = slowed_history(tmp_path)
    (found,) = trends(store.points(metric="latency_p50_s"))
    assert len(found.points) == 10 and len(found.left_out) == 4 and not found.changes
    assert max(found.values) < 0.011  # the 2x runs are not in the line
    html = write_report(runs[-1].run_dir, tmp_path / "r.html", trends=[found])[0].read_text()
    assert "4 run(s) with an injected slowdown (inference_runtime.slowdown 1) left out of the trend" in html


def test_injected_slowdown_is_read_from_the_runtime_and_from_the_composed_config(tmp_path):
    quiet = history_run(tmp_path / "runs", 0, 0.01)
    assert injected_slowdown(quiet) == 0.0
    assert injected_slowdown(history_run(tmp_path / "runs", 1, 0.01, slowdown=0.25)) == 0.25
    # A bench that describes its runtime: the resolved value, even where run_config.yaml left an interpolation.
    (quiet.run_dir / "run_config.yaml").write_text("composed:\n  c:\n    inference_runtime:\n      slowdown: ${oc.env:SLOW}\n")
    case = quiet.cases[0]
    described = dataclasses.replace(quiet, cases=(dataclasses.replace(case, details={"runtime": {"injected_slowdown": 0.5}}),))
    assert injected_slowdown(described) == 0.5 and injected_slowdown(quiet) == 0.0
    # A folder: either file says it; neither readable is "not known".
    assert injected_slowdown_of_folder(tmp_path / "runs" / "20261101-000001_hist") == 0.25
    (tmp_path / "runs" / "20261101-000001_hist" / "results.json").unlink()
    assert injected_slowdown_of_folder(tmp_path / "runs" / "20261101-000001_hist") == 0.25
    assert injected_slowdown_of_folder(tmp_path / "nowhere") is None


def as_version_1(db: str) -> None:
    """The store as perfsuite wrote it before the injected_slowdown column existed."""
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE perfsuite_runs DROP COLUMN injected_slowdown")
        conn.execute("UPDATE perfsuite_meta SET value = '1' WHERE key = 'schema_version'")


@pytest.mark.parametrize("first_use", ["read", "append"])
def test_a_version_1_store_is_upgraded_and_its_runs_marked_from_their_folders(tmp_path, first_use):
    store, runs = slowed_history(tmp_path)
    gone = runs[-1]  # its folder deleted: not known, so not left out
    as_version_1(store.target)
    for path in sorted(gone.run_dir.iterdir()):
        path.unlink()
    gone.run_dir.rmdir()
    if first_use == "append":
        assert append(store, history_run(tmp_path / "later", 40, 0.010, commit="ff" * 20))
    points = store.points(metric="latency_p50_s")
    with sqlite3.connect(store.target) as conn:
        assert conn.execute("SELECT value FROM perfsuite_meta").fetchone() == (str(HISTORY_SCHEMA_VERSION),)
    by_run = {Path(p.run_dir).name: p.injected_slowdown for p in points}
    assert by_run["20261101-000012_hist"] == 1.0 and by_run["20261101-000009_hist"] == 0.0
    assert by_run[gone.run_dir.name] is None
    assert sum(p.injected for p in points) == 3
    assert len(HistoryStore(store.target).points(metric="latency_p50_s")) == len(points)  # upgraded once, read again as it is


def test_a_pytest_run_with_an_injected_slowdown_is_marked_in_the_history(pytester, conf_dir, tmp_path):
    conf = conf_dir({"suite/one.yaml": "name: one\ndescription: one case\nmodels: [gpt2.tiny]\ndatasets: [pydoc]\nbatch_sizes: [1]\n"})
    pytester.makepyfile(test_quick="def test_case(perf_case, perf_record):\n    pass\n")
    out = tmp_path / "out"
    for extra in ([], ["--perf-override", "inference_runtime.slowdown=0.5"]):
        result = pytester.runpytest_subprocess("test_quick.py", "-p", "no:cacheprovider", "--perf-conf-dir", str(conf),
                                               "--perf-out-dir", str(out), "--perf-suite", "one", *extra)
        result.assert_outcomes(passed=1)
    with sqlite3.connect(out / "history" / "history.sqlite") as conn:
        marked = [v for (v,) in conn.execute("SELECT injected_slowdown FROM perfsuite_runs ORDER BY started, recorded")]
    assert sorted(marked) == [0.0, 0.5]
    assert all(load_run(d).status == "finished" for d in (out / "runs").iterdir())


@pytest.mark.parametrize(("args", "message"), [
    (["--alpha", "1.5"], "argument --alpha: must be in (0, 1)"),
    (["--alpha", "often"], "argument --alpha: 'often' is not a number"),
    (["--permutations", "0"], "argument --permutations: must be 1 to 100000"),
    (["--permutations", "10"], "--permutations 10 cannot give p <= --alpha 0.05: use at least 19 shuffles"),
])
def test_history_options_that_could_never_find_a_change_are_refused(tmp_path, capsys, args, message):
    store = HistoryStore(tmp_path / "h.sqlite")
    append(store, history_run(tmp_path / "runs", 0, 0.01))
    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext():
        assert main(["history", "--db", str(tmp_path / "h.sqlite"), *args]) == 2
    assert message in capsys.readouterr().err
