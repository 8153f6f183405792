"""LSM6DSOX driver on the register model: samples at the ODR, paired and scaled right."""
import asyncio

import numpy as np
import pytest

from glutescope.virtual import mcu, upy
from glutescope.virtual.lsm6dsox_model import Lsm6dsoxModel


class Motion:
    """Known motion: sample k has acc (k/1000, -0.5, 1) g and gyro (k/10, 250, -499) dps."""

    def __init__(self):
        self.k = 0

    def __call__(self, n):
        k = self.k + np.arange(n)
        self.k += n
        acc = np.stack([k / 1000, np.full(n, -0.5), np.ones(n)], axis=1)
        gyro = np.stack([k / 10, np.full(n, 250.0), np.full(n, -499.0)], axis=1)
        return acc, gyro


@pytest.fixture
def imu_setup():
    upy.install(upy.VirtualClock(speed=4.0))
    board = mcu.install(mcu.Board())
    model = Lsm6dsoxModel(Motion())
    board.i2c_devices[0x6A] = model
    import machine
    from glutefw import config
    from glutefw.imu import Lsm6dsox
    from glutefw.ringbuf import Ring

    ring = Ring("h", config.IMU_RING_SAMPLES * 6, 64)
    imu = Lsm6dsox(machine.I2C(0), ring)
    yield imu, ring, model, board
    mcu.uninstall()
    upy.install(upy.VirtualClock())


def _samples(ring):
    n = ring.head - ring.oldest
    dst = bytearray(12 * n)
    ring.read_into(memoryview(dst), ring.oldest, n)
    return np.frombuffer(bytes(dst), "<i2").reshape(n, 6).T  # (6, n_samples)


@pytest.mark.parametrize("fs_hz", [104, 208])
def test_samples_arrive_at_the_odr_with_datasheet_scaling(imu_setup, fs_hz):
    imu, ring, model, _ = imu_setup
    from glutefw import config

    regs = []

    async def main():
        assert imu.probe()
        imu.start(fs_hz)
        regs.extend(model.regs[0x10:0x12])
        task = asyncio.create_task(imu.imu_task(poll_ms=20))
        await asyncio.sleep_ms(1000)
        imu.stop()
        task.cancel()

    asyncio.run(main())
    # One second of samples, less what arrived after the last 20 ms poll.
    assert fs_hz - fs_hz // 25 - 2 <= ring.head <= fs_hz + 1
    s = _samples(ring).astype(float)
    k = np.arange(ring.head)
    np.testing.assert_allclose(s[0] * config.ACC_G_PER_LSB, k / 1000, atol=config.ACC_G_PER_LSB)
    np.testing.assert_allclose(s[1] * config.ACC_G_PER_LSB, -0.5, atol=config.ACC_G_PER_LSB)
    np.testing.assert_allclose(s[2] * config.ACC_G_PER_LSB, 1.0, atol=config.ACC_G_PER_LSB)
    np.testing.assert_allclose(s[3] * config.GYRO_DPS_PER_LSB, k / 10, atol=config.GYRO_DPS_PER_LSB)
    np.testing.assert_allclose(s[4] * config.GYRO_DPS_PER_LSB, 250, atol=config.GYRO_DPS_PER_LSB)
    np.testing.assert_allclose(s[5] * config.GYRO_DPS_PER_LSB, -499, atol=config.GYRO_DPS_PER_LSB)
    odr = 0x4 if fs_hz == 104 else 0x5
    assert regs == [odr << 4 | 0b1000, odr << 4 | 0b0100]  # +-4 g, 500 dps
    assert model.regs[0x10] == model.regs[0x11] == 0  # stopped: powered down


def test_sample_times_follow_the_odr(imu_setup):
    imu, ring, _, _ = imu_setup

    async def main():
        t_start = upy.ticks_us()
        imu.start(104)
        task = asyncio.create_task(imu.imu_task(poll_ms=20))
        await asyncio.sleep_ms(500)
        imu.stop()
        task.cancel()
        return t_start

    t_start = asyncio.run(main())
    for k in (0, 20, ring.head - 1):
        truth = t_start + (k + 1) * 1e6 / 104
        err = upy.ticks_diff(ring.time_of(k), int(truth) & (2**30 - 1))
        assert abs(err) <= 1e6 / 104 + 3000


def test_wrong_chip_is_not_taken_for_an_lsm6dsox(imu_setup):
    imu, _, model, board = imu_setup
    model.regs[0x0F] = 0x6A  # an LSM6DS3
    assert not imu.probe()
    del board.i2c_devices[0x6A]
    assert not imu.probe()


def test_unsupported_rate_is_refused(imu_setup):
    imu = imu_setup[0]
    with pytest.raises(ValueError, match="imu_fs_hz must be one of \\(104, 208\\), got 52"):
        imu.start(52)


def test_fifo_overrun_is_counted(imu_setup):
    imu, ring, model, _ = imu_setup

    async def main():
        imu.start(208)
        await asyncio.sleep_ms(3000)  # nobody drains: 1248 words > 1023
        imu.poll()

    asyncio.run(main())
    assert imu.fifo_overruns == 1



def test_samples_a_full_fifo_dropped_keep_their_places_marked_lost(imu_setup):
    # The IMU task stalls for 3 s mid-stream (as when a long RESEND or a flash write
    # holds the loop): the full FIFO drops its oldest words, half samples among them.
    # The driver must not pair an orphan gyro word with the next accel word, and must
    # leave each dropped sample's index to it, marked lost, so every later sample keeps
    # its own index (sample k is motion sample k) and its time.
    imu, ring, model, _ = imu_setup
    from glutefw import config
    from glutefw.imu import LOST_SAMPLE

    async def main():
        imu.start(208)
        for _ in range(25):  # 0.5 s drained every 20 ms
            await asyncio.sleep_ms(20)
            imu.poll()
        await asyncio.sleep_ms(3000)  # nobody drains: 1872 words > 1023
        for _ in range(20):  # 64 words a poll: 16 polls drain it
            imu.poll()
            await asyncio.sleep_ms(20)

    asyncio.run(main())
    s = _samples(ring)
    lost = np.all(s == LOST_SAMPLE, axis=0)
    k = ring.oldest + np.flatnonzero(~lost)
    s = s[:, ~lost]
    # Every sample held is motion sample k at index k (acc x = k / 1000 g, gyro x = k / 10 dps).
    np.testing.assert_allclose(s[0] * config.ACC_G_PER_LSB, k / 1000, atol=config.ACC_G_PER_LSB)
    np.testing.assert_allclose(s[3] * config.GYRO_DPS_PER_LSB, k / 10, atol=config.GYRO_DPS_PER_LSB)
    # The lost ones are one run, about as long as the FIFO overflowed by, and counted.
    run = ring.oldest + np.flatnonzero(lost)
    assert run.size and np.all(np.diff(run) == 1)
    assert run.size == imu.lost_samples and imu.fifo_overruns >= 1
    # At least the sets 3 s produce beyond what the FIFO holds (3 words a set); the exact
    # number follows from every held sample sitting at its own index, checked above.
    assert run.size >= (1872 - 1023) // 3
    assert ring.head >= 208 * 3.7
    # Times stay on the ODR across the hole.
    for idx in (int(k[0]), int(run[-1]) + 1, int(k[-1])):
        truth = int(model.sample_time_us(idx)) & (2**30 - 1)
        assert abs(upy.ticks_diff(ring.time_of(idx), truth)) <= 1e6 / 208 + 3000


@pytest.mark.parametrize("odr_error,seconds", [(0.015, 150), (-0.015, 60)])
def test_sample_times_stay_on_the_mcu_clock_as_the_sensor_clock_drifts(odr_error, seconds):
    # The sensor's oscillator is 1.5 % off (the datasheet's typical ODR accuracy): after
    # a minute its samples are 0.9 s away from where the nominal rate puts them (2.25 s
    # after 150 s). Stamped from the FIFO timestamps through the running fit, every one
    # stays within one IMU period of the truth, all the way.
    upy.install(upy.VirtualClock(speed=5.0, start_us=2**30 - 5_000_000))
    board = mcu.install(mcu.Board(imu=False))
    model = Lsm6dsoxModel(Motion(), odr_error=odr_error)
    board.i2c_devices[0x6A] = model
    try:
        import machine
        from glutefw import config
        from glutefw.imu import Lsm6dsox
        from glutefw.ringbuf import Ring

        ring = Ring("h", config.IMU_RING_SAMPLES * 6, config.TIME_ANCHORS // 4)
        imu = Lsm6dsox(machine.I2C(0), ring)
        errors, nominal = [], []  # stamp - truth, and nominal rate after the first anchor - truth
        fs_hz = 208
        t_first = []

        async def check_every_second():
            while True:
                await asyncio.sleep_ms(1000)
                if not t_first:
                    t_first.append(ring.time_of(0))
                newest = ring.head - 1
                for k in range(max(ring.oldest, newest - 100), newest):
                    truth = int(model.sample_time_us(k)) & (2**30 - 1)
                    errors.append(upy.ticks_diff(ring.time_of(k), truth))
                    at_nominal = upy.ticks_add(t_first[0], int(k * 1e6 / fs_hz))
                    nominal.append(upy.ticks_diff(at_nominal, truth))

        async def main():
            imu.start(fs_hz)
            tasks = [asyncio.create_task(imu.imu_task(poll_ms=20)),
                     asyncio.create_task(check_every_second())]
            await asyncio.sleep_ms(seconds * 1000)
            imu.stop()
            for t in tasks:
                t.cancel()

        asyncio.run(main())
    finally:
        mcu.uninstall()
        upy.install(upy.VirtualClock())
    errors = np.abs(np.array(errors))
    period_us = 1e6 / fs_hz
    assert len(errors) > 5_000 and ring.head > 0.98 * seconds * fs_hz * (1 + odr_error)
    assert errors.max() < period_us, f"worst {errors.max():.0f} us"
    assert np.median(errors) < 500, f"median {np.median(errors):.0f} us"
    # What the nominal rate after the first anchor would have done instead:
    assert np.abs(np.array(nominal)).max() > 800_000
    assert imu.clock_error_ppm == pytest.approx(1e6 * odr_error / (1 + odr_error), abs=100)
