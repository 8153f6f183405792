"""The files a command is given: a recording to read, and an output it must not clobber.

Each check fails with one line (`glutescope.exitcodes.CliError`) and exit status 5.
"""
from __future__ import annotations

from pathlib import Path

from glutescope.exitcodes import CliError, ExitStatus


def open_recording(path: Path, *, samples: bool = True):
    """`glutescope.recording.load`, with every failure as one line and exit status 5.

    ``samples=False``: `glutescope.chunked.load_summary` instead, one pass in bounded
    memory whose EMG segments hold no samples (what ``info`` and ``report`` need; the
    analysis reads the EMG again in chunks).
    """
    from glutescope.chunked import load_summary
    from glutescope.recording import RecordingError, load

    check_recording_path(path)
    try:
        return load(path) if samples else load_summary(path)
    except RecordingError as exc:
        raise CliError(str(exc), ExitStatus.IO_ERROR) from None


def check_recording_path(path: Path) -> None:
    """Raise a one-line `CliError` (exit 5) unless ``path`` is an existing recording directory."""
    from glutescope.recording import FRAMES_FILE, RECORDING_SUFFIX

    if not path.exists():
        raise CliError(f"no recording at {path}: it does not exist", ExitStatus.IO_ERROR)
    if path.suffix != RECORDING_SUFFIX or not path.is_dir():
        raise CliError(f"{path} is not a recording (a recording is a <name>{RECORDING_SUFFIX} directory)",
                       ExitStatus.IO_ERROR)
    if not (path / FRAMES_FILE).is_file():
        raise CliError(f"{path} is not a recording: it holds no {FRAMES_FILE}", ExitStatus.IO_ERROR)


def check_output(path: Path, force: bool, *, directory: bool = False) -> None:
    """Refuse an existing output unless ``force``; refuse to replace a file by a directory and back."""
    if not (path.exists() or path.is_symlink()):
        if not path.parent.is_dir():
            raise CliError(f"cannot write {path}: {path.parent} is not a directory", ExitStatus.IO_ERROR)
        return
    if not force:
        raise CliError(f"{path} exists already; pick another name with -o or pass --force to replace it",
                       ExitStatus.IO_ERROR)
    if directory != path.is_dir():
        what = "a directory" if path.is_dir() else "a file"
        raise CliError(f"{path} is {what}; not replacing it, even with --force", ExitStatus.IO_ERROR)
