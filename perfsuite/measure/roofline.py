"""Where a case sits on its device's roofline: achieved FLOP/s and bytes/s against the peaks. Pure.

    point = roofline_point(case_id, flops_per_call, bytes_per_call, median_s, peak)

Inputs come from two stages of the same case: FLOPs and bytes per call from static analysis, the
median latency of a call from the timed rounds, and the roofs (`DevicePeak`) the static stage
looked up (GPU datasheet) or measured (CPU probe). Arithmetic intensity I = FLOPs / bytes; the
ridge point is peak FLOP/s / bandwidth; below it a call is memory-bound and its roof is I·bandwidth,
above it compute-bound and its roof is the peak. `pct_of_roof` is achieved over that roof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from perfsuite.measure.peaks import DevicePeak


@dataclass(frozen=True)
class RooflinePoint:
    case: str
    flops_per_call: float
    bytes_per_call: float | None
    median_s: float
    achieved_flops_per_s: float
    intensity: float | None  # FLOPs per byte moved
    achieved_bytes_per_s: float | None
    peak: DevicePeak
    pct_of_peak_flops: float | None = None  # 0..100 (may pass 100 against a measured CPU roof)
    pct_of_peak_bandwidth: float | None = None
    bound: str | None = None  # "memory" | "compute" (by the ridge point)
    roof_flops_per_s: float | None = None  # min(peak, I * bandwidth)
    pct_of_roof: float | None = None

    @property
    def omitted(self) -> str | None:
        return self.peak.omitted

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["peak"] = self.peak.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RooflinePoint:
        values = {k: data.get(k) for k in cls.__dataclass_fields__ if k != "peak"}
        return cls(peak=DevicePeak.from_dict(data.get("peak") or {}), **values)


def roofline_point(case: str, flops_per_call: float, bytes_per_call: float | None, median_s: float, peak: DevicePeak) -> RooflinePoint:
    if median_s <= 0 or flops_per_call <= 0:
        raise ValueError(f"{case}: a roofline point needs FLOPs > 0 and a median > 0 (got {flops_per_call}, {median_s})")
    achieved = flops_per_call / median_s
    intensity = flops_per_call / bytes_per_call if bytes_per_call else None
    moved = bytes_per_call / median_s if bytes_per_call else None
    point = RooflinePoint(case, flops_per_call, bytes_per_call, median_s, achieved, intensity, moved, peak)
    if peak.omitted is not None or peak.flops_per_s is None or peak.bytes_per_s is None:
        bw = peak.bytes_per_s
        return RooflinePoint(**{**point.__dict__, "pct_of_peak_bandwidth": 100 * moved / bw if moved and bw else None})
    pct_flops = 100 * achieved / peak.flops_per_s
    pct_bw = 100 * moved / peak.bytes_per_s if moved else None
    if intensity is None:
        return RooflinePoint(**{**point.__dict__, "pct_of_peak_flops": pct_flops})
    ridge = peak.flops_per_s / peak.bytes_per_s
    roof = min(peak.flops_per_s, intensity * peak.bytes_per_s)
    return RooflinePoint(**{**point.__dict__, "pct_of_peak_flops": pct_flops, "pct_of_peak_bandwidth": pct_bw,
                            "bound": "memory" if intensity < ridge else "compute", "roof_flops_per_s": roof,
                            "pct_of_roof": 100 * achieved / roof})
