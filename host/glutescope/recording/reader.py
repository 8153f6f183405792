"""Reading the records of ``frames.log`` in pieces, skipping damaged stretches."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from glutescope.recording.format import (
    _CRC,
    _FLAG_HOST_TO_DEVICE,
    _HEAD,
    _MAGIC,
    _MAX_FRAME_BYTES,
    _OVERHEAD,
    FRAMES_FILE,
    Record,
    RecordSource,
    _check_recording_path,
    _error,
    _try_record,
)

_CRC_BYTES = _CRC.size
#: CRC-32 of any bytes followed by their own CRC-32, little-endian.
_CRC32_RESIDUE = 0x2144DF1C


class RecordingReader:
    """Iterate the records of a recording, skipping damage.

    Bad records are skipped and counted, never raised: after iterating,
    :attr:`n_corrupt` holds how many damaged stretches were jumped over (each followed
    by a good record), :attr:`n_skipped_bytes` their size, and
    :attr:`torn_tail_bytes` the bytes after the last good record (a write torn by a
    crash; :func:`glutescope.recording.recover` truncates them).

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = _check_recording_path(path)
        self.n_records = 0
        """Good records read."""
        self.n_corrupt = 0
        """Damaged stretches skipped between good records."""
        self.n_skipped_bytes = 0
        """Bytes in those stretches."""
        self.torn_tail_bytes = 0
        """Bytes after the last good record."""
        self.valid_end = 0
        """Offset just past the last good record."""
        self.damaged: list[tuple[int, int]] = []
        """(byte offset, size) of each damaged stretch skipped, in order."""
        self.log_bytes = 0
        """Size of ``frames.log`` as read."""

    def __iter__(self) -> Iterator[Record]:
        log = self.path / FRAMES_FILE
        try:
            f = open(log, "rb")
        except OSError as exc:
            raise _error(exc, "read", log) from None
        self.n_records = self.n_corrupt = self.n_skipped_bytes = self.torn_tail_bytes = 0
        self.valid_end = 0
        self.damaged = []
        self.log_bytes = 0
        with f:
            win = _LogWindow(f, log)
            pos = 0
            need = _OVERHEAD + _MAX_FRAME_BYTES
            while True:
                if not win.eof and win.end - pos < need:
                    win.ensure(pos)
                buf, base = win.buf, win.base
                self.log_bytes = end = base + len(buf)
                if pos >= end:
                    return
                rec = _good_record(buf, pos - base, base)
                if rec is None:
                    rec = win.record(pos)  # the careful check, which also names no record
                if rec is None:
                    nxt = win.resync(pos + 1)
                    if nxt < 0:
                        self.log_bytes = win.end
                        self.torn_tail_bytes = win.end - pos
                        return
                    self.n_corrupt += 1
                    self.n_skipped_bytes += nxt - pos
                    self.damaged.append((pos, nxt - pos))
                    pos = nxt
                    continue
                pos += _OVERHEAD + len(rec.frame)
                self.valid_end = pos
                self.n_records += 1
                yield rec


_HEAD_UNPACK_FROM = _HEAD.unpack_from
_HEAD_BYTES = _HEAD.size
_SOURCES = {int(s): s for s in RecordSource}


def _good_record(buf: bytes, pos: int, base: int) -> Record | None:
    """The record at ``pos`` as :func:`_try_record` reads it, when it is whole and its
    CRC checks out; None when anything is off (then ``_try_record`` decides).

    The log is millions of records: this skips the slices and the enum call, and
    checks the record's CRC over the record and its CRC together (the CRC-32 residue).
    """
    if not buf.startswith(_MAGIC, pos):
        return None
    try:
        _, length, t_host_ns, flags = _HEAD_UNPACK_FROM(buf, pos)
    except struct.error:  # fewer bytes left than a head
        return None
    end = pos + _HEAD_BYTES + length
    if length > _MAX_FRAME_BYTES or end + _CRC_BYTES > len(buf):
        return None
    if zlib.crc32(memoryview(buf)[pos : end + _CRC_BYTES]) != _CRC32_RESIDUE:
        return None
    low = flags & 0x0F
    return Record(base + pos, t_host_ns, _SOURCES.get(low, low), bool(flags & _FLAG_HOST_TO_DEVICE),
                  buf[pos + _HEAD_BYTES : end])


_READ_BYTES = 1 << 20


class _LogWindow:
    """A forward-moving window on ``frames.log``: the log is read in pieces, never whole
    (a day is hundreds of MB). Whenever a position is examined the window holds a
    whole record's worth past it, or up to the end of the file, so every check a
    whole-file reader makes gives the same answer here."""

    def __init__(self, f, log: Path) -> None:
        self._f, self._log = f, log
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.eof = False

    @property
    def end(self) -> int:
        """File offset just past the bytes read so far (the file's size once at EOF)."""
        return self.base + len(self.buf)

    def ensure(self, pos: int) -> None:
        """Hold [pos, pos + the longest record) or up to EOF; forget what is before pos."""
        while not self.eof and self.end - pos < _OVERHEAD + _MAX_FRAME_BYTES:
            try:
                more = self._f.read(max(_READ_BYTES, _OVERHEAD + _MAX_FRAME_BYTES - (self.end - pos)))
            except OSError as exc:
                raise _error(exc, "read", self._log) from None
            self.buf, self.base = self.buf[pos - self.base :] + more, pos
            self.eof = not more

    def record(self, pos: int) -> Record | None:
        self.ensure(pos)
        return _try_record(self.buf, pos - self.base, self.base)

    def resync(self, start: int) -> int:
        """Offset of the next record that checks out at or after ``start``, or -1."""
        pos = start
        while True:
            self.ensure(pos)
            k = self.buf.find(_MAGIC, pos - self.base)
            if k < 0:
                if self.eof:
                    return -1
                pos = max(pos, self.end - 1)  # a magic may straddle the window's end
                continue
            candidate = self.base + k  # before record() moves the window
            if self.record(candidate) is not None:
                return candidate
            pos = candidate + 1
