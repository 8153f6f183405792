"""``glutescope replay``: play a recording through the live pipeline and window.

The frames go through the same acquisition, decoder and live processing as when the
wearable streamed them, at their recorded pace (``--speed`` scales it), so the window
and the scores are the ones seen live. Without a display (or with ``--headless``) it
plays the whole recording offscreen, saves a screenshot and prints the same summary
as ``glutescope demo``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.commands.options import add_lsl_arguments, prepare_lsl
from glutescope.exitcodes import CliError, ExitStatus

# Headless runs stop this long after the recording's last frame is due, whatever happens.
HEADLESS_SLACK_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to play")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="play this many times faster than recorded (default: %(default)s)")
    parser.add_argument("--headless", action="store_true",
                        help="no window even if a display exists: play, save a screenshot, print a summary")
    parser.add_argument("--screenshot", type=Path, default=Path("glutescope-replay.png"),
                        help="where the headless run saves its screenshot (default: %(default)s)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz (default: the one stored with the recording, else "
                             "found in the signal; only the lines found in the signal are notched)")
    add_lsl_arguments(parser)


def recorded_span_s(path: Path) -> float:
    """Host time from the first to the last frame received, s (0 for an empty recording)."""
    from glutescope.recording import RecordingError, RecordingReader

    first = last = None  # only the two ends: a day holds millions of frames
    try:
        for rec in RecordingReader(path):
            if not rec.host_to_device:
                last = rec.t_host_ns
                first = last if first is None else first
    except RecordingError as exc:
        raise CliError(str(exc), ExitStatus.IO_ERROR) from None
    return max(0, last - first) / 1e9 if first is not None else 0.0


def run(args: argparse.Namespace, env) -> ExitStatus:
    from glutescope.commands.files import check_recording_path

    if not args.speed > 0:
        raise CliError(f"--speed must be positive, got {args.speed:g}", ExitStatus.USAGE)
    check_recording_path(args.recording)
    lsl = prepare_lsl(args, env, args.speed)
    headless = args.headless or not env.has_display
    span_s = recorded_span_s(args.recording)
    if span_s == 0.0:
        raise CliError(f"{args.recording} holds no frames to replay", ExitStatus.IO_ERROR)
    # A headless run ends when the recording does (plus slack for the pipeline to drain);
    # with a window, the last picture stays until the window is closed.
    duration_s = span_s / args.speed + HEADLESS_SLACK_S if headless else None

    from glutescope.session import LiveSession, SessionOptions
    from glutescope.ui.runner import run_live

    options = SessionOptions(replay_path=args.recording, speed=args.speed, mains_hz=args.mains, lsl=lsl)
    summary = run_live(LiveSession(options), headless=headless, duration_s=duration_s,
                       screenshot=args.screenshot, env=env)
    return summary.status
