"""Per-host setup: link local model snapshots as `models/<name>` and dataset data as `datasets/<name>/source-data`.

The shell scripts (`models/bootstrap.sh`, `datasets/<name>/bootstrap.sh`, `./bootstrap.sh`) are
thin wrappers around `perfsuite bootstrap ...`; the logic lives here so it is typed and tested.
"""

from perfsuite.bootstrap.datasets import (
    DatasetBootstrap,
    load_dataset_bootstrap,
    plan_dataset,
    plan_datasets,
    require_source_data,
)
from perfsuite.bootstrap.models import ModelEntry, ModelsBootstrap, load_models_bootstrap, plan_models
from perfsuite.bootstrap.plan import Plan, Problem, Step, run_plan

__all__ = [
    "DatasetBootstrap",
    "ModelEntry",
    "ModelsBootstrap",
    "Plan",
    "Problem",
    "Step",
    "load_dataset_bootstrap",
    "load_models_bootstrap",
    "plan_dataset",
    "plan_datasets",
    "plan_models",
    "require_source_data",
    "run_plan",
]
