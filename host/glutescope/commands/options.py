"""Options shared by the commands that reach a wearable (live and its alias demo, record)."""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus
from glutescope.muscles import check_channel_name

EXERCISES = ("demo", "bridges", "single_leg_bridges", "squeeze_test", "single_leg_stance", "rest", "calibration",
             "calibrated_demo", "no_squeeze", "tensed_relax", "medius", "desk")
MAX_CHANNELS = 8  # channel_mask is one byte


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where frames come from: a real wearable, or the virtual one (the default)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--device", metavar="NAME_OR_ADDRESS",
                        help="a real wearable over Bluetooth LE (default: the virtual wearable)")
    source.add_argument("--serial", metavar="PORT",
                        help="a real wearable over USB serial (bench only, see the safety notes)")
    source.add_argument("--virtual-port", type=int, metavar="PORT",
                        help="a virtual wearable served by `glutescope virtual` in another process")


def add_imu_mount_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--imu-mount", choices=("upright", "flat"), default="upright",
                        help="how the IMU breakout sits on the sacrum (hardware/electrode-placement.md; "
                             "default: %(default)s)")


SERIAL_SAFETY = ("Safety: USB serial is for the bench. Never wear the electrodes while the board is "
                 "connected to a mains-powered computer unless through a USB isolator.")


def add_calibration_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration", type=Path, metavar="CALIBRATION.glutes",
                        help="compare left and right against each glute's reference contraction from this "
                             "earlier recording of the same person (record one with --exercise calibration)")


def load_calibration_argument(path):
    """The calibration ``--calibration`` names, or a CliError with one line."""
    if path is None:
        return None
    from glutescope.calibration import load_calibration
    from glutescope.exitcodes import CliError, ExitStatus

    try:
        return load_calibration(path)
    except OSError as exc:
        raise CliError(f"--calibration: {exc}", ExitStatus.IO_ERROR) from None
    except ValueError as exc:
        raise CliError(f"--calibration: {exc}", ExitStatus.USAGE) from None


# `glutescope.lsl.SCOPES`, spelled out so building the parser does not import numpy
LSL_SCOPES = ("machine", "link", "site")


def add_lsl_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lsl`` and ``--lsl-scope`` (`glutescope.lsl`)."""
    parser.add_argument("--lsl", action="store_true",
                        help="publish the EMG (µV), IMU (g, deg/s, body axes) and events as Lab Streaming Layer "
                             "streams (needs glutescope[lsl])")
    parser.add_argument("--lsl-scope", choices=LSL_SCOPES, default=None,
                        help="how far LSL discovery reaches: machine (this computer only, 127.0.0.1), link "
                             "(the local network) or site (default: your lsl_api.cfg's, else link)")


def prepare_lsl(args, env, speed: float = 1.0) -> bool:
    """Configure liblsl's scope and check pylsl is there before connecting, when ``--lsl``
    asks for it; a CliError with the install hint when pylsl is missing.

    ``speed`` is how much faster than real time the source runs (a replay's or the
    virtual wearable's ``--speed``): the stamps follow the host clock, so say so."""
    if not getattr(args, "lsl", False):
        if getattr(args, "lsl_scope", None) is not None:
            from glutescope.exitcodes import CliError, ExitStatus

            raise CliError("--lsl-scope needs --lsl", ExitStatus.USAGE)
        return False
    from glutescope.lsl import configure, import_pylsl

    import_pylsl()
    configure(args.lsl_scope)
    if speed != 1.0:
        print(f"glutescope: --lsl at --speed {speed:g}: the streams run {speed:g} times faster than their "
              "nominal rates on the LSL clock", file=env.stderr)
    return True


def parse_channels(text: str) -> tuple[str, ...]:
    """``"a,b"`` -> ``("a", "b")``: known muscle names (`glutescope.muscles`), distinct, at most `MAX_CHANNELS`."""
    names = tuple(n.strip() for n in text.split(","))
    if not names or any(not n for n in names):
        raise CliError(f"--channels must be comma-separated muscle names, got {text!r}", ExitStatus.USAGE)
    if len(set(names)) != len(names):
        raise CliError(f"--channels names must be distinct, got {text!r}", ExitStatus.USAGE)
    if len(names) > MAX_CHANNELS:
        raise CliError(f"--channels takes at most {MAX_CHANNELS} names, got {len(names)}", ExitStatus.USAGE)
    for name in names:
        try:
            check_channel_name(name)
        except ValueError as exc:
            raise CliError(f"--channels: {exc}", ExitStatus.USAGE) from None
    return names
