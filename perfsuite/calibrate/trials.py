"""Gate trials through the user's commands: each step a fresh process, each trial's verdicts recorded.

A *separate-runs* trial is what a CI job does: ``pytest BENCHES ARGS --perf-baseline-save NAME``
(``baseline_runs`` times, for a replicate baseline), then ``pytest BENCHES ARGS --perf-compare
NAME --perf-gate`` with the trial's change as ``--perf-override`` values, and the gate run's
``verdicts.json``. An *A/B* trial is one ``perfsuite ab --rounds N --b-override ...`` process.

Every trial gets a fresh baseline unless ``reuse_baseline`` is set: reusing one baseline makes the
trials cheaper (``baseline_runs`` processes once instead of per trial) but no longer independent,
since every trial is then judged against the same baseline runs and shares their luck: a
baseline that happened to run fast makes every trial look slower, and the rates come out more
certain than they are.

The changes of one trial index run one after another before the next index, so the machine's
drift over a long measurement reaches every change alike.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.ab import new_run_folder
from perfsuite.calibrate.busy import busy_processes
from perfsuite.errors import PerfDataError

METHODS = ("separate", "ab")
BASELINE_NAME = "calibrate"
#: Options the trials set themselves; the same option among the user's pytest arguments would fight them.
OWNED_OPTIONS = ("--perf-baseline-save", "--perf-compare", "--perf-gate", "--perf-baseline-dir", "--perf-baseline-keep", "--perf-out-dir")
SLOWDOWN_KEY = "inference_runtime.slowdown"

Step = Callable[[Sequence[str], Path], tuple[int, str]]  # (command, cwd) -> (exit code, output)


def run_process(cmd: Sequence[str], cwd: Path) -> tuple[int, str]:
    """One fresh process; its exit code and its output (stdout, then stderr)."""
    done = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True)
    return done.returncode, (done.stdout or "") + (done.stderr or "")


@dataclass(frozen=True)
class Change:
    """What a trial does to the head run (side B): an injected slowdown or a config change."""

    label: str  # "unchanged", "+5%", "model.config.n_layer=3"
    overrides: tuple[str, ...]  # --perf-override values of the head run
    slowdown: float | None = None  # the injected slowdown (0.05 = 5% slower); None: a config change
    changed: str = "*"  # glob of the case ids the change reaches; "" for none (an A/A trial)

    def reaches(self, case: str) -> bool:
        return bool(self.changed) and fnmatch.fnmatchcase(case, self.changed)

    @property
    def unchanged(self) -> bool:
        return not self.changed


def slowdown_change(slowdown: float) -> Change:
    """Every case slowed by ``slowdown``; 0 is the A/A trial (the override is explicit: B = A exactly)."""
    label = "unchanged" if slowdown == 0 else f"+{slowdown * 100:g}%"
    return Change(label, (f"{SLOWDOWN_KEY}={slowdown:g}",), slowdown, "" if slowdown == 0 else "*")


def config_change(override: str, changed: str) -> Change:
    """A change of the configuration (``model.config.n_layer=3``) that reaches the cases matching ``changed``."""
    if "=" not in override:
        raise PerfDataError(f"a config change is a KEY=VALUE override (e.g. model.config.n_layer=3), got {override!r}")
    if not changed:
        raise PerfDataError(f"the config change {override!r} needs the cases it reaches (a glob such as 'gpt2*')")
    return Change(override, (override,), None, changed)


@dataclass(frozen=True)
class CaseVerdict:
    """One metric's verdict of one case in a trial, as verdicts.json gave it."""

    case: str
    test: str
    metric: str
    verdict: str
    improved: bool
    ratio: float | None
    low: float | None
    high: float | None
    threshold: float
    confidence: float | None
    note: str

    @classmethod
    def from_doc(cls, d: dict[str, Any]) -> CaseVerdict:
        return cls(str(d["case"]), str(d.get("test", "")), str(d["metric"]), str(d["verdict"]), bool(d.get("improved")),
                   d.get("ratio"), d.get("ci_low"), d.get("ci_high"), float(d.get("threshold") or 0.0), d.get("confidence"), str(d.get("note", "")))


@dataclass(frozen=True)
class Trial:
    """One gate decision on one change: its process's exit code, the gate's decision, every verdict."""

    method: str  # "separate" or "ab"
    change: str  # Change.label
    index: int
    exit_code: int
    gate_exit_code: int | None  # the decision's own code in verdicts.json (0: passed)
    decision: str
    verdicts: tuple[CaseVerdict, ...]
    gate_wall_s: float  # the gate run, its confirmation runs included (or the whole `perfsuite ab`)
    plain_wall_s: float | None  # a plain run of the same suite (a baseline run's time); None for A/B
    folder: str
    busy: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.gate_exit_code)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trial:
        return cls(**{**d, "verdicts": tuple(CaseVerdict(**v) for v in d["verdicts"])})


@dataclass(frozen=True)
class TrialPlan:
    """What to run: the changes, how many trials of each, and how."""

    benches: str
    pytest_args: tuple[str, ...]
    changes: tuple[Change, ...]
    trials: int
    aa_trials: int | None = None  # trials of the unchanged change (default: `trials`)
    baseline_runs: int = 1
    reuse_baseline: bool = False
    ab_rounds: int = 0  # > 0: also an A/B trial of this many rounds per trial
    busy: int = 0
    separate: bool = True

    def __post_init__(self) -> None:
        check_pytest_args(self.pytest_args)
        if not self.changes:
            raise PerfDataError("nothing to try: give at least one slowdown or config change")
        if not (self.separate or self.ab_rounds):
            raise PerfDataError("nothing to run: separate-run trials are off and no A/B rounds were asked for")

    def count(self, change: Change) -> int:
        return self.aa_trials if change.unchanged and self.aa_trials is not None else self.trials

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changes": [asdict(c) for c in self.changes]}


def check_pytest_args(args: Sequence[str]) -> None:
    """The user's pytest arguments may choose cases and config, not the options the trials set."""
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in OWNED_OPTIONS:
            raise PerfDataError(f"{name} is set by the trials themselves (a fresh baseline and gate run per trial); "
                                f"drop it from the pytest arguments after --")
        if SLOWDOWN_KEY in arg:
            raise PerfDataError(f"{arg!r}: the trials inject {SLOWDOWN_KEY} themselves (--slowdowns); drop it from the pytest arguments")


@dataclass
class TrialRunner:
    """Runs a plan's trials under ``work``; ``step`` and ``clock`` are injectable for tests."""

    plan: TrialPlan
    work: Path
    step: Step = run_process
    clock: Callable[[], float] = time.perf_counter
    busy: Callable[[int], Any] = busy_processes
    log: Callable[[str], None] = print
    cwd: Path = field(default_factory=Path.cwd)
    _shared: tuple[Path, float] | None = field(default=None, init=False, repr=False)  # the reused baseline, once made

    def run(self, on_trial: Callable[[list[Trial]], None] | None = None) -> list[Trial]:
        """Every trial of the plan; ``on_trial`` gets the list so far after each one (to save it)."""
        done: list[Trial] = []
        most = max(self.plan.count(c) for c in self.plan.changes)
        for i in range(most):
            for change in self.plan.changes:
                if i >= self.plan.count(change):
                    continue
                with self.busy(self.plan.busy):
                    for method in (("separate",) if self.plan.separate else ()) + (("ab",) if self.plan.ab_rounds else ()):
                        trial = self.separate(change, i) if method == "separate" else self.ab(change, i)
                        done.append(trial)
                        self.log(f"calibrate: {method} trial {i + 1}/{self.plan.count(change)} {change.label}: {trial.decision or 'no decision'} "
                                 f"(exit {trial.exit_code}, {trial.gate_wall_s:.0f} s)")
                        if on_trial is not None:
                            on_trial(done)
        return done

    def _pytest(self, out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "pytest", self.plan.benches, "-p", "no:cacheprovider", "-q", *self.plan.pytest_args, *extra,
                "--perf-out-dir", str(out)]

    def _timed(self, cmd: Sequence[str]) -> tuple[int, str, float]:
        start = self.clock()
        code, output = self.step(cmd, self.cwd)
        return code, output, self.clock() - start

    def baseline(self, folder: Path) -> tuple[Path, float]:
        """A fresh baseline of ``baseline_runs`` runs in ``folder``; (its store, the mean wall time of a run)."""
        if self.plan.reuse_baseline and self._shared is not None:
            return self._shared
        store = folder / "baselines"
        walls = []
        for k in range(self.plan.baseline_runs):
            cmd = self._pytest(folder / "out", "--perf-baseline-save", BASELINE_NAME, "--perf-baseline-dir", str(store),
                               "--perf-baseline-keep", str(self.plan.baseline_runs))
            code, output, wall = self._timed(cmd)
            if code != 0 or f"baseline {BASELINE_NAME!r} saved: " not in output:
                raise PerfDataError(f"baseline run {k + 1}/{self.plan.baseline_runs} in {folder} failed (exit {code}); "
                                    f"the suite must pass as it is before the gate can be calibrated:\n{output[-3000:]}")
            walls.append(wall)
        made = (store, sum(walls) / len(walls))
        if self.plan.reuse_baseline:
            self._shared = made
        return made

    def separate(self, change: Change, index: int) -> Trial:
        folder = self.work / "trials" / f"{index + 1:03d}-{_slug(change.label)}"
        store, plain = self.baseline(self.work / "baseline" if self.plan.reuse_baseline else folder)
        out = folder / "out"
        before = set((out / "runs").iterdir()) if (out / "runs").is_dir() else set()
        overrides = [a for o in change.overrides for a in ("--perf-override", o)]
        cmd = self._pytest(out, *overrides, "--perf-compare", BASELINE_NAME, "--perf-gate", "--perf-baseline-dir", str(store))
        code, output, wall = self._timed(cmd)
        run = _printed(output, r"^verdicts: (.*)/verdicts\.json, summary: ") or new_run_folder(out, before)
        doc = _verdicts(run, f"the gate run of trial {index + 1} ({change.label})", code, output)
        return _trial("separate", change, index, code, doc, wall, plain, run, self.plan.busy)

    def ab(self, change: Change, index: int) -> Trial:
        out = self.work / "ab" / f"{index + 1:03d}-{_slug(change.label)}"
        overrides = [a for o in change.overrides for a in ("--b-override", o)]
        cmd = [sys.executable, "-m", "perfsuite.cli", "ab", "--rounds", str(self.plan.ab_rounds), "--benches", self.plan.benches,
               "--out", str(out), *overrides, "--", *self.plan.pytest_args]
        code, output, wall = self._timed(cmd)
        folder = _printed(output, r"^ab folder: (.*)$")
        doc = _verdicts(folder, f"perfsuite ab of trial {index + 1} ({change.label})", code, output)
        return _trial("ab", change, index, code, doc, wall, None, folder, self.plan.busy)


def _trial(method: str, change: Change, index: int, code: int, doc: dict[str, Any], wall: float, plain: float | None,
           folder: Path, busy: int) -> Trial:
    gate = doc.get("gate") or {}
    verdicts = tuple(CaseVerdict.from_doc(v) for v in doc.get("verdicts", ()))
    return Trial(method, change.label, index, code, gate.get("exit_code"), str(gate.get("decision", "")), verdicts, wall, plain, str(folder), busy)


def _printed(output: str, pattern: str) -> Path | None:
    """The folder a command printed (the last match: its own summary line)."""
    found = re.findall(pattern, output, flags=re.MULTILINE)
    return Path(found[-1]) if found else None


def _verdicts(folder: Path | None, what: str, code: int, output: str) -> dict[str, Any]:
    path = folder / "verdicts.json" if folder is not None else None
    if path is None or not path.is_file():
        raise PerfDataError(f"{what} wrote no verdicts.json (exit {code}); its output ends:\n{output[-3000:]}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PerfDataError(f"{what}: cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("verdicts"), list):
        raise PerfDataError(f"{what}: {path} has no verdicts list")
    return doc


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", label).strip("_") or "change"
