"""``glutescope firmware install`` over a board that already runs the glutescope firmware.

mpremote itself cannot run here (no board), so its process is replaced by a stand-in
that answers the way mpremote 1.2x does when the board's REPL is busy with a running
program: exit status 1 and "could not enter raw repl" on the first call.
"""
import subprocess

import pytest

from glutescope.commands import firmware
from test_cli import run_cli


class _Mpremote:
    def __init__(self, busy_calls):
        self.busy_calls = busy_calls
        self.calls = []

    def __call__(self, cmd, capture_output, text):
        self.calls.append(cmd)
        if len(self.calls) <= self.busy_calls:
            return subprocess.CompletedProcess(cmd, 1, "", "mpremote: could not enter raw repl\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.fixture
def mpremote(monkeypatch):
    def make(busy_calls):
        fake = _Mpremote(busy_calls)
        monkeypatch.setattr(firmware.subprocess, "run", fake)
        monkeypatch.setattr(firmware.time, "sleep", lambda s: None)
        monkeypatch.setattr(firmware, "_module_available", lambda name: True)
        return fake

    return make


def test_installing_over_the_running_firmware_retries_once_and_succeeds(mpremote):
    # The firmware took mpremote's first Ctrl-C and swallowed its Ctrl-A: one failure.
    fake = mpremote(busy_calls=1)
    status, out, err = run_cli("firmware", "install", "--port", "/dev/ttyACM9")
    assert status == 0, err
    assert fake.calls[0] == fake.calls[1]  # the same mkdir, once more
    assert "firmware installed" in out


def test_a_board_that_never_gives_the_repl_back_gets_advice_that_works_on_an_rp2350(mpremote):
    mpremote(busy_calls=99)
    status, _, err = run_cli("firmware", "install", "--port", "/dev/ttyACM9")
    assert status != 0 and err.count("\n") == 1
    assert "press BOOTSEL while the LED blinks" in err
    assert "hold BOOTSEL while plugging" not in err  # that starts the ROM bootloader instead
