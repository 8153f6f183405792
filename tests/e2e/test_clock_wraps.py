"""The host's timeline stays on the wearable's clock across 30-bit wraps, drift included.

The virtual wearable's crystal runs 35 ppm fast and its clock is powered up 10 s before
the 2**30 µs wrap; at a fast clock the stream then crosses two wraps (at 10 s and
1084 s of device time). All along, the truth comes from the hardware models, not from
the host: the ADC model's conversion times (when each EMG sample was converted), the
IMU model's batch times, and the virtual clock's own device-to-host mapping. Checked
every host second on the newest blocks:

- each live block's unwrapped device time is the time its first sample was converted
  (PROTOCOL.md), to within the firmware's stamping error;
- the host timeline (`DeviceClock.to_host_ns` of that time) is when the sample was
  converted on the host's clock, to within a few ms of host time;
- the IMU's stamps fall in the same era, and are the sensor's own batch times while
  its FIFO has never overflowed;
- the drift estimate is the true rate of the device clock against the host's
  (``speed * (1 + 35 ppm)`` device µs per host µs), to within the delay jitter's reach.
"""
import asyncio

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow

EMG_FS_HZ = 1000
IMU_FS_HZ = 104
SPEED = 8.0
DRIFT_PPM = 35.0
WRAP_US = 1 << 30
START_US = WRAP_US - 10_000_000  # 10 s before the first wrap
END_S = 1150.0  # device seconds of signal: past the second wrap (1083.7 s) by a minute (~2.5 min at x8)
SKIP_S = 20.0  # the clock fit's first seconds (few pairs yet) are not checked

# Bounds, about twice the worst measured at x8 on a 2-core machine under a load of 4-8
# (the simulator shares the cores; its sender backlogs, delaying frames in host time):
STAMP_US = 1500.0  # EMG stamp vs conversion time, device µs (measured up to 0.48 ms)
IMU_STAMP_US = 0.25e6 / IMU_FS_HZ  # IMU stamp vs the sensor's batch time (a quarter period)
HOST_MS = 25.0  # host timeline vs truth, host ms (measured up to 11.4 ms, ~1 ms once settled)
DRIFT_TOL_PPM = 250.0  # drift estimate vs truth, ppm of host time (measured up to 104)
# An unwrap that slipped an era would be off by 2**30 µs (134 s of host time at x8): these
# bounds catch it by five orders of magnitude. They cannot resolve the crystal's 35 ppm,
# which at x8 is 4.4 ppm of host time, under this jitter: the drift estimator's resolution
# is checked on known answers in tests/host/test_stream_assembly.py.


def _emg_truth_us(board, idx: np.ndarray) -> np.ndarray:
    """Device µs at which EMG sample ``idx`` (its round's first conversion) completed."""
    t_start_us, inputs, period_us = board.adc_starts[-1]
    passes = round(1e6 / (EMG_FS_HZ * len(inputs) * period_us))  # slow rates keep one pass in n
    return t_start_us + (idx * len(inputs) * passes + 1) * period_us


async def _scenario():
    transport = VirtualTransport(exercise="bridges", seed=5, speed=SPEED, emg_fs_hz=EMG_FS_HZ,
                                 imu_fs_hz=IMU_FS_HZ, channels=("glute_max_left",), drift_ppm=DRIFT_PPM,
                                 clock_start_us=START_US)
    acq = Acquisition(transport)
    await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=0b1, imu_fs_hz=IMU_FS_HZ)
    wearable = transport.wearable
    clock = wearable.clock
    imu_model = wearable.board.i2c_devices[0x6A]
    rows = []  # device s, newest unwrapped µs, emg stamp err, imu stamp err, host err ms, drift err
    try:
        while acq.emg.end_sample < END_S * EMG_FS_HZ:
            await asyncio.sleep(1.0)
            if acq.emg.end_sample < SKIP_S * EMG_FS_HZ:
                continue
            idx, u = acq.emg.current().anchors[:, -20:]
            true_us = _emg_truth_us(wearable.board, idx)
            host_err_ns = acq.session.clock.to_host_ns(u) - np.array([clock.host_time_at(t) for t in true_us]) * 1e9
            iidx, iu = acq.imu.current().anchors[:, -5:]
            true_drift_ppm = (1.0 / clock.rate - 1.0) * 1e6
            overruns = acq.status.emg_overruns if acq.status is not None else 0
            rows.append((acq.emg.end_sample / EMG_FS_HZ, int(u.max()),
                         float(np.abs(u - true_us).max()), float(np.abs(iu - imu_model.sample_time_us(iidx)).max()),
                         float(np.abs(host_err_ns).max() / 1e6), acq.session.clock.drift_ppm - true_drift_ppm,
                         float(iu.max() - u.max()), overruns))
    finally:
        await acq.close()
    return rows


def test_host_timeline_follows_the_wearable_clock_across_two_wraps():
    rows = np.array(asyncio.run(asyncio.wait_for(_scenario(), 600)))
    device_s, newest_us, stamp_us, imu_stamp_us, host_ms, drift_err, imu_lead_us, overruns = rows.T
    # The stream crossed both wraps, and the unwrapped count kept going past 2**31.
    assert newest_us.max() > 2 * WRAP_US and newest_us.min() < 2 * WRAP_US, newest_us[[0, -1]]
    assert np.all(np.diff(newest_us) >= 0)
    assert stamp_us.max() < STAMP_US, f"EMG stamps off by up to {stamp_us.max():.0f} µs"
    # Both streams unwrap into the same era: the newest IMU and EMG blocks are seconds apart
    # at most (a starved simulator backlogs one stream), never 2**30 µs (17.9 min).
    assert np.abs(imu_lead_us).max() < 60e6, np.abs(imu_lead_us).max()
    # IMU stamp k is the sensor's batch k only until its FIFO first overflows (a starved
    # simulator): the firmware then stamps the surviving samples by the sensor's timestamp,
    # but their stream indices close up over the lost batches, which leave no gap.
    intact = overruns == 0
    assert np.all(imu_stamp_us[intact] < IMU_STAMP_US), f"IMU stamps off by up to {imu_stamp_us[intact].max():.0f} µs"
    assert host_ms.max() < HOST_MS, (f"host timeline off by up to {host_ms.max():.2f} ms "
                                     f"(at {device_s[host_ms.argmax()]:.0f} s of signal)")
    assert np.abs(drift_err).max() < DRIFT_TOL_PPM, f"drift estimate off by up to {np.abs(drift_err).max():.1f} ppm"
