"""LSM6DSOX pelvis IMU over I2C: accelerometer + gyroscope batched in the sensor's FIFO.

The sensor times the samples (its own ODR clock) and queues them in its FIFO, so the
MCU only drains it every few tens of milliseconds; ``imu_task`` pairs gyro and accel
words into six-axis samples in the IMU ring.

Registers and fields (ST LSM6DSOX datasheet DS12814, section 9, and ST's driver
``lsm6dsox_reg.h``): FIFO_CTRL3 0x09 (BDR_GY 7:4, BDR_XL 3:0), FIFO_CTRL4 0x0A
(FIFO_MODE 2:0, 6 = continuous), WHO_AM_I 0x0F = 0x6C, CTRL1_XL 0x10 (ODR_XL 7:4,
FS_XL 3:2: 10 = +-4 g), CTRL2_G 0x11 (ODR_G 7:4, FS_G 3:2: 01 = 500 dps), CTRL3_C 0x12
(BDU bit 6, IF_INC bit 2, SW_RESET bit 0), FIFO_STATUS1 0x3A (DIFF_FIFO 7:0),
FIFO_STATUS2 0x3B (DIFF_FIFO 9:8 in bits 1:0, FIFO_OVR_IA bit 6), FIFO_DATA_OUT_TAG
0x78 (TAG_SENSOR 7:3: 0x01 gyro, 0x02 accel) then X, Y, Z as int16 LE at 0x79-0x7E.
ODR codes: 0x4 = 104 Hz, 0x5 = 208 Hz. Sensitivity at +-4 g: 0.122 mg/LSB; at 500 dps:
17.5 mdps/LSB (datasheet table 2).
"""
import asyncio
import time

from micropython import const

from glutefw import config

WHO_AM_I_VALUE = const(0x6C)
_FIFO_CTRL3 = const(0x09)
_FIFO_CTRL4 = const(0x0A)
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_TAG = const(0x78)
_FS_XL_4G = const(0b10 << 2)
_FS_G_500DPS = const(0b01 << 2)
_CTRL3_BDU_IF_INC = const(0x44)
_FIFO_MODE_BYPASS = const(0)
_FIFO_MODE_CONTINUOUS = const(6)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)
_FIFO_OVR = const(1 << 6)
_MAX_WORDS_PER_POLL = const(64)

_ODR_CODE = {104: 0x4, 208: 0x5}


class Lsm6dsox:
    """Driver writing six-axis samples (ax ay az gx gy gz, raw LSB) into ``ring``.

    Parameters
    ----------
    i2c : machine.I2C
    ring : glutefw.ringbuf.Ring
        IMU ring (typecode 'h'); reset to width 6 at each ``start``.
    addr : int
        I2C address (0x6A with SA0 low).
    """

    def __init__(self, i2c, ring, addr=config.IMU_ADDR):
        self.i2c = i2c
        self.ring = ring
        self.addr = addr
        self.fs_hz = 0
        self.running = False
        self.fifo_overruns = 0
        self._word = bytearray(7)
        self._status = bytearray(2)
        self._sample = bytearray(12)
        self._sample_mv = memoryview(self._sample)
        self._have_gyro = False
        self._have_accel = False
        self.data_ready = asyncio.ThreadSafeFlag()

    def _write(self, reg, value):
        self._word[0] = value
        self.i2c.writeto_mem(self.addr, reg, memoryview(self._word)[:1])

    def probe(self):
        """True if an LSM6DSOX answers WHO_AM_I; False if absent or another chip."""
        try:
            return self.i2c.readfrom_mem(self.addr, _WHO_AM_I, 1)[0] == WHO_AM_I_VALUE
        except OSError:
            return False

    def start(self, fs_hz):
        """Run both sensors at ``fs_hz`` (104 or 208) into the FIFO; IMU index restarts at 0."""
        if fs_hz not in _ODR_CODE:
            raise ValueError("imu_fs_hz must be one of %r, got %r" % (tuple(_ODR_CODE), fs_hz))
        odr = _ODR_CODE[fs_hz]
        self._write(_CTRL3_C, _CTRL3_BDU_IF_INC)
        self._write(_FIFO_CTRL4, _FIFO_MODE_BYPASS)  # bypass empties the FIFO
        self._write(_CTRL1_XL, (odr << 4) | _FS_XL_4G)
        self._write(_CTRL2_G, (odr << 4) | _FS_G_500DPS)
        self._write(_FIFO_CTRL3, (odr << 4) | odr)
        self.ring.reset(6, fs_hz)
        self._have_gyro = self._have_accel = False
        self.fs_hz = fs_hz
        self._write(_FIFO_CTRL4, _FIFO_MODE_CONTINUOUS)
        self.running = True

    def stop(self):
        """Power both sensors down and empty the FIFO."""
        if self.running:
            self._write(_FIFO_CTRL4, _FIFO_MODE_BYPASS)
            self._write(_CTRL1_XL, 0)
            self._write(_CTRL2_G, 0)
        self.running = False

    def poll(self):
        """Move what the FIFO holds into the ring; return the number of samples added."""
        self.i2c.readfrom_mem_into(self.addr, _FIFO_STATUS1, self._status)
        n_words = self._status[0] | ((self._status[1] & 0x03) << 8)
        if self._status[1] & _FIFO_OVR:
            self.fifo_overruns += 1
        if n_words > _MAX_WORDS_PER_POLL:
            n_words = _MAX_WORDS_PER_POLL  # the rest next time: keep each poll short
        t_poll = time.ticks_us()
        ring = self.ring
        added = 0
        first = ring.head
        word = self._word
        sample = self._sample
        for _ in range(n_words):
            self.i2c.readfrom_mem_into(self.addr, _FIFO_DATA_OUT_TAG, word)
            tag = word[0] >> 3
            if tag == _TAG_ACCEL:
                for i in range(6):
                    sample[i] = word[1 + i]
                self._have_accel = True
            elif tag == _TAG_GYRO:
                for i in range(6):
                    sample[6 + i] = word[1 + i]
                self._have_gyro = True
            if self._have_accel and self._have_gyro:
                ring.write(self._sample_mv, 1)
                self._have_accel = self._have_gyro = False
                added += 1
        if added:
            # The newest sample is at most one period old; stamp it half a period back.
            period_us = 1_000_000 // self.fs_hz
            t_first = time.ticks_add(t_poll, -(added - 1) * period_us - period_us // 2)
            ring.mark_time(first, t_first)
        return added

    async def imu_task(self, poll_ms=20):
        """Drain the FIFO every ``poll_ms`` while running."""
        while True:
            if self.running:
                if self.poll():
                    self.data_ready.set()
            await asyncio.sleep_ms(poll_ms)
