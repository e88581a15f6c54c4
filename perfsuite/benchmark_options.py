"""pytest-benchmark's timing options under perfsuite: translated into perfsuite's policy, or refused.

perfsuite, not pytest-benchmark, times a case (warm-up until the median settles, adaptive
stopping, device-synchronized clocks), so pytest-benchmark's own timing options would otherwise
do nothing. Each one the user gives is either turned into a `--perf-override` of the same meaning
(added after the suite's overrides, so it wins) or refused up front with the perfsuite option that
does the job. Pure: option values in, overrides or a `BenchmarkOptionError` out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class BenchmarkOptionError(ValueError):
    """A pytest-benchmark option perfsuite cannot honour; the message names what to use instead."""


@dataclass(frozen=True)
class _Rule:
    option: str  # pytest-benchmark's flag
    dest: str  # its attribute on config.option
    translate: Callable[[Any], list[str]]  # value -> overrides; raises BenchmarkOptionError to refuse


def _refuse(why: str) -> Callable[[Any], list[str]]:
    def refuse(value: Any) -> list[str]:
        raise BenchmarkOptionError(why)

    return refuse


def _warmup(value: Any) -> list[str]:
    # None: the bare flag, which pytest-benchmark documents as "activates warmup"; True: 'on'.
    if value is None or value:  # perfsuite always warms up (until the rolling median settles)
        return []
    raise BenchmarkOptionError(
        "perfsuite always warms a case up until its rolling median settles and never times warm-up "
        "calls, so it cannot be turned off ('off', or 'auto', which is off on CPython); bound it with "
        "--perf-override measure.warmup.max_calls=N or measure.warmup.max_time_s=SECONDS"
    )


def _fraction_key(key: str) -> Callable[[Any], list[str]]:
    return lambda value: [f"{key}={float(value)}"]


RULES: tuple[_Rule, ...] = (
    _Rule("--benchmark-min-rounds", "benchmark_min_rounds", lambda v: [f"measure.stop.min_rounds={int(v)}"]),
    _Rule("--benchmark-max-time", "benchmark_max_time", lambda v: [f"measure.stop.max_time_s={float(v)}"]),
    _Rule(
        "--benchmark-min-time",
        "benchmark_min_time",
        _refuse(
            "perfsuite times one call per sample (a block of calls on CUDA with measure.cuda_timing=pipelined), "
            "so there is no minimum time per round; the minimum total sampling time is "
            "--perf-override measure.stop.min_time_s=SECONDS"
        ),
    ),
    _Rule("--benchmark-warmup", "benchmark_warmup", _warmup),
    _Rule("--benchmark-warmup-iterations", "benchmark_warmup_iterations", lambda v: [f"measure.warmup.max_calls={int(v)}"]),
    _Rule("--benchmark-disable-gc", "benchmark_disable_gc", lambda v: ["measure.disable_gc=true"] if v else []),
    _Rule(
        "--benchmark-timer",
        "benchmark_timer",
        _refuse(
            "perfsuite picks the clock for the device (perf_counter_ns on CPU, CUDA events with a "
            "synchronize on CUDA); choose how CUDA calls are timed with "
            "--perf-override measure.cuda_timing=isolated|pipelined"
        ),
    ),
    _Rule(
        "--benchmark-calibration-precision",
        "benchmark_calibration_precision",
        _refuse(
            "perfsuite does not calibrate iterations per round; it samples until the confidence interval "
            "of the median is narrow enough: --perf-override measure.stop.target_rel_ci=FRACTION"
        ),
    ),
    # pytest-benchmark 5.3: rounds until the margin of error is below a fraction, at a confidence.
    _Rule("--benchmark-precision", "benchmark_precision", _fraction_key("measure.stop.target_rel_ci")),
    _Rule("--benchmark-confidence", "benchmark_confidence", _fraction_key("measure.stop.ci_confidence")),
)


def given_options(args: list[str]) -> set[str]:
    """The RULES flags that appear in a command line (`--flag value` or `--flag=value`)."""
    flags = {rule.option for rule in RULES}
    return {arg.split("=", 1)[0] for arg in args if arg.split("=", 1)[0] in flags}


def translate(values: Mapping[str, Any], given: set[str]) -> tuple[str, ...]:
    """Overrides for the pytest-benchmark timing options in `given` (flags), read from `values` (by dest).

    Raises BenchmarkOptionError naming the first option perfsuite refuses and what to use instead.
    """
    overrides: list[str] = []
    for rule in RULES:
        if rule.option not in given or rule.dest not in values:
            continue
        try:
            overrides += rule.translate(values[rule.dest])
        except BenchmarkOptionError as exc:
            raise BenchmarkOptionError(f"{rule.option} is not supported in a perfsuite run: {exc}.") from None
    return tuple(overrides)
