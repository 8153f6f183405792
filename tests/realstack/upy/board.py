"""Stand-in RP2350 ADC + DMA and LSM6DSOX, in MicroPython, for the real-interpreter layer.

Only the hardware the unix port lacks is modelled, and only the surface the firmware
uses (see the ``machine`` and ``rp2`` stand-ins beside this file). Each conversion and
each IMU word is the known input of ``known.py``, so the host can check every sample.

The hardware runs in real time (``time.ticks_us``) but is evaluated lazily: whenever the
firmware touches an ADC register, a DMA channel or the I2C bus, everything that silicon
would have done since the last touch is done first, conversion by conversion:

- The ADC free-runs in round robin at ``48 MHz * 256 / (256 + DIV)`` conversions/s
  (RP2350 datasheet 12.4.3.3: one conversion every 1 + INT + FRAC/256 cycles, >= 96).
  Each result goes to the DMA channel paced by DREQ_ADC (48) if one is busy, else into
  the 4-deep FIFO; a full FIFO drops the result and sets FCS.OVER (datasheet 12.4.3.4).
- A DMA transfer writes the 16-bit code at the channel's WRITE_ADDR through
  ``uctypes`` into real memory and advances the address as silicon does: with
  ``ring_sel`` the address wraps on a 2**ring_size boundary (datasheet 12.6.2.1), so a
  buffer that is not aligned to it is *not* protected: the DMA writes the bytes around
  it, as on the board. Without a ring the address keeps going, past the buffer too.
- TRANS_COUNT: bits 27:0 count down; mode bits 31:28 0x0 normal, 0x1 TRIGGER_SELF (the
  channel restarts with the count reloaded), 0xF ENDLESS (never counts down)
  (datasheet 12.6.2.2). A finished channel triggers its CHAIN_TO channel, which starts
  at its *current* WRITE_ADDR (only TRANS_COUNT reloads), and raises its IRQ unless
  IRQ_QUIET; handlers run from an asyncio task every millisecond, like a late soft IRQ.

What this model cannot show: DMA writes that land *while* the firmware copies (nothing
runs between two of its reads), bus timing, and a FIFO overflow while a DMA is busy.
"""
import time

import uctypes
from micropython import const

import known

ADC_CS = const(0x400A0000)
ADC_FCS = const(0x400A0008)
ADC_FIFO = const(0x400A000C)
ADC_DIV = const(0x400A0010)
_CS_EN = const(1 << 0)
_CS_START_ONCE = const(1 << 2)
_CS_START_MANY = const(1 << 3)
_CS_READY = const(1 << 8)
_FCS_SHIFT = const(1 << 1)
_FCS_UNDER = const(1 << 10)
_FCS_OVER = const(1 << 11)
_FCS_LEVEL_LSB = const(16)
_FIFO_DEPTH = const(4)
_CYCLES_X256_PER_US = const(12288)  # 48 MHz ADC clock, times 256 (DIV has 8 fraction bits)
_MIN_CYCLES_X256 = const(96 * 256)
DREQ_ADC = const(48)

# CTRL_TRIG fields on the RP2350 (datasheet 12.6.10, pico-sdk hardware/regs/dma.h).
CTRL_EN = const(1 << 0)
_CTRL_SIZE_LSB = const(2)
_CTRL_INCR_READ = const(1 << 4)
_CTRL_INCR_WRITE = const(1 << 6)
_CTRL_RING_SIZE_LSB = const(8)
_CTRL_RING_SEL = const(1 << 12)
_CTRL_CHAIN_TO_LSB = const(13)
_CTRL_TREQ_LSB = const(17)
_CTRL_IRQ_QUIET = const(1 << 23)
CTRL_BUSY = const(1 << 26)
_COUNT_MASK = const(0x0FFFFFFF)
_MODE_NORMAL = const(0x0)
_MODE_TRIGGER_SELF = const(0x1)
_MODE_ENDLESS = const(0xF)
N_CHANNELS = const(16)

VSYS_MV = const(3900)  # what the one-shot VSYS read sees: a LiPo at about 70 %


class Clock:
    """Microseconds since boot that never wrap (ticks_us wraps at 2**30)."""

    def __init__(self):
        self._last = time.ticks_us()
        self.now_us = 0

    def read(self):
        t = time.ticks_us()
        self.now_us += time.ticks_diff(t, self._last)
        self._last = t
        return self.now_us


clock = Clock()
faults = []  # what the firmware did that silicon would not forgive, as text


class Adc:
    """CS / FCS / FIFO / DIV of the RP2350 ADC, round robin, with the known input."""

    def __init__(self):
        self.cs = 0
        self.fcs = 0
        self.div = 0
        self._running = False
        self._t0 = 0
        self._n0 = 0  # conversions made before _t0 in this run
        self.made = 0  # conversions made in this run
        self._seq = [0]
        self._fifo = [0] * _FIFO_DEPTH
        self._level = 0
        self.dropped = 0  # conversions lost to a full FIFO, ever

    def _start(self, now):
        mask = (self.cs >> 16) & 0x1FF
        first = (self.cs >> 12) & 0xF
        chans = [c for c in range(9) if mask & (1 << c)] or [first]
        # Round robin: after each conversion AINSEL moves to the next input in RROBIN.
        k = 0
        while k < len(chans) and chans[k] < first:
            k += 1
        self._seq = chans[k:] + chans[:k]
        self._running = True
        self._t0 = now
        self._n0 = 0
        self.made = 0

    def _period_x256(self):
        c = 256 + self.div
        return c if c > _MIN_CYCLES_X256 else _MIN_CYCLES_X256

    def advance(self, now, dma):
        if not self._running:
            return
        due = self._n0 + (now - self._t0) * _CYCLES_X256_PER_US // self._period_x256()
        seq = self._seq
        n = len(seq)
        shift = 4 if self.fcs & _FCS_SHIFT else 0
        k = self.made
        while k < due:
            code = known.emg_code(seq[k % n], k // n) >> shift
            if self._level < _FIFO_DEPTH:
                self._fifo[self._level] = code
                self._level += 1
            else:
                self.fcs |= _FCS_OVER
                self.dropped += 1
            while self._level and dma.dreq_channel is not None:
                dma.dreq_channel.transfer(self.pop())
            k += 1
        self.made = due

    def drain_into(self, dma):
        """A DMA channel became ready: it takes what the FIFO holds first."""
        while self._level and dma.dreq_channel is not None:
            dma.dreq_channel.transfer(self.pop())

    def pop(self):
        if not self._level:
            self.fcs |= _FCS_UNDER
            return 0
        v = self._fifo[0]
        for i in range(1, self._level):
            self._fifo[i - 1] = self._fifo[i]
        self._level -= 1
        return v

    def read(self, addr):
        if addr == ADC_CS:
            return (self.cs & ~(_CS_START_ONCE)) | _CS_READY
        if addr == ADC_FCS:
            return (self.fcs & ~(0xF << _FCS_LEVEL_LSB)) | (self._level << _FCS_LEVEL_LSB)
        if addr == ADC_FIFO:
            return self.pop()
        if addr == ADC_DIV:
            return self.div
        raise ValueError("no ADC register at 0x%08x" % addr)

    def write(self, addr, value, now):
        if addr == ADC_CS:
            was = self._running
            self.cs = value & ~_CS_START_ONCE
            if value & _CS_START_MANY and value & _CS_EN:
                if not was:
                    self._start(now)
            else:
                self._running = False
        elif addr == ADC_FCS:
            w1c = value & (_FCS_OVER | _FCS_UNDER)
            self.fcs = (value & ~(_FCS_OVER | _FCS_UNDER)) | (self.fcs & (_FCS_OVER | _FCS_UNDER) & ~w1c)
        elif addr == ADC_DIV:
            if self._running:  # keep the conversions made so far, go on at the new rate
                self._n0 = self.made
                self._t0 = now
            self.div = value & 0xFFFFFF
        else:
            raise ValueError("no ADC register at 0x%08x" % addr)

    def one_shot(self, gpio):
        """machine.ADC(...).read_u16(): only VSYS (GPIO29) has a known level."""
        if self._running:
            faults.append("one-shot ADC read of GPIO%d during the round robin" % gpio)
        if gpio == 29:
            return VSYS_MV * 65535 // (3 * 3300)
        return 0x8000


class DmaChannel:
    """One DMA channel's live registers and what its transfers do to memory."""

    def __init__(self, engine, n):
        self.engine = engine
        self.channel = n
        self.read = 0
        self.write = 0
        self.count = 0  # live: mode bits 31:28 and remaining transfers 27:0
        self.reload = 0  # the TRANS_COUNT last written (mode and count)
        self.ctrl = 0
        self.busy = False
        self.irq_handler = None
        self.irq_pending = False
        self.transfers = 0  # ever, for the tests
        self._view = None
        self._view_base = 0
        self._view_len = 0
        self._ring_mask = 0

    def _map(self):
        # The memory this sequence can reach, viewed once (no allocation per transfer).
        r = (self.ctrl >> _CTRL_RING_SIZE_LSB) & 0xF
        if r and self.ctrl & _CTRL_RING_SEL:
            self._ring_mask = (1 << r) - 1
            self._view_base = self.write & ~self._ring_mask
            self._view_len = 1 << r
        else:
            self._ring_mask = 0
            self._view_base = self.write
            n = self.count & _COUNT_MASK
            self._view_len = 2 * (n if n else 1)
        self._view = uctypes.bytearray_at(self._view_base, self._view_len)

    def trigger(self):
        self.count = self.reload
        if not self.ctrl & CTRL_EN:
            return
        if (self.count >> 28) != _MODE_ENDLESS and not self.count & _COUNT_MASK:
            return  # nothing to do (the RP2350 treats count 0 as no transfer)
        self.busy = True
        self._map()
        self.engine.changed()

    def transfer(self, code):
        a = self.write
        off = a - self._view_base
        if off < 0 or off + 2 > self._view_len:
            self._map()
            off = 0
        v = self._view
        v[off] = code & 0xFF
        v[off + 1] = (code >> 8) & 0xFF
        self.transfers += 1
        if self.ctrl & _CTRL_INCR_WRITE:
            if self._ring_mask:
                a = (a & ~self._ring_mask) | ((a + 2) & self._ring_mask)
            else:
                a += 2
            self.write = a
        mode = self.count >> 28
        if mode == _MODE_ENDLESS:
            return
        self.count -= 1
        if self.count & _COUNT_MASK:
            return
        if mode == _MODE_TRIGGER_SELF:
            self.count = self.reload
        else:
            self.busy = False
            self.engine.changed()
            chain = (self.ctrl >> _CTRL_CHAIN_TO_LSB) & 0xF
            if chain != self.channel:
                self.engine.channels[chain].trigger()
        if not self.ctrl & _CTRL_IRQ_QUIET:
            self.irq_pending = True

    def abort(self):
        self.busy = False
        self.engine.changed()

    def treq(self):
        return (self.ctrl >> _CTRL_TREQ_LSB) & 0x3F

    def ctrl_read(self):
        return (self.ctrl & ~CTRL_BUSY) | (CTRL_BUSY if self.busy else 0)


class Dma:
    """The sixteen channels; the one busy on DREQ_ADC takes the ADC's results."""

    def __init__(self):
        self.channels = [DmaChannel(self, n) for n in range(N_CHANNELS)]
        self.claimed = [False] * N_CHANNELS
        self.dreq_channel = None

    def changed(self):
        self.dreq_channel = None
        for ch in self.channels:
            if ch.busy and ch.treq() == DREQ_ADC:
                self.dreq_channel = ch
                return

    def fire_irqs(self):
        for ch in self.channels:
            if ch.irq_pending:
                ch.irq_pending = False
                if ch.irq_handler is not None:
                    ch.irq_handler(ch.owner)


# -- the LSM6DSOX (ST DS12814) on I2C ------------------------------------------------------
IMU_ADDR = const(0x6A)
_WHO_AM_I = const(0x0F)
_WHO_AM_I_VALUE = const(0x6C)
_FIFO_CTRL3 = const(0x09)
_FIFO_CTRL4 = const(0x0A)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_CTRL10_C = const(0x19)
_TIMESTAMP0 = const(0x40)
_TIMESTAMP2 = const(0x42)
_FIFO_STATUS1 = const(0x3A)
_FIFO_STATUS2 = const(0x3B)
_FIFO_DATA_OUT_TAG = const(0x78)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)
_TAG_TIMESTAMP = const(0x04)
_FIFO_WORDS = const(512)  # 3 kB of 7-byte words would be 438; the datasheet rounds to 512 at 4 kB
_TIMESTAMP_EN = const(1 << 5)
_TS_LSB_NS = const(25000)
_ODR_HZ = {0x4: 104, 0x5: 208, 0x6: 416}
_DEC_TS = (0, 1, 8, 32)


class Lsm6dsox:
    """Register file + FIFO of the IMU: gyro and accel words (and timestamps) at the ODR.

    ``odr_error_ppm`` makes the sensor's own clock run fast (> 0) or slow: its samples
    and its timestamp counter both follow that clock, as on the part (datasheet 6.4:
    the internal oscillator has a few percent of tolerance).
    """

    def __init__(self, odr_error_ppm=0):
        self.regs = bytearray(128)
        self.regs[_WHO_AM_I] = _WHO_AM_I_VALUE
        self.odr_error_ppm = odr_error_ppm
        self._running = False
        self._ts_on = False
        self._t0 = 0
        self._made = 0  # words made since the FIFO went continuous
        self._taken = 0  # words read (or lost) since then
        self._ovr = False
        self.overflows = 0
        self._odr = 0
        self._dec = 0
        self._ts_t0 = 0  # real time (us) at which the timestamp counter was 0
        self._fifo_s0 = 0  # sensor-clock us from the counter's 0 to the FIFO's start

    def _words_per_batch(self):
        # A timestamp word, then `dec` (gyro, accel) pairs; without timestamps, one pair.
        return 2 * self._dec + 1 if self._dec else 2

    def _samples_due(self, now):
        # Sample i is ready at (i + 1) / ODR of the sensor's own clock.
        return (now - self._t0) * self._odr * (1_000_000 + self.odr_error_ppm) // 1_000_000_000_000

    def advance(self, now):
        if not self._running:
            return
        n = self._samples_due(now)
        if self._dec:
            per = self._words_per_batch()
            words = (n // self._dec) * per + (1 + 2 * (n % self._dec) if n % self._dec else 0)
        else:
            words = 2 * n
        self._made = words
        if self._made - self._taken > _FIFO_WORDS:
            self._taken = self._made - _FIFO_WORDS  # continuous mode: the oldest go
            self._ovr = True
            self.overflows += 1

    def _word(self, w, out):
        """Word ``w`` of this run into ``out`` (7 bytes: tag then six data bytes)."""
        if self._dec:
            per = self._words_per_batch()
            batch, k = w // per, w % per
            if k == 0:
                i = batch * self._dec
                # Counter value when sample i was taken, in 25 us steps of the sensor clock.
                ts = ((self._fifo_s0 * 1000 + (i + 1) * 1_000_000_000 // self._odr) // _TS_LSB_NS) \
                    & 0xFFFFFFFF
                self._tag(out, _TAG_TIMESTAMP, w)
                for b in range(4):
                    out[1 + b] = (ts >> (8 * b)) & 0xFF
                out[5] = out[6] = 0
                return
            i = batch * self._dec + (k - 1) // 2
            gyro = (k - 1) % 2 == 0
        else:
            i = w // 2
            gyro = w % 2 == 0
        self._tag(out, _TAG_GYRO if gyro else _TAG_ACCEL, w)
        base = 3 if gyro else 0
        for a in range(3):
            v = known.imu_value(i, base + a) & 0xFFFF
            out[1 + 2 * a] = v & 0xFF
            out[2 + 2 * a] = v >> 8

    @staticmethod
    def _tag(out, sensor, w):
        t = (sensor << 3) | ((w & 3) << 1)
        p = 0
        x = t
        while x:
            p ^= x & 1
            x >>= 1
        out[0] = t | p

    def write(self, reg, value, now):
        self.advance(now)
        self.regs[reg] = value
        if reg == _FIFO_CTRL4:
            mode = value & 0x7
            if mode == 0:  # bypass: FIFO empty, stopped
                self._running = False
                self._made = self._taken = 0
                self._ovr = False
            elif mode == 6 and not self._running:
                odr = self.regs[_FIFO_CTRL3] & 0xF
                if odr != (self.regs[_FIFO_CTRL3] >> 4):
                    faults.append("IMU: gyro and accel batched at different rates")
                self._odr = _ODR_HZ.get(odr, 0)
                xl = self.regs[_CTRL1_XL] >> 4
                g = self.regs[_CTRL2_G] >> 4
                if self._odr == 0 or xl != odr or g != odr:
                    faults.append("IMU: FIFO batching at a rate the sensors do not run at")
                ts_on = self.regs[_CTRL10_C] & _TIMESTAMP_EN
                self._dec = _DEC_TS[(value >> 6) & 3] if ts_on else 0
                self._running = self._odr != 0
                self._t0 = now
                self._fifo_s0 = self._sensor_us(now)
                self._made = self._taken = 0
        elif reg == _CTRL10_C and value & _TIMESTAMP_EN:
            if not self._ts_on:
                self._ts_t0 = now  # the counter starts from 0 when enabled
            self._ts_on = True
        elif reg == _CTRL10_C:
            self._ts_on = False
        elif reg == _TIMESTAMP2 and value == 0xAA:
            self._ts_t0 = now  # datasheet: writing 0xAA to TIMESTAMP2 resets the counter

    def _sensor_us(self, now):
        """Microseconds of the sensor's own clock since its timestamp counter was 0."""
        return (now - self._ts_t0) * (1_000_000 + self.odr_error_ppm) // 1_000_000

    def read_into(self, reg, buf, now):
        self.advance(now)
        n = len(buf)
        if reg == _FIFO_DATA_OUT_TAG and n == 7:
            if self._made - self._taken <= 0:
                for i in range(7):
                    buf[i] = 0
                return
            self._word(self._taken, buf)
            self._taken += 1
            return
        for i in range(n):
            r = reg + i
            if r == _FIFO_STATUS1 or r == _FIFO_STATUS2:
                level = self._made - self._taken
                if r == _FIFO_STATUS1:
                    buf[i] = level & 0xFF
                else:
                    buf[i] = ((level >> 8) & 0x03) | (0x40 if self._ovr else 0)
                    self._ovr = False
            elif _TIMESTAMP0 <= r < _TIMESTAMP0 + 4:
                t = (self._sensor_us(now) * 1000 // _TS_LSB_NS) & 0xFFFFFFFF
                buf[i] = (t >> (8 * (r - _TIMESTAMP0))) & 0xFF
            else:
                buf[i] = self.regs[r & 0x7F]


adc = Adc()
dma = Dma()
imu = Lsm6dsox()


def advance():
    """Do what the hardware did since the last look; returns the time in us."""
    now = clock.read()
    adc.advance(now, dma)
    imu.advance(now)
    return now
