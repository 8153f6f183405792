"""A live session ends cleanly however the person stops it, and says so."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_ctrl_c_in_the_window_ends_the_session_and_closes_the_recording(tmp_path):
    rec = tmp_path / "s.glutes"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'host'}{os.pathsep}{ROOT / 'signal'}",
           "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glutescope", "demo", "--headless", "--exercise", "bridges", "--duration", "120",
         "--record", str(rec), "--screenshot", str(tmp_path / "shot.png")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("glutescope: streaming from"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "glutescope: stopped after" in out and "(Ctrl-C)" in out
    info = subprocess.run([sys.executable, "-m", "glutescope", "info", str(rec), "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["closed"] is True


def test_no_display_runs_offscreen_even_when_the_platform_variable_is_empty(tmp_path):
    # An empty QT_QPA_PLATFORM (as some desktop launchers export it) left Qt trying xcb
    # without a display, and it aborted the interpreter.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="", PYTHONPATH=f"{ROOT / 'host'}{os.pathsep}{ROOT / 'signal'}")
    out = subprocess.run([sys.executable, "-m", "glutescope", "demo", "--duration", "2",
                          "--screenshot", str(tmp_path / "shot.png")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "shot.png").is_file()
