"""The left/right sentence: a muscle claim only when calibrated and outside the band."""
import dataclasses

import pytest

from glutescope.live import LiveStats
from glutescope.verdicts import symmetry_headline, symmetry_verdict
from glutesignal.symmetry import symmetry_over_reps


def stats_for(left, right, normalised):
    r = symmetry_over_reps(left, right)
    return dataclasses.replace(LiveStats(), si_pct=r.si_pct, louder_side=r.louder_side, asymmetry_band=r.band,
                               ci_low_pct=r.ci_low_pct if r.n_reps > 1 else None,
                               ci_high_pct=r.ci_high_pct if r.n_reps > 1 else None, n_reps=r.n_reps,
                               si_consistent=r.consistent, si_normalised=normalised)


@pytest.mark.parametrize(("right", "normalised", "must", "must_not"), [
    ((70.0, 71.0, 69.0), False, ["not normalised - depends on electrodes", "right channel reads higher",
                                 "Not a muscle finding"], ["glute works", "louder", "confident"]),
    ((103.0, 104.0, 102.0), False, ["within +/-10 % of each other"], ["glute works", "louder"]),
    ((103.0, 104.0, 102.0), True, ["No clear difference between the glutes", "within +/-10 %"], ["works at"]),
    ((112.0, 113.0, 114.0), True, ["Moderate asymmetry: the right glute works at a higher share",
                                   "the reps agree on the side"], ["not normalised"]),
    ((104.0, 120.0, 112.0), True, ["Moderate asymmetry", "the reps vary"], ["agree"]),
    ((140.0, 142.0, 139.0), True, ["Marked asymmetry", "above 25 %"], ["not a chance"]),
])
def test_sentences_say_what_the_number_is(right, normalised, must, must_not):
    left = (100.0, 100.0, 100.0) if right[0] > 80 else (50.0, 50.0, 50.0)
    st = stats_for(left, right, normalised)
    text = symmetry_verdict(st) + " " + symmetry_headline(st)
    for word in must:
        assert word in text, text
    for word in must_not:
        assert word not in text, text


def test_no_reps_and_one_rep():
    assert "no left/right comparison" in symmetry_verdict(LiveStats())
    one = stats_for([100.0], [130.0], True)
    assert "one rep: no rep-to-rep spread yet" in symmetry_verdict(one)
