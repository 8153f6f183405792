"""One segment's IMU read forward with its pelvis angles, tracked as the live view did.

The pelvis angles of a day are 4.5 MB an hour of float32; the exports need them at
every IMU sample, so :class:`ImuFeed` tracks them again as it reads the IMU, through
the live path (`glutescope.live.PelvisStream`), a stretch at a time. The angles are
the live view's: the tracker runs sample by sample, so how the stream is cut into
blocks does not change them.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Optional

import numpy as np

from glutescope.live import PelvisStream
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.recording import Recording
from glutescope.units import imu_to_si

__all__ = ["ImuFeed", "DEFAULT_STEP_SAMPLES"]

DEFAULT_STEP_SAMPLES = 4096
"""IMU samples tracked at a time (40 s at 104 Hz)."""


class ImuFeed:
    """The IMU words and pelvis angles of one segment, read forward in any ranges.

    Parameters
    ----------
    rec : glutescope.recording.Recording
        The recording (its device info, the segment's gaps and the IMU mount in its meta).
    segment : int
        Index of the segment.
    read_imu : callable, optional
        ``read_imu(a, b)``: the segment's IMU words of [a, b), read forward (from
        `glutescope.analysis.segment_words`, to share a pass over the log with the
        EMG); default: a reader of its own.
    step_samples : int
        Samples tracked at a time, > 0.
    """

    def __init__(self, rec: Recording, segment: int, read_imu: Optional[Callable] = None, *,
                 step_samples: int = DEFAULT_STEP_SAMPLES) -> None:
        info = rec.device_info
        if info is None or not info.imu_fs_hz or segment >= len(rec.imu):
            raise ValueError(f"segment {segment} of {rec.path} has no IMU stream")
        if step_samples < 1:
            raise ValueError(f"step_samples must be >= 1, got {step_samples!r}")
        if read_imu is None:
            from glutescope.analysis import segment_words

            read_imu = segment_words(rec, segment, ("imu",))["imu"]
        imu = rec.imu[segment]
        self.n_samples = int(imu.n_samples)
        self._read, self._info, self._mount = read_imu, info, recorded_mount(rec.meta)
        self._stream = PelvisStream(float(info.imu_fs_hz))
        self._runs = iter(imu.valid_runs())
        self._run: Optional[list[int]] = None
        self._step = int(step_samples)
        self._done = 0  # [0, _done) tracked and held (or let go)
        self._held: deque = deque()  # (first, words int16 (6, m), angles float32 (3, m))

    def _track_more(self) -> bool:
        """Track the next stretch of the segment; False when all of it is tracked."""
        if self._run is None or self._run[0] >= self._run[1]:
            nxt = next(self._runs, None)
            self._run = list(nxt) if nxt is not None else None
        if self._run is None:  # past the last valid run: only the trailing gap is left
            if self._done >= self.n_samples:
                return False
            lo = hi = self.n_samples
        else:
            lo, hi = self._run[0], min(self._run[1], self._run[0] + self._step)
            self._run[0] = hi
        start = self._done
        words = np.zeros((6, hi - start), np.int16)
        angles = np.full((3, hi - start), np.nan, np.float32)  # the live ring's type
        if hi > lo:
            words[:, lo - start:] = self._read(lo, hi)
            acc_g, gyro_dps = to_body_axes(*imu_to_si(words[:, lo - start:], self._info), self._mount)
            pos = start
            for piece in self._stream.push(lo, acc_g, gyro_dps):
                if isinstance(piece, int):
                    pos += piece
                else:
                    angles[:, pos - start:pos - start + piece.shape[1]] = piece
                    pos += piece.shape[1]
        self._held.append((start, words, angles))
        self._done = hi
        return True

    def read(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples [a, b): the words, int16 (6, b - a), 0 in gaps; the tilt, obliquity
        and rotation, degrees, float32 (3, b - a), NaN in gaps, where the wearable
        dropped samples and past the end. ``a`` never goes back."""
        if (self._held[0][0] if self._held else self._done) > a:
            raise ValueError(f"ImuFeed reads forward only: sample {a} is no longer held")
        while True:
            while self._held and self._held[0][0] + self._held[0][1].shape[1] <= a:
                self._held.popleft()  # also while tracking: a read far ahead holds only its own
            if self._done >= min(b, self.n_samples) or not self._track_more():
                break
        words = np.zeros((6, b - a), np.int16)
        angles = np.full((3, b - a), np.nan, np.float32)
        for first, w, ang in self._held:
            lo, hi = max(a, first), min(b, first + w.shape[1])
            if lo < hi:
                words[:, lo - a:hi - a] = w[:, lo - first:hi - first]
                angles[:, lo - a:hi - a] = ang[:, lo - first:hi - first]
        return words, angles
