"""TensorBoard: scalars (step = batch size) and the profiler's traces, in one log folder per run.

The folder is `<run folder>/tensorboard` by default (`tensorboard --logdir out/runs` then shows
every run), or `<log_dir>/<run name>` with `output.trackers.tensorboard.log_dir`. The chrome
traces of the torch.profiler stage are copied next to the event file as
`<case>.pt.trace.json.gz`, the names torch.profiler's `tensorboard_trace_handler` writes, so
TensorBoard's PyTorch profiler plugin (torch-tb-profiler) lists each case as a worker of the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from perfsuite.config.tracking import TensorBoardSettings
from perfsuite.tracking.outcome import TrackerMissing, TrackerOutcome
from perfsuite.tracking.tracked import TrackedRun

NAME = "tensorboard"
DEFAULT_DIR = "tensorboard"
TRACE_SUFFIX = ".pt.trace.json.gz"


def log_dir(tracked: TrackedRun, settings: TensorBoardSettings, *, base: Path) -> Path:
    """Where the events go; a relative `log_dir` is relative to `base` (where pytest or the CLI was started)."""
    if settings.log_dir is None:
        return tracked.run_dir / DEFAULT_DIR
    root = Path(settings.log_dir).expanduser()
    return (root if root.is_absolute() else base / root) / tracked.name


def export(tracked: TrackedRun, settings: TensorBoardSettings, *, base: Path) -> TrackerOutcome:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise TrackerMissing(NAME, "tensorboard", exc) from None
    folder = log_dir(tracked, settings, base=base)
    if any(folder.glob("events.out.tfevents.*")):
        # Another export of this run (the session's, or an earlier `perfsuite track`): a second event
        # file would show every scalar twice.
        return TrackerOutcome(NAME, True, str(folder), note="the run already has TensorBoard events there: not written again")
    folder.mkdir(parents=True, exist_ok=True)
    walltime = tracked.ended_ms / 1000 if tracked.ended_ms else None
    points = tracked.metrics(settings.metrics)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for p in points:
            writer.add_scalar(p.key, p.value, global_step=p.step, walltime=walltime)
        rows = "\n".join(f"| {k} | {v} |" for k, v in {**tracked.tags, **tracked.params}.items())
        writer.add_text("perfsuite/config", f"| key | value |\n|---|---|\n{rows}", walltime=walltime)
        if tracked.summary:
            writer.add_text("perfsuite/summary", tracked.summary, walltime=walltime)
    finally:
        writer.close()
    copied = 0
    if settings.traces:
        for trace in tracked.traces:
            target = folder / (trace.name.removesuffix(".json.gz") + TRACE_SUFFIX)
            if not target.exists():
                shutil.copyfile(trace, target)
            copied += 1
    note = f"{len(points)} scalars" + (f", {copied} profiler traces" if copied else "")
    return TrackerOutcome(NAME, True, str(folder), note=note)
