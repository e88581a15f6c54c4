"""perfsuite's command-line surface next to other plugins and pytest-benchmark's options.

Every run is a subprocess (pytester), as a user runs it. The benchmarks here use perfsuite's
fixtures but build no model (perf_case, device, the benchmark fixture with given samples), so each
run costs a config composition, not a measurement.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfsuite.benchmark_options import BenchmarkOptionError, given_options, translate

MINI_SUITE = "name: mini\nmodels: [bert.tiny]\ndatasets: [pydoc]\nbatch_sizes: [1]\n"

# A user's own benchmark: perfsuite's fixtures, no model built.
USER_BENCH = """
from perfsuite.benchmark_fixture import record_samples


def test_case(perf_case, device, request):
    stop = perf_case.config.measure.stop
    print(f"PERF device={device} min_rounds={stop.min_rounds} max_time_s={stop.max_time_s} "
          f"warmup_max_calls={perf_case.config.measure.warmup.max_calls}")
    print(f"THEIRS device={request.config.getoption('device', 'n/a')}")


def test_samples(benchmark, perf_case):
    record_samples(benchmark, [0.001, 0.002, 0.0015, 0.001, 0.0012], {"timer": "fake"},
                   profile_call=lambda: sorted(range(2000), key=lambda x: -x))
"""

THEIR_DEVICE_OPTION = """
def pytest_addoption(parser):
    parser.addoption("--device", default="their-default", help="another plugin's --device")
"""


@pytest.fixture
def user_run(pytester: pytest.Pytester, conf_dir, tmp_path):
    """Run a user's bench folder with their own conf dir (the suite above) and an out dir under tmp."""
    conf = conf_dir({"suite/mini.yaml": MINI_SUITE})
    pytester.makepyfile(**{"my_benches/test_mine": USER_BENCH})
    out = tmp_path / "out"

    def run(*args: str) -> pytest.RunResult:
        base = ["my_benches", "-p", "no:cacheprovider", "-s", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out)]
        return pytester.runpytest_subprocess(*base, "--perf-suite", "mini", *args)

    run.out = out  # type: ignore[attr-defined]
    return run


def test_user_folder_with_conf_dir_is_a_perfsuite_session(user_run):
    result = user_run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*perfsuite: suite mini, device cpu, 1 cases*", "*PERF device=cpu min_rounds=20 *"])
    (run_dir,) = (user_run.out / "runs").iterdir()
    assert (run_dir / "benchmark.json").is_file() and (run_dir / "results.json").is_file()


# --- --device next to other plugins --------------------------------------------------------


def test_device_owned_by_a_rootdir_conftest(user_run, pytester):
    # The conftest adds --device after perfsuite's pytest_addoption ran.
    pytester.makeconftest(THEIR_DEVICE_OPTION)
    result = user_run("--device", "tpu-7", "--perf-device", "cpu")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*perfsuite: suite mini, device cpu*", "*PERF device=cpu *", "THEIRS device=tpu-7"])
    assert "already added" not in result.stderr.str()


def test_device_owned_by_a_plugin_loaded_before_perfsuite(user_run, pytester):
    pytester.makepyfile(their_plugin=THEIR_DEVICE_OPTION)  # importable: pytester puts its folder on PYTHONPATH
    result = user_run("-p", "their_plugin", "--device", "tpu-7", "--perf-device", "cpu")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*PERF device=cpu *", "THEIRS device=tpu-7"])


def test_someone_elses_device_is_never_read_as_perfsuites(user_run, pytester):
    # Their --device says cuda; perfsuite reads only --perf-device (default cpu), so nothing is missing.
    pytester.makeconftest(THEIR_DEVICE_OPTION)
    result = user_run("--device", "cuda")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*PERF device=cpu *", "THEIRS device=cuda"])


def test_missing_device_names_perf_device_when_device_is_taken(user_run, pytester):
    pytester.makeconftest(THEIR_DEVICE_OPTION)
    result = user_run("--perf-device", "cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-device cuda was requested, but *Run with --perf-device cpu*"])


def test_perf_device_works_when_perfsuite_owns_device_too(user_run):
    result = user_run("--perf-device", "cpu")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*PERF device=cpu *"])


def test_missing_device_skip_message_does_not_ask_for_the_flag_given(user_run):
    result = user_run("--perf-device", "cuda", "--perf-on-missing-device=skip", "-rs", "-k", "test_case")
    result.assert_outcomes(skipped=1, deselected=1)
    result.stdout.fnmatch_lines(["*SKIPPED*--perf-device cuda was requested, but *Skipped as asked by --perf-on-missing-device=skip*"])
    assert "or pass --perf-on-missing-device=skip" not in result.stdout.str()


# --- --perf-suite takes a name -------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "../conf/suite/smoke", "suites/mini", ".hidden", "a\\b"])
def test_perf_suite_rejects_paths(user_run, name):
    result = user_run("--perf-suite", name)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --perf-suite takes the name of a suite, not a path (got *). Available: default, mini, runtimes, smoke.*"])
    assert not user_run.out.exists()


# --- the run folder and --collect-only ------------------------------------------------------


def test_collect_only_prints_no_run_folder(user_run):
    result = user_run("--collect-only")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["perfsuite: suite mini, device cpu, 1 cases*"])
    assert "perfsuite: run folder" not in result.stdout.str()
    assert not (user_run.out / "runs").exists() or not [p for p in (user_run.out / "runs").iterdir() if not p.name.startswith(".")]


def test_run_header_names_the_run_folder(user_run):
    result = user_run("-k", "test_case")
    (run_dir,) = (user_run.out / "runs").iterdir()
    result.stdout.fnmatch_lines([f"perfsuite: run folder {run_dir}"])


# --- pytest-benchmark's options --------------------------------------------------------------


def test_users_benchmark_json_is_written_and_copied(user_run, tmp_path):
    chosen = tmp_path / "mine.json"
    result = user_run("--benchmark-json", str(chosen))
    result.assert_outcomes(passed=2)
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    (run_dir,) = (user_run.out / "runs").iterdir()
    mine = json.loads(chosen.read_text())
    assert [b["name"] for b in mine["benchmarks"]] == ["test_samples[bert.tiny-pydoc-eager-bs1-cpu]"]
    assert json.loads((run_dir / "benchmark.json").read_text())["benchmarks"] == mine["benchmarks"]


def test_timing_options_become_perfsuite_policy(user_run):
    result = user_run("--benchmark-min-rounds", "7", "--benchmark-max-time=2.5", "--benchmark-warmup-iterations", "9", "-k", "test_case")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*PERF device=cpu min_rounds=7 max_time_s=2.5 warmup_max_calls=9"])


def test_explicit_perf_override_beats_the_benchmark_option(user_run):
    result = user_run("--benchmark-min-rounds", "7", "--perf-override", "measure.stop.min_rounds=11", "-k", "test_case")
    result.stdout.fnmatch_lines(["*PERF device=cpu min_rounds=11 *"])


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--benchmark-timer", "time.time"], "*--benchmark-timer is not supported in a perfsuite run: *measure.cuda_timing=isolated|pipelined*"),
        (["--benchmark-min-time", "0.1"], "*--benchmark-min-time is not supported*measure.stop.min_time_s=SECONDS*"),
        (["--benchmark-calibration-precision", "3"], "*--benchmark-calibration-precision is not supported*measure.stop.target_rel_ci*"),
        (["--benchmark-warmup", "off"], "*--benchmark-warmup is not supported*measure.warmup.max_calls=N*"),
    ],
)
def test_timing_options_perfsuite_cannot_honour_are_usage_errors(user_run, args, names):
    result = user_run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {names}"])
    assert not user_run.out.exists()


def test_benchmark_cprofile_prints_the_table(user_run, tmp_path):
    chosen = tmp_path / "mine.json"
    dump = tmp_path / "profiles" / "run"
    result = user_run("--benchmark-cprofile", "tottime", "--benchmark-json", str(chosen), f"--benchmark-cprofile-dump={dump}", "-k", "test_samples")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*cProfile (time in s)*", "*test_samples*", "ncalls*tottime*", "*sorted*"])
    (bench,) = json.loads(chosen.read_text())["benchmarks"]
    assert any("sorted" in row["function_name"] for row in bench["cprofile"])
    assert bench["stats"]["rounds"] == 5  # the profiled calls are not samples
    (prof,) = dump.parent.iterdir()
    assert prof.name.startswith("run-test_samples") and prof.suffix == ".prof" and prof.stat().st_size > 0


# --- the translation itself (pure) ----------------------------------------------------------


def test_translate_only_what_was_given():
    values = {"benchmark_min_rounds": 5, "benchmark_max_time": 1.0, "benchmark_timer": "perf_counter", "benchmark_disable_gc": True}
    assert translate(values, set()) == ()
    assert translate(values, {"--benchmark-min-rounds"}) == ("measure.stop.min_rounds=5",)
    assert translate(values, {"--benchmark-disable-gc", "--benchmark-max-time"}) == ("measure.stop.max_time_s=1.0", "measure.disable_gc=true")
    with pytest.raises(BenchmarkOptionError, match="--benchmark-timer is not supported"):
        translate(values, {"--benchmark-timer"})


@pytest.mark.parametrize(("value", "accepted"), [(None, True), (True, True), (False, False)])
def test_warmup_on_is_honoured_and_off_is_refused(value, accepted):
    # None is the bare `--benchmark-warmup` ("activates warmup"); False is 'off' (or 'auto' on CPython).
    if accepted:
        assert translate({"benchmark_warmup": value}, {"--benchmark-warmup"}) == ()
    else:
        with pytest.raises(BenchmarkOptionError, match="cannot be turned off"):
            translate({"benchmark_warmup": value}, {"--benchmark-warmup"})


def test_given_options_reads_both_spellings():
    args = ["benches", "--benchmark-max-time=2", "--benchmark-min-rounds", "3", "--benchmark-json", "x.json", "-k", "x"]
    assert given_options(args) == {"--benchmark-max-time", "--benchmark-min-rounds"}


def test_pyproject_packages_name_every_package():
    # The wheel lists its packages explicitly (conf/ and fixtures/ are mapped in): a new
    # perfsuite subpackage missing from the list would be missing from the wheel.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    repo = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "perfsuite").rglob("__init__.py")}
    assert on_disk <= listed
    assert {"perfsuite._fixtures", "perfsuite._conf"} <= listed
