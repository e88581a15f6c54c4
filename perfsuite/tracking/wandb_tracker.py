"""Weights & Biases: one W&B run per perfsuite run, offline unless the user configured W&B.

Mode: `output.trackers.wandb.mode` when set; else W&B's own choice when $WANDB_MODE is set or an
API key is configured ($WANDB_API_KEY, or `wandb login`'s entry in ~/.netrc); else `offline`, so
a run never reaches the network by surprise (`wandb sync <run folder>/wandb/offline-run-*`
uploads it later). The run's files go under `<run folder>/wandb`.

W&B's step must only grow, and perfsuite's metrics have no time axis: each case's figures go to
the run summary as `<test>/<case id>/<metric>` (the case id includes the batch size).
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from perfsuite.config.tracking import WandbSettings
from perfsuite.tracking.outcome import TrackerMissing, TrackerOutcome
from perfsuite.tracking.tracked import TrackedRun

NAME = "wandb"


def _key_configured() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def mode(settings: WandbSettings) -> str | None:
    """The mode perfsuite asks for; None leaves it to W&B ($WANDB_MODE, the login)."""
    if settings.mode:
        return settings.mode
    if os.environ.get("WANDB_MODE") or _key_configured():
        return None
    return "offline"


def summary_key(key: str, step: int) -> str:
    """`test/group/metric` at batch size `step` as `test/group-bsN/metric`: a case id's own shape."""
    test, sep, rest = key.partition("/")
    group, sep2, metric = rest.partition("/")
    if not sep or not sep2:
        return key
    return f"{test}/{group}-bs{step}/{metric}"


def export(tracked: TrackedRun, settings: WandbSettings) -> TrackerOutcome:
    try:
        import wandb
    except ImportError as exc:
        raise TrackerMissing(NAME, "wandb", exc) from None
    chosen = mode(settings)
    kwargs = {"mode": chosen} if chosen else {}
    run = wandb.init(
        project=settings.project,
        entity=settings.entity,
        name=tracked.name,
        dir=str(tracked.run_dir),
        config=dict(tracked.params),
        tags=[t for t in (tracked.tags.get("perfsuite.suite"), tracked.tags.get("perfsuite.device")) if t],
        job_type="perfsuite",
        settings=wandb.Settings(init_timeout=settings.timeout_s),
        **kwargs,
    )
    ok = False
    try:
        points = tracked.metrics(settings.metrics)
        run.summary.update({summary_key(p.key, p.step): p.value for p in points})
        for k, v in tracked.tags.items():
            run.summary[k] = v
        if settings.artifacts:
            for path in (*tracked.files, *tracked.traces):
                run.save(str(path), base_path=str(tracked.run_dir), policy="now")
        ok = True
    finally:
        run.finish(exit_code=0 if ok and tracked.status == "finished" else 1)
    where = getattr(run, "url", None) or str(Path(getattr(run, "dir", tracked.run_dir / "wandb")))
    return TrackerOutcome(NAME, True, f"{where} (mode {chosen or 'from W&B settings'})", note=f"{len(points)} metrics", ref=getattr(run, "id", None))
