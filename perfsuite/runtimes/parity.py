"""The parity check: a runtime's outputs against eager fp32 on the same inputs, before it is timed.

`compare_outputs(actual, reference, tolerance)` is pure: it flattens both outputs (a transformers
ModelOutput, a dict, a tuple or list, a tensor or a numpy array, nested) into named tensors and
compares the outputs the two share by name; when they share none (an exported graph that returns a
bare tuple), it compares their primary tensors (``logits``, ``last_hidden_state``, ... or the
first). An element matches where ``|out - ref| <= atol + rtol * |ref|`` (torch.allclose).

`require_parity` turns a failed check into the test's failure, naming the output, the largest
absolute and relative errors and the tolerance. The session runs the check once per case
(`perfsuite.session.PerfSession.parity`), before the runtime is timed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfsuite.config.schema import Tolerance

#: Output names taken as a model's main result, in this order, when two outputs share no name.
PRIMARY_OUTPUTS = ("logits", "last_hidden_state", "pooler_output", "output")
REFERENCE = "eager fp32"


@dataclass(frozen=True)
class ParityResult:
    """How a case's runtime compared with eager fp32 (the `parity` section of a result)."""

    checked: bool  # False: the runtime is the reference itself, or the check is disabled (see reason)
    passed: bool
    reference: str = REFERENCE
    precision: str | None = None  # whose tolerances applied
    atol: float | None = None
    rtol: float | None = None
    output: str | None = None  # the output with the largest excess over its tolerance
    max_abs: float | None = None  # of that output; None when it had non-finite values or no shared shape
    max_rel: float | None = None  # |out - ref| / |ref| where the relative tolerance governs (`relative_floor`)
    compared: tuple[str, ...] = ()
    reason: str | None = None  # why not checked, or why it failed beyond the numbers

    def message(self, case_id: str) -> str:
        """One paragraph for a failed check."""
        head = f"{case_id}: outputs differ from the {self.reference} reference (parity check before timing)"
        where = f"output '{self.output}'" if self.output else "the outputs"
        numbers = []
        if self.max_abs is not None:
            numbers.append(f"max abs error {self.max_abs:.4g}")
        if self.max_rel is not None:
            numbers.append(f"max rel error {self.max_rel:.4g}")
        tol = f"tolerance atol {self.atol:g}, rtol {self.rtol:g} ({self.precision})" if self.atol is not None and self.rtol is not None else ""
        detail = "; ".join([p for p in (", ".join(numbers), self.reason, tol) if p])
        return (
            f"{head}: {where}: {detail}. The runtime was not timed. If the difference is expected for this "
            f"runtime, loosen inference_runtime.parity.tolerances.{self.precision or 'PRECISION'} in its preset or with --perf-override."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "passed": self.passed,
            "reference": self.reference,
            "precision": self.precision,
            "atol": self.atol,
            "rtol": self.rtol,
            "output": self.output,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "compared": list(self.compared),
            "reason": self.reason,
        }


def not_checked(reason: str) -> ParityResult:
    return ParityResult(checked=False, passed=True, reason=reason)


def named_tensors(output: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor in a (nested) model output, by dotted name; numpy arrays become tensors."""
    import torch

    found: dict[str, Any] = {}
    if isinstance(output, torch.Tensor):
        found[prefix or "output"] = output
    elif type(output).__module__ == "numpy" and hasattr(output, "shape"):
        found[prefix or "output"] = torch.as_tensor(output)
    elif isinstance(output, Mapping):  # transformers' ModelOutput is an OrderedDict of its non-None fields
        for key, value in output.items():
            found.update(named_tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(output, (tuple, list)):
        for i, value in enumerate(output):
            found.update(named_tensors(value, f"{prefix}.{i}" if prefix else str(i)))
    return found


def primary(tensors: Mapping[str, Any]) -> str | None:
    """The name of the main output: the first of PRIMARY_OUTPUTS present, else the first tensor."""
    for name in PRIMARY_OUTPUTS:
        if name in tensors:
            return name
    return next(iter(tensors), None)


def host_copy(output: Any) -> dict[str, Any]:
    """The output's tensors as float32 on the CPU, detached: a reference that holds no device memory."""
    import torch

    return {name: t.detach().to("cpu", torch.float32) for name, t in named_tensors(output).items()}


@dataclass(frozen=True)
class _Pair:
    name: str
    excess: float  # max(|out - ref| - (atol + rtol |ref|)); inf for a structural failure
    max_abs: float | None
    max_rel: float | None
    reason: str | None = None


def relative_floor(tol: Tolerance) -> float:
    """The smallest |ref| whose relative error is reported: where rtol * |ref| >= atol, the relative
    tolerance is the one that applies; below it atol governs, and a ratio to a near-zero reference
    value would only say the value is near zero."""
    return max(tol.atol / tol.rtol if tol.rtol > 0 else tol.atol, 1e-30)


def _compare_one(name: str, actual: Any, reference: Any, tol: Tolerance) -> _Pair:
    import torch

    if tuple(actual.shape) != tuple(reference.shape):
        return _Pair(name, float("inf"), None, None, f"shape {tuple(actual.shape)} but the reference has {tuple(reference.shape)}")
    a = actual.detach().to("cpu", torch.float32)
    r = reference.detach().to("cpu", torch.float32)
    if a.numel() == 0:
        return _Pair(name, 0.0, 0.0, 0.0)
    finite = torch.isfinite(r)  # where the reference itself is not finite there is nothing to match
    broken = int((~torch.isfinite(a) & finite).sum())
    diff = (a - r).abs()
    diff = torch.where(finite, diff, torch.zeros_like(diff))
    if broken:
        return _Pair(name, float("inf"), None, None, f"{broken} non-finite value(s) where the reference is finite")
    mag = r.abs().nan_to_num(0.0, posinf=0.0, neginf=0.0)
    excess = float((diff - (tol.atol + tol.rtol * mag)).max())
    large = mag >= relative_floor(tol)
    max_rel = float((diff[large] / mag[large]).max()) if bool(large.any()) else None
    return _Pair(name, excess, float(diff.max()), max_rel)


def compare_outputs(actual: Any, reference: Any, tolerance: Tolerance, *, precision: str | None = None) -> ParityResult:
    """Compare a runtime's output with the reference's (either may be nested); pure, no side effects."""
    got = named_tensors(actual)
    want = named_tensors(reference)
    base = ParityResult(checked=True, passed=False, precision=precision, atol=tolerance.atol, rtol=tolerance.rtol)
    shared = [name for name in want if name in got]
    if shared:
        pairs = [_compare_one(name, got[name], want[name], tolerance) for name in shared]
    else:
        g, w = primary(got), primary(want)
        if g is None or w is None:
            missing = "the runtime returned no tensor" if g is None else "the reference has no tensor"
            return _with(base, reason=missing)
        pairs = [_compare_one(g if g == w else f"{g} (vs reference {w})", got[g], want[w], tolerance)]
    worst = max(pairs, key=lambda p: p.excess)
    return _with(
        base,
        passed=worst.excess <= 0,
        output=worst.name,
        max_abs=worst.max_abs,
        max_rel=worst.max_rel,
        compared=tuple(p.name for p in pairs),
        reason=worst.reason,
    )


def _with(result: ParityResult, **changes: Any) -> ParityResult:
    from dataclasses import replace

    return replace(result, **changes)


def require_parity(result: ParityResult, case_id: str) -> None:
    """Fail the running test (not an error in setup) when its runtime's outputs did not match."""
    if not result.passed:
        import pytest

        pytest.fail(result.message(case_id), pytrace=False)
