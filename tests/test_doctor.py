"""`perfsuite doctor`: each check against a monkeypatched machine (no GPU, driver or busy box needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perfsuite import doctor
from perfsuite.cli import main

CPU_BUILD = {"torch": "2.5.0+cpu", "cuda": None, "available": False, "devices": [], "threads": 2}
CUDA_BUILD = {"torch": "2.5.0+cu124", "cuda": "12.4", "available": True, "devices": ["NVIDIA H100"], "threads": 2}
NVML_OK = {"installed": True, "driver": "550.54", "cuda_driver": "12.4", "gpus": 1}


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A quiet 2-core CPU machine with a CPU build of torch; tests change one fact at a time."""
    monkeypatch.setattr(doctor, "torch_build", lambda: dict(CPU_BUILD))
    monkeypatch.setattr(doctor, "nvml_facts", lambda: {"error": "NVMLError_LibraryNotFound", "installed": True})
    monkeypatch.setattr(doctor, "gpu_present", lambda: False)
    monkeypatch.setattr(doctor, "disk_usage", lambda path: (100 << 30, 50 << 30, 50 << 30))
    monkeypatch.setattr(doctor, "usable_cores", lambda: 2)
    monkeypatch.setattr(doctor, "physical_cores", lambda: 2)
    monkeypatch.setattr(doctor, "loadavg", lambda: (0.1, 0.1, 0.1))
    monkeypatch.setattr(doctor, "environ", lambda: {})
    monkeypatch.setattr("perfsuite.pinning.other_runs", lambda directory=None: [])
    return tmp_path


def levels(findings):
    return {f.check: f.level for f in findings}


def one(findings, check):
    (found,) = [f for f in findings if f.check == check]
    return found


def test_a_quiet_cpu_machine_is_ready(machine, capsys):
    findings = doctor.run_checks(out_dir=machine / "out")
    assert set(levels(findings).values()) == {"ok"}
    assert main(["doctor", "--out", str(machine / "out")]) == 0
    assert "0 blocking, 0 warnings: ready to run" in capsys.readouterr().out


def test_cpu_build_of_torch(machine, monkeypatch):
    assert one(doctor.check_torch("cuda"), "torch").level == "block"  # --device cuda on a CPU build
    monkeypatch.setattr(doctor, "gpu_present", lambda: True)
    found = one(doctor.check_torch("cpu"), "torch")
    assert found.level == "warn" and "NVIDIA GPU" in found.message and "CUDA wheel" in found.fix


def test_cuda_build_without_a_gpu(machine, monkeypatch):
    monkeypatch.setattr(doctor, "torch_build", lambda: {**CUDA_BUILD, "available": False, "devices": []})
    assert one(doctor.check_torch("cpu"), "torch").level == "warn"
    found = one(doctor.check_torch("cuda:0"), "torch")
    assert found.level == "block" and "CUDA_VISIBLE_DEVICES" in found.fix


def test_cuda_driver_versions(machine, monkeypatch):
    monkeypatch.setattr(doctor, "torch_build", lambda: dict(CUDA_BUILD))
    monkeypatch.setattr(doctor, "nvml_facts", lambda: dict(NVML_OK))
    assert one(doctor.check_cuda_driver("cuda"), "cuda_driver").level == "ok"
    monkeypatch.setattr(doctor, "nvml_facts", lambda: {**NVML_OK, "cuda_driver": "12.2"})
    assert one(doctor.check_cuda_driver("cuda"), "cuda_driver").level == "warn"  # minor-version compatibility
    monkeypatch.setattr(doctor, "nvml_facts", lambda: {**NVML_OK, "driver": "470.1", "cuda_driver": "11.4"})
    found = one(doctor.check_cuda_driver("cuda"), "cuda_driver")
    assert found.level == "block" and "too old" in found.message and "CUDA 12.4" in found.fix


def test_nvml(machine, monkeypatch):
    assert one(doctor.check_nvml("cpu"), "nvml").level == "ok"  # not needed on a CPU build
    monkeypatch.setattr(doctor, "torch_build", lambda: dict(CUDA_BUILD))
    monkeypatch.setattr(doctor, "nvml_facts", lambda: {"error": "nvidia-ml-py is not installed", "installed": False})
    found = one(doctor.check_nvml("cuda"), "nvml")
    assert found.level == "warn" and "perfsuite[cuda]" in found.fix
    monkeypatch.setattr(doctor, "nvml_facts", lambda: dict(NVML_OK))
    assert one(doctor.check_nvml("cuda"), "nvml").level == "ok"


def test_disk(machine, monkeypatch):
    out = machine / "out" / "not" / "made" / "yet"  # the nearest existing folder is measured
    monkeypatch.setattr(doctor, "disk_usage", lambda path: (100 << 30, 99 << 30, 512 << 20))
    found = one(doctor.check_disk(out), "disk")
    assert found.level == "block" and "0.50 GiB free" in found.message and "--perf-out-dir" in found.fix
    monkeypatch.setattr(doctor, "disk_usage", lambda path: (100 << 30, 97 << 30, 3 << 30))
    assert one(doctor.check_disk(out), "disk").level == "warn"
    monkeypatch.setattr(doctor.os, "access", lambda path, mode: False)
    monkeypatch.setattr(doctor, "disk_usage", lambda path: (100 << 30, 50 << 30, 50 << 30))
    found = one(doctor.check_disk(out), "disk")
    assert found.level == "block" and "not writable" in found.message


def test_threads(machine, monkeypatch):
    monkeypatch.setattr(doctor, "environ", lambda: {"OMP_NUM_THREADS": "8"})
    found = one(doctor.check_threads(), "threads")
    assert found.level == "warn" and "more than the 2 usable cores" in found.message
    monkeypatch.setattr(doctor, "environ", lambda: {"OMP_NUM_THREADS": "two"})
    assert "not a number" in one(doctor.check_threads(), "threads").message
    monkeypatch.setattr(doctor, "environ", lambda: {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "1"})
    assert "MKL_NUM_THREADS=1 differs" in one(doctor.check_threads(), "threads").message
    monkeypatch.setattr(doctor, "environ", lambda: {})
    monkeypatch.setattr(doctor, "torch_build", lambda: {**CPU_BUILD, "threads": 4})
    found = one(doctor.check_threads(), "threads")
    assert found.level == "warn" and "4 threads on 2 physical cores" in found.message and "hardware.threads" in found.fix


def test_another_run_holding_the_lock_blocks(machine, monkeypatch):
    from perfsuite.results.layout import OutLayout
    from perfsuite.results.lock import RunLock

    out = machine / "out"
    with RunLock(OutLayout(out)):  # this process is alive: a live holder
        found = one(doctor.check_other_runs(out), "other_runs")
        assert found.level == "block" and "in use by" in found.message
    assert one(doctor.check_other_runs(out), "other_runs").level == "ok"
    monkeypatch.setattr("perfsuite.pinning.other_runs", lambda directory=None: [{"pid": 4242, "cores": [0], "shared": []}])
    found = one(doctor.check_other_runs(out), "other_runs")
    assert found.level == "warn" and "pid 4242" in found.message


def test_a_busy_machine_names_its_top_cpu_users(machine, monkeypatch):
    monkeypatch.setattr(doctor, "loadavg", lambda: (3.5, 2.0, 1.0))
    monkeypatch.setattr(doctor, "top_processes", lambda interval_s: [
        {"pid": 11, "cpu_percent": 180.0, "command": "python train.py"}, {"pid": 12, "cpu_percent": 1.0, "command": "idle"}])
    found = one(doctor.check_load(0.0), "load")
    assert found.level == "warn" and "load average 3.50 on 2 cores" in found.message
    assert "pid 11 180% python train.py" in found.message and "idle" not in found.message

    def no_psutil(interval_s):
        raise ImportError("No module named 'psutil'")

    monkeypatch.setattr(doctor, "top_processes", no_psutil)
    assert "top consumers unknown" in one(doctor.check_load(0.0), "load").message


def test_top_processes_reads_psutil():
    top = doctor.top_processes(0.05)  # the real probe, on this machine: shape only
    assert all({"pid", "cpu_percent", "command"} <= set(p) for p in top) and os.getpid() not in {p["pid"] for p in top}


def test_a_check_that_crashes_is_a_warning_not_a_crash(machine, monkeypatch):
    def broken():
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(doctor, "environ", broken)
    found = one(doctor.run_checks(out_dir=machine / "out"), "threads")
    assert found.level == "warn" and "probe exploded" in found.message


def test_json_output_and_exit_status(machine, capsys):
    assert main(["doctor", "--device", "cuda", "--json", "--out", str(machine / "out")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["device"] == "cuda"
    assert {"check": "torch", "level": "block"}.items() <= one_dict(doc["findings"], "torch").items()
    assert main(["doctor", "--device", "gpu"]) == 2  # not a device: perfsuite's usage error
    assert "unknown device" in capsys.readouterr().err


def one_dict(findings: list[dict], check: str) -> dict:
    (found,) = [f for f in findings if f["check"] == check]
    return found


def test_text_output_says_what_to_fix(machine, capsys, monkeypatch):
    monkeypatch.setattr(doctor, "disk_usage", lambda path: (100 << 30, 99 << 30, 1 << 20))
    assert main(["doctor", "--out", str(Path(machine) / "out")]) == 1
    out = capsys.readouterr().out
    assert "BLOCK disk" in out and "fix: free at least 1 GiB" in out and "1 blocking, 0 warnings: fix the blocking ones" in out
