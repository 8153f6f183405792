"""Double-threshold onset detector: known bursts, streaming == offline, body-model truth."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.bodymodel import simulate
from glutesignal.conditioning import condition
from glutesignal.onsets import OnsetDetector, detect_bursts, estimate_noise_power

FS = 2000.0


def _bursts_signal(seed=0):
    rng = np.random.default_rng(seed)
    n = int(6 * FS)
    x = 5.0 * rng.standard_normal((2, n))
    # Channel 0: bursts at 1.5-2.5 s and 4.0-4.6 s; channel 1: one at 3.0-3.8 s; plus a
    # 20 ms spike on channel 1 at 5 s that must not count as a burst.
    for ch, a, b in ((0, 1.5, 2.5), (0, 4.0, 4.6), (1, 3.0, 3.8), (1, 5.0, 5.02)):
        i, j = int(a * FS), int(b * FS)
        x[ch, i:j] += 50.0 * rng.standard_normal(j - i)
    return x


@pytest.mark.parametrize("tkeo", [False, True])
def test_known_bursts_are_found_to_the_millisecond(tkeo):
    bursts = detect_bursts(_bursts_signal(), FS, tkeo=tkeo)
    found = [(b.channel, b.on_s, b.off_s) for b in bursts]
    expected = [(0, 1.5, 2.5), (0, 4.0, 4.6), (1, 3.0, 3.8)]
    assert len(found) == len(expected), found
    for (ch, on, off), (ech, eon, eoff) in zip(found, expected):
        assert ch == ech
        assert abs(on - eon) < 0.005
        assert abs(off - eoff) < 0.02


@pytest.mark.parametrize("block", [1, 7, 40, 1000])
@pytest.mark.parametrize("tkeo", [False, True])
def test_streaming_equals_offline(block, tkeo):
    x = _bursts_signal(1)
    whole = OnsetDetector(FS, 2, tkeo=tkeo).process(x)
    det = OnsetDetector(FS, 2, tkeo=tkeo)
    parts = []
    for i in range(0, x.shape[1], block):
        parts.extend(det.process(x[:, i:i + block]))
    key = lambda e: (e.channel, e.sample)  # noqa: E731
    assert sorted(parts, key=key) == sorted(whole, key=key)
    assert len(whole) == 6


def test_given_noise_power_detects_from_the_first_sample():
    x = _bursts_signal(2)
    noise = estimate_noise_power(x, FS)
    np.testing.assert_allclose(noise, 25.0, rtol=0.15)  # 5 µV RMS noise
    bursts = detect_bursts(x[:, int(1.4 * FS):], FS, noise_power=noise)
    assert abs(bursts[0].on_s - 0.1) < 0.005


def test_squeeze_onsets_match_the_script_at_20_db():
    s = simulate("squeeze_test", seed=3, snr_db=20.0)
    y = condition(s.emg_uV, s.emg_fs_hz)
    bursts = detect_bursts(y, s.emg_fs_hz)
    for q in s.squeezes:
        sides = ("left", "right") if q.side == "both" else (q.side,)
        for side in sides:
            ch = s.channel_index(f"glute_max_{side}")
            onsets = [b.on_s for b in bursts if b.channel == ch and abs(b.on_s - q.cue_s - q.reaction_s) < 0.5]
            assert onsets, (q.side, side)
            # The script's onset is the start of a smooth rise: the detector sees it
            # once the rise clears the noise, within the first half of the rise.
            start = q.cue_s + q.reaction_s
            assert start - 0.05 < onsets[0] < start + 0.5 * q.rise_s


def test_rest_has_no_bursts():
    s = simulate("rest", seed=5)
    assert detect_bursts(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz) == ()


def test_errors():
    with pytest.raises(ValueError, match=r"noise_power must be 2 positive finite values"):
        OnsetDetector(FS, 2, noise_power=[1.0])
    with pytest.raises(ValueError, match=r"min_fraction must be in \(0, 1\]; got 2"):
        OnsetDetector(FS, 1, min_fraction=2)
    with pytest.raises(ValueError, match=r"emg_uV must hold at least one window of 200 samples"):
        estimate_noise_power(np.zeros((1, 10)), FS)
