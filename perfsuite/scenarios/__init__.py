"""Load scenarios for in-process runtimes: seeded arrivals, a load generator with a dynamic batcher,
latency/goodput/SLO metrics, over-saturation, and the highest rate that meets an SLO.

    from perfsuite.scenarios import ArrivalSpec, Slo, server, load_metrics

    arrivals = ArrivalSpec("poisson", rate_per_s=200.0, seed=1).times(n=2000, duration_s=10.0)
    result = server(serve, payloads, arrivals, max_batch=8, max_wait_s=0.002)
    m = load_metrics(result, slo=Slo.percentile(0.99, latency_ms=50))
    m.latency["p99"].value_s, m.attainment.verdict, m.oversaturation.flag, m.send_error["p50"].value_s

Modules (the data flow): `arrivals` (seeded schedules), `senders` (sender thread / inline
sender and the batcher's queue), `loadgen` (`run_load` and the LoadGen scenarios), `records`
(per-request and per-batch records), `bounds` (early-stopping percentile bound, Wilson
interval), `slo` (SLOs and attainment verdicts), `saturation` (over-saturation test), `metrics`
(`load_metrics`), `sweep` (`find_max_rate`, knee). Importing this package does not import torch.
"""

from __future__ import annotations

from perfsuite.scenarios.arrivals import ARRIVAL_PROCESSES, ArrivalProcess, ArrivalSpec, arrival_times
from perfsuite.scenarios.bounds import early_stopping_bound, early_stopping_rank, wilson_interval
from perfsuite.scenarios.loadgen import Batch, Serve, offline, run_load, server, single_stream
from perfsuite.scenarios.metrics import Distribution, LoadMetrics, PercentileEstimate, distribution, load_metrics
from perfsuite.scenarios.records import BatchRecord, LoadResult, LoadSettings, RequestRecord
from perfsuite.scenarios.saturation import Oversaturation, detect_oversaturation
from perfsuite.scenarios.slo import Attainment, Slo, judge_attainment, slo_attainment
from perfsuite.scenarios.sweep import Knee, ProbeResult, SweepPoint, SweepResult, find_knee, find_max_rate

__all__ = [
    "ARRIVAL_PROCESSES",
    "ArrivalProcess",
    "ArrivalSpec",
    "Attainment",
    "Batch",
    "BatchRecord",
    "Distribution",
    "Knee",
    "LoadMetrics",
    "LoadResult",
    "LoadSettings",
    "Oversaturation",
    "PercentileEstimate",
    "ProbeResult",
    "RequestRecord",
    "Serve",
    "Slo",
    "SweepPoint",
    "SweepResult",
    "arrival_times",
    "detect_oversaturation",
    "distribution",
    "early_stopping_bound",
    "early_stopping_rank",
    "find_knee",
    "find_max_rate",
    "judge_attainment",
    "load_metrics",
    "offline",
    "run_load",
    "server",
    "single_stream",
    "slo_attainment",
    "wilson_interval",
]
