"""The machine fingerprint recorded with every run (env.json) and printed by `perfsuite env`."""

from __future__ import annotations

import hashlib
import json
import importlib.metadata as md
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGES = ("perfsuite", "torch", "transformers", "pytest", "pytest-benchmark", "numpy", "hydra-core", "nvidia-ml-py", "onnxruntime", "onnx", "onnxscript")


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_info(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "branch": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "branch": git("rev-parse", "--abbrev-ref", "HEAD")}


def cuda_info() -> dict[str, Any]:
    """CUDA build, devices and driver; `available: false` (not an error) on a CPU machine."""
    try:
        import torch
    except ImportError:
        return {"available": False, "reason": "torch is not installed"}
    info: dict[str, Any] = {"available": bool(torch.cuda.is_available()), "torch_cuda": torch.version.cuda}
    if not info["available"]:
        info["reason"] = "torch was built without CUDA" if torch.version.cuda is None else "no CUDA device/driver visible"
        return info
    info["devices"] = [
        {"index": i, "name": torch.cuda.get_device_name(i), "capability": list(torch.cuda.get_device_capability(i))}
        for i in range(torch.cuda.device_count())
    ]
    info["cudnn"] = torch.backends.cudnn.version()
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            info["driver"] = pynvml.nvmlSystemGetDriverVersion()
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML is optional: record why it is missing
        info["driver"] = None
        info["nvml_error"] = f"{type(exc).__name__}: {exc}"
    return info


def threads_info() -> dict[str, Any]:
    info: dict[str, Any] = {"affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    return info


def load_info(*, claim_dir: Path | None = None, interval_s: float = 0.1) -> dict[str, Any]:
    """How busy the machine was as the run started: load average, runnable processes, busy cores
    (over ``interval_s``), and the other perfsuite runs holding cores (their core claim files).

    A second benchmark on the same cores is the commonest reason for a slow, noisy run; this is
    where a reader of env.json finds it.
    """
    from perfsuite.measure.contention import sample_load
    from perfsuite.pinning import other_runs

    info = sample_load(interval_s)
    runs = other_runs(claim_dir)
    if isinstance(runs, str):
        info["perfsuite_runs"] = None
        info["unavailable"]["perfsuite_runs"] = runs
    else:
        info["perfsuite_runs"] = runs
    return info


def machine_id_of(env: Mapping[str, Any]) -> str:
    """A short id of what makes two runs' timings comparable, from an env.json fingerprint.

    CPU model, cores and architecture, torch threads in force, GPU models, driver, CUDA and torch
    versions: two runs with the same id measured on equivalent hardware and software. The host
    name is not part of it (a rebuilt CI runner of the same kind keeps its id; pytest-benchmark's
    `Linux-CPython-3.11-64bit` is far too coarse). Baselines are stored and gated per id.
    """
    cpu = env.get("cpu") if isinstance(env.get("cpu"), Mapping) else {}
    threads = env.get("threads") if isinstance(env.get("threads"), Mapping) else {}
    cuda = env.get("cuda") if isinstance(env.get("cuda"), Mapping) else {}
    packages = env.get("packages") if isinstance(env.get("packages"), Mapping) else {}
    devices = cuda.get("devices") if isinstance(cuda.get("devices"), list) else []
    facts = {
        "cpu": cpu.get("model"),
        "cores": cpu.get("logical_cores"),
        "arch": cpu.get("arch"),
        "torch_threads": threads.get("torch_threads"),
        "gpus": [d.get("name") for d in devices if isinstance(d, Mapping)],
        "driver": cuda.get("driver"),
        "cuda": cuda.get("torch_cuda"),
        "torch": packages.get("torch"),
    }
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def fingerprint(project_root: Path | None = None) -> dict[str, Any]:
    cpu = cpu_model()
    env = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": {"model": cpu, "logical_cores": os.cpu_count(), "arch": platform.machine()},
        "threads": threads_info(),
        "packages": {name: _version(name) for name in PACKAGES},
        "cuda": cuda_info(),
        "git": git_info(project_root or Path.cwd()),
        "load": load_info(),
    }
    env["machine_id"] = machine_id_of(env)
    return env
