"""An inconclusive suite is loud: one line in the terminal decision, summary.md and the HTML report (issue 22, part 7)."""

from __future__ import annotations

from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.gate import decide, undecided_line
from perfsuite.report.verdicts import markdown
from perfsuite.results import load_run
from test_gate_replicates import write_run

BASE = {"a": 0.010, "b": 0.020, "c": 0.030}


def _comparison(tmp_path):
    base = load_run(write_run(tmp_path / "base", BASE, seed=1))
    head = load_run(write_run(tmp_path / "head", {"a": 0.020, "b": 0.040, "c": 0.030}, seed=2, noise=("contended",)))
    return compare_runs(base, head, GatePolicy(noise_floor=0.05))


def test_the_line_counts_the_undecided_cases_and_says_why_and_how_to_decide(tmp_path):
    c = _comparison(tmp_path)
    line = undecided_line(c, "perfsuite ab --base abc123 -- benches")
    assert line.startswith("GATE COULD NOT JUDGE 3 of 3 case(s) (")
    assert "2: this run was disturbed" in line and "1: the change is within the measured noise" in line
    assert line.endswith("To decide them: perfsuite ab --base abc123 -- benches")
    d = decide(c, inconclusive="warn", base_machine="m", head_machine="m", force=False, hint="perfsuite ab --base abc123")
    assert d.exit_code is None and d.message.startswith("gate passed WITHOUT JUDGING every case: GATE COULD NOT JUDGE 3 of 3")
    strict = decide(c, inconclusive="fail", base_machine="m", head_machine="m", force=False)
    assert strict.exit_code == 6 and "GATE COULD NOT JUDGE" in strict.message
    quiet = decide(c, inconclusive="pass", base_machine="m", head_machine="m", force=False)
    assert quiet.exit_code is None and "WITHOUT JUDGING" in quiet.message  # even `pass` says so


def test_a_judged_suite_has_no_line(tmp_path):
    base = load_run(write_run(tmp_path / "base", BASE, seed=1))
    head = load_run(write_run(tmp_path / "head", {k: 2 * v for k, v in BASE.items()}, seed=2))
    c = compare_runs(base, head, GatePolicy(noise_floor=0.05))
    assert undecided_line(c) == "" and decide(c, inconclusive="warn", base_machine="m", head_machine="m", force=False).exit_code == 1


def test_summary_md_opens_with_the_warning(tmp_path):
    c = _comparison(tmp_path)
    d = decide(c, inconclusive="warn", base_machine="m", head_machine="m", force=False)
    text = markdown(c, "baseline 'main'", decision=d.message)
    first = text.splitlines()[2:4]
    assert first[0] == "> [!WARNING]" and "GATE COULD NOT JUDGE 3 of 3" in first[1]


def test_the_html_report_shows_the_line_as_a_banner(tmp_path):
    from perfsuite.report.html import gather, render
    from perfsuite.report.shown import ComparisonView

    c = _comparison(tmp_path)
    d = decide(c, inconclusive="warn", base_machine="m", head_machine="m", force=False)
    view = ComparisonView.of(c, "baseline 'main'", "the gate of this session", d.message)
    page = render(gather(tmp_path / "head", report_dir=tmp_path / "head", comparison=view))
    assert "GATE COULD NOT JUDGE 3 of 3 case(s)" in page


def test_the_gate_reports_its_wall_time_next_to_a_plain_run_s():
    from perfsuite.gate_plugin import GatePlugin

    plugin = GatePlugin(session=None, store=None, save_as=None, compare_to="main", gate=True, force=False)
    assert plugin.cost_line() == ""  # nothing measured yet
    plugin.wall.update(startup=10.0, cases=30.0, total=41.0)
    assert plugin.cost_line() == "gate wall time: 41 s, a plain run's part (start-up + cases) 40 s, nothing re-measured (1.0x)"
    plugin.wall.update(confirmation=20.0, beside=60.0, total=122.0)
    assert plugin.cost_line() == ("gate wall time: 122 s, a plain run's part (start-up + cases) 40 s, "
                                  "re-measuring: confirmation 20 s, beside 60 s (3.0x)")
