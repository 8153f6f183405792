"""``glutescope demo``: live biofeedback, on the built-in virtual wearable by default.

With a display it opens the live window until it is closed (or ``--duration`` ends).
Without one it runs the same window offscreen for ``--duration`` seconds, saves a
screenshot and prints what it measured, so the command is useful on a server too.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.commands.options import (SERIAL_SAFETY, add_calibration_argument, add_imu_mount_argument,
                                         add_lsl_arguments, add_source_arguments, load_calibration_argument,
                                         prepare_lsl)
from glutescope.exitcodes import CliError, ExitStatus

EXERCISES = ("demo", "bridges", "single_leg_bridges", "squeeze_test", "single_leg_stance", "rest", "calibration",
             "calibrated_demo", "no_squeeze", "tensed_relax")
HEADLESS_DURATION_S = 32.0
# Nobody watches a headless run: the virtual wearable's clock runs twice as fast so the
# whole demo script (bridges, then the squeeze test: 61.5 s) fits in the run.
HEADLESS_VIRTUAL_SPEED = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--exercise", choices=EXERCISES, default="demo",
                        help="what the virtual wearable's body model performs (default: %(default)s)")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help=f"stop after this long (default: until the window closes; "
                             f"{HEADLESS_DURATION_S:g} s without a display)")
    parser.add_argument("--headless", action="store_true",
                        help="no window even if a display exists: run, save a screenshot, print a summary")
    parser.add_argument("--screenshot", type=Path, default=Path("glutescope-demo.png"),
                        help="where the headless run saves its screenshot (default: %(default)s)")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also record the session to this .glutes directory")
    add_imu_mount_argument(parser)
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz (default: found in the signal; the built-in virtual "
                             "wearable then hums at 50 Hz)")
    parser.add_argument("--speed", type=float, default=None,
                        help="virtual wearable only: run its clock this many times faster than real time "
                             f"(default: 1, or {HEADLESS_VIRTUAL_SPEED:g} without a display unless --lsl)")
    parser.add_argument("--seed", type=int, default=0, help="virtual wearable's body-model seed")
    add_calibration_argument(parser)
    add_lsl_arguments(parser)


def run(args: argparse.Namespace, env) -> ExitStatus:
    if args.duration is not None and args.duration <= 0:
        raise CliError(f"--duration must be positive, got {args.duration:g}", ExitStatus.USAGE)
    if args.speed is not None and args.speed <= 0:
        raise CliError(f"--speed must be positive, got {args.speed:g}", ExitStatus.USAGE)
    headless = args.headless or not env.has_display
    virtual = not (args.device or args.serial)  # in this process, or served by another
    # LSL consumers take the nominal rate at its word: a published demo runs in real time.
    fast = headless and virtual and not args.lsl
    speed = args.speed if args.speed is not None else (HEADLESS_VIRTUAL_SPEED if fast else 1.0)
    duration_s = args.duration if args.duration is not None else (HEADLESS_DURATION_S if headless else None)

    from glutescope.session import LiveSession, SessionOptions  # heavy: numpy, bleak, bumble

    calibration = load_calibration_argument(args.calibration)
    lsl = prepare_lsl(args, env, speed if virtual else 1.0)

    options = SessionOptions(
        device=args.device, serial_port=args.serial, exercise=args.exercise, mains_hz=args.mains,
        speed=speed, seed=args.seed, record_path=args.record, imu_mount=args.imu_mount,
        virtual_port=args.virtual_port, calibration=calibration, lsl=lsl,
    )
    if args.serial:
        print(SERIAL_SAFETY, file=env.stderr)
    from glutescope.ui.runner import run_live

    summary = run_live(LiveSession(options), headless=headless, duration_s=duration_s,
                       screenshot=args.screenshot, env=env)
    return summary.status
