"""IMU sample times follow the sensor's own clock, on the real MicroPython + btstack.

The stand-in LSM6DSOX runs 1 % fast (its ODR and its timestamp counter alike, as one
oscillator drives both): sample i is ready (i + 1) / (208 Hz x 1.01) after the FIFO
starts. The times the firmware gives the IMU blocks (``t_device_us``, on the ticks_us
timeline the EMG is stamped on) must follow that true rate, not the nominal one.
"""
import asyncio

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from realstack_checks import wait_until
from realstack_harness import RealStack, firmware_copy

pytestmark = pytest.mark.slow

IMU_HZ = 208
ODR_ERROR_PPM = 10_000


async def _imu_anchors(binary, tree=None, seconds=8):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, imu_odr_error_ppm=ODR_ERROR_PPM, **kwargs) as stack:
        await stack.wait_advertising()
        acq = Acquisition(stack.transport())
        try:
            await acq.open(emg_fs_hz=2000, channel_mask=0b111, imu_fs_hz=IMU_HZ)
            await wait_until(lambda: acq.imu.end_sample >= seconds * IMU_HZ, seconds + 20, "IMU samples", stack)
            return acq.imu.current().anchors
        finally:
            await acq.close()


def _fit(anchors):
    index, t_us = anchors[0].astype(float), anchors[1].astype(float)
    keep = index >= IMU_HZ  # past the first second: the clock fit has its span
    slope, intercept = np.polyfit(index[keep], t_us[keep], 1)
    residual = np.abs(t_us[keep] - (slope * index[keep] + intercept))
    return slope, float(np.median(residual)), float(np.max(residual))


def _assert_on_the_sensors_clock(anchors):
    true_period_us = 1e6 / (IMU_HZ * (1 + ODR_ERROR_PPM * 1e-6))
    period_us, typical_us, worst_us = _fit(anchors)
    assert abs(period_us / true_period_us - 1) < 500e-6, (period_us, true_period_us)
    # The median, not the worst: a loaded machine may deschedule the interpreter mid-poll.
    assert typical_us < 500, (f"IMU block times stray {typical_us:.0f} us (median; worst {worst_us:.0f} us) "
                              "from the sensor's clock")


def test_imu_times_follow_the_sensors_own_clock(micropython_binary):
    _assert_on_the_sensors_clock(asyncio.run(_imu_anchors(micropython_binary)))


def test_the_clock_check_catches_imu_times_taken_from_the_poll(micropython_binary, tmp_path):
    # Stamped from ticks_us at each poll, the blocks keep the true rate on average but
    # each strays by up to about a sample period (4.8 ms).
    tree = firmware_copy(tmp_path, [("imu.py", "if ts_first >= 0 and self._ref_ts >= 0:", "if False:")])
    anchors = asyncio.run(_imu_anchors(micropython_binary, tree))
    with pytest.raises(AssertionError):
        _assert_on_the_sensors_clock(anchors)
