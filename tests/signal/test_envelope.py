"""Envelopes: known answers, streaming == offline, correlation with the true activation."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import LinearEnvelope, MovingRMS, linear_envelope, moving_rms


def test_moving_rms_of_a_sine_is_amplitude_over_root_two():
    fs_hz = 1500.0
    t = np.arange(3000) / fs_hz
    x = np.vstack([100.0 * np.sin(2 * np.pi * 75.0 * t), np.full_like(t, -3.0)])
    y = moving_rms(x, fs_hz, window_s=0.2)  # 15 whole periods in the window
    np.testing.assert_allclose(y[0, 400:], 100.0 / np.sqrt(2), rtol=1e-9)
    np.testing.assert_allclose(y[1, 400:], 3.0, rtol=1e-12)
    # Before the window fills, missing samples count as zeros.
    np.testing.assert_allclose(y[1, 149], 3.0 * np.sqrt(150 / 300), rtol=1e-12)


def test_moving_rms_reports_its_delay():
    env = MovingRMS(2000.0, 2, window_s=0.1)
    assert env.n_window == 200
    assert env.design.group_delay_s == pytest.approx(199 / 2 / 2000.0)


def test_linear_envelope_of_gaussian_noise_is_its_mean_absolute_value():
    rng = np.random.default_rng(3)
    x = 50.0 * rng.standard_normal((1, 40000))
    y = linear_envelope(x, 2000.0, cutoff_hz=6.0)
    assert np.mean(y[0, 4000:]) == pytest.approx(50.0 * np.sqrt(2 / np.pi), rel=0.03)
    d = LinearEnvelope(2000.0, 1, cutoff_hz=6.0).design
    # 2nd-order Butterworth: group delay at DC = sqrt(2) / (2 pi fc).
    assert d.group_delay_s == pytest.approx(np.sqrt(2) / (2 * np.pi * 6.0), rel=0.01)


@pytest.mark.parametrize("block", [1, 7, 40, 1000])
def test_streaming_equals_offline(block):
    rng = np.random.default_rng(4)
    x = 80.0 * rng.standard_normal((2, 5003)) * np.linspace(0, 2, 5003)
    for make, whole in (
        (lambda: MovingRMS(2000.0, 2, 0.05), moving_rms(x, 2000.0, 0.05)),
        (lambda: LinearEnvelope(2000.0, 2), linear_envelope(x, 2000.0)),
    ):
        env = make()
        parts = np.concatenate([env.process(x[:, i:i + block]) for i in range(0, x.shape[1], block)], axis=1)
        np.testing.assert_array_equal(parts, whole)


def test_moving_rms_stays_exact_over_a_long_stream_after_a_loud_burst():
    # The running sum must not drift: after a 5 mV burst, rest noise of 2 µV is still right.
    rng = np.random.default_rng(5)
    loud = 5000.0 * rng.standard_normal((1, 20000))
    quiet = 2.0 * rng.standard_normal((1, 200000))
    env = MovingRMS(2000.0, 1, 0.1)
    env.process(loud)
    y = np.concatenate([env.process(quiet[:, i:i + 37]) for i in range(0, quiet.shape[1], 37)], axis=1)
    direct = np.sqrt(np.convolve(quiet[0] ** 2, np.ones(200), "valid") / 200)
    np.testing.assert_allclose(y[0, 199:], direct, rtol=1e-6)


@pytest.mark.parametrize("exercise", ["bridges", "squeeze_test"])
def test_envelope_tracks_true_activation_on_body_model(exercise):
    s = simulate(exercise, seed=11)
    y = condition(s.emg_uV, s.emg_fs_hz)
    for env in (moving_rms(y, s.emg_fs_hz), linear_envelope(y, s.emg_fs_hz)):
        for ch in range(len(s.channels)):
            r = np.corrcoef(env[ch], s.activation[ch])[0, 1]
            assert r > 0.9, (exercise, ch, r)
    # The RMS envelope is in µV and near the true amplitude during the plateau.
    rms = moving_rms(y, s.emg_fs_hz)
    right = s.channel_index("glute_max_right")
    peak = s.activation[right] > 0.9 * s.activation[right].max()
    ratio = np.median(rms[right, peak]) / np.median(s.activation[right, peak] * s.mvc_uV[right])
    assert 0.9 < ratio < 1.15


def test_envelope_errors():
    with pytest.raises(ValueError, match=r"window_s must be a positive finite number \(s\); got 0"):
        MovingRMS(1000.0, 1, 0)
    with pytest.raises(ValueError, match=r"window_s 0.0001 s is shorter than one sample at fs_hz=1000"):
        MovingRMS(1000.0, 1, 0.0001)
    with pytest.raises(ValueError, match=r"cutoff_hz 600 Hz must be below Nyquist \(500 Hz\)"):
        LinearEnvelope(1000.0, 1, 600.0)
    with pytest.raises(ValueError, match=r"block_uV must have 2 channels"):
        MovingRMS(1000.0, 2).process(np.zeros((1, 5)))
