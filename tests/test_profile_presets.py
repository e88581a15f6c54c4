"""The deep-profile presets: profiling.{layers,memory,nsys,ncu} validated and selectable, Nsight commands, output overlays."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import pytest

from conftest import REPO
from perfsuite.cli import main
from perfsuite.config.plan import build_plan
from perfsuite.errors import PerfConfigError
from perfsuite.profile.nsight import ChildRun, nsight_command, not_applicable, run_nsight

CONF = REPO / "conf"
ONE = ["model=gpt2.tiny", "dataset=pydoc", "infer.batch_sizes=[1]"]


def plan(*overrides: str, device: str = "cpu", conf_dirs=()):
    return build_plan(device=device, suite="smoke", overrides=[*ONE, *overrides], conf_dirs=conf_dirs)


def test_deep_profile_pipeline_selects_every_stage_and_the_presets():
    p = plan("pipeline=deep_profile")
    assert p.run.stages == ("direct_inference", "static_analysis", "torch_profiler", "layer_timing", "memory_timeline", "nsight")
    prof = p.cases[0].config.profiling
    assert prof.nsys.trace == ("cuda", "nvtx", "osrt") and prof.ncu.set == "basic" and prof.layers.top_n == 5
    assert plan("profiling.ncu.launch_count=3", "profiling.nsys.capture_nvtx=perfsuite:timed").cases[0].config.profiling.ncu.launch_count == 3


@pytest.mark.parametrize("section", ["nsys", "ncu", "layers", "memory"])
def test_a_preset_key_that_does_not_exist_names_the_valid_keys(section, conf_dir):
    with pytest.raises(PerfConfigError, match=rf"--perf-override profiling\.{section}\.bogus=1.*unknown key.*Allowed: .*enabled"):
        plan(f"+profiling.{section}.bogus=1")
    with pytest.raises(PerfConfigError, match=r"no such key.*Allowed: .*enabled"):
        plan(f"profiling.{section}.bogus=1")
    user = conf_dir({f"profiling/{section}/mine.yaml": "enabled: true\nbogus: 1\n"})  # a user's preset file with a typo
    with pytest.raises(PerfConfigError, match=rf"in .*profiling/{section}/mine\.yaml, at key 'profiling\.{section}\.bogus': unknown key"):
        plan(f"profiling/{section}=mine", conf_dirs=[user])


def test_a_preset_that_does_not_exist_lists_the_presets():
    with pytest.raises(PerfConfigError, match=r"profiling/nsys.*nope.*Allowed: default, timed"):
        plan("profiling/nsys=nope")


def test_the_timed_presets_keep_only_the_timed_rounds():
    prof = plan("profiling/nsys=timed", "profiling/ncu=timed").cases[0].config.profiling
    assert prof.nsys.capture_nvtx == "perfsuite:timed" and prof.ncu.nvtx_include == "perfsuite:timed/" and prof.ncu.set == "full"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("profiling.nsys.sample=gpu", r"profiling\.nsys\.sample.*unknown value.*Allowed: none, cpu"),
        ("profiling.nsys.trace=[cuda,vulkan]", r"profiling\.nsys\.trace\[1\].*unknown nsys trace"),
        ("profiling.ncu.set=everything", r"profiling\.ncu\.set.*Allowed: basic, detailed, full"),
        ("profiling.ncu.kernel_regex='gemm(('", r"kernel_regex.*not a regular expression"),
        ("profiling.ncu.launch_count=0", r"profiling\.ncu\.launch_count.*must be >= 1"),
        ("profiling.layers.passes=0", r"profiling\.layers\.passes.*must be >= 1"),
        ("profiling.memory.period_s=0", r"profiling\.memory\.period_s.*must be a number > 0"),
    ],
)
def test_bad_preset_values_are_clear_errors(override, message):
    with pytest.raises(PerfConfigError, match=message):
        plan(override)


def test_a_config_without_the_new_sections_takes_the_defaults(conf_dir):
    """A user's own config.yaml written before the deep-profile presets existed still composes."""
    text = (CONF / "config.yaml").read_text()
    old = "\n".join(line for line in text.splitlines() if not any(f"profiling/{s}:" in line for s in ("layers", "memory", "nsys", "ncu")))
    user = conf_dir({"config.yaml": old})
    prof = plan(conf_dirs=[user]).cases[0].config.profiling
    assert prof.layers.passes == 5 and prof.nsys.enabled and prof.ncu.launch_count == 20


# -- Nsight commands --------------------------------------------------------------------------------


def _case(*overrides: str, device: str = "cuda"):
    return plan(*overrides, device=device).cases[0]


def test_nsys_and_ncu_commands_are_exact(tmp_path):
    case = _case("profiling.nsys.capture_nvtx=perfsuite:timed", "profiling.ncu.kernel_regex=gemm", "profiling.ncu.nvtx_include=perfsuite:timed/")
    child = ChildRun(case.id, f"benches/test_latency.py::test_latency[{case.id}]", "smoke", "cuda",
                     overrides=("model=gpt2.tiny", "pipeline=deep_profile"), out_dir=str(tmp_path / "o"), python="python")
    nsys = nsight_command("nsys", case, child, tmp_path)
    argv = list(nsys.argv)
    assert argv[:6] == ["nsys", "profile", "--trace=cuda,nvtx,osrt", "--sample=none", f"--output={tmp_path / case.id}.nsys", "--force-overwrite=true"]
    assert argv[6:10] == ["--capture-range=nvtx", "--nvtx-capture=perfsuite:timed", "--capture-range-end=stop",
                          "--env-var=NSYS_NVTX_PROFILER_REGISTER_ONLY=0"]
    assert argv[10:15] == ["python", "-m", "pytest", child.node, "--perf-suite"]
    assert "pipeline=deep_profile" not in argv and argv[argv.index("pipeline=default") - 1] == "--perf-override"
    assert shlex.split(nsys.shell()) == argv and nsys.report == tmp_path / f"{case.id}.nsys.nsys-rep"
    ncu = list(nsight_command("ncu", case, child, tmp_path).argv)
    assert ncu[:11] == ["ncu", "--set", "basic", "--target-processes", "all", "--launch-skip", "0", "--launch-count", "20", "--export", f"{tmp_path / case.id}.ncu"]
    assert ["--kernel-name", "regex:gemm", "--nvtx", "--nvtx-include", "perfsuite:timed/"] == ncu[12:17]


def test_ncu_does_not_apply_off_cuda_and_disabled_presets_say_so():
    cpu = _case(device="cpu")
    assert "ncu analyses CUDA kernels" in not_applicable("ncu", cpu, True)
    assert not_applicable("nsys", cpu, True) is None
    assert not_applicable("nsys", cpu, False) == "profiling.nsys.enabled is false"


def _fake_tool(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_run_nsight_skips_naming_the_tool_when_missing(tmp_path):
    case = _case()
    cmd = nsight_command("nsys", case, ChildRun(case.id, "n", "smoke", "cuda"), tmp_path)
    run = run_nsight(cmd, log_path=tmp_path / "log", which=lambda tool: None)
    assert run.status == "skipped" and run.reason.startswith("nsys not found on PATH: install NVIDIA Nsight Systems")
    assert run.command == cmd.shell() and not (tmp_path / "log").exists()


def test_run_nsight_runs_the_tool_on_path_and_records_its_report(tmp_path, monkeypatch):
    """A stand-in nsys that writes the report its --output names: the stage runs the exact command."""
    case = _case()
    writes = "import sys; out = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--output=')); open(out + '.nsys-rep', 'w').write('rep'); print('ok')"
    _fake_tool(tmp_path / "bin", "nsys", writes)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cmd = nsight_command("nsys", case, ChildRun(case.id, "n", "smoke", "cuda", python="true"), tmp_path / "nsight")
    run = run_nsight(cmd, log_path=tmp_path / "nsight" / "x.log")
    assert run.status == "ran" and run.returncode == 0 and Path(run.report).read_text() == "rep"
    assert "ok" in Path(run.log).read_text()
    _fake_tool(tmp_path / "bin", "nsys", "import sys; print('no GPU'); sys.exit(3)")
    failed = run_nsight(cmd, log_path=tmp_path / "nsight" / "y.log")
    assert failed.status == "failed" and "exited with status 3" in failed.reason and failed.returncode == 3


def test_nsys_cmd_prints_the_command_for_a_case(capsys):
    assert main(["nsys-cmd", "gpt2.tiny-pydoc-eager-bs1-cuda", "--perf-suite", "smoke", *(a for o in ONE for a in ("--perf-override", o))]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[:2] == ["nsys", "profile"] and "benches/test_latency.py::test_latency[gpt2.tiny-pydoc-eager-bs1-cuda]" in argv


def test_nsys_cmd_with_an_unknown_case_lists_the_cases(capsys):
    assert main(["nsys-cmd", "nope", "--perf-suite", "smoke", "--device", "cpu", *(a for o in ONE for a in ("--perf-override", o))]) == 2
    err = capsys.readouterr().err
    assert "no such case in this plan (got 'nope')" in err and "gpt2.tiny-pydoc-eager-bs1-cpu" in err


# -- output overlays --------------------------------------------------------------------------------


def test_every_model_family_has_output_overlays_and_they_apply():
    import yaml

    families = sorted(p.name for p in (CONF / "model").iterdir() if p.is_dir())
    assert families == ["bert", "distilbert", "gemma", "gpt2", "llama", "local", "minilm", "mistral", "phi3", "qwen2", "qwen3",
                        "resnet50", "smollm2"]
    p = build_plan(suite="smoke", overrides=["infer.batch_sizes=[1]"])
    for family in families:
        for stage in ("direct", "torch"):
            overlay = CONF / "model" / family / "output" / stage / "default.yaml"
            assert overlay.is_file(), overlay
            data = yaml.safe_load(overlay.read_text())
            assert data, f"{overlay} sets nothing"
            for case in (c for c in p.cases if c.model.family == family):
                spec = getattr(case.config.output, stage)
                assert all(getattr(spec, k) == v for k, v in data.items()), (case.id, stage, data)
    by_model = {c.model.id: c.config.output.torch for c in p.cases}
    assert by_model["bert.tiny"].op_table_rows == 30 and by_model["gpt2.tiny"].op_table_rows == 20  # shared value kept for gpt2
    assert by_model["resnet50.tiny"].op_table_rows == 15 and by_model["gpt2.tiny"].sort_by == "cpu_time_total"


def test_a_users_overlay_changes_one_model_only(conf_dir):
    user = conf_dir({"model/bert/output/torch/default.yaml": "export_trace: false\nop_table_rows: 2\n"})
    p = build_plan(suite="smoke", overrides=["model=[gpt2.tiny,bert.tiny]", "dataset=pydoc", "infer.batch_sizes=[1]"], conf_dirs=[user])
    out = {c.model.id: c.config.output.torch for c in p.cases}
    assert (out["bert.tiny"].export_trace, out["bert.tiny"].op_table_rows) == (False, 2)
    assert (out["gpt2.tiny"].export_trace, out["gpt2.tiny"].op_table_rows) == (True, 20)
