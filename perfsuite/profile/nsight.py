"""Nsight Systems / Nsight Compute over one case: the exact command, and running it when the tool is there.

Neither tool can attach to the pytest process that is already running the suite, so the command
profiles a child run of the case's timed test alone (`benches/test_latency.py::test_latency[<case>]`,
`pipeline=default`, the same suite, device and overrides), written to its own out folder under the
run's `nsight/` folder. The child's phases carry NVTX ranges (`perfsuite:load`, `perfsuite:warm-up`,
`perfsuite:timed`; `perfsuite.profile.nvtx`), which the presets' `capture_nvtx` / `nvtx_include`
use to keep only the timed rounds.

`nsight_command` builds the argv from the validated `profiling.nsys` / `profiling.ncu` preset;
`perfsuite nsys-cmd CASE` prints it (shell-quoted) for a user to run by hand; `run_nsight` runs it
when the tool is on PATH and otherwise returns a skip whose reason names the tool and how to get it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import Case, NcuSpec, NsysSpec
from perfsuite.results.layout import path_inside

TOOLS = ("nsys", "ncu")
INSTALL_HINT = {
    "nsys": "install NVIDIA Nsight Systems (part of the CUDA toolkit, or developer.nvidia.com/nsight-systems) and put nsys on PATH",
    "ncu": "install NVIDIA Nsight Compute (part of the CUDA toolkit, or developer.nvidia.com/nsight-compute) and put ncu on PATH",
}
REPORT_SUFFIX = {"nsys": ".nsys-rep", "ncu": ".ncu-rep"}
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class ChildRun:
    """How to rerun one case's timed test alone: what the Nsight tools wrap."""

    case_id: str
    node: str  # a pytest node id, e.g. benches/test_latency.py::test_latency[<case id>]
    suite: str
    device: str
    overrides: tuple[str, ...] = ()
    conf_dirs: tuple[str, ...] = ()
    out_dir: str | None = None
    python: str = sys.executable

    def argv(self) -> list[str]:
        args = [self.python, "-m", "pytest", self.node, "--perf-suite", self.suite, "--perf-device", self.device]
        for o in self.overrides:
            if o.split("=", 1)[0].lstrip("+~") != "pipeline":  # the child runs the timed stage only
                args += ["--perf-override", o]
        args += ["--perf-override", "pipeline=default"]
        for d in self.conf_dirs:
            args += ["--perf-conf-dir", d]
        if self.out_dir:
            args += ["--perf-out-dir", self.out_dir]
        return args + ["-p", "no:cacheprovider", "-q"]


@dataclass(frozen=True)
class NsightCommand:
    tool: str  # nsys | ncu
    argv: tuple[str, ...]
    report: Path  # the report file the tool writes

    def shell(self) -> str:
        return shlex.join(self.argv)


def nsys_argv(spec: NsysSpec, output: Path) -> list[str]:
    args = ["nsys", "profile", f"--trace={','.join(spec.trace)}", f"--sample={spec.sample}", f"--output={output}", "--force-overwrite=true"]
    if spec.capture_nvtx:
        # torch.cuda.nvtx pushes unregistered strings, which nsys ignores for capture unless told.
        args += ["--capture-range=nvtx", f"--nvtx-capture={spec.capture_nvtx}", "--capture-range-end=stop",
                 "--env-var=NSYS_NVTX_PROFILER_REGISTER_ONLY=0"]
    return args + list(spec.extra_args)


def ncu_argv(spec: NcuSpec, output: Path) -> list[str]:
    args = ["ncu", "--set", spec.set, "--target-processes", "all", "--launch-skip", str(spec.launch_skip),
            "--launch-count", str(spec.launch_count), "--export", str(output), "--force-overwrite"]
    if spec.kernel_regex:
        args += ["--kernel-name", f"regex:{spec.kernel_regex}"]
    if spec.nvtx_include:
        args += ["--nvtx", "--nvtx-include", spec.nvtx_include]
    return args + list(spec.extra_args)


def nsight_command(tool: str, case: Case, child: ChildRun, report_dir: Path) -> NsightCommand:
    """The exact `nsys profile ...` / `ncu ...` command for `case`, its report under `report_dir`."""
    if tool not in TOOLS:
        raise ValueError(f"unknown Nsight tool {tool!r}; known: {', '.join(TOOLS)}")
    base = path_inside(report_dir, case.id, f".{tool}")  # the tools add their own suffix
    prof = case.config.profiling
    prefix = nsys_argv(prof.nsys, base) if tool == "nsys" else ncu_argv(prof.ncu, base)
    return NsightCommand(tool, tuple(prefix + child.argv()), base.with_name(base.name + REPORT_SUFFIX[tool]))


@dataclass(frozen=True)
class NsightRun:
    """One tool's outcome on one case: ran (with its exit code and report) or skipped (why)."""

    tool: str
    command: str  # shell-quoted, runnable by hand
    status: str  # ran | failed | skipped
    reason: str | None = None
    returncode: int | None = None
    report: str | None = None  # the report file, when the tool wrote it
    log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "command": self.command, "status": self.status, "reason": self.reason,
                "returncode": self.returncode, "report": self.report, "log": self.log}


def not_applicable(tool: str, case: Case, enabled: bool) -> str | None:
    """Why `tool` does not run on this case, or None when it should."""
    if not enabled:
        return f"profiling.{tool}.enabled is false"
    if tool == "ncu" and case.device.split(":")[0] != "cuda":
        return f"ncu analyses CUDA kernels; this case runs on {case.device}"
    return None


def run_nsight(
    cmd: NsightCommand,
    *,
    log_path: Path,
    which: Callable[[str], str | None] = shutil.which,
    run: Callable[..., Any] = subprocess.run,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> NsightRun:
    """Run `cmd` when its tool is on PATH (output to `log_path`); else a skip naming the tool."""
    shell = cmd.shell()
    if which(cmd.tool) is None:
        return NsightRun(cmd.tool, shell, "skipped", f"{cmd.tool} not found on PATH: {INSTALL_HINT[cmd.tool]}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd.report.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_path.open("w", encoding="utf-8") as log:
            done = run(list(cmd.argv), stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return NsightRun(cmd.tool, shell, "failed", f"{cmd.tool} ran past {timeout_s:.0f} s (log: {log_path})", log=str(log_path))
    except OSError as exc:
        return NsightRun(cmd.tool, shell, "failed", f"{cmd.tool} could not start: {exc}", log=str(log_path))
    report = str(cmd.report) if cmd.report.is_file() else None
    if done.returncode != 0:
        return NsightRun(cmd.tool, shell, "failed", f"{cmd.tool} exited with status {done.returncode} (log: {log_path})",
                         done.returncode, report, str(log_path))
    if report is None:
        return NsightRun(cmd.tool, shell, "failed", f"{cmd.tool} exited 0 but wrote no {cmd.report.name} (log: {log_path})",
                         done.returncode, None, str(log_path))
    return NsightRun(cmd.tool, shell, "ran", None, done.returncode, report, str(log_path))


def child_for(case: Case, node: str, *, suite: str, overrides: Sequence[str], conf_dirs: Sequence[str], out_dir: Path | None) -> ChildRun:
    return ChildRun(case.id, node, suite, case.device, tuple(overrides), tuple(conf_dirs), None if out_dir is None else str(out_dir))
