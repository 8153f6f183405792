"""Mains detection: which lines (50 or 60 Hz and harmonics) the raw EMG carries."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from glutesignal.quality import LINE_PRESENT_RATIO, detect_mains

FS_HZ = 1500.0  # an odd rate: lines and bins do not line up with 1000 or 2000 Hz habits


def _emg(seed: int, n_s: float = 4.0, rms_uV: float = 20.0) -> np.ndarray:
    """Two channels of band-limited Gaussian noise with an sEMG-like 20-450 Hz spectrum."""
    rng = np.random.default_rng(seed)
    sos = sps.butter(2, [20.0, 450.0], btype="bandpass", output="sos", fs=FS_HZ)
    x = sps.sosfilt(sos, rng.standard_normal((2, int(n_s * FS_HZ))), axis=-1)
    return rms_uV * x / x.std(axis=1, keepdims=True)


def _hum(f0: float, amplitudes_uV: dict, n: int) -> np.ndarray:
    t = np.arange(n) / FS_HZ
    return sum(a * np.sin(2 * np.pi * k * f0 * t + k) for k, a in amplitudes_uV.items())


@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_the_mains_frequency_and_its_present_harmonics_are_found(f0):
    x = _emg(1)
    x[0] += _hum(f0, {1: 30.0, 3: 10.0}, x.shape[1])  # fundamental and 3rd harmonic, one channel
    found = detect_mains(x, FS_HZ)
    assert found.mains_hz == f0
    assert found.harmonics == (1, 3)
    assert found.notch_hz == (f0, 3 * f0)


@pytest.mark.parametrize("seed", range(20))
def test_emg_without_hum_has_no_mains_line(seed):
    assert detect_mains(_emg(seed, 2.0), FS_HZ).mains_hz is None


def test_a_lone_peak_at_a_harmonic_is_not_hum():
    x = _emg(3)
    x[1] += _hum(50.0, {3: 20.0}, x.shape[1])  # 150 Hz with no 50 Hz: not mains
    assert detect_mains(x, FS_HZ).mains_hz is None


def test_a_known_frequency_searches_only_its_lines():
    x = _emg(4)
    x += _hum(60.0, {1: 30.0}, x.shape[1])
    assert detect_mains(x, FS_HZ, mains_hz=50.0).mains_hz is None
    assert detect_mains(x, FS_HZ, mains_hz=60.0).harmonics == (1,)


def test_a_contraction_starting_in_the_stretch_does_not_fake_a_line():
    # One loud second among quiet ones: its chance spectral peaks must not pass for hum.
    for seed in range(10):
        x = _emg(seed, 4.0, rms_uV=5.0)
        x[:, int(2.5 * FS_HZ):] *= 30.0
        assert detect_mains(x, FS_HZ).mains_hz is None, seed


def test_weak_hum_below_the_threshold_is_left_alone():
    x = _emg(5)
    # A line carrying ~1/1000 of the channel's power: well under LINE_PRESENT_RATIO x its floor.
    x += _hum(50.0, {1: 20.0 * np.sqrt(2e-3)}, x.shape[1])
    found = detect_mains(x, FS_HZ)
    assert found.mains_hz is None and found.line_ratio[50.0] < LINE_PRESENT_RATIO


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match=r"raw_uV must hold at least 2 s \(3000 samples\); got 100"):
        detect_mains(np.zeros((1, 100)), FS_HZ)
    with pytest.raises(ValueError, match=r"mains_hz must be a positive finite number"):
        detect_mains(_emg(0), FS_HZ, mains_hz=-50.0)
