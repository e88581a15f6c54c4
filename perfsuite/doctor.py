"""`perfsuite doctor`: is this machine ready for a benchmark run, and what to fix if not.

Each check returns `Finding`s: `ok`, `warn` (the run works, its numbers may suffer) or `block`
(a run would fail or its numbers would be meaningless). The system is read through the small
probe functions at the top (`torch_build`, `nvml_facts`, `disk_usage`, ...), which the tests
replace with monkeypatch: no GPU, driver or busy machine is needed to test a check.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LEVELS = ("ok", "warn", "block")
MIN_FREE_BYTES = 1 << 30  # below this a run may not be able to write its traces and tables
LOW_FREE_BYTES = 5 << 30
BUSY_LOAD_PER_CORE = 0.5  # 1-minute load average per usable core
TOP_CONSUMERS = 5


@dataclass(frozen=True)
class Finding:
    check: str
    level: str  # one of LEVELS
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- probes: every read of the system goes through one of these -------------------------------------


def torch_build() -> dict[str, Any]:
    """torch's version, the CUDA it was built for (None: a CPU build), and whether CUDA works here."""
    import torch

    available = bool(torch.cuda.is_available())
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "available": available,
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if available else [],
        "threads": torch.get_num_threads(),
    }


def nvml_facts() -> dict[str, Any]:
    """What NVML (the driver's management library) says: driver, the CUDA version it supports, GPUs.

    `error` says why NVML is unusable (not installed, no driver); no GPU is not an error.
    """
    try:
        import pynvml
    except ImportError as exc:
        return {"error": f"nvidia-ml-py is not installed ({exc})", "installed": False}
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return {"error": f"{type(exc).__name__}: {exc}", "installed": True}
    try:
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        return {
            "installed": True,
            "driver": pynvml.nvmlSystemGetDriverVersion(),
            "cuda_driver": f"{cuda // 1000}.{(cuda % 1000) // 10}",
            "gpus": pynvml.nvmlDeviceGetCount(),
        }
    finally:
        pynvml.nvmlShutdown()


def gpu_present() -> bool:
    """A GPU visible to the OS, whatever torch was built for (the NVIDIA kernel driver's device list)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def disk_usage(path: Path) -> tuple[int, int, int]:
    return tuple(shutil.disk_usage(path))  # type: ignore[return-value]


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def physical_cores() -> int | None:
    import psutil

    return psutil.cpu_count(logical=False)


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def top_processes(interval_s: float = 0.5) -> list[dict[str, Any]]:
    """The processes using the most CPU over `interval_s` (percent of one core), this one left out."""
    import time

    import psutil

    procs = []
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            p.cpu_percent(None)  # the first call only starts the measurement
            procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    time.sleep(interval_s)
    out = []
    me = os.getpid()
    for p in procs:
        try:
            if p.pid == me:
                continue
            percent = p.cpu_percent(None)
            cmd = " ".join(p.info.get("cmdline") or []) or p.info.get("name") or "?"
            out.append({"pid": p.pid, "cpu_percent": round(percent, 1), "command": cmd[:120]})
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return sorted(out, key=lambda d: -d["cpu_percent"])[:TOP_CONSUMERS]


def environ() -> dict[str, str]:
    return dict(os.environ)


# -- checks ------------------------------------------------------------------------------------------


def check_torch(device: str) -> list[Finding]:
    try:
        build = torch_build()
    except ImportError as exc:
        return [Finding("torch", "block", f"torch cannot be imported ({exc})", "install torch (README: Install) before perfsuite")]
    name = f"torch {build['torch']} ({'CUDA ' + build['cuda'] if build['cuda'] else 'CPU build'})"
    wants_cuda = device.startswith("cuda")
    if build["cuda"] is None:
        if wants_cuda:
            return [Finding("torch", "block", f"{name}: --device {device} cannot run on a CPU build of torch",
                            "install the CUDA wheel of torch for your driver (README: Install), or run with --device cpu")]
        if gpu_present():
            return [Finding("torch", "warn", f"{name} on a machine with an NVIDIA GPU: only CPU runs are possible",
                            "install the CUDA wheel of torch for your driver to benchmark the GPU")]
        return [Finding("torch", "ok", f"{name}, no GPU: CPU runs")]
    if not build["available"]:
        level = "block" if wants_cuda else "warn"
        return [Finding("torch", level, f"{name}, but no CUDA device is usable (no GPU, no driver, or CUDA_VISIBLE_DEVICES hides it)",
                        "check `nvidia-smi` and CUDA_VISIBLE_DEVICES; CPU runs work meanwhile" if level == "warn" else
                        "check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or run with --device cpu")]
    return [Finding("torch", "ok", f"{name}, GPUs: {', '.join(build['devices'])}")]


def _version(text: str | None) -> tuple[int, ...] | None:
    try:
        return tuple(int(x) for x in str(text).split(".")[:2])
    except ValueError:
        return None


def check_cuda_driver(device: str) -> list[Finding]:
    """The driver must support the CUDA version torch was built with (same major; a newer minor works with
    CUDA's minor-version compatibility, minus features that need the newer driver)."""
    try:
        build = torch_build()
    except ImportError:
        return []  # check_torch reports it
    if build["cuda"] is None:
        return [Finding("cuda_driver", "ok", "CPU build of torch: no CUDA driver needed")]
    facts = nvml_facts()
    if facts.get("error"):
        level = "block" if device.startswith("cuda") and not build["available"] else "warn"
        return [Finding("cuda_driver", level, f"cannot read the NVIDIA driver's version: {facts['error']}",
                        "install the NVIDIA driver (nvidia-smi must work) and `pip install 'perfsuite[cuda]'`")]
    runtime, driver = _version(build["cuda"]), _version(facts.get("cuda_driver"))
    text = f"driver {facts.get('driver')} supports CUDA {facts.get('cuda_driver')}, torch is built for CUDA {build['cuda']}"
    if runtime is None or driver is None:
        return [Finding("cuda_driver", "warn", f"{text}: versions not comparable")]
    if driver[0] < runtime[0]:
        return [Finding("cuda_driver", "block", f"{text}: the driver is too old for this torch",
                        f"upgrade the NVIDIA driver to one for CUDA {build['cuda']}, or install the torch wheel for CUDA {facts.get('cuda_driver')}")]
    if driver < runtime:
        return [Finding("cuda_driver", "warn", f"{text}: runs through CUDA's minor-version compatibility (some kernels JIT-compile or fail)",
                        f"upgrade the driver to one for CUDA {build['cuda']} or newer")]
    return [Finding("cuda_driver", "ok", text)]


def check_nvml(device: str) -> list[Finding]:
    """NVML gives the GPU memory, energy, clocks and throttling of each case; without it they are missing."""
    try:
        build = torch_build()
    except ImportError:
        return []
    if build["cuda"] is None and not device.startswith("cuda"):
        return [Finding("nvml", "ok", "not needed for CPU runs")]
    facts = nvml_facts()
    if facts.get("error"):
        fix = "pip install 'perfsuite[cuda]'" if not facts.get("installed") else "check the NVIDIA driver (`nvidia-smi`)"
        return [Finding("nvml", "warn", f"NVML is unusable ({facts['error']}): GPU runs record no NVML memory, energy, clocks or throttling", fix)]
    return [Finding("nvml", "ok", f"NVML works: {facts.get('gpus')} GPU(s), driver {facts.get('driver')}")]


def _existing(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(out_dir: Path) -> list[Finding]:
    where = _existing(out_dir)
    try:
        total, _, free = disk_usage(where)
    except OSError as exc:
        return [Finding("disk", "block", f"cannot read the free space at {where}: {exc.strerror or exc}", "pass --perf-out-dir to a folder on a mounted disk")]
    findings = []
    if not os.access(where, os.W_OK):
        findings.append(Finding("disk", "block", f"{where} is not writable: runs cannot write their run folders under {out_dir}",
                                "fix the permissions, or pass --perf-out-dir DIR (ini perf_out_dir) to a writable folder"))
    gib = free / (1 << 30)
    if free < MIN_FREE_BYTES:
        findings.append(Finding("disk", "block", f"{gib:.2f} GiB free for {out_dir}: too little for traces, tables and reports",
                                f"free at least {MIN_FREE_BYTES >> 30} GiB, or pass --perf-out-dir to another disk"))
    elif free < LOW_FREE_BYTES:
        findings.append(Finding("disk", "warn", f"{gib:.1f} GiB free for {out_dir}: profiler traces of large models may not fit",
                                f"free some space (>= {LOW_FREE_BYTES >> 30} GiB), or run `perfsuite migrate-out` / delete old runs"))
    return findings or [Finding("disk", "ok", f"{gib:.1f} GiB free for {out_dir}")]


def check_threads() -> list[Finding]:
    env = environ()
    cores = usable_cores()
    physical = physical_cores()
    findings = []
    omp = env.get("OMP_NUM_THREADS")
    if omp is not None:
        try:
            n = int(omp)
        except ValueError:
            findings.append(Finding("threads", "warn", f"OMP_NUM_THREADS={omp!r} is not a number: OpenMP ignores it",
                                    "unset it, or set a whole number (perfsuite's hardware config sets torch's threads itself)"))
        else:
            if n > cores:
                findings.append(Finding("threads", "warn", f"OMP_NUM_THREADS={n} is more than the {cores} usable cores: threads fight over cores and timings get noisy",
                                        f"set OMP_NUM_THREADS <= {cores}, or unset it and let hardware.threads decide"))
    for var in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if env.get(var) and omp and env[var] != omp:
            findings.append(Finding("threads", "warn", f"{var}={env[var]} differs from OMP_NUM_THREADS={omp}: two thread pools of different sizes",
                                    f"set {var} equal to OMP_NUM_THREADS, or unset both"))
    try:
        threads = torch_build()["threads"]
    except ImportError:
        threads = None
    limit = physical or cores
    if threads is not None and threads > limit:
        findings.append(Finding("threads", "warn", f"torch uses {threads} threads on {limit} {'physical' if physical else 'usable'} cores: "
                                "hyper-threads share execution units and make CPU timings noisy",
                                f"set hardware.threads (conf/hardware/cpu.yaml) to {limit} or fewer"))
    return findings or [Finding("threads", "ok", f"torch threads {threads}, {cores} usable cores" + (f" ({physical} physical)" if physical else ""))]


def check_other_runs(out_dir: Path) -> list[Finding]:
    from perfsuite.errors import PerfError
    from perfsuite.pinning import other_runs
    from perfsuite.results.layout import OutLayout
    from perfsuite.results.lock import check_unlocked

    findings = []
    try:
        check_unlocked(OutLayout(out_dir))
    except PerfError as exc:
        findings.append(Finding("other_runs", "block", str(exc), "wait for that run to finish, or pass --perf-out-dir to another folder"))
    claims = other_runs()
    if isinstance(claims, str):
        findings.append(Finding("other_runs", "warn", f"cannot see other perfsuite runs' core claims ({claims})"))
    elif claims:
        who = ", ".join(f"pid {c.get('pid')}" for c in claims)
        findings.append(Finding("other_runs", "warn", f"{len(claims)} other perfsuite run(s) hold cores on this machine ({who}): they share the CPU with yours",
                                "wait for them, or pin each run to its own cores (hardware.pinning)"))
    return findings or [Finding("other_runs", "ok", f"no other perfsuite run uses {out_dir} or holds cores")]


def check_load(interval_s: float = 0.5) -> list[Finding]:
    cores = usable_cores()
    try:
        one, _, _ = loadavg()
    except OSError as exc:
        return [Finding("load", "warn", f"cannot read the load average ({exc})")]
    if one / cores <= BUSY_LOAD_PER_CORE:
        return [Finding("load", "ok", f"load average {one:.2f} on {cores} cores")]
    try:
        top = [p for p in top_processes(interval_s) if p["cpu_percent"] >= 5.0]
    except Exception as exc:  # noqa: BLE001 - psutil missing or /proc unreadable: say so
        top, why = [], f" (top consumers unknown: {type(exc).__name__}: {exc})"
    else:
        why = ""
    listed = "; ".join(f"pid {p['pid']} {p['cpu_percent']:.0f}% {p['command']}" for p in top)
    return [Finding("load", "warn", f"the machine is busy: load average {one:.2f} on {cores} cores{why}" + (f". Top CPU users: {listed}" if listed else ""),
                    "wait for them to finish or stop them: other work on the same cores makes timings slow and noisy")]


Check = Callable[[], list[Finding]]


def run_checks(*, device: str = "cpu", out_dir: Path = Path("out"), interval_s: float = 0.5) -> list[Finding]:
    """Every check, in order; a check that crashes is a `warn` finding naming it, not a crash."""
    checks: list[tuple[str, Check]] = [
        ("torch", lambda: check_torch(device)),
        ("cuda_driver", lambda: check_cuda_driver(device)),
        ("nvml", lambda: check_nvml(device)),
        ("disk", lambda: check_disk(out_dir)),
        ("threads", check_threads),
        ("other_runs", lambda: check_other_runs(out_dir)),
        ("load", lambda: check_load(interval_s)),
    ]
    findings: list[Finding] = []
    for name, check in checks:
        try:
            findings += check()
        except Exception as exc:  # noqa: BLE001 - one broken probe must not hide the other checks
            findings.append(Finding(name, "warn", f"the check itself failed: {type(exc).__name__}: {exc}"))
    return findings


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.level == "block" for f in findings) else 0
