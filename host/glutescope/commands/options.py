"""Options shared by the commands that reach a wearable (demo, record)."""
from __future__ import annotations

import argparse
from pathlib import Path


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
