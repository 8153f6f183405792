"""``glutescope history``: one person's sessions side by side, and whether the change is beyond noise.

The recordings under a folder are indexed by pseudonym in an SQLite cache
(`glutescope.history`; ``--rebuild`` recomputes it from the recordings, which stay the
truth). Without a pseudonym it lists the people; with one, a table per exercise
(date, SI with its rep-to-rep interval, weaker side, %MVC, squeeze scores, fatigue),
a flag where the weaker side changed, and the smallest detectable change of the SI
from the person's repeat sessions, so "closer to symmetry" is said only beyond it.

Exit statuses: 0 shown (a recording that cannot be read is named in one line and
the others still count); 2 bad arguments; 5 the folder or the database cannot be
read or written, or the pseudonym has no session.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pseudonym", nargs="?", metavar="PSEUDONYM",
                        help="the person whose sessions to show (default: list the people)")
    parser.add_argument("--recordings", type=Path, default=Path("."), metavar="DIR",
                        help="folder searched (recursively) for *.glutes recordings (default: the current one)")
    parser.add_argument("--db-dir", type=Path, metavar="DIR",
                        help="folder of the history database (default: beside the recordings, in DIR)")
    parser.add_argument("--rebuild", action="store_true",
                        help="recompute the database from the recordings, every row")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw the trend as a PNG")
    parser.add_argument("--force", action="store_true", help="replace the PNG if it exists")


def _num(x, fmt: str = "+.1f") -> str:
    return "-" if x is None else format(x, fmt)


def _pair(left, right, fmt: str = ".0f") -> str:
    if left is None and right is None:
        return "-"
    return f"{_num(left, fmt)}/{_num(right, fmt)}"


def _si(row) -> str:
    if row.si_pct is None:
        return "no reps"
    text = f"{row.si_pct:+.1f}"
    if row.si_ci_low_pct is not None and row.si_ci_high_pct is not None:
        text += f" [{row.si_ci_low_pct:+.1f}, {row.si_ci_high_pct:+.1f}]"
    return text


def _weaker(row) -> str:
    side = row.weaker_side
    if side is None:
        return "-"
    if side == "none":
        return "neither"
    return side if row.si_normalised else f"({side})"


def _date(iso: str) -> str:
    return iso[:16].replace("T", " ") if iso else "unknown"


def _flip_noise(step, sdc_pct) -> str:
    if step.si_change_pct is None:
        return ""
    moved = f" (SI moved {step.si_change_pct:+.1f}"
    if sdc_pct is None:
        return moved + ")"
    return moved + (", beyond the SDC)" if abs(step.si_change_pct) > sdc_pct else ", within the SDC: may be noise)")


def _table(steps, sdc_pct) -> list[str]:
    head = ("date", "from", "reps", "SI % [95 % rep interval]", "weaker", "%MVC L/R", "squeeze L/R",
            "MDF %/min L/R", "quality", "vs previous")
    body = []
    for s in steps:
        r = s.row
        change = "" if s.change_pct is None else f"{s.change_pct:+.1f} "
        flag = "  FLIP: weaker side changed" + _flip_noise(s, sdc_pct) if s.flipped else ""
        if r.damage:
            flag += f"  DAMAGED recording: {r.damage}"
        body.append((_date(r.start_time), r.origin, str(r.n_reps), _si(r), _weaker(r),
                     _pair(r.mvc_left_pct, r.mvc_right_pct), _pair(r.squeeze_left, r.squeeze_right),
                     _pair(r.mdf_slope_left_pct_per_min, r.mdf_slope_right_pct_per_min, "+.1f"),
                     r.quality, f"{change}{s.verdict}{flag}"))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in (head, *body)]


def _sdc_line(rel) -> str:
    if not rel.estimated:
        return f"Smallest detectable change of SI: {rel.reason}."
    return (f"Smallest detectable change of SI: {rel.sdc_pct:.1f} % points (SDC95 = 1.96 x sqrt(2) x SEM; "
            f"SEM {rel.sem_pct:.1f} % = SD {rel.sd_pct:.1f} % x sqrt(1 - ICC(2,1)); ICC(2,1) {rel.icc_2_1:.2f}, "
            f"ICC(3,1) {rel.icc_3_1:.2f}; {rel.n_sessions} sessions x {rel.n_reps} reps; Weir 2005, "
            "de Vet et al. 2006). From the rep-to-rep error: electrode re-placement between days adds "
            "error one person's sessions cannot separate from change.")


def groups(rows):
    """Rows by (exercise, normalised), oldest first within each, groups in first-seen order."""
    out: dict = {}
    for r in rows:
        out.setdefault((r.exercise, r.si_normalised), []).append(r)
    return out


def run(args: argparse.Namespace, env) -> ExitStatus:
    import sqlite3

    from glutescope.history import HISTORY_FILE, History, find_recordings, reliability, trend

    folder = args.recordings
    if not folder.is_dir():
        raise CliError(f"--recordings: {folder} is not a folder", ExitStatus.IO_ERROR)
    if args.plot is not None:
        if args.pseudonym is None:
            raise CliError("--plot draws one person's trend: give a PSEUDONYM", ExitStatus.USAGE)
        if args.plot.suffix.lower() != ".png":
            raise CliError(f"--plot must name a .png file, got {str(args.plot)!r}", ExitStatus.USAGE)
        if (args.plot.exists() or args.plot.is_symlink()) and not args.force:
            raise CliError(f"{args.plot} exists already; pick another name or pass --force to replace it",
                           ExitStatus.IO_ERROR)
        if not args.plot.parent.is_dir():
            raise CliError(f"cannot write {args.plot}: {args.plot.parent} is not a directory", ExitStatus.IO_ERROR)
    db_path = (args.db_dir or folder) / HISTORY_FILE
    if not db_path.exists() and not find_recordings(folder):
        # Nothing to index: leave no empty database behind in a folder typed by mistake.
        if args.pseudonym is not None:
            raise CliError(f"no session of {args.pseudonym!r} under {folder}: it holds no recording",
                           ExitStatus.IO_ERROR)
        print(f"No recordings under {folder}.", file=env.stdout)
        return ExitStatus.OK
    from glutescope.private import private_files

    try:
        # The whole pass under the private umask: SQLite creates its journal beside the
        # database at each write, and the journal holds the same rows.
        with private_files(), History(db_path) as history:
            tty = getattr(env.stderr, "isatty", lambda: False)()
            report = history.index(folder, rebuild=args.rebuild, progress=(
                (lambda p: print(f"glutescope: analysing {p.name} …", file=env.stderr)) if tty else None))
            people = history.pseudonyms()
            rows = history.sessions(args.pseudonym) if args.pseudonym is not None else []
    except (OSError, sqlite3.Error) as exc:
        raise CliError(f"cannot use the history database {db_path}: {exc}", ExitStatus.IO_ERROR) from None
    for path, reason in report.failures:
        print(f"glutescope: warning: {path} not indexed: {reason}", file=env.stderr)
    out = env.stdout
    if args.pseudonym is None:
        if not people:
            print(f"No sessions under {folder}.", file=out)
            return ExitStatus.OK
        for name, n, first, last in people:
            print(f"{name or '(no pseudonym)'}: {n} recording{'s' if n != 1 else ''}, "
                  f"{_date(first)} to {_date(last)}", file=out)
        return ExitStatus.OK
    if not rows:
        raise CliError(f"no session of {args.pseudonym!r} under {folder}", ExitStatus.IO_ERROR)
    print(f"Sessions of {args.pseudonym} ({len({r.path for r in rows})} recordings under {folder})", file=out)
    plotted = []
    for (exercise, normalised), group in groups(rows).items():
        rel = reliability(group)
        steps = trend(group, rel.sdc_pct)
        unit = ("SI of each side's rise above rest in % of its calibration reference" if normalised else
                "SI of the µV amplitudes: an amplitude ratio, not normalised - depends on electrodes; "
                "(side) is the channel reading lower, not a muscle finding")
        print("", file=out)
        print(f"{exercise or 'exercise not recorded'} - {unit}", file=out)
        for line in _table(steps, rel.sdc_pct):
            print(f"  {line}", file=out)
        print(f"  {_sdc_line(rel)}", file=out)
        si = [s for s in steps if s.row.si_pct is not None]
        if len(si) >= 2:
            first, last = si[0].row, si[-1].row
            change = abs(last.si_pct) - abs(first.si_pct)
            if rel.sdc_pct is None:
                word = "not judged (no smallest detectable change yet)"
            elif change < -rel.sdc_pct:
                word = "closer to symmetry, beyond the smallest detectable change"
            elif change > rel.sdc_pct:
                word = "further from symmetry, beyond the smallest detectable change"
            else:
                word = "within the smallest detectable change: no change shown"
            print(f"  First to latest: |SI| {abs(first.si_pct):.1f} -> {abs(last.si_pct):.1f} % "
                  f"({change:+.1f} % points): {word}.", file=out)
        flips = sum(s.flipped for s in steps)
        if flips:
            print(f"  The weaker side changed {flips} time{'s' if flips != 1 else ''} between sessions: "
                  "common in the literature; judge a side over several sessions, not one.", file=out)
        plotted.append((exercise, normalised, steps, rel))
    print("", file=out)
    print("MDF: slope of the median frequency over the reps (negative: fatigue). "
          "%MVC: mean over the reps, % of each side's calibration reference (calibrated sessions only). "
          "Sitting time: not measured by these recordings.", file=out)
    if args.plot is not None:
        from glutescope.history_plot import plot_trend

        try:
            with private_files(args.plot):
                plot_trend(args.pseudonym, plotted, args.plot)
        except OSError as exc:
            raise CliError(f"cannot write {args.plot}: {exc.strerror or exc}", ExitStatus.IO_ERROR) from None
        print(f"glutescope: wrote {args.plot}", file=out)
    return ExitStatus.OK
