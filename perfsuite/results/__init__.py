"""Typed run results (`CaseResult`, `RunResult`, `load_run`), the out/ layout and atomic writes."""

from perfsuite.results.case import CaseDraft, CaseInfo, CaseResult
from perfsuite.results.run import ResultsWriter, RunResult, SweepResult, latest_run, load_run

__all__ = ["CaseDraft", "CaseInfo", "CaseResult", "ResultsWriter", "RunResult", "SweepResult", "latest_run", "load_run"]
