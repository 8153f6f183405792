"""``glutescope import``: another system's C3D, EDF+/BDF or CSV EMG as a glutescope recording.

The recording it writes is read by ``info``, ``replay``, ``report`` and ``history`` like
any other, and says everywhere that it was imported (`glutescope.importer`). Each
channel's muscle is guessed from its label and shown; ``--map LABEL=MUSCLE`` gives or
corrects it (``LABEL=-`` leaves a channel out).

Exit statuses: 0 written; 2 bad arguments; 5 the file cannot be read or imported, or
the output exists.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


def _pairs(text: str) -> dict:
    out = {}
    for item in text.split(","):
        label, sep, muscle = item.partition("=")
        if not sep or not label.strip() or not muscle.strip():
            raise argparse.ArgumentTypeError(f"expected LABEL=MUSCLE[,LABEL=MUSCLE...], got {item!r}")
        out[label.strip()] = muscle.strip()
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from glutescope.muscles import CHANNEL_NAMES

    parser.add_argument("file", type=Path, metavar="FILE", help="a .c3d, .edf, .bdf or .csv file with EMG")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.glutes",
                        help="the recording to write (default: FILE.glutes beside the file)")
    parser.add_argument("--subject", metavar="PSEUDONYM",
                        help="the person's pseudonym (the file's own subject field is never copied)")
    parser.add_argument("--map", type=_pairs, default={}, metavar="LABEL=MUSCLE,...",
                        help=f"the muscle of a channel, by its label in the file: {', '.join(CHANNEL_NAMES)}, "
                             "or - to leave it out (default: guessed from the labels, and shown)")
    parser.add_argument("--format", choices=("c3d", "edf", "bdf", "csv"), help="default: from the suffix")
    parser.add_argument("--unit", choices=("uV", "mV", "V"),
                        help="unit of every channel, when the file states none or a wrong one")
    parser.add_argument("--rate", type=float, metavar="HZ", help="CSV without a time column: its rate")
    parser.add_argument("--exercise", metavar="NAME", help="what was performed, if known")
    parser.add_argument("--force", action="store_true", help="replace OUT if it is a recording already")


def run(args: argparse.Namespace, env) -> ExitStatus:
    from glutescope.importer import ImportFileError, read_foreign, write_imported
    from glutescope.recording import RECORDING_SUFFIX, RecordingError

    out = args.output or args.file.with_name(args.file.stem + RECORDING_SUFFIX)
    if out.suffix != RECORDING_SUFFIX:
        raise CliError(f"the output must be a <name>{RECORDING_SUFFIX} recording, got {str(out)!r}", ExitStatus.USAGE)
    if args.subject is not None and not args.subject.strip():
        raise CliError("--subject must be a non-empty pseudonym", ExitStatus.USAGE)
    if out.exists():
        if not args.force:
            raise CliError(f"{out} exists already; pick another name with -o or pass --force to replace it",
                           ExitStatus.IO_ERROR)
        if not (out / "frames.log").is_file():
            raise CliError(f"{out} is not a recording; not replacing it, even with --force", ExitStatus.IO_ERROR)
    try:
        emg = read_foreign(args.file, fmt=args.format, unit=args.unit, fs_hz=args.rate, given_map=args.map)
        if out.exists():
            import shutil

            shutil.rmtree(out)
        summary = write_imported(emg, out, source_name=args.file.name, subject=args.subject,
                                 exercise=args.exercise)
    except ImportFileError as exc:
        raise CliError(f"cannot import {args.file}: {exc}", ExitStatus.IO_ERROR) from None
    except (RecordingError, OSError) as exc:
        raise CliError(f"cannot write {out}: {exc}", ExitStatus.IO_ERROR) from None
    print(f"glutescope: imported {args.file.name} ({emg.format}, {summary.fs_hz} Hz, "
          f"{summary.n_samples / summary.fs_hz:.1f} s) as {out}; stored as 12-bit words of "
          f"{summary.uV_per_code:.3g} uV", file=env.stdout)
    for label, muscle, how in summary.channels:
        print(f"  {label!r:>24} -> {muscle or '-'} ({how})", file=env.stdout)
    for what in emg.skipped:
        print(f"  not read: {what}", file=env.stdout)
    if any(how.startswith("guessed") for _, _, how in summary.channels):
        print("  Check the guessed muscles; correct them with --map LABEL=MUSCLE and --force.", file=env.stdout)
    return ExitStatus.OK
