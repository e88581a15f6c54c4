"""What a comparison does to the exit code: the gate's decision. Pure function.

Exit codes (documented in docs/gating.md): 1 when any case regressed; with `inconclusive: fail`,
6 when nothing regressed but something was inconclusive (pytest's own codes are 0-5); otherwise
the run's own code. A baseline from another machine id is never gated on unless forced: timings
from different hardware or software say nothing about a code change.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfsuite.compare.verdict import Comparison

EXIT_REGRESSED = 1
EXIT_INCONCLUSIVE = 6


@dataclass(frozen=True)
class GateDecision:
    exit_code: int | None  # None: leave the run's own exit code alone
    message: str
    gated: bool  # False when the gate refused to judge (another machine, nothing compared)


# What kept a case from being judged, by the note its verdict carries (perfsuite.compare.verdict).
_WHY = (
    ("this run was disturbed", "this run was disturbed"),
    ("the baseline was disturbed", "the baseline was disturbed"),
    ("not confirmed", "its confirmation runs could not be used"),
)


def undecided_line(comparison: Comparison, hint: str = "") -> str:
    """One line a CI log reader cannot miss: how many cases the gate could not judge, why, and what would decide them ("" if none)."""
    cases = sorted({v.case for v in comparison.of("inconclusive")})
    if not cases:
        return ""
    total = len({v.case for v in comparison.verdicts})
    reasons: dict[str, set[str]] = {}
    for v in comparison.of("inconclusive"):
        why = next((label for marker, label in _WHY if marker in v.note), "the change is within the measured noise")
        reasons.setdefault(why, set()).add(v.case)
    listed = "; ".join(f"{len(c)}: {why}" for why, c in sorted(reasons.items(), key=lambda kv: -len(kv[1])))
    return (f"GATE COULD NOT JUDGE {len(cases)} of {total} case(s) ({listed}): a regression in them would pass unseen"
            + (f". To decide them: {hint}" if hint else ""))


def decide(
    comparison: Comparison, *, inconclusive: str, base_machine: str | None, head_machine: str | None, force: bool, hint: str = "",
) -> GateDecision:
    """The gate's decision; ``hint`` is the command that would decide the inconclusive cases (shown with them)."""
    if base_machine != head_machine and not force:
        return GateDecision(
            None,
            f"the baseline was measured on machine id {base_machine} and this run on {head_machine}: timings from "
            "different hardware or software are not comparable, so the gate neither fails nor passes this run. "
            "Save a baseline on this machine, or pass --perf-gate-force to gate anyway.",
            gated=False,
        )
    if not comparison.verdicts:
        return GateDecision(None, "nothing to compare: no case of this run is in the baseline", gated=False)
    regressed = comparison.of("regressed")
    if regressed:
        cases = sorted({v.case for v in regressed})
        return GateDecision(EXIT_REGRESSED, f"gate FAILED: {len(cases)} case(s) regressed: {', '.join(cases)}", gated=True)
    undecided = sorted({v.case for v in comparison.of("inconclusive")})
    loud = undecided_line(comparison, hint)
    if undecided and inconclusive == "fail":
        return GateDecision(EXIT_INCONCLUSIVE, f"gate FAILED (inconclusive: fail): no regression proven, but {loud}; cases: {', '.join(undecided)}", gated=True)
    if undecided:
        return GateDecision(None, f"gate passed WITHOUT JUDGING every case: {loud}; cases: {', '.join(undecided)}", gated=True)
    return GateDecision(None, "gate passed: no regression", gated=True)
