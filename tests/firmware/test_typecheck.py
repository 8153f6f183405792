"""The firmware type-checks against MicroPython's own stubs (rp2 port, Pico 2 W).

mypy runs with ``firmware/mypy.ini``: MicroPython's stubs in ``build/upy-stubs`` replace
CPython's typeshed, and ``firmware/typings`` overrides the stubs that are wrong. The
whole package is checked, whatever modules it holds, plus ``firmware/main.py``.
"""
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
CONFIG = FIRMWARE / "mypy.ini"
STUBS = ROOT / "build" / "upy-stubs"
MYPY_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def stubs():
    # machine.pyi comes from the board stubs, stdlib/VERSIONS from the stdlib stubs.
    missing = [p for p in (STUBS / "machine.pyi", STUBS / "stdlib" / "VERSIONS") if not p.exists()]
    if missing:
        pytest.fail("MicroPython stubs missing (%s): run make test, which installs them into "
                    "build/upy-stubs" % ", ".join(str(p.relative_to(ROOT)) for p in missing),
                    pytrace=False)
    return STUBS


def _mypy(config, targets, cache_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache_dir),
         "--no-color-output", "--no-error-summary", *map(str, targets)],
        capture_output=True, text=True, timeout=MYPY_TIMEOUT_S, cwd=ROOT)
    if "No module named mypy" in proc.stderr:
        pytest.fail("mypy is not installed in this environment: run make test", pytrace=False)
    return proc


def _targets(firmware_dir):
    targets = [firmware_dir / "glutefw"]
    if (firmware_dir / "main.py").exists():
        targets.append(firmware_dir / "main.py")
    return targets


def _errors(output):
    return [line for line in output.splitlines() if ": error:" in line]


def test_firmware_type_checks_clean(stubs, tmp_path):
    proc = _mypy(CONFIG, _targets(FIRMWARE), tmp_path / "cache")
    assert proc.returncode == 0 and not _errors(proc.stdout), (
        "mypy found type errors in the firmware:\n" + proc.stdout + proc.stderr)


# Each line is wrong only under MicroPython's API as the config models it: CPython's
# time has no sleep_ms, and the DMA / bluetooth lines pass only with wrong stubs.
PLANTED = [
    ("import time", None),
    ("import rp2", None),
    ("import bluetooth", None),
    ('time.sleep_ms("10")', "arg-type"),
    ('rp2.DMA().write = "not a buffer"', "assignment"),
    ('bluetooth.BLE().gatts_notify(0, b"value handle missing")', "arg-type"),
]


def test_planted_type_errors_are_reported_at_their_lines(stubs, tmp_path):
    copy = tmp_path / "firmware"
    shutil.copytree(FIRMWARE / "glutefw", copy / "glutefw",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if (FIRMWARE / "main.py").exists():
        shutil.copy2(FIRMWARE / "main.py", copy / "main.py")
    # The same config, with its relative paths made absolute so the copy still finds
    # the real overrides and stubs.
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG.read_text(encoding="utf-8")
                      .replace("$MYPY_CONFIG_FILE_DIR", FIRMWARE.as_posix()), encoding="utf-8")

    victim = copy / "glutefw" / "cobs.py"
    if not victim.exists():
        victim = min(p for p in (copy / "glutefw").glob("*.py") if p.name != "__init__.py")
    n_lines = len(victim.read_text(encoding="utf-8").splitlines())
    with victim.open("a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(line for line, _ in PLANTED) + "\n")
    expected = {n_lines + 2 + i: code for i, (_, code) in enumerate(PLANTED) if code}

    proc = _mypy(config, _targets(copy), tmp_path / "cache")

    assert proc.returncode == 1, "mypy accepted planted type errors:\n" + proc.stdout + proc.stderr
    found = {}
    for line in _errors(proc.stdout):
        m = re.match(r"(.+?):(\d+): error: .*\[([a-z-]+)\]$", line)
        if m and pathlib.Path(m.group(1)).name == victim.name:
            found[int(m.group(2))] = m.group(3)
    assert found == expected, (
        "planted errors in %s expected at lines %r, mypy said:\n%s" % (victim.name, expected,
                                                                      proc.stdout))
