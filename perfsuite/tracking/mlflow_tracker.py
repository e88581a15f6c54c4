"""MLflow: one MLflow run per perfsuite run, through `MlflowClient` (no global active run).

Where: `output.trackers.mlflow.tracking_uri`, else $MLFLOW_TRACKING_URI, else a local SQLite
store `<out>/tracking/mlflow.db` with artifacts in `<out>/tracking/mlflow-artifacts` (MLflow 3
keeps its plain-folder store in maintenance mode and refuses it by default; SQLite is what it
recommends, and `mlflow ui --backend-store-uri sqlite:///out/tracking/mlflow.db` shows it).

A remote server is asked first, with `timeout_s`, whether it answers at all; MLflow's own HTTP
timeout and retries are bounded by the same figure while perfsuite logs, so a dead server costs
seconds, not MLflow's default minutes of retries. Exporting the same perfsuite run twice
makes no second MLflow run (the tag `perfsuite.run` finds the first).
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from perfsuite.config.redact import redact_urls
from perfsuite.config.tracking import MlflowSettings
from perfsuite.tracking.outcome import TrackerFailed, TrackerMissing, TrackerOutcome
from perfsuite.tracking.tracked import TrackedRun

NAME = "mlflow"
DB_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlflow-artifacts"
_BATCH_PARAMS = 100  # MLflow's per-request limits (log_batch)
_BATCH_METRICS = 1000
_STATUS = {"finished": "FINISHED", "interrupted": "KILLED", "error": "FAILED", "running": "RUNNING"}


def tracking_uri(settings: MlflowSettings, store: Path) -> str:
    if settings.tracking_uri:
        return settings.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(store / DB_FILE).resolve()}"


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a local `sqlite:///PATH` URI (None for an in-memory or any other store)."""
    if not uri.startswith("sqlite:///") or uri == "sqlite:///:memory:":
        return None
    return Path(urllib.parse.unquote(uri[len("sqlite:///"):].split("?")[0]))


def check_reachable(uri: str, timeout_s: float) -> None:
    """Raise TrackerFailed unless an http(s) tracking server answers within `timeout_s` (any HTTP status will do)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    # urllib does not take user:password@ in a URL (it would look the whole userinfo up as the host):
    # the probe goes to the host alone, the credentials as HTTP basic auth, as MLflow's client sends them
    netloc = parsed.hostname or ""
    netloc = f"[{netloc}]" if ":" in netloc else netloc
    netloc += f":{parsed.port}" if parsed.port else ""
    probe = urllib.request.Request(urllib.parse.urlunparse(parsed._replace(netloc=netloc)).rstrip("/") + "/health")
    if parsed.username is not None:
        token = f"{urllib.parse.unquote(parsed.username)}:{urllib.parse.unquote(parsed.password or '')}".encode()
        probe.add_header("Authorization", "Basic " + base64.b64encode(token).decode("ascii"))
    start = time.monotonic()
    try:
        with urllib.request.urlopen(probe, timeout=timeout_s):  # noqa: S310 - the user's own tracking URI
            pass
    except urllib.error.HTTPError:
        return  # it answered: a server without /health still takes the run
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackerFailed(
            f"the MLflow tracking server {redact_urls(uri)} did not answer within {timeout_s:g} s "
            f"({type(reason).__name__}: {reason}; gave up after {time.monotonic() - start:.1f} s). "
            "Check output.trackers.mlflow.tracking_uri / $MLFLOW_TRACKING_URI"
        ) from None


@contextlib.contextmanager
def _bounded_http(timeout_s: float) -> Iterator[None]:
    """MLflow's HTTP timeout and retries, bounded while perfsuite logs (restored afterwards)."""
    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout_s))), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
              "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update({k: v for k, v in wanted.items() if saved[k] is None})  # the user's own values win
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def export(tracked: TrackedRun, settings: MlflowSettings, *, store: Path) -> TrackerOutcome:
    uri = tracking_uri(settings, store)
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise TrackerMissing(NAME, "mlflow", exc) from None
    check_reachable(uri, settings.timeout_s)
    sqlite_db = _sqlite_path(uri)
    if sqlite_db is not None:
        sqlite_db.parent.mkdir(parents=True, exist_ok=True)
    with _bounded_http(settings.timeout_s):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(settings.experiment)
        if experiment is None:
            # A local SQLite store keeps its artifacts next to it; MLflow's default would be ./mlruns
            # under whatever folder the command ran in. A server decides for itself.
            location = (sqlite_db.parent / ARTIFACTS_DIR).resolve().as_uri() if sqlite_db is not None else None
            experiment_id = client.create_experiment(settings.experiment, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        found = client.search_runs([experiment_id], filter_string=f"tags.`perfsuite.run` = '{tracked.name}'", max_results=1)
        if found:
            run_id = found[0].info.run_id
            return TrackerOutcome(NAME, True, f"{uri} (experiment {settings.experiment!r}, run {run_id})",
                                  note=f"run {tracked.name} was already tracked as MLflow run {run_id}: not logged again", ref=run_id)
        tags = {**tracked.tags, "mlflow.runName": tracked.name}
        if tracked.summary:
            tags["mlflow.note.content"] = tracked.summary[:5000]
        run = client.create_run(experiment_id, start_time=tracked.started_ms, tags=tags, run_name=tracked.name)
        run_id = run.info.run_id
        try:
            stamp = tracked.ended_ms or int(time.time() * 1000)
            params = [Param(k, v) for k, v in tracked.params.items()]
            metrics = [Metric(p.key, p.value, stamp, p.step) for p in tracked.metrics(settings.metrics)]
            for i in range(0, len(params), _BATCH_PARAMS):
                client.log_batch(run_id, params=params[i : i + _BATCH_PARAMS])
            for i in range(0, len(metrics), _BATCH_METRICS):
                client.log_batch(run_id, metrics=metrics[i : i + _BATCH_METRICS])
            client.log_batch(run_id, tags=[RunTag("perfsuite.metrics", str(len(metrics)))])
            if settings.artifacts:
                for path in tracked.files:
                    client.log_artifact(run_id, str(path), artifact_path="tables" if path.parent.name == "tables" else None)
                for path in tracked.traces:
                    client.log_artifact(run_id, str(path), artifact_path="traces")
        except BaseException:
            with contextlib.suppress(Exception):
                client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status=_STATUS.get(tracked.status, "FINISHED"), end_time=tracked.ended_ms)
    return TrackerOutcome(NAME, True, f"{uri} (experiment {settings.experiment!r}, run {run_id})", ref=run_id)
