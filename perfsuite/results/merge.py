"""Merging results: xdist workers' pytest-benchmark JSON, and run folders from several machines.

`merge_runs` (the `perfsuite merge RUN_DIR...` command) combines run folders into a new one. Each
source keeps its fingerprint: a case measured on two machines appears twice, its id suffixed
with the machine id, and `machines.json` says which machine each source was. Numbers from
different machine ids are never averaged or pooled; the report shows them side by side. Runs
written by another results schema version are refused with the versions named.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.case import CaseResult
from perfsuite.results.layout import OutLayout, atomic_write_text
from perfsuite.results.run import RESULTS_FILE, RESULTS_SCHEMA_VERSION, ResultsWriter, RunResult, load_run

MACHINES_FILE = "machines.json"


def read_benchmark_json(path: Path) -> dict[str, Any] | None:
    """A pytest-benchmark JSON file, or None if it is missing or unreadable (a worker that measured nothing)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("benchmarks"), list) else None


def merge_benchmark_json(docs: Sequence[Mapping[str, Any]], *, run_dir: Path) -> dict[str, Any]:
    """One pytest-benchmark document from several: every benchmark once, machine and commit of the first.

    Documents from different perfsuite machine ids keep their machine on each benchmark
    (`extra_info.perfsuite_machine_id`), so a reader never mistakes them for one machine's.
    """
    if not docs:
        raise ValueError("nothing to merge")
    base = dict(docs[0])
    benchmarks: dict[str, dict[str, Any]] = {}
    machines = {str((d.get("machine_info") or {}).get("perfsuite_machine_id")) for d in docs}
    for doc in docs:
        machine = (doc.get("machine_info") or {}).get("perfsuite_machine_id")
        for bench in doc.get("benchmarks", []):
            bench = dict(bench)
            if len(machines) > 1:
                bench["extra_info"] = {**(bench.get("extra_info") or {}), "perfsuite_machine_id": machine}
            key = f"{bench.get('fullname')}@{machine}" if len(machines) > 1 else str(bench.get("fullname"))
            benchmarks[key] = bench
    base["benchmarks"] = [benchmarks[k] for k in sorted(benchmarks)]
    perf = dict(base.get("perfsuite") or {})
    perf["run_dir"] = str(run_dir)
    perf["merged_from"] = len(docs)
    base["perfsuite"] = perf
    return base


def _schema_version(run_dir: Path) -> Any:
    path = run_dir / RESULTS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("schema_version")
    except FileNotFoundError:
        raise PerfDataError(f"{run_dir} has no {RESULTS_FILE} (is it a perfsuite run folder?)") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise PerfDataError(f"cannot read {path}: {exc}") from None


def check_schema_versions(run_dirs: Sequence[Path]) -> None:
    """All runs must share this perfsuite's results schema: say which do not, before reading any."""
    versions = {Path(d): _schema_version(Path(d)) for d in run_dirs}
    odd = {d: v for d, v in versions.items() if v != RESULTS_SCHEMA_VERSION}
    if odd:
        listed = "; ".join(f"{d} has schema_version {v}" for d, v in odd.items())
        raise PerfDataError(
            f"cannot merge runs of different results schema versions: {listed}, this perfsuite reads "
            f"{RESULTS_SCHEMA_VERSION}. Merge only runs made by the same perfsuite version (re-run the older ones, "
            "or merge them with the perfsuite that made them)."
        )


def _env(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _with_machine(case: CaseResult, machine_id: str, host: str | None) -> CaseResult:
    info = replace(case.case, id=f"{case.case.id}@{machine_id}")
    return replace(case, case=info, details={**dict(case.details), "machine_id": machine_id, "host": host})


def shard_notes(run_dirs: Sequence[Path]) -> list[str]:
    """Shards (run_config.yaml `shard: K/N`) that are missing or doubled among `run_dirs`, in words."""
    import yaml

    seen: dict[int, list[int]] = {}
    for d in run_dirs:
        try:
            shard = (yaml.safe_load((Path(d) / "run_config.yaml").read_text(encoding="utf-8")) or {}).get("shard")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if isinstance(shard, str) and "/" in shard:
            k, n = (int(x) for x in shard.split("/", 1))
            seen.setdefault(n, []).append(k)
    notes = []
    for n, ks in seen.items():
        missing = sorted(set(range(1, n + 1)) - set(ks))
        if missing:
            notes.append(f"shards {missing} of {n} are not among the merged runs: their cases are missing")
        doubled = sorted({k for k in ks if ks.count(k) > 1})
        if doubled:
            notes.append(f"shards {doubled} of {n} appear more than once")
    return notes


def merged_status(runs: Sequence[RunResult]) -> tuple[str, list[str]]:
    """The merged run's status and why, from its parts: `finished` only when every part finished.

    A part still `running` is one whose process was killed (or is still running): what it measured
    is kept, and the merged run is `interrupted`, naming it. `error` wins over `interrupted`.
    """
    errors = [f"{run.run_dir.name}: {run.error}" for run in runs if run.error]
    errors += [f"{run.run_dir.name}: never finished (status running: its process was killed, or is still running)"
               for run in runs if run.status == "running"]
    statuses = {run.status for run in runs}
    status = "error" if "error" in statuses else "finished" if statuses == {"finished"} else "interrupted"
    return status, errors


def merge_runs(run_dirs: Sequence[Path], out: Path, *, slug: str = "merged") -> Path:
    """Combine `run_dirs` into a new run folder under `out/runs`; return it."""
    if len(run_dirs) < 2:
        raise PerfDataError("perfsuite merge needs at least two run folders")
    dirs = [Path(d) for d in run_dirs]
    for d in dirs:
        if not d.is_dir():
            raise PerfDataError(f"{d} is not a run folder (no such directory)")
    check_schema_versions(dirs)
    runs: list[tuple[RunResult, dict[str, Any]]] = [(load_run(d), _env(d)) for d in dirs]
    machine_ids = {env.get("machine_id") or "unknown" for _, env in runs}
    several = len(machine_ids) > 1
    cases: dict[str, tuple[CaseResult, Path]] = {}
    for run, env in runs:
        machine = env.get("machine_id") or "unknown"
        for case in run.cases:
            case = _with_machine(case, machine, (env.get("hostname"))) if several else case
            if case.key in cases:
                raise PerfDataError(
                    f"{case.key} is in both {cases[case.key][1]} and {run.run_dir}, measured on the same machine id {machine}; "
                    "merge combines shards or machines, each case once: leave one of the two runs out"
                )
            cases[case.key] = (case, run.run_dir)
    target = OutLayout(out).new_run_dir(slug)
    first = runs[0][0]
    # runs of several suites are one run of all of them: its name says so rather than borrowing the first's
    suite = "+".join(dict.fromkeys(run.suite for run, _ in runs))
    writer = ResultsWriter(target / RESULTS_FILE, suite=suite, device=first.device, started=target.name.split("_")[0])
    for case, _ in cases.values():
        writer.cases[case.key] = case
    status, errors = merged_status([run for run, _ in runs])
    writer.finish(status, error="; ".join(errors) or None)
    if writer.write_error:
        raise PerfDataError(writer.write_error)
    machines = [
        {"run_dir": str(run.run_dir), "machine_id": env.get("machine_id"), "host": env.get("hostname"), "cpu": (env.get("cpu") or {}).get("model"),
         "gpus": [d.get("name") for d in ((env.get("cuda") or {}).get("devices") or [])], "git": env.get("git"), "cases": len(run.cases), "status": run.status}
        for run, env in runs
    ]
    atomic_write_text(target / MACHINES_FILE, json.dumps({"machines": machines, "merged": _dt.datetime.now().isoformat(timespec="seconds")}, indent=2))
    first_env = runs[0][1]
    if first_env:
        env = dict(first_env)
        if several:
            env["machine_id"] = "merged:" + ",".join(sorted(machine_ids))
        atomic_write_text(target / "env.json", json.dumps(env, indent=2, sort_keys=True))
    src_config = dirs[0] / "run_config.yaml"
    if src_config.is_file():
        shutil.copyfile(src_config, target / "run_config.yaml")
    docs = [d for src in dirs if (d := read_benchmark_json(src / "benchmark.json")) is not None]
    if docs:
        atomic_write_text(target / "benchmark.json", json.dumps(merge_benchmark_json(docs, run_dir=target), indent=4))
    from perfsuite.report.artifacts import write_run_files

    write_run_files(writer.snapshot())
    return target


def side_by_side(cases: Sequence[CaseResult]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of one case (test + case id without the machine) and one p50 column per machine id."""
    machines: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        machine = case.details.get("machine_id") if isinstance(case.details, Mapping) else None
        if not machine or case.stats is None or case.stats.p50_s is None:
            continue
        if machine not in machines:
            machines.append(machine)
        base_id = case.case.id.rsplit("@", 1)[0]
        row = rows.setdefault(f"{case.test}::{base_id}", {"case": f"{case.test}::{base_id}"})
        row[machine] = case.stats.p50_s
    return machines, [rows[k] for k in sorted(rows)]
