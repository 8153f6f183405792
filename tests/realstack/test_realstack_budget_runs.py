"""benchmarks/firmware_budget.py runs under the real binary and prints every figure line.

Only the format and the exit status are checked: the figures are the benchmark's
business, never a test's.
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


def test_firmware_budget_prints_each_phase_and_figure(micropython_binary):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal")]),
               GLUTESCOPE_MICROPYTHON=str(micropython_binary))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "firmware_budget.py"), "--seconds", "2"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"^config: 3 ch x 2000 Hz EMG \+ IMU 208 Hz on ", out, re.M), out
    assert re.search(r"^CPU figures: bumble has no air timing", out, re.M), out
    for phase in ("streaming", "full-window RESEND"):
        block = out.split(f"{phase}: ", 1)[1]
        assert re.search(rf"notifications/s: {NUMBER}\n", block), out
        assert re.search(r"heap high-water: \d+ B live .*; \d+ B allocated with garbage, \d+ B free", block), out
        assert re.search(rf"sampling task worst delay: {NUMBER} ms between polls", block), out
        assert re.search(r"capture overruns \(STATUS\): \d+; STATUS free heap min: \d+ B", block), out
    assert re.search(r"^resent: \d+ EMG \+ \d+ IMU samples$", out, re.M), out
