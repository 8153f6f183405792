"""Writing a recording as the frames arrive: the log appended and fsynced in the
background, ``meta.json`` rewritten atomically (`glutescope.recording.format`)."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from glutescope.protocol import DeviceInfo
from glutescope.recording.format import (
    _FLAG_HOST_TO_DEVICE,
    _MAX_FRAME_BYTES,
    _U64_MAX,
    FORMAT_VERSION,
    FRAMES_FILE,
    META_FILE,
    RecordingError,
    RecordSource,
    _check_recording_path,
    _encode_record,
    _error,
    _now_iso,
    _software_versions,
    _wall_iso,
    _write_file_atomic,
)


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
