"""The report's fatigue line: median-frequency and amplitude trend of each glute over the reps."""
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import signal as sps

from glutescope.analysis import RepResult, _fatigue, _span
from glutesignal.fatigue import fatigue_trend
from glutescope.report import fatigue_sentence

FS_HZ = 1000.0


ROWS = {"left": 0, "right": 1}


def _held(conditioned, reps):
    """Each rep's fatigue windows, measured on its stretch of the conditioned EMG, as the
    analysis keeps them from the live ring."""
    n = conditioned.shape[1]
    spans = [_span(r.start_s, r.start_s + r.duration_s, FS_HZ, n) for r in reps]
    return {(a, b): {side: fatigue_trend(conditioned[row, a:b], FS_HZ) for side, row in ROWS.items()}
            for a, b in spans}


def _rep(i, start_s, duration_s):
    return RepResult(i, start_s, duration_s, (1.0, 1.0), (1.0, 1.0), 0.0, "right", None)


def test_each_glute_gets_the_trend_of_the_windows_inside_its_reps():
    t = np.arange(int(60 * FS_HZ)) / FS_HZ
    falling = sps.chirp(t, f0=150.0, t1=60.0, f1=90.0)  # -1 Hz/s, -40 %/min of 150 Hz
    steady = np.sin(2 * np.pi * 120.0 * t) * (1.0 + t / 60.0)  # amplitude +100 %/min
    conditioned = np.vstack([falling, steady])
    reps = [_rep(i + 1, 5.0 + 10.0 * i, 4.0) for i in range(5)]
    (left, lt), (right, rt) = _fatigue(_held(conditioned, reps), FS_HZ, reps, ROWS, conditioned.shape[1])
    assert (left, right) == ("left", "right")
    assert lt.n_windows == 40 and lt.mdf_slope_hz_per_s == pytest.approx(-1.0, abs=0.02)
    assert rt.mdf_slope_hz_per_s == pytest.approx(0.0, abs=0.02)
    assert rt.rms_slope_pct_per_min == pytest.approx(100.0 / (1 + 5.25 / 60), rel=0.05)
    text = fatigue_sentence(SimpleNamespace(fatigue=((left, lt), (right, rt))))
    assert "left median frequency -4" in text and "Hz/s from 14" in text
    assert "suggests fatigue" in text


def test_no_reps_no_trend():
    assert _fatigue({}, FS_HZ, [], ROWS, 1000) == ()
    assert fatigue_sentence(SimpleNamespace(fatigue=())) == "Fatigue trend: no reps to measure."


def test_the_trend_from_each_reps_own_stretch_equals_the_trend_over_the_whole_signal():
    """The analysis keeps only the reps' stretches (bounded by the reps, not the session):
    their windows, moved to their times, fit exactly as the whole signal's would."""
    from glutesignal.fatigue import fatigue_trend

    rng = np.random.default_rng(7)
    t = np.arange(int(90 * FS_HZ)) / FS_HZ
    x = np.vstack([sps.chirp(t, f0=140.0, t1=90.0, f1=100.0) + 0.1 * rng.standard_normal(t.size),
                   rng.standard_normal(t.size)])
    reps = [_rep(i + 1, 3.3 + 11.7 * i, 3.6 + 0.1 * i) for i in range(7)]
    got = dict(_fatigue(_held(x, reps), FS_HZ, reps, ROWS, x.shape[1]))
    for row, side in enumerate(("left", "right")):
        whole = fatigue_trend(x[row], FS_HZ, [(r.start_s, r.start_s + r.duration_s) for r in reps])
        np.testing.assert_allclose(got[side].t_s, whole.t_s, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got[side].mdf_hz, whole.mdf_hz)
        assert got[side].mdf_slope_hz_per_s == pytest.approx(whole.mdf_slope_hz_per_s, rel=1e-9)
        assert got[side].rms_slope_pct_per_min == pytest.approx(whole.rms_slope_pct_per_min, rel=1e-9)
