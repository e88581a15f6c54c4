"""Re-measure undecided cases beside the baseline's commit (statistics: perfsuite.compare.beside).

A case the gate could not decide (its head runs disturbed by a busy machine, or its interval too
wide) is measured again in paired rounds: side A is a detached git worktree of the commit the
baseline was measured at, run with the baseline's own recorded pytest arguments (its suite,
overrides, device and config trees: a change made by an override is as real as one made by a
commit); side B is the head, run with this session's arguments in its own folder. Each side is one
fresh ``python -m pytest`` process limited to the undecided node ids and quieted like a
confirmation run (``$PERFSUITE_CONFIRM``, `perfsuite.confirm`). Rounds alternate the order (AB,
BA, ...) so that neither side is always first.

The run is sequential: from `MIN_PAIRS` rounds on, every round is a look (`look_schedule`, each
judged at ``alpha / looks``), and it stops at the first look where every case is decided, at the
planned number of rounds, or before a round that would overrun the time budget. The worktree is
removed however the run ends.

What it needs: a git checkout, and a baseline that records a clean commit (``git.dirty`` false)
present in this repository and the arguments it ran with (saved by a perfsuite that records them).
Otherwise `NotBeside` says which of these is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.compare.beside import all_decided, beside_confidence, beside_estimates, rejudge, round_values
from perfsuite.compare.paired import MIN_PAIRS, look_schedule
from perfsuite.compare.stats import RatioEstimate
from perfsuite.compare.verdict import Comparison
from perfsuite.confirm import CONFIRM_ENV, child_command, run_child
from perfsuite.errors import PerfDataError, PerfError

BESIDE_DIR = "beside"
BASE_AGAIN_DIR = "baseline-again"  # under the run folder: the baseline's commit measured once more
MAX_ROUNDS = 10  # a round is two pytest processes: beyond this the budget, not the rounds, should stop it
BUDGET_ROUNDS = 6  # the default budget: this many rounds at the undecided cases' own cost in this run

Runner = Callable[..., subprocess.CompletedProcess]


class NotBeside(PerfError):
    """Why the baseline cannot be re-measured beside the head (said in the verdicts' notes)."""


def default_budget(case_seconds: float, startup_s: float) -> float:
    """Seconds for `BUDGET_ROUNDS` rounds: two processes each, each starting up and running the cases again."""
    return BUDGET_ROUNDS * 2.0 * (max(0.0, case_seconds) + max(0.0, startup_s))


def planned_rounds(budget_s: float, round_s: float) -> int:
    """Rounds the budget pays for at ``round_s`` each, between `MIN_PAIRS` and `MAX_ROUNDS`; 0 when fewer than `MIN_PAIRS`."""
    if round_s <= 0:
        return MAX_ROUNDS
    fits = int(budget_s // round_s)
    return 0 if fits < MIN_PAIRS else min(fits, MAX_ROUNDS)


def git_toplevel(path: Path) -> Path | None:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def base_commit(baseline: Any, repo: Path | None) -> str:
    """The commit to re-measure the baseline at; `NotBeside` with the reason when there is none.

    ``baseline``: a perfsuite.results.baselines.Baseline; ``repo``: this run's git toplevel (None:
    not a git checkout).
    """
    from perfsuite.ab import resolve_ref

    git = baseline.env.get("git") if isinstance(baseline.env, Mapping) else None
    commit = git.get("commit") if isinstance(git, Mapping) else None
    if not commit:
        raise NotBeside("the baseline records no git commit (it was saved outside a git checkout)")
    if git.get("dirty"):
        raise NotBeside(f"the baseline was saved from a working tree with uncommitted changes (commit {commit[:7]} plus local edits), "
                        "so no commit holds what it measured; save it again from a clean checkout")
    if baseline.run_args is None:
        raise NotBeside("the baseline does not record the pytest arguments it ran with (saved by an older perfsuite); save it again")
    if repo is None:
        raise NotBeside("this run is not in a git checkout, so the baseline's commit cannot be checked out beside it")
    try:
        return resolve_ref(repo, commit)
    except PerfDataError:
        raise NotBeside(f"the baseline's commit {commit[:10]} is not in this repository ({repo}); fetch it (git fetch origin {commit})") from None


def replay_args(args: Sequence[str], recorded_root: str, root: Path) -> list[str]:
    """``args`` with every absolute path inside ``recorded_root`` (as ``X`` or ``--opt=X``) moved under ``root``."""
    prefix = recorded_root.rstrip(os.sep)

    def moved(text: str) -> str:
        if text == prefix or text.startswith(prefix + os.sep):
            return str(root / text[len(prefix):].lstrip(os.sep))
        return text

    out = []
    for arg in args:
        name, eq, value = arg.partition("=")
        out.append(f"{name}={moved(value)}" if eq and arg.startswith("-") else moved(arg))
    return out


@dataclass(frozen=True)
class Side:
    """How one side's processes start."""

    label: str  # "base" or "head"
    args: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)  # on top of the session's environment


@dataclass
class BesideRound:
    order: tuple[str, str]
    seconds: float = 0.0
    values: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)  # side label -> (key, metric) -> value


@dataclass
class BesideOutcome:
    """What the re-measurement gave, or why there was none."""

    keys: tuple[str, ...]
    commit: str | None = None
    budget_s: float = 0.0
    planned: int = 0  # rounds planned (the looks' schedule ends there)
    rounds: list[BesideRound] = field(default_factory=list)
    estimates: dict[tuple[str, str], RatioEstimate] = field(default_factory=dict)
    seconds: float = 0.0
    stopped: str = ""  # why the rounds ended
    why_not: str = ""  # why no case was re-measured: the verdicts' notes say it

    def rejudge(self, comparison: Comparison) -> Comparison:
        return rejudge(comparison, self.estimates, keys=self.keys, commit=self.commit, why_not=self.why_not)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": list(self.keys),
            "commit": self.commit,
            "budget_s": round(self.budget_s, 1),
            "planned_rounds": self.planned,
            "rounds": len([r for r in self.rounds if len(r.values) == 2]),
            "orders": ["".join(r.order) for r in self.rounds],
            "seconds": round(self.seconds, 1),
            "stopped": self.stopped,
            "why_not": self.why_not or None,
            "estimates": [{"case": key, "metric": metric, "ratio": e.ratio, "ci_low": e.low, "ci_high": e.high,
                           "confidence": e.confidence, "pairs": e.n_base, "method": e.method}
                          for (key, metric), e in sorted(self.estimates.items())],
        }


def _run_side(side: Side, out_dir: Path, env: Mapping[str, str], *, xdist: bool, runner: Runner, log: Path) -> Any:
    """One fresh pytest process of ``side``; its loaded run, or PerfDataError saying why there is none."""
    from perfsuite.results.run import load_run

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        folder, _ = run_child(child_command(side.args, out_dir, xdist=xdist), cwd=side.cwd, env={**env, **side.env}, out_dir=out_dir,
                              log=log, what=f"the {side.label} side", runner=runner)
        return load_run(folder)
    except PerfError as exc:
        raise PerfDataError(str(exc)) from None


def run_rounds(
    keys: Sequence[str],
    nodeids: Sequence[str],
    base: Side,
    head: Side,
    *,
    first: Comparison,
    out_dir: Path,
    budget_s: float,
    round_estimate_s: float,
    statistic: str = "min",
    xdist: bool = False,
    runner: Runner = subprocess.run,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] = lambda line: None,
    outcome: BesideOutcome | None = None,
) -> BesideOutcome:
    """Paired rounds of ``base`` and ``head`` on ``nodeids`` until decided, the planned rounds, or the budget."""
    outcome = outcome or BesideOutcome(tuple(keys))
    outcome.budget_s = budget_s
    outcome.planned = planned_rounds(budget_s, round_estimate_s)
    if outcome.planned == 0:
        outcome.why_not = _budget_too_small(budget_s, round_estimate_s)
        return outcome
    looks = look_schedule(MIN_PAIRS, outcome.planned, 1)
    confidence = beside_confidence(first, len(looks))
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "nodeids.json"
    listing.write_text(json.dumps({"nodeids": list(nodeids), "cases": list(keys)}, indent=1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env[CONFIRM_ENV] = str(listing)
    sides = {"base": base, "head": head}
    t0 = clock()
    last = round_estimate_s
    while len(outcome.rounds) < outcome.planned:
        spent = clock() - t0
        if outcome.rounds and spent + last > budget_s:
            outcome.stopped = f"budget: another round of about {last:.0f} s would pass {budget_s:.0f} s"
            break
        i = len(outcome.rounds)
        rnd = BesideRound(("base", "head") if i % 2 == 0 else ("head", "base"))
        outcome.rounds.append(rnd)
        started = clock()
        try:
            for label in rnd.order:
                run = _run_side(sides[label], out_dir / f"round-{i + 1}" / label, env, xdist=xdist, runner=runner,
                                log=out_dir / f"round-{i + 1}-{label}.log")
                rnd.values[label] = round_values(run, keys, statistic)
        except PerfDataError as exc:
            outcome.stopped = f"round {i + 1}: {exc}"
            break
        rnd.seconds = last = clock() - started
        progress(f"beside round {i + 1}/{outcome.planned} ({' then '.join(rnd.order)}): {rnd.seconds:.0f} s")
        done = [(r.values["base"], r.values["head"]) for r in outcome.rounds if len(r.values) == 2]
        if len(done) in looks:
            outcome.estimates = beside_estimates(done, confidence=confidence)
            if outcome.estimates and all_decided(outcome.rejudge(first), keys):
                outcome.stopped = f"every case decided after {len(done)} rounds"
                break
    else:
        outcome.stopped = f"the planned {outcome.planned} rounds are done"
    outcome.seconds = clock() - t0
    return outcome


def _budget_too_small(budget_s: float, round_s: float) -> str:
    return f"the budget of {budget_s:.0f} s (--perf-confirm-budget) pays for fewer than {MIN_PAIRS} rounds of about {round_s:.0f} s each"


@contextlib.contextmanager
def base_side(baseline: Any, rootdir: Path, *, models_dir: Path | None, progress: Callable[[str], None]) -> Iterator[tuple[str, Side]]:
    """A temporary worktree of the baseline's commit and how to run its side there: (commit, Side).

    `NotBeside` (before any checkout) when there is no commit to check out. The worktree is removed
    however the block ends.
    """
    from perfsuite.ab import git_side, remove_worktrees

    repo = git_toplevel(rootdir)
    commit = base_commit(baseline, repo)
    assert repo is not None and baseline.run_args is not None
    holder = Path(tempfile.mkdtemp(prefix="perfsuite-beside-"))
    side = None
    try:
        side = git_side("a", repo, commit, holder)
        root = side.cwd / rootdir.resolve().relative_to(repo.resolve())
        recorded = baseline.run_args
        args = replay_args(recorded.args, recorded.rootdir, root)
        if models_dir is not None and models_dir.is_dir() and not any(a.startswith("--perf-models-dir") for a in args):
            # one token: pytest finds its rootdir (and so the node ids) from the arguments that look
            # like paths before it knows which options take values; a separate models path would
            # root the base side in this checkout, and no node id would match
            args = [f"--perf-models-dir={models_dir}", *args]
        where = Path(recorded.invocation_dir)
        cwd = root / where if not where.is_absolute() else root
        progress(f"the baseline's commit {commit[:10]} is checked out in {side.cwd}")
        yield commit, Side("base", tuple(args), cwd, dict(side.env))
    finally:
        if side is not None:
            remove_worktrees(repo, [side])
        shutil.rmtree(holder, ignore_errors=True)


def remeasure_beside(
    keys: Sequence[str],
    nodeids: Sequence[str],
    baseline: Any,
    *,
    first: Comparison,
    rootdir: Path,
    head_args: Sequence[str],
    head_cwd: Path,
    out_dir: Path,
    budget_s: float,
    round_estimate_s: float,
    models_dir: Path | None = None,
    statistic: str = "min",
    xdist: bool = False,
    runner: Runner = subprocess.run,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] = lambda line: None,
) -> BesideOutcome:
    """Check out the baseline's commit in a temporary worktree, run the rounds (`run_rounds`), remove the worktree.

    ``baseline``: a perfsuite.results.baselines.Baseline; ``rootdir``: this session's pytest
    rootdir; ``models_dir``: the local model snapshots (host data, not in git) the base side
    gets unless its own arguments name a folder.
    """
    outcome = BesideOutcome(tuple(keys), budget_s=budget_s)
    try:
        outcome.commit = base_commit(baseline, git_toplevel(rootdir))
    except NotBeside as exc:
        outcome.why_not = str(exc)
        return outcome
    if planned_rounds(budget_s, round_estimate_s) == 0:  # before any checkout
        outcome.why_not = _budget_too_small(budget_s, round_estimate_s)
        return outcome
    with base_side(baseline, rootdir, models_dir=models_dir, progress=progress) as (_, base):
        return run_rounds(keys, nodeids, base, Side("head", tuple(head_args), head_cwd), first=first, out_dir=out_dir,
                          budget_s=budget_s, round_estimate_s=round_estimate_s, statistic=statistic, xdist=xdist, runner=runner,
                          clock=clock, progress=progress, outcome=outcome)


@dataclass
class BaseAgain:
    """The baseline's commit measured once more, now, to check regressions found against a one-run baseline."""

    keys: tuple[str, ...]
    commit: str | None = None
    run: Any = None  # its RunResult
    seconds: float = 0.0
    why_not: str = ""  # why there is no such run: the verdicts' notes say it

    def to_dict(self) -> dict[str, Any]:
        return {"cases": list(self.keys), "commit": self.commit, "run": str(self.run.run_dir) if self.run is not None else None,
                "seconds": round(self.seconds, 1), "why_not": self.why_not or None}


def measure_base_again(
    keys: Sequence[str],
    nodeids: Sequence[str],
    baseline: Any,
    *,
    rootdir: Path,
    out_dir: Path,
    models_dir: Path | None = None,
    xdist: bool = False,
    runner: Runner = subprocess.run,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] = lambda line: None,
) -> BaseAgain:
    """One fresh process of the baseline's commit, with its own recorded arguments, on ``nodeids`` (`base_side`)."""
    outcome = BaseAgain(tuple(keys))
    t0 = clock()
    try:
        with base_side(baseline, rootdir, models_dir=models_dir, progress=progress) as (commit, base):
            outcome.commit = commit
            out_dir.mkdir(parents=True, exist_ok=True)
            listing = out_dir / "nodeids.json"
            listing.write_text(json.dumps({"nodeids": list(nodeids), "cases": list(keys)}, indent=1), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
            env[CONFIRM_ENV] = str(listing)
            outcome.run = _run_side(base, out_dir / "base", env, xdist=xdist, runner=runner, log=out_dir / "base.log")
    except NotBeside as exc:
        outcome.why_not = str(exc)
    except PerfDataError as exc:
        outcome.why_not = str(exc)
    outcome.seconds = clock() - t0
    return outcome
