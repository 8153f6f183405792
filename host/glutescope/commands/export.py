"""``glutescope export``: a recording as EDF+, C3D or CSV for other software.

The signals are the recording's, lossless where the format allows; the reps, cues and
scores are recomputed by the live pipeline (`glutescope.analysis`). A segment after a
restart of the wearable goes to a file beside the first, named ``-seg<k>``. See
`glutescope.export` for how each format shows the gaps.

A recording damaged on disk (bytes failing their CRC, a torn or truncated log: see
`glutescope.damage`) is refused with one line naming the damage and nothing written,
unless ``--allow-damaged``: then it is exported with a warning, what is readable, the
lost stretches marked as gaps.

Exit statuses: 0 written; 2 bad arguments; 5 the recording cannot be read or the
output exists (without ``--force``) or cannot be written; 7 the recording is damaged
on disk (without ``--allow-damaged``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.commands.files import check_output, check_recording_path, open_recording
from glutescope.exitcodes import CliError, ExitStatus

SUFFIXES = {"edf": ".edf", "c3d": ".c3d", "csv": "-csv"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to export")
    parser.add_argument("--format", required=True, choices=("edf", "c3d", "csv"),
                        help="edf: EDF+ (signals and annotations); c3d: C3D analog channels and events; "
                             "csv: one file per stream plus reps, squeeze scores, gaps and annotations")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT",
                        help="file to write (a directory for csv); default: beside the recording, "
                             "REC.edf, REC.c3d or REC-csv/")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--allow-damaged", action="store_true",
                        help="export a recording damaged on disk (CRC errors, truncated) with a warning, "
                             "instead of refusing it (exit 7)")
    parser.add_argument("--exercise", metavar="NAME",
                        help="what was performed, when the recording does not say (picks the squeeze cues)")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz (default: the one stored with the recording, else "
                             "found in the signal; only the lines found in the signal are notched)")


def default_output(recording: Path, fmt: str) -> Path:
    """``session.glutes`` -> ``session.edf`` (``session-csv`` for CSV), beside it."""
    return recording.with_name(recording.stem + SUFFIXES[fmt])


def analyse_recording(args: argparse.Namespace, env=None, *, action: str = "export"):
    """Read and analyse the recording (in chunks); one-line errors with exit status 5, and 7 for a
    recording damaged on disk unless ``args.allow_damaged`` (a command without that
    option refuses it outright; with it, the warning goes to ``env.stderr``)."""

    # One pass in bounded memory; the analysis and each export read the EMG again in
    # chunks (`glutescope.chunked`), so a day-long recording is never in memory at once.
    rec = open_recording(args.recording, samples=False)
    if rec.device_info is None:
        raise CliError(f"{args.recording} holds no device info: its samples cannot be scaled",
                       ExitStatus.IO_ERROR)
    if not rec.emg:
        raise CliError(f"{args.recording} holds no EMG to export", ExitStatus.IO_ERROR)
    from glutescope.damage import check_not_damaged

    check_not_damaged(rec, allow=bool(getattr(args, "allow_damaged", False)), action=action,
                      stderr=env.stderr if env is not None else None,
                      can_allow=hasattr(args, "allow_damaged"))
    from tqdm import tqdm

    from glutescope.analysis import analyse

    total = sum(s.n_samples for s in rec.emg)
    # The live pipeline over the session is the long part (minutes for an hour): a bar
    # on a terminal (disable=None: none when stderr is not one).
    with tqdm(total=total, file=env.stderr if env is not None else None, disable=None, unit="samples",
              unit_scale=True, leave=False, desc="analyse") as bar:
        try:
            return rec, analyse(rec, exercise=args.exercise, mains_hz=args.mains, progress=bar.update)
        except ValueError as exc:
            raise CliError(f"cannot analyse {args.recording}: {exc}", ExitStatus.USAGE) from None


def run(args: argparse.Namespace, env) -> ExitStatus:
    check_recording_path(args.recording)
    out = args.output or default_output(args.recording, args.format)
    rec, analyses = analyse_recording(args, env)

    from glutescope import export

    targets = [export.segment_path(out, a.segment) for a in analyses]
    for t in targets:
        check_output(t, args.force, directory=args.format == "csv")

    import shutil

    from tqdm import tqdm

    total = sum(s.n_samples for s in rec.emg)
    # disable=None: no bar when stderr is not a terminal.
    from glutescope.private import private_files

    with private_files(*targets), tqdm(total=total, file=env.stderr, disable=None, unit="samples",
                                       unit_scale=True, leave=False, desc=f"export {args.format}") as bar:
        for analysis, target in zip(analyses, targets):
            try:
                if args.format == "csv":
                    if target.is_dir():
                        shutil.rmtree(target)
                    written = export.export_csv(rec, analysis, target, progress=bar)
                    what = f"{target}/ ({', '.join(p.name for p in written)})"
                elif args.format == "edf":
                    export.export_edf(rec, analysis, target, progress=bar)
                    what = str(target)
                else:
                    export.export_c3d(rec, analysis, target, progress=bar,
                                      on_note=lambda line: print(f"glutescope: note: {line}", file=env.stderr))
                    what = str(target)
            except OSError as exc:
                raise CliError(f"cannot write {target}: {exc.strerror or exc}", ExitStatus.IO_ERROR) from None
            print(f"glutescope: wrote {what}", file=env.stdout)
    return ExitStatus.OK
