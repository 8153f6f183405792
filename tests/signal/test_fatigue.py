"""Fatigue trends against signals whose median frequency and amplitude are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from glutesignal.fatigue import fatigue_trend, median_frequency_hz

FS_HZ = 2000.0


@pytest.mark.parametrize("f_hz", [60.0, 97.0, 143.5])
def test_a_sine_has_its_own_frequency_as_median(f_hz):
    t = np.arange(int(FS_HZ)) / FS_HZ
    assert median_frequency_hz(np.sin(2 * np.pi * f_hz * t), FS_HZ) == pytest.approx(f_hz, abs=0.1)


def test_flat_band_noise_has_the_band_centre_as_median():
    # White noise band-limited to 20-450 Hz: half the power lies below 235 Hz.
    x = np.random.default_rng(0).standard_normal(int(60 * FS_HZ))
    mdf = [median_frequency_hz(x[k:k + 1000], FS_HZ) for k in range(0, x.size - 1000, 1000)]
    assert np.median(mdf) == pytest.approx(235.0, abs=4.0)


def test_a_falling_chirp_gives_its_rate_as_mdf_slope():
    # Instantaneous frequency 150 -> 90 Hz over 60 s: -1 Hz/s, -40 % of 150 Hz per minute.
    t = np.arange(int(60 * FS_HZ)) / FS_HZ
    x = 50.0 * sps.chirp(t, f0=150.0, t1=60.0, f1=90.0, method="linear")
    tr = fatigue_trend(x, FS_HZ)
    assert tr.n_windows == 120
    assert tr.mdf_slope_hz_per_s == pytest.approx(-1.0, abs=0.01)
    assert tr.mdf_initial_hz == pytest.approx(150.0, abs=1.0)
    assert tr.mdf_slope_pct_per_min == pytest.approx(-40.0, abs=0.5)
    assert tr.rms_slope_uV_per_s == pytest.approx(0.0, abs=0.01)  # constant amplitude


def _compressing_emg(seed: int) -> np.ndarray:
    """sEMG-like noise whose spectrum is compressed by 20 % over 60 s (every frequency
    scaled by 1 -> 0.8) while its amplitude grows linearly from 100 to 150 µV RMS."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(60):
        scale = 1.0 - 0.2 * (k + 0.5) / 60
        sos = sps.butter(4, [60.0 * scale, 300.0 * scale], btype="bandpass", output="sos", fs=FS_HZ)
        w = sps.sosfilt(sos, rng.standard_normal(int(3 * FS_HZ)))[-int(FS_HZ):]
        parts.append(w / w.std() * (100.0 + 50.0 * (k + 0.5) / 60))
    return np.concatenate(parts)


def test_spectral_compression_and_rising_amplitude_give_their_rates():
    # Expected: MDF -20 % of its start per minute, RMS +50 % per minute (0.83 µV/s).
    # Over the whole band the MDF scales exactly with the filter (a 20-450 Hz band would
    # cut the lower skirt). A 1 s window's MDF scatters by several Hz, so the slope of one
    # minute scatters by ~2 %/min: check each of five seeds loosely and their mean tightly.
    trends = [fatigue_trend(_compressing_emg(seed), FS_HZ, window_s=1.0, band_hz=(0.0, FS_HZ / 2))
              for seed in range(5)]
    slopes = [t.mdf_slope_pct_per_min for t in trends]
    assert all(-25.0 < v < -15.0 for v in slopes), slopes
    assert np.mean(slopes) == pytest.approx(-20.0, abs=1.5)
    for t in trends:
        assert t.rms_slope_pct_per_min == pytest.approx(50.0, abs=2.0)
        assert t.rms_slope_uV_per_s == pytest.approx(50.0 / 60.0, rel=0.05)


def test_only_windows_inside_the_set_s_contractions_count():
    t = np.arange(int(20 * FS_HZ)) / FS_HZ
    x = np.where((t % 5) < 3, np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 300 * t))  # rest at 300 Hz
    tr = fatigue_trend(x, FS_HZ, [(0.0, 3.0), (5.0, 8.0), (10.0, 13.0), (15.0, 18.0)])
    assert tr.n_windows == 24
    np.testing.assert_allclose(tr.mdf_hz, 100.0, atol=1.0)
    assert tr.mdf_slope_hz_per_s == pytest.approx(0.0, abs=0.01)


def test_too_few_windows_give_no_slope_and_gaps_are_skipped():
    x = np.random.default_rng(2).standard_normal(int(5 * FS_HZ))
    x[int(1.2 * FS_HZ):int(1.3 * FS_HZ)] = np.nan
    tr = fatigue_trend(x, FS_HZ, [(0.0, 1.9)])
    assert tr.n_windows == 2 and tr.mdf_slope_hz_per_s is None and tr.rms_slope_pct_per_min is None


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"emg_uV must be one muscle"):
        fatigue_trend(np.zeros((2, 100)), FS_HZ)
    with pytest.raises(ValueError, match=r"each interval must be \(start_s, end_s\)"):
        fatigue_trend(np.zeros(4000), FS_HZ, [(2.0, 1.0)])
    with pytest.raises(ValueError, match=r"band_hz must be"):
        median_frequency_hz(np.zeros(100), FS_HZ, band_hz=(300.0, 100.0))
