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


# Static known answers: the angle convention checked against hand-computed gravity
# vectors, not against the simulator (which shares no code with the estimator).
FS = 100.0
S10, C10 = np.sin(np.deg2rad(10.0)), np.cos(np.deg2rad(10.0))


def _static(acc_after, seconds_after=12.0, acc_before=(0.0, 0.0, 1.0), seconds_before=1.0):
    """Tracker fed a still reference posture, then a still tilted one (accelerometer only)."""
    n0, n1 = int(seconds_before * FS), int(seconds_after * FS)
    acc = np.hstack([np.tile(np.reshape(acc_before, (3, 1)), n0), np.tile(np.reshape(acc_after, (3, 1)), n1)])
    return pelvis_angles(acc, np.zeros_like(acc), FS)


def test_anterior_tilt_of_10_degrees_about_the_left_axis_reads_plus_10():
    # Rotating the pelvis +10 deg about sensor y (right-hand rule, y to the left) tips the
    # sensor's z axis forward: anterior tilt. Gravity in the sensor frame is then
    # R_y(10)^T e_z = (-sin 10, 0, cos 10).
    a = _static((-S10, 0.0, C10))
    assert a.tilt_deg[-1] == pytest.approx(10.0, abs=1e-3)
    assert a.obliquity_deg[-1] == pytest.approx(0.0, abs=1e-6)


def test_left_hip_10_degrees_higher_reads_obliquity_plus_10():
    # +10 deg about sensor x (forward) lifts the y (left) axis: left hip higher, a right
    # hip drop. Gravity in the sensor frame: R_x(10)^T e_z = (0, sin 10, cos 10).
    a = _static((0.0, S10, C10))
    assert a.obliquity_deg[-1] == pytest.approx(10.0, abs=1e-3)
    assert a.tilt_deg[-1] == pytest.approx(0.0, abs=1e-6)
    # And the other way: the left hip drops.
    assert _static((0.0, -S10, C10)).obliquity_deg[-1] == pytest.approx(-10.0, abs=1e-3)


def test_turning_10_degrees_left_about_the_vertical_reads_rotation_plus_10():
    # Gravity does not see a turn about z; the gyroscope does: 10 deg/s for 1 s.
    n = int(3 * FS)
    acc = np.tile([[0.0], [0.0], [1.0]], n)
    gyro = np.zeros((3, n))
    gyro[2, int(FS):int(2 * FS)] = 10.0
    a = pelvis_angles(acc, gyro, FS)
    assert a.rotation_deg[-1] == pytest.approx(10.0, abs=0.2)
    assert a.tilt_deg[-1] == pytest.approx(0.0, abs=1e-9) and a.obliquity_deg[-1] == pytest.approx(0.0, abs=1e-9)


def test_lying_supine_the_same_hip_drop_reads_the_same_sign():
    # Supine the sensor's x axis points up: gravity reads (1, 0, 0). The left hip 10 deg
    # higher lifts the y axis again: gravity (cos 10, sin 10, 0) in the sensor frame.
    a = _static((C10, S10, 0.0), acc_before=(1.0, 0.0, 0.0))
    assert a.obliquity_deg[-1] == pytest.approx(10.0, abs=1e-3)
    assert a.tilt_deg[-1] == pytest.approx(0.0, abs=1e-3)


def test_a_gap_mid_bridge_keeps_tilt_and_bias():
    s = simulate("bridges", seed=0)
    t = s.t_imu_s()
    rep = s.reps[2]
    g0 = int(np.searchsorted(t, rep.start_s + 0.6 * (rep.end_s - rep.start_s)))  # mid-hold
    g1 = g0 + int(0.5 * s.imu_fs_hz)

    def run(on_gap):
        tr = PelvisTracker(s.imu_fs_hz)
        before = tr.process(s.acc_g[:, :g0], s.gyro_dps[:, :g0])
        on_gap(tr, g1 - g0)
        after = tr.process(s.acc_g[:, g1:], s.gyro_dps[:, g1:])
        return tr, before, after

    tr, _, after = run(lambda tr, n: tr.gap(n))
    ref = PelvisTracker(s.imu_fs_hz)
    ref.process(s.acc_g[:, :g0], s.gyro_dps[:, :g0])
    np.testing.assert_array_equal(tr.gyro_bias_dps, ref.gyro_bias_dps)  # bias learnt at rest, kept
    # Right after the gap tilt still reads the bridge, within a degree of the truth.
    hold = slice(0, int(0.3 * s.imu_fs_hz))
    assert np.max(np.abs(after.tilt_deg[hold] - s.tilt_deg[g1:][hold])) < 1.0
    assert s.tilt_deg[g1] < -15.0
    # The old handling (reset on a gap) re-zeroed tilt to the bridge posture mid-rep.
    _, _, old = run(lambda tr, n: tr.reset())
    assert np.max(np.abs(old.tilt_deg[hold])) < 2.0


def test_gap_errors():
    with pytest.raises(ValueError, match=r"n_samples must be >= 0, got -1"):
        PelvisTracker(104.0).gap(-1)
