"""Body model: deterministic, realistic in the ways the rest of the chain relies on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from glutesignal.pelvis import pelvis_angles_from_up
from glutesignal.simulation import EXERCISES, burst_trial, simulate


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_has_consistent_shapes(exercise):
    s = simulate(exercise, emg_fs_hz=1000.0, imu_fs_hz=104.0)
    n = s.emg_uV.shape[1]
    assert s.emg_uV.shape == s.activation.shape == (2, n)
    assert n == round(s.duration_s * 1000.0)
    m = s.acc_g.shape[1]
    assert s.gyro_dps.shape == (3, m) and s.tilt_deg.shape == s.obliquity_deg.shape == s.rotation_deg.shape == (m,)
    assert np.all(np.isfinite(s.emg_uV)) and np.all((s.activation >= 0) & (s.activation <= 1))
    assert all(r.end_s <= s.duration_s for r in s.reps)
    with pytest.raises(ValueError, match="read-only"):
        s.emg_uV[0, 0] = 1.0


def test_seeded_and_deterministic():
    a, b = simulate("bridges", seed=7), simulate("bridges", seed=7)
    np.testing.assert_array_equal(a.emg_uV, b.emg_uV)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    assert not np.array_equal(a.emg_uV, simulate("bridges", seed=8).emg_uV)


def test_bridges_script_truth():
    s = simulate("bridges")
    assert len(s.reps) == 10 and all(r.kind == "bridge" and r.side == "both" for r in s.reps)
    # Left is scripted 30 % weaker: SI of amplitudes near (1-0.7)/0.85 = 35 %.
    assert 30.0 < s.true_symmetry_index_pct < 40.0
    # Pelvis: posterior tilt of ~20 degrees in every rep.
    t = s.t_imu_s()
    for r in s.reps:
        m = (t > r.start_s) & (t < r.end_s)
        assert -26.0 < s.tilt_deg[m].min() < -16.0


def test_squeeze_test_cues_and_weaker_side():
    s = simulate("squeeze_test", weaker_side="left")
    asked = [p.side for p in s.phases if p.name == "squeeze"]
    assert asked == ["right", "left", "both"]
    assert [p.name for p in s.phases] == ["relax", "squeeze", "relax", "squeeze", "relax", "squeeze", "relax"]
    by_side = {q.side: q for q in s.squeezes}
    assert by_side["left"].rise_s > by_side["right"].rise_s
    assert by_side["left"].peak_activation < by_side["right"].peak_activation
    assert by_side["left"].overflow_fraction > by_side["right"].overflow_fraction
    s2 = simulate("squeeze_test", weaker_side="right")
    assert {q.side: q for q in s2.squeezes}["right"].peak_activation < 0.6


def test_single_leg_stance_hip_drops_on_the_unsupported_side():
    s = simulate("single_leg_stance")
    t = s.t_imu_s()
    for rep in s.reps:
        m = (t > rep.start_s + 1) & (t < rep.end_s - 1)
        mean_obl = s.obliquity_deg[m].mean()
        # On the left leg the right hip drops: left higher, obliquity > 0.
        assert (mean_obl > 2.0) if rep.side == "left" else (mean_obl < -2.0)


def test_emg_spectrum_and_contaminants():
    s = simulate("bridges", seed=1)
    f, p = sps.welch(s.emg_uV[1], fs=s.emg_fs_hz, nperseg=4096)
    band = (f > 20) & (f < 450)
    smooth = np.convolve(p, np.ones(15) / 15, "same")
    peak_hz = f[band][np.argmax(np.where(np.abs(f[band] % 50) > 3, smooth[band], 0))]
    assert 50.0 < peak_hz < 130.0
    assert near_ratio(s, 50.0, 45.0) > 3
    # At rest, mains and its third harmonic stand far out of the noise floor.
    r = simulate("rest", seed=1)
    assert near_ratio(r, 50.0, 45.0) > 100
    assert near_ratio(r, 150.0, 140.0) > 10
    assert near_ratio(simulate("rest", seed=1, mains_hz=None), 50.0, 45.0) < 3


def near_ratio(s, f_hz, ref_hz):
    f, p = sps.welch(s.emg_uV[0], fs=s.emg_fs_hz, nperseg=4096)
    def near(fr):
        return p[np.argmin(np.abs(f - fr))]
    return near(f_hz) / near(ref_hz)


def test_snr_sets_the_noise_floor():
    hi, lo = simulate("bridges", snr_db=30.0), simulate("bridges", snr_db=10.0)
    assert lo.noise_rms_uV / hi.noise_rms_uV == pytest.approx(10 ** (20 / 20), rel=1e-9)


def test_imu_angles_match_truth_when_still():
    s = simulate("single_leg_stance")
    acc = np.asarray(s.acc_g)
    tilt, obl = pelvis_angles_from_up(acc, 0.0)
    # Slow movements: the accelerometer angles equal the truth within noise.
    assert np.max(np.abs(obl - s.obliquity_deg)) < 1.0
    assert np.max(np.abs(tilt - s.tilt_deg)) < 1.0
    # Gravity is 1 g.
    np.testing.assert_allclose(np.linalg.norm(acc, axis=0), 1.0, atol=0.02)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"exercise must be one of .*got 'yoga'"):
        simulate("yoga")
    with pytest.raises(ValueError, match=r"channel name must be one of .*got 'biceps_left'"):
        simulate("rest", channels=("biceps_left",))
    with pytest.raises(ValueError, match=r"left_scale must be in \(0, 2\]; got 0"):
        simulate("bridges", left_scale=0)
    with pytest.raises(ValueError, match=r"emg_fs_hz must be a positive finite number \(Hz\); got -5"):
        simulate("rest", emg_fs_hz=-5)
    with pytest.raises(ValueError, match=r"weaker_side must be 'left' or 'right'; got 'both'"):
        simulate("squeeze_test", weaker_side="both")


def test_duration_truncates_and_drops_unfinished_reps():
    s = simulate("bridges", duration_s=20.0)
    assert s.duration_s == 20.0 and s.emg_uV.shape[1] == 40000
    assert all(r.end_s <= 20.0 for r in s.reps) and 0 < len(s.reps) < 10


@pytest.mark.parametrize("snr_db", [3.0, 10.0, 20.0])
def test_burst_trial_has_the_asked_snr_and_onset(snr_db):
    trial = burst_trial(4, snr_db, rise_s=0.0)
    x, fs = trial.emg_uV[0], trial.fs_hz
    i_on, i_off = int(np.ceil(trial.onset_s * fs)), int(trial.offset_s * fs)
    background = np.mean(x[: i_on - 1] ** 2)
    burst = np.mean(x[i_on:i_off] ** 2) - background
    assert abs(10 * np.log10(burst / background) - snr_db) < 0.6
    assert abs(np.sqrt(background) - trial.noise_rms_uV) < 0.3
    assert 1.5 <= trial.onset_s <= 2.0 and 0.5 <= trial.offset_s - trial.onset_s <= 0.8
    np.testing.assert_array_equal(burst_trial(4, snr_db).emg_uV, x[None, :])


def test_burst_trial_errors():
    with pytest.raises(ValueError, match=r"rise_s must be >= 0 s; got -0.1"):
        burst_trial(0, 10.0, rise_s=-0.1)
    with pytest.raises(ValueError, match=r"bursts ending within duration_s \(2 s\)"):
        burst_trial(0, 10.0, duration_s=2.0)


def _in(t, a, b):
    return (t >= a) & (t < b)


def test_medius_script_follows_the_set_with_glute_medius_doing_the_work():
    ch = ("glute_max_left", "glute_max_right", "glute_med_left", "glute_med_right")
    s = simulate("medius", channels=ch, emg_fs_hz=1000.0, seed=3, left_scale=0.6)
    steps = [(p.name, p.side, p.end_s - p.start_s) for p in s.phases]
    assert steps == [("relax", "none", 3.0), ("stance", "left", 10.0), ("relax", "none", 3.0),
                     ("stance", "right", 10.0), ("relax", "none", 3.0), ("clamshell", "left", 20.0),
                     ("clamshell", "right", 20.0), ("relax", "none", 3.0), ("band_walk", "left", 15.0),
                     ("band_walk", "right", 15.0), ("relax", "none", 3.0)]
    assert s.duration_s == sum(d for _, _, d in steps)
    t, ti = s.t_emg_s(), s.t_imu_s()
    for p in s.phases:
        if p.name not in ("clamshell", "band_walk"):
            continue
        m = _in(t, p.start_s, p.end_s)
        med, mx = s.activation[ch.index(f"glute_med_{p.side}"), m], s.activation[ch.index(f"glute_max_{p.side}"), m]
        assert med.mean() > 1.3 * mx.mean()  # glute medius dominant
        if p.name == "clamshell":
            # Lying on the other side: the working (upper) hip straight above the lower one.
            mid = _in(ti, p.start_s + 3, p.end_s - 3)
            assert np.all(np.abs(s.obliquity_deg[mid] - (90.0 if p.side == "left" else -90.0)) < 0.5)
            reps = [r for r in s.reps if r.kind == "clamshell" and p.start_s <= r.start_s < p.end_s]
            assert len(reps) == 5 and {r.side for r in reps} == {p.side}
            # Each opening rolls the pelvis back a little about its long axis.
            assert -8.0 < s.tilt_deg[mid].min() < -1.0
    # The band walk: steps on alternate legs, the unsupported side dropping by the truth.
    steps = [r for r in s.reps if r.kind == "band_walk_step"]
    assert len(steps) == 32 and [r.side for r in steps[:4]] == ["right", "left", "right", "left"]
    for r in steps:
        m = _in(ti, r.start_s + 0.25, r.start_s + 0.45)
        signed = s.obliquity_deg[m].mean() * (1 if r.side == "left" else -1)
        assert signed == pytest.approx(r.hip_drop_deg, abs=2.5)
    weak = [r.hip_drop_deg for r in steps if r.side == "left"]
    strong = [r.hip_drop_deg for r in steps if r.side == "right"]
    assert min(weak) > max(strong)  # a weaker left glute medius lets the pelvis drop more
    # Sideways steps: the accelerometer sees the lateral acceleration, the pelvis moves.
    walk = _in(ti, 73.0, 85.0)
    assert np.std(s.acc_g[1, walk]) > 0.03 > np.std(s.acc_g[1, _in(ti, 69.5, 71.5)])


def test_stance_and_single_leg_bridge_reps_carry_their_hip_drop():
    s = simulate("single_leg_stance", left_scale=0.5)
    t = s.t_imu_s()
    for rep in s.reps:
        m = _in(t, rep.start_s + 1, rep.end_s - 1)
        signed = s.obliquity_deg[m].mean() * (1 if rep.side == "left" else -1)
        assert signed == pytest.approx(rep.hip_drop_deg, abs=1.5)
    assert {r.side: r.hip_drop_deg for r in s.reps} == {"left": 7.0, "right": 3.0}
    slb = simulate("single_leg_bridges", left_scale=0.5)
    assert {r.hip_drop_deg for r in slb.reps if r.side == "left"} == {10.0}
    assert all(r.hip_drop_deg is None for r in simulate("bridges").reps)


def test_desk_script_sits_as_long_as_asked_with_the_pelvis_tilted_back():
    s = simulate("desk", sitting_s=(40.0, 25.0), seed=2, emg_fs_hz=1000.0)
    assert [round(p.duration_s, 6) for p in s.sitting] == [40.0, 25.0]
    assert [p.name for p in s.phases] == ["relax", "sit", "wake_up", "sit", "wake_up", "relax"]
    t = s.t_imu_s()
    seated = np.zeros(t.size, bool)
    for p in s.sitting:
        seated |= _in(t, p.start_s, p.end_s)
    assert np.all((s.tilt_deg[seated] < -15.0) & (s.tilt_deg[seated] > -40.0))
    standing = np.ones(t.size, bool)
    for p in s.phases:
        if p.name == "sit":
            standing &= ~_in(t, p.start_s, p.end_s + 2.0)
    assert np.all(np.abs(s.tilt_deg[standing]) < 1.0)
    # What the IMU sees seated is that tilt.
    tilt, _ = pelvis_angles_from_up(np.asarray(s.acc_g), 0.0)
    assert np.max(np.abs(tilt[seated] - s.tilt_deg[seated])) < 1.0
    # Each wake-up is a 30-s squeeze of both glutes after standing up.
    squeezes = [r for r in s.reps if r.kind == "squeeze"]
    assert len(squeezes) == 2 and all(r.side == "both" and r.end_s - r.start_s == 30.0 for r in squeezes)
    te = s.t_emg_s()
    for r in squeezes:
        assert s.activation[:, _in(te, r.start_s + 1, r.end_s - 1)].min() > 0.2
    with pytest.raises(ValueError, match=r"sitting_s must be one or more positive finite durations \(s\); got \(\)"):
        simulate("desk", sitting_s=())
    with pytest.raises(ValueError, match="sitting_s must be one or more positive"):
        simulate("desk", sitting_s=(10.0, -1.0))


def test_blocks_have_the_truth_of_simulate_and_the_same_signals_in_distribution():
    from glutesignal.simulation import BLOCK_S, simulate_blocks

    kw = dict(sitting_s=(70.0,), seed=5, emg_fs_hz=1000.0)
    whole, stream = simulate("desk", **kw), simulate_blocks("desk", **kw)
    assert stream.sitting == whole.sitting and stream.reps == whole.reps and stream.phases == whole.phases
    assert (stream.n_emg, stream.n_imu) == (whole.emg_uV.shape[1], whole.acc_g.shape[1])
    blocks = list(stream.blocks())
    assert len(blocks) == int(np.ceil(whole.duration_s / BLOCK_S))
    emg = np.hstack([b.emg_uV for b in blocks])
    acc = np.hstack([b.acc_g for b in blocks])
    assert [b.emg_start for b in blocks] == [round(k * BLOCK_S * 1000) for k in range(len(blocks))]
    assert emg.shape == whole.emg_uV.shape and acc.shape == whole.acc_g.shape
    # The truth sample by sample is the same; the noise is drawn afresh but alike.
    np.testing.assert_allclose(np.hstack([b.activation for b in blocks]), whole.activation, atol=1e-12)
    np.testing.assert_allclose(np.hstack([b.tilt_deg for b in blocks]), whole.tilt_deg, atol=1e-9)
    assert stream.noise_rms_uV == pytest.approx(whole.noise_rms_uV, rel=0.05)
    np.testing.assert_allclose(emg.std(axis=1), whole.emg_uV.std(axis=1), rtol=0.1)
    np.testing.assert_allclose(acc, whole.acc_g, atol=0.02)
    # No step at the block edges: the sample-to-sample change there is as elsewhere.
    edge = int(BLOCK_S * 1000)
    assert np.abs(np.diff(emg[:, edge - 2:edge + 2])).max() < 6 * np.abs(np.diff(emg)).std()
    again = np.hstack([b.emg_uV for b in simulate_blocks("desk", **kw).blocks()])
    np.testing.assert_array_equal(again, emg)


def test_an_hour_of_sitting_in_blocks_holds_one_block_in_memory():
    import tracemalloc

    from glutesignal.simulation import simulate_blocks

    stream = simulate_blocks("desk", sitting_s=(3600.0,), seed=1)
    tracemalloc.start()
    try:
        n = sum(b.emg_uV.shape[1] for b in stream.blocks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == stream.n_emg == round(stream.duration_s * 2000)
    # The whole hour would be 2 x 7.3 M samples x 8 B = 117 MB for the EMG alone.
    assert peak < 60e6
