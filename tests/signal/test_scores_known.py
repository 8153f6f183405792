"""Known answers for every part of the squeeze score, computed by hand (not by the body model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glutesignal.scores import squeeze_quality

FS = 100.0
CUE_S, RELAX_S = 4.0, 9.0
N = 2000  # 20 s


def _rest(level=5.0):
    """A rest envelope at ``level`` with +-0.1 alternating noise: median level, SD 0.1."""
    return level + 0.1 * np.where(np.arange(N) % 2 == 0, -1.0, 1.0)


def _trapezoid():
    """Left glute: rest 5, linear rise 4.2-5.2 s to 105, hold, linear fall 9.1-9.6 s to 5.

    Right glute: its rest plus 10 % of the left's rise (overflow 0.10 exactly).
    """
    t = np.arange(N) / FS
    rise = np.interp(t, [0.0, 4.2, 5.2, 9.1, 9.6, 20.0], [0.0, 0.0, 100.0, 100.0, 0.0, 0.0])
    left = _rest() + rise
    right = _rest() + 0.1 * rise
    return np.vstack([left, right])


def _finite_or_none(score):
    for name in ("peak", "rest", "rest_sd", "amplitude", "t90_s", "hold_cv", "relax_s", "overflow", "total", "strength",
                 "speed", "steadiness", "relaxation", "isolation"):
        v = getattr(score, name)
        assert v is None or math.isfinite(v), f"{name} = {v!r}"


def test_trapezoid_gives_the_hand_computed_parts():
    s = squeeze_quality(_trapezoid(), FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S, reference_peak=200.0)
    assert s.detected and s.reason == ""
    # Rest: median 5, SD 0.1. Peak: 90th percentile of the hold is the 105 plateau.
    assert s.rest == pytest.approx(5.0) and s.rest_sd == pytest.approx(0.1)
    assert s.peak == pytest.approx(100.0, abs=0.11)
    # 90 % of the 100 rise (95) is reached 0.2 + 0.9 x 1.0 = 1.1 s after the cue.
    assert s.t90_s == pytest.approx(1.1, abs=0.011)
    assert s.speed == pytest.approx(100 * (2.0 - 1.1) / 1.4, abs=1.0)
    # Back within 10 % of the rise (15) 0.1 + 0.9 x 0.5 = 0.55 s after the relax cue.
    assert s.relax_s == pytest.approx(0.55, abs=0.011)
    assert s.relaxation == pytest.approx(100 * (2.0 - 0.55) / 1.5, abs=1.0)
    assert s.hold_cv < 0.01 and s.steadiness == 100.0
    assert s.overflow == pytest.approx(0.10, abs=0.002) and s.isolation == 100.0
    # Strength: the 90th percentile (105.1) with the rest (5) removed in quadrature,
    # sqrt(105.1² - 5²) = 104.98, against the stronger side's 200.
    amplitude = math.sqrt(105.1**2 - 5.0**2)
    assert s.amplitude == pytest.approx(amplitude, abs=1e-6)
    assert s.strength == pytest.approx(100 * amplitude / 200.0, abs=1e-6) and s.strength_basis == "stronger side"
    assert s.total == pytest.approx(np.mean([52.49, 64.29, 100.0, 96.67, 100.0]), abs=0.5)
    _finite_or_none(s)


def test_a_wavering_hold_gives_the_hand_computed_cv():
    # Step at cue + 0.5 s, then 0.25 s blocks alternating 95 / 115 (rise 90 / 110):
    # 18 bins, mean 105, SD 10 -> CV 10/105; plateau median 105 -> t90 = 0.5 s.
    t = np.arange(N) / FS
    left = _rest()
    on = (t >= 4.5) & (t < 9.0)
    block = np.floor((t - 4.5) / 0.25 + 1e-9).astype(int)
    left = np.where(on, np.where(block % 2 == 0, 95.0, 115.0), left)
    env = np.vstack([left, _rest()])
    s = squeeze_quality(env, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S)
    assert s.detected
    assert s.t90_s == pytest.approx(0.5, abs=1e-9) and s.speed == 100.0
    assert s.hold_cv == pytest.approx(10.0 / 105.0, rel=1e-6)
    assert s.steadiness == pytest.approx(100 * (0.25 - 10.0 / 105.0) / 0.20, abs=0.01)
    assert s.peak == pytest.approx(110.0)
    # The step falls at the relax cue: back at rest at once.
    assert s.relax_s == 0.0 and s.relaxation == 100.0


def test_no_squeeze_gets_no_score_and_says_why():
    env = np.vstack([_rest(), _rest()])
    for ref in (None, 50.0):
        s = squeeze_quality(env, FS, side="right", cue_s=CUE_S, relax_cue_s=RELAX_S, reference_peak=ref)
        assert not s.detected and s.total is None
        assert (s.strength, s.speed, s.steadiness, s.relaxation, s.isolation) == (None,) * 5
        assert "no contraction detected" in s.reason
        _finite_or_none(s)


def test_tensed_during_relax_is_a_reason_not_an_exception():
    # Rest before the cue at 30 (tensed), the "squeeze" at 10: a negative rise.
    t = np.arange(N) / FS
    left = np.where((t >= CUE_S) & (t < RELAX_S), _rest(10.0), _rest(30.0))
    env = np.vstack([left, left])
    s = squeeze_quality(env, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S, reference_peak=40.0)
    assert not s.detected and s.total is None
    assert s.peak == pytest.approx(10.1 - 30.0, abs=0.01)  # the measure is kept, and says what happened
    assert "no more active during the squeeze" in s.reason
    _finite_or_none(s)


def test_rest_falling_below_the_pre_cue_rest_after_the_squeeze_keeps_every_measure_finite():
    # A real squeeze, after which the envelope settles below the rest before it.
    env = _trapezoid()
    t = np.arange(N) / FS
    env[0] = np.where(t >= 9.6, _rest(1.0), env[0])
    s = squeeze_quality(env, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S)
    assert s.detected and s.relax_s == pytest.approx(0.55, abs=0.011)
    _finite_or_none(s)


def test_a_plateau_never_reached_within_the_window_scores_zero_speed_and_relaxation():
    # Rise that keeps climbing through the hold and never comes back down.
    t = np.arange(N) / FS
    left = _rest() + np.interp(t, [0.0, 4.0, 20.0], [0.0, 0.0, 160.0])
    s = squeeze_quality(np.vstack([left, _rest()]), FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S)
    assert s.detected
    assert s.relax_s is None and s.relaxation == 0.0
    _finite_or_none(s)


def test_strength_is_the_rise_above_rest_with_and_without_a_reference():
    env = _trapezoid()
    lifted = env + 50.0  # the same squeeze on a rest 50 higher
    for e in (env, lifted):
        with_mvc = squeeze_quality(e, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S, mvc=(400.0, 400.0))
        with_ref = squeeze_quality(e, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S, reference_peak=200.0)
        # A reference of 400 against the 50 % target is the same yardstick as a stronger
        # side of 200: the same amplitude above rest gives the same strength. (The old
        # code took the peak with its rest against an MVC and without it against a side.)
        assert with_mvc.strength_basis == "%MVC"
        assert with_mvc.strength == pytest.approx(with_ref.strength, abs=1e-9)
        assert with_ref.strength == pytest.approx(100 * with_ref.amplitude / 200.0, abs=1e-9)


def test_the_detection_gate_is_k_times_the_rest_spread():
    t = np.arange(N) / FS
    # Rest SD 0.1, k = 5: the gate is a peak 0.5 above the rest's median. The hold's 90th
    # percentile carries the +0.1 of the alternation: a step of 0.35 peaks at 0.45, 0.5 at 0.6.
    for rise, detected in ((0.35, False), (0.5, True)):
        left = _rest() + np.where((t >= 4.5) & (t < 9.0), rise, 0.0)
        s = squeeze_quality(np.vstack([left, _rest()]), FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S)
        assert s.detected is detected, (rise, s.reason)


@settings(max_examples=60, deadline=None)
@given(levels=st.lists(st.floats(0.0, 500.0), min_size=8, max_size=8), seed=st.integers(0, 2**16),
       noise=st.floats(0.0, 30.0), ref=st.one_of(st.none(), st.floats(0.1, 500.0)))
def test_whatever_the_person_does_a_score_or_a_reason_never_an_exception(levels, seed, noise, ref):
    # Piecewise-constant envelopes (any order of rest, squeeze, tension, relax) plus noise.
    rng = np.random.default_rng(seed)
    base = np.repeat(np.asarray(levels), N // 8)
    env = np.abs(np.vstack([base, base[::-1]]) + noise * rng.standard_normal((2, N)))
    s = squeeze_quality(env, FS, side="left", cue_s=CUE_S, relax_cue_s=RELAX_S, reference_peak=ref)
    _finite_or_none(s)
    assert (s.total is None) == (not s.detected) and (s.reason == "") == s.detected
    if s.detected:
        assert 0.0 <= s.total <= 100.0
