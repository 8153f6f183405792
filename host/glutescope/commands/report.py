"""``glutescope report``: a one-look PDF of a session for a physiotherapist.

Subject, date, device, duration and signal quality; both glutes' envelopes with the
reps and the pelvis angles; the left/right verdict with its rep-to-rep spread; the
per-rep table; the squeeze test's scores with their parts; what each score means. The
scores are recomputed by the live pipeline and equal those shown live.

Exit statuses: 0 written; 2 bad arguments; 5 the recording cannot be read or the
output exists (without ``--force``) or cannot be written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to report on")
    parser.add_argument("-o", "--output", type=Path, metavar="REPORT.pdf",
                        help="the PDF to write (default: REC.pdf beside the recording)")
    parser.add_argument("--force", action="store_true", help="replace the PDF if it exists")
    parser.add_argument("--exercise", metavar="NAME",
                        help="what was performed, when the recording does not say (picks the squeeze cues)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz (default: the one stored with the recording, else "
                             "found in the signal; only the lines found in the signal are notched)")


def run(args: argparse.Namespace, env) -> ExitStatus:
    from glutescope.commands.export import analyse_recording, check_output
    from glutescope.commands.info import check_recording_path

    check_recording_path(args.recording)
    out = args.output or args.recording.with_suffix(".pdf")
    if out.suffix.lower() != ".pdf":
        raise CliError(f"the report must be a .pdf file, got {str(out)!r}", ExitStatus.USAGE)
    check_output(out, args.force)
    rec, analyses = analyse_recording(args)

    from glutescope.private import private_files
    from glutescope.report import write_report

    try:
        with private_files(out):
            write_report(rec, analyses, out)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}", ExitStatus.IO_ERROR) from None
    print(f"glutescope: wrote {out}", file=env.stdout)
    return ExitStatus.OK
