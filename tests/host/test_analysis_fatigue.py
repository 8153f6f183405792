"""The report's fatigue line: median-frequency and amplitude trend of each glute over the reps."""
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import signal as sps

from glutescope.analysis import RepResult, _fatigue
from glutescope.report import fatigue_sentence

FS_HZ = 1000.0


def _rep(i, start_s, duration_s):
    return RepResult(i, start_s, duration_s, (1.0, 1.0), (1.0, 1.0), 0.0, "right", None)


def test_each_glute_gets_the_trend_of_the_windows_inside_its_reps():
    t = np.arange(int(60 * FS_HZ)) / FS_HZ
    falling = sps.chirp(t, f0=150.0, t1=60.0, f1=90.0)  # -1 Hz/s, -40 %/min of 150 Hz
    steady = np.sin(2 * np.pi * 120.0 * t) * (1.0 + t / 60.0)  # amplitude +100 %/min
    conditioned = np.vstack([falling, steady])
    reps = [_rep(i + 1, 5.0 + 10.0 * i, 4.0) for i in range(5)]
    (left, lt), (right, rt) = _fatigue(conditioned, FS_HZ, reps, ("glute_max_left", "glute_max_right"))
    assert (left, right) == ("left", "right")
    assert lt.n_windows == 40 and lt.mdf_slope_hz_per_s == pytest.approx(-1.0, abs=0.02)
    assert rt.mdf_slope_hz_per_s == pytest.approx(0.0, abs=0.02)
    assert rt.rms_slope_pct_per_min == pytest.approx(100.0 / (1 + 5.25 / 60), rel=0.05)
    text = fatigue_sentence(SimpleNamespace(fatigue=((left, lt), (right, rt))))
    assert "left median frequency -4" in text and "Hz/s from 14" in text
    assert "suggests fatigue" in text


def test_no_reps_no_trend():
    assert _fatigue(np.zeros((2, 1000)), FS_HZ, [], ("glute_max_left", "glute_max_right")) == ()
    assert fatigue_sentence(SimpleNamespace(fatigue=())) == "Fatigue trend: no reps to measure."
