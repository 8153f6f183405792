"""Reference contractions: amplitude above rest, best of 3, repeatability, by hand."""

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


def test_best_of_three_and_its_cv_by_hand():
    holds = [np.full(800, 100.0), np.full(800, 90.0), np.full(800, 110.0)]
    rests = [_rest(), _rest(), _rest()]
    r = reference_from_trials(holds, rests)
    amps = [math.sqrt(v * v - 25.0) for v in (100.0, 90.0, 110.0)]
    assert r.trial_amplitudes == pytest.approx(tuple(amps))
    assert r.reference == pytest.approx(max(amps))
    assert r.cv_pct == pytest.approx(100 * np.std(amps, ddof=1) / np.mean(amps))  # ~10.0 %
    assert r.detected == (True, True, True)
    assert r.repeatable is (r.cv_pct < 10.0)


def test_an_unrepeatable_or_absent_hold_is_flagged():
    rests = [_rest(), _rest(), _rest()]
    spread = reference_from_trials([np.full(800, 100.0), np.full(800, 60.0), np.full(800, 100.0)], rests)
    assert not spread.repeatable and spread.cv_pct > 20.0
    missing = reference_from_trials([np.full(800, 100.0), _rest(n=800), np.full(800, 100.0)], rests)
    assert missing.detected == (True, False, True) and not missing.repeatable
    assert missing.reference == pytest.approx(math.sqrt(100.0**2 - 25.0))
    none = reference_from_trials([_rest(n=800)] * 3, rests)
    assert not any(none.detected) and math.isnan(none.reference) and not none.repeatable
    with pytest.raises(ValueError, match=r"equal length; got 2 and 1"):
        reference_from_trials([np.ones(10)] * 2, [np.ones(10)])
