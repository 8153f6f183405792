"""Sitting periods and hourly reminders from a stream of pelvic tilt samples."""
import numpy as np
import pytest

from glutesignal.sitting import SittingTracker

FS = 4.0  # a slow IMU keeps hours of samples cheap; the tracker only counts samples


def tilt_of(*spans):
    """Concatenate (seconds, tilt_deg) spans into a tilt stream at FS."""
    return np.concatenate([np.full(int(round(d * FS)), float(v)) for d, v in spans])


def run(tracker, tilt, block):
    events = []
    for a in range(0, tilt.size, block):
        events += tracker.update(a, tilt[a:a + block])
    return events + list(tracker.finish())


@pytest.mark.parametrize("block", [1, 7, 1000, 10 ** 6])
def test_two_hours_ten_in_one_go_gives_two_reminders_at_one_and_two_hours(block):
    tilt = tilt_of((10, 0.0), (7800, -25.0), (120, 0.0))
    tracker = SittingTracker(FS)
    events = run(tracker, tilt, block)
    assert [(e.kind, e.t_s, e.sitting_s) for e in events] == [
        ("sat_down", 10.0, 0.0), ("reminder", 3610.0, 3600.0), ("reminder", 7210.0, 7200.0),
        ("stood_up", 7810.0, 7800.0)]
    assert tracker.sitting_s == 7800.0 and not tracker.in_period


def test_a_short_stand_does_not_end_the_period_and_does_not_count_as_sitting():
    tilt = tilt_of((5, 0.0), (2000, -22.0), (40, 2.0), (1700, -28.0), (61, 0.0), (3600, -20.0))
    events = run(SittingTracker(FS), tilt, 333)
    kinds = [(e.kind, e.t_s) for e in events]
    # 2000 + 1700 s seated in the first period: its reminder after 3600 s of sitting, i.e.
    # 40 s later than an hour after sitting down; a minute up then ends it.
    assert kinds[:3] == [("sat_down", 5.0), ("reminder", 5.0 + 2000 + 40 + 1600), ("stood_up", 3745.0)]
    assert events[2].sitting_s == 3700.0
    # The next period starts its own hour.
    assert kinds[3:] == [("sat_down", 3806.0), ("reminder", 7406.0), ("stood_up", 7406.0)]


def test_lying_down_and_gaps_are_not_sitting():
    tilt = tilt_of((5, 0.0), (600, -90.0), (100, -25.0), (100, np.nan), (100, -25.0), (70, 0.0))
    tracker = SittingTracker(FS, remind_every_s=150.0)
    events = run(tracker, tilt, 50)
    assert tracker.sitting_s == 200.0
    # The gap neither counts nor ends the period: the reminder comes after 150 s seated.
    assert [(e.kind, e.t_s) for e in events] == [("sat_down", 605.0), ("reminder", 855.0), ("stood_up", 905.0)]


def test_samples_fed_twice_are_counted_once():
    tracker = SittingTracker(FS)
    tilt = tilt_of((100, -25.0))
    tracker.update(0, tilt)
    tracker.update(200, tilt[200:])  # a repeat of what was fed
    assert tracker.sitting_s == 100.0


def test_a_wake_up_restarts_the_hour():
    tracker = SittingTracker(FS, remind_every_s=100.0)
    events = list(tracker.update(0, tilt_of((150, -25.0))))
    tracker.restart_clock()
    events += tracker.update(600, tilt_of((150, -25.0)))
    assert [e.t_s for e in events if e.kind == "reminder"] == [100.0, 250.0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(imu_fs_hz=0.0), "imu_fs_hz must be a positive finite number; got 0.0"),
    (dict(imu_fs_hz=104.0, remind_every_s=-1.0), "remind_every_s must be a positive"),
    (dict(imu_fs_hz=104.0, sit_tilt_deg=70.0), "0 < sit < lie; got 70.0, 60.0"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SittingTracker(**kwargs)
