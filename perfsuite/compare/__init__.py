"""Comparison of two runs: ratio estimates with intervals, and regressed / ok / inconclusive verdicts.

Pure functions over typed results (`perfsuite.results.RunResult`); no I/O. `stats` holds the
statistics, `verdict` the rules and the suite-wide false-alarm control.
"""

from perfsuite.compare.stats import RatioEstimate, ratio_of_samples
from perfsuite.compare.verdict import Comparison, GatePolicy, Verdict, compare_runs, judge, suite_confidence

__all__ = ["Comparison", "GatePolicy", "RatioEstimate", "Verdict", "compare_runs", "judge", "ratio_of_samples", "suite_confidence"]
