"""`perfsuite import pytest-benchmark FILE`: a real pytest-benchmark JSON becomes an out/runs/ folder."""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from perfsuite.cli import main
from perfsuite.errors import PerfDataError
from perfsuite.results.importer import import_pytest_benchmark
from perfsuite.results.layout import RUN_DIR_RE, OutLayout

pytest_plugins = ["pytester"]

TINY_BENCH = """
import pytest

@pytest.mark.parametrize("n", [10, 100])
def test_sum(benchmark, n):
    benchmark.extra_info["n"] = n
    assert benchmark(sum, range(n)) == n * (n - 1) // 2
"""
FAST = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.001", "--benchmark-warmup=off", "-p", "no:perfsuite",
        "-p", "no:cacheprovider"]


@pytest.fixture(scope="module")
def saved_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file pytest-benchmark itself wrote with --benchmark-save, in its own storage layout."""
    work = tmp_path_factory.mktemp("pb")
    (work / "test_tiny.py").write_text(TINY_BENCH)
    storage = work / ".benchmarks"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_tiny.py", "-q", "--benchmark-save=tiny",
         f"--benchmark-storage=file://{storage}", *FAST],
        cwd=work, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (saved,) = storage.glob("*/0001_tiny.json")
    return saved


def _with_stat(raw: bytes, key: str, value: float) -> bytes:
    doc = json.loads(raw)
    doc["benchmarks"][0]["stats"][key] = value
    return json.dumps(doc).encode()


def local_ts(iso: str) -> str:
    when = _dt.datetime.fromisoformat(iso)
    return (when.astimezone().replace(tzinfo=None) if when.tzinfo else when).strftime("%Y%m%d-%H%M%S")


def test_benchmark_json_from_pytester_is_imported(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_tiny=TINY_BENCH)
    result = pytester.runpytest_subprocess("--benchmark-json=bench.json", *FAST)
    result.assert_outcomes(passed=2)
    source = pytester.path / "bench.json"
    data = json.loads(source.read_text())

    layout = OutLayout(tmp_path / "out")
    imported = import_pytest_benchmark(source, layout)
    assert not imported.already_imported and imported.benchmarks == 2
    run = imported.run_dir
    assert run.parent == layout.runs
    assert run.name == f"{local_ts(data['datetime'])}_imported-bench"
    assert RUN_DIR_RE.match(run.name)
    assert (run / "benchmark.json").read_bytes() == source.read_bytes()

    env = json.loads((run / "env.json").read_text())
    assert env["imported"] is True
    assert env["source"] == {"format": "pytest-benchmark", "file": str(source), "version": data["version"]}
    assert env["hostname"] == data["machine_info"]["node"]
    assert env["python"] == data["machine_info"]["python_version"]
    assert env["machine_info"] == data["machine_info"] and env["commit_info"] == data["commit_info"]

    config = yaml.safe_load((run / "run_config.yaml").read_text())
    assert config["imported"] is True
    assert config["source"]["file"] == str(source) and config["source"]["datetime"] == data["datetime"]
    assert len(config["source"]["sha256"]) == 64
    assert config["benchmarks"] == [b["fullname"] for b in data["benchmarks"]]
    assert _dt.datetime.fromisoformat(config["imported_at"])


def test_saved_storage_file_is_imported_via_the_cli(
    saved_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["import", "pytest-benchmark", str(saved_json), "--out", str(out)]) == 0
    assert "imported 2 benchmark(s)" in capsys.readouterr().out
    (run,) = (out / "runs").iterdir()
    assert run.name.endswith("_imported-0001_tiny")
    assert sorted(p.name for p in run.iterdir()) == ["benchmark.json", "env.json", "results.json", "run_config.yaml"]
    assert sorted(p.name for p in out.iterdir()) == ["runs"], "no loose files at the top of out/"

    # `perfsuite report` reads the imported run like a measured one.
    from perfsuite.results import load_run

    imported = load_run(run)
    data = json.loads(saved_json.read_text())
    assert imported.imported and imported.status == "finished" and len(imported.cases) == 2
    for case, bench in zip(imported.cases, data["benchmarks"]):
        assert case.stats.p50_s == pytest.approx(bench["stats"]["median"]) and case.stats.n == bench["stats"]["rounds"]
        assert case.stats.p99_s is None and "--benchmark-save-data" in case.stats.not_established["p99"]
        assert case.throughput.samples_per_s == pytest.approx(1 / bench["stats"]["median"])
    assert main(["report", str(run)]) == 0
    out_text = capsys.readouterr().out
    assert "status finished" in out_text and data["benchmarks"][0]["fullname"] in out_text


def test_importing_the_same_file_twice_changes_nothing(saved_json: Path, tmp_path: Path) -> None:
    layout = OutLayout(tmp_path / "out")
    first = import_pytest_benchmark(saved_json, layout)
    second = import_pytest_benchmark(saved_json, layout)
    assert second.already_imported and second.run_dir == first.run_dir
    assert len(list(layout.runs.iterdir())) == 1


def test_a_different_file_with_the_same_name_and_time_gets_its_own_folder(saved_json: Path, tmp_path: Path) -> None:
    layout = OutLayout(tmp_path / "out")
    first = import_pytest_benchmark(saved_json, layout)
    other = tmp_path / "other" / saved_json.name
    other.parent.mkdir()
    data = json.loads(saved_json.read_text())
    data["benchmarks"] = data["benchmarks"][:1]
    other.write_text(json.dumps(data))
    second = import_pytest_benchmark(other, layout)
    assert second.run_dir == first.run_dir.with_name(first.run_dir.name + "-2")
    assert (first.run_dir / "benchmark.json").read_bytes() == saved_json.read_bytes()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "invalid JSON at line"),
        (lambda raw: b"\xff\xfe" + raw, "not UTF-8"),
        (lambda raw: b"[1, 2]", "top level is a list"),
        (lambda raw: json.dumps({**json.loads(raw), "benchmarks": []}).encode(), "holds no benchmarks"),
        (lambda raw: json.dumps({k: v for k, v in json.loads(raw).items() if k != "machine_info"}).encode(),
         "'machine_info' is missing"),
        (lambda raw: json.dumps({**json.loads(raw), "datetime": "yesterday"}).encode(), "not an ISO date-time"),
        (lambda raw: json.dumps({**json.loads(raw), "benchmarks": [{"name": "x", "stats": {"min": 1}}]}).encode(),
         r"benchmarks\[0\].stats.max is missing"),
        (lambda raw: _with_stat(raw, "median", -0.00703), r"benchmarks\[0\].stats.median is -0.00703, not a physical duration"),
        (lambda raw: _with_stat(raw, "min", 0), r"benchmarks\[0\].stats.min is 0, not a physical duration"),
    ],
)
def test_bad_files_are_clear_errors_and_write_nothing(
    saved_json: Path, tmp_path: Path, mutate: object, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(mutate(saved_json.read_bytes()))  # type: ignore[operator]
    layout = OutLayout(tmp_path / "out")
    with pytest.raises(PerfDataError, match=message) as info:
        import_pytest_benchmark(bad, layout)
    assert str(bad) in str(info.value) and "--benchmark-json" in str(info.value)
    assert not layout.root.exists() or not any(layout.runs.iterdir())


def test_cli_error_for_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "pytest-benchmark", str(tmp_path / "nope.json"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
