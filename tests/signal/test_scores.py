"""Squeeze quality and bridge results on body-model sessions with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import moving_rms
from glutesignal.pelvis import pelvis_angles, segment_tilt_reps
from glutesignal.scores import bridge_reps, squeeze_quality, squeeze_window_s


def _squeeze_scores(seed, weaker_side):
    s = simulate("squeeze_test", seed=seed, weaker_side=weaker_side)
    env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
    ang = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    out = {}
    for p in s.phases:
        if p.name == "squeeze" and p.side != "both":
            out[p.side] = squeeze_quality(
                env, s.emg_fs_hz, side=p.side, cue_s=p.start_s, relax_cue_s=p.end_s, mvc=s.mvc_uV,
                tilt_deg=ang.tilt_deg, obliquity_deg=ang.obliquity_deg, rotation_deg=ang.rotation_deg,
                imu_fs_hz=s.imu_fs_hz)
    return s, out


@pytest.mark.parametrize(("seed", "weaker_side"), [(0, "left"), (1, "left"), (2, "right")])
def test_weaker_side_scores_lower(seed, weaker_side):
    s, sc = _squeeze_scores(seed, weaker_side)
    stronger = "right" if weaker_side == "left" else "left"
    weak, strong = sc[weaker_side], sc[stronger]
    assert weak.total < strong.total - 10
    assert weak.relaxation < strong.relaxation and weak.isolation < strong.isolation
    assert weak.t90_s > strong.t90_s
    # Measures near the script: overflow ~25 % vs ~8 %, compensation ~2.5 deg vs ~0.5 deg.
    assert 0.12 < weak.overflow < 0.35 and strong.overflow < 0.12
    assert weak.motion_deg > 1.5 and strong.motion_deg < 1.0
    for score in sc.values():
        for part in (score.total, score.strength, score.speed, score.steadiness, score.relaxation, score.isolation):
            assert 0.0 <= part <= 100.0


def test_squeeze_errors():
    env = np.ones((2, 2000))
    with pytest.raises(ValueError, match=r"side must be 'left' or 'right'; got 'both'"):
        squeeze_quality(env, 100.0, side="both", cue_s=5.0, relax_cue_s=10.0)
    with pytest.raises(ValueError, match=r"relax_cue_s 30 s is beyond the envelope \(20 s\)"):
        squeeze_quality(env, 100.0, side="left", cue_s=5.0, relax_cue_s=30.0)
    with pytest.raises(ValueError, match=r"must be given together"):
        squeeze_quality(env, 100.0, side="left", cue_s=5.0, relax_cue_s=10.0, tilt_deg=np.zeros(10))


def test_bridge_reps_match_truth():
    s = simulate("bridges", seed=5)
    env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
    ang = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    reps = segment_tilt_reps(ang.tilt_deg, s.imu_fs_hz)
    res = bridge_reps(env, s.emg_fs_hz, reps, obliquity_deg=ang.obliquity_deg, imu_fs_hz=s.imu_fs_hz)
    assert len(res) == 10
    for r in res:
        assert r.louder_side == "right" and 20.0 < r.si_pct < 50.0
        assert r.peak_right > r.peak_left
        # Scripted: 1 s lift, 2 s hold, 1 s lower -> roughly 3 s above half the peak.
        assert 2.3 < r.time_under_tension_s < 3.7
        assert 0.5 < r.hip_drop_deg < 2.5  # the weaker left side sags ~1.2 deg
    with pytest.raises(ValueError, match=r"rep 0 \(0-100 s\) is outside the envelope"):
        bridge_reps(env, s.emg_fs_hz, [reps[0].__class__(0.0, 100.0, -20.0)])


def test_scoring_from_stream_windows_equals_the_whole_recording():
    # The host keeps only the stretch squeeze_window_s names, and the IMU ring starts
    # elsewhere: the score must not change.
    s, whole = _squeeze_scores(0, "left")
    env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
    ang = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
    for p in s.phases:
        if p.name != "squeeze" or p.side == "both":
            continue
        start_s, end_s = squeeze_window_s(p.start_s, p.end_s)
        assert (start_s, end_s) == (p.start_s - 2.0, p.end_s + 3.0)
        a, b = int(round(start_s * s.emg_fs_hz)), int(round(end_s * s.emg_fs_hz))
        i0 = int(round((start_s - 1.0) * s.imu_fs_hz))  # IMU window opens a second earlier
        live = squeeze_quality(
            env[:, a:b + 1], s.emg_fs_hz, side=p.side, cue_s=p.start_s - a / s.emg_fs_hz,
            relax_cue_s=p.end_s - a / s.emg_fs_hz, mvc=s.mvc_uV, tilt_deg=ang.tilt_deg[i0:],
            obliquity_deg=ang.obliquity_deg[i0:], rotation_deg=ang.rotation_deg[i0:], imu_fs_hz=s.imu_fs_hz,
            imu_start_s=i0 / s.imu_fs_hz - a / s.emg_fs_hz)
        assert live == whole[p.side]


def test_squeeze_window_errors():
    with pytest.raises(ValueError, match=r"cue_s must leave baseline_s \(2 s\) of stream before it"):
        squeeze_window_s(1.0, 5.0)
    env = np.ones((2, 2000))
    with pytest.raises(ValueError, match=r"imu_start_s must be finite and not after cue_s \(3 s\); got 4"):
        squeeze_quality(env, 200.0, side="left", cue_s=3.0, relax_cue_s=5.0, tilt_deg=np.zeros(500),
                        obliquity_deg=np.zeros(500), rotation_deg=np.zeros(500), imu_fs_hz=100.0, imu_start_s=4.0)
