"""Repairing a recording whose writer died (a crash, a pulled cable, a full disk)."""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from glutescope.protocol import DeviceInfo, FrameError, decode_frame
from glutescope.recording.format import (
    FORMAT_VERSION,
    FRAMES_FILE,
    META_FILE,
    Record,
    RecordingError,
    _check_recording_path,
    _error,
    _iso,
    _software_versions,
    _wall_iso,
    _write_file_atomic,
)
from glutescope.recording.reader import RecordingReader


@dataclass(frozen=True)
class RecoveryReport:
    """What :func:`recover` found and did."""

    path: Path
    """The recording."""
    n_records: int
    """Good records kept."""
    n_corrupt: int
    """Damaged stretches inside the log (kept in place; readers skip them)."""
    truncated_bytes: int
    """Bytes of torn tail removed."""
    meta_rebuilt: bool
    """True when ``meta.json`` was missing or unreadable and was rebuilt from the log."""
    was_closed: bool
    """True when the recording had been closed cleanly (nothing to close)."""

    @property
    def changed(self) -> bool:
        """True when recover() modified the recording."""
        return self.truncated_bytes > 0 or self.meta_rebuilt or not self.was_closed


def recover(path: str | os.PathLike) -> RecoveryReport:
    """Make a recording whose writer died valid again. Idempotent.

    Truncates a torn tail of ``frames.log``, removes a half-written ``meta.json.tmp``,
    rebuilds ``meta.json`` from the log if it is missing or unreadable, and marks the
    recording closed with the time of its last record. A second call changes nothing.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory.

    Returns
    -------
    RecoveryReport

    Raises
    ------
    RecordingError
        If there is no recording at ``path`` or it cannot be modified.
    """
    p = _check_recording_path(path)
    log = p / FRAMES_FILE
    if not log.is_file():
        raise RecordingError(errno.ENOENT, f"no recording at {p}: {FRAMES_FILE} is missing")
    reader = RecordingReader(p)
    last: Record | None = None
    first: Record | None = None
    info: DeviceInfo | None = None
    for rec in reader:
        if first is None:
            first = rec
        last = rec
        if not rec.host_to_device:
            try:
                frame = decode_frame(rec.frame)
            except FrameError:
                continue
            if isinstance(frame, DeviceInfo):
                info = frame
    try:
        if reader.torn_tail_bytes:
            fd = os.open(log, os.O_WRONLY)
            try:
                os.ftruncate(fd, reader.valid_end)
                os.fsync(fd)
            finally:
                os.close(fd)
        tmp = p / (META_FILE + ".tmp")
        if tmp.exists():
            tmp.unlink()
    except OSError as exc:
        raise _error(exc, "repair", log) from None

    meta_rebuilt = False
    try:
        meta = json.loads((p / META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not an object")
    except (OSError, ValueError):
        meta_rebuilt = True
        start_ns = first.t_host_ns if first else time.time_ns()
        meta = {
            "format": "glutescope-recording",
            "format_version": FORMAT_VERSION,
            "frames_log": FRAMES_FILE,
            "start_time": _iso(start_ns),
            "start_time_ns": start_ns,
            "end_time": None,
            "closed": False,
            "subject": None,
            "channel_map": {},
            "electrode_placement": None,
            "device_info": info.to_dict() if info else None,
            "markers": [],
            "notes": "meta.json rebuilt from frames.log by recover()",
            "software": _software_versions(),
        }
    was_closed = bool(meta.get("closed"))
    if not was_closed or meta_rebuilt:
        end_ns = last.t_host_ns if last else meta.get("start_time_ns", time.time_ns())
        meta["closed"] = True
        meta["end_time"] = _wall_iso(meta, int(end_ns))
        if meta.get("device_info") is None and info is not None:
            meta["device_info"] = info.to_dict()
        meta["recovered"] = {
            "truncated_bytes": reader.torn_tail_bytes,
            "n_corrupt": reader.n_corrupt,
            "meta_rebuilt": meta_rebuilt,
            "software": _software_versions(),
        }
        try:
            _write_file_atomic(p, META_FILE, (json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode())
        except OSError as exc:
            raise _error(exc, "write", p / META_FILE) from None
    return RecoveryReport(
        path=p,
        n_records=reader.n_records,
        n_corrupt=reader.n_corrupt,
        truncated_bytes=reader.torn_tail_bytes,
        meta_rebuilt=meta_rebuilt,
        was_closed=was_closed and not meta_rebuilt,
    )
