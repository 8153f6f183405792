"""Loading a recording: every frame of the log decoded and assembled as it was live."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glutescope.protocol import DeviceInfo, Event, FrameError, decode_frame
from glutescope.recording.format import FRAMES_FILE, META_FILE, RecordingError, _check_recording_path, _error
from glutescope.recording.reader import RecordingReader
from glutescope.stream import DeviceClock, Segment, SessionAssembler
from glutescope.units import codes_to_uV


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
    """Bytes after the last good record (0 after :func:`glutescope.recording.recover`)."""
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
        A ``<name>.glutes`` directory (run :func:`glutescope.recording.recover` first if its writer died;
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
