"""The OLD EMG capture (ping-pong of two chained DMA channels re-armed by a soft IRQ), kept as a fixture.

Not firmware: a verbatim copy of the design the ring DMA replaced, so the tests can show
that on the MCU model it writes past its buffers once the IRQ is later than one block,
and that the model therefore can tell a broken capture from a sound one.

Hardware-timed EMG sampling: ADC round robin -> FIFO -> two chained DMA channels.

The ADC free-runs over the selected inputs, paced by its clock divider, so the sample
clock is the 48 MHz ADC clock and never the CPU. Two DMA channels paced by DREQ_ADC
fill two block buffers in turn (each chains to the other), so capture is gapless. The
DMA IRQ only re-points the finished channel at its buffer, stamps the time and sets a
flag; ``acquisition_task`` copies finished blocks into the ring and counts overruns and
saturated codes.

Register facts (RP2350 datasheet, chapter 12.4 "ADC and Temperature Sensor", and
pico-sdk ``src/rp2350/hardware_regs/include/hardware/regs/adc.h``):

- ADC_BASE = 0x400A0000 (RP2040: 0x4004C000); CS +0x00, FCS +0x08, FIFO +0x0C, DIV +0x10.
- CS: EN bit 0, START_MANY bit 3, READY bit 8, AINSEL bits 15:12, RROBIN bits 24:16
  (RP2350 widened both for the RP2350B's eight inputs).
- FCS: EN bit 0, ERR bit 2 (error flag into FIFO bit 15), DREQ_EN bit 3, UNDER bit 10
  and OVER bit 11 (write 1 to clear), LEVEL bits 19:16, THRESH bits 27:24.
- DIV: INT bits 23:8, FRAC bits 7:0; one conversion every 1 + INT + FRAC/256 ADC clocks
  (at least 96), so DIV = 48e6 * 256 / (n_channels * fs) - 256 as one 24-bit value.
- DREQ_ADC = 48 on the RP2350 (datasheet 12.6.4.1, ``hardware/regs/dreq.h``; RP2040: 36).
"""
import asyncio
import time
from array import array

import machine
import rp2
from micropython import const

from glutefw import config
from glutefw.ringbuf import byte_view

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

_CODE_MASK = const(0x0FFF)
_CODE_MAX = const(4095)
LOST_SAMPLE = const(0x8000)  # code 0 with the ADC error bit: what a lost sample reads as


def count_bits(mask):
    n = 0
    while mask:
        n += mask & 1
        mask >>= 1
    return n


def adc_div_register(fs_hz, n_channels):
    """DIV register value (INT << 8 | FRAC) giving ``fs_hz`` per channel."""
    return config.ADC_CLOCK_HZ * 256 // (n_channels * fs_hz) - 256


class EmgAcquisition:
    """ADC + DMA capture of up to ``config.MAX_EMG_CHANNELS`` inputs into ``ring``.

    Counters (read by the STATUS task): ``overruns`` (FIFO overflows and blocks lost
    because the task was late), ``saturated`` (codes at 0 or 4095).
    """

    def __init__(self, ring):
        self.ring = ring
        n = config.DEFAULT_EMG_FS_HZ * config.EMG_BLOCK_MS // 1000 * config.MAX_EMG_CHANNELS
        self._blocks = (array("H", bytearray(2 * n)), array("H", bytearray(2 * n)))
        self._block_bytes = (byte_view(self._blocks[0], 2), byte_view(self._blocks[1], 2))
        self._dma = (rp2.DMA(), rp2.DMA())
        self._t_done = array("i", (0, 0))
        self._done = 0  # blocks completed (IRQ)
        self._taken = 0  # blocks copied into the ring
        self._flag = asyncio.ThreadSafeFlag()
        self.data_ready = asyncio.ThreadSafeFlag()  # set after each block reaches the ring
        self.overruns = 0
        self.saturated = 0
        self.running = False
        self.fs_hz = config.DEFAULT_EMG_FS_HZ
        self.channel_mask = 0
        self.n_channels = 0
        self._block_samples = 0
        self._block_us = 0
        self._lead_us = 0
        self._t_next = 0
        self._dma[0].irq(self._irq0)
        self._dma[1].irq(self._irq1)

    # -- IRQ: re-arm, stamp, flag. Nothing else. ------------------------------------------
    def _irq0(self, _dma):
        # Point the finished channel back at its block now: the other channel chains to it
        # when it finishes, one block time from now. Writing WRITE_ADDR does not trigger.
        self._dma[0].write = self._blocks[0]
        self._t_done[0] = time.ticks_us()
        self._done += 1
        self._flag.set()

    def _irq1(self, _dma):
        self._dma[1].write = self._blocks[1]
        self._t_done[1] = time.ticks_us()
        self._done += 1
        self._flag.set()

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
        bs = fs_hz * config.EMG_BLOCK_MS // 1000
        self._block_samples = bs
        self._block_us = bs * 1_000_000 // fs_hz
        # From the IRQ (after the block's last conversion) back to its first sample.
        self._lead_us = self._block_us - 1_000_000 // (n_ch * fs_hz)
        self.ring.reset(n_ch, fs_hz)
        self._done = 0
        self._taken = 0
        self._t_next = -1

        mem = machine.mem32
        mem[_CS] = _CS_EN
        while not mem[_CS] & _CS_READY:
            pass
        fcs = _FCS_EN | _FCS_ERR | _FCS_DREQ_EN | (1 << _FCS_THRESH_LSB)
        mem[_FCS] = fcs | _FCS_OVER | _FCS_UNDER
        while (mem[_FCS] >> _FCS_LEVEL_LSB) & 0xF:
            mem[_FIFO]
        mem[_DIV] = adc_div_register(fs_hz, n_ch)
        count = bs * n_ch
        d0, d1 = self._dma
        for k in (1, 0):
            d = self._dma[k]
            ctrl = d.pack_ctrl(size=1, inc_read=False, inc_write=True, treq_sel=_DREQ_ADC,
                               chain_to=self._dma[1 - k].channel, irq_quiet=False)
            d.config(read=_FIFO, write=self._blocks[k], count=count, ctrl=ctrl, trigger=k == 0)
        mem[_CS] = (_CS_EN | _CS_START_MANY | (first_input << _CS_AINSEL_LSB)
                    | (channel_mask << _CS_RROBIN_LSB))
        self.running = True

    def stop(self):
        """Stop the ADC and both DMA channels; blocks already complete reach the ring."""
        if not self.running:
            return
        mem = machine.mem32
        mem[_CS] = _CS_EN
        while not mem[_CS] & _CS_READY:
            pass
        self._dma[0].active(0)
        self._dma[1].active(0)
        self._process()
        self.running = False
        while (mem[_FCS] >> _FCS_LEVEL_LSB) & 0xF:
            mem[_FIFO]
        mem[_FCS] = _FCS_OVER | _FCS_UNDER

    def _process(self):
        ring = self.ring
        bs = self._block_samples
        n_values = bs * self.n_channels
        while self._taken < self._done:
            k = self._taken & 1
            t_first = time.ticks_add(self._t_done[k], -self._lead_us)
            if self._t_next == -1:
                self._t_next = t_first
            elif time.ticks_diff(t_first, self._t_next) < 0:
                # IRQ latency only ever delays the stamp: the earliest one is the truest.
                self._t_next = t_first
            ring.mark_time(ring.head, self._t_next)
            if self._done - self._taken > 1:
                # The next block is done too, so this buffer is being refilled: lost.
                self.overruns += 1
                ring.skip(bs, LOST_SAMPLE)
            else:
                blk = self._blocks[k]
                sat = 0
                for i in range(n_values):
                    c = blk[i] & _CODE_MASK
                    if c == 0 or c == _CODE_MAX:
                        sat += 1
                self.saturated += sat
                ring.write(self._block_bytes[k], bs)
            self._t_next = time.ticks_add(self._t_next, self._block_us)
            self._taken += 1
        if machine.mem32[_FCS] & _FCS_OVER:
            self.overruns += 1
            machine.mem32[_FCS] = (_FCS_EN | _FCS_ERR | _FCS_DREQ_EN | (1 << _FCS_THRESH_LSB)
                                   | _FCS_OVER)

    async def acquisition_task(self):
        """Copy each finished DMA block into the ring, forever."""
        while True:
            await self._flag.wait()
            if self.running:
                self._process()
                self.data_ready.set()

    def close(self):
        self.stop()
        self._dma[0].close()
        self._dma[1].close()
