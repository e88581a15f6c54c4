"""Experiment-tracking export without a pytest session: config, the tracked form, each tracker, `perfsuite track`."""

from __future__ import annotations

import builtins
import json
import shutil
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import yaml

from perfsuite.cli import main
from perfsuite.config.fields import Fields
from perfsuite.config.tracking import METRIC_GROUPS, TrackingSpec, tracking_from_composed, tracking_spec
from perfsuite.errors import PerfConfigError
from perfsuite.report.tables import SPECS
from perfsuite.results import load_run
from perfsuite.tracking.export import TRACKING_FILE, export_all, export_one
from perfsuite.tracking.tracked import config_params, load_tracked, metric_group, metric_points
from synthetic_runs import write_run

COMPOSED = {
    "gpt2.tiny-pydoc-eager": {"model": {"name": "gpt2", "n_layer": 2}, "infer": {"batch_sizes": [1, 4]}, "output": {"tracking": ["mlflow"]}},
    "bert.tiny-pydoc-eager": {"model": {"name": "bert", "n_layer": 2}, "infer": {"batch_sizes": [1, 4]}, "output": {"tracking": ["mlflow"]}},
}


def read_spec(output: dict) -> TrackingSpec:
    f = Fields(output, section="output", file="conf/output/tracking/default.yaml")
    spec = tracking_spec(f)
    f.done()
    return spec


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic run with the files a session leaves: run_config.yaml, env.json, report.html, a trace."""
    folder = tmp_path_factory.mktemp("template") / "20261125-120000_synthetic-cpu"
    write_run(folder)
    header = {"suite": "synthetic", "device": "cpu", "overrides": ["model=gpt2.tiny"], "composed": COMPOSED}
    (folder / "run_config.yaml").write_text(yaml.safe_dump(header), encoding="utf-8")
    (folder / "env.json").write_text(json.dumps({"machine_id": "abc123", "hostname": "box", "git": {"commit": "deadbeef"}}), encoding="utf-8")
    (folder / "report.html").write_text("<html>report</html>", encoding="utf-8")
    (folder / "traces").mkdir()
    (folder / "traces" / "gpt2.tiny-pydoc-eager-bs1-cpu.json.gz").write_bytes(b"\x1f\x8b fake trace")
    return folder


@pytest.fixture
def run_dir(template_run: Path, tmp_path: Path) -> Path:
    """A fresh copy of the synthetic run under out/runs/ (building one takes seconds: copied, not rebuilt)."""
    folder = tmp_path / "out" / "runs" / template_run.name
    shutil.copytree(template_run, folder)
    return folder


# -- config ------------------------------------------------------------------------------------------


def test_tracking_config_defaults_and_toggles():
    assert read_spec({}) == TrackingSpec()
    spec = read_spec({"tracking": ["tensorboard", "mlflow", "mlflow"], "trackers": {"mlflow": {"metrics": {"memory": False}}, "wandb": {"mode": "online"}}})
    assert spec.trackers == ("tensorboard", "mlflow")  # order kept, repeats dropped
    assert "memory" not in spec.mlflow.metrics and spec.tensorboard.metrics == METRIC_GROUPS
    assert spec.wandb.mode == "online"


@pytest.mark.parametrize(
    ("output", "key", "words"),
    [
        ({"tracking": ["mlfow"]}, "output.tracking[0]", "unknown experiment tracker"),
        ({"tracking": "mlflow"}, "output.tracking", "expected a list"),
        ({"trackers": {"mlflow": {"timeout_s": 0}}}, "output.trackers.mlflow.timeout_s", "seconds > 0"),
        ({"trackers": {"mlflow": {"metrics": {"latncy": True}}}}, "output.trackers.mlflow.metrics.latncy", "unknown key"),
        ({"trackers": {"wandb": {"mode": "cloud"}}}, "output.trackers.wandb.mode", "unknown value"),
        ({"trackers": {"neptune": {}}}, "output.trackers.neptune", "unknown key"),
    ],
)
def test_tracking_config_errors_name_the_key(output, key, words):
    with pytest.raises(PerfConfigError) as err:
        read_spec(output)
    assert key in str(err.value) and words in str(err.value) and "conf/output/tracking/default.yaml" in str(err.value)


def test_tracking_is_read_back_from_a_stored_config_and_old_runs_get_defaults():
    stored = {"output": {"tracking": ["tensorboard"], "trackers": {"tensorboard": {"log_dir": "tb"}}}}
    spec = tracking_from_composed(stored, file="run_config.yaml")
    assert spec.trackers == ("tensorboard",) and spec.tensorboard.log_dir == "tb"
    assert tracking_from_composed({"output": {"direct": {}}}, file="run_config.yaml") == TrackingSpec()


# -- the tracked form --------------------------------------------------------------------------------


def test_every_table_metric_has_a_tracking_group():
    groups = {s.name: metric_group(s.name) for s in SPECS}
    assert set(groups.values()) <= set(METRIC_GROUPS) - {"verdicts"}
    assert groups["latency_p99_s"] == "latency" and groups["samples_per_s"] == "throughput"
    assert groups["host_rss_peak_bytes"] == "memory" and groups["ttft_p50_s"] == "generation" and groups["params"] == "compute"


def test_params_are_the_flattened_config_and_differing_keys_are_per_combination():
    params = config_params(COMPOSED, {"suite": "smoke", "overrides": ["a=1"]})
    assert params["perfsuite.suite"] == "smoke" and params["perfsuite.overrides"] == '["a=1"]'
    assert params["model.n_layer"] == "2" and params["infer.batch_sizes"] == "[1,4]"  # the same in both: one param
    assert params["gpt2.tiny-pydoc-eager/model.name"] == "gpt2" and params["bert.tiny-pydoc-eager/model.name"] == "bert"
    assert "model.name" not in params


def test_metric_points_step_is_the_batch_size_and_verdicts_are_coded(run_dir):
    from perfsuite.report.shown import ComparisonView, ShownVerdict

    run = load_tracked(run_dir)
    by_key = {(p.key, p.step): p for p in run.points}
    p50 = [p for p in run.points if p.key == "test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s"]
    assert sorted(p.step for p in p50) == [1, 4] and all(p.value > 0 for p in p50)
    assert not [p for p in run.points if "bs16" in p.key]  # the OOM case has no figures, and keys carry no batch size
    verdict = ShownVerdict("gpt2.tiny-pydoc-eager-bs4-cpu", "test_latency", "latency", "regressed", 1.3, 1.2, 1.4, 0.05, True)
    view = ComparisonView("baseline 'main'", "test", (verdict,))
    points = {(p.key, p.step): p for p in metric_points(load_run(run_dir), view)}
    assert points[("test_latency/gpt2.tiny-pydoc-eager-cpu/verdict/latency", 4)].value == 2.0
    assert points[("test_latency/gpt2.tiny-pydoc-eager-cpu/ratio/latency", 4)].value == pytest.approx(1.3)
    assert points[("verdicts/regressed", 0)].value == 1.0
    assert by_key  # the plain metrics are there without verdicts too


# -- the trackers ------------------------------------------------------------------------------------


def test_mlflow_and_tensorboard_export_read_back(run_dir):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = TrackingSpec(trackers=("mlflow", "tensorboard"))
    store = run_dir.parent.parent / "tracking"
    outcomes = export_all(load_tracked(run_dir), spec, spec.trackers, store=store, base=run_dir)
    assert [o.ok for o in outcomes] == [True, True], outcomes
    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("perfsuite").experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params["model.n_layer"] == "2" and run.data.tags["perfsuite.machine_id"] == "abc123"
    history = client.get_metric_history(run.info.run_id, "test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s")
    assert sorted(m.step for m in history) == [1, 4]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "results.json", "run_config.yaml", "traces"} <= artifacts
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    scalars = acc.Tags()["scalars"]
    assert "test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s" in scalars
    assert sorted(e.step for e in acc.Scalars("test_latency/gpt2.tiny-pydoc-eager-cpu/latency_p50_s")) == [1, 4]
    assert (run_dir / "tensorboard" / "gpt2.tiny-pydoc-eager-bs1-cpu.pt.trace.json.gz").is_file()  # for the profiler plugin
    recorded = json.loads((run_dir / TRACKING_FILE).read_text())
    assert recorded["mlflow"]["ref"] == run.info.run_id and recorded["tensorboard"]["ok"]
    # A second export logs nothing twice.
    again = export_all(load_tracked(run_dir), spec, spec.trackers, store=store, base=run_dir)
    assert all(o.ok and "not" in (o.note or "") for o in again)
    assert len(client.search_runs([run.info.experiment_id])) == 1 and len(list((run_dir / "tensorboard").glob("events.*"))) == 1


def test_metric_toggles_choose_what_is_logged(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = read_spec({"trackers": {"tensorboard": {"metrics": {g: g == "memory" for g in METRIC_GROUPS}}}})
    outcome = export_one(load_tracked(run_dir), spec, "tensorboard", store=run_dir, base=run_dir)
    assert outcome.ok
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert tags and all(t.endswith("_bytes") for t in tags)


@pytest.mark.parametrize(("tracker", "module", "extra"), [("mlflow", "mlflow", "mlflow"), ("tensorboard", "torch.utils.tensorboard", "tensorboard"), ("wandb", "wandb", "wandb")])
def test_a_tracker_that_is_not_installed_is_a_failed_outcome_naming_the_extra(run_dir, monkeypatch, tracker, module, extra):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ModuleNotFoundError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    outcome = export_one(load_tracked(run_dir), TrackingSpec(), tracker, store=run_dir.parent.parent / "tracking", base=run_dir)
    assert not outcome.ok
    assert "not installed" in outcome.where and f"pip install 'perfsuite[{extra}]'" in outcome.where


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: a tracking URI that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def test_an_mlflow_server_that_does_not_answer_is_skipped_within_its_timeout(run_dir, silent_server):
    uri, accepted = silent_server
    spec = read_spec({"trackers": {"mlflow": {"tracking_uri": uri, "timeout_s": 0.5}}})
    start = time.monotonic()
    outcome = export_one(load_tracked(run_dir), spec, "mlflow", store=run_dir, base=run_dir)
    elapsed = time.monotonic() - start
    assert not outcome.ok and f"{uri} did not answer within 0.5 s" in outcome.where
    assert accepted  # it did connect: the time bound is the read timeout, not a refused connection
    # A correctness bound, not a speed check: MLflow's own default retries would take minutes.
    assert elapsed < 30


def test_wandb_is_offline_unless_configured(run_dir, monkeypatch):
    calls = {}

    class FakeRun:
        id, url, dir = "r1", None, str(run_dir / "wandb")

        def __init__(self) -> None:
            self.summary: dict = {}
            self.saved: list = []

        def save(self, path, base_path=None, policy=None):
            self.saved.append(Path(path).relative_to(base_path).as_posix())

        def finish(self, exit_code=0):
            calls["exit_code"] = exit_code

    def init(**kwargs):
        calls["init"] = kwargs
        calls["run"] = FakeRun()
        return calls["run"]

    fake = types.SimpleNamespace(init=init, Settings=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(run_dir / "no-netrc"))
    monkeypatch.setenv("HOME", str(run_dir))
    outcome = export_one(load_tracked(run_dir), TrackingSpec(), "wandb", store=run_dir, base=run_dir)
    assert outcome.ok, outcome
    assert calls["init"]["mode"] == "offline" and calls["init"]["dir"] == str(run_dir) and calls["init"]["name"] == run_dir.name
    assert calls["init"]["config"]["model.n_layer"] == "2"
    assert calls["run"].summary["test_latency/gpt2.tiny-pydoc-eager-cpu-bs4/latency_p50_s"] > 0
    assert "report.html" in calls["run"].saved and "traces/gpt2.tiny-pydoc-eager-bs1-cpu.json.gz" in calls["run"].saved
    assert calls["exit_code"] == 0
    monkeypatch.setenv("WANDB_MODE", "online")  # the user's own W&B setting wins: perfsuite does not pass a mode
    export_one(load_tracked(run_dir), TrackingSpec(), "wandb", store=run_dir, base=run_dir)
    assert "mode" not in calls["init"]


def test_a_tracker_bug_is_an_outcome_not_an_exception(run_dir, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("wandb exploded\nsecond line")

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=broken, Settings=lambda **kw: kw))
    outcome = export_one(load_tracked(run_dir), TrackingSpec(), "wandb", store=run_dir, base=run_dir)
    assert not outcome.ok and outcome.where == "RuntimeError: wandb exploded"


# -- perfsuite track ---------------------------------------------------------------------------------


def test_track_command_exports_a_run_folder(run_dir, capsys):
    assert main(["track", str(run_dir), "--to", "tensorboard"]) == 0
    assert f"tracking: tensorboard: {run_dir / 'tensorboard'}" in capsys.readouterr().out
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def write_output(run_dir: Path, output: dict) -> None:
    header = yaml.safe_load((run_dir / "run_config.yaml").read_text())
    for cfg in header["composed"].values():
        cfg["output"] = output
    (run_dir / "run_config.yaml").write_text(yaml.safe_dump(header))


def test_track_command_uses_the_run_s_own_trackers_and_fails_without_any(run_dir, capsys):
    write_output(run_dir, {"direct": {}})  # a run made before output.tracking existed
    assert main(["track", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "no tracker to export" in err and "--to mlflow|tensorboard|wandb" in err
    write_output(run_dir, {"tracking": ["tensorboard"], "trackers": {"tensorboard": {"log_dir": "tb"}}})
    assert main(["track", str(run_dir), "--tb-log-dir", str(run_dir.parent / "tb")]) == 0
    assert list((run_dir.parent / "tb" / run_dir.name).glob("events.out.tfevents.*"))


def test_track_command_exit_status_1_when_a_tracker_fails(run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    assert main(["track", str(run_dir), "--to", "wandb"]) == 1
    assert "tracking with wandb failed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["track", str(run_dir), "--to", "neptune"])
    assert "unknown tracker 'neptune'" in capsys.readouterr().err


def test_migrate_out_leaves_the_mlflow_store_alone(tmp_path):
    from perfsuite.results.migrate import migrate_out

    out = tmp_path / "out"
    (out / "tracking" / "mlflow-artifacts").mkdir(parents=True)
    (out / "tracking" / "mlflow.db").write_bytes(b"sqlite")
    (out / "notes.txt").write_text("loose")
    assert migrate_out(out, apply=True, echo=lambda line: None) == 0
    assert (out / "tracking" / "mlflow.db").read_bytes() == b"sqlite" and (out / "tracking" / "mlflow-artifacts").is_dir()
    assert not (out / "_archive" / "unmapped" / "tracking").exists() and (out / "_archive" / "unmapped" / "notes.txt").is_file()


def test_a_user_sqlite_store_keeps_its_artifacts_next_to_it(run_dir, tmp_path, monkeypatch, capsys):
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["track", str(run_dir), "--to", "mlflow", "--mlflow-uri", "sqlite:///db/runs.db", "--experiment", "nightly"]) == 0
    assert "experiment 'nightly'" in capsys.readouterr().out
    assert (work / "db" / "runs.db").is_file() and list((work / "db" / "mlflow-artifacts").rglob("report.html"))
    assert not (work / "mlruns").exists()  # MLflow's own default: a folder in whatever directory the command ran in


def test_a_tracking_url_with_a_password_is_probed_with_basic_auth_not_looked_up_as_a_host():
    """urllib reads user:password@host as the host: the probe must go to the host with the credentials as a header."""
    import http.server
    import threading

    from perfsuite.tracking.mlflow_tracker import check_reachable

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        check_reachable(f"http://alice:p%40ss:w0rd@127.0.0.1:{server.server_port}/", 5.0)
    finally:
        server.shutdown()
    import base64

    assert seen == ["Basic " + base64.b64encode(b"alice:p@ss:w0rd").decode()]


def test_a_failing_tracker_never_shows_the_password_of_its_uri():
    from perfsuite.tracking.mlflow_tracker import check_reachable
    from perfsuite.tracking.outcome import TrackerFailed, TrackerOutcome

    with pytest.raises(TrackerFailed) as info:
        check_reachable("http://alice:TOPSECRET@127.0.0.1:1/", 0.5)
    assert "TOPSECRET" not in str(info.value) and "http://alice:***@127.0.0.1:1/" in str(info.value)
    outcome = TrackerOutcome("mlflow", True, "http://alice:TOPSECRET@host/ (experiment 'x', run 1)")
    assert "TOPSECRET" not in outcome.line() and "TOPSECRET" not in json.dumps(outcome.to_dict())
