"""LSM6DSOX pelvis IMU over I2C: accelerometer + gyroscope batched in the sensor's FIFO.

The sensor times the samples (its own ODR clock) and queues them in its FIFO, so the
MCU only drains it every few tens of milliseconds; ``imu_task`` pairs gyro and accel
words into six-axis samples in the IMU ring.

Sample times come from the sensor: its timestamp counter is batched into the FIFO with
every sample set (a TIMESTAMP word precedes the data words it times, as ST's Linux
driver ``st_lsm6dsx_read_tagged_fifo`` reads them). The counter runs on the sensor's
oscillator, like its ODR (typical accuracy +-1.5 %, DS12814 table 3), so it says
exactly how many sensor periods apart samples are but not how long that is for the
MCU. Each poll therefore also reads TIMESTAMP0-3 between two ``ticks_us`` reads, and a
running fit maps the counter onto ticks_us: an offset (a reference pair) and the
sensor's clock error in ppm, re-estimated at every poll against a reference at most
``_FIT_SPAN_US`` old. EMG (ADC clock = MCU crystal) and IMU thus share one timeline
however far the sensor's clock is off. The arithmetic stays below 2**30 so the
MicroPython small ints never become heap objects.

Registers and fields (ST LSM6DSOX datasheet DS12814, section 9, and ST's driver
``lsm6dsox_reg.h``): FIFO_CTRL3 0x09 (BDR_GY 7:4, BDR_XL 3:0), FIFO_CTRL4 0x0A
(FIFO_MODE 2:0, 6 = continuous), WHO_AM_I 0x0F = 0x6C, CTRL1_XL 0x10 (ODR_XL 7:4,
FS_XL 3:2: 10 = +-4 g), CTRL2_G 0x11 (ODR_G 7:4, FS_G 3:2: 01 = 500 dps), CTRL3_C 0x12
(BDU bit 6, IF_INC bit 2, SW_RESET bit 0), FIFO_STATUS1 0x3A (DIFF_FIFO 7:0),
FIFO_STATUS2 0x3B (DIFF_FIFO 9:8 in bits 1:0, FIFO_OVR_IA bit 6), FIFO_DATA_OUT_TAG
0x78 (TAG_SENSOR 7:3: 0x01 gyro, 0x02 accel) then X, Y, Z as int16 LE at 0x79-0x7E.
ODR codes: 0x4 = 104 Hz, 0x5 = 208 Hz. Sensitivity at +-4 g: 0.122 mg/LSB; at 500 dps:
17.5 mdps/LSB (datasheet table 2). Timestamp: CTRL10_C 0x19 TIMESTAMP_EN bit 5,
TIMESTAMP0-3 0x40-0x43 (TIMESTAMP[31:0], 25 us/LSB nominal; writing 0xAA to TIMESTAMP2
resets it), FIFO_CTRL4 DEC_TS_BATCH bits 7:6 (01 = a timestamp every batch), FIFO tag
0x04 = timestamp word with TIMESTAMP[31:0] little-endian in its first four data bytes
(``lsm6dsox_reg.h``: ``lsm6dsox_ctrl10_c_t``, ``lsm6dsox_fifo_ctrl4_t``,
``LSM6DSOX_TIMESTAMP_TAG``; ``lsm6dsox_from_lsb_to_nsec`` = 25 000 ns per LSB).
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
_CTRL10_C = const(0x19)
_TIMESTAMP_EN = const(1 << 5)
_TIMESTAMP0 = const(0x40)
_TIMESTAMP2 = const(0x42)
_TIMESTAMP_RESET = const(0xAA)
_DEC_TS_EVERY_BATCH = const(1 << 6)
_TAG_TIMESTAMP = const(0x04)
_TS_US_PER_LSB = const(25)
_TS_MASK = const((1 << 30) - 1)  # the counter kept to 30 bits (7.4 h), as small ints
_TS_HALF = const(1 << 29)
_PAIR_MAX_US = const(2000)  # a (counter, ticks) pair read slower than this is not used
_FIT_FIRST_US = const(40_000)  # the clock error is first estimated over this span,
_FIT_MIN_US = const(2_000_000)  # after a move of the reference over at least this,
_FIT_SPAN_US = const(8_000_000)  # and the reference moves on after this long

_ODR_CODE = {104: 0x4, 208: 0x5}
LOST_SAMPLE = const(-32768)  # every axis of a sample the FIFO dropped (PROTOCOL.md, IMU block)
_TS_PER_S = const(40_000)  # counter LSB per second at 25 us/LSB


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
        self._clock = bytearray(4)
        self._ts = -1  # the last FIFO timestamp (30 bits), -1 before the first
        self._written_ts = -1  # the timestamp of the newest sample written, -1 before one
        self.lost_samples = 0  # samples the FIFO dropped, written to the ring as LOST_SAMPLE
        self._ref_ts = -1  # reference pair of the counter -> ticks_us fit, -1 before one
        self._ref_t = 0
        # (sensor-counted - ticks_us) elapsed time over sensor-counted, ppm: + = sensor fast.
        self.clock_error_ppm = 0
        self._fit_min_us = _FIT_FIRST_US
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
        self._write(_CTRL10_C, _TIMESTAMP_EN)
        self._write(_TIMESTAMP2, _TIMESTAMP_RESET)
        self.ring.reset(6, fs_hz)
        self._have_gyro = self._have_accel = False
        self._ts = -1
        self._written_ts = -1
        self._ref_ts = -1
        self.clock_error_ppm = 0
        self._fit_min_us = _FIT_FIRST_US
        self.fs_hz = fs_hz
        self._write(_FIFO_CTRL4, _FIFO_MODE_CONTINUOUS | _DEC_TS_EVERY_BATCH)
        self.running = True

    def stop(self):
        """Power both sensors down and empty the FIFO."""
        if self.running:
            self._write(_FIFO_CTRL4, _FIFO_MODE_BYPASS)
            self._write(_CTRL1_XL, 0)
            self._write(_CTRL2_G, 0)
        self.running = False

    # -- the sensor's clock on ticks_us ----------------------------------------------
    def _read_clock(self):
        """Read the counter between two ticks_us reads and feed the pair to the fit."""
        t0 = time.ticks_us()
        self.i2c.readfrom_mem_into(self.addr, _TIMESTAMP0, self._clock)
        t1 = time.ticks_us()
        c = self._clock
        ts = c[0] | (c[1] << 8) | (c[2] << 16) | ((c[3] & 0x3F) << 24)
        wait = time.ticks_diff(t1, t0)
        if wait > _PAIR_MAX_US:
            return  # something ran in between: this pair would only add error
        t = time.ticks_add(t0, wait // 2)
        if self._ref_ts < 0:
            self._ref_ts = ts
            self._ref_t = t
            return
        nom = self._lsb(ts) * _TS_US_PER_LSB
        if nom >= self._fit_min_us:
            # (elapsed - nominal) / nominal in ppm, in pieces below 2**30.
            self.clock_error_ppm = -(time.ticks_diff(t, self._ref_t) - nom) * 1000 // (nom // 1000)
        if nom >= _FIT_SPAN_US:
            # Move the reference onto the fitted line here, so its reading error never adds up.
            self._ref_t = self.ticks_at(ts)
            self._ref_ts = ts
            self._fit_min_us = _FIT_MIN_US

    def _lsb(self, ts):
        """Counter LSB from the reference to ``ts`` (signed, modulo 2**30)."""
        return ((ts - self._ref_ts + _TS_HALF) & _TS_MASK) - _TS_HALF

    def ticks_at(self, ts):
        """ticks_us at which the counter read ``ts`` (30 bits), from the running fit."""
        nom = self._lsb(ts) * _TS_US_PER_LSB
        # A clock running fast (+ppm) packs more LSB into each microsecond.
        corr = -(nom // 1000) * self.clock_error_ppm // 1000
        return time.ticks_add(self._ref_t, nom + corr)

    def poll(self):
        """Move what the FIFO holds into the ring; return the number of samples added."""
        self._read_clock()
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
        ts_first = -1
        word = self._word
        sample = self._sample
        for _ in range(n_words):
            self.i2c.readfrom_mem_into(self.addr, _FIFO_DATA_OUT_TAG, word)
            tag = word[0] >> 3
            if tag == _TAG_TIMESTAMP:
                self._ts = word[1] | (word[2] << 8) | (word[3] << 16) | ((word[4] & 0x3F) << 24)
                # A timestamp opens each batch: half a sample left from the last one lost
                # its other half when a full FIFO dropped its oldest words.
                self._have_accel = self._have_gyro = False
            elif tag == _TAG_ACCEL:
                for i in range(6):
                    sample[i] = word[1 + i]
                self._have_accel = True
            elif tag == _TAG_GYRO:
                for i in range(6):
                    sample[6 + i] = word[1 + i]
                self._have_gyro = True
            if self._have_accel and self._have_gyro:
                missing = self._missing_before(self._ts)
                if missing:
                    # Keep the index on the sensor's ODR: the dropped samples get their
                    # places, marked lost, so every later sample keeps its own index.
                    ring.skip(missing, LOST_SAMPLE)
                    self.lost_samples += missing
                    if not added:
                        first = ring.head
                self._written_ts = self._ts
                ring.write(self._sample_mv, 1)
                self._have_accel = self._have_gyro = False
                if not added:
                    ts_first = self._ts
                added += 1
        if added:
            if ts_first >= 0 and self._ref_ts >= 0:
                t_first = self.ticks_at(ts_first)  # the sensor's own time of the sample
            else:
                # No timestamp yet: the newest sample is at most one period old.
                period_us = 1_000_000 // self.fs_hz
                t_first = time.ticks_add(t_poll, -(added - 1) * period_us - period_us // 2)
            ring.mark_time(first, t_first)
        return added

    def _missing_before(self, ts):
        """Samples the FIFO dropped between the newest one written and the one timed ``ts``.

        Consecutive samples are one ODR period apart on the sensor's own counter (both run
        on its oscillator), so the gap in counter LSB says how many sets are missing
        whatever the oscillator's error. Worked in pieces below 2**30 (small ints).
        """
        if self._written_ts < 0 or ts < 0:
            return 0
        d = (ts - self._written_ts) & _TS_MASK
        if d >= _TS_HALF:
            return 0  # a counter that went back: nothing to count
        q = d // _TS_PER_S
        periods = q * self.fs_hz + ((d - q * _TS_PER_S) * self.fs_hz + _TS_PER_S // 2) // _TS_PER_S
        return periods - 1 if periods > 1 else 0

    async def imu_task(self, poll_ms=20):
        """Drain the FIFO every ``poll_ms`` while running."""
        while True:
            if self.running:
                if self.poll():
                    self.data_ready.set()
            await asyncio.sleep_ms(poll_ms)
