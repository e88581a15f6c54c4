"""Compose the Hydra tree under conf/, validate it into frozen dataclasses, expand the matrix."""

from perfsuite.config.plan import build_plan
from perfsuite.config.schema import Case, CaseConfig, SuitePlan

__all__ = ["build_plan", "Case", "CaseConfig", "SuitePlan"]
