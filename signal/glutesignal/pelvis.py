"""Pelvis orientation from a sacral 6-axis IMU, movement detection, bridge reps.

Orientation is tracked as the direction of "up" in the sensor frame with a
complementary filter (Mahony-style blend): the gyroscope propagates it, the
accelerometer pulls it back towards gravity with time constant ``tau_s``. From it:

- ``obliquity_deg``: elevation of the pelvis' left-right (sensor y) axis above the
  horizontal; positive when the left hip is higher (a right hip drop). Meaningful standing
  (Trendelenburg sign) and lying (hip drop in a single-leg bridge).
- ``tilt_deg``: sagittal tilt relative to the posture at the start (anterior +).
- ``rotation_deg``: heading change about the vertical (gyroscope only; drifts slowly).

Sensor axes: x forward, y left, z up when standing, on the sacrum.

References
----------
.. [1] Mahony R, Hamel T, Pflimlin JM. Nonlinear complementary filters on the special
   orthogonal group. IEEE Trans Automat Contr 53(5):1203-1218, 2008.
.. [2] Colombo R et al. Complementary filtering of accelerometer and gyroscope for
   body orientation: see also Higgins WT. A comparison of complementary and Kalman
   filtering. IEEE Trans Aerosp Electron Syst 11(3):321-325, 1975.
.. [3] Trendelenburg F. Über den Gang bei angeborener Hüftgelenksluxation. Dtsch Med
   Wochenschr 21:21-24, 1895 (hip drop on the unsupported side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = ["PelvisAngles", "PelvisTracker", "TiltRep", "TiltRepTracker", "pelvis_angles", "segment_tilt_reps"]

DEFAULT_TAU_S = 1.0
"""Complementary-filter time constant, s: gyro below 1/(2 pi tau) ~ 0.16 Hz is
replaced by the accelerometer's gravity direction."""
DEFAULT_REFERENCE_S = 0.5
"""Initial still period averaged for the reference posture and the gyro bias, s."""
MOVING_GYRO_DPS = 15.0
"""Angular speed above which the pelvis counts as moving, degrees/s."""
MOVING_ACC_G = 0.05
"""Deviation of |acc| from 1 g above which the pelvis counts as moving, g."""


@dataclass(frozen=True)
class PelvisAngles:
    """Pelvis angles for a block of IMU samples (each array ``(n_samples,)``)."""

    tilt_deg: np.ndarray
    """Sagittal tilt from the starting posture, degrees (anterior +)."""
    obliquity_deg: np.ndarray
    """Obliquity, degrees (left hip higher +)."""
    rotation_deg: np.ndarray
    """Heading change about the vertical since the start, degrees."""
    moving: np.ndarray
    """True where the pelvis is moving (gyro or linear acceleration above threshold)."""


class PelvisTracker:
    """Streaming complementary filter on ``acc_g`` and ``gyro_dps`` blocks ``(3, n)``.

    The first ``reference_s`` seconds (the subject still in the starting posture) set the
    reference posture for ``tilt_deg`` and the gyroscope bias; angles are reported from
    the first sample with the reference taken from what has been seen so far.

    Parameters
    ----------
    imu_fs_hz : float
        IMU sampling rate, Hz.
    tau_s : float
        Complementary-filter time constant, s.
    reference_s : float
        Still period at the start used for the reference posture and gyro bias, s.

    Notes
    -----
    State: ``up`` (unit "up" vector in the sensor frame), ``rotation_deg``, the reference
    accumulators and ``n_seen``. Per sample: ``up <- normalise(R(-w dt) up`` blended with
    ``acc / |acc|`` by ``dt / (tau + dt)``) [1].
    """

    def __init__(self, imu_fs_hz: float, *, tau_s: float = DEFAULT_TAU_S,
                 reference_s: float = DEFAULT_REFERENCE_S) -> None:
        self.fs_hz = _validate.positive("imu_fs_hz", imu_fs_hz, " (Hz)")
        self.tau_s = _validate.positive("tau_s", tau_s, " (s)")
        self.n_reference = max(1, int(round(_validate.positive("reference_s", reference_s, " (s)") * self.fs_hz)))
        self.reset()

    def gap(self, n_samples: int) -> None:
        """Account for ``n_samples`` IMU samples that never arrived (a link loss).

        Only what the gap breaks is re-learnt: the orientation ``up`` cannot be
        integrated across the hole, so it is re-levelled from the first accelerometer
        sample after it. The reference posture (the zero of ``tilt_deg``) and the gyro
        bias, learnt while the person was still at the start, are kept: re-learning them
        mid-rep would re-zero tilt to the rep's posture and take motion for bias. The
        heading (``rotation_deg``) carries on from its last value; a turn during the gap
        is not seen. A gap inside the reference period just shortens the samples it
        averages.
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if n_samples:
            self.up = None

    def reset(self) -> None:
        """Forget the orientation, reference and bias (a new session)."""
        self.up: np.ndarray | None = None
        self.rotation_deg = 0.0
        self.n_seen = 0
        self.acc_sum = np.zeros(3)
        self.gyro_sum = np.zeros(3)
        self.reference_pitch_deg = 0.0
        self.gyro_bias_dps = np.zeros(3)

    def process(self, acc_g, gyro_dps) -> PelvisAngles:
        """Angles for one block.

        Parameters
        ----------
        acc_g : array_like, shape (3, n_samples)
            Accelerometer, g, sensor frame.
        gyro_dps : array_like, shape (3, n_samples)
            Gyroscope, degrees/s, sensor frame.

        Returns
        -------
        PelvisAngles
        """
        acc = _validate.signal_2d("acc_g", acc_g, 3, allow_empty=True)
        gyro = _validate.signal_2d("gyro_dps", gyro_dps, 3, allow_empty=True)
        if acc.shape != gyro.shape:
            raise ValueError(f"acc_g and gyro_dps must have the same shape; got {acc.shape} and {gyro.shape}")
        n = acc.shape[1]
        norms = np.linalg.norm(acc, axis=0)
        if np.any(norms < 0.1):
            k = int(np.argmax(norms < 0.1))
            raise ValueError(f"acc_g must measure gravity (|acc| >= 0.1 g); got {norms[k]:.3g} g at sample {k} "
                             "(free fall or a dead sensor)")
        dt = 1.0 / self.fs_hz
        alpha = dt / (self.tau_s + dt)
        beta = 1.0 - alpha
        # The recursion is per sample (each step normalises the previous one's result), so
        # it runs on Python floats: numpy's per-call overhead on 3-vectors (cross, norm,
        # slicing) cost ~20x the arithmetic. The operations and their order are those of
        # the vector form in the class notes.
        unit = (acc / norms).T.tolist()  # acc / |acc| per sample, as numpy divides it
        acc_l = acc.T.tolist()
        gyro_l = gyro.T.tolist()
        ups = np.empty((n, 3))
        rot = np.empty(n)
        refs = np.empty(n)  # reference pitch as known at each sample (block-size independent)
        ups_l: list = [None] * n
        rot_l = [0.0] * n
        refs_l = [0.0] * n
        n_reference = self.n_reference
        sx, sy, sz = (float(v) for v in self.acc_sum)
        gx_sum, gy_sum, gz_sum = (float(v) for v in self.gyro_sum)
        bx, by, bz = (float(v) for v in self.gyro_bias_dps)
        ref_pitch = self.reference_pitch_deg
        n_seen = self.n_seen
        rotation = self.rotation_deg
        up = None if self.up is None else [float(v) for v in self.up]
        learning = n_seen < n_reference
        deg_per_rad = 180.0 / math.pi
        for i in range(n):
            a = unit[i]
            if learning:
                ax, ay, az = acc_l[i]
                sx += ax
                sy += ay
                sz += az
                gx, gy, gz = gyro_l[i]
                gx_sum += gx
                gy_sum += gy
                gz_sum += gz
                n_seen += 1
                norm = math.sqrt(sx * sx + sy * sy + sz * sz)
                ref_pitch = math.atan2(-(sx / norm), sz / norm) * deg_per_rad
                bx, by, bz = gx_sum / n_seen, gy_sum / n_seen, gz_sum / n_seen
                learning = n_seen < n_reference
            if up is None:
                up = a  # the first sample, or the first after a gap: level from gravity
            ux, uy, uz = up
            gx, gy, gz = gyro_l[i]
            wx = (gx - bx) * (math.pi / 180.0)
            wy = (gy - by) * (math.pi / 180.0)
            wz = (gz - bz) * (math.pi / 180.0)
            ax, ay, az = a
            # "up" is fixed in the world, so in the rotating sensor frame du/dt = -w x u.
            vx = beta * (ux - (wy * uz - wz * uy) * dt) + alpha * ax
            vy = beta * (uy - (wz * ux - wx * uz) * dt) + alpha * ay
            vz = beta * (uz - (wx * uy - wy * ux) * dt) + alpha * az
            norm = math.sqrt(vx * vx + vy * vy + vz * vz)
            up = (vx / norm, vy / norm, vz / norm)
            rotation += (wx * up[0] + wy * up[1] + wz * up[2]) * deg_per_rad * dt
            ups_l[i] = up
            rot_l[i] = rotation
            refs_l[i] = ref_pitch
        if n:
            ups[:] = ups_l
            rot[:] = rot_l
            refs[:] = refs_l
            self.up = np.array(up)
        self.acc_sum = np.array([sx, sy, sz])
        self.gyro_sum = np.array([gx_sum, gy_sum, gz_sum])
        self.gyro_bias_dps = np.array([bx, by, bz])
        self.reference_pitch_deg = ref_pitch
        self.n_seen = n_seen
        self.rotation_deg = rotation
        ups = ups.T
        tilt, obliquity = pelvis_angles_from_up(ups, refs)
        gyro_speed = np.linalg.norm(gyro - self.gyro_bias_dps[:, None], axis=0)
        moving = (gyro_speed > MOVING_GYRO_DPS) | (np.abs(norms - 1.0) > MOVING_ACC_G)
        return PelvisAngles(tilt, obliquity, rot, moving)


def pelvis_angles(acc_g, gyro_dps, imu_fs_hz: float, *, tau_s: float = DEFAULT_TAU_S,
                  reference_s: float = DEFAULT_REFERENCE_S) -> PelvisAngles:
    """Angles of a whole recording; equals :class:`PelvisTracker` fed block by block.

    Parameters
    ----------
    acc_g, gyro_dps : array_like, shape (3, n_samples)
        Accelerometer (g) and gyroscope (degrees/s), sensor frame.
    imu_fs_hz : float
        IMU sampling rate, Hz.
    tau_s, reference_s : float
        As in :class:`PelvisTracker`.

    Returns
    -------
    PelvisAngles
    """
    acc = _validate.signal_2d("acc_g", acc_g, 3)
    return PelvisTracker(imu_fs_hz, tau_s=tau_s, reference_s=reference_s).process(acc, gyro_dps)


@dataclass(frozen=True)
class TiltRep:
    """One rep found in the tilt signal (a bridge: posterior tilt and back)."""

    start_s: float
    """Where the tilt leaves the resting band, s."""
    end_s: float
    """Where it returns to it, s."""
    peak_tilt_deg: float
    """Largest tilt excursion in the rep (signed), degrees."""


DEFAULT_THRESHOLD_DEG = 8.0
"""Tilt excursion that makes a rep, degrees (a bridge tilts ~15-25 degrees)."""
DEFAULT_REST_DEG = 3.0
"""Band around the starting posture that counts as rest, degrees."""
DEFAULT_MIN_DURATION_S = 1.0
"""Shortest time beyond the threshold for a rep, s."""


def _check_rep_params(imu_fs_hz, threshold_deg, rest_deg, min_duration_s) -> tuple[float, float, float, float]:
    fs = _validate.positive("imu_fs_hz", imu_fs_hz, " (Hz)")
    threshold_deg = _validate.positive("threshold_deg", threshold_deg, " (degrees)")
    rest_deg = _validate.positive("rest_deg", rest_deg, " (degrees)")
    if rest_deg >= threshold_deg:
        raise ValueError(f"rest_deg {rest_deg:g} must be below threshold_deg ({threshold_deg:g})")
    min_duration_s = _validate.positive("min_duration_s", min_duration_s, " (s)")
    return fs, threshold_deg, rest_deg, min_duration_s


def segment_tilt_reps(tilt_deg, imu_fs_hz: float, *, threshold_deg: float = DEFAULT_THRESHOLD_DEG,
                      rest_deg: float = DEFAULT_REST_DEG,
                      min_duration_s: float = DEFAULT_MIN_DURATION_S) -> tuple[TiltRep, ...]:
    """Reps as excursions of the pelvic tilt (bridges, hip thrusts).

    A rep is a stretch where ``|tilt|`` exceeds ``threshold_deg`` for at least
    ``min_duration_s``, extended on both sides to where ``|tilt|`` is back within
    ``rest_deg`` (the start and end of the movement).

    Parameters
    ----------
    tilt_deg : array_like, shape (n_samples,)
        Tilt from the starting posture, degrees.
    imu_fs_hz : float
        IMU sampling rate, Hz.
    threshold_deg : float
        Excursion that makes a rep, degrees (default 8; a bridge tilts ~15-25 degrees).
    rest_deg : float
        Band around 0 that counts as rest, degrees (must be below ``threshold_deg``).
    min_duration_s : float
        Shortest time above ``threshold_deg``, s.

    Returns
    -------
    tuple of TiltRep
        In time order.
    """
    fs, threshold_deg, rest_deg, min_duration_s = _check_rep_params(imu_fs_hz, threshold_deg, rest_deg,
                                                                    min_duration_s)
    tilt = _validate.signal_2d("tilt_deg", np.atleast_2d(np.asarray(tilt_deg, dtype=float)), 1)[0]
    mag = np.abs(tilt)
    above = np.concatenate([[False], mag > threshold_deg, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    resting = mag <= rest_deg
    reps: list[TiltRep] = []
    last_end = -1
    for a, b in zip(starts, ends):
        if (b - a) / fs < min_duration_s:
            continue
        before = np.flatnonzero(resting[:a])
        after = np.flatnonzero(resting[b:])
        s = int(before[-1]) + 1 if before.size else 0
        e = int(b + after[0]) if after.size else tilt.size - 1
        if s <= last_end:  # two excursions without rest in between: one rep
            prev = reps.pop()
            seg = tilt[int(round(prev.start_s * fs)):e + 1]
            reps.append(TiltRep(prev.start_s, e / fs, float(seg[np.argmax(np.abs(seg))])))
        else:
            seg = tilt[s:e + 1]
            reps.append(TiltRep(s / fs, e / fs, float(seg[np.argmax(np.abs(seg))])))
        last_end = e
    return tuple(reps)


class TiltRepTracker:
    """Bridge reps from the pelvic tilt, live: :func:`segment_tilt_reps` fed block by block.

    A rep is reported by the block in which the tilt comes back within ``rest_deg``
    (its end), with exactly the start, end and peak that :func:`segment_tilt_reps` gives
    for the whole recording. :meth:`finish` reports a rep still under way when the
    recording stops, ended at the last sample, as the offline function does.

    Parameters
    ----------
    imu_fs_hz : float
        IMU sampling rate, Hz.
    threshold_deg, rest_deg, min_duration_s : float
        As in :func:`segment_tilt_reps`.

    Notes
    -----
    State: the index of the last resting sample, the length of the current run beyond
    the threshold, whether a rep is under way, and the largest excursion since the last
    rest (its peak).
    """

    def __init__(self, imu_fs_hz: float, *, threshold_deg: float = DEFAULT_THRESHOLD_DEG,
                 rest_deg: float = DEFAULT_REST_DEG, min_duration_s: float = DEFAULT_MIN_DURATION_S) -> None:
        self.fs_hz, self.threshold_deg, self.rest_deg, self.min_duration_s = _check_rep_params(
            imu_fs_hz, threshold_deg, rest_deg, min_duration_s)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        self.n_seen = 0
        self.reps: list[TiltRep] = []
        """Every rep reported so far."""
        self._last_rest = -1  # index of the last sample within rest_deg
        self._run = 0  # samples in the current run beyond threshold_deg
        self._under_way = False  # a qualifying run happened since the last rest
        self._peak = 0.0  # tilt with the largest |tilt| since the last rest (first one on ties)

    def process(self, tilt_deg) -> list[TiltRep]:
        """Feed a block of tilt, degrees, shape ``(n_samples,)``; return the reps that ended in it."""
        tilt = _validate.signal_2d("tilt_deg", np.atleast_2d(np.asarray(tilt_deg, dtype=float)), 1,
                                   allow_empty=True)[0]
        ended: list[TiltRep] = []
        for i, value in enumerate(tilt.tolist()):
            k = self.n_seen + i
            mag = abs(value)
            if mag <= self.rest_deg:
                if self._under_way:
                    ended.append(TiltRep((self._last_rest + 1) / self.fs_hz, k / self.fs_hz, self._peak))
                    self._under_way = False
                self._last_rest = k
                self._peak = 0.0
                self._run = 0
                continue
            if mag > abs(self._peak):
                self._peak = value
            if mag > self.threshold_deg:
                self._run += 1
                if self._run / self.fs_hz >= self.min_duration_s:  # the offline test, to the bit
                    self._under_way = True
            else:
                self._run = 0
        self.n_seen += tilt.size
        self.reps.extend(ended)
        return ended

    def finish(self) -> list[TiltRep]:
        """End of the recording: the rep under way, if any, ended at the last sample."""
        if not self._under_way:
            return []
        rep = TiltRep((self._last_rest + 1) / self.fs_hz, (self.n_seen - 1) / self.fs_hz, self._peak)
        self._under_way = False
        self.reps.append(rep)
        return [rep]


def pelvis_angles_from_up(up_sensor: np.ndarray, reference_pitch_deg) -> tuple[np.ndarray, np.ndarray]:
    """Tilt and obliquity (degrees) from the world "up" direction in the sensor frame.

    The angle convention of this module (see the module notes). ``up_sensor`` is ``(3, n)``;
    ``reference_pitch_deg`` (scalar or ``(n,)``) is the sagittal pitch of the starting
    posture (0 standing, -90 supine).
    """
    ux, uy, uz = up_sensor
    norm = np.sqrt(ux**2 + uy**2 + uz**2)
    obliquity = np.rad2deg(np.arcsin(np.clip(uy / norm, -1.0, 1.0)))
    pitch = np.rad2deg(np.arctan2(-ux, uz))
    tilt = (pitch - reference_pitch_deg + 180.0) % 360.0 - 180.0
    return tilt, obliquity
