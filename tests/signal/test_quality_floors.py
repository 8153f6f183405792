"""Quality flags what harms a score, not a muscle at rest."""
import numpy as np
import pytest

from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.quality import channel_quality


def grade(raw):
    return channel_quality(raw, condition(raw, 2000.0), 2000.0)


@pytest.mark.parametrize("exercise", ["rest", "single_leg_bridges", "bridges"])
def test_quiet_or_resting_muscles_are_not_called_poor(exercise):
    raw = simulate(exercise, seed=1).emg_uV[:, :16000]
    assert all(q.grade != "poor" for q in grade(raw))


def test_a_loose_electrode_humming_is_poor_and_says_mains():
    raw = np.array(simulate("bridges", seed=1).emg_uV[:, :16000])
    raw[0] += 300 * np.sin(2 * np.pi * 50 * np.arange(16000) / 2000)
    left, right = grade(raw)
    assert left.grade == "poor" and left.reasons[0].startswith("mains interference")
    assert right.grade == "good"


def test_large_motion_artefacts_are_flagged():
    raw = np.array(simulate("bridges", seed=1).emg_uV[:, :16000])
    raw[1] += 400 * np.sin(2 * np.pi * 2.0 * np.arange(16000) / 2000)  # cable swinging
    _, right = grade(raw)
    assert right.grade == "poor" and right.reasons[0].startswith("motion artefact")
    assert right.motion_rms_uV > 200
