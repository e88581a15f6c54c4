from __future__ import annotations

import argparse
import datetime as dt
import json

import pytest

from perfsuite import __version__
from perfsuite.cli import main
from perfsuite.results.layout import RUN_DIR_RE, OutLayout, slugify


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


def test_env_prints_fingerprint(capsys, tmp_path):
    assert main(["env", "--project", str(tmp_path)]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["cpu"]["logical_cores"] >= 1 and env["python"].startswith("3.")
    assert env["packages"]["perfsuite"] == __version__
    assert env["cuda"]["available"] in (True, False)
    assert env["git"]["commit"] is None  # tmp_path is not a git checkout
    assert len(env["machine_id"]) == 12


def test_no_command_prints_help(capsys):
    assert main([]) == 2 and "usage" in capsys.readouterr().out


def test_run_dirs_never_clash(tmp_path):
    layout = OutLayout(tmp_path / "out")
    now = dt.datetime(2026, 11, 23, 12, 0, 0)
    a = layout.new_run_dir("smoke cpu/x", now)
    b = layout.new_run_dir("smoke cpu/x", now)
    assert a != b and a.name == "20261123-120000_smoke-cpu-x" and b.name.endswith("-2")
    assert RUN_DIR_RE.match(a.name) and RUN_DIR_RE.match(b.name)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["runs"]


def test_slugify():
    assert slugify("  ") == "run" and slugify("a b:c") == "a-b-c"


def test_report_prints_summary_of_latest_run(tmp_path, capsys):
    from perfsuite.results import CaseInfo, CaseResult, ResultsWriter

    layout = OutLayout(tmp_path / "out")
    for when in (dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)):
        run = layout.new_run_dir("smoke-cpu", when)
        w = ResultsWriter(run / "results.json", suite="smoke", device="cpu", started=None)
        case = CaseInfo(f"case-{when.day}", "m", "f", "text", "d", "eager", 1, "cpu", "fp32", 0)
        w.record(CaseResult("test_latency", "latency", case, "failed", "t", reason="RuntimeError: boom"))
        w.finish("finished")
    assert main(["report", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "20260102-000000_smoke-cpu" in out and "case-2" in out and "case-1" not in out and "RuntimeError: boom" in out

    # The newest run turns unreadable: report says so and shows the newest readable one.
    newest = sorted((tmp_path / "out" / "runs").iterdir())[-1]
    (newest / "results.json").write_text('{"schema_version": 2, "status": "finished", "results": [{"kind": 3}]}')
    assert main(["report", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "case-1" in captured.out and "skipping an unreadable run" in captured.err and "results[0].kind" in captured.err


@pytest.mark.parametrize("content", [None, "{not json", '{"x": 1}'])
def test_report_bad_input(tmp_path, capsys, content):
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "results.json").write_text(content)
    assert main(["report", str(run)]) == 2
    assert "perfsuite: error:" in capsys.readouterr().err


def test_report_html_never_replaces_a_report_with_one_that_lost_the_case_results(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text('{"schema_version": 2, "status": "finished", "results": [{"kind": 3}]}')
    good = "<html>the report written at the end of the run, with every case</html>"
    (run / "report.html").write_text(good)
    assert main(["report", str(run), "--html"]) == 2
    err = capsys.readouterr().err
    assert "results[0].kind" in err and "report.html was left as it is" in err and "-o NEW.html" in err
    assert (run / "report.html").read_text() == good
    # to a new name it is written, saying what it lacks
    assert main(["report", str(run), "-o", str(tmp_path / "partial.html")]) == 0
    assert (tmp_path / "partial.html").exists() and "no case results are shown" in capsys.readouterr().err


def test_cli_io_errors_are_usage_errors_with_the_path_not_tracebacks(tmp_path, capsys):
    """An output path that cannot be written: exit 2 (1 means 'regressed' to CI), the path and the reason, no traceback."""
    from test_gate_replicates import write_run

    out = tmp_path / "out"
    a = write_run(out / "runs" / "20260101-000000_s-cpu", {"a": 0.01}, seed=1)
    b = write_run(out / "runs" / "20260102-000000_s-cpu", {"a": 0.01}, seed=2)
    blocked = tmp_path / "file"
    blocked.write_text("")
    made = tmp_path / "no" / "such" / "dir" / "v.json"
    assert main(["compare", str(a), str(b), "--json", str(made)]) == 0 and json.loads(made.read_text())["verdicts"]  # folders made
    capsys.readouterr()
    for argv in (["compare", str(a), str(b), "--markdown", str(tmp_path)],  # a directory
                 ["compare", str(a), str(b), "--json", str(blocked / "v.json")],  # under a file
                 ["report", str(b), "-o", str(blocked / "r.html")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("perfsuite: error: ") and str(tmp_path) in err and "Traceback" not in err, err


def test_report_without_runs(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "no run folder" in capsys.readouterr().err


def test_report_into_a_pipe_closed_early_exits_quietly(tmp_path):
    import subprocess
    import sys

    from perfsuite.results import CaseInfo, CaseResult, ResultsWriter

    run = OutLayout(tmp_path / "out").new_run_dir("smoke-cpu", dt.datetime(2026, 1, 1))
    w = ResultsWriter(run / "results.json", suite="smoke", device="cpu", started=None)
    for i in range(3000):  # far more than a pipe buffer holds, so the writer meets the closed pipe
        case = CaseInfo(f"case-{i:04d}-" + "x" * 40, "m", "f", "text", "d", "eager", 1, "cpu", "fp32", 0)
        w.cases[f"test_latency::{case.id}"] = CaseResult("test_latency", "latency", case, "failed", "t", reason="RuntimeError: boom")
    w.finish("finished")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from perfsuite.cli import main; sys.exit(main())", "report", str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"run ")
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


class TestList:
    def test_builtin_names_with_what_they_are(self, capsys):
        for what in ("suites", "models", "datasets", "runtimes"):
            assert main(["list", what]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert any(line.startswith("smoke ") and "Tiny GPT-2" in line for line in lines)
        assert any(line.split() == ["gpt2.tiny", "family", "gpt2,", "adapter", "gpt2,", "modality", "text"] for line in lines)
        assert any(line.startswith("resnet50.tiny ") and "modality image" in line for line in lines)
        assert any(line.startswith("pydoc ") and "adapter text, modality text, source pydoc_topics" in line for line in lines)
        assert any(line.startswith("pytorch ") and "backend pytorch" in line for line in lines)
        assert any(line.startswith("pytorch_bf16_autocast ") and "precision bf16, precision_mode autocast" in line for line in lines)
        assert not any(line.startswith("parity") for line in lines)  # the tolerances' subfolder is no runtime
        assert not any(line.startswith("local") for line in lines)  # the local template is no model

    def test_without_a_kind_it_lists_all_four_under_headings(self, capsys):
        assert main(["list"]) == 0
        out = capsys.readouterr().out
        headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
        assert headings == ["suites:", "models:", "datasets:", "runtimes:"]
        assert "  smoke " in out and "  gpt2.tiny " in out and "  pydoc " in out and "  pytorch " in out

    def test_user_conf_dirs_come_first_and_bad_files_do_not_stop_it(self, conf_dir, capsys):
        conf = conf_dir({
            "suite/mine.yaml": "name: mine\ndescription: My nightly matrix\nmodels: [bert.tiny]\ndatasets: [pydoc]\n",
            "suite/smoke.yaml": "name: smoke\ndescription: my own smoke\nmodels: [bert.tiny]\ndatasets: [pydoc]\n",
            "suite/broken.yaml": "name: [unclosed\n",
            "model/mybert/arch/mybert.small.yaml": "adapter: bert\nmodality: text\n",
            "dataset/notes.yaml": "name: notes\nadapter: text\nmodality: text\nroot: /data/notes\n",
        })
        assert main(["list", "suites", "--perf-conf-dir", str(conf)]) == 0
        suites = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in suites] == ["broken", "default", "mine", "runtimes", "smoke"]
        assert "My nightly matrix" in suites[2] and "my own smoke" in suites[4]
        assert "(cannot read" in suites[0] and "broken.yaml" in suites[0]
        assert main(["list", "models", "--perf-conf-dir", str(conf)]) == 0
        models = capsys.readouterr().out.splitlines()
        assert "mybert.small family mybert, adapter bert, modality text" in [" ".join(line.split()) for line in models]
        assert main(["list", "datasets", "--perf-conf-dir", str(conf)]) == 0
        assert "root /data/notes" in capsys.readouterr().out

    def test_bad_input(self, tmp_path, capsys):
        assert main(["list", "suites", "--perf-conf-dir", str(tmp_path / "nope")]) == 2
        err = capsys.readouterr().err
        assert "perfsuite: error:" in err and "--perf-conf-dir" in err and str(tmp_path / "nope") in err
        with pytest.raises(SystemExit) as info:
            main(["list", "widgets"])
        assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def _subparsers(parser: argparse.ArgumentParser, path: str = "perfsuite"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{path} {name}", sub
                yield from _subparsers(sub, f"{path} {name}")


def test_no_numeric_option_of_any_command_takes_a_bare_int_or_float():
    """Every number a user types is range-checked (perfsuite.commands.args): a bare int/float lets -1, nan or inf through."""
    from perfsuite.cli import build_parser

    bare = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, sub in _subparsers(build_parser())
            for a in sub._actions if a.type in (int, float)]
    assert bare == []


@pytest.mark.parametrize("argv, message", [
    (["history", "--alpha", "2"], "argument --alpha: must be in (0, 1)"),
    (["history", "--permutations", "0"], "argument --permutations: must be 1 to 100000"),
    (["doctor", "--interval-s", "-1"], "argument --interval-s: must be in [0.05, 60]"),
    (["doctor", "--interval-s", "nan"], "argument --interval-s: must be in [0.05, 60]"),
    (["track", "--timeout-s", "-5"], "argument --timeout-s: must be in (0, 600]"),
    (["track", "--timeout-s", "inf"], "argument --timeout-s: must be in (0, 600]"),
    (["gate", "calibrate", "--trials", "0"], "argument --trials: must be 1 to 1000"),
    (["ab", "--rounds", "x", "--a", "a", "--b", "b"], "argument --rounds: 'x' is not a whole number"),
])
def test_a_number_out_of_range_is_a_usage_error_naming_the_range(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "Traceback" not in err
