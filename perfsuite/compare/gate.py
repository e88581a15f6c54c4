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


def decide(comparison: Comparison, *, inconclusive: str, base_machine: str | None, head_machine: str | None, force: bool) -> GateDecision:
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
    if undecided and inconclusive == "fail":
        return GateDecision(EXIT_INCONCLUSIVE, f"gate: no regression, but {len(undecided)} case(s) inconclusive (inconclusive: fail): {', '.join(undecided)}", gated=True)
    if undecided and inconclusive == "warn":
        return GateDecision(None, f"gate passed with a warning: {len(undecided)} case(s) inconclusive: {', '.join(undecided)}", gated=True)
    return GateDecision(None, "gate passed: no regression", gated=True)
