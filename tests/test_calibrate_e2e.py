"""`perfsuite gate calibrate` for real: one tiny case, one trial of a 2x slowdown, through fresh pytest processes."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

SUITE = """
name: cal
description: one tiny model, one batch size
models: [bert.tiny]
datasets: [pydoc]
batch_sizes: [1]
overrides: [measure.stop.min_time_s=0.2, measure.stop.max_time_s=0.6, measure.warmup.max_time_s=0.3]
"""


def test_calibrate_one_trial_of_a_2x_slowdown(tmp_path, conf_dir):
    conf = conf_dir({"suite/cal.yaml": SUITE})
    page, doc_path = tmp_path / "cal.html", tmp_path / "cal.json"
    done = subprocess.run([sys.executable, "-m", "perfsuite.cli", "gate", "calibrate", "--slowdowns", "1.0", "--trials", "1",
                           "--benches", str(REPO / "benches"), "--out", str(tmp_path / "out"), "--json", str(doc_path), "--html", str(page),
                           "--", "--perf-suite", "cal", "--perf-conf-dir", str(conf), "-k", "latency", "--perf-confirm", "0"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no slowdown 0 among --slowdowns" in done.stdout and "smallest caught (>= 90%)" in done.stdout
    doc = json.loads(doc_path.read_text())
    (trial,) = doc["trials"]
    # the gate run saw the injected slowdown: its latency ratio near 2x; caught or not, never the wrong way
    latency = next(v for v in trial["verdicts"] if v["metric"] == "latency" and v["case"] == "bert.tiny-pydoc-eager-bs1-cpu")
    assert latency["ratio"] > 1.4 and not latency["improved"], latency
    assert trial["gate_exit_code"] == (1 if latency["verdict"] == "regressed" else 0) and trial["exit_code"] == trial["gate_exit_code"]
    assert trial["plain_wall_s"] > 0 and trial["gate_wall_s"] > 0
    (change,) = doc["changes"]
    assert change["wrong"] == 0 and change["trials"] == 1
    assert "<svg" in page.read_text() and "bert.tiny-pydoc-eager-bs1-cpu" in page.read_text()
