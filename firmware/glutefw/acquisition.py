"""Hardware-timed EMG sampling: ADC round robin -> FIFO -> one DMA channel writing a ring.

The ADC free-runs over the selected inputs, paced by its clock divider, so the sample
clock is the 48 MHz ADC clock and never the CPU. One DMA channel paced by DREQ_ADC
moves each code into a ring of 2**R bytes: its write address wraps on that boundary
(CTRL.RING_SEL = write, CTRL.RING_SIZE = R) over one buffer aligned to 2**R, and its
TRANS_COUNT runs in TRIGGER_SELF mode, so the channel restarts itself and never stops
or needs the CPU. Whatever the CPU does, the DMA writes only inside that buffer.

``acquisition_task`` polls every ``config.EMG_BLOCK_MS``: it reads TRANS_COUNT (the
transfers remaining in the current sequence) to get the exact number of codes written
since START, copies the new whole samples out of the ring into the RAM ring
(``glutefw.ringbuf.Ring``, kept for RESEND), then reads TRANS_COUNT again. Codes the
DMA has lapped (overwritten) before or during the copy are never delivered as good:
their samples go into the RAM ring as ``LOST_SAMPLE`` and are counted exactly
(``lost_samples``; ``overruns`` counts the polls that lost any).

Time stamps: ticks_us is read right after TRANS_COUNT, so the newest code counted was
converted no later than that; the first new sample is stamped that time minus the
conversions in between at the nominal rate. Every such stamp is an upper bound of the
truth, so the earliest one (extrapolated at the nominal rate) is kept.

Register facts (RP2350 datasheet, chapter 12.4 "ADC and Temperature Sensor", and
pico-sdk ``src/rp2350/hardware_regs/include/hardware/regs/adc.h``):

- ADC_BASE = 0x400A0000 (RP2040: 0x4004C000); CS +0x00, FCS +0x08, FIFO +0x0C, DIV +0x10.
- CS: EN bit 0, START_MANY bit 3, READY bit 8, AINSEL bits 15:12, RROBIN bits 24:16
  (RP2350 widened both for the RP2350B's eight inputs).
- FCS: EN bit 0, ERR bit 2 (error flag into FIFO bit 15), DREQ_EN bit 3, UNDER bit 10
  and OVER bit 11 (write 1 to clear), LEVEL bits 19:16, THRESH bits 27:24.
- DIV: INT bits 23:8, FRAC bits 7:0; one conversion every 1 + INT + FRAC/256 ADC clocks
  (at least 96), so DIV = 48e6 * 256 / (n_channels * fs) - 256 as one 24-bit value. INT
  has 16 bits, so the slowest round robin is 48e6 / 65536 = 732 conversions/s: one input
  at 500 Hz would overflow it, and is converted at 1 kHz with every second code kept.
- DREQ_ADC = 48 on the RP2350 (datasheet 12.6.4.1, ``hardware/regs/dreq.h``; RP2040: 36).

DMA facts (RP2350 datasheet 12.6.2.2 "Transfer count" and 12.6.10 CH0_CTRL_TRIG;
pico-sdk ``hardware/regs/dma.h``):

- Reading TRANS_COUNT returns the transfers remaining in the current sequence; each
  new sequence reloads the value last written. Bits 31:28 are MODE (0x0 normal: halt
  at zero; 0x1 TRIGGER_SELF: re-trigger at zero, resuming from the current READ_ADDR
  and WRITE_ADDR; 0xF ENDLESS: no decrement), bits 27:0 the count (at most 2**28 - 1).
- CTRL_TRIG: DATA_SIZE 3:2 (1 = 16 bit), INCR_READ 4, INCR_WRITE 6, RING_SIZE 11:8
  (only the low RING_SIZE bits of the address change: it wraps on a 2**RING_SIZE-byte
  boundary), RING_SEL 12 (1 = wrap the write address), CHAIN_TO 16:13 (own number =
  no chaining), TREQ_SEL 22:17, IRQ_QUIET 23.
- The DMA has no bounds check: a ring over a buffer not aligned to 2**R writes outside
  it, which is why the aligned address is taken inside a buffer twice the ring.

MicroPython facts (``ports/rp2/rp2_dma.c``, ``extmod/moductypes.c``):

- ``DMA.config(count=)`` writes the value as given to TRANS_COUNT (mode bits included);
  ``DMA.count`` reads the raw register (mode bits included, a small int: no allocation);
  ``DMA.registers`` is a new 16-word memoryview over the channel's registers at each
  access (so it is not used in the poll path).
- ``pack_ctrl`` keys used: size, inc_read, inc_write, ring_size, ring_sel, treq_sel,
  irq_quiet, chain_to (its default chain_to is the channel itself).
- ``uctypes.addressof(buf)`` is the address of a buffer's data.

Hardware surface used: ``rp2.DMA()``, ``.channel``, ``.pack_ctrl``, ``.config``, ``.count``,
``.active``, ``.close``; ``uctypes.addressof``; ``machine.mem32`` (ADC registers);
``machine.ADC(machine.Pin(n))``. No DMA IRQ.
"""
import asyncio
import time
from array import array

import machine
import rp2
import uctypes
from micropython import const

from glutefw import config

_ADC_BASE = const(0x400A0000)
_CS = const(0x400A0000)
_FCS = const(0x400A0008)
_FIFO = const(0x400A000C)
_DIV = const(0x400A0010)
_CS_EN = const(1 << 0)
_CS_START_MANY = const(1 << 3)
_CS_READY = const(1 << 8)
_CS_AINSEL_LSB = const(12)
_CS_RROBIN_LSB = const(16)
_FCS_EN = const(1 << 0)
_FCS_ERR = const(1 << 2)
_FCS_DREQ_EN = const(1 << 3)
_FCS_UNDER = const(1 << 10)
_FCS_OVER = const(1 << 11)
_FCS_LEVEL_LSB = const(16)
_FCS_THRESH_LSB = const(24)
_DREQ_ADC = const(48)
_COUNT_MASK = const(0x0FFFFFFF)  # TRANS_COUNT bits 27:0; MODE is bits 31:28
_MODE_TRIGGER_SELF = const(0x10000000)
_SEQ_MAX = const(0x0FFFFFFF)  # longest sequence the count field holds
_DIV_MAX = const(0xFFFFFF)  # DIV is INT (16 bits) . FRAC (8 bits)

_CODE_MASK = const(0x0FFF)
LOST_SAMPLE = const(0x8000)  # code 0 with the ADC error bit: what a lost sample reads as

_RING_BYTES = 1 << config.EMG_DMA_RING_BITS  # not const(): it comes from another module
RING_CODES = _RING_BYTES // 2


def count_bits(mask):
    n = 0
    while mask:
        n += mask & 1
        mask >>= 1
    return n


def oversampling(fs_hz, n_channels):
    """Round-robin passes per sample (1, 2, 4 ...): the fewest that DIV can pace."""
    k = 1
    while adc_div_register(fs_hz * k, n_channels) > _DIV_MAX:
        k *= 2
    return k


def adc_div_register(fs_hz, n_channels):
    """DIV register value (INT << 8 | FRAC) giving ``fs_hz`` per channel (may exceed 24 bits)."""
    return config.ADC_CLOCK_HZ * 256 // (n_channels * fs_hz) - 256


def _us(n, rate_hz):
    """floor(n * 1e6 / rate_hz) for 0 <= n, in pieces below 2**30 (no big int on the MCU).

    ``//`` and ``%`` rather than ``divmod``, whose tuple would be allocated on every poll.
    """
    rest = (n % rate_hz) * 1000
    return (n // rate_hz) * 1_000_000 + (rest // rate_hz) * 1000 + ((rest % rate_hz) * 1000) // rate_hz


class EmgAcquisition:
    """ADC + ring DMA capture of up to ``config.MAX_EMG_CHANNELS`` inputs into ``ring``.

    Counters (read by the STATUS task): ``overruns`` (polls that found codes lapped by
    the DMA, plus ADC FIFO overflows), ``lost_samples`` (samples written to ``ring`` as
    ``LOST_SAMPLE`` because the DMA overwrote them before they were copied),
    ``saturated`` (delivered codes at 0 or 4095).
    """

    def __init__(self, ring):
        self.ring = ring
        # Twice the ring, so a 2**R-aligned ring always lies inside; codes are read
        # through this array at the aligned offset, so nothing is sliced per poll.
        self._buf = array("H", bytearray(2 * _RING_BYTES))
        addr = uctypes.addressof(self._buf)
        self._ring_addr = (addr + _RING_BYTES - 1) & ~(_RING_BYTES - 1)
        self._ring_off = (self._ring_addr - addr) // 2  # first code of the ring in _buf
        self._dma = rp2.DMA()
        self._seq = 0  # transfers per TRIGGER_SELF sequence
        self._pos = 0  # transfers done in the current sequence at the last read
        self._done = 0  # codes written by the DMA since START (exact)
        self._taken = 0  # samples moved into ``ring`` since START
        self._base_index = -1  # sample index and time of the earliest time estimate
        self._base_t = 0
        self.data_ready = asyncio.ThreadSafeFlag()  # set after new samples reach the ring
        self.overruns = 0
        self.lost_samples = 0
        self.saturated = 0
        self.running = False
        self.fs_hz = config.DEFAULT_EMG_FS_HZ
        self.channel_mask = 0
        self.n_channels = 0
        self._passes = 1  # round-robin passes per sample; only the first is kept
        self._cps = 1  # codes per sample in the DMA ring: n_channels * passes

    def start(self, fs_hz, channel_mask):
        """Start sampling the inputs in ``channel_mask`` at ``fs_hz`` each; index restarts at 0.

        Raises ValueError on a rate or mask outside ``config`` (the command parser has
        already refused those, so this guards programming errors).
        """
        if fs_hz not in config.EMG_RATES_HZ:
            raise ValueError("emg_fs_hz must be one of %r, got %r" % (config.EMG_RATES_HZ, fs_hz))
        if not channel_mask or channel_mask & ~config.ADC_AVAILABLE_MASK:
            raise ValueError("channel_mask must be a non-empty subset of 0x%x, got 0x%x"
                             % (config.ADC_AVAILABLE_MASK, channel_mask))
        if self.running:
            self.stop()
        n_ch = count_bits(channel_mask)
        first_input = 0
        while not channel_mask & (1 << first_input):
            first_input += 1
        for i in range(8):
            if channel_mask & (1 << i):
                machine.ADC(machine.Pin(config.ADC_GPIO_BASE + i))  # powers ADC, pad analogue
        self.fs_hz = fs_hz
        self.channel_mask = channel_mask
        self.n_channels = n_ch
        self._passes = oversampling(fs_hz, n_ch)
        self._cps = cps = n_ch * self._passes
        self.ring.reset(n_ch, fs_hz)
        # A whole number of samples per sequence (~12 h at 6 kS/s before it reloads).
        self._seq = _SEQ_MAX // cps * cps
        self._pos = 0
        self._done = 0
        self._taken = 0
        self._base_index = -1

        mem = machine.mem32
        mem[_CS] = _CS_EN
        while not mem[_CS] & _CS_READY:
            pass
        fcs = _FCS_EN | _FCS_ERR | _FCS_DREQ_EN | (1 << _FCS_THRESH_LSB)
        mem[_FCS] = fcs | _FCS_OVER | _FCS_UNDER
        while (mem[_FCS] >> _FCS_LEVEL_LSB) & 0xF:
            mem[_FIFO]
        mem[_DIV] = adc_div_register(fs_hz * self._passes, n_ch)
        d = self._dma
        ctrl = d.pack_ctrl(size=1, inc_read=False, inc_write=True,
                           ring_size=config.EMG_DMA_RING_BITS, ring_sel=True, treq_sel=_DREQ_ADC,
                           irq_quiet=True, chain_to=d.channel)
        # Armed before the ADC starts: it waits for DREQ, so the first code is code 0.
        d.config(read=_FIFO, write=self._ring_addr, count=_MODE_TRIGGER_SELF | self._seq,
                 ctrl=ctrl, trigger=True)
        mem[_CS] = (_CS_EN | _CS_START_MANY | (first_input << _CS_AINSEL_LSB)
                    | (channel_mask << _CS_RROBIN_LSB))
        self.running = True

    def stop(self):
        """Stop the ADC, move every code already written into the ring, stop the DMA."""
        if not self.running:
            return
        mem = machine.mem32
        mem[_CS] = _CS_EN
        while not mem[_CS] & _CS_READY:
            pass
        self._poll()
        self._dma.active(0)
        self.running = False
        while (mem[_FCS] >> _FCS_LEVEL_LSB) & 0xF:
            mem[_FIFO]
        mem[_FCS] = _FCS_OVER | _FCS_UNDER

    def _count(self):
        """Codes written since START, from TRANS_COUNT (exact while polled within ~12 h)."""
        seq = self._seq
        pos = (seq - (self._dma.count & _COUNT_MASK)) % seq  # 0 when it has just reloaded
        self._done += (pos - self._pos) % seq
        self._pos = pos
        return self._done

    def _poll(self):
        """Move new whole samples from the DMA ring into ``ring``; return how many."""
        done = self._count()
        t_us = time.ticks_us()  # after the read: the newest code counted is older
        n_ch = self.n_channels
        cps = self._cps
        start = first = self._taken
        end = done // cps
        if end <= first:
            return 0
        ring = self.ring
        # -- time: the earliest estimate, extrapolated at the nominal rate ----------------
        t_est = time.ticks_add(t_us, -_us(done - 1 - first * cps, cps * self.fs_hz))
        if self._base_index < 0:
            t_first = t_est
            self._base_index = first
            self._base_t = t_est
        else:
            d = first - self._base_index
            if d >= self.fs_hz:
                # Move the base on by whole seconds (exact at the nominal rate), so the
                # extrapolation stays far inside ticks_add's +-2**29 us (9 min) limit.
                self._base_index += d // self.fs_hz * self.fs_hz
                self._base_t = time.ticks_add(self._base_t, d // self.fs_hz * 1_000_000)
            t_first = time.ticks_add(self._base_t, _us(first - self._base_index, self.fs_hz))
            if time.ticks_diff(t_est, t_first) < 0:
                t_first = t_est
                self._base_index = first
                self._base_t = t_est
        ring.mark_time(first, t_first)
        # -- codes the DMA already lapped are gone ------------------------------------------
        lost = 0
        oldest = (done - RING_CODES + cps - 1) // cps  # first sample still whole in the ring
        if oldest > first:
            lost = (oldest if oldest < end else end) - first
            ring.skip(lost, LOST_SAMPLE)
            first += lost
        # -- copy, counting saturated codes, in runs that wrap neither ring ----------------
        if cps != n_ch:
            sat = self._copy_oversampled(first, end)
        else:
            sat = self._copy(first, end)
        ring.head = end
        # -- and codes it lapped while they were being copied are not good either ----------
        oldest = (self._count() - RING_CODES + cps - 1) // cps
        if oldest > first:
            n = (oldest if oldest < end else end) - first
            sat -= self._blank(first, n)
            lost += n
        self.saturated += sat
        if lost:
            self.overruns += 1
            self.lost_samples += lost
        if machine.mem32[_FCS] & _FCS_OVER:
            # No DMA took the codes in time (never expected with the ring): count, clear.
            self.overruns += 1
            machine.mem32[_FCS] = (_FCS_EN | _FCS_ERR | _FCS_DREQ_EN | (1 << _FCS_THRESH_LSB)
                                   | _FCS_OVER)
        self._taken = end
        return end - start

    def _copy(self, first, end):
        """Copy samples ``first .. end-1`` from the DMA ring; return the saturated codes."""
        ring = self.ring
        n_ch = self.n_channels
        src = self._buf
        dst = ring.values
        dst_end = ring.capacity * n_ch
        q = ring.value_pos(first)
        p = (first * n_ch) % RING_CODES
        left = (end - first) * n_ch
        sat = 0
        while left:
            run = RING_CODES - p
            if dst_end - q < run:
                run = dst_end - q
            if left < run:
                run = left
            k = q - p - self._ring_off
            for i in range(p + self._ring_off, p + self._ring_off + run):
                c = src[i]
                dst[i + k] = c
                if (c + 1) & _CODE_MASK < 2:  # 0 or 4095, whatever the error bit
                    sat += 1
            left -= run
            p += run
            if p == RING_CODES:
                p = 0
            q += run
            if q == dst_end:
                q = 0
        return sat

    def _copy_oversampled(self, first, end):
        """``_copy`` when each sample spans several round-robin passes: keep the first."""
        ring = self.ring
        n_ch = self.n_channels
        cps = self._cps
        src = self._buf
        off = self._ring_off
        dst = ring.values
        dst_end = ring.capacity * n_ch
        q = ring.value_pos(first)
        p = (first * cps) % RING_CODES
        sat = 0
        for _ in range(end - first):
            for c in range(n_ch):
                i = p + c
                if i >= RING_CODES:
                    i -= RING_CODES
                v = src[off + i]
                dst[q] = v
                if (v + 1) & _CODE_MASK < 2:
                    sat += 1
                q += 1
            if q == dst_end:
                q = 0
            p += cps
            if p >= RING_CODES:
                p -= RING_CODES
        return sat

    def _blank(self, first, n):
        """Overwrite samples ``first .. first+n-1`` in ``ring`` with ``LOST_SAMPLE``.

        Returns how many of the overwritten codes had been counted as saturated.
        """
        ring = self.ring
        v = ring.values
        pos = ring.value_pos(first)
        end = ring.capacity * ring.width
        sat = 0
        for _ in range(n * ring.width):
            if (v[pos] + 1) & _CODE_MASK < 2:
                sat += 1
            v[pos] = LOST_SAMPLE
            pos += 1
            if pos == end:
                pos = 0
        return sat

    async def acquisition_task(self):
        """Move new samples from the DMA ring into the RAM ring every block, forever."""
        while True:
            if self.running and self._poll():
                self.data_ready.set()
            await asyncio.sleep_ms(config.EMG_BLOCK_MS)

    def close(self):
        self.stop()
        self._dma.close()
