"""Reference contractions: amplitude above rest, mean of the accepted holds, repeatability, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glutesignal.normalise import above_rest, reference_from_trials


def _rest(level=5.0, n=400):
    return level + 0.1 * np.where(np.arange(n) % 2 == 0, -1.0, 1.0)  # median level, SD 0.1


def test_above_rest_removes_the_rest_in_quadrature():
    assert above_rest(5.0, 3.0) == pytest.approx(4.0)
    assert above_rest(2.0, 3.0) == 0.0  # below rest: nothing above it, never negative
    np.testing.assert_allclose(above_rest([13.0, 5.0], 12.0), [5.0, 0.0])


def _trapezoid_hold(plateau, rise_s=0.5, hold_s=5.0, fall_s=0.4, fs=200.0, rest=5.0):
    """An RMS envelope: rest, a linear rise to ``plateau``, the plateau, a fall."""
    t = np.arange(int(round((rise_s + hold_s + fall_s) * fs))) / fs
    up = np.clip(t / rise_s, 0, 1)
    down = np.clip((rise_s + hold_s + fall_s - t) / fall_s, 0, 1)
    return np.hypot(rest, plateau * np.minimum(up, down))


def test_a_trapezoid_holds_reference_is_its_plateau_and_three_holds_average():
    # Envelopes of 3 trapezoid holds with plateaus 200, 190 and 210 µV over a 5 µV rest,
    # combined in power as an RMS envelope is. The steady part (1 s after the cue to the
    # start of the fall) is all plateau, so each hold's amplitude is its plateau exactly,
    # and the reference is their mean, not the largest.
    fs = 200.0
    plateaus = (200.0, 190.0, 210.0)
    steady = [_trapezoid_hold(p, fs=fs)[int(1.0 * fs):int(5.5 * fs)] for p in plateaus]
    r = reference_from_trials(steady, [_rest() for _ in plateaus])
    assert r.trial_amplitudes == pytest.approx(plateaus, rel=1e-9)
    assert r.reference == pytest.approx(200.0)
    assert r.n_accepted == 3
    assert r.cv_pct == pytest.approx(5.0)  # SD 10 of a mean of 200
    assert r.se_pct == pytest.approx(5.0 / math.sqrt(3))
    assert r.repeatable


def test_mean_of_three_and_its_cv_by_hand():
    holds = [np.full(800, 100.0), np.full(800, 90.0), np.full(800, 110.0)]
    rests = [_rest(), _rest(), _rest()]
    r = reference_from_trials(holds, rests)
    amps = [math.sqrt(v * v - 25.0) for v in (100.0, 90.0, 110.0)]
    assert r.trial_amplitudes == pytest.approx(tuple(amps))
    assert r.reference == pytest.approx(np.mean(amps))
    assert r.cv_pct == pytest.approx(100 * np.std(amps, ddof=1) / np.mean(amps))  # ~10.0 %
    assert r.detected == (True, True, True)
    assert r.repeatable is (r.cv_pct < 10.0)


def test_an_unrepeatable_or_absent_hold_is_flagged():
    rests = [_rest(), _rest(), _rest()]
    spread = reference_from_trials([np.full(800, 100.0), np.full(800, 60.0), np.full(800, 100.0)], rests)
    assert not spread.repeatable and spread.cv_pct > 20.0
    missing = reference_from_trials([np.full(800, 100.0), _rest(n=800), np.full(800, 100.0)], rests)
    assert missing.detected == (True, False, True) and not missing.repeatable
    # The hold without a contraction is not accepted: the reference averages the other two.
    assert missing.reference == pytest.approx(math.sqrt(100.0**2 - 25.0)) and missing.n_accepted == 2
    none = reference_from_trials([_rest(n=800)] * 3, rests)
    assert not any(none.detected) and math.isnan(none.reference) and not none.repeatable
    assert math.isnan(none.se_pct)
    with pytest.raises(ValueError, match=r"equal length; got 2 and 1"):
        reference_from_trials([np.ones(10)] * 2, [np.ones(10)])
