"""The chain on a real treadmill-walking recording (Santuz et al. 2020, 1 kHz)."""

from __future__ import annotations

import numpy as np
import pytest
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


def _app_onsets_vs_touchdown(real_walking_emg, muscle):
    """Onsets of the app's contraction detector (default parameters, the live chain's
    conditioning and 100 ms RMS) minus the nearest touchdown, s, one per gait cycle
    (NaN where the cycle has no onset from 250 ms before to 100 ms after touchdown)."""
    from glutesignal.onsets import ContractionDetector

    cols = real_walking_emg["columns"]
    t0 = cols["time"][0]
    y = condition(cols[muscle][None, :], 1000.0)
    env = moving_rms(y, 1000.0, 0.1)
    onsets = np.array([a.start_s + t0 for a in ContractionDetector(1000.0).process(env)])
    rel = []
    for td in real_walking_emg["touchdown_s"]:
        near = onsets[(onsets >= td - 0.25) & (onsets <= td + 0.1)] - td
        rel.append(near[0] if near.size else np.nan)
    return np.array(rel), onsets


@pytest.mark.parametrize("muscle", ["MA", "ME"])
def test_app_detector_finds_the_gluteal_onset_of_each_gait_cycle(real_walking_emg, muscle):
    rel, onsets = _app_onsets_vs_touchdown(real_walking_emg, muscle)
    # Gluteus maximus and medius switch on in terminal swing, shortly before initial
    # contact (Perry & Burnfield 2010): at least 90 % of the cycles get that onset.
    assert np.mean(np.isfinite(rel)) >= 0.9, rel
    assert -0.2 < np.nanmedian(rel) < 0.0, rel
    # And nothing in mid swing: one contraction per cycle inside the annotated strides.
    td, lo = real_walking_emg["touchdown_s"], real_walking_emg["liftoff_s"]
    inside = onsets[(onsets > td[0] - 0.25) & (onsets < lo[-1])]
    assert inside.size == td.size, inside


def test_app_detector_on_real_gait_fails_with_the_rest_assumed_in_the_first_second(real_walking_emg):
    # The planted fault: rest taken as the first second (which holds a stance burst of the
    # stride before the annotated ones) instead of found: the bursts are then missed.
    from glutesignal.onsets import ContractionDetector

    cols = real_walking_emg["columns"]
    env = moving_rms(condition(cols["ME"][None, :], 1000.0), 1000.0, 0.1)
    assumed = float(env[0, 300:1000].mean())
    found = ContractionDetector(1000.0)
    found.process(env)
    assert assumed > 2 * found.rest_uV
    hits = ContractionDetector(1000.0, rest_uV=assumed).process(env)
    assert len(hits) < 0.9 * len(real_walking_emg["touchdown_s"])


def test_every_real_channel_is_graded_good(real_walking_emg):
    # Thirteen real electrodes in good contact: none may trip the dead, quantised,
    # implausible-scale, mains or motion checks (the values lie on a 0.1 µV grid).
    from glutesignal.quality import channel_quality

    x = np.vstack([real_walking_emg["columns"][m] for m in MUSCLES])
    q = channel_quality(x, condition(x, 1000.0, mains_hz=None), 1000.0, mains_hz=50.0)
    assert [c.grade for c in q] == ["good"] * len(MUSCLES), [c.reasons for c in q]
    assert all(c.loud_rms_lsb is not None and c.loud_rms_lsb > 100 for c in q)


def test_real_recording_hum_is_too_weak_to_notch_and_the_fixed_notches_cost_emg(real_walking_emg):
    # Its 50 Hz line stands ~2 x above its neighbours: not notched, so its EMG keeps the
    # 7-14 % of power (per muscle) that the former fixed 50 Hz notch set removed.
    from glutesignal.quality import detect_mains

    x = np.vstack([real_walking_emg["columns"][m] for m in MUSCLES])
    found = detect_mains(x, 1000.0)
    assert found.mains_hz is None and found.line_ratio[50.0] < 3.0
    clean = condition(x, 1000.0, mains_hz=None)
    fixed = condition(x, 1000.0, mains_hz=50.0)
    lost = 1 - np.mean(fixed ** 2, axis=1) / np.mean(clean ** 2, axis=1)
    assert np.all((lost > 0.06) & (lost < 0.15)), lost.round(3)
