"""The history store: appends, reads, concurrent writers, a locked or corrupt database, and `perfsuite history`."""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
from pathlib import Path

import pytest

from history_runs import append, history_run
from perfsuite.cli import main
from perfsuite.results.history import HISTORY_SCHEMA_VERSION, HistoryError, HistoryStore

STEP_AT = 5  # the first of the ten runs measured after the injected slowdown


def ten_runs_with_a_step(tmp_path: Path) -> tuple[HistoryStore, list]:
    store = HistoryStore(tmp_path / "out" / "history" / "history.sqlite")
    noise = [1.000, 1.004, 0.997, 1.002, 0.999, 1.003, 0.998, 1.001, 0.996, 1.002]  # +-0.4%: a quiet machine
    runs = []
    for i in range(10):
        level = 0.010 * (1.10 if i >= STEP_AT else 1.0)  # a 10% slowdown from run 5 on
        runs.append(history_run(tmp_path / "out" / "runs", i, level * noise[i]))
        assert append(store, runs[-1], {("test_latency", runs[-1].cases[0].case.id): 2.0 + i})
    return store, runs


def test_runs_round_trip_with_their_commit_machine_and_summaries(tmp_path):
    store, runs = ten_runs_with_a_step(tmp_path)
    points = store.points(metric="latency_p50_s")
    assert len(points) == 10 and [p.run_dir for p in points] == [str(r.run_dir) for r in runs]
    assert points[0].git_commit.startswith("00") and points[0].machine_id == "m-a" and points[0].n_samples >= 20
    assert {p.metric for p in store.points()} >= {"latency_p50_s", "latency_mean_s", "latency_min_s", "samples_per_s", "wall_s"}
    assert store.costs() == {("test_latency", "gpt2.tiny-pydoc-eager-bs1-cpu"): pytest.approx(6.5)}
    assert not append(store, runs[0])  # the same run twice: nothing new
    assert len(store.points(metric="latency_p50_s")) == 10
    assert store.points(case="no-such-case") == []


def test_history_flags_the_injected_step_at_the_right_run(tmp_path, capsys):
    _, runs = ten_runs_with_a_step(tmp_path)
    assert main(["history", "--out", str(tmp_path / "out"), "--case", "bs1"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(lines) == 10
    flagged = [i for i, line in enumerate(lines) if "change point" in line]
    assert flagged == [STEP_AT], out
    assert runs[STEP_AT].run_dir.name in lines[STEP_AT] and "+10." in lines[STEP_AT]
    assert f"first commit after it {'05' + 'c' * 10}" in lines[STEP_AT]
    assert "1 series, 1 change point(s)" in out
    assert main(["history", "--out", str(tmp_path / "out"), "--fail-on-change"]) == 1


def test_each_machine_is_its_own_series(tmp_path, capsys):
    store = HistoryStore(tmp_path / "h.sqlite")
    for i in range(4):
        append(store, history_run(tmp_path / "a", i, 0.010, machine="m-a"))
        append(store, history_run(tmp_path / "b", i, 0.020, machine="m-b", host="host-b"))
    assert main(["history", "--db", str(tmp_path / "h.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "machine m-a  (4 runs)" in out and "machine m-b  (4 runs)" in out and "0 change point(s)" in out  # 10 ms vs 20 ms: never one series


def _writer(db: str, runs: str, worker: int, count: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from history_runs import append as add, history_run as make

    store = HistoryStore(db, timeout_s=60)
    for i in range(count):
        add(store, make(Path(runs), worker * 100 + i, 0.01, machine=f"m{worker}"))


def test_concurrent_writers_lose_nothing(tmp_path):
    db = tmp_path / "history.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), str(tmp_path / f"runs{w}"), w, 6)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = HistoryStore(db)
    points = store.points(metric="latency_p50_s")
    assert len(points) == 24 and len({p.run_uid for p in points}) == 24
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM perfsuite_runs").fetchone()[0] == 24


def test_a_locked_database_says_the_run_is_safe_and_how_to_add_it_later(tmp_path):
    db = tmp_path / "history.sqlite"
    store = HistoryStore(db, timeout_s=0.2)
    run = history_run(tmp_path / "runs", 0, 0.01)
    append(store, history_run(tmp_path / "runs", 1, 0.01))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError, match=r"stayed locked by another writer.*safe in its run folder.*perfsuite history --add RUN_DIR"):
            append(store, run)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert append(store, run)  # once the lock is gone the run goes in


def test_a_corrupt_database_says_how_to_repair_it(tmp_path, capsys):
    db = tmp_path / "history.sqlite"
    db.write_bytes(b"this is not an sqlite file at all" * 200)
    store = HistoryStore(db)
    run = history_run(tmp_path / "runs", 0, 0.01)
    with pytest.raises(HistoryError, match=rf"corrupt or not an SQLite file.*mv {db} {db}.corrupt.*perfsuite history --add out/runs/\*"):
        append(store, run)
    # The repair it names works: move the file aside, add the run folders again.
    db.rename(db.with_suffix(".corrupt"))
    assert main(["history", "--db", str(db), "--add", str(run.run_dir)]) == 0
    assert "added" in capsys.readouterr().out and len(HistoryStore(db).points(metric="latency_p50_s")) == 1


def test_another_schema_version_is_refused(tmp_path):
    db = tmp_path / "history.sqlite"
    store = HistoryStore(db)
    append(store, history_run(tmp_path / "runs", 0, 0.01))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE perfsuite_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(HistoryError, match=f"schema version 99; this perfsuite uses {HISTORY_SCHEMA_VERSION}"):
        store.points()
    with pytest.raises(HistoryError, match="schema version 99"):
        append(store, history_run(tmp_path / "runs", 1, 0.01))


def test_no_history_yet_is_a_clear_error(tmp_path, capsys):
    assert main(["history", "--out", str(tmp_path / "out")]) == 2
    assert "no history database at" in capsys.readouterr().err


def test_a_server_url_goes_through_sqlalchemy(tmp_path):
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    store = HistoryStore(url)
    for i in range(3):
        assert append(store, history_run(tmp_path / "runs", i, 0.01 + i * 0.001))
    assert not append(store, history_run(tmp_path / "runs", 0, 0.01))
    values = [p.value for p in HistoryStore(url).points(metric="latency_p50_s")]
    assert values == pytest.approx([0.010, 0.011, 0.012], rel=0.01)
    with pytest.raises(HistoryError, match="cannot open the history database"):
        HistoryStore("nosuchdialect://x/y")
