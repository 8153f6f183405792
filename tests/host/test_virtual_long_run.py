"""The virtual wearable's parts hold no per-sample history: a workday costs no more memory than a minute.

The virtual wearable runs in the host's own process (``record`` and ``demo`` on the
virtual wearable), so whatever its hardware models keep per sample shows up as the
host's RSS growing over a long session. The IMU model once kept the time of every
batch it produced (104 floats a second, ~3.3 kB per second of signal).
"""
import tracemalloc

import numpy as np
import pytest

from glutescope.virtual import upy
from glutescope.virtual.lsm6dsox_model import Lsm6dsoxModel

_FS_HZ = 104.0


class _SetClock(upy.VirtualClock):
    """A device clock the test moves by hand (no host time involved)."""

    def __init__(self) -> None:
        super().__init__()
        self.t_us = 0

    def now_us(self) -> int:
        return self.t_us


@pytest.fixture
def clock():
    c = upy.install(_SetClock())
    yield c
    upy.install(upy.VirtualClock())


def _batching(model: Lsm6dsoxModel) -> None:
    model.write(0x10, bytes([0x48]))  # CTRL1_XL: 104 Hz, +-4 g
    model.write(0x11, bytes([0x44]))  # CTRL2_G: 104 Hz, +-500 dps
    model.write(0x09, bytes([0x44]))  # FIFO_CTRL3: batch both at 104 Hz
    model.write(0x0A, bytes([0x06]))  # FIFO_CTRL4: continuous mode


def _run(model: Lsm6dsoxModel, clock: _SetClock, seconds: int) -> None:
    for _ in range(seconds):
        clock.t_us += 1_000_000
        model.read(0x3A, 2)  # FIFO_STATUS: the model catches up to the clock
        model.fifo.clear()  # the driver drains it; only the model's own state stays


def test_the_imu_model_keeps_no_per_sample_state_over_an_hour(clock):
    model = Lsm6dsoxModel(odr_error=0.008)
    _batching(model)
    _run(model, clock, 60)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _run(model, clock, 3600)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 374 400 batches later: a stored time per batch would be ~11 MB.
    assert model._produced == pytest.approx(3660 * _FS_HZ * 1.008, abs=2)
    assert grown < 20_000, f"the IMU model grew by {grown} bytes over an hour of signal"


def test_batch_times_follow_the_sensors_own_clock(clock):
    # Known answer: batch k enters the FIFO (k + 1) periods of the sensor's oscillator
    # (0.8 % fast) after batching began.
    clock.t_us = 5_000_000
    model = Lsm6dsoxModel(odr_error=0.008)
    _batching(model)
    k = np.array([0, 1, 103, 374_399])
    expected = 5_000_000 + (k + 1) * 1e6 / (_FS_HZ * 1.008)
    assert np.allclose(model.sample_time_us(k), expected, rtol=0, atol=1e-3)
    model.write(0x0A, bytes([0x00]))  # bypass: no batching, no batch times
    with pytest.raises(ValueError, match="not batching"):
        model.sample_time_us(0)
