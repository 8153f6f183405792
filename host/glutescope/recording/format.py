"""The recording format: the frames as received, and what is needed to read them.

A recording is a directory ``<name>.glutes/`` holding

``frames.log``
    Append-only records, one per frame received (or command sent), each::

        offset size field
        0      2    magic b"\\xc7\\x5e"
        2      4    frame_len      u32, bytes of frame that follow
        6      8    t_host_ns      u64, host receive time in ns on the writer's clock
        14     1    source_flags   bits 0-3 RecordSource, bit 7 host-to-device (a command)
        15     n    frame          the frame bytes exactly as received
        15+n   4    crc32          CRC-32 (zlib) of bytes 0 .. 15+n-1

    all little-endian. A reader that meets a bad record searches forward for the next
    magic whose record checks out, so a corrupted record costs only itself, and bytes
    after the last good record (a write torn by a crash) are reported as a torn tail,
    which :func:`glutescope.recording.recover` truncates.

``meta.json``
    What the frames do not say: subject pseudonym, channel-to-muscle map, electrode
    placement, host markers, device info, software versions, start and end time
    (tz-aware ISO 8601, with ``start_time_ns`` on the records' clock to relate the
    two), and whether the recording was closed cleanly. Rewritten atomically
    (temporary file, fsync, rename).

Everything else (arrays, exports, scores) is derived from these by :func:`glutescope.recording.load`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import errno
import os
import platform
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glutescope import __version__

RECORDING_SUFFIX = ".glutes"
FRAMES_FILE = "frames.log"
META_FILE = "meta.json"
FORMAT_VERSION = 1

_MAGIC = b"\xc7\x5e"
_HEAD = struct.Struct("<2sIQB")
_CRC = struct.Struct("<I")
_OVERHEAD = _HEAD.size + _CRC.size
# Largest frame protocol v1 can express (u16 payload_len + 16): a longer length field
# is corruption, and the reader rejects it before reading that far.
_MAX_FRAME_BYTES = 0xFFFF + 16
_FLAG_HOST_TO_DEVICE = 0x80
_U64_MAX = (1 << 64) - 1


class RecordSource(enum.IntEnum):
    """Where a record's bytes came from (low nibble of ``source_flags``)."""

    UNKNOWN = 0
    BLE_NOTIFY = 1
    """A notification of the stream characteristic."""
    BLE_READ = 2
    """A read of the info characteristic."""
    USB_SERIAL = 3
    """A COBS-decoded packet from the serial port."""
    VIRTUAL = 4
    """The virtual wearable, or a replay."""
    IMPORTED = 5
    """Made on the host by ``glutescope import`` from another system's file: never
    received from a wearable (``meta.json`` ``"imported"`` says from what)."""


class RecordingError(OSError):
    """A recording cannot be created, written or read; the message is one line.

    ``errno`` holds the operating system's error number (e.g. ENOSPC, EACCES).
    """

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror is not None else super().__str__()


def _error(exc: OSError, action: str, path: Path | str) -> RecordingError:
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    suffix = f" ({name})" if name else ""
    return RecordingError(exc.errno or 0, f"cannot {action} {path}: {reason}{suffix}")


@dataclass(frozen=True)
class Record:
    """One record of ``frames.log``."""

    offset: int
    """Byte offset of the record in ``frames.log``."""
    t_host_ns: int
    """Host receive time, ns since the Unix epoch."""
    source: RecordSource | int
    """Where the bytes came from (an int if the value is not a known source)."""
    host_to_device: bool
    """True for a command the host sent, False for a frame received."""
    frame: bytes
    """The bytes exactly as received (or sent)."""


def _encode_record(frame: bytes, t_host_ns: int, flags: int) -> bytes:
    head = _HEAD.pack(_MAGIC, len(frame), t_host_ns, flags)
    body = head + frame
    return body + _CRC.pack(zlib.crc32(body))


def _try_record(buf: bytes | memoryview, pos: int, base: int = 0) -> Record | None:
    """The record at ``pos`` of ``buf`` (file offset ``base + pos``) if it checks out
    completely, else None."""
    n = len(buf)
    if n - pos < _OVERHEAD or buf[pos : pos + 2] != _MAGIC:
        return None
    _, length, t_host_ns, flags = _HEAD.unpack_from(buf, pos)
    if length > _MAX_FRAME_BYTES:
        return None
    end = pos + _HEAD.size + length
    if end + _CRC.size > n:
        return None
    (crc,) = _CRC.unpack_from(buf, end)
    if zlib.crc32(buf[pos:end]) != crc:
        return None
    low = flags & 0x0F
    try:
        source: RecordSource | int = RecordSource(low)
    except ValueError:
        source = low
    return Record(
        offset=base + pos,
        t_host_ns=t_host_ns,
        source=source,
        host_to_device=bool(flags & _FLAG_HOST_TO_DEVICE),
        frame=bytes(buf[pos + _HEAD.size : end]),
    )


def _record_size(rec: Record) -> int:
    return _OVERHEAD + len(rec.frame)


def _check_recording_path(path: str | os.PathLike, name: str = "path") -> Path:
    p = Path(path)
    if p.suffix != RECORDING_SUFFIX:
        raise ValueError(f"{name} must name a '<name>{RECORDING_SUFFIX}' directory, got {str(p)!r}")
    return p


def _iso(t_ns: int) -> str:
    return _dt.datetime.fromtimestamp(t_ns / 1e9, tz=_dt.timezone.utc).astimezone().isoformat(
        timespec="milliseconds"
    )


def _now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def _wall_iso(meta: dict, t_ns: int) -> str:
    """Wall-clock time of a record time, through the start time pair in ``meta``."""
    try:
        start = _dt.datetime.fromisoformat(meta["start_time"])
        delta_ns = int(t_ns) - int(meta["start_time_ns"])
    except (KeyError, TypeError, ValueError):
        return _iso(t_ns)
    return (start + _dt.timedelta(microseconds=delta_ns / 1e3)).isoformat(timespec="milliseconds")


def _software_versions() -> dict:
    return {"glutescope": __version__, "python": platform.python_version(), "numpy": np.__version__}


def _write_file_atomic(directory: Path, name: str, data: bytes) -> None:
    tmp = directory / (name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / name)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

