"""Hip drop and wobble of a hold, on hand-computed known answers."""
import numpy as np
import pytest

from glutesignal.stance import hold_pelvis


def test_a_constant_drop_of_the_unsupported_side_is_its_size_signed_by_the_standing_leg():
    obliquity = np.r_[0.0, np.full(99, 5.0)]  # left hip 5° higher: the right side dropped
    tilt = np.zeros(100)
    assert hold_pelvis(obliquity, tilt, "left").hip_drop_deg == pytest.approx(5.0)
    # Standing on the right, the left hip going up is no drop of the unsupported side.
    assert hold_pelvis(obliquity, tilt, "right").hip_drop_deg == pytest.approx(-5.0)
    assert hold_pelvis(obliquity, tilt, "left").wobble_deg == pytest.approx(0.0)
    assert hold_pelvis(obliquity[1:], tilt[1:], "left", reference_deg=0.0).hip_drop_deg == pytest.approx(5.0)


def test_wobble_is_the_root_sum_square_of_the_sds_over_the_middle_half():
    k = np.arange(400)
    obliquity = 3.0 * np.sin(2 * np.pi * k / 50)  # SD 3/sqrt(2) over whole cycles
    tilt = 4.0 * np.sin(2 * np.pi * k / 40)
    got = hold_pelvis(obliquity, tilt, "left").wobble_deg
    assert got == pytest.approx(np.hypot(3.0, 4.0) / np.sqrt(2), rel=0.02)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="supporting_side must be 'left' or 'right'"):
        hold_pelvis(np.zeros(10), np.zeros(10), "both")
    with pytest.raises(ValueError, match="equal length >= 4"):
        hold_pelvis(np.zeros(3), np.zeros(3), "left")
    with pytest.raises(ValueError, match="finite"):
        hold_pelvis(np.r_[np.zeros(9), np.nan], np.zeros(10), "left")
