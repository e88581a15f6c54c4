"""A run as tables: `tables/cases.csv` (one row per case) and `tables/metrics.parquet` (one row per case x metric).

The long table is what a notebook wants: ``pd.read_parquet(run_dir / "tables/metrics.parquet")``
(or `load_metrics(run_dir)`, which builds the same frame from results.json for any run, imported
ones included), then filter, pivot and concatenate runs. The wide CSV is what a spreadsheet wants:
one row per case, one column per metric, units in the column names. The columns are documented
in docs/tables.md; `LONG_COLUMNS` and `metric_specs()` here are their one definition.

Every case gets a row for every metric of its kind: a figure that was not measured or not
established is empty (NaN in pandas), with the reason in `not_established` when there is one,
so a failed case still shows up, and `pivot`/`groupby` never meet a missing key.

`metric_records` / `case_records` are pure; the writers at the bottom do the I/O, atomically. The
CSV needs only the standard library; the Parquet file needs pandas and pyarrow (the `report`
extra) and is skipped, with one warning, without them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfsuite.measure.stats import SampleStats
from perfsuite.results.case import CaseResult
from perfsuite.results.layout import atomic_write_bytes, atomic_write_text
from perfsuite.results.run import RunResult, load_run

if TYPE_CHECKING:
    import pandas as pd

TABLES_DIR = "tables"
CASES_CSV = "cases.csv"
METRICS_PARQUET = "metrics.parquet"
OWN_PREFIX = "own."  # a test's own figure (perf.metric) in the tables: own.<name>
PARQUET_NEEDS = "pandas and pyarrow: pip install 'perfsuite[report]'"


class PerfTablesWarning(UserWarning):
    """A table of the run folder could not be written (a missing optional package)."""


# -- what a metric is --------------------------------------------------------------------------------

Getter = Callable[[CaseResult], "float | None"]


@dataclass(frozen=True)
class MetricSpec:
    """One figure of a case: its name (a table column), unit, the kinds that have it, how to read it."""

    name: str
    unit: str  # "s", "B", "samples/s", "tokens/s", "tokens", "FLOP", "FLOP/B", "params", "steps", "ratio"
    kinds: tuple[str, ...]
    value: Getter
    why: Callable[[CaseResult], str | None] = lambda r: None  # why a missing value is missing
    n: Callable[[CaseResult], int | None] = lambda r: None  # samples behind the figure


LATENCY, GENERATION, PROFILE, STATIC = ("latency",), ("generation",), ("profile",), ("static",)
MEASURED = LATENCY + GENERATION


def _latency_n(r: CaseResult) -> int | None:
    return r.stats.n if r.stats is not None else None


def _stat(kind_stats: Callable[[CaseResult], SampleStats | None], key: str) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    """Reader and reason of one statistic (`p50`, `mean`, ...) of the stats `kind_stats` picks."""

    def value(r: CaseResult) -> float | None:
        stats = kind_stats(r)
        return None if stats is None else getattr(stats, f"{key}_s", getattr(stats, key, None))

    def why(r: CaseResult) -> str | None:
        stats = kind_stats(r)
        return None if stats is None else stats.not_established.get(key)

    return value, why


def _ci(i: int) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    def value(r: CaseResult) -> float | None:
        ci = r.stats.median_ci_s if r.stats is not None else None
        return None if ci is None else ci[i]

    return value, lambda r: r.stats.not_established.get("median_ci") if r.stats is not None else None


def _gen(part: str) -> Callable[[CaseResult], SampleStats | None]:
    return lambda r: getattr(r.generation, part) if r.generation is not None else None


def _gen_n(r: CaseResult) -> int | None:
    return r.generation.n_runs if r.generation is not None else None


def _rate(attr: str) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    return (lambda r: getattr(r.throughput, attr) if r.throughput is not None else None,
            lambda r: r.throughput.not_established if r.throughput is not None else None)


def _host(attr: str) -> Getter:
    return lambda r: getattr(r.memory.host, attr) if r.memory is not None and r.memory.host is not None else None


def _cuda(attr: str) -> Getter:
    return lambda r: getattr(r.memory.cuda, attr) if r.memory is not None and r.memory.cuda is not None else None


def _weights(r: CaseResult) -> float | None:
    if r.static is not None:
        return r.static.weights_bytes
    return r.memory.weights_bytes if r.memory is not None else None


def _flops(r: CaseResult) -> float | None:
    if r.static is not None:
        return r.static.flops_per_call
    return r.profile.flops_per_call if r.profile is not None else None


def _first_call(r: CaseResult) -> float | None:
    return r.measurement.first_call_s if r.measurement is not None else None


def metric_specs() -> tuple[MetricSpec, ...]:
    """Every metric, in column order."""
    latency = lambda r: r.stats  # noqa: E731
    specs = [MetricSpec(f"latency_{k}_s", "s", LATENCY, *_stat(latency, k), n=_latency_n)
             for k in ("p50", "p90", "p95", "p99", "mean", "min", "max", "stdev", "iqr")]
    specs.append(MetricSpec("latency_cv", "ratio", LATENCY, *_stat(latency, "cv"), n=_latency_n))
    specs += [MetricSpec(f"latency_median_ci_{side}_s", "s", LATENCY, *_ci(i), n=_latency_n) for i, side in enumerate(("low", "high"))]
    specs.append(MetricSpec("samples_per_s", "samples/s", LATENCY, *_rate("samples_per_s"), n=_latency_n))
    specs.append(MetricSpec("tokens_per_s", "tokens/s", LATENCY, *_rate("tokens_per_s"), n=_latency_n))
    specs.append(MetricSpec("first_call_s", "s", LATENCY, _first_call))
    for part, keys in (("ttft", ("p50", "p90", "p99")), ("tpot", ("p50", "p90", "p99")), ("inter_token", ("p50", "p99")), ("e2e", ("p50", "p90", "p99"))):
        specs += [MetricSpec(f"{part}_{k}_s", "s", GENERATION, *_stat(_gen(part), k), n=_gen_n) for k in keys]
    # decode_tokens_per_s is a SampleStats of rates: its "p50_s" field holds tokens/s, not seconds
    specs.append(MetricSpec("decode_tokens_per_s_p50", "tokens/s", GENERATION, *_stat(_gen("decode_tokens_per_s"), "p50"), n=_gen_n))
    specs.append(MetricSpec("new_tokens", "tokens", GENERATION, lambda r: r.generation.new_tokens if r.generation else None))
    specs.append(MetricSpec("prompt_tokens", "tokens", GENERATION, lambda r: r.generation.prompt_tokens if r.generation else None))
    specs.append(MetricSpec("load_s", "s", MEASURED, lambda r: r.load_s))
    specs += [
        # The case's own memory (counted from the level before its model was built): what the gate judges.
        MetricSpec("host_rss_own_bytes", "B", MEASURED, _host("own_peak_bytes")),
        MetricSpec("host_rss_peak_bytes", "B", MEASURED, _host("rss_peak_bytes")),  # the process's: context
        MetricSpec("host_rss_increase_bytes", "B", MEASURED, _host("rss_increase_bytes")),
        MetricSpec("cuda_max_allocated_bytes", "B", MEASURED, _cuda("max_allocated_bytes")),
        MetricSpec("cuda_max_reserved_bytes", "B", MEASURED, _cuda("max_reserved_bytes")),
        MetricSpec("weights_bytes", "B", MEASURED + STATIC, _weights),
        MetricSpec("params", "params", STATIC, lambda r: r.static.params if r.static else None),
        MetricSpec("flops_per_call", "FLOP", PROFILE + STATIC, _flops),
        MetricSpec("flops_per_weight_byte", "FLOP/B", STATIC, lambda r: r.static.flops_per_weight_byte if r.static else None),
        MetricSpec("profile_total_flops", "FLOP", PROFILE, lambda r: r.profile.total_flops if r.profile else None),
        MetricSpec("profile_active_steps", "steps", PROFILE, lambda r: r.profile.active_steps if r.profile else None),
    ]
    return tuple(specs)


SPECS = metric_specs()
BY_NAME: Mapping[str, MetricSpec] = {s.name: s for s in SPECS}


def value_of(name: str, result: CaseResult) -> float | None:
    """One metric of one case as a finite float, or None (not measured, not established, NaN)."""
    raw = BY_NAME[name].value(result)
    if raw is None or isinstance(raw, bool):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


# -- the rows ----------------------------------------------------------------------------------------

# (column, pandas dtype). Strings are pandas' "string" dtype, whole numbers nullable "Int64".
CASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "string"), ("suite", "string"), ("started", "string"), ("test", "string"), ("kind", "string"),
    ("case_id", "string"), ("model", "string"), ("model_family", "string"), ("modality", "string"),
    ("dataset", "string"), ("sampling", "string"), ("runtime", "string"), ("batch_size", "Int64"),
    ("seq_len", "Int64"), ("image_size", "Int64"), ("precision", "string"), ("device", "string"),
    ("outcome", "string"), ("reason", "string"), ("noisy", "bool"), ("noise", "string"),
)
LONG_COLUMNS: tuple[tuple[str, str], ...] = CASE_COLUMNS + (
    ("metric", "string"), ("unit", "string"), ("value", "float64"), ("n_samples", "Int64"), ("not_established", "string"),
)


def _case_fields(run: RunResult, r: CaseResult) -> dict[str, Any]:
    c = r.case
    return {
        "run_id": run.run_dir.name, "suite": run.suite, "started": run.started, "test": r.test, "kind": r.kind,
        "case_id": c.id, "model": c.model, "model_family": c.model_family, "modality": c.modality,
        "dataset": c.dataset, "sampling": c.sampling, "runtime": c.runtime, "batch_size": c.batch_size,
        "seq_len": c.seq_len, "image_size": c.image_size, "precision": c.precision, "device": c.device,
        "outcome": r.outcome, "reason": r.reason, "noisy": bool(r.noise_codes), "noise": ",".join(r.noise_codes) or None,
    }


def metric_records(run: RunResult) -> list[dict[str, Any]]:
    """One record per case x metric of its kind, in run order then metric order (`LONG_COLUMNS`)."""
    out = []
    for r in run.cases:
        base = _case_fields(run, r)
        for spec in SPECS:
            if r.kind not in spec.kinds:
                continue
            value = value_of(spec.name, r)
            out.append({
                **base, "metric": spec.name, "unit": spec.unit, "value": value, "n_samples": spec.n(r),
                "not_established": spec.why(r) if value is None else None,
            })
        for m in r.metrics:  # the test's own figures (perf.metric)
            out.append({**base, "metric": OWN_PREFIX + m.name, "unit": m.unit, "value": m.value, "n_samples": None, "not_established": None})
    return out


def _own_columns(run: RunResult) -> list[str]:
    """cases.csv's columns of the tests' own figures, in the order they first appear."""
    return list(dict.fromkeys(OWN_PREFIX + m.name for r in run.cases for m in r.metrics))


def wide_columns(run: RunResult) -> list[tuple[str, str]]:
    """cases.csv's (column, dtype)s: the case's own, `n_samples`, then the metrics of the kinds in the run."""
    kinds = {r.kind for r in run.cases}
    return [*CASE_COLUMNS, ("n_samples", "Int64"), *((s.name, "float64") for s in SPECS if kinds & set(s.kinds)),
            *((name, "float64") for name in _own_columns(run))]


def case_records(run: RunResult) -> list[dict[str, Any]]:
    """One record per case (test x case id), metrics as columns (`wide_columns`)."""
    out = []
    for r in run.cases:
        row = _case_fields(run, r)
        row["n_samples"] = _gen_n(r) if r.kind == "generation" else _latency_n(r)
        for spec in SPECS:
            if r.kind in spec.kinds:
                row[spec.name] = value_of(spec.name, r)
        row.update({OWN_PREFIX + m.name: m.value for m in r.metrics})
        out.append(row)
    return out


# -- serializations ----------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts like a formula (CSV injection): such text gets a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def csv_text(columns: Sequence[tuple[str, str]], records: Iterable[Mapping[str, Any]]) -> str:
    """CSV (RFC 4180 quoting) of `records`: empty cells for missing values, exact floats."""
    names = [name for name, _ in columns]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for rec in records:
        writer.writerow([_csv_cell(rec.get(c)) for c in names])
    return buf.getvalue()


def json_text(records: Iterable[Mapping[str, Any]]) -> str:
    """A JSON array of row objects (`pd.read_json(..., orient="records")`); missing values are null."""
    return json.dumps(list(records), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def frame(records: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """A DataFrame with the documented columns and dtypes (also when there are no records)."""
    import pandas as pd

    names = [name for name, _ in columns]
    df = pd.DataFrame.from_records(list(records), columns=names)
    return df.astype({name: dtype for name, dtype in columns})


def parquet_bytes(records: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> bytes:
    """A Parquet file of `records` with the documented dtypes; ImportError without pandas or pyarrow."""
    import pyarrow  # noqa: F401 - else pandas would try fastparquet, or fail with a vaguer message

    data = frame(records, columns).to_parquet(None, index=False, engine="pyarrow")
    assert isinstance(data, bytes)
    return data


def load_metrics(run_dir: str | Path) -> pd.DataFrame:
    """The long table of a run (one row per case x metric), built from its results.json.

    The same frame as ``pd.read_parquet(run_dir / "tables/metrics.parquet")``, for any run: one
    written before tables existed, an imported one, one whose Parquet file was skipped.
    """
    return frame(metric_records(load_run(Path(run_dir))), LONG_COLUMNS)


def load_cases(run_dir: str | Path) -> pd.DataFrame:
    """The wide table of a run (one row per case, a column per metric), as in tables/cases.csv."""
    run = load_run(Path(run_dir))
    return frame(case_records(run), wide_columns(run))


# -- the run folder ----------------------------------------------------------------------------------

def write_run_tables(run: RunResult) -> list[Path]:
    """Write tables/cases.csv and tables/metrics.parquet into the run folder; the paths written.

    Without pandas/pyarrow only the CSV is written, with one `PerfTablesWarning`.
    """
    folder = run.run_dir / TABLES_DIR
    csv_path = folder / CASES_CSV
    atomic_write_text(csv_path, csv_text(wide_columns(run), case_records(run)))
    written = [csv_path]
    try:
        data = parquet_bytes(metric_records(run), LONG_COLUMNS)
    except ImportError as exc:
        warnings.warn(PerfTablesWarning(
            f"perfsuite wrote {csv_path} but skipped {folder / METRICS_PARQUET}: it needs {PARQUET_NEEDS} ({exc})"
        ), stacklevel=2)
        return written
    atomic_write_bytes(folder / METRICS_PARQUET, data)
    written.append(folder / METRICS_PARQUET)
    return written
