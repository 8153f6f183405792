"""Pelvis angles from the IMU against the body model's truth; bridge reps from tilt."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.simulation import simulate
from glutesignal.pelvis import PelvisTracker, TiltRep, TiltRepTracker, pelvis_angles, segment_tilt_reps


@pytest.mark.parametrize("exercise", ["bridges", "single_leg_bridges", "single_leg_stance", "squeeze_test"])
def test_angles_track_truth(exercise):
    s = simulate(exercise, seed=2)
    a = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    assert np.max(np.abs(a.tilt_deg - s.tilt_deg)) < 1.0
    assert np.max(np.abs(a.obliquity_deg - s.obliquity_deg)) < 1.0
    # Heading comes from the gyroscope alone: allow slow drift over the session.
    assert np.max(np.abs(a.rotation_deg - s.rotation_deg)) < 3.0


@pytest.mark.parametrize("block", [1, 7, 40])
def test_streaming_equals_offline(block):
    s = simulate("single_leg_bridges", seed=1, duration_s=15.0)
    whole = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    tr = PelvisTracker(s.imu_fs_hz)
    parts = [tr.process(s.acc_g[:, i:i + block], s.gyro_dps[:, i:i + block]) for i in range(0, s.acc_g.shape[1], block)]
    np.testing.assert_array_equal(np.concatenate([p.tilt_deg for p in parts]), whole.tilt_deg)
    np.testing.assert_array_equal(np.concatenate([p.rotation_deg for p in parts]), whole.rotation_deg)


def test_single_leg_bridge_hip_drop_sign():
    s = simulate("single_leg_bridges")
    a = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    t = s.t_imu_s()
    for rep in s.reps:
        m = (t > rep.start_s) & (t < rep.end_s)
        extreme = a.obliquity_deg[m][np.argmax(np.abs(a.obliquity_deg[m]))]
        # Left foot down: the unsupported right hip drops, left higher (+); the weaker
        # left glute lets the hip drop more than the right does.
        assert extreme > 6.0 if rep.side == "left" else -6.0 < extreme < -3.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bridge_reps_from_tilt(seed):
    s = simulate("bridges", seed=seed)
    a = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    reps = segment_tilt_reps(a.tilt_deg, s.imu_fs_hz)
    assert len(reps) == len(s.reps) == 10
    for found, truth in zip(reps, s.reps):
        assert abs(found.start_s - truth.start_s) < 0.4
        assert abs(found.end_s - truth.end_s) < 0.4
        assert found.peak_tilt_deg < -15.0
    assert a.moving[np.searchsorted(s.t_imu_s(), s.reps[0].start_s + 0.5)]
    assert not a.moving[: int(s.imu_fs_hz)].any()


def test_errors():
    tr = PelvisTracker(104.0)
    with pytest.raises(ValueError, match=r"acc_g must have 3 channels"):
        tr.process(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"acc_g must measure gravity .* got 0 g at sample 0"):
        tr.process(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"rest_deg 9 must be below threshold_deg \(8\)"):
        segment_tilt_reps(np.zeros(100), 104.0, rest_deg=9.0)


@pytest.mark.parametrize("block", [1, 7, 40, 1000])
@pytest.mark.parametrize("exercise", ["bridges", "single_leg_bridges"])
def test_live_reps_equal_offline_reps(exercise, block):
    # The live path: IMU blocks -> PelvisTracker -> TiltRepTracker, against the offline functions.
    s = simulate(exercise, seed=2)
    offline = segment_tilt_reps(pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz).tilt_deg, s.imu_fs_hz)
    pelvis, reps = PelvisTracker(s.imu_fs_hz), TiltRepTracker(s.imu_fs_hz)
    live = []
    for i in range(0, s.acc_g.shape[1], block):
        angles = pelvis.process(s.acc_g[:, i:i + block], s.gyro_dps[:, i:i + block])
        for rep in reps.process(angles.tilt_deg):
            # Reported by the block that holds its end, not later.
            assert i / s.imu_fs_hz <= rep.end_s < (i + block) / s.imu_fs_hz
            live.append(rep)
    live += reps.finish()
    assert tuple(live) == offline
    assert tuple(reps.reps) == offline
    assert len(offline) == len(s.reps)


def _tilt(segments, fs=10.0):
    """Piecewise-constant tilt from (value_deg, duration_s) pairs."""
    return np.concatenate([np.full(int(round(d * fs)), float(v)) for v, d in segments])


@pytest.mark.parametrize("block", [1, 3, 1000])
def test_tilt_rep_known_answers(block):
    fs = 10.0
    tilt = _tilt([(0, 1), (-5, 0.5), (-20, 1.5), (-6, 0.3), (-15, 1.2), (0, 1),  # two excursions, no rest: one rep
                  (-12, 0.5), (0, 1),  # 0.5 s beyond 8 degrees: too short
                  (10, 2.0)])  # anterior, still under way at the end
    tracker = TiltRepTracker(fs)
    found = []
    for i in range(0, tilt.size, block):
        found += tracker.process(tilt[i:i + block])
    assert found == [TiltRep(1.0, 4.5, -20.0)]
    assert tracker.finish() == [TiltRep(7.0, 8.9, 10.0)]
    assert tracker.finish() == []
    assert tuple(tracker.reps) == segment_tilt_reps(tilt, fs)


def test_tilt_rep_tracker_errors():
    with pytest.raises(ValueError, match=r"rest_deg 9 must be below threshold_deg \(8\)"):
        TiltRepTracker(104.0, rest_deg=9.0)
    with pytest.raises(ValueError, match=r"min_duration_s must be a positive finite number \(s\); got 0"):
        TiltRepTracker(104.0, min_duration_s=0)
    with pytest.raises(ValueError, match=r"tilt_deg must be finite"):
        TiltRepTracker(104.0).process(np.array([0.0, np.nan]))
    assert TiltRepTracker(104.0).process(np.zeros(0)) == []
