"""Confirmation runs in fresh pytest processes: the gate's second look (statistics: perfsuite.compare.confirm).

After a compared run, the gate hands the node ids of the cases that look regressed to
`run_confirmations`. Each confirmation run is ``python -m pytest <the session's own arguments>``
in the folder pytest was started from, so it builds the same plan (suite, overrides, device,
config trees) and collects the same tests, with:

- ``PERFSUITE_CONFIRM=<file>``: the child keeps only the node ids listed there and writes nothing
  but its run folder: no gate, baseline, HTML report, history, tracking export, JUnit XML or
  pytest-benchmark save, JSON or compare-fail (`quiet_child_options`), and no --lf/--sw selection;
- ``--perf-out-dir <run folder>/confirm``: its own out/ (the parent holds its out/'s run lock);
- ``PERFSUITE_PROBE_REFERENCE_S``: the parent's fastest speed probe, so that a slow host is
  flagged (`host_slow`) even in the child's first case;
- ``-n0`` when the parent ran under pytest-xdist.

Its output goes to ``confirm/run-<i>.log``. A child that exits with anything but 0 or 1 (tests
failed) is a failure and its results are not used; the first failure stops the rest (the next
would fail alike). A case no confirmation run measured keeps the first run's verdict, with why.

The runs are made one at a time: after each, ``settled`` (the gate's look at the verdicts so far,
`perfsuite.compare.confirm.settled`) may end them early, so a clear regression or a clean
re-measurement costs one process, not ``count``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfError

CONFIRM_ENV = "PERFSUITE_CONFIRM"
PROBE_ENV = "PERFSUITE_PROBE_REFERENCE_S"
CONFIRM_DIR = "confirm"
MAX_CONFIRM = 20  # --perf-confirm upper limit: each run is a whole pytest process

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass
class ConfirmOutcome:
    """What the confirmation runs gave: their results, folders, and what went wrong."""

    keys: tuple[str, ...]  # result keys re-measured
    nodeids: tuple[str, ...]
    runs: list[Any] = field(default_factory=list)  # perfsuite.results.run.RunResult, one per finished child
    folders: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = ""  # why the runs ended before ``count`` (every case decided, or the machine busy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": list(self.keys),
            "nodeids": list(self.nodeids),
            "runs": len(self.runs),
            "folders": [str(f) for f in self.folders],
            "failures": list(self.failures),
            "seconds": round(self.seconds, 1),
            **({"stopped": self.stopped} if self.stopped else {}),
        }


def confirm_nodeids(environ: dict[str, str] | None = None) -> frozenset[str] | None:
    """In a confirmation child: the node ids to run (from ``$PERFSUITE_CONFIRM``); None in any other session."""
    env = os.environ if environ is None else environ
    path = env.get(CONFIRM_ENV)
    if not path:
        return None
    try:
        ids = json.loads(Path(path).read_text(encoding="utf-8"))["nodeids"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PerfError(f"${CONFIRM_ENV} names {path!r}, which is not a readable list of node ids ({exc}); unset it to run normally") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PerfError(f"${CONFIRM_ENV} file {path!r}: 'nodeids' must be a list of strings")
    return frozenset(ids)


# Options of pytest and its usual plugins that write or select something; a confirmation child
# leaves the parent's outputs to the parent (dest -> the value that turns it off).
QUIET_OPTIONS = {
    "xmlpath": None,  # --junitxml
    "benchmark_save": None,
    "benchmark_autosave": False,
    "benchmark_json": None,
    "benchmark_compare": None,
    "benchmark_compare_fail": None,
    "benchmark_histogram": None,
    "benchmark_cprofile_dump": None,
    "lf": False,
    "failedfirst": False,
    "stepwise": False,
    "stepwise_skip": False,
    "perf_html": None,
    "perf_baseline_save": None,
    "perf_compare": None,
    "perf_gate": False,
    "perf_gate_force": False,
    "perf_shard": None,
    "perf_history": "off",  # a re-measurement is not a run of its own in the history (and needs no store's password)
}


def quiet_child_options(config: Any) -> None:
    """Turn off, in a confirmation child, every option that would write over the parent's outputs."""
    for dest, off in QUIET_OPTIONS.items():
        if hasattr(config.option, dest):
            setattr(config.option, dest, off)


def child_command(args: Sequence[str], out_dir: Path, *, xdist: bool) -> list[str]:
    """The child's command line: the session's own arguments, then the overrides (argparse: the last wins)."""
    # `--perf-out-dir=DIR` as one token: pytest reads path-like arguments for its rootdir before it knows the options
    return [sys.executable, "-m", "pytest", *args, f"--perf-out-dir={out_dir}", *(["-n0"] if xdist else [])]


# Options of the session that belong to the gate, not to what is measured (flag -> takes a value).
GATE_FLAGS = {
    "--perf-compare": True, "--perf-gate": False, "--perf-gate-force": False, "--perf-gate-config": True, "--perf-baseline-save": True,
    "--perf-baseline-keep": True, "--perf-baseline-dir": True, "--perf-confirm": True, "--perf-confirm-budget": True,
    "-k": True,  # the command selects the cases itself
}


def decide_command(args: Sequence[str], commit: str | None, case_ids: Sequence[str]) -> str:
    """The `perfsuite ab` command that would decide ``case_ids`` against the baseline's ``commit`` (shell-quoted)."""
    import shlex

    kept: list[str] = []
    paths: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in GATE_FLAGS:
            skip = GATE_FLAGS[name] and "=" not in arg
            continue
        if not arg.startswith("-") and (not kept or not kept[-1].startswith("-") or kept[-1] in GATE_FLAGS):
            paths.append(arg)  # a test path: `perfsuite ab --benches` takes it
            continue
        kept.append(arg)
    where = f"--base {commit[:12]}" if commit else "--base <the baseline's commit>"
    benches = f" --benches {shlex.quote(paths[0])}" if paths and paths[0] != "benches" else ""
    select = " or ".join(case_ids)
    from perfsuite.config.redact import redact_urls

    return redact_urls(f"perfsuite ab {where}{benches} --rounds 24 --max-rounds 48 -- "
                       + " ".join(shlex.quote(a) for a in [*kept, "-k", select]))


def _tail(text: str, lines: int = 3) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(kept) or "no output"


def run_child(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], out_dir: Path, log: Path, what: str,
              runner: Runner = subprocess.run) -> tuple[Path, int]:
    """One fresh pytest process writing its run folder under ``out_dir``: (that folder, exit code).

    Its output goes to ``log``. `PerfError` names ``what`` ("confirmation run 2") and says why
    there are no usable results: it could not start, wrote no run folder, or exited with anything
    but 0 or 1 (tests failed).
    """
    from perfsuite.ab import new_run_folder

    before = set((out_dir / "runs").iterdir()) if (out_dir / "runs").is_dir() else set()
    try:
        done = runner(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    except OSError as exc:
        raise PerfError(f"{what} could not start: {exc}") from None
    output = (done.stdout or "") + (done.stderr or "")
    try:
        log.write_text(f"$ {' '.join(cmd)}\n(cwd {cwd}, exit {done.returncode})\n{output}", encoding="utf-8")
    except OSError:
        pass
    folder = new_run_folder(out_dir, before)
    if folder is None or done.returncode not in (0, 1):  # 0: passed, 1: some test failed; anything else broke
        broke = "without results" if folder is None else "(its results are not used)"
        raise PerfError(f"{what} exited {done.returncode} {broke}: {_tail(output)}; full output: {log}")
    return folder, done.returncode


def run_confirmations(
    keys: Sequence[str],
    nodeids: Sequence[str],
    *,
    count: int,
    args: Sequence[str],
    cwd: Path,
    out_dir: Path,
    probe_reference_s: float | None = None,
    xdist: bool = False,
    runner: Runner = subprocess.run,
    progress: Callable[[str], None] = lambda line: None,
    settled: Callable[[list[Any]], str] | None = None,
) -> ConfirmOutcome:
    """Up to ``count`` fresh pytest processes running only ``nodeids``; their run folders loaded.

    ``settled``: asked with the runs so far after each run; a non-empty answer (why) ends the runs there.
    """
    from perfsuite.results.run import load_run

    outcome = ConfirmOutcome(tuple(keys), tuple(nodeids))
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "nodeids.json"
    listing.write_text(json.dumps({"nodeids": list(nodeids), "cases": list(keys)}, indent=1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env[CONFIRM_ENV] = str(listing)
    if probe_reference_s is not None and probe_reference_s > 0:
        env[PROBE_ENV] = repr(probe_reference_s)
    cmd = child_command(args, out_dir, xdist=xdist)
    t0 = time.perf_counter()
    for i in range(1, count + 1):
        started = time.perf_counter()
        try:
            folder, code = run_child(cmd, cwd=cwd, env=env, out_dir=out_dir, log=out_dir / f"run-{i}.log", what=f"confirmation run {i}",
                                     runner=runner)
        except PerfError as exc:
            outcome.failures.append(str(exc))
            break  # the next one would fail alike
        try:
            outcome.runs.append(load_run(folder))
            outcome.folders.append(folder)
        except PerfError as exc:
            outcome.failures.append(f"confirmation run {i}: its results are unreadable: {exc}")
        progress(f"confirmation run {i}/{count}: exit {code}, {time.perf_counter() - started:.0f} s")
        why = settled(outcome.runs) if settled is not None and i < count else ""
        if why:
            outcome.stopped = why
            progress(f"no more confirmation runs: {why}")
            break
    outcome.seconds = time.perf_counter() - t0
    return outcome


def probe_reference_from_env(environ: dict[str, str] | None = None) -> float | None:
    """The parent's fastest speed probe handed to a confirmation child (seconds), if any and sane."""
    env = os.environ if environ is None else environ
    text = env.get(PROBE_ENV)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < 1 else None
