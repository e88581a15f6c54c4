"""perfsuite under pytest-xdist: one worker per device, one merged run folder.

The controller (the process the user started) measures nothing. It builds the plan, owns the run
folder and its lock, gives every worker a device slot (perfsuite.workers) and records each case
as its report arrives, so results.json is complete after every case exactly as in a one-process
run. A worker measures with perfsuite's own clocks, writes into the controller's run folder
(traces, logs, its own `workers/<gw>/results.json` and `benchmark.json`), and sends each case's
typed result back on its test report.

pytest-benchmark switches its fixture off on xdist workers ("benchmarks cannot be performed
reliably in a parallelized environment"): true of its own timer with workers sharing cores, not
of perfsuite's, whose workers own disjoint cores or a GPU each. So on a perfsuite worker the
fixture is switched back on (BenchmarkSession.disabled, pytest-benchmark's only switch for it:
no option re-enables it under xdist), it receives perfsuite's samples as in a one-process run, and
the controller merges the workers' pytest-benchmark JSON files into the run's benchmark.json.

A worker that crashes mid-case: xdist reports the case as failed on the controller and starts a
replacement on the same device slot (the slot travels with the worker's spec, not its name); the
case is recorded as an error naming the worker, every case already finished is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from perfsuite.workers import CUDA_ENV, WorkerSlot, worker_index

RUN_DIR_KEY = "perfsuite_run_dir"
SLOT_KEY = "perfsuite_slot"
THREADS_KEY = "perfsuite_threads"
RESULT_ATTR = "perfsuite_result"  # a TestReport attribute: the case's result document, json-safe
CONTROLLER_PLUGIN = "perfsuite-xdist-controller"
WORKER_PLUGIN = "perfsuite-xdist-worker"
WORKERS_DIR = "workers"


def xdist_controller(config: pytest.Config) -> bool:
    """True in the process that distributes tests to xdist workers (-n N, or --tx/--dist)."""
    return not is_worker(config) and config.getoption("dist", "no") not in (None, "no") and config.pluginmanager.hasplugin("xdist")


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_setup(config: pytest.Config) -> tuple[Path, WorkerSlot] | None:
    """On a worker of a perfsuite controller: the controller's run folder and this worker's slot."""
    given = getattr(config, "workerinput", {})
    if RUN_DIR_KEY not in given:
        return None
    return Path(given[RUN_DIR_KEY]), WorkerSlot.from_dict(given[SLOT_KEY])


def worker_count(config: pytest.Config) -> int:
    """How many workers xdist will start: -n N (already an int, `auto` resolved) or the --tx specs."""
    try:
        from xdist.workermanage import parse_spec_config

        return len(parse_spec_config(config))
    except Exception:  # noqa: BLE001 - an xdist without this helper: -n is the count
        return int(getattr(config.option, "numprocesses", 0) or 0)


def case_of_nodeid(nodeid: str, cases: Any) -> Any:
    """The Case a test id was parametrized with, from the ids alone (the controller collects nothing).

    The parameter part is the case id, or the case id joined with other parameters by '-': the
    longest case id that is a whole '-'-separated piece of it wins.
    """
    name = nodeid.rsplit("::", 1)[-1]
    if "[" not in name or not name.endswith("]"):
        return None
    params = name[name.index("[") + 1 : -1]
    best = None
    for case in cases:
        cid = case.id
        if params == cid or params.startswith(cid + "-") or params.endswith("-" + cid) or f"-{cid}-" in params:
            if best is None or len(cid) > len(best.id):
                best = case
    return best


def test_name_of(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


@dataclass
class XdistController:
    """The controller's side: device slots out to the workers, results back into the one run folder."""

    session: Any  # perfsuite.session.PerfSession
    slots: tuple[WorkerSlot, ...]
    _by_spec: dict[int, WorkerSlot] = field(default_factory=dict)
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # gw -> slot + threads, for env.json
    crashed: list[str] = field(default_factory=list)

    @staticmethod
    def pinned_cores(slot: WorkerSlot, hw: Any) -> tuple[int, ...]:
        """The cores a worker pins to: the first `hardware.threads` of its slot."""
        return worker_hardware(hw, slot).cores or slot.cores

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config: pytest.Config, specs: Any) -> None:
        for k, spec in enumerate(specs):
            slot = self.slots[k]
            self._by_spec[id(spec)] = slot
            if slot.cuda_visible is not None:
                # Applied by execnet in the new process before it imports pytest (so before torch,
                # before CUDA): the only point early enough for CUDA to see just this GPU.
                spec.env[CUDA_ENV] = slot.cuda_visible

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        spec = node.gateway.spec
        slot = self._by_spec.get(id(spec)) or self.slots[worker_index(node.gateway.id) % len(self.slots)]
        node.workerinput[RUN_DIR_KEY] = str(self.session.run_dir)
        node.workerinput[SLOT_KEY] = slot.to_dict()
        self.workers.setdefault(node.gateway.id, {"slot": slot.to_dict()})

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", None) or {}
        info = self.workers.setdefault(node.gateway.id, {})
        if THREADS_KEY in out:
            info["threads"] = out[THREADS_KEY]
        if error is not None:
            info["crashed"] = str(error)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        perf = self.session
        doc = getattr(report, RESULT_ATTR, None)
        if doc is not None:
            with perf.guard(f"recording the result of {report.nodeid} from a worker"):
                from perfsuite.results.case import CaseResult
                from perfsuite.results.reading import Doc

                perf.add(CaseResult.from_doc(Doc.root(doc, f"the report of {report.nodeid}")), report.nodeid)
            return
        if report.when == "???":  # xdist's report for a test whose worker died while running it
            worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?")
            case = case_of_nodeid(report.nodeid, perf.plan.cases)
            self.crashed.append(report.nodeid)
            if case is None:
                return
            from perfsuite.results.case import unrecorded

            with perf.guard(f"recording the crash of {report.nodeid}"):
                reason = f"worker {worker} crashed while running this case; its other cases and every other worker's are kept"
                perf.add(unrecorded(case, test_name_of(report.nodeid), "error", reason))

    def finish(self, config: pytest.Config) -> None:
        """After the last worker is down: the merged benchmark.json and the workers in env.json."""
        perf = self.session
        with perf.guard("merging the workers' benchmark.json"):
            from perfsuite.results.merge import merge_benchmark_json, read_benchmark_json

            docs = [d for p in sorted((perf.run_dir / WORKERS_DIR).glob("*/benchmark.json")) if (d := read_benchmark_json(p)) is not None]
            if docs:
                merged = merge_benchmark_json(docs, run_dir=perf.run_dir)
                from perfsuite.results.layout import atomic_write_text

                text = json.dumps(merged, indent=4)
                atomic_write_text(perf.run_dir / "benchmark.json", text)
                chosen = getattr(config.option, "benchmark_json", None)
                if isinstance(chosen, (str, os.PathLike)) and Path(chosen).resolve() != (perf.run_dir / "benchmark.json").resolve():
                    atomic_write_text(Path(chosen), text)
        with perf.guard("recording the workers in env.json"):
            from perfsuite.results.env import machine_id_of
            from perfsuite.results.layout import atomic_write_text

            path = perf.run_dir / "env.json"
            env = json.loads(path.read_text(encoding="utf-8"))
            env["workers"] = {gw: self.workers[gw] for gw in sorted(self.workers)}
            threads = [w["threads"] for _, w in sorted(self.workers.items()) if isinstance(w.get("threads"), dict)]
            if threads:
                # The machine id covers the threads one case ran with: a worker's, not the idle controller's.
                cores = sorted({c for t in threads for c in (t.get("affinity") or [])})
                first = {k: v for k, v in threads[0].items() if k != "pinning"}  # each worker's pinning is under workers
                env["threads"] = {**first, "affinity": cores, "workers": len(self.workers)}
                env["machine_id"] = machine_id_of(env)
            atomic_write_text(path, json.dumps(env, indent=2, sort_keys=True))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        busy = [f"{gw}: cores {(w.get('threads') or {}).get('affinity') or w['slot']['cores']}"
                + (f", CUDA_VISIBLE_DEVICES={w['slot']['cuda_visible']}" if w["slot"].get("cuda_visible") else "")
                for gw, w in sorted(self.workers.items()) if "slot" in w]
        if busy:
            terminalreporter.write_line("perfsuite workers: " + "; ".join(busy))
        for nodeid in self.crashed:
            terminalreporter.write_line(f"perfsuite: a worker crashed while running {nodeid}; it is recorded as an error, the run's other cases are kept", red=True)


@dataclass
class XdistWorker:
    """A worker's side: pytest-benchmark's fixture on again, each result sent home on its report."""

    session: Any
    slot: WorkerSlot

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        bench = getattr(session.config, "_benchmarksession", None)
        if bench is not None and not session.config.getoption("benchmark_disable", False):
            bench.disabled = False
            bench.xdist_warning = False

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[THREADS_KEY] = json.loads(json.dumps(self.session.threads or {}, default=str))


def attach_result(report: pytest.TestReport, result: Any) -> None:
    """Put a case's result on its report; xdist carries the report (and so the result) to the controller."""
    from perfsuite.results.run import json_safe

    setattr(report, RESULT_ATTR, json_safe(result.to_dict()))


def check_cuda_untouched(slot: WorkerSlot) -> None:
    """On a CUDA worker: the GPU mask must be in place and CUDA not yet started, or the worker would share a GPU."""
    if slot.cuda_visible is None:
        return
    if os.environ.get(CUDA_ENV) != slot.cuda_visible:
        os.environ[CUDA_ENV] = slot.cuda_visible  # a worker started without execnet's env (rare --tx forms)
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise pytest.UsageError(
            f"perfsuite: CUDA was initialised in xdist worker gw{slot.index} before perfsuite could give it GPU "
            f"{slot.cuda_visible} alone (a conftest or plugin touched CUDA at import). Move that CUDA call into a fixture."
        )


def cuda_device_count() -> int:
    """GPUs torch sees in the controller (counting them does not create a CUDA context)."""
    import torch

    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def refused_benchmark_options(config: pytest.Config) -> list[str]:
    """pytest-benchmark's storage options that would act per worker under xdist."""
    given = {
        "--benchmark-save": config.getoption("benchmark_save", None),
        "--benchmark-autosave": config.getoption("benchmark_autosave", None),
        "--benchmark-compare": config.getoption("benchmark_compare", None),
        "--benchmark-compare-fail": config.getoption("benchmark_compare_fail", None),
    }
    return [flag for flag, value in given.items() if value]


# -- command-line time: what `-n auto` means for a perfsuite run ------------------------------------

AUTO_ENV = "PYTEST_XDIST_AUTO_NUM_WORKERS"  # xdist's own override of `-n auto`: left to xdist


def auto_worker_count(config: pytest.Config) -> int | None:
    """`-n auto` (or `logical`) for a perfsuite run: one worker per device slot it may use, else None.

    xdist's own count is the machine's physical cores, which is more than a container or a
    `taskset` lets this process use, and says nothing about GPUs; perfsuite gives each worker a
    core set (or a GPU) of its own, so it counts the CPU cores in this process's affinity, or the
    visible CUDA devices. None (xdist decides) when perfsuite is off, for a single device such as
    mps, or when $PYTEST_XDIST_AUTO_NUM_WORKERS says how many.
    """
    from perfsuite.options import PerfOptions, targets_benches
    from perfsuite.workers import allowed_cores, visible_cuda_devices

    if os.environ.get(AUTO_ENV):
        return None
    options = PerfOptions.from_config(config)
    if not (options.explicit or targets_benches(config)):
        return None
    if options.device == "cpu":
        return max(1, len(allowed_cores()))
    if options.device == "cuda":
        return max(1, len(visible_cuda_devices(os.environ, cuda_device_count())))
    return None


def workers_asked(config: pytest.Config, count: int) -> str:
    """How the user asked for ``count`` workers, for messages: `-n 3`, or `-n auto (3 workers)`."""
    from perfsuite.options import command_line

    args = command_line(config)
    typed = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-n", "--numprocesses")]
    typed += [a.split("=", 1)[1] for a in args if a.startswith("--numprocesses=")]
    typed += [a[2:] for a in args if a.startswith("-n") and len(a) > 2 and not a.startswith("--")]
    word = typed[-1] if typed else str(count)
    return f"-n {count}" if word == str(count) else f"-n {word} ({count} workers)"


# -- configure time: the controller's slots, a worker's session (called from perfsuite.plugin) --------

def worker_slots(config: pytest.Config, options: Any, plan: Any, missing: str | None) -> tuple[Any, ...]:
    """The device slot of each xdist worker, or a usage error when the workers do not fit the devices."""
    from perfsuite.errors import PerfError
    from perfsuite.workers import allowed_cores, plan_slots, visible_cuda_devices

    refused = refused_benchmark_options(config)
    if refused:
        raise pytest.UsageError(
            f"{', '.join(refused)} cannot be used with pytest-xdist (-n): pytest-benchmark would save or compare each worker's "
            "share of the tests on its own. The run folder's benchmark.json merges every worker's (pass --benchmark-json PATH "
            "for a copy); compare runs with perfsuite compare or --perf-compare NAME."
        )

    device = "cpu" if missing else plan.device  # every case is skipped: the workers need no GPU
    cuda = visible_cuda_devices(os.environ, cuda_device_count()) if device.startswith("cuda") else []
    try:
        count = worker_count(config)
        return plan_slots(device, count, cores=allowed_cores(), cuda_devices=cuda, flag=options.device_flag,
                          asked=workers_asked(config, count))
    except PerfError as exc:
        raise pytest.UsageError(str(exc)) from None


def worker_hardware(hw: Any, slot: Any) -> Any:
    """The hardware settings of one worker: its slot's cores, at most as many threads as it has cores."""
    from dataclasses import replace

    threads_n = max(1, min(hw.threads, len(slot.cores))) if slot.cores else hw.threads
    # Pinned whatever hardware.pin says: two workers on one core would time each other.
    return replace(hw, threads=threads_n, cores=tuple(slot.cores[:threads_n]) or None, pin=bool(slot.cores))


def workers_threads(hw: Any, slots: tuple[Any, ...]) -> dict[str, Any]:
    each = [worker_hardware(hw, s) for s in slots]
    return {
        "torch_threads": each[0].threads if each else hw.threads,
        "torch_interop_threads": hw.interop_threads,
        "affinity": sorted({c for w in each for c in (w.cores or ())}),
        "workers": len(slots),
        "cudnn_benchmark": hw.cudnn_benchmark,
        "cudnn_deterministic": hw.deterministic,
        "deterministic_algorithms": hw.deterministic,
    }


def start_worker(config: pytest.Config, options: Any, plan: Any, worker: tuple[Path, Any], missing: str | None) -> None:
    """An xdist worker of a perfsuite controller: its slot's cores (or GPU), the controller's run folder."""
    from perfsuite.pinning import apply_hardware
    from perfsuite.plugin import PERF_SESSION, WORKER_KEY, _sigterm_interrupts
    from perfsuite.results.run import ResultsWriter
    from perfsuite.session import PerfSession

    run_dir, slot = worker
    check_cuda_untouched(slot)
    threads = apply_hardware(worker_hardware(plan.run.hardware, slot)) if not missing else {}
    own = run_dir / WORKERS_DIR / slot.worker_id
    own.mkdir(parents=True, exist_ok=True)
    session = PerfSession(plan=plan, run_dir=run_dir, threads=threads, skip_reason=missing)
    session.results = ResultsWriter(own / "results.json", suite=plan.suite.name, device=plan.device, started=run_dir.name.split("_")[0])
    config.option.benchmark_json = str(own / "benchmark.json")  # the controller merges these into the run's benchmark.json
    config.stash[PERF_SESSION] = session
    config.stash[WORKER_KEY] = True
    _sigterm_interrupts(config)
    config.pluginmanager.register(XdistWorker(session, slot), WORKER_PLUGIN)
