"""The roofs one case is placed against: its GPU's datasheet peaks, or its CPU's measured ones."""

from __future__ import annotations

from pathlib import Path

from perfsuite.measure.peaks import DevicePeak, lookup_gpu, peak_dtype


def device_peak(device: str, precision: str, *, out_dir: Path, machine_id: str | None, cpu_name: str) -> DevicePeak:
    """Peak FLOP/s at the case's precision and memory bandwidth of `device`, or why there are none."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        dtype = peak_dtype(precision, float32_matmul_precision=torch.get_float32_matmul_precision())
        return lookup_gpu(torch.cuda.get_device_name(index), dtype)
    if device == "cpu":
        dtype = peak_dtype(precision)
        if not machine_id:
            return DevicePeak(cpu_name, dtype, omitted="env.json has no machine id to cache the CPU probe under")
        from perfsuite.measure.cpu_peaks import cpu_peak

        try:
            return cpu_peak(out_dir, machine_id, cpu_name, dtype)
        except (RuntimeError, MemoryError) as exc:  # a dtype this CPU build cannot multiply, or no room for the arrays
            return DevicePeak(cpu_name, dtype, omitted=f"the CPU peak probe failed ({type(exc).__name__}: {exc})")
    return DevicePeak(device, peak_dtype(precision), omitted=f"no peak table or probe for device {device!r} (only cuda and cpu)")
