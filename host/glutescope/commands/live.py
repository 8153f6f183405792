"""``glutescope live``: live biofeedback and guided protocols, on the virtual wearable by default.

With ``--protocol`` the session is coached through a protocol (`glutescope.protocols`)
and ends on its results screen, saved as a PNG next to the recording and stored in the
recording's events; without one it is the live scope. With a display it opens the live
window until it is closed (or ``--duration`` ends). Without one it runs the same window
offscreen, saves a screenshot and prints what it measured, so the command is useful on
a server too. ``glutescope demo`` is the same command.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.commands.options import (SERIAL_SAFETY, add_calibration_argument, add_imu_mount_argument,
                                         add_lsl_arguments, add_source_arguments, load_calibration_argument,
                                         prepare_lsl)
from glutescope.exitcodes import CliError, ExitStatus

EXERCISES = ("demo", "bridges", "single_leg_bridges", "squeeze_test", "single_leg_stance", "rest", "calibration",
             "calibrated_demo", "no_squeeze", "tensed_relax", "medius", "desk")
HEADLESS_DURATION_S = 32.0
# Nobody watches a headless run: the virtual wearable's clock runs twice as fast so the
# whole demo script (bridges, then the squeeze test: 61.5 s) fits in the run.
HEADLESS_VIRTUAL_SPEED = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    from glutescope.protocols import NAMES

    parser.add_argument("--protocol", choices=NAMES, metavar="NAME",
                        help=f"coach a protocol: {', '.join(NAMES)} (the virtual wearable's body performs it)")
    parser.add_argument("--exercise", choices=EXERCISES, default="demo",
                        help="without --protocol: what the virtual wearable's body model performs "
                             "(default: %(default)s)")
    parser.add_argument("--subject", metavar="PSEUDONYM",
                        help="subject pseudonym stored with the recording (never a real name)")
    parser.add_argument("--channels", metavar="NAME,NAME,...",
                        help="the muscle of each input, ADC0 first (default: the protocol's, else "
                             "glute_max_left,glute_max_right)")
    parser.add_argument("--target", metavar="LOW,HIGH",
                        help="your target band in %% of each glute's reference (calibrated), e.g. 50,80 "
                             "(default: the protocol's)")
    parser.add_argument("--sound", action="store_true",
                        help="biofeedback tone: panned toward the louder glute, pitch with activation, a chime "
                             "per step (needs Qt Multimedia: pip install PySide6-Addons)")
    parser.add_argument("--sound-wav", type=Path, metavar="PATH",
                        help="also write the session's tone to this WAV file")
    parser.add_argument("--results-png", type=Path, metavar="PATH",
                        help="where to save the results screen (default: next to the recording, "
                             "or glutescope-PROTOCOL-results.png headless)")
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
    # LSL consumers take the nominal rate at its word: a published session runs in real time.
    fast = headless and virtual and not args.lsl
    speed = args.speed if args.speed is not None else (HEADLESS_VIRTUAL_SPEED if fast else 1.0)
    # A protocol ends on its results: headless, it runs until they are in.
    duration_s = args.duration if args.duration is not None else (
        HEADLESS_DURATION_S if headless and args.protocol is None else None)

    from glutescope.session import LiveSession, SessionOptions  # heavy: numpy, bleak, bumble

    if args.subject is not None and not args.subject.strip():
        raise CliError("--subject must be a non-empty pseudonym", ExitStatus.USAGE)
    protocol = None
    if args.protocol is not None:
        from glutescope.protocols import get

        protocol = get(args.protocol)
    from glutescope.commands.record import parse_channels

    channels = (parse_channels(args.channels) if args.channels is not None
                else protocol.channels if protocol is not None else ("glute_max_left", "glute_max_right"))
    if protocol is not None:
        missing = [n for n in protocol.needs if n not in channels]
        if missing:
            raise CliError(f"--protocol {protocol.name} needs the channels {', '.join(missing)}; "
                           f"--channels gives {', '.join(channels)}", ExitStatus.USAGE)
    target = None
    if args.target is not None:
        try:
            low, high = (float(v) for v in args.target.split(","))
        except ValueError:
            raise CliError(f"--target must be LOW,HIGH in % of reference, e.g. 50,80; got {args.target!r}",
                           ExitStatus.USAGE) from None
        if not 0 <= low < high:
            raise CliError(f"--target must have 0 <= LOW < HIGH, got {args.target!r}", ExitStatus.USAGE)
        if protocol is None:
            raise CliError("--target needs --protocol (the band belongs to its steps)", ExitStatus.USAGE)
        target = (low, high)
    results_png = args.results_png
    if results_png is None and protocol is not None:
        if args.record is not None:
            results_png = args.record.parent / f"{args.record.name.removesuffix('.glutes')}-results.png"
        elif headless:
            results_png = Path(f"glutescope-{protocol.name}-results.png")
    calibration = load_calibration_argument(args.calibration)
    lsl = prepare_lsl(args, env, speed if virtual else 1.0)

    options = SessionOptions(
        device=args.device, serial_port=args.serial, exercise=args.exercise, mains_hz=args.mains,
        speed=speed, seed=args.seed, record_path=args.record, imu_mount=args.imu_mount,
        virtual_port=args.virtual_port, calibration=calibration, protocol=args.protocol,
        subject=args.subject, target_pct=target, channel_names=channels, channel_mask=(1 << len(channels)) - 1,
        lsl=lsl,
    )
    if args.serial:
        print(SERIAL_SAFETY, file=env.stderr)
    from glutescope.ui.runner import run_live

    summary = run_live(LiveSession(options), headless=headless, duration_s=duration_s,
                       screenshot=args.screenshot, env=env, results_png=results_png,
                       sound=args.sound, sound_wav=args.sound_wav)
    return summary.status
