"""Peak compute and memory bandwidth of known GPUs, from vendor datasheets: the roofs of a roofline.

Each entry names its source. Figures are dense (no 2:4 sparsity), boost clock, per GPU:
`fp32` the CUDA cores' FP32 rate (what torch uses for fp32 matmuls unless TF32 is allowed),
`tf32`/`bf16`/`fp16` the tensor cores' rate with FP32 accumulate. A dtype a datasheet gives no
figure for (T4/V100 have no TF32 or BF16 tensor cores) has no entry: the roofline is then omitted
with that reason, never drawn against a guessed peak. A device name that no entry matches gets no
peak at all (`lookup_gpu` says why). Matching is on the words of the NVML/torch device name
(`torch.cuda.get_device_name`, e.g. "NVIDIA H100 80GB HBM3" -> nvidia, h100, 80gb, hbm3),
case-insensitive: an entry matches when all its words are there, and the first match wins, so
specific entries come before general ones. Whole words, so a GH200, an RTX A1000 or an A10G never
borrows the H200's, the A100's or the A10's figures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

T = 1e12  # FLOP/s
GBS = 1e9  # bytes/s

H100_DATASHEET = "NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100), dense figures (half the sparsity ones)"
H200_DATASHEET = "NVIDIA H200 Tensor Core GPU product page (nvidia.com/en-us/data-center/h200), dense figures (half the sparsity ones)"
A100_DATASHEET = "NVIDIA A100 Tensor Core GPU datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)"
L4_DATASHEET = "NVIDIA L4 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/l4), dense figures (half the sparsity ones)"
L40S_DATASHEET = "NVIDIA L40S GPU datasheet (nvidia.com/en-us/data-center/l40s), dense figures (half the sparsity ones)"
T4_DATASHEET = "NVIDIA T4 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/tesla-t4); FP16 is mixed precision (FP32 accumulate)"
A10_DATASHEET = "NVIDIA A10 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/products/a10-gpu), dense figures"
V100_DATASHEET = "NVIDIA V100 Tensor Core GPU datasheet (volta-v100-datasheet-update-us-1165301-r5.pdf); FP16 = tensor performance"
ADA_WHITEPAPER = "NVIDIA Ada Lovelace GPU architecture whitepaper v2.02, GeForce RTX 4090 table (FP32-accumulate tensor rates)"


@dataclass(frozen=True)
class GpuPeak:
    """One GPU model's roofs: peak FLOP/s per dtype and memory bandwidth (bytes/s), with the source."""

    name: str
    match: tuple[str, ...]  # all of these words (lower case) in the device name
    flops: Mapping[str, float]
    bandwidth: float
    source: str

    def matches(self, device_name: str) -> bool:
        words = set(re.split(r"[^a-z0-9]+", device_name.lower()))
        return all(m in words for m in self.match)


GPU_PEAKS: tuple[GpuPeak, ...] = (
    GpuPeak("H100 NVL", ("h100", "nvl"), {"fp32": 60 * T, "tf32": 417.5 * T, "bf16": 835.5 * T, "fp16": 835.5 * T}, 3900 * GBS, H100_DATASHEET),
    GpuPeak("H100 PCIe", ("h100", "pcie"), {"fp32": 51 * T, "tf32": 378 * T, "bf16": 756.5 * T, "fp16": 756.5 * T}, 2000 * GBS, H100_DATASHEET),
    GpuPeak("H100 SXM", ("h100",), {"fp32": 67 * T, "tf32": 494.5 * T, "bf16": 989.5 * T, "fp16": 989.5 * T}, 3350 * GBS, H100_DATASHEET),
    GpuPeak("H200 NVL", ("h200", "nvl"), {"fp32": 60 * T, "tf32": 417.5 * T, "bf16": 835.5 * T, "fp16": 835.5 * T}, 4800 * GBS, H200_DATASHEET),
    GpuPeak("H200 SXM", ("h200",), {"fp32": 67 * T, "tf32": 494.5 * T, "bf16": 989.5 * T, "fp16": 989.5 * T}, 4800 * GBS, H200_DATASHEET),
    GpuPeak("A100 80GB PCIe", ("a100", "80gb", "pcie"), {"fp32": 19.5 * T, "tf32": 156 * T, "bf16": 312 * T, "fp16": 312 * T}, 1935 * GBS, A100_DATASHEET),
    GpuPeak("A100 80GB SXM", ("a100", "80gb"), {"fp32": 19.5 * T, "tf32": 156 * T, "bf16": 312 * T, "fp16": 312 * T}, 2039 * GBS, A100_DATASHEET),
    GpuPeak("A100 40GB", ("a100",), {"fp32": 19.5 * T, "tf32": 156 * T, "bf16": 312 * T, "fp16": 312 * T}, 1555 * GBS, A100_DATASHEET),
    GpuPeak("L40S", ("l40s",), {"fp32": 91.6 * T, "tf32": 183 * T, "bf16": 366.5 * T, "fp16": 366.5 * T}, 864 * GBS, L40S_DATASHEET),
    GpuPeak("L4", ("l4",), {"fp32": 30.3 * T, "tf32": 60 * T, "bf16": 121 * T, "fp16": 121 * T}, 300 * GBS, L4_DATASHEET),
    # the A10G (AWS) has no public datasheet: left out, not guessed (the word "a10g" is not "a10")
    GpuPeak("A10", ("a10",), {"fp32": 31.2 * T, "tf32": 62.5 * T, "bf16": 125 * T, "fp16": 125 * T}, 600 * GBS, A10_DATASHEET),
    GpuPeak("T4", ("t4",), {"fp32": 8.1 * T, "fp16": 65 * T}, 320 * GBS, T4_DATASHEET),
    GpuPeak("V100 PCIe", ("v100", "pcie"), {"fp32": 14 * T, "fp16": 112 * T}, 900 * GBS, V100_DATASHEET),
    GpuPeak("V100 SXM2", ("v100",), {"fp32": 15.7 * T, "fp16": 125 * T}, 900 * GBS, V100_DATASHEET),
    GpuPeak("GeForce RTX 4090", ("rtx", "4090"), {"fp32": 82.6 * T, "tf32": 82.6 * T, "bf16": 165.2 * T, "fp16": 165.2 * T}, 1008 * GBS,
            ADA_WHITEPAPER),
)


@dataclass(frozen=True)
class DevicePeak:
    """The roofs one case is placed against: peak FLOP/s for its dtype, bandwidth, and where they come from.

    `flops_per_s`/`bytes_per_s` None means no roofline for this case; `omitted` says why.
    """

    device: str  # the device name it was looked up by (GPU name, CPU model)
    dtype: str  # fp32 | tf32 | bf16 | fp16: the peak column used
    flops_per_s: float | None = None
    bytes_per_s: float | None = None
    source: str | None = None  # datasheet, or "measured" with the probe's description
    omitted: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "dtype": self.dtype, "flops_per_s": self.flops_per_s, "bytes_per_s": self.bytes_per_s,
                "source": self.source, "omitted": self.omitted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DevicePeak:
        return cls(**{k: data.get(k) for k in ("device", "dtype", "flops_per_s", "bytes_per_s", "source", "omitted")})


def peak_dtype(precision: str, *, float32_matmul_precision: str = "highest") -> str:
    """The peak column a case runs at: fp32 cases use TF32 tensor cores when torch allows it."""
    if precision == "fp32":
        return "fp32" if float32_matmul_precision == "highest" else "tf32"
    return precision


def lookup_gpu(device_name: str, dtype: str, table: tuple[GpuPeak, ...] = GPU_PEAKS) -> DevicePeak:
    """The datasheet roofs of `device_name` at `dtype`, or a DevicePeak saying why there are none."""
    entry = next((e for e in table if e.matches(device_name)), None)
    if entry is None:
        known = ", ".join(e.name for e in table)
        return DevicePeak(device_name, dtype, omitted=f"GPU {device_name!r} is not in perfsuite's peak table "
                                                      f"(perfsuite/measure/peaks.py: {known}); no roofline without a datasheet peak")
    flops = entry.flops.get(dtype)
    if flops is None:
        return DevicePeak(device_name, dtype, bytes_per_s=entry.bandwidth, source=entry.source,
                          omitted=f"the {entry.name} datasheet gives no {dtype} peak (it has {', '.join(entry.flops)})")
    return DevicePeak(device_name, dtype, flops, entry.bandwidth, f"{entry.name}: {entry.source}")
