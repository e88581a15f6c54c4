"""A bootstrap plan: the steps it would take and the problems it found, then carrying it out.

Planning only reads the filesystem; `execute` is the one place that changes it. A step that
fails stops the remaining steps of the same subject (a link is not made to a half-extracted
folder) but not the other subjects: one missing model does not block the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from perfsuite.errors import PerfError

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """One thing to do for a subject ("model gpt2", "dataset digits_png").

    `verb` is what happens ("create", "refresh", "extract", "resume", "seed", "keep");
    `changes` is False for steps that only report that everything is already in place.
    """

    subject: str
    verb: str
    detail: str
    changes: bool
    run: Callable[[], str | None] | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        return f"{self.subject}: {self.verb} {self.detail}"


@dataclass(frozen=True)
class Problem:
    """Something the plan cannot do; `fatal` problems make the command exit non-zero."""

    subject: str
    message: str
    fatal: bool = True

    def describe(self) -> str:
        label = "ERROR" if self.fatal else "warning"
        return f"{self.subject}: {label}: {self.message}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def pending(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.changes)

    @property
    def fatal(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.fatal)

    def __add__(self, other: Plan) -> Plan:
        return Plan(self.steps + other.steps, self.problems + other.problems)

    @staticmethod
    def of(items: Iterable[Step | Problem]) -> Plan:
        items = list(items)
        return Plan(
            tuple(i for i in items if isinstance(i, Step)),
            tuple(i for i in items if isinstance(i, Problem)),
        )


def render(plan: Plan, echo: Echo) -> None:
    """Print every step and problem, one line each."""
    for step in plan.steps:
        echo(("  + " if step.changes else "  = ") + step.describe())
    for problem in plan.problems:
        echo("  ! " + problem.describe())


def execute(plan: Plan, echo: Echo) -> Plan:
    """Carry out the pending steps; returns the problems met on the way (as a Plan with no steps)."""
    # A subject with a fatal problem in the plan gets none of its steps: no link to missing data.
    failed: set[str] = {p.subject for p in plan.fatal}
    met: list[Problem] = []
    for step in plan.pending:
        if step.subject in failed:
            echo(f"  skipped {step.describe()} (a problem with {step.subject} comes first)")
            continue
        try:
            note = step.run() if step.run else None
        except (PerfError, OSError) as exc:
            failed.add(step.subject)
            met.append(Problem(step.subject, str(exc)))
            echo(f"  FAILED {step.describe()}: {exc}")
            continue
        echo(f"  done: {step.describe()}" + (f" ({note})" if note else ""))
    return Plan((), tuple(met))


def run_plan(plan: Plan, *, title: str, yes: bool, dry_run: bool, echo: Echo) -> int:
    """The shared front end of every bootstrap command: show, maybe apply, return the exit code.

    Without --yes and without --dry-run nothing changes: the plan is shown and the user is asked
    to re-run with --yes (never a stdin prompt: CI has no stdin). Exit 0 when everything is in
    place (or would be, for --dry-run), 1 when changes are pending without --yes or a fatal
    problem remains.
    """
    echo(f"{title}{' (dry run: nothing is changed)' if dry_run else ''}:")
    if not plan.steps and not plan.problems:
        echo("  nothing to do")
    render(plan, echo)
    problems = plan.problems
    if plan.pending and yes and not dry_run:
        echo("applying:")
        problems = problems + execute(plan, echo).problems
    fatal = [p for p in problems if p.fatal]
    pending = len(plan.pending)
    if fatal:
        echo(f"{len(fatal)} problem(s) left; see the ERROR lines above.")
        return 1
    if pending and dry_run:
        echo(f"{pending} change(s) would be made; re-run with --yes to apply them.")
        return 0
    if pending and not yes:
        echo(f"{pending} change(s) pending; nothing was changed. Re-run with --yes to apply them.")
        return 1
    warned = len(problems) - len(fatal)
    if pending:
        echo(f"{pending} change(s) applied.")
    else:
        echo("all in place." if not warned else f"nothing to change; {warned} warning(s) above.")
    return 0
