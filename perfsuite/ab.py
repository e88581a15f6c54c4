"""Interleaved A/B runs: the same cases for A and B alternately, each round in fresh processes.

    perfsuite ab --a CONF_A --b CONF_B [--rounds N [--max-rounds M]] [-- PYTEST ARGS]
    perfsuite ab --base REF [--head REF] [--rounds N [--max-rounds M]] [-- PYTEST ARGS]     (git worktrees)

Round i runs A then B (or a random order per round with --order random), each as its own
`pytest BENCHES` process writing a run folder under `out/ab/<ts>/{a,b}/`. With --order duet
the two processes of a round run at the same time, each pinned to its own half of the CPUs this
process may use, the halves swapped every round (duet benchmarking, Bulej et al. 2020): what
the machine's neighbours do lands on both sides of a pair at once instead of on one of two runs
taken seconds apart. After every round the
per-case value of both sides (the gate config's statistic: the fastest sample by default, or the
median) goes to `ab.json`, so an interrupted A/B run keeps every finished pair. The pairs are
judged by `perfsuite.compare.paired` (drift cancels within a pair). With `--max-rounds M`
the run is sequential: it looks at its verdicts after N rounds and every `--look-every` rounds
after that, and stops at the first look where no case is inconclusive (each look judged at
alpha / looks, so stopping early costs no false alarms).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from perfsuite.config.run_settings import available_cpus
from perfsuite.errors import PerfDataError
from perfsuite.results.layout import RUN_TS_FORMAT, atomic_write_text
from perfsuite.results.run import RunResult, load_run


@dataclass(frozen=True)
class Side:
    """How to run one side: where, with which extra pytest arguments and environment."""

    label: str  # "a" or "b"
    description: str  # "conf my_conf_a" or "git abc1234 (main)"
    cwd: Path
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class Round:
    index: int
    order: tuple[str, str]
    runs: dict[str, str] = field(default_factory=dict)  # side -> run folder
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # side -> case key -> seconds (min or median)
    exit_codes: dict[str, int] = field(default_factory=dict)
    cores: dict[str, list[int]] = field(default_factory=dict)  # duet: side -> the CPUs it was pinned to


Runner = Callable[..., subprocess.CompletedProcess]


def values_of(run: RunResult, statistic: str = "min") -> dict[str, float]:
    """Per passed latency case (by result key): its fastest sample, or its established median."""
    out: dict[str, float] = {}
    for c in run.of_kind("latency"):
        if c.outcome != "passed":
            continue
        if statistic == "min" and c.samples_s:
            out[c.key] = min(c.samples_s)
        elif statistic == "median" and c.stats and c.stats.p50_s:
            out[c.key] = c.stats.p50_s
    return out


def new_run_folder(out: Path, before: set[Path]) -> Path | None:
    """The newest run folder under ``out/runs`` that was not in ``before`` (what one pytest process just wrote)."""
    runs = out / "runs"
    found = sorted(p for p in runs.iterdir() if p.is_dir() and p not in before) if runs.is_dir() else []
    return found[-1] if found else None


def run_side(side: Side, benches: str, out: Path, pytest_args: Sequence[str], *, runner: Runner = subprocess.run) -> tuple[int, Path | None, str]:
    """One fresh pytest process for one side; returns (exit code, its run folder, output tail)."""
    out.mkdir(parents=True, exist_ok=True)
    before = set((out / "runs").iterdir()) if (out / "runs").is_dir() else set()
    cmd = [sys.executable, "-m", "pytest", benches, "-p", "no:cacheprovider", "-q", "--perf-out-dir", str(out), *side.args, *pytest_args]
    env = {**os.environ, **dict(side.env)}
    done = runner(cmd, cwd=side.cwd, env=env, capture_output=True, text=True)
    return done.returncode, new_run_folder(out, before), (done.stdout or "")[-2000:] + (done.stderr or "")[-2000:]


@dataclass
class ABRun:
    folder: Path
    sides: dict[str, Side]
    statistic: str = "min"
    rounds: list[Round] = field(default_factory=list)

    def save(self) -> None:
        doc = {
            "schema_version": 2,
            "statistic": self.statistic,
            "sides": {k: {"description": s.description, "cwd": str(s.cwd), "args": list(s.args)} for k, s in self.sides.items()},
            "rounds": [
                {"index": r.index, "order": list(r.order), "runs": r.runs, "values": r.values, "exit_codes": r.exit_codes,
                 **({"cores": r.cores} if r.cores else {})}
                for r in self.rounds
            ],
        }
        atomic_write_text(self.folder / "ab.json", json.dumps(doc, indent=1))

    def pairs(self) -> dict[str, tuple[list[float], list[float]]]:
        from perfsuite.compare.paired import pair_medians

        return pair_medians([(r.values.get("a", {}), r.values.get("b", {})) for r in self.rounds if len(r.values) == 2])


def run_ab(
    a: Side,
    b: Side,
    *,
    rounds: int,
    out_root: Path,
    benches: str = "benches",
    pytest_args: Sequence[str] = (),
    order: str = "alternate",
    seed: int = 0,
    statistic: str = "min",
    runner: Runner = subprocess.run,
    log: Callable[[str], None] = print,
    stop: Callable[[ABRun], bool] | None = None,
) -> ABRun:
    """Run up to `rounds` rounds; stop at the first side that measures nothing, keeping what finished.

    ``stop``: asked after every finished round (a sequential run's look at its verdicts); True ends
    the run there.
    """
    if rounds < 1:
        raise PerfDataError(f"--rounds must be >= 1, got {rounds}")
    halves = duet_cores(available_cpus(), pytest_args) if order == "duet" else None
    stamp = _dt.datetime.now().strftime(RUN_TS_FORMAT)
    (out_root / "ab").mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = out_root / "ab" / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            break
        except FileExistsError:
            continue
    ab = ABRun(folder, {"a": a, "b": b}, statistic)
    rng = random.Random(seed)
    for i in range(rounds):
        sequence = ("a", "b") if order != "random" else tuple(rng.sample(["a", "b"], 2))
        rnd = Round(i, sequence)  # type: ignore[arg-type]
        ab.rounds.append(rnd)
        if halves is not None:
            rnd.cores = {"a": list(halves[i % 2]), "b": list(halves[1 - i % 2])}
            with ThreadPoolExecutor(2) as pool:
                started = {key: pool.submit(run_side, pinned(ab.sides[key], rnd.cores[key]), benches, folder / key, pytest_args, runner=runner)
                           for key in sequence}
                finished = {key: job.result() for key, job in started.items()}
            for key in sequence:
                _record(ab, rnd, key, *finished[key], rounds=rounds, log=log)
            if i == 0:
                _warn_oversubscribed(rnd, log)
        else:
            for key in sequence:
                _record(ab, rnd, key, *run_side(ab.sides[key], benches, folder / key, pytest_args, runner=runner), rounds=rounds, log=log)
        ab.save()
        if stop is not None and stop(ab):
            break
    return ab


def _record(ab: ABRun, rnd: Round, key: str, code: int, run_dir: Path | None, tail: str, *, rounds: int, log: Callable[[str], None]) -> None:
    """One side's process of a round: its values, or (no run folder) the error that ends the A/B run."""
    side = ab.sides[key]
    rnd.exit_codes[key] = code
    if run_dir is None or not (run_dir / "results.json").is_file():
        ab.save()
        raise PerfDataError(f"A/B round {rnd.index + 1}, side {key} ({side.description}) produced no run folder (pytest exit {code}):\n{tail}")
    if code >= 2:  # interrupted, internal or usage error, nothing collected: not a run to compare (1: a case failed, kept)
        ab.save()
        raise PerfDataError(f"A/B round {rnd.index + 1}, side {key} ({side.description}) did not run its cases (pytest exit {code}):\n{tail}")
    rnd.runs[key] = str(run_dir)
    rnd.values[key] = values_of(load_run(run_dir), ab.statistic)
    where = f" on CPUs {rnd.cores[key]}" if rnd.cores else ""
    log(f"ab: round {rnd.index + 1}/{rounds} side {key} ({side.description}){where}: {len(rnd.values[key])} cases, exit {code}")


def duet_cores(allowed: Sequence[int], pytest_args: Sequence[str] = ()) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two disjoint halves of ``allowed`` that the sides of a duet round are pinned to."""
    if len(allowed) < 2:
        raise PerfDataError(f"--order duet runs A and B at the same time, each on its own CPUs; this process may use "
                            f"{len(allowed)} CPU ({list(allowed)}). Use --order alternate or random.")
    if any("hardware.cores" in arg for arg in pytest_args):
        raise PerfDataError("--order duet pins each side to its own half of the CPUs itself; drop hardware.cores from the pytest arguments")
    half = len(allowed) // 2
    return tuple(allowed[:half]), tuple(allowed[half:2 * half])


def pinned(side: Side, cores: Sequence[int]) -> Side:
    """`side` with its process pinned to `cores` (a config override after the side's own arguments)."""
    return Side(side.label, side.description, side.cwd, (*side.args, "--perf-override", f"hardware.cores=[{','.join(map(str, cores))}]"), side.env)


def overridden(side: Side, overrides: Sequence[str]) -> Side:
    """`side` with config overrides of its own, after its other arguments (`perfsuite ab --a-override/--b-override`)."""
    if not overrides:
        return side
    args = tuple(a for o in overrides for a in ("--perf-override", o))
    return Side(side.label, f"{side.description} + {' '.join(overrides)}", side.cwd, (*side.args, *args), side.env)


def _warn_oversubscribed(rnd: Round, log: Callable[[str], None]) -> None:
    """Say so when a duet side runs more torch threads than the CPUs it was given (both sides then time-share)."""
    for key, run in rnd.runs.items():
        try:
            threads = json.loads((Path(run) / "env.json").read_text(encoding="utf-8")).get("threads") or {}
        except (OSError, ValueError):
            continue
        n = threads.get("torch_threads")
        if isinstance(n, int) and n > len(rnd.cores[key]):
            log(f"ab: warning: side {key} runs {n} torch threads on {len(rnd.cores[key])} CPU(s) {rnd.cores[key]}; "
                f"with --order duet each side gets half the CPUs, so set hardware.threads to at most {len(rnd.cores[key])}")


# -- sides from configs or git refs -------------------------------------------------------------

def conf_side(label: str, conf: str, cwd: Path) -> Side:
    path = Path(conf).expanduser().resolve()
    if not path.is_dir():
        raise PerfDataError(f"--{label} {conf}: not a folder (expected a config tree like conf/, used as --perf-conf-dir)")
    return Side(label, f"conf {path}", cwd, ("--perf-conf-dir", str(path)))


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise PerfDataError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def resolve_ref(repo: Path, ref: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise PerfDataError(f"git ref {ref!r} does not exist in {repo} (try a branch, a tag or a commit: `git -C {repo} log --oneline`)")
    return done.stdout.strip()


def git_side(label: str, repo: Path, ref: str, worktrees: Path) -> Side:
    """A detached worktree of `ref`; its own code is first on PYTHONPATH for its runs."""
    commit = resolve_ref(repo, ref)
    path = worktrees / label
    # a run that was killed (SIGKILL, a lost machine) can leave this worktree behind, still registered:
    # unregister and remove it, or `git worktree add` fails with "already exists"
    subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True)
    if path.exists():
        shutil.rmtree(path)
    subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    pythonpath = os.pathsep.join(p for p in (str(path), os.environ.get("PYTHONPATH", "")) if p)
    return Side(label, f"git {commit[:10]} ({ref})", path, (), (("PYTHONPATH", pythonpath),))


def remove_worktrees(repo: Path, sides: Sequence[Side]) -> None:
    for side in sides:
        if side.description.startswith("git "):
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(side.cwd)], capture_output=True)
    subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)

