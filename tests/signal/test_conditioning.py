"""Band-pass and notch: known responses at odd sampling rates, streaming == offline, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from glutesignal.conditioning import (
    Conditioner,
    condition,
    default_high_hz,
    design_bandpass,
    design_conditioner,
    design_notch,
)


def _gain_db(sos, f_hz, fs_hz):
    _, h = sps.sosfreqz(sos, worN=np.atleast_1d(np.asarray(f_hz, dtype=float)), fs=fs_hz)
    return 20 * np.log10(np.abs(h) + 1e-300)


@pytest.mark.parametrize("fs_hz", [1000.0, 1500.0, 2000.0])
def test_bandpass_passes_emg_band_and_rejects_motion_and_high_noise(fs_hz):
    high = default_high_hz(fs_hz)
    sos = design_bandpass(fs_hz, 20.0, high)
    # -3 dB at the corners, flat in the middle of the band.
    np.testing.assert_allclose(_gain_db(sos, [20.0, high], fs_hz), -3.01, atol=0.05)
    assert np.all(np.abs(_gain_db(sos, [60.0, 100.0, 200.0], fs_hz)) < 0.5)
    # 4th-order edges: at least 24 dB/octave below 20 Hz, so >= 45 dB at 5 Hz (two octaves).
    assert _gain_db(sos, 5.0, fs_hz)[0] < -45.0
    assert _gain_db(sos, 1.0, fs_hz)[0] < -90.0


@pytest.mark.parametrize("fs_hz", [1000.0, 1500.0, 2000.0])
@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_notch_removes_mains_and_harmonics_but_not_their_neighbourhood(fs_hz, mains_hz):
    sos = design_notch(fs_hz, mains_hz, harmonics=(1, 2, 3), q=30.0)
    assert sos.shape == (3, 6)
    assert np.all(_gain_db(sos, [mains_hz, 2 * mains_hz, 3 * mains_hz], fs_hz) < -60.0)
    # 10 Hz away from any notch the loss is under 0.5 dB.
    assert np.all(np.abs(_gain_db(sos, [mains_hz + 10, 2 * mains_hz - 10, 3 * mains_hz + 10], fs_hz)) < 0.5)


def test_measured_sines_at_1500_hz_through_the_conditioner():
    fs_hz = 1500.0
    t = np.arange(int(10 * fs_hz)) / fs_hz
    def through(f_hz):
        x = np.sin(2 * np.pi * f_hz * t)[None, :]
        y = condition(x, fs_hz)
        steady = slice(int(5 * fs_hz), None)
        return np.sqrt(np.mean(y[0, steady] ** 2) / np.mean(x[0, steady] ** 2))
    assert through(50.0) < 0.01        # mains: > 40 dB down
    assert through(150.0) < 0.01       # third harmonic
    assert 0.95 < through(80.0) < 1.05  # sEMG peak region passes
    assert through(3.0) < 0.005        # baseline wander: > 46 dB down


def test_design_skips_harmonics_above_the_band():
    d = design_conditioner(1000.0, high_hz=450.0, mains_hz=50.0)
    assert d.notch_hz == (50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0)
    assert d.sos.shape == (4 + 8, 6)
    d60 = design_conditioner(1000.0, high_hz=300.0, mains_hz=60.0)
    assert d60.notch_hz == (60.0, 120.0, 180.0, 240.0)
    assert design_conditioner(2000.0, mains_hz=None).notch_hz == ()


@pytest.mark.parametrize("block", [1, 7, 40, 1000])
def test_streaming_equals_offline_bit_for_bit(block):
    rng = np.random.default_rng(1)
    x = 300.0 + 50.0 * rng.standard_normal((3, 4321))  # DC offset as from an ADC
    whole = condition(x, 2000.0)
    cond = Conditioner(2000.0, 3)
    parts = [cond.process(x[:, i:i + block]) for i in range(0, x.shape[1], block)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


def test_dc_offset_does_not_ring_at_start():
    x = np.full((1, 2000), 1500.0)
    y = condition(x, 2000.0)
    assert np.max(np.abs(y)) < 1e-6


def test_reset_starts_over():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 500))
    cond = Conditioner(1000.0, 2)
    first = cond.process(x)
    cond.reset()
    np.testing.assert_array_equal(cond.process(x), first)


def test_empty_block_passes_through_and_keeps_state():
    cond = Conditioner(1000.0, 2)
    assert cond.process(np.zeros((2, 0))).shape == (2, 0)
    assert cond.zi is None


def test_high_cut_above_nyquist_names_parameter_range_and_value():
    with pytest.raises(ValueError, match=r"high_hz 450 Hz must be below Nyquist \(250 Hz\) for fs_hz=500"):
        design_bandpass(500.0)
    assert default_high_hz(500.0) == 225.0
    design_bandpass(500.0, high_hz=default_high_hz(500.0))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([[1.0, np.nan, 2.0]]), r"block_uV must be finite; got nan at channel 0, sample 1"),
        (np.array([[1.0, np.inf]]), r"block_uV must be finite; got inf"),
        (np.zeros(10), r"block_uV must have shape \(n_channels, n_samples\); got shape \(10,\)"),
        (np.zeros((3, 10)), r"block_uV must have 1 channels \(rows\); got shape \(3, 10\)"),
        (np.array([["a"]]), r"block_uV must be a real numeric array"),
    ],
)
def test_bad_blocks_raise_clear_errors(bad, match):
    cond = Conditioner(1000.0, 1)
    with pytest.raises((ValueError, TypeError), match=match):
        cond.process(bad)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match=r"low_hz 300 Hz must be below high_hz \(200 Hz\)"):
        design_bandpass(1000.0, 300.0, 200.0)
    with pytest.raises(ValueError, match=r"fs_hz must be a positive finite number \(Hz\); got -1"):
        Conditioner(-1, 2)
    with pytest.raises(ValueError, match=r"n_channels must be an integer >= 1; got 0"):
        Conditioner(1000.0, 0)
    with pytest.raises(ValueError, match=r"emg_uV must hold at least one sample; got shape \(2, 0\)"):
        condition(np.zeros((2, 0)), 1000.0)
    with pytest.raises(ValueError, match=r"mains_hz 600 Hz must be below Nyquist \(500 Hz\)"):
        design_notch(1000.0, 600.0)
