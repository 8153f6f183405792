"""Stand-in ``rp2``: ``DMA`` on ``board``'s model, and ``bootsel_button``.

The surface is MicroPython's rp2 port (docs: library/rp2.DMA): ``DMA()``, ``.channel``,
``pack_ctrl``, ``config``, ``read``/``write``/``count``/``ctrl``, ``registers``,
``active``, ``irq``, ``close``.
"""
import asyncio

import uctypes

import board

bootsel_pressed = False  # a test may set it before the firmware boots


def bootsel_button():
    return 1 if bootsel_pressed else 0


def _addr(x):
    return x if isinstance(x, int) else uctypes.addressof(x)


class _Registers:
    """``DMA.registers``: READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL_TRIG, live on each read."""

    def __init__(self, dma):
        self._dma = dma

    def __len__(self):
        return 4

    def __getitem__(self, i):
        board.advance()
        ch = self._dma._ch
        if i == 0:
            return ch.read
        if i == 1:
            return ch.write
        if i == 2:
            return ch.count
        if i == 3:
            return ch.ctrl_read()
        raise IndexError("DMA registers beyond CTRL_TRIG are not modelled")

    def __setitem__(self, i, v):
        board.advance()
        ch = self._dma._ch
        if i == 0:
            ch.read = v
        elif i == 1:
            ch.write = v
        elif i == 2:
            ch.reload = v
        elif i == 3:
            ch.ctrl = v
            ch.trigger()
        else:
            raise IndexError("DMA registers beyond CTRL_TRIG are not modelled")


_pump_task = None


async def _irq_pump():
    while True:
        board.advance()
        board.dma.fire_irqs()
        await asyncio.sleep_ms(1)


class DMA:
    def __init__(self):
        for n in range(board.N_CHANNELS):
            if not board.dma.claimed[n]:
                board.dma.claimed[n] = True
                self._ch = board.dma.channels[n]
                self._ch.owner = self
                self.channel = n
                self.registers = _Registers(self)
                return
        raise OSError(16)  # EBUSY: all channels claimed

    def pack_ctrl(self, default=None, **kw):
        c = board.CTRL_EN if kw.get("enable", True) else 0
        if kw.get("high_pri", False):
            c |= 1 << 1
        c |= (kw.get("size", 2) & 3) << 2
        if kw.get("inc_read", True):
            c |= 1 << 4
        if kw.get("inc_write", True):
            c |= 1 << 6
        c |= (kw.get("ring_size", 0) & 0xF) << 8
        if kw.get("ring_sel", False):
            c |= 1 << 12
        c |= (kw.get("chain_to", self.channel) & 0xF) << 13
        c |= (kw.get("treq_sel", 0x3F) & 0x3F) << 17
        if kw.get("irq_quiet", True):
            c |= 1 << 23
        if kw.get("bswap", False):
            c |= 1 << 24
        if kw.get("sniff_en", False):
            c |= 1 << 25
        return c

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        board.advance()
        ch = self._ch
        if read is not None:
            ch.read = _addr(read)
        if write is not None:
            ch.write = _addr(write)
        if count is not None:
            ch.reload = count
            if not ch.busy:
                ch.count = count
        if ctrl is not None:
            ch.ctrl = ctrl
        if ch.ctrl & (1 << 4) or ch.read != board.ADC_FIFO:
            board.faults.append("DMA %d does not read the ADC FIFO without increment" % ch.channel)
        if trigger:
            ch.trigger()
            board.adc.drain_into(board.dma)

    @property
    def read(self):
        board.advance()
        return self._ch.read

    @read.setter
    def read(self, v):
        board.advance()
        self._ch.read = _addr(v)

    @property
    def write(self):
        board.advance()
        return self._ch.write

    @write.setter
    def write(self, v):
        board.advance()
        self._ch.write = _addr(v)

    @property
    def count(self):
        board.advance()
        return self._ch.count

    @count.setter
    def count(self, v):
        board.advance()
        self._ch.reload = v

    @property
    def ctrl(self):
        board.advance()
        return self._ch.ctrl_read()

    @ctrl.setter
    def ctrl(self, v):
        board.advance()
        self._ch.ctrl = v

    def active(self, value=None):
        board.advance()
        ch = self._ch
        if value is None:
            return 1 if ch.busy else 0
        if value:
            ch.ctrl |= board.CTRL_EN
            if not ch.busy:
                ch.trigger()
                board.adc.drain_into(board.dma)
        else:
            ch.abort()

    def irq(self, handler=None, hard=False):
        global _pump_task
        self._ch.irq_handler = handler
        if handler is not None and _pump_task is None:
            _pump_task = asyncio.create_task(_irq_pump())

    def close(self):
        self._ch.abort()
        self._ch.irq_handler = None
        board.dma.claimed[self.channel] = False
