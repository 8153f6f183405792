"""The guided squeeze test: cues on the stream clock, the weaker side found live."""
import pytest

from glutescope.guide import Cue, SqueezeTestGuide, squeeze_test_cues
from glutescope.live import LiveProcessor
from glutesignal.bodymodel import simulate

NAMES = ("glute_max_left", "glute_max_right")


def run_test(weaker_side):
    session = simulate("squeeze_test", seed=2, weaker_side=weaker_side,
                       left_scale=0.7 if weaker_side == "left" else 0.7)
    cues = tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in session.phases)
    live = LiveProcessor(NAMES, session.emg_fs_hz, session.imu_fs_hz, squeeze_cues=cues)
    for start in range(0, session.emg_uV.shape[1], 40):
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


def test_one_sided_squeezes_are_not_counted_as_left_right_reps():
    stats = run_test("left")
    # Only the "both" squeeze compares the sides.
    assert stats.n_reps == 1


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
