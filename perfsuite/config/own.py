"""The case of a test that measures its own code (`perf.measure` in a test without `perf_case`).

Such a test is its own case: its id is the test's parameters (if any) and the device, its "model"
is the test itself, and its measurement policy, threads and outputs are the suite's (the plan's
first case's `hardware`, `measure`, `output`, `seed`), so it is timed like every other case.
"""

from __future__ import annotations

import re
from dataclasses import replace

from perfsuite.config.schema import Case, CaseConfig, DatasetSpec, ModelSpec, RuntimeSpec, SamplingSpec

OWN = "own"  # family, adapter, dataset and runtime name of a test's own case
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]+")


def own_case(base: CaseConfig, *, test: str, params: str | None, device: str) -> Case:
    """The case of test function ``test`` (its parametrization id ``params``) on ``device``."""
    name = f"{test}[{params}]" if params else test
    model = ModelSpec(id=_UNSAFE.sub("_", name), family=OWN, adapter=OWN, modality="any")
    dataset = DatasetSpec(
        name=OWN, adapter=OWN, modality="any", source=None, root=None, files=(), text_field="text", max_samples=0,
        sampling=SamplingSpec("none", base.seed),
    )
    config = replace(
        base, model=model, dataset=dataset, runtime=RuntimeSpec(name=OWN, backend="pytorch"),
        infer=replace(base.infer, precision="fp32", max_new_tokens=0), raw={},
    )
    label = f"{model.id}-{device}"
    return Case(config, 1, device, label=label)


def is_own(case: Case) -> bool:
    return case.model.family == OWN
