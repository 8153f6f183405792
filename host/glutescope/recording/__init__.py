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
    which :func:`recover` truncates.

``meta.json``
    What the frames do not say: subject pseudonym, channel-to-muscle map, electrode
    placement, host markers, device info, software versions, start and end time
    (tz-aware ISO 8601, with ``start_time_ns`` on the records' clock to relate the
    two), and whether the recording was closed cleanly. Rewritten atomically
    (temporary file, fsync, rename).

Everything else (arrays, exports, scores) is derived from these by :func:`load`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import errno
import json
import os
import platform
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glutescope import __version__
from glutescope.protocol import (
    DeviceInfo,
    Event,
    FrameError,
    codes_to_uV,
    decode_frame,
)
from glutescope.stream import DeviceClock, Segment, SessionAssembler

__all__ = [
    "RECORDING_SUFFIX",
    "RecordSource",
    "RecordingError",
    "Record",
    "RecordingWriter",
    "RecordingReader",
    "RecoveryReport",
    "recover",
    "Recording",
    "load",
]

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


class RecordingWriter:
    """Write a recording as the frames arrive.

    Records are buffered in memory and written with an fsync at least every
    ``flush_interval_s`` by a background thread (and on :meth:`flush` and
    :meth:`close`), so a crash loses at most that much. Use as a context manager::

        with RecordingWriter("session.glutes", subject="S01") as rec:
            rec.append(frame_bytes, source=RecordSource.BLE_NOTIFY)

    Parameters
    ----------
    path : str or os.PathLike
        The ``<name>.glutes`` directory to create; it must not exist yet.
    subject : str, optional
        Subject pseudonym (never a real name); None when not given.
    channel_map : mapping of int to str, optional
        ADC input -> muscle, e.g. ``{0: "gluteus maximus left"}``.
    electrode_placement : str, optional
        How the electrodes were placed (e.g. SENIAM site, inter-electrode distance).
    device_info : DeviceInfo, optional
        The wearable's INFO, if known now (see :meth:`set_device_info`).
    notes : str
        Free text.
    flush_interval_s : float
        Longest time a record waits in memory, > 0.
    clock_ns : callable
        Returns the host time in ns since the Unix epoch; used when :meth:`append`
        is given no time.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        subject: str | None = None,
        channel_map: Mapping[int, str] | None = None,
        electrode_placement: str | None = None,
        device_info: DeviceInfo | None = None,
        notes: str = "",
        flush_interval_s: float = 0.5,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = _check_recording_path(path)
        if subject is not None and (not isinstance(subject, str) or not subject.strip()):
            raise ValueError(f"subject must be a non-empty pseudonym or None, got {subject!r}")
        cmap = {}
        for k, v in (channel_map or {}).items():
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 7:
                raise ValueError(f"channel_map keys must be ADC inputs 0-7, got {k!r}")
            if not isinstance(v, str) or not v:
                raise ValueError(f"channel_map[{k}] must be a muscle name, got {v!r}")
            cmap[str(k)] = v
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s}")
        self._flush_interval_s = float(flush_interval_s)
        self._clock_ns = clock_ns
        start_ns = clock_ns()
        self._meta: dict[str, Any] = {
            "format": "glutescope-recording",
            "format_version": FORMAT_VERSION,
            "frames_log": FRAMES_FILE,
            "start_time": _now_iso(),
            "start_time_ns": start_ns,
            "end_time": None,
            "closed": False,
            "subject": subject,
            "channel_map": cmap,
            "electrode_placement": electrode_placement,
            "device_info": device_info.to_dict() if device_info else None,
            "markers": [],
            "notes": notes,
            "software": _software_versions(),
        }
        self._fd: int | None = None
        self._buf = bytearray()
        self._buf_records = 0
        # Records handed to the OS whose fsync failed: counted durable after a good fsync.
        self._unsynced_records = 0
        self._lock = threading.Lock()  # guards _buf, _meta, counters
        self._io_lock = threading.Lock()  # one flush at a time
        self._meta_dirty = True
        self._error: RecordingError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.n_records = 0
        """Records appended."""
        self.n_records_durable = 0
        """Records written and fsynced (safe from a crash)."""

    # -- lifecycle ---------------------------------------------------------

    def open(self) -> RecordingWriter:
        """Create the directory and files (mode 0700 / 0600) and start flushing.

        Raises
        ------
        RecordingError
            If the directory exists or cannot be created (permission, disk full).
        """
        if self._fd is not None or self._closed:
            raise RecordingError(errno.EINVAL, f"recording {self.path} was already opened")
        try:
            os.mkdir(self.path, 0o700)
        except FileExistsError:
            raise RecordingError(
                errno.EEXIST, f"cannot create recording {self.path}: it exists already (pick a new name)"
            ) from None
        except OSError as exc:
            raise _error(exc, "create recording", self.path) from None
        log = self.path / FRAMES_FILE
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
        except OSError as exc:
            raise _error(exc, "create", log) from None
        self._fd = fd
        try:
            self._write_meta()
        except RecordingError:
            os.close(fd)
            self._fd = None
            self._closed = True
            raise
        self._thread = threading.Thread(target=self._flush_loop, name="recording-flush", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> RecordingWriter:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush, mark the recording closed in ``meta.json`` and close the files.

        Safe to call twice.

        Raises
        ------
        RecordingError
            If the last write fails (the files are closed anyway).
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            if self._fd is not None:
                self._flush_now()
                log_bytes = os.fstat(self._fd).st_size
                with self._lock:
                    self._meta["closed"] = True
                    self._meta["end_time"] = _now_iso()
                    # What a reader checks the log against: a shorter log was truncated.
                    self._meta["frames_log_bytes"] = log_bytes
                    self._meta_dirty = True
                self._write_meta()
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # -- writing -----------------------------------------------------------

    def append(
        self,
        frame: bytes,
        t_host_ns: int | None = None,
        *,
        source: RecordSource = RecordSource.UNKNOWN,
        host_to_device: bool = False,
    ) -> None:
        """Add one frame (or a command sent) exactly as received.

        Parameters
        ----------
        frame : bytes-like
            The frame's bytes, valid or not: a corrupt frame is recorded too.
        t_host_ns : int, optional
            Receive time in ns, on the same clock as ``clock_ns`` (default: ``clock_ns()``
            now).
        source : RecordSource
            Which link delivered it.
        host_to_device : bool
            True for a command the host sent.

        Raises
        ------
        RecordingError
            If the recording is not open, or an earlier write failed (disk full,
            permission) and the bytes still wait in memory.
        """
        if self._fd is None:
            raise RecordingError(errno.EBADF, f"recording {self.path} is not open")
        if self._error is not None:
            raise self._error
        data = bytes(frame)
        if len(data) > _MAX_FRAME_BYTES:
            raise ValueError(f"frame must be at most {_MAX_FRAME_BYTES} bytes, got {len(data)}")
        t = self._clock_ns() if t_host_ns is None else int(t_host_ns)
        if not 0 <= t <= _U64_MAX:
            raise ValueError(f"t_host_ns must be in 0 to 2**64 - 1, got {t}")
        flags = (int(source) & 0x0F) | (_FLAG_HOST_TO_DEVICE if host_to_device else 0)
        rec = _encode_record(data, t, flags)
        with self._lock:
            self._buf += rec
            self._buf_records += 1
            self.n_records += 1

    def add_marker(self, label: str, *, t_host_ns: int | None = None, emg_sample: int | None = None) -> None:
        """Note a host-side marker (e.g. a cue of the guided protocol) in ``meta.json``.

        Parameters
        ----------
        label : str
            What happened.
        t_host_ns : int, optional
            When, ns since the Unix epoch; default now.
        emg_sample : int, optional
            EMG stream index it belongs to, if known.
        """
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a non-empty string, got {label!r}")
        t = self._clock_ns() if t_host_ns is None else int(t_host_ns)
        with self._lock:
            self._meta["markers"].append(
                {"label": label, "t_host_ns": t, "time": _wall_iso(self._meta, t), "emg_sample": emg_sample}
            )
            self._meta_dirty = True

    def set_session_plan(self, *, exercise: str | None, squeeze_cues: Sequence[Mapping[str, Any]] = (),
                         imu_mount: str = "upright", rep_cues: Sequence[Mapping[str, Any]] = (),
                         calibration: Mapping[str, Any] | None = None) -> None:
        """Note what the session asked of the person, which the frames do not carry.

        Parameters
        ----------
        exercise : str or None
            The exercise performed (e.g. "bridges", "squeeze_test"), if known.
        squeeze_cues : sequence of mapping
            The guided squeeze test's cues on the EMG stream clock: ``start_s``,
            ``end_s`` (s), ``name`` ("relax"/"squeeze"), ``side``.
        imu_mount : str
            How the IMU breakout sat on the sacrum (`glutescope.mounting`).
        rep_cues : sequence of mapping
            Reps the protocol cued with their working leg (same keys), if any.
        calibration : mapping or None
            The per-side calibration the session used, made in another recording
            (`glutescope.calibration.Calibration.to_meta`); None: none, or made here.
        """
        def as_cues(given, what):
            out = []
            for cue in given:
                try:
                    out.append({"start_s": float(cue["start_s"]), "end_s": float(cue["end_s"]),
                                "name": str(cue["name"]), "side": str(cue["side"])})
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"each {what} needs start_s, end_s, name and side; got {cue!r}") from None
            return out

        cues = as_cues(squeeze_cues, "squeeze cue")
        reps = as_cues(rep_cues, "rep cue")
        with self._lock:
            self._meta["exercise"] = exercise
            self._meta["squeeze_cues"] = cues
            self._meta["imu_mount"] = imu_mount
            if reps:
                self._meta["rep_cues"] = reps
            if calibration is not None:
                self._meta["calibration"] = dict(calibration)
            self._meta_dirty = True

    def set_imported(self, origin: Mapping[str, Any], *, start_time: str | None) -> None:
        """Mark the recording as imported from another system's file (``glutescope import``).

        Parameters
        ----------
        origin : mapping
            JSON-ready description of the source (format, file name, labels, map, scaling),
            stored as ``meta.json`` ``"imported"``.
        start_time : str or None
            The session's start (tz-aware ISO 8601) as the file states it; None: the file
            states none, and ``start_time`` stays the time of the import.
        """
        if not isinstance(origin, Mapping) or not origin.get("format"):
            raise ValueError(f"origin must be a mapping naming its format, got {origin!r}")
        with self._lock:
            self._meta["imported"] = json.loads(json.dumps(dict(origin)))
            if start_time is not None:
                self._meta["start_time"] = str(start_time)
            self._meta["start_time_source"] = "the imported file" if start_time is not None else "time of import"
            self._meta_dirty = True

    def set_protocol(self, record: Mapping[str, Any]) -> None:
        """Store the guided protocol the session ran in ``meta.json`` (``"protocol"``):
        its name, its steps on the EMG stream clock, its step events and its results
        (`glutescope.protocols.runner.ProtocolRunner.to_record`); replaced whole on each call.
        """
        if not isinstance(record, Mapping) or "name" not in record or "steps" not in record:
            raise ValueError(f"record must be a mapping with name and steps, got {record!r}")
        with self._lock:
            self._meta["protocol"] = dict(record)
            self._meta_dirty = True

    def set_mains(self, mains_hz: float | None, *, source: str) -> None:
        """Store the local mains frequency in ``meta.json`` (``"mains_hz"``, ``"mains_source"``),
        so reports and exports notch the lines of the right frequency.

        Parameters
        ----------
        mains_hz : float or None
            50.0 or 60.0 Hz; None when the signal was searched and carried no mains line.
        source : str
            How it is known: "given" (by the user) or "detected" (in the signal).
        """
        if mains_hz is not None and mains_hz not in (50.0, 60.0):
            raise ValueError(f"mains_hz must be 50.0, 60.0 or None; got {mains_hz!r}")
        if source not in ("given", "detected"):
            raise ValueError(f"source must be 'given' or 'detected'; got {source!r}")
        with self._lock:
            self._meta["mains_hz"] = None if mains_hz is None else float(mains_hz)
            self._meta["mains_source"] = source
            self._meta_dirty = True

    def set_device_info(self, info: DeviceInfo, *, channel_names: Sequence[str] | None = None) -> None:
        """Store the wearable's INFO in ``meta.json`` (the INFO frame also belongs in
        the log: append it).

        Parameters
        ----------
        info : DeviceInfo
            The INFO of the running configuration.
        channel_names : sequence of str, optional
            Muscle of each EMG row, in ascending ADC input order of ``info.channel_mask``;
            replaces the channel map.
        """
        if not isinstance(info, DeviceInfo):
            raise TypeError(f"info must be a DeviceInfo, got {type(info).__name__}")
        cmap = None
        if channel_names is not None:
            inputs = [i for i in range(8) if info.channel_mask >> i & 1]
            names = list(channel_names)
            if len(names) != len(inputs) or not all(isinstance(n, str) and n for n in names):
                raise ValueError(
                    f"channel_names must give one non-empty name per channel of mask "
                    f"0x{info.channel_mask:02x} ({len(inputs)}), got {names!r}"
                )
            cmap = {str(i): n for i, n in zip(inputs, names)}
        with self._lock:
            self._meta["device_info"] = info.to_dict()
            if cmap is not None:
                self._meta["channel_map"] = cmap
            self._meta_dirty = True

    @property
    def error(self) -> RecordingError | None:
        """The last write error (disk full, permission), None once a write succeeds.

        The background flush keeps its errors here; poll it to stop a recording that
        can no longer be written instead of waiting for the next :meth:`append` to raise.
        """
        return self._error

    def flush(self) -> None:
        """Write and fsync everything appended so far.

        Raises
        ------
        RecordingError
            On a write error; the bytes stay in memory and the next flush retries.
        """
        if self._fd is None:
            raise RecordingError(errno.EBADF, f"recording {self.path} is not open")
        self._flush_now()

    def _flush_now(self) -> None:
        with self._io_lock:
            with self._lock:
                data = bytes(self._buf)
                n_recs = self._buf_records
                self._buf.clear()
                self._buf_records = 0
            assert self._fd is not None
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
                if data or self._unsynced_records:
                    os.fsync(self._fd)
            except OSError as exc:
                with self._lock:
                    # Keep what was not written, in order, for the next try.
                    self._buf[:0] = view
                    self._unsynced_records += n_recs
                base = _error(exc, "write", self.path / FRAMES_FILE)
                err = RecordingError(base.errno, f"{base.strerror}; {len(view)} bytes wait in memory")
                self._error = err
                raise err from None
            self.n_records_durable += n_recs + self._unsynced_records
            self._unsynced_records = 0
            self._error = None
            self._write_meta()

    def _write_meta(self) -> None:
        with self._lock:
            if not self._meta_dirty:
                return
            text = json.dumps(self._meta, indent=2, ensure_ascii=False) + "\n"
            self._meta_dirty = False
        try:
            _write_file_atomic(self.path, META_FILE, text.encode("utf-8"))
        except OSError as exc:
            with self._lock:
                self._meta_dirty = True
            raise _error(exc, "write", self.path / META_FILE) from None

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_interval_s):
            try:
                self._flush_now()
            except RecordingError:
                pass  # kept in self._error, raised to the caller by append()


class RecordingReader:
    """Iterate the records of a recording, skipping damage.

    Bad records are skipped and counted, never raised: after iterating,
    :attr:`n_corrupt` holds how many damaged stretches were jumped over (each followed
    by a good record), :attr:`n_skipped_bytes` their size, and
    :attr:`torn_tail_bytes` the bytes after the last good record (a write torn by a
    crash; :func:`recover` truncates them).

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
            while True:
                win.ensure(pos)
                self.log_bytes = win.end
                if pos >= win.end:
                    return
                rec = win.record(pos)
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
                pos += _record_size(rec)
                self.valid_end = pos
                self.n_records += 1
                yield rec


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


@dataclass(frozen=True, eq=False)
class Recording:
    """A recording decoded: the same assembly the live host does, from the log."""

    path: Path
    """The ``.glutes`` directory."""
    meta: dict
    """``meta.json`` as stored."""
    device_info: DeviceInfo | None
    """The last INFO frame in the log, else the one in ``meta.json``."""
    emg: tuple[Segment, ...]
    """EMG segments (one per START), uint16 ADC words (n_channels, n_samples) with gaps."""
    imu: tuple[Segment, ...]
    """IMU segments, int16 LSB (6, n_samples) with gaps."""
    events: tuple[Event, ...]
    """EVENT frames (device markers) in arrival order."""
    markers: tuple[dict, ...]
    """Host markers from ``meta.json``."""
    clock: DeviceClock
    """Device-to-host clock fitted over the whole recording (last boot of the wearable)."""
    n_records: int
    """Good records in the log."""
    n_corrupt_records: int
    """Damaged stretches of the log skipped."""
    torn_tail_bytes: int
    """Bytes after the last good record (0 after :func:`recover`)."""
    n_corrupt_frames: int
    """Records whose frame failed :func:`glutescope.protocol.decode_frame`."""
    n_seq_skips: int
    """Frames the wearable sent that are not in the log."""
    damaged_stretches: tuple[tuple[int, int], ...] = ()
    """(byte offset, size) in ``frames.log`` of each damaged stretch skipped."""
    log_bytes: int = 0
    """Size of ``frames.log`` as read (``meta.json``'s ``frames_log_bytes`` is what its
    writer wrote)."""
    n_seq_skips_at_damage: int = 0
    """Of `n_seq_skips`, those missing right after a damaged stretch: lost on disk,
    not on the link."""

    def emg_uV(self, segment: int = 0) -> np.ndarray:
        """EMG of one segment in µV at the electrodes, NaN inside gaps and where the ADC
        flagged a conversion error (bit 15; the firmware also marks samples it lost
        to an overrun that way).

        Parameters
        ----------
        segment : int
            Index into :attr:`emg`.

        Returns
        -------
        numpy.ndarray, shape (n_channels, n_samples), float64
        """
        if self.device_info is None:
            raise ValueError(f"recording {self.path} holds no device info: cannot scale EMG to µV")
        if not 0 <= segment < len(self.emg):
            raise ValueError(f"segment must be in 0-{len(self.emg) - 1}, got {segment}")
        seg = self.emg[segment]
        out = codes_to_uV(seg.samples, self.device_info)
        out[:, ~seg.valid_mask()] = np.nan
        out[(seg.samples & 0x8000) != 0] = np.nan
        return out


def load(path: str | os.PathLike) -> Recording:
    """Read a recording and assemble its streams.

    Every frame in the log goes through :func:`glutescope.protocol.decode_frame` and a
    :class:`glutescope.stream.SessionAssembler`, as it did live.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory (run :func:`recover` first if its writer died;
        loading works without, the torn tail is just reported).

    Returns
    -------
    Recording

    Raises
    ------
    RecordingError
        If there is no readable recording at ``path``.
    """
    p = _check_recording_path(path)
    if not (p / FRAMES_FILE).is_file():
        raise RecordingError(errno.ENOENT, f"no recording at {p}: {FRAMES_FILE} is missing")
    try:
        meta = json.loads((p / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        meta = {}
    except OSError as exc:
        raise _error(exc, "read", p / META_FILE) from None
    except ValueError as exc:
        raise RecordingError(errno.EIO, f"cannot read {p / META_FILE}: {exc} (run recover first)") from None
    session = SessionAssembler(clock=DeviceClock(window_s=1e9, bin_s=2.0))
    reader = RecordingReader(p)
    n_corrupt_frames = 0
    seen_damage = skips_at_damage = 0
    for rec in reader:
        if rec.host_to_device:
            continue
        try:
            frame = decode_frame(rec.frame)
        except FrameError:
            n_corrupt_frames += 1
            session.add_corrupt()
            continue
        before = session.n_seq_skips
        session.add_frame(frame, rec.t_host_ns)
        if reader.n_corrupt != seen_damage:  # the first frame after a damaged stretch
            seen_damage = reader.n_corrupt
            skips_at_damage += session.n_seq_skips - before
    info = session.info
    if info is None and meta.get("device_info"):
        info = DeviceInfo.from_dict(meta["device_info"])
    return Recording(
        path=p,
        meta=meta,
        device_info=info,
        emg=tuple(session.emg.segments()),
        imu=tuple(session.imu.segments()),
        events=tuple(session.events),
        markers=tuple(meta.get("markers", ())),
        clock=session.clock,
        n_records=reader.n_records,
        n_corrupt_records=reader.n_corrupt,
        torn_tail_bytes=reader.torn_tail_bytes,
        n_corrupt_frames=n_corrupt_frames,
        n_seq_skips=session.n_seq_skips,
        damaged_stretches=tuple(reader.damaged),
        log_bytes=reader.log_bytes,
        n_seq_skips_at_damage=skips_at_damage,
    )
