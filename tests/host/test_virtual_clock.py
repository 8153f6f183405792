"""The virtual board's clock: a crystal that is off by tens of ppm, and a speed that can change.

Known answers on a host clock the test sets by hand (``time.monotonic`` replaced).
"""
import pytest

from glutescope.virtual import upy
from glutescope.virtual.wearable import DEFAULT_DRIFT_PPM, VirtualWearable


@pytest.fixture
def host_s(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(upy.time, "monotonic", lambda: now[0])
    return now


def test_a_fast_crystal_counts_more_device_microseconds_per_host_second(host_s):
    clock = upy.VirtualClock(speed=1.0, start_us=0, drift_ppm=35.0)
    host_s[0] += 3600.0
    # One host hour on a crystal 35 ppm fast: 126 ms more than nominal.
    assert clock.now_us() == 3_600_126_000
    assert clock.host_time_at(3_600_126_000) == pytest.approx(host_s[0], abs=1e-9)
    assert clock.host_seconds(1.000035) == pytest.approx(1.0, abs=1e-12)


def test_changing_speed_keeps_device_time_continuous(host_s):
    clock = upy.VirtualClock(speed=16.0, start_us=2**30 - 1_000_000, drift_ppm=-20.0)
    host_s[0] += 10.0
    at_change = clock.now_us()
    assert at_change == 2**30 - 1_000_000 + round(10.0 * 16 * (1 - 20e-6) * 1e6)
    clock.set_speed(4.0)
    assert clock.now_us() == at_change
    host_s[0] += 2.0
    assert clock.now_us() == at_change + round(2.0 * 4 * (1 - 20e-6) * 1e6)
    assert clock.rate == pytest.approx(4 * (1 - 20e-6))


@pytest.mark.parametrize("drift_ppm", [1500.0, -1500.0, float("nan")])
def test_a_drift_no_crystal_has_is_refused(drift_ppm):
    with pytest.raises(ValueError, match="drift_ppm must be within"):
        upy.VirtualClock(drift_ppm=drift_ppm)
    with pytest.raises(ValueError, match="drift_ppm must be within"):
        VirtualWearable(exercise="bridges", drift_ppm=drift_ppm)


def test_the_virtual_wearable_has_an_inexact_crystal_by_default():
    assert VirtualWearable(exercise="bridges").drift_ppm == DEFAULT_DRIFT_PPM != 0
