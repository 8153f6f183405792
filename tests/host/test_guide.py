"""The guided squeeze test: cues on the stream clock, the weaker side found live."""
import pytest

from glutescope.guide import Cue, SqueezeTestGuide, squeeze_test_cues
from glutescope.live import LiveProcessor
from glutesignal.simulation import simulate

NAMES = ("glute_max_left", "glute_max_right")


def run_test(weaker_side, with_imu=False, exercise="squeeze_test", seed=2):
    session = simulate(exercise, seed=seed, weaker_side=weaker_side)
    cues = tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in session.phases)
    live = LiveProcessor(NAMES, session.emg_fs_hz, session.imu_fs_hz if with_imu else 0.0,
                         squeeze_cues=cues)
    ratio = session.emg_fs_hz / session.imu_fs_hz
    imu_next = 0
    for start in range(0, session.emg_uV.shape[1], 40):
        # IMU blocks arrive interleaved with EMG blocks, as over the link.
        imu_end = int((start + 40) / ratio)
        if with_imu and imu_end > imu_next:
            live.push_imu(imu_next, session.acc_g[:, imu_next:imu_end], session.gyro_dps[:, imu_next:imu_end])
            imu_next = imu_end
        live.push_emg(start, session.emg_uV[:, start:start + 40])
    return live.state.stats


@pytest.mark.parametrize("weaker_side", ["left", "right"])
def test_the_weaker_side_of_the_squeeze_test_is_named(weaker_side):
    stats = run_test(weaker_side)
    sides = [s.side for s in stats.squeeze_scores]
    assert sides == ["right", "left"]
    assert stats.weaker_squeeze_side == weaker_side
    weaker = next(s for s in stats.squeeze_scores if s.side == weaker_side)
    stronger = next(s for s in stats.squeeze_scores if s.side != weaker_side)
    assert stronger.total - weaker.total >= 10
    assert stronger.strength == pytest.approx(100.0)
    for score in stats.squeeze_scores:
        assert 0 <= score.total <= 100


def test_squeezes_are_never_counted_as_reps():
    stats = run_test("left")
    # All three squeezes (right, left and both) are squeezes: none feeds the SI.
    assert stats.n_reps == 0 and stats.contractions == () and stats.si_pct is None
    assert stats.cued_contractions == 3
    assert "No rep of both glutes was found" in stats.report(NAMES)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_squeeze_gets_no_score_and_says_why(seed):
    stats = run_test("left", exercise="no_squeeze", seed=seed)
    assert [s.side for s in stats.squeeze_scores] == ["right", "left"]
    for score in stats.squeeze_scores:
        assert not score.detected and score.total is None and "no contraction detected" in score.reason
    assert stats.weaker_squeeze_side is None
    assert "no score (no contraction detected" in stats.report(NAMES)


def test_tensed_during_relax_gives_reasons_and_the_session_goes_on():
    # The old guide passed max(peaks) <= 0 as the reference and squeeze_quality raised
    # "reference_peak must be a positive finite number", ending the live session.
    stats = run_test("left", exercise="tensed_relax")
    assert len(stats.squeeze_scores) == 2
    for score in stats.squeeze_scores:
        assert not score.detected and "no more active during the squeeze" in score.reason
    assert stats.weaker_squeeze_side is None and stats.n_reps == 0


def test_cues_follow_the_schedule():
    cues = squeeze_test_cues(t0_s=3.0, relax_s=4.0, squeeze_s=5.0)
    guide = SqueezeTestGuide(cues, 2000.0)
    assert [c.side for c in cues if c.name == "squeeze"] == ["right", "left", "both"]
    cue, left_s = guide.cue_at(8.5)
    assert cue.name == "squeeze" and cue.side == "right" and left_s == pytest.approx(3.5)
    assert "RIGHT cheek only" in cue.instruction()
    assert guide.cue_at(2.0) == (None, 0.0)
    assert guide.cue_at(cues[-1].end_s + 1) == (None, 0.0)
    with pytest.raises(ValueError, match="at least one phase"):
        SqueezeTestGuide((), 2000.0)


def test_pelvis_motion_enters_the_isolation_score_when_the_imu_is_worn():
    without = {s.side: s for s in run_test("left").squeeze_scores}
    with_imu = {s.side: s for s in run_test("left", with_imu=True).squeeze_scores}
    assert all(s.motion_deg is None for s in without.values())
    assert all(s.motion_deg is not None and s.motion_deg >= 0 for s in with_imu.values())
    assert with_imu["left"].total < with_imu["right"].total
