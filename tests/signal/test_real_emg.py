"""The chain on a real treadmill-walking recording (Santuz et al. 2020, 1 kHz)."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from glutesignal.conditioning import Conditioner, condition
from glutesignal.envelope import moving_rms
from glutesignal.onsets import detect_bursts, estimate_noise_power

MUSCLES = ("ME", "MA", "FL", "RF", "VM", "VL", "ST", "BF", "TA", "PL", "GM", "GL", "SO")


def _line_power(x, fs_hz, f0):
    f, p = sps.welch(x, fs=fs_hz, nperseg=4096)
    line = (f > f0 - 0.5) & (f < f0 + 0.5)
    ref = ((f > f0 - 10) & (f < f0 - 3)) | ((f > f0 + 3) & (f < f0 + 10))
    floor = np.median(p[:, ref], axis=1)
    return (p[:, line] - floor[:, None]).clip(0).sum(axis=1)


def test_mains_power_reduced_by_at_least_90_percent(real_walking_emg):
    cols = real_walking_emg["columns"]
    x = np.vstack([cols[m] for m in MUSCLES])
    y = condition(x, real_walking_emg["fs_hz"])
    before = _line_power(x, 1000.0, 50.0).sum()
    after = _line_power(y, 1000.0, 50.0).sum()
    assert before > 100.0  # the recording does carry mains
    assert after <= 0.1 * before


def test_streaming_in_host_sized_blocks_equals_offline(real_walking_emg):
    cols = real_walking_emg["columns"]
    x = np.vstack([cols["ME"], cols["MA"]])
    cond = Conditioner(1000.0, 2)
    streamed = np.concatenate([cond.process(x[:, i:i + 25]) for i in range(0, x.shape[1], 25)], axis=1)
    np.testing.assert_array_equal(streamed, condition(x, 1000.0))


def test_gluteal_onsets_fall_in_late_swing_or_stance(real_walking_emg):
    cols = real_walking_emg["columns"]
    t0 = cols["time"][0]
    x = np.vstack([cols["ME"], cols["MA"]])
    y = condition(x, 1000.0)
    noise = estimate_noise_power(y, 1000.0)
    bursts = detect_bursts(y, 1000.0, noise_power=noise)
    td, lo = real_walking_emg["touchdown_s"], real_walking_emg["liftoff_s"]
    for ch in (0, 1):
        onsets = np.array([b.on_s + t0 for b in bursts if b.channel == ch])
        inside = onsets[(onsets > td[0] - 0.3) & (onsets < lo[-1])]
        # Gluteus medius and maximus switch on in terminal swing (up to ~0.25 s, a quarter of the cycle, before
        # touchdown) and work through early stance: never in mid swing.
        for on in inside:
            k = np.argmin(np.abs(td - on))
            assert td[k] - 0.25 <= on <= lo[k], (MUSCLES[ch], on, td[k], lo[k])
        # And every gait cycle gets its onset.
        for cycle_td in td:
            assert np.any(np.abs(inside - cycle_td) < 0.25), (MUSCLES[ch], cycle_td)


def test_envelope_peaks_in_early_stance(real_walking_emg):
    cols = real_walking_emg["columns"]
    t = cols["time"]
    env = moving_rms(condition(np.vstack([cols["MA"]]), 1000.0), 1000.0, 0.05)[0]
    td, lo = real_walking_emg["touchdown_s"], real_walking_emg["liftoff_s"]
    for k in range(len(td) - 1):
        cycle = (t >= td[k]) & (t < td[k + 1])
        t_peak = t[cycle][np.argmax(env[cycle])]
        assert t_peak < td[k] + 0.6 * (lo[k] - td[k])
