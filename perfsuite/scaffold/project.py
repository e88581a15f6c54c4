"""`perfsuite init [DIR]`: a benchmark project in the user's own repository, checked by a short run.

What it writes (all relative to DIR; the names are options of the command):

    conf/suite/<suite>.yaml          one suite, runnable at once (a built-in tiny model on built-in text)
    benches/test_latency.py          a benchmark using perfsuite's fixtures (no conftest needed)
    pytest ini keys                  perf_benches, perf_out_dir, merged into the pytest config file
    .github/workflows/perf.yml       GitHub Actions: labelled self-hosted runner, gate against main
    Dockerfile.perf                  a CUDA image: CUDA base, torch from the CUDA index, perfsuite
    .gitignore                       out/, .perf-baselines/, datasets/*/source-data (lines appended)

then runs the smoke check: the scaffolded suite under pytest with a very short measurement policy,
into a temporary out dir (so the project's out/runs/ only ever holds real runs).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfsuite import __version__
from perfsuite.bootstrap.plan import Plan
from perfsuite.config.sources import ConfSources
from perfsuite.scaffold.files import FileWrite, Merge, build_plan, check_name
from perfsuite.scaffold.pytest_config import pytest_config_merge
from perfsuite.scaffold.render import render

# The smoke check measures almost nothing: it proves the project runs, it is not a baseline.
SMOKE_POLICY = (
    "measure.stop.min_time_s=0.02",
    "measure.stop.max_time_s=0.3",
    "measure.stop.min_rounds=5",
    "measure.warmup.min_calls=2",
    "measure.warmup.window=2",
    "measure.warmup.max_time_s=0.5",
)
DEVICES = ("cpu", "cuda")
CUDA_IMAGE = "nvidia/cuda:12.6.3-runtime-ubuntu24.04"
TORCH_INDEX = {"cpu": "https://download.pytorch.org/whl/cpu", "cuda": "https://download.pytorch.org/whl/cu126"}


@dataclass(frozen=True)
class ProjectLayout:
    """Where a scaffolded project keeps things, relative to its root (the options of `init`)."""

    root: Path
    conf: str = "conf"
    benches: str = "benches"
    out: str = "out"
    suite: str = "project"

    def run_command(self, *extra: str) -> list[str]:
        """The pytest command line that runs this project's suite (from its root)."""
        return ["pytest", self.benches, "--perf-conf-dir", self.conf, "--perf-suite", self.suite, *extra]


@dataclass(frozen=True)
class InitOptions:
    layout: ProjectLayout
    device: str = "cpu"  # what the CI workflow benchmarks on
    runner_label: str = "perf"
    main_branch: str = "main"
    requirement: str = f"perfsuite=={__version__}"

    def __post_init__(self) -> None:
        check_init_values(self)


_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a runner label: one YAML word, one shell word
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")  # git ref names, without the ones that need quoting
_UNSAFE = set('"\'`$\\;&|(){}#\n\r\t')  # what could end a quoted shell word, start a command or a YAML comment


def check_init_values(options: InitOptions) -> None:
    """Each value `init` writes into perf.yml and Dockerfile.perf is checked for what it is, before anything is written.

    Values land in a YAML workflow (as scalars and inside `run:` shell lines) and in a Dockerfile;
    a quote, a line break or `$(...)` there would make invalid YAML or a command that runs in CI.
    """
    from perfsuite.errors import PerfConfigError

    if not _LABEL.fullmatch(options.runner_label):
        raise PerfConfigError("a runner label is letters, digits, '.', '_' and '-' (at most 100)", key="--runner-label",
                              value=options.runner_label)
    branch = options.main_branch
    if not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/", ".")) or "//" in branch:
        raise PerfConfigError("a branch name is letters, digits, '.', '_', '-' and '/' (as git allows, no '..')", key="--main-branch",
                              value=branch)
    req = options.requirement
    if not req.strip() or set(req) & _UNSAFE or req.startswith("-"):
        raise PerfConfigError("a pip requirement, a wheel path or a URL, without quotes, '$', '`', ';', '|', '&', parentheses, "
                              "'#' or line breaks (it is written into the workflow's install step)", key="--requirement", value=req)
    if "://" not in req and "/" not in req and not req.endswith(".whl"):
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            Requirement(req)
        except InvalidRequirement as exc:
            raise PerfConfigError(f"not a pip requirement ({exc})", key="--requirement", value=req) from None


def _requirement_with_extra(requirement: str, extra: str) -> str:
    """`perfsuite==0.1.0` -> `perfsuite[cuda]==0.1.0`; a URL or wheel path gets `[extra]` appended where pip reads it."""
    name, sep, rest = requirement.partition("==")
    if sep and "/" not in name and "[" not in name:
        return f"{name}[{extra}]=={rest}"
    if "[" in requirement or "://" in requirement:
        return requirement
    return f"{requirement}[{extra}]"


def init_items(options: InitOptions) -> list[FileWrite | Merge]:
    layout = options.layout
    root = layout.root
    check_name(layout.suite, what="suite", reserved=ConfSources.create().options("suite"))
    context = {
        "suite": layout.suite,
        "description": "This project's benchmarks (perfsuite init)",
        "benches": layout.benches,
        "conf": layout.conf,
        "out": layout.out,
        "device": options.device,
        "runner_label": options.runner_label,
        "main_branch": options.main_branch,
        "torch_index": TORCH_INDEX[options.device],
        "torch_index_cuda": TORCH_INDEX["cuda"],
        "requirement": _requirement_with_extra(options.requirement, "cuda") if options.device == "cuda" else options.requirement,
        "requirement_cuda": _requirement_with_extra(options.requirement, "cuda"),
        "cuda_image": CUDA_IMAGE,
        "image": "perfsuite-bench",
    }
    items: list[FileWrite | Merge] = [
        FileWrite(root / layout.conf / "suite" / f"{layout.suite}.yaml", render("project/suite.yaml.j2", **context)),
        FileWrite(root / layout.benches / "test_latency.py", render("project/bench.py.j2", **context)),
        pytest_config_merge(root, {"perf_benches": [layout.benches], "perf_out_dir": layout.out}),
        FileWrite(root / ".github" / "workflows" / "perf.yml", render("project/perf.yml.j2", **context)),
        FileWrite(root / "Dockerfile.perf", render("project/Dockerfile.perf.j2", **context)),
        lines_merge(root / ".gitignore", render("project/gitignore.j2", **context)),
    ]
    return items


def lines_merge(path: Path, block: str) -> Merge:
    """Append the lines of `block` that `path` lacks (comments included once); create it if missing."""
    wanted = [line for line in block.splitlines() if line.strip()]
    current = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    missing = [line for line in wanted if line not in current and not line.startswith("#")]

    def apply(text: str | None) -> str:
        if text is None:
            return block
        header = [line for line in wanted if line.startswith("#")]
        sep = "" if text.endswith("\n") or not text else "\n"
        return text + sep + "".join(f"{line}\n" for line in [*header, *missing])

    entries = [line for line in wanted if not line.startswith("#")]
    return Merge(path, "lines " + ", ".join(missing or entries), apply, needed=bool(missing))


def plan_init(options: InitOptions, *, force: bool) -> Plan:
    return build_plan(init_items(options), subject="init", force=force)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    command: list[str]
    seconds: float
    tail: str  # the last lines of pytest's output

    @property
    def outcome(self) -> str:
        """pytest's final count line ("2 passed in 5.30s"), or the last line of its output."""
        lines = [line.strip("= ") for line in self.tail.splitlines() if line.strip()]
        counted = [line for line in lines if re.search(r"\d+ (passed|failed|error|skipped)", line)]
        return (counted or lines or ["no output"])[-1]


def smoke_check(layout: ProjectLayout, *, python: str = sys.executable, runner: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> CheckResult:
    """Run the project's suite once with the short SMOKE_POLICY, on CPU, into a temporary out dir."""
    overrides = [arg for value in SMOKE_POLICY for arg in ("--perf-override", value)]
    with tempfile.TemporaryDirectory(prefix="perfsuite-init-check-") as tmp:
        command = [python, "-m", *layout.run_command("--perf-device", "cpu", "--perf-out-dir", tmp, "-p", "no:cacheprovider", "-q", *overrides)]
        start = time.perf_counter()
        done = runner(command, cwd=layout.root, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    output = (done.stdout or "") + (done.stderr or "")
    tail = "\n".join(output.strip().splitlines()[-25:])
    return CheckResult(done.returncode == 0, command, seconds, tail)


def shown_command(parts: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(p) for p in parts)
