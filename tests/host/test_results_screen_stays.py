"""In the window, a protocol's results screen stays until the person dismisses it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

DRIVER = r'''
import sys, time
from pathlib import Path
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore
from glutescope.cli import Environment
from glutescope.session import LiveSession, SessionOptions
from glutescope.ui.results_view import ResultsView
from glutescope.ui.runner import run_live

out = Path(sys.argv[1])
app = pg.mkQApp()
seen = {}

def poll():
    views = [w for w in app.topLevelWidgets() if isinstance(w, ResultsView) and w.isVisible()]
    if views:
        seen.setdefault("at", time.monotonic())
        if time.monotonic() - seen["at"] > 3.0:  # still there 3 s later: now dismiss it
            seen["text"] = views[0].text()
            views[0].close_button.click()

timer = QtCore.QTimer()
timer.timeout.connect(poll)
timer.start(100)
summary = run_live(LiveSession(SessionOptions(protocol="squeeze_test", speed=4.0)), headless=False,
                   duration_s=None, screenshot=out / "live.png", env=Environment(environ=dict(os.environ)),
                   results_png=out / "results.png")
print("SHOWN_FOR", round(time.monotonic() - seen["at"], 1))
print("TEXT", seen["text"].splitlines()[0])
'''


def test_the_results_screen_stays_until_dismissed_and_is_saved(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'host'}{os.pathsep}{ROOT / 'signal'}",
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", "import os\n" + DRIVER, str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    shown = float(next(line.split()[1] for line in out.splitlines() if line.startswith("SHOWN_FOR")))
    assert shown >= 3.0  # the session did not end on its own when the results came
    assert "stopped after" in out and "(results dismissed)" in out
    assert "TEXT right " in out and "The LEFT side is weaker" in out
    assert (tmp_path / "results.png").stat().st_size > 10_000
