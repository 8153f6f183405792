"""``glutescope report``: a one-look report of a session for a physiotherapist, as PDF or HTML.

Subject, date, device, duration and signal quality as the live view graded it; both
glutes' envelopes with the reps and the pelvis angles (a session over 15 minutes: a
timeline and per-block summaries instead); the left/right verdict, the weaker side and
what to practise; %MVC against published ranges when calibrated; the squeeze test's
scores with their parts; what each score means. The scores are recomputed by the live
pipeline and equal those shown live. ``--html`` (or an output ending in .html) writes
the same content as one self-contained page.

Exit statuses: 0 written; 2 bad arguments; 5 the recording cannot be read or the
output exists (without ``--force``) or cannot be written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.commands.files import check_output, check_recording_path, open_recording
from glutescope.exitcodes import CliError, ExitStatus

_SUFFIXES = (".pdf", ".html", ".htm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to report on")
    parser.add_argument("-o", "--output", type=Path, metavar="REPORT.pdf",
                        help="the PDF (or .html page) to write (default: REC.pdf beside the recording)")
    parser.add_argument("--html", type=Path, metavar="REPORT.html",
                        help="also (or, without -o, only) write the report as a self-contained HTML page")
    parser.add_argument("--force", action="store_true", help="replace the output if it exists")
    parser.add_argument("--allow-damaged", action="store_true",
                        help="report on a recording damaged on disk anyway (what is readable, with a warning)")
    parser.add_argument("--exercise", metavar="NAME",
                        help="what was performed, when the recording does not say (picks the squeeze cues)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz (default: the one stored with the recording, else "
                             "found in the signal; only the lines found in the signal are notched)")


def _outputs(args: argparse.Namespace) -> list[Path]:
    outs = []
    if args.output is not None:
        outs.append(args.output)
    if args.html is not None:
        if args.html.suffix.lower() not in (".html", ".htm"):
            raise CliError(f"--html must name a .html file, got {str(args.html)!r}", ExitStatus.USAGE)
        outs.append(args.html)
    if not outs:
        outs.append(args.recording.with_suffix(".pdf"))
    for out in outs:
        if out.suffix.lower() not in _SUFFIXES:
            raise CliError(f"the report must be a .pdf or .html file, got {str(out)!r}", ExitStatus.USAGE)
    if len(set(outs)) != len(outs):
        raise CliError(f"-o and --html name the same file {str(outs[0])!r}", ExitStatus.USAGE)
    return outs


def run(args: argparse.Namespace, env) -> ExitStatus:
    check_recording_path(args.recording)
    outs = _outputs(args)
    for out in outs:
        check_output(out, args.force)
    rec = open_recording(args.recording, samples=False)  # the EMG is read again in chunks
    if rec.device_info is None:
        raise CliError(f"{args.recording} holds no device info: its samples cannot be scaled", ExitStatus.IO_ERROR)
    if not rec.emg:
        raise CliError(f"{args.recording} holds no EMG to report on", ExitStatus.IO_ERROR)
    from glutescope.damage import check_not_damaged

    check_not_damaged(rec, allow=args.allow_damaged, action="report on", stderr=env.stderr)

    from tqdm import tqdm

    from glutescope.analysis import analyse
    from glutescope.private import private_files
    from glutescope.report import write_html, write_report

    total = sum(s.n_samples for s in rec.emg)
    # disable=None: no bar when stderr is not a terminal.
    with tqdm(total=total, file=env.stderr, disable=None, unit="samples", unit_scale=True, leave=False,
              desc="report: analysing") as bar:
        try:
            analyses = analyse(rec, exercise=args.exercise, mains_hz=args.mains, progress=bar.update)
        except ValueError as exc:
            raise CliError(f"cannot analyse {args.recording}: {exc}", ExitStatus.USAGE) from None
    try:
        with private_files(*outs):
            for out in outs:
                writer = write_html if out.suffix.lower() in (".html", ".htm") else write_report
                with tqdm(total=len(analyses), file=env.stderr, disable=None, unit="segment", leave=False,
                          desc=f"report: {out.suffix.lstrip('.')}") as bar:
                    writer(rec, analyses, out, progress=bar.update)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or outs[0]}: {exc.strerror or exc}", ExitStatus.IO_ERROR) from None
    for out in outs:
        print(f"glutescope: wrote {out}", file=env.stdout)
    return ExitStatus.OK
