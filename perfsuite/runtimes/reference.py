"""What a case's runtime is checked against: eager PyTorch in fp32, same model, seed and samples.

The session keeps the reference's output per (model, data, batch size), on the host, and drops it
after the last case that needs it (`perfsuite.session.PerfSession.reference_output`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from perfsuite.config.schema import Case, RuntimeSpec
from perfsuite.runtimes.parity import ParityResult, compare_outputs, host_copy, not_checked

IS_REFERENCE = "not checked: eager PyTorch in fp32 is the reference itself"
DISABLED = "not checked: inference_runtime.parity.enabled is false"


def reference_case(case: Case) -> Case | None:
    """The eager fp32 case `case` is compared with; None when `case` is that reference itself.

    Same model, seed, data and batch size: the model is built from the same seeded weights (cast
    models are cast afterwards), and the inputs are prepared from the same samples in fp32.
    """
    runtime = case.runtime
    if runtime.backend == "pytorch" and case.precision == "fp32" and not runtime.channels_last:
        return None
    eager = RuntimeSpec(name="eager", backend="pytorch", parity=runtime.parity)
    config = replace(case.config, runtime=eager, infer=replace(case.config.infer, precision="fp32"))
    return Case(config, case.batch_size, case.device)


def eager_output(model: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The reference: eager forward under inference_mode, as float32 host tensors by output name."""
    import torch

    with torch.inference_mode():
        return host_copy(model.forward(inputs))


def check_case(
    case: Case, runtime: Callable[[dict[str, Any]], Any], inputs: dict[str, Any], reference_output: Callable[[Case], dict[str, Any]]
) -> ParityResult:
    """Run `runtime` once on `inputs` (the case's first batch) and compare with the reference's output."""
    reference = reference_case(case)
    if reference is None:
        return not_checked(IS_REFERENCE)
    spec = case.runtime.parity
    if not spec.enabled:
        return not_checked(DISABLED)
    actual = host_copy(runtime(inputs))  # before the reference runs: a CUDA graph's output is overwritten by its next replay
    return compare_outputs(actual, reference_output(reference), spec.tolerance(case.precision), precision=case.precision)
