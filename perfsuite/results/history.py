"""The history store: every run's metrics, appended at the end of the session, read by `perfsuite history`.

Default: an SQLite file, `out/history/history.sqlite`, through the standard library. A team that
shares one database passes `--perf-history URL` (any SQLAlchemy URL, e.g.
`postgresql+psycopg://user@host/perf`; `pip install 'perfsuite[history-server]'`). The SQL is the
same on both: plain tables, named parameters, no dialect features.

What a run adds: one `perfsuite_runs` row (run folder, suite, device, status, machine id and the
full env.json fingerprint, git commit, times, the slowdown injected into it if any) and one
`perfsuite_metrics` row per case x metric (value, unit, samples behind it, noisy flag), plus each
case's wall time (`wall_s`, the cost `--perf-shard` balances by). A run is identified by its folder name, machine id and host, so
adding it twice (`perfsuite history --add RUN_DIR` after a failed append) changes nothing.

Concurrent writers (xdist controllers of parallel CI jobs, several machines on one server) lose
nothing: each run is one transaction; SQLite takes its write lock up front (BEGIN IMMEDIATE, WAL
journal) and waits up to `timeout_s` for another writer. A database that stays locked, is corrupt
or is of a newer schema version is a `HistoryError` that says how to repair it; the run's own
results are in its run folder regardless. A store of an older version is brought up to date by the
first perfsuite that opens it (1 -> 2: the `injected_slowdown` column, filled in from the run
folders still on disk; a run whose folder is gone keeps NULL, "not known").
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfError
from perfsuite.results.metrics import BY_NAME, HISTORY, value_of
from perfsuite.results.run import RunResult

HISTORY_SCHEMA_VERSION = 2
HISTORY_DIR = "history"
HISTORY_FILE = "history.sqlite"
WALL_METRIC = "wall_s"
# The figures a trend is worth keeping for (`history=True` in the metric registry): the latency
# summary of the raw samples, rates, generation timings, memory. Raw samples stay in results.json.
METRICS = HISTORY

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS perfsuite_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS perfsuite_runs (run_uid VARCHAR(255) PRIMARY KEY, run_dir TEXT, suite VARCHAR(255), "
    "device VARCHAR(64), status VARCHAR(32), started VARCHAR(32), ended VARCHAR(32), recorded VARCHAR(32), "
    "machine_id VARCHAR(255), host VARCHAR(255), git_commit VARCHAR(64), git_dirty INTEGER, git_branch VARCHAR(255), fingerprint TEXT, "
    "injected_slowdown DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS perfsuite_metrics (run_uid VARCHAR(255) NOT NULL, test VARCHAR(255) NOT NULL, "
    "case_id VARCHAR(255) NOT NULL, kind VARCHAR(32), outcome VARCHAR(32), metric VARCHAR(64) NOT NULL, unit VARCHAR(32), "
    "value DOUBLE PRECISION, n_samples INTEGER, noisy INTEGER, PRIMARY KEY (run_uid, test, case_id, metric))",
    "CREATE INDEX IF NOT EXISTS perfsuite_metrics_case ON perfsuite_metrics (test, case_id, metric)",
)


class HistoryError(PerfError):
    """The history database cannot be read or written; the message says how to repair it."""


@dataclass(frozen=True)
class HistoryPoint:
    """One metric of one case in one run."""

    run_uid: str
    run_dir: str
    started: str
    git_commit: str | None
    machine_id: str
    test: str
    case_id: str
    metric: str
    unit: str | None
    value: float
    n_samples: int | None
    noisy: bool
    injected_slowdown: float | None = None  # inference_runtime.slowdown of the run (0.0: none; None: not known)

    @property
    def injected(self) -> bool:
        """The run had a slowdown injected on purpose (a gate experiment): not a measurement of its commit."""
        return bool(self.injected_slowdown)

    @property
    def group(self) -> tuple[str, float]:
        """The runs that measured the same code the same way: one commit, one injected slowdown.

        env.json records whether the tree was dirty but not what the changes were, so runs of one
        commit with uncommitted changes are one group with its clean runs. A run without a commit
        is a group of its own.
        """
        return (self.git_commit or f"run {self.run_uid}", self.injected_slowdown or 0.0)

    @property
    def series(self) -> tuple[str, str, str, str]:
        """Points of one series: same case, metric and machine (never mixed across fingerprints)."""
        return (self.test, self.case_id, self.metric, self.machine_id)


def default_location(out_dir: Path) -> Path:
    return Path(out_dir) / HISTORY_DIR / HISTORY_FILE


def _is_url(target: str) -> bool:
    return "://" in target


class HistoryStore:
    """One history database: an SQLite file (stdlib) or any SQLAlchemy URL."""

    def __init__(self, target: str | Path, *, timeout_s: float = 30.0) -> None:
        self.target = str(target)
        self.timeout_s = timeout_s
        self._engine: Any = None
        if _is_url(self.target):
            try:
                import sqlalchemy
            except ImportError:
                raise HistoryError(
                    f"--perf-history {self.target} is a database URL, which needs SQLAlchemy: pip install 'perfsuite[history-server]' "
                    "(or pass a file path for an SQLite file)"
                ) from None
            try:
                self._engine = sqlalchemy.create_engine(self.target, connect_args=self._sqlite_args())
            except Exception as exc:  # noqa: BLE001 - a bad URL or a missing driver
                raise HistoryError(f"cannot open the history database {self.target}: {type(exc).__name__}: {exc}") from None

            if self.target.startswith("sqlite"):
                _immediate_transactions(self._engine)

    def _sqlite_args(self) -> dict[str, Any]:
        return {"timeout": self.timeout_s} if self.target.startswith("sqlite") else {}

    @property
    def where(self) -> str:
        return self.target

    def exists(self) -> bool:
        return self._engine is not None or Path(self.target).is_file()

    # -- the two executors: sqlite3 and SQLAlchemy, same SQL --------------------------------------
    def _run(self, work: Any, *, write: bool) -> Any:
        """Run `work(execute)` in one transaction; execute(sql, params) -> list of row tuples."""
        try:
            if self._engine is not None:
                return self._run_sqlalchemy(work)
            return self._run_sqlite(work, write=write)
        except HistoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - every driver's errors become one clear message
            raise HistoryError(self._explain(exc)) from None

    def _run_sqlite(self, work: Any, *, write: bool) -> Any:
        path = Path(self.target)
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise HistoryError(f"no history database at {path}: run `pytest benches` (every run appends to it) or pass --db")
        conn = sqlite3.connect(path, timeout=self.timeout_s, isolation_level=None)
        try:
            if write:
                conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
                conn.execute("BEGIN IMMEDIATE")  # the write lock now, not half-way through the run's rows
            else:
                conn.execute("BEGIN")

            def execute(sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
                return conn.execute(sql, dict(params or {})).fetchall()

            try:
                out = work(execute)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return out
        finally:
            conn.close()

    def _run_sqlalchemy(self, work: Any) -> Any:
        from sqlalchemy import text

        with self._engine.begin() as conn:

            def execute(sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
                result = conn.execute(text(sql), dict(params or {}))
                return [tuple(r) for r in result.fetchall()] if result.returns_rows else []

            return work(execute)

    def _explain(self, exc: Exception) -> str:
        text = f"{type(exc).__name__}: {exc}"
        where = self.target
        low = str(exc).lower()
        if "locked" in low or "busy" in low:
            return (
                f"the history database {where} stayed locked by another writer for {self.timeout_s:.0f} s ({text}). "
                "This run's results are safe in its run folder; add them once the other writer is done: "
                "perfsuite history --add RUN_DIR"
            )
        if "not a database" in low or "malformed" in low or "corrupt" in low or "disk i/o" in low:
            return (
                f"the history database {where} is corrupt or not an SQLite file ({text}). This run's results are safe in "
                f"its run folder. To repair: move the file aside (mv {where} {where}.corrupt) and rebuild the history "
                "from the run folders: perfsuite history --add out/runs/*"
            )
        return f"the history database {where} could not be used ({text}). This run's results are safe in its run folder; add them later with perfsuite history --add RUN_DIR"

    # -- schema -------------------------------------------------------------------------------------
    def _ensure_schema(self, execute: Any) -> bool:
        """Create the tables, or bring a store of version 1 to this version; True when it upgraded one."""
        for statement in SCHEMA:
            execute(statement)
        rows = execute("SELECT value FROM perfsuite_meta WHERE key = :key", {"key": "schema_version"})
        if not rows:
            execute("INSERT INTO perfsuite_meta (key, value) VALUES (:key, :value)", {"key": "schema_version", "value": str(HISTORY_SCHEMA_VERSION)})
            return False
        if str(rows[0][0]) == "1":
            execute("ALTER TABLE perfsuite_runs ADD COLUMN injected_slowdown DOUBLE PRECISION")
            execute("UPDATE perfsuite_meta SET value = :value WHERE key = :key", {"key": "schema_version", "value": str(HISTORY_SCHEMA_VERSION)})
            return True
        self._check_version(rows[0][0])
        return False

    def _fill_injected(self) -> None:
        """After an upgrade: each old run's injected slowdown, read from its folder outside the write lock."""
        from perfsuite.results.injected import injected_slowdown_of_folder

        unknown = self._run(lambda execute: execute("SELECT run_uid, run_dir FROM perfsuite_runs WHERE injected_slowdown IS NULL"), write=False)
        found = [{"run_uid": uid, "value": value} for uid, run_dir in unknown
                 if run_dir and (value := injected_slowdown_of_folder(Path(run_dir))) is not None]

        def fill(execute: Any) -> None:
            for row in found:
                execute("UPDATE perfsuite_runs SET injected_slowdown = :value WHERE run_uid = :run_uid AND injected_slowdown IS NULL", row)

        self._run(fill, write=True)

    def _check_version(self, found: Any) -> None:
        if str(found) != str(HISTORY_SCHEMA_VERSION):
            raise HistoryError(
                f"the history database {self.target} has schema version {found}; this perfsuite uses {HISTORY_SCHEMA_VERSION}. "
                f"Use the perfsuite that wrote it, or start a new history: move the file aside and rebuild it with perfsuite history --add out/runs/*"
            )

    # -- writing ------------------------------------------------------------------------------------
    def append(self, run: RunResult, env: Mapping[str, Any], *, wall_s: Mapping[tuple[str, str], float] | None = None) -> bool:
        """Add one run (its metrics and each case's wall time); False if it was already there."""
        from perfsuite.results.injected import injected_slowdown

        git = env.get("git") if isinstance(env.get("git"), Mapping) else {}
        machine = str(env.get("machine_id") or "unknown")
        host = str(env.get("hostname") or "")
        uid = f"{run.run_dir.name}@{machine}@{host}"
        run_row = {
            "run_uid": uid, "run_dir": str(run.run_dir), "suite": run.suite, "device": run.device, "status": run.status,
            "started": run.started or run.run_dir.name.split("_")[0], "ended": run.ended,
            "recorded": _dt.datetime.now().isoformat(timespec="seconds"), "machine_id": machine, "host": host,
            "git_commit": git.get("commit"), "git_dirty": None if git.get("dirty") is None else int(bool(git.get("dirty"))),
            "git_branch": git.get("branch"), "fingerprint": json.dumps(dict(env), sort_keys=True, default=str),
            "injected_slowdown": injected_slowdown(run),
        }
        rows = list(metric_rows(run, uid, wall_s or {}))

        def work(execute: Any) -> tuple[bool, bool]:
            upgraded = self._ensure_schema(execute)
            if execute("SELECT 1 FROM perfsuite_runs WHERE run_uid = :run_uid", {"run_uid": uid}):
                return False, upgraded
            execute(
                "INSERT INTO perfsuite_runs (run_uid, run_dir, suite, device, status, started, ended, recorded, machine_id, host, "
                "git_commit, git_dirty, git_branch, fingerprint, injected_slowdown) VALUES (:run_uid, :run_dir, :suite, :device, :status, "
                ":started, :ended, :recorded, :machine_id, :host, :git_commit, :git_dirty, :git_branch, :fingerprint, :injected_slowdown)",
                run_row,
            )
            for row in rows:
                execute(
                    "INSERT INTO perfsuite_metrics (run_uid, test, case_id, kind, outcome, metric, unit, value, n_samples, noisy) "
                    "VALUES (:run_uid, :test, :case_id, :kind, :outcome, :metric, :unit, :value, :n_samples, :noisy)",
                    row,
                )
            return True, upgraded

        added, upgraded = self._run(work, write=True)
        if upgraded:
            self._fill_injected()
        return bool(added)

    # -- reading ------------------------------------------------------------------------------------
    def points(self, *, case: str | None = None, metric: str | None = None, machine_id: str | None = None) -> list[HistoryPoint]:
        """Every stored point (oldest run first), optionally of cases whose `test::case_id` contains `case`."""
        sql = (
            "SELECT r.run_uid, r.run_dir, r.started, r.git_commit, r.machine_id, m.test, m.case_id, m.metric, m.unit, m.value, "
            "m.n_samples, m.noisy, r.injected_slowdown FROM perfsuite_metrics m JOIN perfsuite_runs r ON r.run_uid = m.run_uid WHERE m.value IS NOT NULL"
        )
        params: dict[str, Any] = {}
        if metric:
            sql += " AND m.metric = :metric"
            params["metric"] = metric
        if machine_id:
            sql += " AND r.machine_id = :machine_id"
            params["machine_id"] = machine_id
        sql += " ORDER BY r.started, r.recorded, r.run_uid"

        def work(execute: Any) -> list[tuple[Any, ...]] | None:
            version = execute("SELECT value FROM perfsuite_meta WHERE key = :key", {"key": "schema_version"})
            if version and str(version[0][0]) == "1":
                return None  # upgraded first, in a write transaction
            if version:
                self._check_version(version[0][0])
            return execute(sql, params)

        rows = self._run(work, write=False)
        if rows is None:
            if self._run(self._ensure_schema, write=True):
                self._fill_injected()
            rows = self._run(work, write=False)
        out = [HistoryPoint(*r[:9], float(r[9]), r[10], bool(r[11]), None if r[12] is None else float(r[12])) for r in rows]
        return [p for p in out if case is None or case in f"{p.test}::{p.case_id}"]

    def costs(self, *, machine_id: str | None = None, before_commit: str | None = None) -> dict[tuple[str, str], float]:
        """Median wall time of each (test, case id) over its stored runs: the expected cost of running it.

        `before_commit`: leave out runs of that commit, so the shards of one CI run (one commit) all
        see the same history even when one shard's run lands in a shared database before another starts.
        """
        import statistics

        seen: dict[tuple[str, str], list[float]] = {}
        for p in self.points(metric=WALL_METRIC, machine_id=machine_id):
            if before_commit is not None and p.git_commit == before_commit:
                continue
            seen.setdefault((p.test, p.case_id), []).append(p.value)
        return {k: float(statistics.median(v)) for k, v in seen.items()}


def _immediate_transactions(engine: Any) -> None:
    """SQLite through SQLAlchemy: take the write lock at BEGIN, as the stdlib path does.

    pysqlite's deferred BEGIN lets two writers both start and then fail to upgrade their lock
    (SQLITE_BUSY without waiting); SQLAlchemy's documented recipe hands BEGIN to SQLite itself.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def metric_rows(run: RunResult, uid: str, wall_s: Mapping[tuple[str, str], float]) -> Iterable[dict[str, Any]]:
    for r in run.cases:
        base = {"run_uid": uid, "test": r.test, "case_id": r.case.id, "kind": r.kind, "outcome": r.outcome, "noisy": int(bool(r.noise_codes))}
        for name in METRICS:
            spec = BY_NAME[name]
            if r.kind not in spec.kinds:
                continue
            value = value_of(name, r)
            if value is not None:
                yield {**base, "metric": name, "unit": spec.unit, "value": value, "n_samples": spec.n(r)}
        for m in r.metrics:  # the test's own figures (perf.metric), as the tables name them
            yield {**base, "metric": f"own.{m.name}", "unit": m.unit, "value": m.value, "n_samples": None}
        took = wall_s.get((r.test, r.case.id))
        if took is not None:
            yield {**base, "metric": WALL_METRIC, "unit": "s", "value": float(took), "n_samples": None}


def series_of(points: Sequence[HistoryPoint]) -> dict[tuple[str, str, str, str], list[HistoryPoint]]:
    """Points grouped by (test, case id, metric, machine id), each in run order."""
    out: dict[tuple[str, str, str, str], list[HistoryPoint]] = {}
    for p in points:
        out.setdefault(p.series, []).append(p)
    return out


def read_env(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(run_dir) / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
