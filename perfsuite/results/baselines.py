"""Stored baselines: a run's typed results (raw samples included) kept under a name, per machine id.

    out/baselines/<machine-id>/<NAME>.json     (or a directory the user chooses)

One file per baseline, written atomically, holding the run's results document, its env.json
fingerprint and where it came from. Saving again under the same name keeps the older runs as
**replicates** (the last ``keep`` runs, 5 by default; ``keep=1`` replaces): the spread between
them is the between-run model the gate judges a new run by (perfsuite.compare.replicates). Names are plain identifiers, never paths. A baseline is
always read back through `parse_run`, so it is validated like a run folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.env import machine_id_of
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.run import RESULTS_FILE, RunResult, json_safe, parse_run
from perfsuite.results.reading import Doc

BASELINE_SCHEMA_VERSION = 1
DEFAULT_KEEP = 5
MAX_KEEP = 50
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_name(name: str) -> str:
    if not _NAME.match(name or "") or ".." in name:
        raise PerfDataError(
            f"baseline name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(e.g. main, nightly-2026-11-25), at most 100 characters, not a path"
        )
    return name


@dataclass(frozen=True)
class RunArgs:
    """How the baseline's run was started: its pytest arguments, as given, and where (run_config.yaml)."""

    args: tuple[str, ...]
    invocation_dir: str  # relative to rootdir when inside it, else absolute
    rootdir: str  # the run's pytest rootdir, absolute, as it was then


@dataclass(frozen=True)
class Baseline:
    name: str
    machine_id: str
    saved: str
    source_run: str | None
    env: dict[str, Any]
    run: RunResult
    path: Path
    replicates: tuple[RunResult, ...] = ()  # the older runs kept under this name, newest first
    run_args: RunArgs | None = None  # None: saved by a perfsuite that did not record them

    @property
    def runs(self) -> int:
        return 1 + len(self.replicates)

    @property
    def has_raw_samples(self) -> bool:
        return any(c.samples_s for c in self.run.cases if c.kind == "latency")


@dataclass(frozen=True)
class BaselineStore:
    """Baselines under one directory, one subfolder per machine id."""

    root: Path

    def path(self, name: str, machine_id: str) -> Path:
        return self.root / machine_id / f"{check_name(name)}.json"

    def save(self, run_dir: Path, name: str, *, env: dict[str, Any] | None = None, keep: int = DEFAULT_KEEP) -> Path:
        """Store `run_dir`'s results under `name` for the run's own machine id.

        An existing baseline of that name on that machine becomes a replicate: the file keeps the
        newest ``keep`` runs (1 replaces it). A replicate from another suite or device is dropped
        (it would not describe the same cases), and so is an unreadable old file, with no error:
        the new run is what was asked to be saved.
        """
        if not (isinstance(keep, int) and 1 <= keep <= MAX_KEEP):
            raise PerfDataError(f"a baseline keeps 1 to {MAX_KEEP} runs (--perf-baseline-keep / --keep), got {keep!r}")
        run_dir = Path(run_dir)
        try:
            results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PerfDataError(f"{run_dir} has no {RESULTS_FILE}: only a perfsuite run folder can become a baseline") from None
        except (OSError, ValueError) as exc:
            raise PerfDataError(f"cannot read {run_dir / RESULTS_FILE}: {exc}") from None
        run = parse_run(results, run_dir=run_dir, file=str(run_dir / RESULTS_FILE))  # only valid runs are stored
        if not run.cases:
            raise PerfDataError(f"{run_dir} has no case results to save as a baseline")
        unusable = _not_a_baseline(run)
        if unusable:
            raise PerfDataError(f"{run_dir} cannot be a baseline: {unusable}")
        if env is None:
            try:
                env = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                env = {}
        if not isinstance(env, dict):
            env = {}
        machine = str(env.get("machine_id") or machine_id_of(env))
        doc = {
            "schema_version": BASELINE_SCHEMA_VERSION,
            "kind": "perfsuite-baseline",
            "name": check_name(name),
            "machine_id": machine,
            "saved": _dt.datetime.now().isoformat(timespec="seconds"),
            "source_run": str(run_dir.resolve()),
            "env": env,
            "results": results,
        }
        run_args = _run_args(run_dir)
        if run_args is not None:
            doc["run_args"] = {"args": list(run_args.args), "invocation_dir": run_args.invocation_dir, "rootdir": run_args.rootdir}
        target = self.path(name, machine)
        doc["replicates"] = _older_runs(target, run, keep - 1)
        atomic_write_text(target, json.dumps(json_safe(doc), indent=1, allow_nan=False))
        return target

    def find(self, name: str, machine_id: str | None = None) -> list[Path]:
        """Files named `name`: this machine's first when `machine_id` is given, then the others."""
        check_name(name)
        found = sorted(self.root.glob(f"*/{name}.json")) if self.root.is_dir() else []
        if machine_id:
            found.sort(key=lambda p: p.parent.name != machine_id)
        return found

    def load(self, name: str, machine_id: str | None = None) -> Baseline:
        found = self.find(name, machine_id)
        if not found:
            known = ", ".join(sorted({p.stem for p in self.root.glob("*/*.json")})) if self.root.is_dir() else ""
            raise PerfDataError(
                f"no baseline named {name!r} under {self.root}"
                + (f" (known: {known})" if known else " (none saved yet)")
                + f". Save one with `perfsuite baseline save {name}` or `pytest benches --perf-baseline-save {name}`"
            )
        return read_baseline(found[0])

    def list(self) -> list[tuple[str, str, Path]]:
        """(machine id, name, path) of every stored baseline."""
        if not self.root.is_dir():
            return []
        return [(p.parent.name, p.stem, p) for p in sorted(self.root.glob("*/*.json"))]

    def delete(self, name: str, machine_id: str | None = None) -> Path:
        found = self.find(name, machine_id)
        if not found:
            raise PerfDataError(f"no baseline named {name!r} under {self.root}")
        path = found[0]
        path.unlink()
        return path


def _older_runs(target: Path, run: RunResult, count: int) -> list[dict[str, Any]]:
    """The results documents to keep as replicates: the old file's run, then its replicates, newest first."""
    if count <= 0 or not target.is_file():
        return []
    try:
        old = json.loads(target.read_text(encoding="utf-8"))
        runs = [old["results"], *old.get("replicates", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    kept = []
    for results in runs:
        if not isinstance(results, dict) or results.get("suite") != run.suite or results.get("device") != run.device:
            continue
        kept.append(results)
        if len(kept) == count:
            break
    return kept


def _run_args(run_dir: Path) -> RunArgs | None:
    """The run's pytest arguments from its run_config.yaml; None when it does not record them."""
    import yaml

    try:
        config = yaml.safe_load((run_dir / "run_config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return None
    args, where, root = config.get("invocation"), config.get("invocation_dir"), config.get("rootdir")
    if not (isinstance(args, list) and all(isinstance(a, str) for a in args) and isinstance(where, str) and isinstance(root, str)):
        return None
    return RunArgs(tuple(args), where, root)


def _not_a_baseline(run: RunResult) -> str:
    """Why ``run`` must not become a baseline ("" when it may): a gate would judge against a part of a run, or nothing."""
    if run.status == "running":
        return "it never finished (status running: its process was killed, or is still running); save a finished run"
    if run.status != "finished":
        return f"it ended {run.status}" + (f" ({run.error})" if run.error else "") + ", so its cases are a part of the suite at most; save a finished run"
    timed = [r for r in run.cases
             if r.outcome == "passed" and (r.samples_s or r.summary is not None or r.generation is not None or r.scenario is not None)]
    if not timed:
        return ("none of its cases was timed (a run with --benchmark-disable calls each case once, untimed, as a smoke test); "
                "save a run that measured them")
    return ""


def read_baseline(path: Path) -> Baseline:
    """Read and validate one baseline file: every problem names the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PerfDataError(f"baseline file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfDataError(f"cannot read baseline file {path}: {exc}") from None
    except ValueError as exc:
        raise PerfDataError(f"baseline file {path} is not valid JSON ({exc}); save the baseline again") from None
    doc = Doc.root(data, str(path))
    version = doc.integer("schema_version")
    if version != BASELINE_SCHEMA_VERSION or doc.string("kind", "") != "perfsuite-baseline":
        raise PerfDataError(
            f"{path} is not a perfsuite baseline of schema_version {BASELINE_SCHEMA_VERSION} "
            f"(got kind {data.get('kind')!r}, schema_version {version}); save the baseline again with this perfsuite"
        )
    results = doc.sub("results")
    replicates = tuple(
        parse_run(dict(older.data), run_dir=Path(doc.string("source_run", str(path))), file=f"{path} (replicates[{i}])")
        for i, older in enumerate(doc.items("replicates", []))
    )
    return Baseline(
        name=doc.string("name"),
        machine_id=doc.string("machine_id"),
        saved=doc.string("saved"),
        source_run=doc.string("source_run", None),
        env=doc.mapping("env", {}),
        run=parse_run(dict(results.data), run_dir=Path(doc.string("source_run", str(path))), file=f"{path} (results)"),
        path=Path(path),
        replicates=replicates,
        run_args=_stored_run_args(doc),
    )


def _stored_run_args(doc: Doc) -> RunArgs | None:
    if not doc.has("run_args"):
        return None  # saved before perfsuite recorded them
    sub = doc.sub("run_args")
    return RunArgs(tuple(sub.strings("args")), sub.string("invocation_dir"), sub.string("rootdir"))
