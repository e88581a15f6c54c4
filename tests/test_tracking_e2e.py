"""`output.tracking` in a real session: `pytest benches` in a subprocess, then the trackers' own readers."""

from __future__ import annotations

import json
from pathlib import Path

import subprocess
import sys

import pytest

from conftest import FAST_POLICY, REPO, as_overrides
from test_tracking import silent_server  # noqa: F401 - a fixture: a tracking URI that never answers

SMOKE = ["--perf-suite", "smoke", *as_overrides(["model=gpt2.tiny", "dataset=pydoc", "infer.batch_sizes=[1,2]", *FAST_POLICY])]


# The trackers' own readers run in a child process: pytester drops the modules a test imports, and
# MLflow's SQLAlchemy store does not survive being imported a second time in one process.
READ_BACK = """
import json, sys
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
db, tb, key = sys.argv[1:4]
client = MlflowClient(f"sqlite:///{db}")
(run,) = client.search_runs([client.get_experiment_by_name("perfsuite").experiment_id])
rid = run.info.run_id
acc = EventAccumulator(tb)
acc.Reload()
print(json.dumps({
    "run": {"name": run.info.run_name, "status": run.info.status, "tags": run.data.tags, "params": run.data.params, "metrics": run.data.metrics},
    "history": {str(m.step): m.value for m in client.get_metric_history(rid, key)},
    "artifacts": [a.path for a in client.list_artifacts(rid)],
    "traces": [a.path for a in client.list_artifacts(rid, "traces")],
    "scalars": {str(e.step): e.value for e in acc.Scalars(key)},
}))
"""
KEY = "test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s"


def read_back(db: Path, tb: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", READ_BACK, str(db), str(tb), KEY], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_benches(pytester: pytest.Pytester, out: Path, *args: str) -> pytest.RunResult:
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-out-dir", str(out), *SMOKE]
    return pytester.runpytest_subprocess(*argv, *args)


def test_a_run_with_mlflow_and_tensorboard_is_read_back_by_both(pytester: pytest.Pytester, tmp_path: Path):
    out = tmp_path / "out"
    result = run_benches(
        pytester, out, "-k", "test_latency or test_profile",
        *as_overrides(["output.tracking=[mlflow,tensorboard]", "pipeline.stages=[direct_inference,torch_profiler]", "profiling.torch.active=1"]),
    )
    result.assert_outcomes(passed=4)  # latency and profile, batch sizes 1 and 2
    (run_dir,) = (out / "runs").iterdir()
    result.stdout.fnmatch_lines([f"tracking: mlflow: sqlite:///{out / 'tracking' / 'mlflow.db'} (experiment 'perfsuite', run *)",
                                 f"tracking: tensorboard: {run_dir / 'tensorboard'} (* scalars, 2 profiler traces)"])
    back = read_back(out / "tracking" / "mlflow.db", run_dir / "tensorboard")
    run = back["run"]
    assert run["name"] == run_dir.name and run["status"] == "FINISHED"
    assert run["tags"]["perfsuite.suite"] == "smoke" and run["params"]["perfsuite.device"] == "cpu"
    assert run["params"]["model.config.n_layer"] == "2" and run["params"]["output.tracking"] == '["mlflow","tensorboard"]'
    history = back["history"]  # test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s: step -> value
    assert sorted(history) == ["1", "2"] and all(v > 0 for v in history.values())
    assert "test_profile/gpt2.tiny-pydoc-eager-cpu/flops_per_call" in run["metrics"]
    assert {"report.html", "results.json", "run_config.yaml", "env.json", "tables", "traces"} <= set(back["artifacts"])  # report.html: written before the export
    assert len(back["traces"]) == 2
    assert back["scalars"] == pytest.approx(history)  # TensorBoard has the same numbers at the same steps
    assert len(list((run_dir / "tensorboard").glob("*.pt.trace.json.gz"))) == 2
    assert json.loads((run_dir / "tracking.json").read_text())["mlflow"]["ok"]


def test_an_unreachable_tracking_uri_warns_once_and_the_run_passes(pytester: pytest.Pytester, tmp_path: Path, silent_server):  # noqa: F811
    uri, accepted = silent_server
    out = tmp_path / "out"
    result = run_benches(
        pytester, out, "-k", "test_latency",
        *as_overrides(["infer.batch_sizes=[1]", "output.tracking=[mlflow]", f"output.trackers.mlflow.tracking_uri={uri}",
                       "output.trackers.mlflow.timeout_s=0.5"]),
    )
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    lines = [line for line in result.outlines if "tracking with mlflow failed" in line]
    assert len(lines) == 1 and f"{uri} did not answer within 0.5 s" in lines[0] and "perfsuite track" in lines[0]
    assert accepted
    (run_dir,) = (out / "runs").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["status"] == "finished"  # the run itself is complete
    assert not json.loads((run_dir / "tracking.json").read_text())["mlflow"]["ok"]


def test_no_password_of_a_url_lands_in_the_run_folder_the_report_or_the_output(pytester: pytest.Pytester, tmp_path: Path, capsys):
    """Passwords in --perf-history and tracking URIs: used, never stored, printed or rendered (run_config.yaml, report.html,
    tracking.json, summaries, the terminal, error messages, `perfsuite track`)."""
    from perfsuite.cli import main

    out = tmp_path / "out"
    secrets = ("HISTPW1", "TRACKPW2", "TRACKPW3")
    result = run_benches(pytester, out, "-k", "test_latency and bs1", "--perf-history", "postgresql://alice:HISTPW1@127.0.0.1:1/perf",
                         *as_overrides(["output.tracking=[mlflow]", "output.trackers.mlflow.tracking_uri=http://bob:TRACKPW2@127.0.0.1:1/",
                                        "output.trackers.mlflow.timeout_s=0.5"]))
    result.assert_outcomes(passed=1)
    # what the run printed (pytester's own echo of the command line, `running: ...`, is the test's, not perfsuite's)
    shown = "\n".join(ln for ln in result.outlines + result.errlines if not ln.startswith("running: "))
    (run_dir,) = (out / "runs").iterdir()
    main(["track", str(run_dir), "--to", "mlflow", "--mlflow-uri", "http://carol:TRACKPW3@127.0.0.1:1/", "--timeout-s", "0.5"])  # no server
    assert main(["report", str(run_dir), "-o", str(tmp_path / "again.html")]) == 0
    cli = capsys.readouterr()  # the two perfsuite commands' output, and pytester's echo of the pytest command line (left out)
    shown += "\n".join(ln for ln in (cli.out + cli.err).splitlines() if not ln.startswith(("running: ", "     in: ")))
    assert "carol:***@127.0.0.1" in shown  # what failed is named, without its password
    files = [p for p in [*out.rglob("*"), tmp_path / "again.html"] if p.is_file()]
    assert any(p.name == "run_config.yaml" for p in files) and any(p.name == "tracking.json" for p in files)
    for secret in secrets:
        assert secret not in shown, secret
        leaked = [str(p) for p in files if secret.encode() in p.read_bytes()]
        assert not leaked, (secret, leaked)
