"""The regression gate inside pytest: `--perf-compare NAME [--perf-gate]` and `--perf-baseline-save NAME`.

A `GatePlugin` object is registered only when one of those options is given (pytest's LogXML
pattern), after perfsuite's own session is set up. It loads the baseline before the first case
(a missing or corrupt baseline is a usage error then, not a surprise at the end), judges each case
as soon as its result is known (so `--junitxml` gets `perf_verdict` properties per test case),
and at the end of the session prints the verdict table, writes `verdicts.json` and `summary.md`
into the run folder (and `$GITHUB_STEP_SUMMARY`), and, with `--perf-gate`, sets the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from perfsuite.errors import PerfDataError, PerfError

GATE_PLUGIN = "perfsuite-gate"


def _budget_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0; 0 turns the re-measurement off), got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0; 0 turns the re-measurement off), got {text!r}")
    return value


def add_options(group: Any) -> None:
    group.addoption("--perf-baseline-save", default=None, metavar="NAME", help="after the run, store it as baseline NAME (out/baselines/<machine-id>/NAME.json). Default: none.")
    group.addoption("--perf-compare", default=None, metavar="NAME", help="compare every case with baseline NAME and print verdicts (regressed / ok / inconclusive). Default: none.")
    group.addoption("--perf-gate", action="store_true", default=False, help="with --perf-compare: exit 1 when a case regressed (6 for inconclusive with `inconclusive: fail`). Default: off.")
    group.addoption("--perf-gate-config", default="default", metavar="NAME", help="thresholds, alpha and noise floor from conf/gate/NAME.yaml. Default: default.")
    group.addoption("--perf-gate-force", action="store_true", default=False, help="gate even against a baseline from another machine id. Default: off.")
    group.addoption("--perf-baseline-keep", default=5, type=int, metavar="N", help="--perf-baseline-save keeps the last N runs under that name: the gate judges by the spread between them once a baseline has 3 (1 replaces). Default: 5.")
    group.addoption("--perf-confirm", default=3, type=int, metavar="K",
                    help="with --perf-compare: after the run, measure each case that looks regressed (its change beyond the threshold) "
                         "again in K fresh pytest processes, and judge it on those K runs alone, so one disturbed run cannot fail the "
                         "gate; 0 judges the run as it is. Default: 3.")
    group.addoption("--perf-confirm-budget", default=None, type=_budget_arg, metavar="SECONDS",
                    help="with --perf-compare: wall time for measuring the cases still inconclusive (and worse than their threshold) "
                         "after the confirmation runs again, in paired rounds beside a git worktree of the baseline's commit run with "
                         "the baseline's own arguments (needs a git checkout and a baseline saved from a clean commit; docs/gating.md); "
                         "0: off, and also no second run of the baseline's commit for the cases regressed against a one-run baseline. "
                         "Default: only cases whose runs were disturbed (a busy machine), within 6 rounds' worth, a round "
                         "costing 2 x (those cases' wall time in this run + this session's start-up time); given: every such case.")
    group.addoption("--perf-baseline-dir", default=None, metavar="DIR", help="where baselines are stored. Default: <out dir>/baselines.")


@dataclass
class GatePlugin:
    """Loaded baseline, gate config and the verdicts of this session."""

    session: Any  # perfsuite.session.PerfSession
    store: Any  # perfsuite.results.baselines.BaselineStore
    save_as: str | None
    compare_to: str | None
    gate: bool
    force: bool
    keep: int = 5
    spec: Any = None  # perfsuite.config.gate.GateSpec
    baseline: Any = None  # perfsuite.results.baselines.Baseline
    machine_id: str | None = None
    tests: int = 1
    decision: Any = None
    comparison: Any = None
    saved: Path | None = None
    notes: list[str] = field(default_factory=list)
    models: Any = None  # metric -> perfsuite.compare.replicates.ReplicateModel of the baseline's runs
    diffs: list[Any] = field(default_factory=list)  # perfsuite.results.profile_diff.CaseDiff per regressed case
    confirm: int = 3  # --perf-confirm: confirmation runs for a case that looks regressed
    confirmation: Any = None  # perfsuite.confirm.ConfirmOutcome, when suspects were re-measured
    budget: float | None = None  # --perf-confirm-budget seconds; None: sized to the undecided cases
    beside: Any = None  # perfsuite.beside.BesideOutcome, when undecided cases were re-measured beside the baseline's commit
    base_again: Any = None  # perfsuite.beside.BaseAgain, when one-run regressions were checked against the baseline's commit again
    durations: dict[str, float] = field(default_factory=dict)  # node id -> its wall time in this session (setup + call + teardown)
    wall: dict[str, float] = field(default_factory=dict)  # seconds: startup, cases, confirmation, beside, gate

    @classmethod
    def from_config(cls, config: pytest.Config, session: Any, out_dir: Path, conf_dirs: tuple[str, ...]) -> GatePlugin | None:
        opt = config.option
        if opt.perf_gate and not opt.perf_compare:
            raise pytest.UsageError("--perf-gate needs a baseline to gate against: add --perf-compare NAME (save one first with --perf-baseline-save NAME)")
        if opt.perf_gate_force and not opt.perf_compare:
            raise pytest.UsageError("--perf-gate-force only applies with --perf-compare NAME")
        if not (opt.perf_compare or opt.perf_baseline_save):
            return None
        from perfsuite.compare.verdict import replicate_models
        from perfsuite.config.gate import load_gate
        from perfsuite.results.baselines import MAX_KEEP, BaselineStore, check_name

        store = BaselineStore(Path(opt.perf_baseline_dir).resolve() if opt.perf_baseline_dir else out_dir / "baselines")
        plugin = cls(session, store, opt.perf_baseline_save, opt.perf_compare, opt.perf_gate, opt.perf_gate_force, opt.perf_baseline_keep,
                     confirm=opt.perf_confirm, budget=opt.perf_confirm_budget)
        try:
            from perfsuite.confirm import MAX_CONFIRM

            if not 0 <= plugin.confirm <= MAX_CONFIRM:
                raise PerfDataError(f"--perf-confirm must be 0 to {MAX_CONFIRM} (fresh pytest processes per suspect case; 0: none), got {plugin.confirm}")
            if plugin.save_as:
                check_name(plugin.save_as)
                if not 1 <= plugin.keep <= MAX_KEEP:
                    raise PerfDataError(f"--perf-baseline-keep must be 1 to {MAX_KEEP} (runs kept under one baseline name), got {plugin.keep}")
            if plugin.compare_to:
                plugin.spec = load_gate(opt.perf_gate_config, conf_dirs)
                env = json.loads((session.run_dir / "env.json").read_text(encoding="utf-8"))
                plugin.machine_id = env.get("machine_id")
                plugin.baseline = store.load(plugin.compare_to, plugin.machine_id)
                plugin.models = replicate_models((plugin.baseline.run, *plugin.baseline.replicates), plugin.spec.policy.statistic)
        except PerfError as exc:
            raise pytest.UsageError(str(exc)) from None
        return plugin

    # -- during the run -----------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.wall["startup"] = _process_age()
        if self.baseline is None:
            return
        from perfsuite.compare.verdict import sample_tests

        known = {c.key: c for c in self.baseline.run.cases if c.outcome == "passed"}
        keys = {f"{getattr(item, 'originalname', item.name)}::{case.id}" for item in session.items if (case := _case_of(item)) is not None}
        self.tests = sum(sample_tests(known[k]) for k in keys if k in known) or 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration

    def properties(self, result: Any) -> list[tuple[str, str]]:
        """JUnit properties of one finished case: its verdict, and each metric's change and interval.

        They are this run's verdicts: JUnit XML takes them as the case ends. A case that will be
        measured again (``--perf-confirm``) says so in ``perf_confirm``; its final verdict is in
        verdicts.json and the summary.
        """
        from perfsuite.compare.confirm import suspects
        from perfsuite.compare.verdict import worst_per_case

        verdicts = self.case_verdict(result)
        if not verdicts:
            return [("perf_verdict", "new" if self.baseline is not None else "none")]
        again = bool(self.confirm and suspects(self._as_comparison(verdicts)))
        # A case the gate re-measures has no verdict yet: "suspect", never a first run's "regressed" that the gate may overturn.
        out = [("perf_verdict", "suspect" if again else worst_per_case(verdicts)[result.case.id])]
        for v in verdicts:
            e = v.estimate
            out.append((f"perf_{v.metric}", f"{v.verdict} {e.change:+.2%} [{e.low - 1:+.2%}, {e.high - 1:+.2%}]"))
        if again:
            out.append(("perf_confirm", f"re-measured in {self.confirm} fresh runs after the session; the final verdict is in verdicts.json"))
        return out

    def _as_comparison(self, verdicts: list[Any]) -> Any:
        from perfsuite.compare.verdict import Comparison

        assert self.spec is not None
        return Comparison(tuple(verdicts), (), (), self.spec.policy.alpha, self.tests, self.spec.policy.statistic)

    def case_verdict(self, result: Any) -> list[Any]:
        """Verdicts of one finished case against the baseline, at the suite's confidence."""
        from perfsuite.compare.verdict import compare_runs
        from perfsuite.results.run import RunResult

        if self.baseline is None:
            return []
        head = RunResult(run_dir=self.session.run_dir, status="running", suite=None, device=None, started=None, cases=(result,))
        return list(compare_runs(self.baseline.run, head, self.spec.policy, tests=self.tests, models=self.models).verdicts)

    # -- confirmation runs: after the last case, before anyone writes the session's outputs --------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        started = time.perf_counter()
        result = yield
        self.wall["cases"] = time.perf_counter() - started
        if self.baseline is not None and self.confirm > 0 and not (session.shouldfail or session.shouldstop):
            with self.session.guard("the confirmation runs"):
                self._confirm(session)
        if self.baseline is not None and self.budget != 0 and not (session.shouldfail or session.shouldstop):
            with self.session.guard("the re-measurement beside the baseline's commit"):
                self._beside(session)
        return result

    def _confirm(self, session: pytest.Session) -> None:
        from perfsuite.compare.confirm import suspects
        from perfsuite.compare.verdict import compare_runs
        from perfsuite.confirm import CONFIRM_DIR, run_confirmations
        from perfsuite.measure.speed_probe import session_probe

        perf = self.session
        assert self.spec is not None and self.baseline is not None
        if self.baseline.machine_id != self.machine_id and not self.force:
            return  # the gate will not judge across machines: nothing to confirm
        first = compare_runs(self.baseline.run, perf.results.snapshot(), self.spec.policy, models=self.models)
        keys = suspects(first)
        nodeids = self._nodeids(keys, "the cases that look regressed")
        if not nodeids:
            return
        config, say = session.config, _sayer(session.config)
        say(f"{len(keys)} case{'s' if len(keys) > 1 else ''} look{'' if len(keys) > 1 else 's'} regressed "
            f"({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}); measuring {'them' if len(keys) > 1 else 'it'} again "
            f"in {self.confirm} fresh pytest process{'es' if self.confirm > 1 else ''} (--perf-confirm {self.confirm}) ...")
        probe = session_probe() if perf.plan.device == "cpu" else None
        self.confirmation = run_confirmations(
            keys, nodeids,
            count=self.confirm,
            args=list(config.invocation_params.args),
            cwd=Path(config.invocation_params.dir),
            out_dir=perf.run_dir / CONFIRM_DIR,
            probe_reference_s=probe.reference_s if probe is not None else None,
            xdist=bool(getattr(config.option, "numprocesses", None)),
            progress=say,
            settled=lambda runs: self._settled(first, runs, keys),
        )
        for failure in self.confirmation.failures:
            self.notes.append(failure)

    def _settled(self, first: Any, runs: list[Any], keys: tuple[str, ...]) -> str:
        """Why the confirmation runs can stop after ``runs`` ("" to go on): every suspect decided, or the machine busy."""
        from perfsuite.compare.confirm import confirm_comparison, settled

        assert self.spec is not None and self.baseline is not None
        so_far = confirm_comparison(first, self.baseline.run, runs, self.spec.policy, models=self.models, keys=keys, looks=self.confirm)
        return settled(so_far, runs, keys)

    def _beside(self, session: pytest.Session) -> None:
        """After the confirmation runs: the baseline's commit measured again (perfsuite.beside).

        Cases still undecided are measured in paired rounds beside it; cases regressed against a
        one-run baseline are judged against one more run of it before the gate fails them.
        """
        from perfsuite.beside import BASE_AGAIN_DIR, BESIDE_DIR, default_budget, measure_base_again, remeasure_beside
        from perfsuite.compare.beside import undecided
        from perfsuite.compare.confirm import one_run_regressions
        from perfsuite.plugin import PERF_OPTIONS

        perf = self.session
        assert self.spec is not None and self.baseline is not None
        if self.baseline.machine_id != self.machine_id:
            return  # judged against another machine's figures: runs measured here would not decide them
        head = perf.results.snapshot()
        so_far = self._judged(head)
        config, say = session.config, _sayer(session.config)
        options = config.stash.get(PERF_OPTIONS, None)
        models_dir = options.models_dir if options is not None else None
        xdist = hasattr(config.option, "numprocesses")
        # part of confirming (--perf-confirm 0 judges the run as it is): was the one baseline run itself unusually fast?
        verify = one_run_regressions(so_far) if self.confirm > 0 else ()
        verify_ids = self._nodeids(verify, "the regressed cases")
        if verify_ids:
            say(f"{len(verify)} case{'s' if len(verify) > 1 else ''} regressed against a one-run baseline ({_listed(verify)}); "
                "measuring the baseline's commit once more, to rule out a baseline run that was unusually fast ...")
            self.base_again = measure_base_again(verify, verify_ids, self.baseline, rootdir=Path(config.rootpath),
                                                 out_dir=perf.run_dir / BASE_AGAIN_DIR, models_dir=models_dir, xdist=xdist, progress=say)
            b = self.base_again
            self.wall["baseline again"] = b.seconds
            say(f"the baseline's commit not measured again: {b.why_not}" if b.why_not else
                f"the baseline's commit {str(b.commit)[:10]} measured again in {b.seconds:.0f} s")
        keys = undecided(so_far, suspect_only=True)
        if self.budget is None:  # by default only where the machine was busy; a budget given is spent on every suspect
            keys = self._disturbed(keys, head)
        nodeids = self._nodeids(keys, "the undecided cases")
        if not nodeids:
            return
        case_s, startup_s = sum(self.durations.get(n, 0.0) for n in nodeids), self.wall.get("startup", 0.0)
        round_s = 2.0 * (case_s + startup_s)
        budget = self.budget if self.budget is not None else default_budget(case_s, startup_s)
        say(f"{len(keys)} case{'s' if len(keys) > 1 else ''} still inconclusive ({_listed(keys)}); "
            f"re-measuring beside the baseline's commit in paired rounds of about {round_s:.0f} s, "
            f"within {budget:.0f} s (--perf-confirm-budget) ...")
        self.beside = remeasure_beside(
            keys, nodeids, self.baseline,
            first=so_far,
            rootdir=Path(config.rootpath),
            head_args=list(config.invocation_params.args),
            head_cwd=Path(config.invocation_params.dir),
            out_dir=perf.run_dir / BESIDE_DIR,
            budget_s=budget,
            round_estimate_s=round_s,
            models_dir=models_dir,
            statistic=self.spec.policy.statistic,
            xdist=xdist,
            progress=say,
        )
        b = self.beside
        self.wall["beside"] = b.seconds
        say(f"not re-measured beside the baseline's commit: {b.why_not}" if b.why_not else
            f"beside the baseline's commit {b.commit[:10]}: {b.to_dict()['rounds']} paired rounds in {b.seconds:.0f} s; {b.stopped}")

    def _disturbed(self, keys: tuple[str, ...], head: Any) -> tuple[str, ...]:
        """The cases of ``keys`` whose run here or any confirmation run was disturbed (a busy machine).

        A case undecided on a quiet machine is so because a one-run baseline's interval is wide:
        paired rounds would decide it, but re-measuring every such case would make an unchanged
        gate run cost several plain runs, so by default the gate names it (and the `perfsuite ab`
        command) instead. A disturbed head, though, can only be overcome by measuring the baseline
        again under the same load.
        """
        from perfsuite.compare.verdict import disturbances

        runs = [head, *(self.confirmation.runs if self.confirmation is not None else ())]
        busy = {r.key for run in runs for r in run.cases if disturbances(r)}
        return tuple(k for k in keys if k in busy)

    def _nodeids(self, keys: tuple[str, ...], which: str) -> list[str]:
        """The test node ids that measured ``keys``; none (with a note when there were keys) when they were not recorded."""
        nodeids = [n for k in keys for n in self.session.nodeids.get(k, ())]
        if keys and not nodeids:
            self.notes.append(f"{which} ({', '.join(keys)}) cannot be re-measured: their test ids were not recorded")
        return nodeids

    def _judged(self, head: Any) -> Any:
        """The comparison of ``head`` with the baseline, with the confirmation runs' verdicts where there were any."""
        from perfsuite.compare.verdict import compare_runs

        assert self.spec is not None and self.baseline is not None
        comparison = compare_runs(self.baseline.run, head, self.spec.policy, models=self.models)
        if self.confirmation is not None:
            from perfsuite.compare.confirm import confirm_comparison

            c = self.confirmation
            comparison = confirm_comparison(comparison, self.baseline.run, c.runs, self.spec.policy, models=self.models,
                                            keys=c.keys, failure="; ".join(c.failures), looks=self.confirm)
        return comparison

    # -- the end ------------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        perf = self.session
        if self.save_as and perf.results.status == "finished" and perf.results.cases and not perf.results.write_error:
            with perf.guard(f"saving baseline {self.save_as!r}"):
                try:
                    self.saved = self.store.save(perf.run_dir, self.save_as, keep=self.keep)
                except PerfDataError as exc:  # a run that cannot be a baseline (e.g. untimed): said, not a perfsuite failure
                    self.notes.append(f"baseline {self.save_as!r} was not saved: {exc}")
        elif self.save_as:
            self.notes.append(f"baseline {self.save_as!r} was not saved: the run is {perf.results.status}"
                              + (" and could not write its results" if perf.results.write_error else "")
                              + ("" if perf.results.cases else " with no case results"))
        if self.baseline is None:
            return
        with perf.guard("the comparison with the baseline"):
            self._compare(session)

    def _compare(self, session: pytest.Session) -> None:
        from perfsuite.compare.gate import decide
        from perfsuite.report.verdicts import markdown, verdicts_doc
        from perfsuite.results.layout import atomic_write_text

        perf = self.session
        assert self.spec is not None and self.baseline is not None
        head = perf.results.snapshot()
        self.comparison = self._judged(head)
        if self.beside is not None:
            self.comparison = self.beside.rejudge(self.comparison)
        if self.base_again is not None:
            from perfsuite.compare.confirm import recheck

            c, b = self.confirmation, self.base_again
            runs = c.runs if c is not None and c.runs else [head]
            self.comparison = recheck(self.comparison, b.run, runs, self.spec.policy, keys=b.keys, commit=b.commit,
                                      why_not=b.why_not, looks=self.confirm)
        self.decision = decide(
            self.comparison,
            inconclusive=self.spec.inconclusive,
            base_machine=self.baseline.machine_id,
            head_machine=self.machine_id,
            force=self.force,
            hint=self._hint(session),
        )
        session.config.hook.pytest_perf_verdicts(config=session.config, comparison=self.comparison, decision=self.decision)
        with perf.guard("the profile diffs of regressed cases"):
            self._diff_regressed(head)
        label = self.label
        doc = verdicts_doc(
            self.comparison,
            base={"baseline": self.baseline.name, "saved": self.baseline.saved, "machine_id": self.baseline.machine_id, "source_run": self.baseline.source_run},
            head={"run": str(perf.run_dir), "machine_id": self.machine_id},
            gate={"config": self.spec.name, "enforced": self.gate, "decision": self.decision.message, "exit_code": self.decision.exit_code or 0},
        )
        if self.confirmation is not None:
            doc["confirmation"] = {"requested_runs": self.confirm, **self.confirmation.to_dict()}
            self.wall["confirmation"] = self.confirmation.seconds
        if self.beside is not None:
            doc["beside"] = self.beside.to_dict()
        if self.base_again is not None:
            doc["baseline_again"] = self.base_again.to_dict()
        self.wall["total"] = _process_age()
        doc["wall_s"] = {k: round(v, 1) for k, v in self.wall.items()}
        if self.diffs:  # where each regressed case's profile diff is, or why it has none
            doc["profile_diffs"] = [{"case": d.case, "path": str(d.path) if d.path else None, "reason": d.reason,
                                     "top": [r.to_dict() for r in d.top]} for d in self.diffs]
        summary = markdown(self.comparison, label, head=head, decision=self.decision.message)
        atomic_write_text(perf.run_dir / "verdicts.json", json.dumps(doc, indent=1))
        atomic_write_text(perf.run_dir / "summary.md", summary)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            try:
                with open(step_summary, "a", encoding="utf-8") as fh:
                    fh.write(summary)
            except OSError as exc:
                self.notes.append(f"could not append to $GITHUB_STEP_SUMMARY ({step_summary}): {exc.strerror or exc}")
        if self.gate and self.decision.exit_code is not None and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = self.decision.exit_code

    def _hint(self, session: pytest.Session) -> str:
        """The `perfsuite ab` command that would decide the cases still inconclusive ("" when none is)."""
        from perfsuite.confirm import decide_command

        assert self.comparison is not None and self.baseline is not None
        keys = sorted({f"{v.test}::{v.case}" for v in self.comparison.of("inconclusive")})
        # -k by the tests' own names (test_latency[<case id>], test_pipeline[8]): a case id alone need not name a test
        cases = list(dict.fromkeys(n.rsplit("::", 1)[-1] for k in keys for n in self.session.nodeids.get(k, [k.rsplit("::", 1)[-1]])))
        if not cases:
            return ""
        git = self.baseline.env.get("git") if isinstance(self.baseline.env, dict) else None
        commit = git.get("commit") if isinstance(git, dict) and isinstance(git.get("commit"), str) else None
        return decide_command(list(session.config.invocation_params.args), commit, cases)

    def _diff_regressed(self, head: Any) -> None:
        """tables/<case>.diff.csv for each regressed case: its op table here against the baseline's."""
        from perfsuite.results.profile_diff import diff_regressed

        assert self.comparison is not None and self.baseline is not None
        regressed = [v.case for v in self.comparison.of("regressed")]
        if regressed:
            source = Path(self.baseline.source_run) if self.baseline.source_run else None
            self.diffs = diff_regressed(regressed, self.baseline.run, source, head, self.session.run_dir)

    @property
    def label(self) -> str:
        b = self.baseline
        if b is None:
            return "no baseline"
        runs = f", {b.runs} runs" if b.runs > 1 else ""
        return f"baseline {b.name!r} (saved {b.saved}, machine {b.machine_id}{runs})"

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from perfsuite.report.verdicts import terminal_lines

        if self.comparison is not None and self.decision is not None:
            terminalreporter.write_sep("-", "perfsuite gate" if self.gate else "perfsuite comparison")
            for line in terminal_lines(self.comparison, self.label):
                terminalreporter.write_line(line)
            failed = self.decision.exit_code is not None and self.gate
            terminalreporter.write_line(
                self.decision.message + ("" if self.gate or not self.decision.gated else " (not enforced: add --perf-gate)"),
                red=failed, green=not failed and self.decision.gated, yellow=not self.decision.gated, bold=True,
            )
            terminalreporter.write_line(f"verdicts: {self.session.run_dir / 'verdicts.json'}, summary: {self.session.run_dir / 'summary.md'}")
            cost = self.cost_line()
            if cost:
                terminalreporter.write_line(cost)
            self._write_diffs(terminalreporter)
        if self.saved is not None:
            terminalreporter.write_line(f"baseline {self.save_as!r} saved: {self.saved} ({_runs_kept(self.saved)})")
        for note in self.notes:
            terminalreporter.write_line(f"perfsuite: {note}", yellow=True)

    def cost_line(self) -> str:
        """What the gate cost next to what a plain run of the same cases costs (start-up + cases), or ""."""
        w = self.wall
        if "total" not in w or "cases" not in w:
            return ""
        plain = w.get("startup", 0.0) + w["cases"]
        extra = [f"{name} {w[name]:.0f} s" for name in ("confirmation", "baseline again", "beside") if w.get(name)]
        return (f"gate wall time: {w['total']:.0f} s, a plain run's part (start-up + cases) {plain:.0f} s"
                + (f", re-measuring: {', '.join(extra)}" if extra else ", nothing re-measured")
                + (f" ({w['total'] / plain:.1f}x)" if plain > 0 else ""))

    def _write_diffs(self, terminalreporter: Any) -> None:
        from perfsuite.results.profile_diff import describe

        for d in self.diffs:
            if d.path is None and not d.top:
                terminalreporter.write_line(f"profile diff of {d.case}: none, {d.reason}", yellow=True)
                continue
            if d.path is None:
                terminalreporter.write_line(f"profile diff of {d.case}: {d.reason}", yellow=True)
            terminalreporter.write_line(f"profile diff of {d.case} (head - base, per profiled step; {d.path or 'not saved'}):")
            for row in d.top:
                terminalreporter.write_line(f"  {describe(row)}")


def _listed(keys: tuple[str, ...]) -> str:
    return ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")


def _runs_kept(path: Path) -> str:
    from perfsuite.results.baselines import read_baseline

    try:
        runs = read_baseline(path).runs
    except PerfError:
        return "unreadable after saving"
    if runs >= 3:
        return f"{runs} runs kept: the gate judges by the spread between them"
    return f"{runs} run{'s' if runs > 1 else ''} kept; from 3 runs the gate judges by the spread between runs"


def _sayer(config: pytest.Config) -> Any:
    """A progress line writer: ``perfsuite gate: ...`` on the terminal, nothing without one."""
    tr = config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if tr is not None:
            tr.write_line(f"perfsuite gate: {line}")

    return say


def _process_age() -> float:
    """Seconds since this process started (pytest's own start-up included)."""
    import psutil

    return max(0.0, time.time() - psutil.Process().create_time())


def _case_of(item: pytest.Item) -> Any:
    from perfsuite.plugin import _case_of as case_of

    return case_of(item)


def register(config: pytest.Config, session: Any, out_dir: Path, conf_dirs: tuple[str, ...]) -> GatePlugin | None:
    plugin = GatePlugin.from_config(config, session, out_dir, conf_dirs)
    if plugin is not None:
        config.pluginmanager.register(plugin, GATE_PLUGIN)
    return plugin
