"""The plugin's command line: perfsuite's options, their typed record, and the checks made on them.

perfsuite.plugin calls in here from its hooks; nothing here imports torch at module load.
`--perf-device` always exists; `--device` is its alias only when no other plugin or conftest owns
it (add_device_alias runs once every initial conftest has added its options).
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfsuite.errors import PerfError

DEVICE_ALIAS = pytest.StashKey[bool]()  # True when perfsuite owns --device


def _device_arg(text: str) -> str:
    from perfsuite.config.validate import check_device as check_device_form

    try:
        return check_device_form(text)
    except PerfError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _override_arg(text: str) -> str:
    if "=" not in text and not text.startswith("~"):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. infer.batch_sizes=[1,4]), got {text!r}")
    return text


def _shard_arg(text: str) -> tuple[int, int]:
    from perfsuite.shard import parse_shard

    return parse_shard(text)


DEVICE_HELP = "device to benchmark on: cpu, cuda, cuda:N or mps. Default: cpu."


def add_options(parser: pytest.Parser) -> None:
    """perfsuite's options and ini keys (all but --device, see add_device_alias)."""
    group = parser.getgroup("perfsuite", "perfsuite: ML inference benchmarks")
    # --perf-device always exists; --device is added as its alias once every plugin and initial
    # conftest has had its say, and only if no one else owns it (perfsuite.plugin.pytest_load_initial_conftests).
    group.addoption("--perf-device", dest="perf_device", type=_device_arg, default=None, metavar="DEVICE", help=DEVICE_HELP)
    group.addoption("--perf-suite", default=None, metavar="NAME", help="benchmark matrix from conf/suite/NAME.yaml. Default: default.")
    group.addoption(
        "--perf-override",
        action="append",
        default=[],
        type=_override_arg,
        metavar="KEY=VALUE",
        help="Hydra override, repeatable (e.g. infer.batch_sizes=[1,4], model=gpt2.tiny, dataset=pydoc). Default: none.",
    )
    group.addoption(
        "--perf-conf-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="extra config tree searched before the built-in conf/, repeatable. Default: none.",
    )
    group.addoption("--perf-out-dir", default=None, metavar="DIR", help="where run folders go (relative to the current folder). Default: ini perf_out_dir (relative to rootdir), else <rootdir>/out.")
    group.addoption("--perf-models-dir", default=None, metavar="DIR", help="local model snapshots for model=<name>. Default: <rootdir>/models.")
    group.addoption(
        "--perf-on-missing-device",
        choices=("error", "skip"),
        default=None,
        help="when the device asked for is missing on this machine: stop with a usage error, or skip every case with the reason. Default: error.",
    )
    group.addoption(
        "--perf-shard", default=None, type=_shard_arg, metavar="K/N",
        help="run only shard K of N: a deterministic share of the tests, balanced by their wall time in the history "
             "store (by count without one), for a CI matrix of N machines; combine the run folders with perfsuite merge. "
             "Default: every test.",
    )
    from perfsuite.gate_plugin import add_options as add_gate_options
    from perfsuite.report.html_plugin import add_options as add_html_options

    from perfsuite.history_plugin import add_options as add_history_options

    add_gate_options(group)
    add_html_options(group)
    add_history_options(group)
    parser.addini("perf_out_dir", "where run folders go (relative to rootdir)", default="out")
    parser.addini("perf_benches", "folders holding perfsuite benchmarks (relative to rootdir); a run of them turns perfsuite on. "
                  "Default: none (perfsuite init sets it; any --perf-* option also turns perfsuite on)", type="linelist", default=[])


def option_names(parser: pytest.Parser) -> set[str]:
    # pytest has no public listing of the options added so far; its OptionGroup.addoption only
    # checks its own group (and, from pytest 9, the dest), so look across all groups here.
    groups = [getattr(parser, "_anonymous", None), *getattr(parser, "_groups", [])]
    return {name for group in groups if group is not None for opt in group.options for name in opt.names()}


def add_device_alias(parser: pytest.Parser) -> bool:
    """Add `--device` as an alias of --perf-device if no plugin or conftest owns it; True if added."""
    if "--device" in option_names(parser):
        return False
    try:
        parser.getgroup("perfsuite").addoption(
            "--device", dest="perf_device", type=_device_arg, default=None, metavar="DEVICE", help=f"alias of --perf-device. {DEVICE_HELP}"
        )
    except ValueError:  # taken after all (a check we could not see): leave it to its owner
        return False
    return True


@dataclass(frozen=True)
class PerfOptions:
    device: str
    device_flag: str  # the flag a user types for perfsuite's device: --device, or --perf-device when --device is someone else's
    suite: str | None
    overrides: tuple[str, ...]
    conf_dirs: tuple[str, ...]
    out_dir: Path
    models_dir: Path
    on_missing_device: str
    shard: tuple[int, int] | None  # --perf-shard K/N
    explicit: bool  # any perfsuite option given on the command line

    @classmethod
    def from_config(cls, config: pytest.Config) -> PerfOptions:
        opt = config.option
        root = config.rootpath
        given = (opt.perf_device, opt.perf_suite, opt.perf_override, opt.perf_conf_dir, opt.perf_out_dir, opt.perf_models_dir,
                 opt.perf_on_missing_device, opt.perf_compare, opt.perf_baseline_save, opt.perf_gate or None, opt.perf_html,
                 opt.perf_history, opt.perf_shard)
        # A path typed on the command line is relative to where pytest runs; the ini value to the rootdir.
        out = config.invocation_params.dir / opt.perf_out_dir if opt.perf_out_dir else root / config.getini("perf_out_dir")
        return cls(
            device=opt.perf_device or "cpu",
            device_flag=device_flag_of(config),
            suite=opt.perf_suite,
            overrides=tuple(opt.perf_override),
            conf_dirs=tuple(opt.perf_conf_dir),
            out_dir=out,
            models_dir=config.invocation_params.dir / opt.perf_models_dir if opt.perf_models_dir else root / "models",
            on_missing_device=opt.perf_on_missing_device or "error",
            shard=opt.perf_shard,
            explicit=any(v is not None and v != [] for v in given),
        )


def command_line(config: pytest.Config) -> list[str]:
    """Every argument pytest parsed, in its order: PYTEST_ADDOPTS, ini addopts, then the command line."""
    return [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *config.getini("addopts"), *map(str, config.invocation_params.args)]


def device_flag_of(config: pytest.Config) -> str:
    """How the user names perfsuite's device, for messages: the flag they typed, else the one perfsuite owns."""
    if not config.stash.get(DEVICE_ALIAS, False):
        return "--perf-device"
    typed = [a.split("=", 1)[0] for a in command_line(config) if a.split("=", 1)[0] in ("--device", "--perf-device")]
    return typed[-1] if typed else "--device"


def targets_benches(config: pytest.Config) -> bool:
    """Whether the run targets a benchmark folder the project names in its pytest config (ini `perf_benches`).

    Only a project that set `perf_benches` itself (the default is none): a folder that merely happens to
    be called benches/ (plain pytest-benchmark tests, say) must not switch perfsuite on, pin the process
    and write out/.
    """
    benches = [(config.rootpath / b).resolve() for b in config.getini("perf_benches")]
    benches = [b for b in benches if b.is_dir()]
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        for b in benches:
            if path == b or b in path.parents or path in b.parents:
                return True
    return False


def check_suite_name(name: str | None, conf_dirs: tuple[str, ...]) -> None:
    """--perf-suite names a conf/suite/NAME.yaml; a path (or '') would escape or miss the tree."""
    if name is None:
        return
    if name and not name.startswith(".") and not any(bad in name for bad in ("/", "\\", "..")):
        return
    from perfsuite.config.sources import ConfSources

    try:
        available = ", ".join(ConfSources.create(conf_dirs).options("suite"))
    except PerfError:
        available = "(none readable)"
    raise pytest.UsageError(
        f"--perf-suite takes the name of a suite, not a path (got {name!r}). Available: {available}. "
        "Put your own suite in <your conf dir>/suite/NAME.yaml and pass --perf-conf-dir <your conf dir> --perf-suite NAME."
    )


def check_device(device: str, *, flag: str = "--device", on_missing: str = "error") -> str | None:
    """None if usable, else why not (and, for a usage error, what to do instead)."""
    if device == "mps":
        return _check_mps(flag, on_missing)
    if not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device or driver is visible"
        message = f"{flag} {device} was requested, but {why} (torch {torch.__version__})."
        if on_missing == "skip":
            return f"{message} Skipped as asked by --perf-on-missing-device=skip."
        return (
            f"{message} Run with {flag} cpu, install a CUDA build of torch (see README: 'Installing for CUDA'), "
            "or pass --perf-on-missing-device=skip to record every case as skipped."
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        return f"{flag} {device} was requested, but only {torch.cuda.device_count()} CUDA device(s) are visible."
    return None


def _check_mps(flag: str, on_missing: str) -> str | None:
    """--device mps: usable only where torch.backends.mps.is_available() (Apple silicon, macOS 12.3+, an MPS build)."""
    import torch

    if torch.backends.mps.is_available():
        return None
    why = "this torch build has no MPS support" if not torch.backends.mps.is_built() else "no MPS device is available (it needs Apple silicon and macOS 12.3+)"
    message = f"{flag} mps was requested, but {why} (torch {torch.__version__})."
    if on_missing == "skip":
        return f"{message} Skipped as asked by --perf-on-missing-device=skip."
    return f"{message} Run with {flag} cpu (or cuda on an NVIDIA machine), or pass --perf-on-missing-device=skip to record every case as skipped."


def benchmark_overrides(config: pytest.Config) -> tuple[str, ...]:
    """pytest-benchmark's timing options as perfsuite overrides (or a usage error naming the perfsuite option)."""
    from perfsuite.benchmark_options import BenchmarkOptionError, given_options, translate

    try:
        return translate(vars(config.option), given_options(command_line(config)))
    except BenchmarkOptionError as exc:
        raise pytest.UsageError(str(exc)) from None
