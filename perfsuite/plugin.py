"""perfsuite's pytest plugin: options (perfsuite.options), config composition at configure time, the run folder.

Loaded in every pytest run of the user's (pytest11 entry point), so importing it is cheap: torch,
transformers and Hydra are imported only once a benchmark session is active. A session is active
when the run targets a benchmark folder the project names (ini `perf_benches`) or any perfsuite
option is given.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from perfsuite.errors import PerfError
from perfsuite.options import (
    DEVICE_ALIAS,
    PerfOptions,
    add_device_alias,
    add_options,
    benchmark_overrides,
    check_device,
    check_suite_name,
    targets_benches,
)

PERF_SESSION = pytest.StashKey["Any"]()
PERF_OPTIONS = pytest.StashKey["PerfOptions"]()
CASE_RECORD = pytest.StashKey["Any"]()  # the CaseRecord a benchmark test filled in
WORKER_KEY = pytest.StashKey[bool]()  # this process is an xdist worker of a perfsuite controller
CONFIRM_IDS = pytest.StashKey["frozenset[str] | None"]()  # a gate's confirmation run: the node ids it re-measures
CASE_PARAM = "perf_case"
OWN_CASE = pytest.StashKey["Any"]()  # the case of a test that measures its own code (`perf` without perf_case)
PERF_FIXTURE = "perf"
GATE_PLUGIN = "perfsuite-gate"  # perfsuite.gate_plugin.GATE_PLUGIN, without importing it here


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
pytest_plugins = [f"{_fixtures_package()}.{m}" for m in ("case", "device", "model", "dataset", "runtime", "batch", "perf")]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from perfsuite import hookspec

    pluginmanager.add_hookspecs(hookspec)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    # Plugins (-p, entry points) have added their options before this hook, and the rootdir/initial
    # conftests add theirs inside it; adding --device only afterwards means a conftest that defines
    # --device itself never dies with "option names {'--device'} already added".
    try:
        return (yield)
    finally:
        early_config.stash[DEVICE_ALIAS] = add_device_alias(parser)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` in a perfsuite run: a worker per CPU core this process may use, or per visible GPU."""
    from perfsuite.xdist_plugin import auto_worker_count

    return auto_worker_count(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "perf_stage(name): the pipeline stage a benchmark belongs to (see conf/pipeline/).")
    config.addinivalue_line("markers", "perf_generation: parametrize only with cases whose model can generate (max_new_tokens > 0).")
    config.addinivalue_line("markers", "perf_scenario: parametrize only when a load scenario is selected (scenario=NAME), with its cases.")
    from perfsuite.confirm import confirm_nodeids, quiet_child_options

    try:
        confirming = confirm_nodeids()
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[CONFIRM_IDS] = confirming
    if confirming is not None:  # before anyone reads them: a confirmation run writes only its run folder
        quiet_child_options(config)
    options = PerfOptions.from_config(config)
    config.stash[PERF_OPTIONS] = options
    if not (options.explicit or targets_benches(config)):
        return
    check_suite_name(options.suite, options.conf_dirs)
    # Before the user's --perf-override values (an explicit override of the same key wins), after the suite's.
    overrides = benchmark_overrides(config) + options.overrides
    from perfsuite.config import build_plan
    from perfsuite.pinning import apply_hardware
    from perfsuite.results.layout import OutLayout
    from perfsuite.results.lock import RunLock
    from perfsuite.results.run import ResultsWriter
    from perfsuite.session import PerfSession

    missing = check_device(options.device, flag=options.device_flag, on_missing=options.on_missing_device)
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
    from perfsuite.xdist_plugin import start_worker, worker_setup, worker_slots, workers_threads, xdist_controller

    worker = worker_setup(config)
    controller = xdist_controller(config)
    if worker is not None:
        start_worker(config, options, plan, worker, missing)
        return
    slots = worker_slots(config, options, plan, missing) if controller else ()
    # An xdist controller measures nothing: it pins no core and claims none, its workers do. It
    # records the threads each worker will run with, so env.json's machine id (and the baseline the
    # gate looks up by it) is the one a one-process run with the same settings has.
    if controller:
        threads = workers_threads(plan.run.hardware, slots)
    else:
        threads = apply_hardware(plan.run.hardware) if not missing else {}
    _check_benchmark_json(config)  # before the run folder: a usage error leaves none behind
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
    session.on_result = lambda result: config.hook.pytest_perf_case_result(config=config, result=result)
    _sigterm_interrupts(config)
    from perfsuite.gate_plugin import register as register_gate
    from perfsuite.report.html_plugin import register as register_html
    from perfsuite.report.progress import ProgressReporter

    if confirming is not None:  # the parent gates, reports and exports: this run only measures
        config.pluginmanager.register(ProgressReporter(config), "perfsuite-progress")
        return
    # After the run folder exists (the gate reads env.json's machine id); a missing or corrupt
    # baseline is a usage error here, before the first case.
    try:
        register_gate(config, session, options.out_dir, options.conf_dirs)
    except pytest.UsageError:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing was measured: leave no run folder behind
        raise
    # After the gate: of two trylast hooks the later-registered runs last, so the report's line ends the summary.
    # Before the HTML report: of two trylast wrappers of pytest_sessionfinish the earlier-registered
    # is the outer one, so the export runs after report.html is written, and includes it.
    from perfsuite.tracking.plugin import register as register_tracking

    register_tracking(config, session, options.out_dir)
    register_html(config, session)
    from perfsuite.history_plugin import register as register_history

    register_history(config, session, options.out_dir)
    if controller:
        from perfsuite.xdist_plugin import CONTROLLER_PLUGIN, XdistController

        config.pluginmanager.register(XdistController(session, slots), CONTROLLER_PLUGIN)
    else:  # under xdist, its own progress lines say which case runs where
        config.pluginmanager.register(ProgressReporter(config), "perfsuite-progress")


def is_worker_session(config: pytest.Config) -> bool:
    return config.stash.get(WORKER_KEY, False)


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
        # Where those arguments were given, so that a later gate can replay them in a worktree of
        # this run's commit (perfsuite.beside): relative to the rootdir when inside it.
        "invocation_dir": _relative_to(Path(config.invocation_params.dir), config.rootpath),
        "rootdir": str(config.rootpath),
        "cases": [c.id for c in plan.cases],
        "shard": "{}/{}".format(*opts.shard) if (opts := config.stash.get(PERF_OPTIONS, None)) is not None and opts.shard else None,
        "excluded": [{"model": e.model, "dataset": e.dataset, "runtime": e.runtime, "reason": e.reason} for e in plan.exclusions],
        "composed": plan.raw_configs,
    }
    from perfsuite.config.redact import redacted

    # no password of a URL given on the command line or in the config (--perf-history, a tracking URI) is kept
    atomic_write_text(session.run_dir / "run_config.yaml", yaml.safe_dump(redacted(run_config), sort_keys=False))
    env = fingerprint(config.rootpath)
    env["threads"] = session.threads or env["threads"]
    env["machine_id"] = machine_id_of(env)  # with the threads this run really uses
    env["determinism"] = {"seed": plan.run.seed, **{k: v for k, v in (session.threads or {}).items() if "determin" in k or "cudnn" in k}}
    own = dict(env)
    config.hook.pytest_perf_env(config=config, env=env)  # plugins add keys; perfsuite's own keep their values
    env.update(own)
    try:
        text = json.dumps(env, indent=2, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"a pytest_perf_env hook added a value env.json cannot hold ({exc}): add JSON values only") from None
    atomic_write_text(session.run_dir / "env.json", text)
    # kept, so that a run folder deleted mid-run is made again whole (ResultsWriter.flush), not under another machine id
    session.results.keep = {name: (session.run_dir / name).read_text(encoding="utf-8") for name in ("env.json", "run_config.yaml")}


def _relative_to(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


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
        # Only decoder models with an LM head and tokens to decode generate, under a runtime that runs
        # generate() itself (RuntimeSpec.generates: eager, precision as a cast); infer.output_lens makes
        # one generation case per output length.
        cases = tuple(g for c in cases if c.generates for g in c.with_output_lens())
    if metafunc.definition.get_closest_marker("perf_scenario"):
        from perfsuite.scenarios.case import scenario_cases

        cases = scenario_cases(cases)  # none without scenario=NAME: the test is deselected, every other id unchanged
    metafunc.parametrize(CASE_PARAM, cases, ids=[c.id for c in cases])


def _case_of(item: pytest.Item) -> Any:
    from perfsuite.config.schema import Case

    callspec = getattr(item, "callspec", None)
    case = callspec.params.get(CASE_PARAM) if callspec else None
    if case is None and CASE_PARAM not in getattr(item, "fixturenames", ()):
        return item.stash.get(OWN_CASE, None)  # a test measuring its own code is its own case
    return case if isinstance(case, Case) else None  # an empty parameter set gives NOTSET


def _own_cases(perf: Any, items: list[pytest.Item]) -> None:
    """Give each test that uses `perf` without a suite case (`perf_case`) a case of its own."""
    from perfsuite.config.own import own_case

    base = perf.plan.cases[0].config
    for item in items:
        names = getattr(item, "fixturenames", ())
        if PERF_FIXTURE in names and CASE_PARAM not in names:
            callspec = getattr(item, "callspec", None)
            test = getattr(item, "originalname", item.name)
            item.stash[OWN_CASE] = own_case(base, test=test, params=callspec.id if callspec else None, device=perf.plan.device)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    stages = set(perf.plan.run.stages)
    _own_cases(perf, items)
    keep, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("perf_stage")
        no_case = CASE_PARAM in getattr(item, "fixturenames", ()) and _case_of(item) is None
        if no_case or (marker and marker.args and marker.args[0] not in stages):
            # no_case: e.g. test_generation in a suite without decoder models (empty parameter set)
            deselected.append(item)
        else:
            keep.append(item)
    confirming = config.stash.get(CONFIRM_IDS, None)
    if confirming is not None:  # a confirmation run: only the suspects the gate asked for
        keep, dropped = [it for it in keep if it.nodeid in confirming], [it for it in keep if it.nodeid not in confirming]
        deselected.extend(dropped)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    options = config.stash.get(PERF_OPTIONS, None)
    if options is not None and options.shard is not None:
        keep = _shard(config, perf, options, keep)
    covered = {m.args[0] for it in keep if (m := it.get_closest_marker("perf_stage")) and m.args}
    if any(_case_of(it) is not None and not it.get_closest_marker("perf_stage") for it in keep):
        covered.add("direct_inference")  # a user's benchmark without a perf_stage marker is a direct-inference one
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


def _shard(config: pytest.Config, perf: Any, options: PerfOptions, items: list[pytest.Item]) -> list[pytest.Item]:
    """--perf-shard K/N: this shard's share of `items` (balanced by history); the rest deselected."""
    from perfsuite.history_plugin import history_target
    from perfsuite.results.history import HistoryError, HistoryStore
    from perfsuite.shard import select

    def key(item: pytest.Item) -> str:
        case = _case_of(item)
        return f"{getattr(item, 'originalname', item.name)}::{case.id}" if case is not None else item.nodeid

    costs: dict[str, float] = {}
    target = history_target(config, options.out_dir)
    if target is not None:
        try:
            store = HistoryStore(target)
            if store.exists():
                from perfsuite.results.env import git_info

                head = git_info(config.rootpath)["commit"]
                costs = {f"{test}::{case}": cost for (test, case), cost in store.costs(before_commit=head).items()}
        except HistoryError as exc:
            warnings.warn(f"perfsuite: --perf-shard splits by count, the history is unreadable: {exc}")
    mine = select([key(it) for it in items], costs, options.shard)
    perf.shard_basis = "wall time in the history" if costs else "count (no history)"
    kept = [it for it in items if key(it) in mine]
    dropped = [it for it in items if key(it) not in mine]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    return kept


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
            result = perf.record(getattr(item, "originalname", item.name), draft, case, outcome, reason, item.nodeid)
            if is_worker_session(item.config):
                from perfsuite.xdist_plugin import attach_result

                attach_result(report, result)
            gate = item.config.pluginmanager.get_plugin(GATE_PLUGIN)
            if gate is not None and gate.baseline is not None:
                # JUnit XML (--junitxml) takes the properties of the teardown report, made after this.
                item.user_properties.extend(gate.properties(result))
    return report


def _check_benchmark_json(config: pytest.Config) -> None:
    """--benchmark-json PATH that cannot be written is a usage error now, not a traceback after every case has run."""
    chosen = getattr(config.option, "benchmark_json", None)
    name = chosen if isinstance(chosen, (str, os.PathLike)) else getattr(chosen, "name", None)
    if not name:
        return
    path = config.invocation_params.dir / Path(name)
    why = ("it is a folder" if path.is_dir() else f"its folder {path.parent} does not exist" if not path.parent.is_dir()
           else f"its folder {path.parent} is not writable" if not os.access(path.parent, os.W_OK) else "")
    if why:
        raise pytest.UsageError(f"--benchmark-json {chosen}: cannot write there: {why}")


def pytest_sessionstart(session: pytest.Session) -> None:
    """pytest-benchmark writes --benchmark-json before any sessionfinish hook runs, and a failure there (a full disk)
    would end the session with a traceback, the run left `running` and no report: the failure becomes the run's error."""
    perf = perf_session(session.config)
    bench = getattr(session.config, "_benchmarksession", None)
    if perf is None or bench is None or not hasattr(bench, "handle_saving"):
        return
    saving = bench.handle_saving

    def guarded() -> None:
        try:
            saving()
        except OSError as exc:
            target = getattr(bench, "json", None)
            perf.output_errors.append(f"pytest-benchmark could not write {target or 'its files'}: {exc.strerror or exc} (the run's own "
                                      "files are complete; free space or choose another --benchmark-json path)")
            if isinstance(target, (str, os.PathLike)) and Path(target).is_file():
                Path(target).unlink()  # no half-written JSON left behind (a regular file only: never a device such as /dev/full)

    bench.handle_saving = guarded


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    perf = perf_session(session.config)
    if perf is None:
        return
    if is_worker_session(session.config):
        # The controller keeps the run: its results.json, tables, report and history.
        perf.results.finish("interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else "finished")
        return
    controller = session.config.pluginmanager.get_plugin("perfsuite-xdist-controller")
    if controller is not None:
        controller.finish(session.config)
    sweeps = []
    with perf.guard("the batch-sweep analysis"):
        sweeps = perf.sweeps()
    if perf.results.lost and perf.results.lost not in perf.output_errors:
        perf.output_errors.append(perf.results.lost)
    failures = [*perf.output_errors, *perf.problems]
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        status = "interrupted"
    else:
        status = "error" if failures else "finished"
    perf.results.finish(status, error="; ".join(failures) or None, sweeps=sweeps)
    if not perf.results.write_error:  # a full disk is reported once, below, not again for each file
        with perf.guard("writing the run's tables and summary.md"):
            from perfsuite.report.artifacts import write_run_files

            write_run_files(perf.results.snapshot())
        if perf.problems and perf.results.status != "interrupted":
            perf.results.finish("error", error="; ".join([*perf.output_errors, *perf.problems]), sweeps=sweeps)
    if (perf.results.write_error or perf.output_errors) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # results (or an output asked for) that could not be saved fail the run


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    perf = perf_session(config)
    if perf is None:
        return None
    plan = perf.plan
    lines = [
        f"perfsuite: suite {plan.suite.name}, device {plan.device}, {len(plan.cases)} cases, "
        f"{len(plan.exclusions)} combinations left out (incompatible data, or a runtime this device cannot run)",
        f"perfsuite: threads {perf.threads}",
    ]
    controller = config.pluginmanager.get_plugin("perfsuite-xdist-controller")
    if controller is not None:
        lines[-1] = f"perfsuite: {len(controller.slots)} xdist workers, one device each: " + "; ".join(
            f"gw{s.index} cores {list(controller.pinned_cores(s, plan.run.hardware))}"
            + (f" CUDA_VISIBLE_DEVICES={s.cuda_visible}" if s.cuda_visible else "") for s in controller.slots
        )
    if not config.option.collectonly:  # --collect-only measures nothing and keeps no run folder
        lines.append(f"perfsuite: run folder {perf.run_dir}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    terminalreporter.write_sep("-", "perfsuite")
    run = perf.results.snapshot()
    with perf.guard("the summary table"):
        from perfsuite.report.terminal import write_summary

        gate = config.pluginmanager.get_plugin(GATE_PLUGIN)
        write_summary(terminalreporter, run.cases, run.sweeps, comparison=getattr(gate, "comparison", None))
    from perfsuite.config.own import OWN

    skipped = [e for e in perf.plan.exclusions]
    own_only = bool(run.cases) and all(r.case.model_family == OWN for r in run.cases)
    if skipped and not own_only:  # a run of tests that measure their own code ran no suite case: the matrix is not theirs
        pairs = [e.label for e in skipped if e.runtime is None]  # model x dataset: the modalities differ
        terminalreporter.write_line(f"left out by the matrix ({len(skipped)}):" + (" " + ", ".join(pairs) if pairs else ""))
        for e in skipped:
            if e.runtime is not None:  # a runtime that cannot run here: say why, it is not obvious
                terminalreporter.write_line(f"  {e.label}: {e.reason}")
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
    for failed in perf.output_errors:
        terminalreporter.write_line(f"perfsuite error: {failed}", red=True, bold=True)
    for problem in perf.problems:
        terminalreporter.write_line(
            f"perfsuite internal error: {problem}. pytest's outcomes above are unaffected and every finished case "
            f"is in results.json; the traceback is in {perf.run_dir / 'perfsuite-error.log'}. Please report it.",
            red=True,
            bold=True,
        )
    options = config.stash.get(PERF_OPTIONS, None)
    if options is not None and options.shard is not None:
        terminalreporter.write_line(f"shard {options.shard[0]}/{options.shard[1]}, balanced by {perf.shard_basis or 'count'}; "
                                    "combine the shards' run folders with: perfsuite merge RUN_DIR...")
    if not config.option.collectonly:  # --collect-only creates no run folder
        terminalreporter.write_line(f"run folder: {perf.run_dir}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    perf = perf_session(config)
    if perf is None:
        return
    perf.close()
    if is_worker_session(config):
        return  # the worker's benchmark.json stays in workers/<gw>/: the controller merged it
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
    from perfsuite.config.redact import redacted

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
        "overrides": redacted(list(perf.plan.overrides)),  # a URL's password given in an override is not kept
    }


MACHINE_ID_KEY = "perfsuite_machine_id"


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record perfsuite's machine id in pytest-benchmark's machine_info (its saved runs and JSON)."""
    perf = perf_session(config)
    if perf is None:
        return
    try:
        env = json.loads((perf.run_dir / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(env, dict) and env.get("machine_id"):
        machine_info[MACHINE_ID_KEY] = env["machine_id"]


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_compare_machine_info(config: pytest.Config, benchmarksession: Any, machine_info: dict[str, Any], compared_benchmark: dict[str, Any]) -> None:
    """--benchmark-compare against a run from another perfsuite machine id: say so plainly.

    pytest-benchmark's own check compares all of machine_info (and warns on any difference, even
    the host name); this one says whether the timings are comparable at all.
    """
    ours = machine_info.get(MACHINE_ID_KEY)
    stored = compared_benchmark.get("machine_info", {})
    theirs = stored.get(MACHINE_ID_KEY) if isinstance(stored, dict) else None
    if ours and theirs != ours:
        benchmarksession.logger.warning(
            f"perfsuite: the compared run was measured on machine id {theirs or 'unknown (not a perfsuite run)'}, this run on {ours}: "
            "its timings come from other hardware or software and are not comparable. perfsuite's own gate "
            "(--perf-compare NAME --perf-gate) refuses such a comparison unless forced."
        )
