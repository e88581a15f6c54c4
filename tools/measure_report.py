"""Size and open time of the HTML report of a 500-case run, against its targets (< 10 MB, < 5 s in Chromium).

Builds a synthetic run (`perfsuite.report.synthetic`: 25 models x 4 runtimes x 5 batch sizes,
realistic raw samples with outliers, batch sweeps, memory, an OOM per 7 models, noise flags,
profiles and static analysis) and a baseline run with a few injected regressions, writes both
as run folders, then times what a user runs:

    perfsuite report RUN --html --compare BASELINE_RUN      (the comparison included)

timing its steps apart (loading both runs, `compare_runs`, rendering and writing the file), and
opens the file in headless Chromium (network blocked) several times: navigation start to the case
table drawn and two frames painted. Exit status 1 when a target is missed.

    .venv/bin/python tools/measure_report.py [--models 25] [--samples 662] [--opens 5] [--keep DIR]

Needs playwright and a Chromium (Debian: apt-get install chromium).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from perfsuite.compare.verdict import compare_runs  # noqa: E402
from perfsuite.report.browser import find_chromium, open_report  # noqa: E402
from perfsuite.report.html import write_report  # noqa: E402
from perfsuite.report.shown import ComparisonView  # noqa: E402
from perfsuite.report.synthetic import SyntheticSpec, synthetic_run, write_run  # noqa: E402
from perfsuite.results.run import load_run  # noqa: E402

MAX_BYTES = 10 * 1000 * 1000
MAX_OPEN_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=25, help="models (x 4 runtimes x 5 batch sizes = cases; default 25: 500 cases)")
    parser.add_argument("--samples", type=int, default=662, help="raw samples per case (default 662: what p99 needs)")
    parser.add_argument("--opens", type=int, default=5, help="times the report is opened in Chromium (default 5)")
    parser.add_argument("--keep", type=Path, help="write the run folders here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("measure_report: no Chromium found (apt-get install chromium, or set PERFSUITE_CHROMIUM)", file=sys.stderr)
        return 2

    root = args.keep or Path(tempfile.mkdtemp(prefix="perfsuite-report-"))
    spec = SyntheticSpec(models=args.models, samples=args.samples)
    t0 = time.perf_counter()
    base = write_run(synthetic_run(spec), root / "runs" / "baseline")
    head_run = synthetic_run(replace(spec, seed=1, slowdown=1.2, slowed=tuple(range(0, spec.cases, 50))))
    head = write_run(head_run, root / "runs" / "head")
    made_s = time.perf_counter() - t0
    timed = sum(c.kind == "latency" for c in head_run.cases)

    # What `perfsuite report HEAD --html --compare BASE` does, step by step.
    t0 = time.perf_counter()
    base_loaded, head_loaded = load_run(base), load_run(head)
    t1 = time.perf_counter()
    comparison = ComparisonView.of(compare_runs(base_loaded, head_loaded), f"run {base.name}", "measure_report")
    t2 = time.perf_counter()
    report, _ = write_report(head, run=head_loaded, comparison=comparison, baseline=base_loaded)
    t3 = time.perf_counter()
    size = report.stat().st_size

    checks = [open_report(report, chromium=chromium, screenshot=report.with_suffix(".png") if i == 0 else None, full_page=False)
              for i in range(args.opens)]
    errors = sorted({e for c in checks for e in c.console_errors + c.blocked})
    opens = [c.open_s for c in checks]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    print(f"machine: {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, {Path(chromium).name} at {chromium}")
    print(f"run: {timed} latency cases ({len(head_run.cases)} results with static and profile), {args.samples} samples each; "
          f"results.json {(head / 'results.json').stat().st_size / 1e6:.1f} MB; made in {made_s:.1f} s")
    print(f"perfsuite report --html --compare: load both runs {t1 - t0:.2f} s, compare_runs {t2 - t1:.2f} s, "
          f"render and write the report {t3 - t2:.2f} s")
    print(f"report.html: {size / 1e6:.2f} MB (target < {MAX_BYTES / 1e6:.0f} MB)")
    print(f"open in Chromium, {args.opens}x: median {statistics.median(opens):.2f} s, max {max(opens):.2f} s (target < {MAX_OPEN_S:.0f} s); "
          f"first page {checks[0].table_rows} rows, {checks[0].charts} charts drawn")
    print(f"console errors / blocked requests: {errors or 'none'}; screenshot {report.with_suffix('.png')}")
    ok = size < MAX_BYTES and max(opens) < MAX_OPEN_S and not errors
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
