"""When each IMU sample was taken, on the EMG's clock, computed for the samples asked about.

The IMU runs on the sensor's own oscillator (the LSM6DSOX's ODR is within +-1.5 % of
nominal, DS12814), so its samples are placed by the anchors its frames carry (stream
index, device time), linearly between them and at the rate of the nearest two anchors
beyond them, never at the nominal rate from the first anchor: over minutes that would
put them seconds away from the EMG. The EMG is the reference: its clock is the
device's. Nominal rate from 0 when either stream has no anchor.

A day of IMU samples' times is 3 MB of float64 an hour (and as much again for each
temporary that makes it): :class:`ImuTimeline` holds the anchors only and answers for
any stretch, so the exports and the analysis walk a day in bounded memory.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ImuTimeline"]

_HELD_SLACK_S = 1e-9
"""A sample taken at most this much after a time counts as in force at it (float noise)."""


class ImuTimeline:
    """The times of one segment's IMU samples, s from the segment's first EMG sample.

    Parameters
    ----------
    rec : glutescope.recording.Recording
        The recording (its ``device_info``, ``emg`` and ``imu``).
    segment : int
        Index of the segment.
    """

    def __init__(self, rec, segment: int) -> None:
        info = rec.device_info
        self.n_samples = 0
        """IMU samples of the segment, gaps included (0: no IMU)."""
        self._mode = "nominal"
        self._ifs = 1.0
        if info is None or segment >= len(rec.imu) or not info.imu_fs_hz:
            return
        emg, imu = rec.emg[segment], rec.imu[segment]
        self.n_samples = int(imu.n_samples)
        self._ifs = float(info.imu_fs_hz)
        if not emg.anchors.size or not imu.anchors.size:
            return
        self._t_emg0_us = emg.anchors[1, 0] - emg.anchors[0, 0] * 1e6 / info.emg_fs_hz
        idx, first = np.unique(imu.anchors[0], return_index=True)
        self._idx = idx.astype(np.float64)
        self._t_us = imu.anchors[1, first].astype(np.float64)
        self._mode = "one" if idx.size == 1 else "anchors"

    def times_s(self, k) -> np.ndarray:
        """Time of IMU samples ``k`` (any integers, also beyond the segment), s, float64."""
        shape = np.shape(k)
        k = np.atleast_1d(np.asarray(k, dtype=np.float64))
        if self._mode == "nominal":
            return (k / self._ifs).reshape(shape)
        idx, t_us = self._idx, self._t_us
        if self._mode == "one":
            t = t_us[0] + (k - idx[0]) * 1e6 / self._ifs
        else:
            t = np.interp(k, idx, t_us)
            lo, hi = k < idx[0], k > idx[-1]
            t[lo] = t_us[0] + (k[lo] - idx[0]) * (t_us[1] - t_us[0]) / (idx[1] - idx[0])
            t[hi] = t_us[-1] + (k[hi] - idx[-1]) * (t_us[-1] - t_us[-2]) / (idx[-1] - idx[-2])
        return ((t - self._t_emg0_us) / 1e6).reshape(shape)

    def all_times_s(self) -> np.ndarray:
        """Time of every sample of the segment (the whole array: for short segments)."""
        return self.times_s(np.arange(self.n_samples))

    @property
    def first_s(self) -> float:
        """Time of the first sample, s (0 without samples)."""
        return float(self.times_s(0)) if self.n_samples else 0.0

    @property
    def last_s(self) -> float:
        """Time of the last sample, s (0 without samples)."""
        return float(self.times_s(self.n_samples - 1)) if self.n_samples else 0.0

    def held(self, t_s) -> np.ndarray:
        """Index of the sample in force at each time ``t_s``: the last taken at or before
        it (-1 before the first), int64, as a binary search over every sample's time.

        Found from the anchors' inverse and corrected against the exact times, so only
        the samples asked about are timed."""
        t_s = np.asarray(t_s, dtype=np.float64)
        n = self.n_samples
        if n == 0:
            return np.full(t_s.shape, -1, dtype=np.int64)
        target = t_s + _HELD_SLACK_S
        if self._mode == "anchors":
            inner = (self._idx > 0) & (self._idx < n - 1)
            ks = np.concatenate([[0.0], self._idx[inner], [n - 1.0]])
            ts = np.concatenate([[self.first_s], (self._t_us[inner] - self._t_emg0_us) / 1e6, [self.last_s]])
            guess = np.interp(target, ts, ks)
        else:
            first = self.first_s
            guess = (target - first) * ((n - 1) / (self.last_s - first)) if n > 1 and self.last_s > first \
                else np.zeros(target.shape)
        k = np.floor(np.nan_to_num(guess)).astype(np.int64).clip(0, n - 1)
        # The guess is off by float rounding (or where anchors jitter): step to the answer.
        for _ in range(64):
            up = (k + 1 < n) & (self.times_s(np.minimum(k + 1, n - 1)) <= target)
            down = (k >= 0) & (self.times_s(k) > target)
            if not (up.any() or down.any()):
                return k
            k = k + up - down
        order = self.all_times_s()  # anchors out of order: search every time
        return np.searchsorted(order, target, side="right").astype(np.int64) - 1
