"""Open a run's report.html in headless Chromium (network blocked) and check what a reader would see.

No console error and no request outside the file, the case table drawn with at least one row,
at least two charts drawn; a screenshot lands beside the report as report.png. Exit status 1 when
a check fails, 2 when there is no report or no Chromium. CI runs it on the smoke suite's run.

    .venv/bin/python tools/check_report.py [RUN_DIR]     # default: the newest run under out/runs with a report
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from perfsuite.report.browser import find_chromium, open_report  # noqa: E402


def main(argv: list[str]) -> int:
    if argv:
        run_dir = Path(argv[0])
    else:
        found = sorted(Path("out/runs").glob("*/report.html"))
        if not found:
            print("check_report: no out/runs/*/report.html; run `pytest benches` first or pass RUN_DIR", file=sys.stderr)
            return 2
        run_dir = found[-1].parent
    report = run_dir / "report.html"
    chromium = find_chromium()
    if not report.is_file() or chromium is None:
        print(f"check_report: {'no Chromium (apt-get install chromium)' if report.is_file() else f'{report} does not exist'}", file=sys.stderr)
        return 2
    check = open_report(report, chromium=chromium, screenshot=run_dir / "report.png")
    problems = [f"console: {e}" for e in check.console_errors] + [f"blocked request: {u}" for u in check.blocked]
    if check.table_rows < 1:
        problems.append("the case table has no row")
    if check.charts < 2:
        problems.append(f"only {check.charts} chart(s) drawn")
    print(f"check_report: {report}: opened in {check.open_s:.2f} s, {check.table_rows} table rows, {check.charts} charts, "
          f"screenshot {check.screenshot}")
    for problem in problems:
        print(f"check_report: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
