"""The latency and throughput benchmarks run end to end and print every figure line.

Only the format and the exit status are checked: timings are the benchmarks' business,
never a test's.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"-?\d+(?:\.\d+)?"


def _run(script: str, *args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal")])
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_latency_prints_each_stage_the_smoothing_and_a_verdict():
    out = _run("latency.py", "--seconds", "3")
    for stage in ("batching", "firmware", "transport", "queueing", "processing", "total"):
        assert re.search(rf"^{stage}: .+ {NUMBER} +{NUMBER}$", out, re.M), f"no {stage} line in:\n{out}"
    assert re.search(rf"^envelope smoothing .*: {NUMBER} ms$", out, re.M), out
    assert re.search(r"^config: 2 ch x 2000 Hz EMG \+ IMU 104 Hz; streamed 3 s", out, re.M), out
    assert re.search(rf"^verdict: p95 sample -> envelope {NUMBER} ms .* < 40 ms: (PASS|FAIL)$", out, re.M), out


def test_latency_refuses_a_rate_the_board_does_not_support():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal")]))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "latency.py"), "--fs", "3000"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--fs: invalid choice: 3000" in done.stderr


def test_throughput_prints_a_row_per_run_and_the_summary_lines():
    out = _run("throughput.py", "--seconds", "2", "--rates", "2000", "--speeds", "2")
    assert "each run: 2 s of streaming" in out
    rows = re.findall(r"^ ?(\d) +(\d+) +(\d+(?:\.\d+)?) +\d+ +\d+ .*(sustained|NOT sustained.*)$", out, re.M)
    assert [(ch, fs, speed) for ch, fs, speed, _ in rows] == [
        ("1", "2000", "1"), ("2", "2000", "1"), ("3", "2000", "1"), ("3", "2000", "2")], out
    assert re.search(r"^highest supported config sustained: (\d ch x \d+ Hz|none)", out, re.M), out
    assert re.search(r"^highest rate sustained: ", out, re.M), out
    if rows[-1][3] == "sustained":  # then its recording is replayed for the host's own ceiling
        assert re.search(rf"^host pipeline alone .*: {NUMBER} samples/s at {NUMBER} % of one core", out, re.M), out
    assert re.search(rf"^default config \(2 ch x 2000 Hz \+ IMU 104 Hz\): host process {NUMBER} % of one core, "
                     rf"of which record \+ decode \+ live processing {NUMBER} %$", out, re.M), out


def test_dma_irq_latency_prints_a_row_per_latency_and_design():
    out = _run("dma_irq_latency.py", "--seconds", "0.1")
    for latency in ("0", "5", "9", "11", "15", "30"):
        for design in ("old ping-pong", "ring"):
            assert re.search(rf"^ +{latency} +{design}( +\d+){{5}}$", out, re.M), f"no {latency}/{design} row:\n{out}"


def test_protocol_accuracy_prints_a_line_per_protocol():
    out = _run("protocol_accuracy.py", "--seeds", "1")
    for name in ("bridges (left at 70 %)", "single-leg bridges hip drop", "medius stance hip drop", "recruitment",
                 "squeeze test", "medius clamshells and band walk", "desk"):
        assert re.search(rf"^{re.escape(name)}.* {NUMBER}", out, re.M), f"no {name} line in:\n{out}"


def test_soak_prints_a_row_per_hour_and_compares_the_recording_with_the_body_model():
    out = _run("soak.py", "--hours", "0.01", "--period-s", "18", "--dropouts", "1", "--speed", "4")
    rows = re.findall(rf"^ +(\d+) +({NUMBER}) +({NUMBER})( +\d+){{7}} +\d+$", out, re.M)
    assert [r[0] for r in rows] == ["1", "2"], out
    assert re.search(rf"^RSS: first period {NUMBER} MB, last {NUMBER} MB: [+-]{NUMBER} % \(goal: within 10 %\)$",
                     out, re.M), out
    assert re.search(r"^lost inside the backfill window \(\d+ ms\): \d+ samples \(goal: 0: ", out, re.M), out
    assert re.search(r"^wall time: \d+ s for 0.01 h of signal; 8 h at this pace: \d+ min$", out, re.M), out
    for stream in ("EMG", "IMU"):
        assert re.search(rf"^recording {stream}: \d+ samples, \d+ compared .* \d+ differ from the body model.*"
                         rf"(the same as|NOT the same as) the live session's$", out, re.M), out


def test_export_speed_prints_every_stage_for_both_lengths_and_the_growth(tmp_path):
    out = _run("export_speed.py", "--tiny", "--keep", str(tmp_path))
    assert len(re.findall(r"^recording: [\d.]+ min, 4 ch x 2000 Hz EMG \+ IMU 104 Hz", out, re.M)) == 2, out
    for stage in ("read", "analyse", "export edf", "export c3d", "export csv"):
        rows = re.findall(rf"^{stage} +{NUMBER} +{NUMBER} +{NUMBER}  \(RSS growth, this stage alone", out, re.M)
        assert len(rows) == 2, f"no {stage} line for each length in:\n{out}"
        assert re.search(rf"^  {stage} +{NUMBER}$", out, re.M), f"no growth line for {stage}:\n{out}"
    assert len(re.findall(rf"^read .* MB still held after it\)$", out, re.M)) == 2, out
    assert len(re.findall(rf"^\(these stages\) +{NUMBER} +\(peak RSS of their process", out, re.M)) == 2, out
    assert len(re.findall(rf"^glutescope report +{NUMBER} +{NUMBER} +{NUMBER}  \(peak RSS of the process\)$", out,
                          re.M)) == 2, out
    assert re.search(r"^verdict: 1 min, all exports \+ report .* not judged", out, re.M), out
    # An existing recording (as the soak leaves one): the same lines, for it alone.
    given = tmp_path / "bench-0.5min.glutes"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in given.iterdir())
    out = _run("export_speed.py", "--recording", str(given))
    assert re.search(r"^  0\.5 min of EMG, 4 ch x 2000 Hz$", out, re.M), out
    for stage in ("read", "analyse", "export edf", "export c3d", "export csv"):
        assert len(re.findall(rf"^{stage} +{NUMBER} +{NUMBER} +{NUMBER}  \(", out, re.M)) == 1, out
    assert re.search(r"^verdict: bench-0\.5min\.glutes, 0 min, .* per hour of signal", out, re.M), out
    assert sorted((p.name, p.stat().st_mtime_ns) for p in given.iterdir()) == before  # nothing written there


def test_body_model_memory_prints_a_row_per_length_and_way():
    out = _run("body_model_memory.py", "--minutes", "0.5,1", "--whole-max", "0.5")
    rows = re.findall(rf"^ +({NUMBER}) m  (blocks|whole) +{NUMBER} +{NUMBER}$", out, re.M)
    assert rows == [("0.5", "blocks"), ("0.5", "whole"), ("1", "blocks")], out


def test_analysis_compute_prints_the_compute_both_ways():
    out = _run("analysis_compute.py", "--minutes", "0.5", "--repeat", "1", "--profile", "3")
    assert re.search(r"^recording: 0\.5 min, 4 ch x 2000 Hz$", out, re.M), out
    for what in ("analyse", "log pass", "compute", "in memory"):
        assert re.search(rf"^{what}: +{NUMBER} s CPU", out, re.M), f"no {what} line in:\n{out}"
    assert "glutesignal" in out, out  # the profile names the signal core's functions
