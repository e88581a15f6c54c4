"""perfsuite's pytest plugin: options, config composition at configure time, the run folder.

Loaded in every pytest run of the user's (pytest11 entry point), so importing it is cheap: torch,
transformers and Hydra are imported only once a benchmark session is active. A session is active
when the run targets a benchmark folder (ini `perf_benches`, default `benches`) or any perfsuite
option is given.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perfsuite.errors import PerfError

PERF_SESSION = pytest.StashKey["Any"]()
PERF_OPTIONS = pytest.StashKey["PerfOptions"]()
DEVICE_ALIAS = pytest.StashKey[bool]()  # True when perfsuite owns --device
CASE_RECORD = pytest.StashKey["Any"]()  # the CaseRecord a benchmark test filled in
CASE_PARAM = "perf_case"


class PerfStageWarning(UserWarning):
    """A configured pipeline stage has no benchmark in this run."""


def _fixtures_package() -> str:
    """The importable name of perfsuite's fixtures: `perfsuite._fixtures`.

    pyproject maps the top-level fixtures/ folder (the one copy in git) to that package, so a wheel
    and an editable install have it. A checkout used through PYTHONPATH (or an editable install
    made before that mapping) does not: there the checkout's fixtures/ is loaded under the same
    name, so the fixtures are registered once, as the same modules, however perfsuite got here.
    """
    name = "perfsuite._fixtures"
    if name in sys.modules or importlib.util.find_spec(name) is not None:
        return name
    init = Path(__file__).resolve().parents[1] / "fixtures" / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    if spec is None or spec.loader is None or not init.is_file():
        raise ImportError(f"perfsuite's fixtures are missing: neither {name} nor {init} can be imported; reinstall perfsuite")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return name


# Registered with the plugin (pytest imports a plugin's `pytest_plugins`), so benchmarks anywhere
# get perf_case, built_model, runtime, batch, ... without a conftest of their own. Fixtures of a
# plugin rank below any conftest's, so a project's own `device` or `model` fixture still wins.
pytest_plugins = [f"{_fixtures_package()}.{m}" for m in ("case", "device", "model", "dataset", "runtime", "batch")]



def _device_arg(text: str) -> str:
    from perfsuite.config.validate import check_device

    try:
        return check_device(text)
    except PerfError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _override_arg(text: str) -> str:
    if "=" not in text and not text.startswith("~"):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. infer.batch_sizes=[1,4]), got {text!r}")
    return text


_DEVICE_HELP = "device to benchmark on: cpu, cuda or cuda:N. Default: cpu."


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfsuite", "perfsuite: ML inference benchmarks")
    # --perf-device always exists; --device is added as its alias once every plugin and initial
    # conftest has had its say, and only if no one else owns it (see pytest_load_initial_conftests).
    group.addoption("--perf-device", dest="perf_device", type=_device_arg, default=None, metavar="DEVICE", help=_DEVICE_HELP)
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
    group.addoption("--perf-out-dir", default=None, metavar="DIR", help="where run folders go. Default: ini perf_out_dir, else <rootdir>/out.")
    group.addoption("--perf-models-dir", default=None, metavar="DIR", help="local model snapshots for model=<name>. Default: <rootdir>/models.")
    group.addoption(
        "--perf-on-missing-device",
        choices=("error", "skip"),
        default=None,
        help="when the device asked for is missing on this machine: stop with a usage error, or skip every case with the reason. Default: error.",
    )
    parser.addini("perf_out_dir", "where run folders go (relative to rootdir)", default="out")
    parser.addini("perf_benches", "folders holding perfsuite benchmarks (relative to rootdir)", type="linelist", default=["benches"])


def _option_names(parser: pytest.Parser) -> set[str]:
    # pytest has no public listing of the options added so far; its OptionGroup.addoption only
    # checks its own group (and, from pytest 9, the dest), so look across all groups here.
    groups = [getattr(parser, "_anonymous", None), *getattr(parser, "_groups", [])]
    return {name for group in groups if group is not None for opt in group.options for name in opt.names()}


def add_device_alias(parser: pytest.Parser) -> bool:
    """Add `--device` as an alias of --perf-device if no plugin or conftest owns it; True if added."""
    if "--device" in _option_names(parser):
        return False
    try:
        parser.getgroup("perfsuite").addoption(
            "--device", dest="perf_device", type=_device_arg, default=None, metavar="DEVICE", help=f"alias of --perf-device. {_DEVICE_HELP}"
        )
    except ValueError:  # taken after all (a check we could not see): leave it to its owner
        return False
    return True


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    # Plugins (-p, entry points) have added their options before this hook, and the rootdir/initial
    # conftests add theirs inside it; adding --device only afterwards means a conftest that defines
    # --device itself never dies with "option names {'--device'} already added".
    try:
        return (yield)
    finally:
        early_config.stash[DEVICE_ALIAS] = add_device_alias(parser)



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
    explicit: bool  # any perfsuite option given on the command line

    @classmethod
    def from_config(cls, config: pytest.Config) -> PerfOptions:
        opt = config.option
        root = config.rootpath
        given = (opt.perf_device, opt.perf_suite, opt.perf_override, opt.perf_conf_dir, opt.perf_out_dir, opt.perf_models_dir, opt.perf_on_missing_device)
        # A path typed on the command line is relative to where pytest runs; the ini value to the rootdir.
        out = config.invocation_params.dir / opt.perf_out_dir if opt.perf_out_dir else root / config.getini("perf_out_dir")
        return cls(
            device=opt.perf_device or "cpu",
            device_flag="--device" if config.stash.get(DEVICE_ALIAS, False) else "--perf-device",
            suite=opt.perf_suite,
            overrides=tuple(opt.perf_override),
            conf_dirs=tuple(opt.perf_conf_dir),
            out_dir=out,
            models_dir=Path(opt.perf_models_dir).resolve() if opt.perf_models_dir else root / "models",
            on_missing_device=opt.perf_on_missing_device or "error",
            explicit=any(v is not None and v != [] for v in given),
        )


def _targets_benches(config: pytest.Config) -> bool:
    benches = [(config.rootpath / b).resolve() for b in config.getini("perf_benches")]
    benches = [b for b in benches if b.is_dir()]
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        for b in benches:
            if path == b or b in path.parents or path in b.parents:
                return True
    return False


def _check_suite_name(name: str | None, conf_dirs: tuple[str, ...]) -> None:
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


def _check_device(device: str, *, flag: str = "--device", on_missing: str = "error") -> str | None:
    """None if usable, else why not (and, for a usage error, what to do instead)."""
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


def _benchmark_overrides(config: pytest.Config) -> tuple[str, ...]:
    """pytest-benchmark's timing options as perfsuite overrides (or a usage error naming the perfsuite option)."""
    from perfsuite.benchmark_options import BenchmarkOptionError, given_options, translate

    args = [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *config.getini("addopts"), *map(str, config.invocation_params.args)]
    try:
        return translate(vars(config.option), given_options(args))
    except BenchmarkOptionError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "perf_stage(name): the pipeline stage a benchmark belongs to (see conf/pipeline/).")
    config.addinivalue_line("markers", "perf_generation: parametrize only with cases whose model can generate (max_new_tokens > 0).")
    options = PerfOptions.from_config(config)
    config.stash[PERF_OPTIONS] = options
    if not (options.explicit or _targets_benches(config)):
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("perfsuite measures one case at a time and cannot run under pytest-xdist; drop -n/--numprocesses.")
    _check_suite_name(options.suite, options.conf_dirs)
    # Before the user's --perf-override values (an explicit override of the same key wins), after the suite's.
    overrides = _benchmark_overrides(config) + options.overrides
    from perfsuite.config import build_plan
    from perfsuite.pinning import apply_hardware
    from perfsuite.results.layout import OutLayout
    from perfsuite.results.lock import RunLock
    from perfsuite.results.records import ResultsWriter
    from perfsuite.session import PerfSession

    missing = _check_device(options.device, flag=options.device_flag, on_missing=options.on_missing_device)
    if missing and options.on_missing_device == "error":
        raise pytest.UsageError(missing)
    try:
        plan = build_plan(
            device=options.device,
            suite=options.suite,
            overrides=overrides,
            conf_dirs=options.conf_dirs,
            models_dir=options.models_dir,
            project_root=config.rootpath,
        )
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None
    threads = apply_hardware(plan.cases[0].config.hardware) if not missing else {}
    layout = OutLayout(options.out_dir)
    # One benchmark session per out/ at a time: two would share cores (and skew each other), and
    # `perfsuite migrate-out` must not reshuffle a folder that is being written.
    lock = RunLock(layout)
    try:
        lock.acquire()
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.add_cleanup(lock.release)
    run_dir = layout.new_run_dir(f"{plan.suite.name}-{plan.device}")
    session = PerfSession(plan=plan, run_dir=run_dir, threads=threads, skip_reason=missing)
    session.results = ResultsWriter(
        run_dir / "results.json",
        {"suite": plan.suite.name, "device": plan.device, "run_dir": str(run_dir), "started": run_dir.name.split("_")[0]},
    )
    session.results.flush()
    _write_run_header(session, config)
    if getattr(config.option, "benchmark_json", "") is None:
        config.option.benchmark_json = run_dir / "benchmark.json"  # pytest-benchmark >= 5.3 takes a path
    config.stash[PERF_SESSION] = session


def _write_run_header(session: Any, config: pytest.Config) -> None:
    import yaml

    from perfsuite.results.env import fingerprint
    from perfsuite.results.layout import atomic_write_text

    plan = session.plan
    run_config = {
        "suite": plan.suite.name,
        "device": plan.device,
        "overrides": list(plan.overrides),
        "conf_dirs": list(plan.conf_dirs),
        "invocation": list(config.invocation_params.args),
        "cases": [c.id for c in plan.cases],
        "excluded": [{"model": e.model, "dataset": e.dataset, "reason": e.reason} for e in plan.exclusions],
        "composed": plan.raw_configs,
    }
    atomic_write_text(session.run_dir / "run_config.yaml", yaml.safe_dump(run_config, sort_keys=False))
    env = fingerprint(config.rootpath)
    env["threads"] = session.threads or env["threads"]
    env["determinism"] = {"seed": plan.cases[0].config.seed, **{k: v for k, v in (session.threads or {}).items() if "determin" in k or "cudnn" in k}}
    atomic_write_text(session.run_dir / "env.json", json.dumps(env, indent=2, sort_keys=True))


def perf_session(config: pytest.Config) -> Any:
    return config.stash.get(PERF_SESSION, None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CASE_PARAM not in metafunc.fixturenames:
        return
    session = perf_session(metafunc.config)
    if session is None:
        return  # the perf_case fixture explains why when a test asks for it
    cases = session.plan.cases
    if metafunc.definition.get_closest_marker("perf_generation"):
        # Only decoder models with an LM head and infer.max_new_tokens > 0 generate.
        cases = tuple(c for c in cases if c.model.generative and c.config.infer.max_new_tokens > 0)
    metafunc.parametrize(CASE_PARAM, cases, ids=[c.id for c in cases])


def _case_of(item: pytest.Item) -> Any:
    from perfsuite.config.schema import Case

    callspec = getattr(item, "callspec", None)
    case = callspec.params.get(CASE_PARAM) if callspec else None
    return case if isinstance(case, Case) else None  # an empty parameter set gives NOTSET


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    stages = set()
    for case in perf.plan.cases:
        stages.update(case.config.stages)
    keep, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("perf_stage")
        no_case = CASE_PARAM in getattr(item, "fixturenames", ()) and _case_of(item) is None
        if no_case or (marker and marker.args and marker.args[0] not in stages):
            # no_case: e.g. test_generation in a suite without decoder models (empty parameter set)
            deselected.append(item)
        else:
            keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    covered = {m.args[0] for it in keep if (m := it.get_closest_marker("perf_stage")) and m.args}
    for stage in sorted(stages - covered):
        # A stage the pipeline asks for but no collected benchmark implements must not pass silently.
        warnings.warn(PerfStageWarning(f"pipeline stage '{stage}' is selected but no collected benchmark runs it"))
    # Group by model so each model is built once and freed after its last test.
    order: dict[Any, int] = {}
    keys = [case.model_key if (case := _case_of(item)) is not None else None for item in keep]
    for key in keys:
        if key is not None:
            order.setdefault(key, len(order))
    ranked = sorted(range(len(keep)), key=lambda i: order.get(keys[i], -1))  # stable: keeps test order within a model
    items[:] = [keep[i] for i in ranked]


def pytest_collection_finish(session: pytest.Session) -> None:
    perf = perf_session(session.config)
    if perf is not None:
        perf.schedule([(item.nodeid, _case_of(item)) for item in session.items])


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    perf = perf_session(item.config)
    if perf is not None:
        perf.release_after(item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Write each case's outcome (and what the test measured) to results.json as soon as it is known."""
    report = yield
    perf = perf_session(item.config)
    case = _case_of(item)
    if perf is None or case is None:
        return report
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if report.when == "teardown" and report.failed:
        final = True
    if final:
        if report.skipped:
            outcome = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        elif report.failed:
            outcome = "error" if report.when != "call" else "failed"
            reason = call.excinfo.exconly().splitlines()[0] if call.excinfo else "failed"
        else:
            outcome, reason = "passed", None
        record = item.stash.get(CASE_RECORD, None)
        perf.record(getattr(item, "originalname", item.name), record, case, outcome, reason)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    perf = perf_session(session.config)
    if perf is None:
        return
    perf.results.header["sweeps"] = perf.sweeps()
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    perf.results.finish("interrupted" if interrupted else "complete")


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    perf = perf_session(config)
    if perf is None:
        return None
    plan = perf.plan
    lines = [
        f"perfsuite: suite {plan.suite.name}, device {plan.device}, {len(plan.cases)} cases, "
        f"{len(plan.exclusions)} incompatible model/dataset pairs left out",
        f"perfsuite: threads {perf.threads}",
    ]
    if not config.option.collectonly:  # --collect-only measures nothing and keeps no run folder
        lines.append(f"perfsuite: run folder {perf.run_dir}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    from perfsuite.report.terminal import summary_lines

    terminalreporter.write_sep("-", "perfsuite")
    results = list(perf.results.cases.values())
    for line in summary_lines(results, perf.results.header.get("sweeps", [])):
        terminalreporter.write_line(line)
    skipped = [e for e in perf.plan.exclusions]
    if skipped:
        terminalreporter.write_line(
            f"left out by the matrix ({len(skipped)}): " + ", ".join(f"{e.model} x {e.dataset}" for e in skipped)
        )
    terminalreporter.write_line(f"run folder: {perf.run_dir}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    perf.close()
    if config.option.collectonly and not perf.results.cases:
        shutil.rmtree(perf.run_dir, ignore_errors=True)  # --collect-only measured nothing: leave no run folder
        return
    # A user-chosen --benchmark-json is honoured; the run folder still gets its copy.
    target = perf.run_dir / "benchmark.json"
    chosen = getattr(config.option, "benchmark_json", None)
    if chosen is not None and not isinstance(chosen, (str, os.PathLike)):
        chosen = getattr(chosen, "name", None)  # an open file, should a pytest-benchmark < 5.3 slip in
    chosen = Path(chosen) if chosen else None
    if chosen is not None and chosen.resolve() != target.resolve() and chosen.is_file():
        shutil.copyfile(chosen, target)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Make the saved JSON self-describing: the case id instead of an unserializable object."""
    perf = perf_session(config)
    if perf is None:
        return
    for bench in output_json.get("benchmarks", []):
        params = bench.get("params") or {}
        if CASE_PARAM in params:
            params[CASE_PARAM] = (bench.get("extra_info") or {}).get("case", {}).get("id", bench.get("param"))
    output_json["perfsuite"] = {
        "run_dir": str(perf.run_dir),
        "suite": perf.plan.suite.name,
        "device": perf.plan.device,
        "overrides": list(perf.plan.overrides),
    }
