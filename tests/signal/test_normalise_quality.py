"""MVC normalisation and channel quality on known signals and body-model sessions."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import moving_rms
from glutesignal.normalise import mvc_from_trials, percent_mvc
from glutesignal.quality import channel_quality


def test_mvc_peak_of_moving_average_and_repeatability():
    fs = 100.0
    trials = []
    for level in (200.0, 210.0, 190.0):
        env = np.full((2, 500), 5.0)
        env[:, 100:400] = [[level], [level / 2]]
        env[0, 250] = 10 * level  # a spike must not set the MVC
        trials.append(env)
    r = mvc_from_trials(trials, fs, average_s=0.5)
    assert r.mvc[0] == pytest.approx(210.0 + 9 * 210.0 / 50, rel=1e-9)  # spike averaged over 50 samples
    assert r.mvc[1] == pytest.approx(105.0)
    assert r.trial_peaks.shape == (3, 2) and bool(r.repeatable[1])
    assert r.cv_pct[1] == pytest.approx(5.0, rel=1e-9)
    np.testing.assert_allclose(percent_mvc(np.array([[105.0], [52.5]]), [210.0, 105.0]), [[50.0], [50.0]])
    single = mvc_from_trials(trials[:1], fs)
    assert np.isnan(single.cv_pct).all() and not single.repeatable.any()


def test_mvc_errors():
    with pytest.raises(ValueError, match=r"at least one MVC trial"):
        mvc_from_trials([], 100.0)
    with pytest.raises(ValueError, match=r"envelopes\[0\] must be at least average_s=0.5 s long; got 0.1 s"):
        mvc_from_trials([np.ones((1, 10))], 100.0)
    with pytest.raises(ValueError, match=r"mvc must be 2 positive finite values"):
        percent_mvc(np.ones((2, 3)), [1.0, 0.0])


def test_body_model_mvc_recovers_true_mvc_in_percent():
    s = simulate("squeeze_test", seed=0)
    env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
    pct = percent_mvc(env, s.mvc_uV)
    right = s.channel_index("glute_max_right")
    hold = s.activation[right] > 0.55
    assert np.median(pct[right, hold]) == pytest.approx(100 * np.median(s.activation[right, hold]), rel=0.15)


def test_quality_grades():
    s = simulate("bridges", seed=0, duration_s=20.0)
    raw = np.array(s.emg_uV)
    good = channel_quality(raw, condition(raw, s.emg_fs_hz), s.emg_fs_hz)
    assert [q.grade for q in good] == ["good", "good"], good
    assert all(q.snr_db is not None and q.snr_db > 10 for q in good)
    # Lead off on channel 0, heavy mains on channel 1.
    bad = raw.copy()
    bad[0] = 0.01 * np.random.default_rng(0).standard_normal(bad.shape[1])
    t = s.t_emg_s()
    bad[1] += 400.0 * np.sin(2 * np.pi * 50.0 * t)
    q = channel_quality(bad, condition(bad, s.emg_fs_hz), s.emg_fs_hz)
    assert q[0].grade == "poor" and q[0].flat and "electrode off" in q[0].reasons[0]
    assert q[1].grade == "poor" and q[1].mains_ratio > 0.5
    sat = np.zeros(raw.shape, bool)
    sat[1, :1000] = True
    q = channel_quality(raw, condition(raw, s.emg_fs_hz), s.emg_fs_hz, saturated=sat)
    assert q[1].grade == "poor" and q[1].reasons[0].startswith("saturated samples")


def test_quality_errors():
    with pytest.raises(ValueError, match=r"raw_uV must hold at least 1 s \(1000 samples\); got 10"):
        channel_quality(np.ones((1, 10)), np.ones((1, 10)), 1000.0)
