"""``glutescope firmware install``: copy the firmware to a board running stock MicroPython.

It drives mpremote (MicroPython's own tool) so the copy is what MicroPython's
maintainers support; ``--dry-run`` prints the plan without touching a board.

A board already running the glutescope firmware gives the REPL back on a Ctrl-C that is
not part of a command (firmware/glutefw/recovery.py) about 0.25 s later. mpremote sends
its Ctrl-C and, at once, the Ctrl-A that the firmware then swallows, so its first
attempt can fail with "could not enter raw repl": the install waits and tries once more,
which finds the REPL. Installing twice in a row therefore needs no button.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


@dataclass(frozen=True)
class CopyStep:
    """One file to put on the board."""

    source: Path
    """File on this computer."""
    target: str
    """Path on the board's filesystem (``:`` prefixed for mpremote)."""


def plan(firmware: Path, settings_file: Path | None = None) -> list[CopyStep]:
    """What to copy: glutefw/*.py into :glutefw/, the settings, then main.py last (it
    starts the app at boot)."""
    package = firmware / "glutefw"
    if not package.is_dir():
        raise CliError(f"no firmware at {firmware} (expected {package})", ExitStatus.IO_ERROR)
    steps = [CopyStep(p, f":glutefw/{p.name}") for p in sorted(package.glob("*.py"))]
    if settings_file is not None:
        steps.append(CopyStep(settings_file, ":settings.json"))
    steps.append(CopyStep(firmware / "main.py", ":main.py"))
    return steps


def write_settings(directory: Path, emg_gain: float) -> Path:
    """The board's settings.json (read by firmware/glutefw/settings.py at boot)."""
    import json

    if not 1.0 <= emg_gain <= 100000.0:
        raise CliError(f"--emg-gain must be between 1 and 100000 V/V, got {emg_gain:g}", ExitStatus.USAGE)
    path = directory / "settings.json"
    path.write_text(json.dumps({"emg_gain": float(emg_gain)}) + "\n", encoding="utf-8")
    return path


#: Seconds the firmware takes to give the REPL back after mpremote's Ctrl-C, with margin.
REPL_RETURN_S = 1.0
_RAW_REPL_FAILED = "could not enter raw repl"

RECOVERY_HINT = (
    " (the glutescope firmware did not give the REPL back: press the board's reset button,"
    " or unplug and replug it without holding BOOTSEL, then press BOOTSEL while the LED"
    " blinks fast in the first 2 s, and retry)"
)


def mpremote_commands(port: str, steps: list[CopyStep]) -> list[list[str]]:
    """The mpremote invocations that carry out ``steps`` on the board at ``port``."""
    base = [sys.executable, "-m", "mpremote", "connect", port]
    cmds = [base + ["fs", "mkdir", ":glutefw"]]
    cmds += [base + ["fs", "cp", str(s.source), s.target] for s in steps]
    cmds.append(base + ["reset"])
    return cmds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("install",), help="install: copy the firmware to the board")
    parser.add_argument("--port", default="auto",
                        help="serial port of the board, e.g. /dev/ttyACM0 or COM5 (default: mpremote's auto)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be copied and run; touch nothing")
    parser.add_argument("--emg-gain", type=float, metavar="V_PER_V",
                        help="gain of your analog EMG modules, electrodes to ADC pin (MyoWare 2.0 RAW: 200; "
                             "default: the firmware's 1000); stored on the board in settings.json")


def run(args: argparse.Namespace, env) -> ExitStatus:
    from glutescope.virtual.wearable import firmware_dir

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        settings_file = write_settings(Path(tmp), args.emg_gain) if args.emg_gain is not None else None
        return _install(args, env, plan(firmware_dir(), settings_file))


def _install(args: argparse.Namespace, env, steps: list[CopyStep]) -> ExitStatus:
    commands = mpremote_commands(args.port, steps)
    print(f"glutescope: {len(steps)} files to copy to the board at {args.port}:", file=env.stdout)
    for s in steps:
        print(f"  {s.source.name:<16} -> {s.target}", file=env.stdout)
    if args.dry_run:
        print("glutescope: dry run; these commands would run:", file=env.stdout)
        for c in commands:
            print("  " + " ".join(c[1:]), file=env.stdout)
        return ExitStatus.OK
    if shutil.which("mpremote") is None and not _module_available("mpremote"):
        raise CliError("mpremote is not installed (pip install mpremote)", ExitStatus.ERROR)
    for i, cmd in enumerate(commands):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if i == 0 and result.returncode != 0 and _RAW_REPL_FAILED in (result.stderr + result.stdout).lower():
            # The firmware was running: it took that Ctrl-C and is handing over the REPL.
            time.sleep(REPL_RETURN_S)
            result = subprocess.run(cmd, capture_output=True, text=True)
        # mkdir fails harmlessly when the folder exists already.
        if result.returncode != 0 and not (i == 0 and "EEXIST" in result.stderr + result.stdout):
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit status {result.returncode}"
            status = ExitStatus.DEVICE_NOT_FOUND if "no device found" in last.lower() or "failed to access" in last.lower() \
                else ExitStatus.ERROR
            hint = ""
            if _RAW_REPL_FAILED in last.lower() or "interrupt" in last.lower():
                # Holding BOOTSEL at power-up would start the RP2350's ROM bootloader
                # instead of MicroPython: the escape is a press after boot.
                hint = RECOVERY_HINT
            raise CliError(f"copying to the board failed at `{' '.join(cmd[3:])}`: {last}{hint}", status)
        print(f"  ok: {' '.join(cmd[5:])}", file=env.stdout)
    print("glutescope: firmware installed; the board restarted and advertises as glutescope-XXXX",
          file=env.stdout)
    return ExitStatus.OK


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
