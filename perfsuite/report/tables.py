"""A run as tables: `tables/cases.csv` (one row per case) and `tables/metrics.parquet` (one row per case x metric).

The long table is what a notebook wants: ``pd.read_parquet(run_dir / "tables/metrics.parquet")``
(or `load_metrics(run_dir)`, which builds the same frame from results.json for any run, imported
ones included), then filter, pivot and concatenate runs. The wide CSV is what a spreadsheet wants:
one row per case, one column per metric, units in the column names. The columns are documented
in docs/tables.md; `LONG_COLUMNS` here and the metric registry (`perfsuite.results.metrics`) are their one definition.

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
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfsuite.results.case import CaseResult
from perfsuite.results.layout import atomic_write_bytes, atomic_write_text
from perfsuite.results.metrics import BY_NAME, DEFS, MetricDef, gen_n, latency_n, value_of  # noqa: F401 - BY_NAME, value_of: re-exported
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


# -- what a metric is: perfsuite.results.metrics (the one registry) -----------------------------------

MetricSpec = MetricDef  # the registry's declaration of one column (name, unit, kinds, reader)
SPECS = DEFS


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
        row["n_samples"] = gen_n(r) if r.kind == "generation" else latency_n(r)
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
