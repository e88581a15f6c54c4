"""A between-run model measured from replicate baselines: judge one new run against the last k runs.

Two separate runs of unchanged code on a shared machine differ by more than either run's samples
can show (a host's speed drifts between runs; docs/gating.md has measured figures). No statistic
of one run sees that drift; replicates do. A
baseline that keeps its last k runs (`--perf-baseline-keep`, default 5) measures it directly:

- each run contributes one summary per case and metric (its fastest sample for ``statistic:
  min``, its median for ``median``), on the log scale;
- a case's between-run variance ``s_i^2`` (``d_i = k_i - 1`` degrees of freedom) is moderated
  toward the variance pooled over the suite's other cases (``s_0^2``, ``d_0`` degrees of freedom,
  capped at `PRIOR_DF`): ``s~^2 = (d_0 s_0^2 + d_i s_i^2) / (d_0 + d_i)`` with ``d_0 + d_i``
  degrees of freedom. This is the moderated variance of Smyth's limma (2004): a case with five
  replicates borrows strength from the others without being forced to their spread, and a
  noisy case keeps its own larger variance;
- the new run's summary against the replicates' mean is a prediction, not a difference of two
  means: its SD is ``s~ * sqrt(1 + 1/k)``, and the interval uses Student's t at the gate's
  confidence (Bonferroni over the suite, as every other verdict);
- the new run's own disturbance counts too: for ``min``, its block spread
  (`perfsuite.compare.stats.block_spread`) when that is larger; and never less than
  ``replicate_floor``.

The gate uses this model whenever the baseline holds at least ``min_replicates`` saved runs, for
every case with at least one usable run in it: a case measured in fewer runs (new, or left out of
disturbed runs) borrows the pooled variance of the others. With fewer saved runs it falls back to
the single-run rule with its ``noise_floor``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from perfsuite.compare.stats import RatioEstimate, block_spread

PRIOR_DF = 20  # at most this many pooled degrees of freedom are lent to one case


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile (Hill 1970, ACM algorithm 396 expansion); exact normal limit for df -> inf.

    Accurate to better than 0.5% for df >= 3 at the tail probabilities the gate uses
    (checked against scipy in tests/test_gate_replicates.py); df < 1 is refused.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        a = 2.0 * p - 1.0
        return a * math.sqrt(2.0 / (1.0 - a * a))
    # Hill's algorithm 396 on the two-sided tail probability.
    q = 2.0 * (1.0 - p)
    n = float(df)
    a = 1.0 / (n - 0.5)
    b = 48.0 / (a * a)
    c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36
    d = ((94.5 / (b + c) - 3.0) / b + 1.0) * math.sqrt(a * math.pi / 2.0) * n
    x = d * q
    y = x ** (2.0 / n)
    if y > 0.05 + a:
        x = NormalDist().inv_cdf(q * 0.5)
        y = x * x
        if n < 5:
            c += 0.3 * (n - 4.5) * (x + 0.6)
        c = (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b + c
        y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x
        y = a * y * y
        y = math.expm1(y)
    else:
        y = ((1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0) + 0.5 / (n + 4.0)) * y - 1.0) * (n + 1.0) / (n + 2.0) + 1.0 / y
    return math.sqrt(n * y)


@dataclass(frozen=True)
class CaseSpread:
    """The between-run spread of one case's summaries (log scale)."""

    runs: int
    mean: float  # mean of the log summaries
    var: float  # sample variance (ddof 1); 0 with one run
    disturbed: tuple[str, ...] = ()  # flags of disturbed runs kept (only when the case has no clean run): its times may be high
    left_out: tuple[str, ...] = ()  # one line per baseline run left out for this case, saying why


@dataclass(frozen=True)
class ReplicateModel:
    """Every case's replicate spread for one metric, and the pooled figures lent between cases."""

    cases: Mapping[str, CaseSpread]
    runs_saved: int = 0  # runs the baseline holds (what the user saved), whatever each case kept of them

    @classmethod
    def from_summaries(
        cls,
        summaries: Mapping[str, Sequence[float]],
        *,
        runs_saved: int | None = None,
        disturbed: Mapping[str, Sequence[str]] | None = None,
        left_out: Mapping[str, Sequence[str]] | None = None,
    ) -> ReplicateModel:
        """``summaries``: case key -> one summary (> 0) per baseline run.

        ``runs_saved`` defaults to the most runs any case has; ``disturbed`` / ``left_out`` describe,
        per case, the disturbed runs kept and the runs left out (see `CaseSpread`).
        """
        cases = {}
        for key, values in summaries.items():
            logs = np.log(np.asarray([v for v in values if v > 0 and math.isfinite(v)], dtype=float))
            if logs.size == 0:
                continue
            var = float(np.var(logs, ddof=1)) if logs.size > 1 else 0.0
            cases[key] = CaseSpread(int(logs.size), float(logs.mean()), var, tuple((disturbed or {}).get(key, ())),
                                    tuple((left_out or {}).get(key, ())))
        saved = runs_saved if runs_saved is not None else max((c.runs for c in cases.values()), default=0)
        return cls(cases, saved)

    def judges(self, key: str, min_replicates: int) -> bool:
        """Whether this model judges case ``key``: the baseline has ``min_replicates`` runs and the case is in one."""
        return self.runs_saved >= min_replicates and key in self.cases

    def moderated(self, key: str) -> tuple[float, float]:
        """(variance, degrees of freedom) of case ``key``: its own, moderated toward the others' pooled."""
        own = self.cases[key]
        d_i = own.runs - 1
        others = [(c.runs - 1, c.var) for k, c in self.cases.items() if k != key and c.runs > 1]
        d_pool = sum(d for d, _ in others)
        s0 = sum(d * v for d, v in others) / d_pool if d_pool else 0.0
        d_0 = min(d_pool, PRIOR_DF)
        df = d_0 + d_i
        if df == 0:
            return 0.0, 0.0
        return (d_0 * s0 + d_i * own.var) / df, float(df)


def ratio_to_replicates(
    model: ReplicateModel,
    key: str,
    head_samples: Sequence[float],
    *,
    statistic: str,
    confidence: float,
    floor: float,
) -> RatioEstimate | None:
    """head's summary / the replicates' geometric mean, with a prediction interval; None without variance."""
    return ratio_of_runs_to_replicates(model, key, (head_samples,), statistic=statistic, confidence=confidence, floor=floor)


def ratio_of_runs_to_replicates(
    model: ReplicateModel,
    key: str,
    head_runs: Sequence[Sequence[float]],
    *,
    statistic: str,
    confidence: float,
    floor: float,
) -> RatioEstimate | None:
    """The geometric mean of k new runs' summaries / the replicates' geometric mean, with its interval.

    With one new run this is the prediction interval of the module docstring. With k runs (the
    gate's confirmation runs) the mean of their log summaries has SD ``s~ * sqrt(1/k + 1/n)``,
    and the new runs' own spread joins the variance (``k - 1`` more degrees of freedom): k runs
    that disagree with each other (one of them disturbed) widen their own interval instead of
    passing their outlier on as a regression. None without variance or without a usable run.
    """
    if key not in model.cases:
        return None
    var, df = model.moderated(key)
    own = model.cases[key]
    runs = [np.asarray(r, dtype=float) for r in head_runs]
    runs = [r for r in runs if r.size and np.all(r > 0) and np.all(np.isfinite(r))]
    if not runs:
        return None
    logs = np.log([float(r.min()) if statistic == "min" else float(np.median(r)) for r in runs])
    k = len(runs)
    if k > 1:
        var = (df * var + (k - 1) * float(np.var(logs, ddof=1))) / (df + k - 1)
        df += k - 1
    if df < 1:
        return None
    estimate = float(logs.mean()) - own.mean
    sd = math.sqrt(var * (1.0 / k + 1.0 / own.runs))
    if statistic == "min":
        spreads = [block_spread(r) for r in runs if r.size >= 6]
        if spreads:  # each run's own disturbance, averaged over the k runs
            sd = max(sd, math.sqrt(sum(b * b for b in spreads) / len(spreads) / k))
    sd = max(sd, math.log1p(floor))
    half = t_quantile(0.5 + confidence / 2.0, df) * sd
    return RatioEstimate(
        ratio=math.exp(estimate),
        low=math.exp(estimate - half),
        high=math.exp(estimate + half),
        confidence=confidence,
        n_base=own.runs,
        n_head=k,
        method="replicates",
        noise_floor=floor,
    )
