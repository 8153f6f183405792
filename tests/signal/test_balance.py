"""Left/right balance tracker: streaming == offline, the body model's reps, nothing at rest."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.balance import BalanceTracker, Contraction
from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import moving_rms


def _envelope(exercise, seed, snr_db=20.0):
    s = simulate(exercise, seed=seed, snr_db=snr_db)
    return s, moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)


@pytest.fixture(scope="module")
def bridges():
    return _envelope("bridges", 0)


@pytest.mark.parametrize("block", [1, 7, 40, 1000])
def test_streaming_equals_offline(bridges, block):
    s, env = bridges
    whole = BalanceTracker(s.emg_fs_hz).process(env)
    tracker = BalanceTracker(s.emg_fs_hz)
    parts = []
    for i in range(0, env.shape[1], block):
        parts.extend(tracker.process(env[:, i:i + block]))
    assert parts == whole
    assert tracker.contractions == whole
    assert len(whole) == len(s.reps)


@pytest.mark.parametrize("snr_db", [10.0, 20.0])
@pytest.mark.parametrize("exercise", ["bridges", "single_leg_bridges", "squeeze_test"])
def test_finds_each_scripted_contraction(exercise, snr_db):
    s, env = _envelope(exercise, 1, snr_db)
    found = BalanceTracker(s.emg_fs_hz).process(env)
    assert len(found) == len(s.reps)
    for c, rep in zip(found, s.reps):
        # The envelope crosses the threshold partway up the rise and drops below it
        # partway down: each contraction lies inside its rep, missing under a second at each end.
        assert rep.start_s <= c.start_s < rep.start_s + 1.0
        assert rep.end_s - 1.0 < c.end_s <= rep.end_s + 0.2
        assert c.duration_s == pytest.approx(c.end_s - c.start_s)


def test_bridges_show_the_weaker_left_side(bridges):
    s, env = bridges
    found = BalanceTracker(s.emg_fs_hz).process(env)
    # The body model's left glute works at 70 % of the right.
    ratios = [c.mean_uV[0] / c.mean_uV[1] for c in found]
    assert 0.6 < np.median(ratios) < 0.8
    for c in found:
        assert c.peak_uV[0] >= c.mean_uV[0] and c.peak_uV[1] >= c.mean_uV[1]


def test_single_leg_bridges_alternate_the_louder_side():
    s, env = _envelope("single_leg_bridges", 2)
    found = BalanceTracker(s.emg_fs_hz).process(env)
    louder = ["left" if c.mean_uV[0] > c.mean_uV[1] else "right" for c in found]
    assert louder == [r.side for r in s.reps]


@pytest.mark.parametrize("snr_db", [6.0, 10.0, 20.0, 30.0])
def test_no_contraction_at_rest(snr_db):
    for seed in range(3):
        s, env = _envelope("rest", seed, snr_db)
        tracker = BalanceTracker(s.emg_fs_hz)
        assert tracker.process(env) == []
        assert np.isfinite(tracker.rest_uV) and tracker.rest_uV > 0


def test_a_contraction_still_going_at_the_end_is_not_reported():
    fs = 100.0
    env = np.full((2, 300), 5.0)
    env[:, 100:] = 50.0
    tracker = BalanceTracker(fs)
    assert tracker.process(env) == []
    # ... until it ends.
    assert tracker.process(np.full((2, 10), 5.0)) == [
        Contraction(start_s=1.0, end_s=3.0, mean_uV=(50.0, 50.0), peak_uV=(50.0, 50.0))]


def test_short_twitch_is_ignored():
    fs = 100.0
    env = np.full((2, 400), 5.0)
    env[:, 100:115] = 60.0  # 0.15 s, below the 0.2 s minimum
    assert BalanceTracker(fs).process(env) == []


def test_errors():
    with pytest.raises(ValueError, match=r"fs_hz must be positive"):
        BalanceTracker(0.0)
    with pytest.raises(ValueError, match=r"need on_factor > off_factor > 1, got on_factor=2, off_factor=3"):
        BalanceTracker(100.0, on_factor=2, off_factor=3)
    tracker = BalanceTracker(100.0)
    with pytest.raises(ValueError, match=r"envelope_uV must be shaped \(2, n_samples\) as \(left, right\), got \(3, 5\)"):
        tracker.process(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"envelope_uV contains NaN or inf"):
        tracker.process(np.array([[1.0, np.nan], [1.0, 1.0]]))


def test_a_gap_keeps_times_on_the_stream_clock_and_later_reps_are_found():
    from glutesignal.balance import BalanceTracker
    from glutesignal.simulation import simulate
    from glutesignal.conditioning import Conditioner
    from glutesignal.envelope import MovingRMS

    s = simulate("bridges", seed=3)
    fs = s.emg_fs_hz
    lost = (int(6.5 * fs), int(6.7 * fs))  # 0.2 s lost between rep 1 and rep 2
    cond, rms, tracker = Conditioner(fs, 2), MovingRMS(fs, 2), BalanceTracker(fs)
    for a, b in ((0, lost[0]), (lost[1], s.emg_uV.shape[1])):
        if a:
            cond.reset()
            rms.reset()
            tracker.gap(lost[1] - lost[0])
        tracker.process(rms.process(cond.process(s.emg_uV[:, a:b])))
    assert len(tracker.contractions) == len(s.reps) == 10
    for found, truth in zip(tracker.contractions, s.reps):
        assert abs(found.start_s - truth.start_s) < 0.6 and abs(found.end_s - truth.end_s) < 0.6


def test_a_contraction_cut_by_a_gap_is_dropped():
    from glutesignal.balance import BalanceTracker

    tracker = BalanceTracker(1000.0)
    rest = np.full((2, 2000), 10.0)
    loud = np.full((2, 800), 200.0)
    tracker.process(rest)
    tracker.process(loud)
    tracker.gap(500)
    tracker.process(rest)
    assert tracker.contractions == [] and tracker.n_fed == 2000 + 800 + 500 + 2000
    with pytest.raises(ValueError, match="n_samples must be >= 0"):
        tracker.gap(-1)


def test_working_side_pairs_take_the_side_they_are_given_never_the_louder_one():
    from glutesignal.balance import working_side_pairs

    # A left-leg rep where the weak working left glute (10) reads below the resting right (12).
    amps = [(10.0, 12.0), (11.0, 13.0), (3.0, 60.0), (4.0, 58.0), (9.0, 9.0)]
    sides = ["left", "left", "right", "right", "unknown"]
    assert working_side_pairs(amps, sides) == ([10.0, 11.0], [60.0, 58.0])
    with pytest.raises(ValueError, match=r"one entry per rep; got 5 and 4"):
        working_side_pairs(amps, sides[:4])
def test_a_session_that_starts_mid_contraction_still_finds_rest_and_reps():
    # The first second is a contraction, not rest: a detector that assumed the first
    # second to be rest would take 60 µV as rest and find nothing afterwards.
    fs = 100.0
    env = np.full((2, 1200), 5.0)
    env[:, :150] = 60.0
    env[:, 500:700] = 60.0
    env[:, 900:1000] = 40.0
    found = BalanceTracker(fs).process(env)
    assert [(c.start_s, c.end_s) for c in found] == [(5.0, 7.0), (9.0, 10.0)]


def test_rest_from_a_relax_cue_is_used_when_given():
    fs = 100.0
    env = np.full((2, 600), 20.0)  # never quieter than 40 µV summed: the found rest is 40
    env[:, 300:400] = 45.0  # 90 summed: 2.25 x the found rest, 3 x a rest of 30 from a relax cue
    found = BalanceTracker(fs)
    assert found.process(env) == [] and found.rest_uV == pytest.approx(40.0)
    given = BalanceTracker(fs, rest_uV=30.0)
    assert [(c.start_s, c.end_s) for c in given.process(env)] == [(3.0, 4.0)]
    assert given.rest_uV == 30.0
    given.set_rest(None)  # back to the found level
    assert given.rest_uV == pytest.approx(40.0)
