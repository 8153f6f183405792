"""``record`` on a terminal: a progress line that fits the width, with total and time left."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

from glutescope.commands.record import fit_status

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = 72
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

pytestmark = pytest.mark.slow


def test_fit_status_drops_whole_fields_from_the_end():
    line = "12.0 s · 24000 samples · frames 300 (lost 0, corrupt 0) · missing samples 0 · battery 66 % · link up"
    assert fit_status(line, 200) == line
    assert fit_status(line, 60) == "12.0 s · 24000 samples · frames 300 (lost 0, corrupt 0)"
    assert fit_status(line, 5) == "12.0…"
    assert fit_status(line, 0) == ""


def _run_on_a_terminal(argv: list[str], columns: int, timeout_s: float = 120.0) -> tuple[int, str]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of `columns` columns, as a user's would be
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'host'}{os.pathsep}{ROOT / 'signal'}",
               "QT_QPA_PLATFORM": "offscreen", "COLUMNS": str(columns)}
        os.execve(sys.executable, [sys.executable, "-m", "glutescope", *argv], env)
    chunks = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_the_progress_line_fits_the_terminal_and_shows_total_and_time_left(tmp_path):
    status, screen = _run_on_a_terminal(
        ["record", str(tmp_path / "t.glutes"), "--duration", "4", "--speed", "4", "--exercise", "bridges"],
        COLUMNS)
    assert status == 0, screen
    # Each redraw of the bar starts with a carriage return; none may be wider than the terminal.
    redraws = [ANSI.sub("", part) for part in re.split(r"[\r\n]", screen) if "|" in part and "%" in part]
    assert redraws, screen
    assert max(len(r) for r in redraws) <= COLUMNS, max(redraws, key=len)
    assert any(re.search(r"\d+/4 s \[\d\d:\d\d<\d\d:\d\d\]", r) for r in redraws), redraws
