"""Fake of the ST LSM6DSOX IMU on I2C: the registers the firmware uses, in virtual time.

It stands in for the sensor, which cannot exist here. Modelled: WHO_AM_I (0x6C),
CTRL1_XL / CTRL2_G (ODR and full scale), CTRL3_C, CTRL10_C (TIMESTAMP_EN, bit 5),
FIFO_CTRL1-4 (FIFO_CTRL4: FIFO_MODE bits 2:0, DEC_TS_BATCH bits 7:6), FIFO_STATUS1/2,
TIMESTAMP0-3 (0x40-0x43) and the FIFO output (FIFO_DATA_OUT_TAG + 6 bytes). While the
FIFO is in continuous mode with both sensors batched, every 1/ODR of the *sensor's*
clock a TIMESTAMP word (tag 0x04, TIMESTAMP[31:0] little-endian, when DEC_TS_BATCH
asks for one in that batch), then one gyro word, then one accel word enter the FIFO,
from ``motion_source(n) -> (acc_g (n, 3), gyro_dps (n, 3))``, scaled by the configured
full scale and clipped to int16. A full FIFO drops its oldest words and sets FIFO_OVR_IA.

The sensor's clock is its own oscillator, off by ``odr_error`` (the datasheet DS12814
gives a typical ODR accuracy of +-1.5 %): its ODR is ``(1 + odr_error)`` times the
nominal one, and its timestamp counter (25 us per LSB nominal, DS12814 section 9;
AN5272 "Timestamp") counts ``(1 + odr_error)`` times 40 kHz, since both come from it.
A timestamp therefore says exactly how many sensor periods apart two samples are,
but not how long that is on the MCU's clock. Writing 0xAA to TIMESTAMP2 resets the
counter. Not modelled: interrupts, temperature, compression, embedded functions,
INTERNAL_FREQ_FINE, the timestamp word's two configuration bytes (read as 0).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from glutescope.virtual import upy

__all__ = ["Lsm6dsoxModel", "still"]

WHO_AM_I = 0x6C
_ODR_HZ = {1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0, 8: 1666.0}
_XL_MG_PER_LSB = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}  # FS_XL 00 2g, 01 16g, 10 4g, 11 8g
_G_MDPS_PER_LSB = {0: 8.75, 1: 17.5, 2: 35.0, 3: 70.0}  # FS_G 00 250, 01 500, 10 1000, 11 2000
_FIFO_WORDS = 1023  # what DIFF_FIFO (10 bits) can report; the real FIFO holds 9 kB
_TAG_GYRO, _TAG_ACCEL, _TAG_TIMESTAMP = 0x01, 0x02, 0x04
_TS_HZ = 40_000.0  # timestamp counter rate at the nominal oscillator (25 us per LSB)
_DEC_TS = {0: 0, 1: 1, 2: 8, 3: 32}  # DEC_TS_BATCH: one timestamp word every n batches


def still(n: int):
    """Motion source of a sensor lying flat and still: +1 g on z, no rotation."""
    acc = np.zeros((n, 3))
    acc[:, 2] = 1.0
    return acc, np.zeros((n, 3))


class Lsm6dsoxModel:
    """Register model of an LSM6DSOX; attach with ``board.i2c_devices[0x6A] = model``.

    Parameters
    ----------
    motion_source : callable, optional
        ``motion_source(n) -> (acc_g (n, 3), gyro_dps (n, 3))``; lying still if omitted.
    odr_error : float
        Relative error of the sensor's oscillator (ODR and timestamp rate), e.g. 0.015.
    """

    def __init__(self, motion_source: Optional[Callable] = None, odr_error: float = 0.0):
        if not -0.1 < odr_error < 0.1:
            raise ValueError(f"odr_error must be within +-0.1, got {odr_error!r}")
        self.motion_source = motion_source or still
        self.clock_scale = 1.0 + float(odr_error)
        self._ts_t0_us: Optional[float] = None  # when the timestamp counter was at 0
        self.regs = bytearray(128)
        self.regs[0x0F] = WHO_AM_I
        self.fifo: list[bytes] = []
        self.overrun = False
        self._t0_us = 0.0
        self._produced = 0
        self._tag_cnt = 0
        self.batching_hz = 0.0

    # -- bus interface used by the fake machine.I2C ------------------------------------
    def read(self, reg: int, n: int) -> bytes:
        t_us = float(upy.clock.now_us())
        self._fill()
        if reg == 0x78:
            if n > 7:
                raise NotImplementedError("burst reads past FIFO_DATA_OUT_Z_H are not modelled")
            word = self.fifo.pop(0) if self.fifo else bytes(7)
            return word[:n]
        # The counter is latched mid-transaction; here the transaction is this call,
        # whose length is the model's own work, so latch it half-way through.
        t_us = (t_us + float(upy.clock.now_us())) / 2
        ts = self._timestamp(t_us).to_bytes(4, "little")
        out = bytearray()
        for r in range(reg, reg + n):
            out.append(ts[r - 0x40] if 0x40 <= r <= 0x43 else self._reg(r))
        return bytes(out)

    def write(self, reg: int, data: bytes) -> None:
        self._fill()
        for i, b in enumerate(data):
            r = reg + i
            if r in (0x0F, 0x3A, 0x3B) or r >= 0x78:
                continue  # read-only
            if r == 0x12 and b & 1:  # SW_RESET
                self.regs[:] = bytes(128)
                self.regs[0x0F] = WHO_AM_I
                self.fifo.clear()
                self._ts_t0_us = None
                continue
            if r == 0x42 and b == 0xAA:  # timestamp counter reset
                self._ts_t0_us = float(upy.clock.now_us())
                continue
            if 0x40 <= r <= 0x43:
                continue  # read-only
            if r == 0x19:
                on, was = bool(b & 0x20), bool(self.regs[0x19] & 0x20)
                if on and not was:
                    self._ts_t0_us = float(upy.clock.now_us())
                elif was and not on:
                    self._ts_t0_us = None
            self.regs[r] = b
        self._reconfigure()

    # -- model ---------------------------------------------------------------------------
    def _reg(self, r: int) -> int:
        if r == 0x3A:
            return len(self.fifo) & 0xFF
        if r == 0x3B:
            v = (len(self.fifo) >> 8) & 0x03
            if self.overrun:
                v |= 1 << 6 | 1 << 3  # FIFO_OVR_IA, OVER_RUN_LATCHED
                self.overrun = False
            return v
        return self.regs[r]

    def _rate_hz(self) -> float:
        mode = self.regs[0x0A] & 0x07
        bdr_xl, bdr_g = self.regs[0x09] & 0x0F, self.regs[0x09] >> 4
        odr_xl, odr_g = self.regs[0x10] >> 4, self.regs[0x11] >> 4
        if mode != 6 or not (bdr_xl and bdr_g and odr_xl and odr_g):
            return 0.0
        if len({bdr_xl, bdr_g, odr_xl, odr_g}) != 1:
            raise NotImplementedError("the model batches accel and gyro at one common ODR only")
        return _ODR_HZ[bdr_xl]

    def _reconfigure(self) -> None:
        rate = self._rate_hz()
        if (self.regs[0x0A] & 0x07) == 0:
            self.fifo.clear()  # bypass mode empties the FIFO
        if rate != self.batching_hz:
            self.batching_hz = rate
            self._t0_us = float(upy.clock.now_us())
            self._produced = 0

    def _timestamp(self, t_us: float) -> int:
        """TIMESTAMP[31:0] at virtual time ``t_us`` (0 while the counter is off)."""
        if self._ts_t0_us is None:
            return 0
        return int((t_us - self._ts_t0_us) * _TS_HZ * self.clock_scale / 1e6) & 0xFFFFFFFF

    def _fill(self) -> None:
        if not self.batching_hz:
            return
        rate_hz = self.batching_hz * self.clock_scale  # the sensor's own, not the nominal ODR
        due = int((upy.clock.now_us() - self._t0_us) * rate_hz / 1e6)
        n = due - self._produced
        if n <= 0:
            return
        first = self._produced
        self._produced = due
        acc_g, gyro_dps = self.motion_source(n)
        acc_g = np.asarray(acc_g, dtype=float).reshape(n, 3)
        gyro_dps = np.asarray(gyro_dps, dtype=float).reshape(n, 3)
        acc_lsb = self._to_lsb(acc_g * 1000.0 / _XL_MG_PER_LSB[(self.regs[0x10] >> 2) & 3])
        gyro_lsb = self._to_lsb(gyro_dps * 1000.0 / _G_MDPS_PER_LSB[(self.regs[0x11] >> 2) & 3])
        dec = _DEC_TS[self.regs[0x0A] >> 6]
        for i in range(n):
            if dec and (first + i) % dec == 0 and self._ts_t0_us is not None:
                ts = self._timestamp(self.sample_time_us(first + i)).to_bytes(4, "little")
                self._push(_TAG_TIMESTAMP, np.frombuffer(ts + bytes(2), dtype="<i2"))
            self._push(_TAG_GYRO, gyro_lsb[i])
            self._push(_TAG_ACCEL, acc_lsb[i])

    def sample_time_us(self, k):
        """Virtual time in µs (since the clock's epoch, unwrapped) at which batch ``k`` of the
        current batching run entered the FIFO; ``k`` an int or an integer array.

        Computed from the sensor's own rate rather than stored: a list of every batch's time
        grew by 104 floats a second, without bound over a day-long session.
        """
        if not self.batching_hz:
            raise ValueError("sample_time_us: the sensor is not batching (no FIFO rate configured)")
        rate_hz = self.batching_hz * self.clock_scale
        return self._t0_us + (np.asarray(k, dtype=np.float64) + 1) * 1e6 / rate_hz

    @staticmethod
    def _to_lsb(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), -32768, 32767).astype("<i2")

    def _push(self, tag: int, xyz: np.ndarray) -> None:
        # TAG_CNT (bits 2:1) counts batches; the driver must look at TAG_SENSOR only.
        self._tag_cnt = (self._tag_cnt + (tag == _TAG_GYRO)) & 3
        tag_byte = (tag << 3) | (self._tag_cnt << 1)
        tag_byte |= bin(tag_byte).count("1") & 1  # parity bit
        self.fifo.append(bytes([tag_byte]) + xyz.tobytes())
        if len(self.fifo) > _FIFO_WORDS:
            del self.fifo[0]
            self.overrun = True
