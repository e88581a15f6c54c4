"""perfsuite's pytest plugin: options, config composition at configure time, the run folder.

Loaded in every pytest run of the user's (pytest11 entry point), so importing it is cheap: torch,
transformers and Hydra are imported only once a benchmark session is active. A session is active
when the run targets a benchmark folder (ini `perf_benches`, default `benches`) or any perfsuite
option is given.
"""

from __future__ import annotations

import argparse
import json
import warnings
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perfsuite.errors import PerfError

PERF_SESSION = pytest.StashKey["Any"]()
PERF_OPTIONS = pytest.StashKey["PerfOptions"]()
CASE_RECORD = pytest.StashKey["Any"]()  # the CaseRecord a benchmark test filled in
CASE_PARAM = "perf_case"


class PerfStageWarning(UserWarning):
    """A configured pipeline stage has no benchmark in this run."""



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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfsuite", "perfsuite: ML inference benchmarks")
    group.addoption(
        "--device",
        type=_device_arg,
        default=None,
        metavar="DEVICE",
        help="device to benchmark on: cpu, cuda or cuda:N. Default: cpu.",
    )
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
        default="error",
        help="when --device names a device this machine lacks: stop with a usage error, or skip every case with the reason. Default: error.",
    )
    parser.addini("perf_out_dir", "where run folders go (relative to rootdir)", default="out")
    parser.addini("perf_benches", "folders holding perfsuite benchmarks (relative to rootdir)", type="linelist", default=["benches"])


@dataclass(frozen=True)
class PerfOptions:
    device: str
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
        explicit = bool(opt.device or opt.perf_suite or opt.perf_override or opt.perf_conf_dir)
        out = opt.perf_out_dir or config.getini("perf_out_dir")
        return cls(
            device=opt.device or "cpu",
            suite=opt.perf_suite,
            overrides=tuple(opt.perf_override),
            conf_dirs=tuple(opt.perf_conf_dir),
            out_dir=(root / out) if not Path(out).is_absolute() else Path(out),
            models_dir=Path(opt.perf_models_dir).resolve() if opt.perf_models_dir else root / "models",
            on_missing_device=opt.perf_on_missing_device,
            explicit=explicit,
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


def _check_device(device: str) -> str | None:
    """None if usable, else why not."""
    if not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device or driver is visible"
        return (
            f"--device {device} was requested, but {why} (torch {torch.__version__}). "
            "Run with --device cpu, install a CUDA build of torch (see README: 'Installing for CUDA'), "
            "or pass --perf-on-missing-device=skip to record every case as skipped."
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        return f"--device {device} was requested, but only {torch.cuda.device_count()} CUDA device(s) are visible."
    return None


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
    from perfsuite.config import build_plan
    from perfsuite.pinning import apply_hardware
    from perfsuite.results.layout import OutLayout
    from perfsuite.results.lock import RunLock
    from perfsuite.results.run import ResultsWriter
    from perfsuite.session import PerfSession

    missing = _check_device(options.device)
    if missing and options.on_missing_device == "error":
        raise pytest.UsageError(missing)
    try:
        plan = build_plan(
            device=options.device,
            suite=options.suite,
            overrides=options.overrides,
            conf_dirs=options.conf_dirs,
            models_dir=options.models_dir,
            project_root=config.rootpath,
        )
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None
    threads = apply_hardware(plan.run.hardware) if not missing else {}
    layout = OutLayout(options.out_dir)
    try:
        # One benchmark session per out/ at a time: two would share cores (and skew each other), and
        # `perfsuite migrate-out` must not reshuffle a folder that is being written.
        lock = RunLock(layout)
        lock.acquire()
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None
    except OSError as exc:
        raise pytest.UsageError(_unwritable(options.out_dir, exc)) from None
    config.add_cleanup(lock.release)
    try:
        run_dir = layout.new_run_dir(f"{plan.suite.name}-{plan.device}")
        session = PerfSession(plan=plan, run_dir=run_dir, threads=threads, skip_reason=missing)
        session.results = ResultsWriter(
            run_dir / "results.json", suite=plan.suite.name, device=plan.device, started=run_dir.name.split("_")[0]
        )
        # Everything a run writes is checked before the first case: a folder that cannot be
        # written is a usage error now, not a lost measurement later.
        _write_run_header(session, config)
        if not session.results.flush():
            raise OSError(session.results.write_error)
    except OSError as exc:
        raise pytest.UsageError(_unwritable(options.out_dir, exc)) from None
    if getattr(config.option, "benchmark_json", "") is None:
        config.option.benchmark_json = str(run_dir / "benchmark.json")
    config.stash[PERF_SESSION] = session
    _sigterm_interrupts(config)
    from perfsuite.report.progress import ProgressReporter

    config.pluginmanager.register(ProgressReporter(config), "perfsuite-progress")


def _unwritable(out_dir: Path, exc: OSError) -> str:
    what = exc.strerror or str(exc)
    where = exc.filename or out_dir
    return (
        f"perfsuite cannot write its run folder under {out_dir} ({where}: {what}). "
        "Pass --perf-out-dir DIR (or set the ini key perf_out_dir) to a writable folder."
    )


def _sigterm_interrupts(config: pytest.Config) -> None:
    """Treat SIGTERM (a CI time limit, `kill`) like Ctrl-C: finished cases and the final status land on disk.

    Only when nobody else handles SIGTERM, and only from the main thread (signal's own rule).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
        raise KeyboardInterrupt("SIGTERM received: stopping the benchmark session")

    signal.signal(signal.SIGTERM, interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))


def _write_run_header(session: Any, config: pytest.Config) -> None:
    import yaml

    from perfsuite.results.env import fingerprint, machine_id_of
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
    env["machine_id"] = machine_id_of(env)  # with the threads this run really uses
    env["determinism"] = {"seed": plan.run.seed, **{k: v for k, v in (session.threads or {}).items() if "determin" in k or "cudnn" in k}}
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
        draft = item.stash.get(CASE_RECORD, None)
        with perf.guard(f"recording the result of {item.nodeid}"):
            perf.record(getattr(item, "originalname", item.name), draft, case, outcome, reason)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    perf = perf_session(session.config)
    if perf is None:
        return
    sweeps = []
    with perf.guard("the batch-sweep analysis"):
        sweeps = perf.sweeps()
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        status = "interrupted"
    else:
        status = "error" if perf.problems else "finished"
    perf.results.finish(status, error="; ".join(perf.problems) or None, sweeps=sweeps)
    if perf.results.write_error and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # results that could not be saved fail the run


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    perf = perf_session(config)
    if perf is None:
        return None
    plan = perf.plan
    lines = [
        f"perfsuite: suite {plan.suite.name}, device {plan.device}, {len(plan.cases)} cases, "
        f"{len(plan.exclusions)} incompatible model/dataset pairs left out",
        f"perfsuite: threads {perf.threads}",
        f"perfsuite: run folder {perf.run_dir}",
    ]
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    terminalreporter.write_sep("-", "perfsuite")
    with perf.guard("the summary table"):
        from perfsuite.report.terminal import summary_lines

        run = perf.results.snapshot()
        for line in summary_lines(run.cases, run.sweeps):
            terminalreporter.write_line(line)
    skipped = [e for e in perf.plan.exclusions]
    if skipped:
        terminalreporter.write_line(
            f"left out by the matrix ({len(skipped)}): " + ", ".join(f"{e.model} x {e.dataset}" for e in skipped)
        )
    if perf.results.write_error:
        saved = perf.save_elsewhere()
        terminalreporter.write_line(
            f"perfsuite error: {perf.results.write_error}. The {len(perf.results.cases)} case results of this run "
            "were kept in memory and are in the table above"
            + (f"; a copy was saved to {saved}" if saved else "")
            + ". Free space or fix the permissions of the run folder, then re-run.",
            red=True,
            bold=True,
        )
    for problem in perf.problems:
        terminalreporter.write_line(
            f"perfsuite internal error: {problem}. pytest's outcomes above are unaffected and every finished case "
            f"is in results.json; the traceback is in {perf.run_dir / 'perfsuite-error.log'}. Please report it.",
            red=True,
            bold=True,
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
    if chosen and Path(chosen).resolve() != target.resolve() and Path(chosen).is_file():
        shutil.copyfile(chosen, target)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Make the saved JSON self-describing: the case id instead of an unserializable object."""
    perf = perf_session(config)
    if perf is None:
        return
    for bench in output_json.get("benchmarks", []):
        params = bench.get("params")
        if isinstance(params, dict) and CASE_PARAM in params:
            params[CASE_PARAM] = bench.get("param")  # the case id: the test id pytest gave the parameter
    output_json["perfsuite"] = {
        "run_dir": str(perf.run_dir),
        "suite": perf.plan.suite.name,
        "device": perf.plan.device,
        "overrides": list(perf.plan.overrides),
    }
