"""tables/cases.csv and tables/metrics.parquet of a run, `load_metrics`, and `perfsuite export`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections import Counter

import pandas as pd
import pytest

from perfsuite.cli import main
from perfsuite.report.artifacts import write_run_files
from perfsuite.report.tables import LONG_COLUMNS, SPECS, PerfTablesWarning, load_cases, load_metrics, metric_records, write_run_tables
from perfsuite.results.importer import import_pytest_benchmark
from perfsuite.results.layout import OutLayout
from synthetic_runs import HOSTILE_ID, TEXT, cases, write_run


@pytest.fixture
def run(tmp_path):
    return write_run(tmp_path / "run")


def expected_rows(results) -> int:
    return sum(1 for r in results for s in SPECS if r.kind in s.kinds)


def test_one_record_per_case_and_metric_of_its_kind(run):
    records = metric_records(run)
    assert len(records) == expected_rows(run.cases)
    keys = Counter((r["test"], r["case_id"], r["metric"]) for r in records)
    assert max(keys.values()) == 1  # no case x metric twice
    by = {(r["test"], r["case_id"], r["metric"]): r for r in records}
    text = next(c for c in run.cases if c.case.id == TEXT.id and c.kind == "latency")
    p50 = by[("test_latency", TEXT.id, "latency_p50_s")]
    assert p50["value"] == text.stats.p50_s and p50["unit"] == "s" and p50["n_samples"] == text.stats.n
    p99 = by[("test_latency", TEXT.id, "latency_p99_s")]
    assert p99["value"] is None and "needs >= " in p99["not_established"]  # 20 samples cannot bound a p99
    assert by[("test_latency", TEXT.id, "tokens_per_s")]["value"] == pytest.approx(128 / text.stats.p50_s)
    assert by[("test_generation", TEXT.id, "ttft_p50_s")]["value"] == pytest.approx(0.021)
    assert by[("test_static", TEXT.id, "params")]["value"] == 124_000_000
    assert by[("test_profile", TEXT.id, "flops_per_call")]["value"] == 2.5e9
    failed = [r for r in records if r["case_id"] == HOSTILE_ID]
    assert failed and all(r["value"] is None and r["outcome"] == "failed" for r in failed)  # a failed case keeps its rows
    slow = by[("test_latency", "bert.tiny-pydoc-eager-bs8-cpu", "samples_per_s")]
    assert slow["value"] is None and "median latency not established" in slow["not_established"]
    noisy = by[("test_latency", "resnet50.tiny-sample_images-eager-bs2-cpu", "latency_p50_s")]
    assert noisy["noisy"] is True and "throttled" in noisy["noise"].split(",")


def test_parquet_reads_back_with_the_documented_columns_and_dtypes(run):
    written = write_run_tables(run)
    df = pd.read_parquet(run.run_dir / "tables" / "metrics.parquet")
    assert [p.name for p in written] == ["cases.csv", "metrics.parquet"]
    assert list(df.columns) == [name for name, _ in LONG_COLUMNS]
    assert len(df) == expected_rows(run.cases)
    assert pd.api.types.is_float_dtype(df["value"]) and pd.api.types.is_bool_dtype(df["noisy"])
    assert all(pd.api.types.is_integer_dtype(df[c]) for c in ("batch_size", "seq_len", "image_size", "n_samples"))
    assert all(pd.api.types.is_string_dtype(df[c]) for c in ("run_id", "case_id", "metric", "unit", "not_established"))
    assert df["seq_len"].isna().any() and df["value"].isna().any()  # image cases and unestablished figures: missing, not 0
    wide = df.pivot_table(index=["test", "case_id"], columns="metric", values="value")
    assert wide.loc[("test_latency", TEXT.id), "latency_p50_s"] == pytest.approx(0.010)
    pd.testing.assert_frame_equal(df, load_metrics(run.run_dir))  # the notebook helper gives the same frame
    assert not [p for p in (run.run_dir / "tables").iterdir() if p.name.startswith(".")]  # no temp files left


def test_cases_csv_is_one_row_per_case_and_keeps_hostile_text_literal(run):
    write_run_tables(run)
    rows = list(csv.DictReader((run.run_dir / "tables" / "cases.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == len(run.cases)
    hostile = next(r for r in rows if r["case_id"].endswith(HOSTILE_ID[1:]))
    assert hostile["case_id"] == HOSTILE_ID  # quotes, pipes, newlines survive CSV quoting
    assert hostile["model_family"] == "'=SUM(A1)"  # a spreadsheet must not run it as a formula
    assert hostile["reason"] == "RuntimeError: boom\nsecond line | with a pipe" and hostile["latency_p50_s"] == ""
    text = next(r for r in rows if r["case_id"] == TEXT.id and r["kind"] == "latency")
    assert float(text["latency_p50_s"]) == pytest.approx(0.010) and text["latency_p99_s"] == "" and text["noisy"] == "false"
    assert {"ttft_p50_s", "params", "host_rss_peak_bytes"} <= set(rows[0])  # columns of every kind in the run
    wide = load_cases(run.run_dir)
    assert len(wide) == len(run.cases) and pd.api.types.is_float_dtype(wide["latency_p50_s"])


def test_without_pyarrow_the_csv_is_written_and_one_warning_names_the_extra(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    with pytest.warns(PerfTablesWarning, match=r"skipped .*metrics\.parquet.*pip install 'perfsuite\[report\]'") as caught:
        written = write_run_tables(run)
    assert len(caught) == 1 and [p.name for p in written] == ["cases.csv"]
    assert not (run.run_dir / "tables" / "metrics.parquet").exists()


def test_a_folder_that_cannot_take_the_files_is_a_warning_not_a_crash(run):
    (run.run_dir / "tables").write_text("a file where the tables folder belongs")
    with pytest.warns(PerfTablesWarning, match="could not write into"):
        written = write_run_files(run)
    assert [p.name for p in written] == ["summary.md"]


def test_an_empty_run_gives_headers_only(tmp_path):
    empty = write_run(tmp_path / "empty", [])
    write_run_tables(empty)
    df = pd.read_parquet(empty.run_dir / "tables" / "metrics.parquet")
    assert len(df) == 0 and list(df.columns) == [name for name, _ in LONG_COLUMNS]
    assert (empty.run_dir / "tables" / "cases.csv").read_text().count("\n") == 1


# -- perfsuite export ---------------------------------------------------------------------------------

def test_export_defaults_to_the_run_folder_and_each_format_reads_back(run, tmp_path, capsys):
    assert main(["export", str(run.run_dir)]) == 0
    assert "cases.csv (9 rows of cases" in capsys.readouterr().out
    assert (run.run_dir / "tables" / "cases.csv").is_file()
    out = tmp_path / "x" / "m.parquet"
    assert main(["export", str(run.run_dir), "--format", "parquet", "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == expected_rows(run.cases)
    capsys.readouterr()
    assert main(["export", str(run.run_dir), "--format", "json", "-o", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == expected_rows(run.cases) and set(rows[0]) == {name for name, _ in LONG_COLUMNS}
    assert main(["export", str(run.run_dir), "--format", "csv", "--table", "metrics", "-o", "-"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == expected_rows(run.cases)


def test_export_without_run_dir_takes_the_newest_run(tmp_path, capsys):
    layout = OutLayout(tmp_path / "out")
    old = write_run(layout.new_run_dir("a-cpu", dt.datetime(2026, 1, 1)), cases()[:1])
    new = write_run(layout.new_run_dir("b-cpu", dt.datetime(2026, 1, 2)), cases()[1:3])
    assert main(["export", "--out", str(layout.root), "--format", "json", "-o", "-"]) == 0
    assert {r["run_id"] for r in json.loads(capsys.readouterr().out)} == {new.run_dir.name} != {old.run_dir.name}


def test_export_of_an_imported_pytest_benchmark_run(tmp_path, capsys):
    source = tmp_path / "bench.json"
    stats = {"min": 0.001, "max": 0.003, "mean": 0.002, "stddev": 0.0005, "median": 0.002, "rounds": 50, "iqr": 0.0004}
    source.write_text(json.dumps({"machine_info": {"node": "h"}, "datetime": "2026-01-01T00:00:00", "version": "5.1.0",
                                  "benchmarks": [{"name": "test_sum[10]", "fullname": "t.py::test_sum[10]", "stats": stats}]}))
    imported = import_pytest_benchmark(source, OutLayout(tmp_path / "out")).run_dir
    assert main(["export", str(imported), "--format", "parquet"]) == 0
    df = pd.read_parquet(imported / "tables" / "metrics.parquet").set_index("metric")
    assert df.loc["latency_p50_s", "value"] == 0.002 and df.loc["latency_p50_s", "n_samples"] == 50
    assert pd.isna(df.loc["latency_p99_s", "value"]) and "pytest-benchmark's summary" in df.loc["latency_p99_s", "not_established"]
    assert df.loc["latency_p50_s", "case_id"] == "t.py::test_sum[10]" and df.loc["latency_p50_s", "model_family"] == "imported"


def test_export_of_an_interrupted_run_says_so(tmp_path, capsys):
    partial = write_run(tmp_path / "run", cases()[:2], status="interrupted")
    assert main(["export", str(partial.run_dir)]) == 0
    assert "is interrupted: exporting the 2 results it has" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["{tmp}/nope"], "nope is not a folder"),
        ("empty", ["{tmp}/run"], "has no results.json"),
        ("broken", ["{tmp}/run"], "not valid JSON"),
        ("ok", ["{tmp}/run", "--format", "parquet", "-o", "-"], "Parquet is binary"),
        ("ok", ["{tmp}/run", "-o", "{tmp}/run/results.json/x.csv"], "cannot write"),
        (None, ["--out", "{tmp}/out"], "no run folder"),
    ],
)
def test_export_bad_input_is_exit_2_with_a_message(tmp_path, capsys, setup, args, message):
    folder = tmp_path / "run"
    if setup == "ok":
        write_run(folder, cases()[:1])
    elif setup:
        folder.mkdir()
        if setup == "broken":
            (folder / "results.json").write_text("{half a fi")
    assert main(["export", *(a.format(tmp=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perfsuite: error:") and message in err and "Traceback" not in err


def test_export_parquet_without_pyarrow_names_the_extra(run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["export", str(run.run_dir), "--format", "parquet"]) == 2
    assert "pip install 'perfsuite[report]'" in capsys.readouterr().err
    assert main(["export", str(run.run_dir), "--format", "csv"]) == 0  # csv needs neither

