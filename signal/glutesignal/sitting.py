"""Sitting from the pelvis IMU: seated periods and a reminder after each hour of sitting.

The pelvis tilts back (posteriorly) when a person sits: from standing tall to a usual
office posture by some 20-30 degrees. A sample counts as seated when the pelvic tilt
from the standing reference posture (`glutesignal.pelvis`, tilt negative = posterior)
is between `SIT_TILT_DEG` and `LIE_TILT_DEG` backwards; beyond that the person is lying
down (on the back for bridges), not sitting.

A **sitting period** starts at the first seated sample and lasts until the person has
been up (not seated) for `BREAK_S` in one go; shorter stands (reaching for something,
shifting on the chair) do not end it, and only the seated samples count as sitting
time. A **reminder** comes each time a period's sitting time reaches a whole multiple of
``remind_every_s`` (an hour by default: "every hour you spend sitting, stand up and
... squeeze"), so someone who sits 2 h 10 min in one go is reminded twice, at one and at
two hours of sitting.

The tracker streams: it is fed blocks of tilt samples in stream order and holds only a
few counters, so an eight-hour day costs what a minute does. Samples that are not
finite (a gap in the IMU stream) neither count as sitting nor as standing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BREAK_S", "LIE_TILT_DEG", "REMIND_EVERY_S", "SIT_TILT_DEG", "SittingEvent", "SittingTracker"]

SIT_TILT_DEG = 15.0
"""Posterior pelvic tilt from the standing reference beyond which the person counts as
sitting, degrees. Sitting tilts the pelvis back by about 20-30° from standing; this is a
project threshold below that, not a published cut-off."""
LIE_TILT_DEG = 60.0
"""Posterior tilt beyond which the person is lying down rather than sitting, degrees
(lying on the back is about 90°)."""
REMIND_EVERY_S = 3600.0
"""Sitting time between reminders, s: an hour."""
BREAK_S = 60.0
"""Time up in one go that ends a sitting period, s: a minute, the length of the
wake-up itself."""


@dataclass(frozen=True)
class SittingEvent:
    """A change the tracker found."""

    kind: str
    """"sat_down" (a sitting period began), "reminder" (another ``remind_every_s`` of
    sitting in this period) or "stood_up" (the period ended)."""
    t_s: float
    """When, on the IMU stream clock (sample index / rate), s. For "stood_up": the end of
    the last seated sample (the event itself is known `BREAK_S` later)."""
    sitting_s: float
    """Seconds seated in this period up to ``t_s``."""


class SittingTracker:
    """Sitting periods and hourly reminders from a stream of pelvic tilt samples.

    Parameters
    ----------
    imu_fs_hz : float
        IMU sampling rate, Hz (> 0).
    remind_every_s : float
        Sitting time between reminders within one period, s (> 0).
    break_s : float
        Time up in one go that ends a period, s (> 0).
    sit_tilt_deg, lie_tilt_deg : float
        Seated is a posterior tilt in [sit_tilt_deg, lie_tilt_deg), degrees
        (0 < sit_tilt_deg < lie_tilt_deg).
    """

    def __init__(self, imu_fs_hz: float, *, remind_every_s: float = REMIND_EVERY_S, break_s: float = BREAK_S,
                 sit_tilt_deg: float = SIT_TILT_DEG, lie_tilt_deg: float = LIE_TILT_DEG) -> None:
        for name, value in (("imu_fs_hz", imu_fs_hz), ("remind_every_s", remind_every_s), ("break_s", break_s)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number; got {value!r}")
        if not (0 < sit_tilt_deg < lie_tilt_deg):
            raise ValueError(f"sit_tilt_deg and lie_tilt_deg must satisfy 0 < sit < lie; got {sit_tilt_deg!r}, "
                             f"{lie_tilt_deg!r}")
        self.imu_fs_hz = float(imu_fs_hz)
        self.remind_every_s = float(remind_every_s)
        self._remind_n = max(1, int(round(remind_every_s * imu_fs_hz)))
        self._break_n = max(1, int(round(break_s * imu_fs_hz)))
        self._lo, self._hi = -float(lie_tilt_deg), -float(sit_tilt_deg)
        self._next = 0  # next sample index expected
        self._in_period = False
        self._period_n = 0  # seated samples in the current period
        self._next_reminder_n = self._remind_n
        self._up_n = 0  # valid samples up in a row since the last seated one
        self._last_seated_end = 0  # sample index after the last seated sample
        self.seated_n = 0
        """Seated samples since the start (all periods)."""
        self.valid_n = 0
        """Finite tilt samples seen since the start."""

    @property
    def sitting_s(self) -> float:
        """Time seated since the start, s."""
        return self.seated_n / self.imu_fs_hz

    @property
    def in_period(self) -> bool:
        """A sitting period is under way."""
        return self._in_period

    @property
    def period_sitting_s(self) -> float:
        """Time seated in the current period so far, s (0 outside a period)."""
        return self._period_n / self.imu_fs_hz if self._in_period else 0.0

    def restart_clock(self) -> None:
        """A wake-up was done: the next reminder of this period comes after another
        ``remind_every_s`` of sitting from now (a period under way goes on)."""
        self._next_reminder_n = self._period_n + self._remind_n

    def update(self, first_sample: int, tilt_deg) -> tuple[SittingEvent, ...]:
        """Feed the tilt samples from ``first_sample`` on; return the events they complete.

        Parameters
        ----------
        first_sample : int
            IMU sample index of ``tilt_deg[0]``. Samples already fed are skipped; a jump
            forward is a gap (neither seated nor up).
        tilt_deg : array_like, shape (n,)
            Pelvic tilt from the standing reference, degrees (anterior +).

        Returns
        -------
        tuple of SittingEvent
            In time order.
        """
        tilt = np.asarray(tilt_deg, dtype=float).reshape(-1)
        first = int(first_sample)
        skip = max(0, self._next - first)
        if skip >= tilt.size:
            return ()
        tilt, first = tilt[skip:], first + skip
        self._next = first + tilt.size
        valid = np.flatnonzero(np.isfinite(tilt))
        if valid.size == 0:
            return ()
        self.valid_n += int(valid.size)
        seated = (tilt[valid] >= self._lo) & (tilt[valid] < self._hi)
        index = first + valid
        # Runs of equal state among the valid samples.
        edges = np.flatnonzero(np.diff(seated.astype(np.int8))) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [seated.size]])
        fs = self.imu_fs_hz
        events: list[SittingEvent] = []
        for a, b in zip(starts, ends):
            n = int(b - a)
            if seated[a]:
                if not self._in_period:
                    self._in_period = True
                    self._period_n = 0
                    self._next_reminder_n = self._remind_n
                    events.append(SittingEvent("sat_down", index[a] / fs, 0.0))
                while self._period_n + n >= self._next_reminder_n:
                    k = a + (self._next_reminder_n - self._period_n) - 1  # the sample that completes it
                    events.append(SittingEvent("reminder", (index[k] + 1) / fs, self._next_reminder_n / fs))
                    self._next_reminder_n += self._remind_n
                self._period_n += n
                self.seated_n += n
                self._up_n = 0
                self._last_seated_end = int(index[b - 1]) + 1
            elif self._in_period:
                self._up_n += n
                if self._up_n >= self._break_n:
                    self._in_period = False
                    events.append(SittingEvent("stood_up", self._last_seated_end / fs, self._period_n / fs))
        return tuple(events)

    def finish(self) -> tuple[SittingEvent, ...]:
        """End of the stream: close a period still under way (a "stood_up" at its last seated sample)."""
        if not self._in_period:
            return ()
        self._in_period = False
        return (SittingEvent("stood_up", self._last_seated_end / self.imu_fs_hz, self._period_n / self.imu_fs_hz),)
