"""``glutescope recover``: make a recording whose writer died (crash, power cut) whole again.

It truncates a write torn by the crash, rebuilds ``meta.json`` from the frames if it
is missing and marks the recording closed; damaged records inside the log stay where
they are (readers skip them). Running it again changes nothing.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to repair")


def run(args: argparse.Namespace, env) -> ExitStatus:
    from glutescope.commands.files import check_recording_path
    from glutescope.recording import RecordingError, recover

    check_recording_path(args.recording)
    try:
        report = recover(args.recording)
    except RecordingError as exc:
        raise CliError(str(exc), ExitStatus.IO_ERROR) from None
    if not report.changed:
        print(f"glutescope: {report.path} was closed cleanly; nothing to recover "
              f"({report.n_records} records)", file=env.stdout)
        return ExitStatus.OK
    done = [f"kept {report.n_records} records",
            f"truncated {report.truncated_bytes} bytes of torn tail"]
    if report.n_corrupt:
        done.append(f"left {report.n_corrupt} damaged stretches in place (readers skip them)")
    if report.meta_rebuilt:
        done.append("rebuilt meta.json from the frames")
    done.append("marked it closed")
    print(f"glutescope: recovered {report.path}: " + ", ".join(done), file=env.stdout)
    return ExitStatus.OK
