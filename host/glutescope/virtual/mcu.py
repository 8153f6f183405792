"""Fakes of MicroPython's ``machine``, ``rp2`` and ``uctypes`` modules for the RP2350, on CPython.

They stand in for silicon that cannot run here, and model what the firmware uses the
way the silicon behaves, including how it fails:

- **Memory.** ``uctypes.addressof(buf)`` (and a buffer passed as a DMA address) gives
  the buffer an address in a modelled SRAM (0x20000000-0x20082000). Data buffers are
  placed 16-byte aligned as MicroPython's heap does, deliberately never aligned to more
  than 16 bytes, with ``Heap.GUARD`` bytes of a known pattern before and after each.
  The DMA writes bytes where its address register points, with no bounds check, as the
  real DMA does: inside a buffer it changes the firmware's own data; outside, it
  overwrites the guard (or the neighbouring buffer) and ``Board.faults`` records
  "DMA channel c wrote N bytes outside the B-byte buffer at 0x...". ``Heap.damage()``
  checks every guard independently.
- **ADC.** ``machine.mem32`` is a register file. Writes to CS / FCS / DIV configure a
  model of the RP2350 ADC that converts in round robin at the rate DIV implies
  (1 + INT + FRAC/256 cycles of 48 MHz per conversion, at least 96), in virtual time.
  Conversions no DMA takes wait in a 4-entry FIFO (pico-sdk ``hardware/adc.h``: "The
  ADC FIFO is 4 entries long"); more set FCS.OVER and are lost (which ones survive is
  not modelled exactly).
- **DMA.** ``rp2.DMA`` channels paced by DREQ_ADC (48) take conversions as they complete.
  Modelled: 16-bit transfers from the ADC FIFO, incrementing write address, write-address
  rings (CTRL.RING_SEL = 1, RING_SIZE = R: only the low R address bits change), the
  TRANS_COUNT modes of the RP2350 (bits 31:28: 0x0 normal, 0x1 TRIGGER_SELF, 0xF ENDLESS;
  datasheet 12.6.2.2), CHAIN_TO, and the completion IRQ delivered as a soft IRQ
  ``Board.irq_latency_us`` after the sequence ends (MicroPython schedules DMA handlers;
  GC, a long C call or radio work delay them). Register reads (``count``, ``write``,
  ``registers``) show the live state at the moment of the read: the model catches up
  with virtual time first, and also every ``DMA.TICK_US`` while a channel runs.
  Not modelled: reads from memory, other DREQs, several channels paced at once,
  byte swap, sniffing, read-address rings, the in-flight address adjustment.
- ``machine.ADC`` one-shot reads work while the ADC is idle, and raise while it free
  runs (on hardware they would corrupt the round robin). ADC3 / GPIO29 reads VSYS / 3.
- ``machine.I2C`` forwards register reads and writes to device models by address
  (see `glutescope.virtual.lsm6dsox_model`); a missing device raises ENODEV.

The analog input is injectable: ``board.adc_source(n_conversions, inputs) -> codes``
returns ``n_conversions`` codes (u16; bit 15 may flag a conversion error) for the
inputs in round-robin order; successive calls continue the round robin where the
previous one stopped, starting at ``inputs[0]`` after each restart of the ADC.
"""
from __future__ import annotations

import asyncio
import bisect
import errno
import sys
import types
import warnings
from typing import Callable, Optional

import numpy as np

from glutescope.virtual import upy

__all__ = ["Board", "Heap", "install", "uninstall", "ADC_BASE", "DREQ_ADC"]

ADC_BASE = 0x400A0000
_CS, _FCS, _FIFO, _DIV = ADC_BASE, ADC_BASE + 0x08, ADC_BASE + 0x0C, ADC_BASE + 0x10
DREQ_ADC = 48
_ADC_CLOCK_HZ = 48_000_000
_ADC_GPIO_BASE = 26
_ADC_FIFO_DEPTH = 4
_N_DMA_CHANNELS = 16
_SRAM_BASE = 0x20000000
_SRAM_SIZE = 520 * 1024  # RP2350: 520 kB of on-chip SRAM from 0x20000000

# RP2350 DMA CTRL_TRIG layout (datasheet 12.6.10, pico-sdk hardware/regs/dma.h).
_CTRL_FIELDS = {  # name: (lsb, width)
    "enable": (0, 1), "high_pri": (1, 1), "size": (2, 2), "inc_read": (4, 1),
    "inc_read_rev": (5, 1), "inc_write": (6, 1), "inc_write_rev": (7, 1),
    "ring_size": (8, 4), "ring_sel": (12, 1), "chain_to": (13, 4), "treq_sel": (17, 6),
    "irq_quiet": (23, 1), "bswap": (24, 1), "sniff_en": (25, 1),
}
_CTRL_BUSY = 1 << 26
_MODE_NORMAL, _MODE_TRIGGER_SELF, _MODE_ENDLESS = 0x0, 0x1, 0xF
_COUNT_MASK = 0x0FFFFFFF


def _mid_scale_source(n: int, inputs: tuple) -> np.ndarray:
    return np.full(n, 2048, dtype=np.uint16)


class _Alloc:
    __slots__ = ("start", "size", "obj", "view", "name")

    def __init__(self, start: int, size: int, obj, name: str):
        self.start, self.size, self.obj, self.name = start, size, obj, name
        self.view = np.frombuffer(memoryview(obj).cast("B"), dtype=np.uint8)

    def describe(self) -> str:
        return f"the {self.size}-byte {self.name} at 0x{self.start:08x}"


class Heap:
    """Modelled SRAM in which every firmware buffer given an address has guard bytes round it.

    Bytes that belong to no buffer (the guards, free memory) live in ``sram``; bytes of a
    buffer are the buffer's own memory, so DMA data reaches the firmware and a stray
    write damages whatever the silicon would damage.
    """

    GUARD = 256  # bytes of guard pattern before and after every buffer
    PATTERN = 0xA5
    FIRST = _SRAM_BASE + 0x8010  # first buffer address: 16-aligned, not 32-aligned

    def __init__(self):
        self.sram = np.full(_SRAM_SIZE, self.PATTERN, dtype=np.uint8)
        self._allocs: list[_Alloc] = []
        self._starts: list[int] = []
        self._by_id: dict[int, _Alloc] = {}
        self._next = self.FIRST

    def address_of(self, obj) -> int:
        """The modelled address of ``obj``'s data (placed on first use), like uctypes.addressof."""
        a = self._by_id.get(id(obj))
        if a is not None and a.obj is obj:
            return a.start
        size = memoryview(obj).nbytes
        start = self._next
        if start + size + self.GUARD > _SRAM_BASE + _SRAM_SIZE:
            raise MemoryError("the modelled SRAM is full")
        a = _Alloc(start, size, obj, type(obj).__name__)
        self._allocs.append(a)
        self._starts.append(start)
        self._by_id[id(obj)] = a
        # The next buffer starts a guard later, 16 bytes past a 32-byte boundary.
        nxt = start + size + self.GUARD
        self._next = (nxt + 31) // 32 * 32 + 16
        return start

    def find(self, addr: int) -> Optional[_Alloc]:
        """The buffer holding byte ``addr``, or None."""
        k = bisect.bisect_right(self._starts, addr) - 1
        if k >= 0:
            a = self._allocs[k]
            if addr < a.start + a.size:
                return a
        return None

    def nearest(self, addr: int) -> Optional[_Alloc]:
        """The buffer at or just below ``addr`` (to name what a stray write ran past)."""
        k = bisect.bisect_right(self._starts, addr) - 1
        return self._allocs[k] if k >= 0 else None

    def view_at(self, addr: int, n: int) -> memoryview:
        """A byte view of ``n`` bytes at ``addr`` inside one buffer (uctypes.bytearray_at)."""
        a = self.find(addr)
        if a is None or addr + n > a.start + a.size:
            raise NotImplementedError(
                f"uctypes.bytearray_at(0x{addr:08x}, {n}) outside a buffer is not modelled")
        off = addr - a.start
        return memoryview(a.obj).cast("B")[off:off + n]

    def store(self, addr: np.ndarray, data: np.ndarray) -> list[tuple[int, int]]:
        """Write bytes ``data`` at byte addresses ``addr``; return (address, n) outside SRAM."""
        bad = (addr < _SRAM_BASE) | (addr >= _SRAM_BASE + _SRAM_SIZE)
        if bad.any():
            out = [(int(addr[bad][0]), int(bad.sum()))]
            addr, data = addr[~bad], data[~bad]
        else:
            out = []
        if not len(addr):
            return out
        starts = np.asarray(self._starts, dtype=np.int64)
        k = np.searchsorted(starts, addr, side="right") - 1
        inside = np.zeros(len(addr), dtype=bool)
        for j in np.unique(k[k >= 0]):
            a = self._allocs[int(j)]
            sel = (k == j) & (addr < a.start + a.size)
            if sel.any():
                a.view[addr[sel] - a.start] = data[sel]
                inside |= sel
        rest = ~inside
        self.sram[addr[rest] - _SRAM_BASE] = data[rest]
        return out

    def damage(self) -> list[str]:
        """Every guard whose pattern changed: "N bytes after the 240-byte array at 0x...". """
        out = []
        for a in self._allocs:
            for where, lo in (("before", a.start - self.GUARD), ("after", a.start + a.size)):
                g = self.sram[lo - _SRAM_BASE:lo - _SRAM_BASE + self.GUARD]
                n = int((g != self.PATTERN).sum())
                if n:
                    out.append(f"{n} guard bytes {where} {a.describe()} overwritten")
        return out


class _Adc:
    """Model of the RP2350 SAR ADC's CS / FCS / DIV registers, its round robin and FIFO."""

    def __init__(self, board: "Board"):
        self.board = board
        self.cs = 0
        self.fcs = 0
        self.div = 0
        self.running = False
        self.t_start_us = 0.0
        self.inputs: tuple = ()
        self.run_first = 0  # global index of the first conversion of this run
        self.stopped_at = 0  # conversions completed when the ADC last stopped
        self.next_conv = 0  # next conversion no DMA channel (or FIFO read) has taken
        self.produced = 0  # conversions the analog source has been asked for
        self.fifo_over = False

    @property
    def period_us(self) -> float:
        cycles = 1 + (self.div >> 8) + (self.div & 0xFF) / 256 if self.div else 96
        return max(cycles, 96) / _ADC_CLOCK_HZ * 1e6

    def conv_time_us(self, k: int) -> float:
        """Virtual time at which conversion ``k`` (global index) of this run completes."""
        return self.t_start_us + (k - self.run_first + 1) * self.period_us

    def completed(self, t_us: float) -> int:
        """Conversions (global count) completed by virtual time ``t_us``."""
        if not self.running:
            return self.stopped_at
        n = int((t_us - self.t_start_us) // self.period_us)
        return self.run_first + max(n, 0)

    def queued(self, t_us: float) -> int:
        """Conversions completed but not taken: what the FIFO holds (and what it lost)."""
        return self.completed(t_us) - self.next_conv

    def drop_overflow(self, t_us: float) -> None:
        """A FIFO holds 4 codes: later ones are lost and set FCS.OVER."""
        extra = self.queued(t_us) - _ADC_FIFO_DEPTH
        if extra > 0:
            self.fcs |= 1 << 11
            self.board.faults.append(
                f"ADC FIFO overflow: {extra} conversions lost (no DMA channel took them)")
            # Which four survive is not modelled (the silicon keeps the oldest): the
            # model keeps the newest, and the source moves on past the lost ones.
            self.next_conv += extra

    def read(self, addr: int) -> int:
        now = float(upy.clock.now_us())
        self.board.advance(now)
        if addr == _CS:
            ready = 0 if self.running else 1 << 8
            return (self.cs & ~(1 << 8)) | (ready if self.cs & 1 else 0)
        if addr == _FCS:
            if not self.board.paced_busy():
                self.drop_overflow(now)
            level = min(max(self.queued(now), 0), _ADC_FIFO_DEPTH)
            return (self.fcs & ~(0xF << 16)) | (level << 16) | ((1 << 8) if not level else 0)
        if addr == _FIFO:
            if self.queued(now) > 0:
                code = int(self.codes(self.next_conv, 1)[0])
                self.next_conv += 1
                return code
            return 0
        if addr == _DIV:
            return self.div
        raise _unmodelled(addr)

    def write(self, addr: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if addr == _CS:
            was_many = self.running
            self.cs = value & 0x01FFF70F
            many = bool(value & 1) and bool(value & (1 << 3))
            if many and not was_many:
                self._start()
            elif was_many and not many:
                self._stop()
        elif addr == _FCS:
            clear = value & ((1 << 10) | (1 << 11))  # UNDER, OVER: write 1 to clear
            self.fcs = (value & 0x0F00000F) | (self.fcs & ((1 << 10) | (1 << 11)) & ~clear)
        elif addr == _DIV:
            self.div = value & 0xFFFFFF
        elif addr == _FIFO:
            pass  # read-only
        else:
            raise _unmodelled(addr)

    def _start(self) -> None:
        rrobin = (self.cs >> 16) & 0x1FF
        first = (self.cs >> 12) & 0xF
        if rrobin:
            order = [i for i in range(9) if rrobin & (1 << i)]
            k = order.index(first) if first in order else 0
            self.inputs = tuple(order[k:] + order[:k])
        else:
            self.inputs = (first,)
        self.running = True
        self.t_start_us = float(upy.clock.now_us())
        # Whatever the last run left unconverted or untaken is gone: a new run starts.
        self.run_first = self.next_conv = self.produced = self.stopped_at
        self.board.adc_starts.append((self.t_start_us, self.inputs, self.period_us))
        # The source may be a bound method (``AnalogFrontEnd.read``): its object restarts.
        source = self.board.adc_source
        restart = getattr(source, "restart", None) or getattr(getattr(source, "__self__", None), "restart", None)
        if restart is not None:
            restart(self.inputs)
        for ch in self.board.dma_channels.values():
            ch._schedule()

    def _stop(self) -> None:
        now = float(upy.clock.now_us())
        self.board.advance(now)
        self.stopped_at = self.completed(now)
        self.running = False

    def codes(self, k: int, n: int) -> np.ndarray:
        """Codes of conversions ``k .. k+n-1`` (global index), in order, from the source."""
        if k < self.produced:
            raise NotImplementedError("two takers of one conversion are not modelled")
        if k > self.produced:  # conversions nobody took: the source still moves on
            self.board.adc_source(k - self.produced, self.inputs)
        self.produced = k + n
        out = np.asarray(self.board.adc_source(n, self.inputs), dtype=np.uint16)
        if out.shape != (n,):
            raise ValueError(f"adc_source returned shape {out.shape}, expected ({n},)")
        if not self.fcs & (1 << 2):  # FCS.ERR clear: no error bit in the FIFO
            out = out & 0x0FFF
        return out


def _unmodelled(addr: int) -> OSError:
    return OSError(errno.EIO, f"mem32 address 0x{addr:08x} is not modelled by the fake MCU")


class _Mem32:
    def __init__(self, board: "Board"):
        self.board = board

    def __getitem__(self, addr: int) -> int:
        if ADC_BASE <= addr < ADC_BASE + 0x24:
            return self.board.adc.read(addr)
        raise _unmodelled(addr)

    def __setitem__(self, addr: int, value: int) -> None:
        if ADC_BASE <= addr < ADC_BASE + 0x24:
            self.board.adc.write(addr, value)
        else:
            raise _unmodelled(addr)


class _Registers:
    """``DMA.registers``: the channel's READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL_TRIG words."""

    def __init__(self, dma: "DMA"):
        self._dma = dma

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> int:
        d = self._dma
        if i == 0:
            return d.read
        if i == 1:
            return d.write
        if i == 2:
            return d.count
        if i == 3:
            return d.ctrl
        raise NotImplementedError(f"DMA register alias {i} is not modelled")

    def __setitem__(self, i: int, value: int) -> None:
        d = self._dma
        if i == 0:
            d.read = value
        elif i == 1:
            d.write = value
        elif i == 2:
            d.count = value
        elif i == 3:
            d.ctrl = value
            d._trigger()  # CTRL_TRIG is a trigger alias
        else:
            raise NotImplementedError(f"DMA register alias {i} is not modelled")


class DMA:
    """Fake of ``rp2.DMA``: one RP2350 DMA channel, pacing on the ADC model."""

    TICK_US = 5_000  # how often a running channel's writes are brought up to date

    def __init__(self):
        board = _board()
        free = [c for c in range(_N_DMA_CHANNELS) if c not in board.dma_channels]
        if not free:
            raise OSError(errno.EBUSY, "no free DMA channel")
        self.channel = free[0]
        board.dma_channels[self.channel] = self
        self._board = board
        self._read = 0
        self._write = 0  # WRITE_ADDR
        self._reload = 0  # the TRANS_COUNT value last written (mode bits 31:28 included)
        self._remaining = 0  # live count of the current sequence
        self._ctrl = self.pack_ctrl()
        self._busy = False
        self._paced = False  # busy and taking conversions from the ADC
        self._conv = 0  # next conversion this channel takes
        self._target: Optional[_Alloc] = None  # the buffer it pointed into when triggered
        self._handle: Optional[asyncio.TimerHandle] = None
        self._handler: Optional[Callable] = None
        self.completions = 0  # transfer sequences finished
        self.transfers = 0  # transfers done since the last trigger by software
        self.count_read_us = 0.0  # device time of the newest TRANS_COUNT read

    # --- register-like attributes -----------------------------------------------------
    def _now(self) -> float:
        t = float(upy.clock.now_us())
        self._board.advance(t)
        return t

    @property
    def write(self) -> int:
        self._now()
        return self._write

    @write.setter
    def write(self, value) -> None:
        self._now()
        self._write = self._address(value)
        if self._busy:  # re-pointed while running: later writes go to the new place
            self._target = self._board.heap.find(self._write)

    @property
    def read(self) -> int:
        return self._read

    @read.setter
    def read(self, value) -> None:
        self._read = self._address(value)

    @property
    def count(self) -> int:
        # Kept so a test can tell this model's own read-to-read lag (host preemption,
        # nanoseconds on the silicon) from an error of the firmware's time stamps.
        self.count_read_us = self._now()
        return ((self._reload >> 28) << 28) | self._remaining

    @count.setter
    def count(self, value: int) -> None:
        self._now()
        self._reload = int(value) & 0xFFFFFFFF  # the reload value; the live count runs on

    @property
    def ctrl(self) -> int:
        self._now()
        return self._ctrl | (_CTRL_BUSY if self._busy else 0)

    @ctrl.setter
    def ctrl(self, value: int) -> None:
        self._now()
        self._ctrl = int(value) & ~_CTRL_BUSY

    @property
    def registers(self) -> _Registers:
        return _Registers(self)

    def _address(self, value) -> int:
        if isinstance(value, int):
            return value & 0xFFFFFFFF
        return self._board.heap.address_of(value)  # a buffer: its data address

    def pack_ctrl(self, default=None, **kw) -> int:
        fields = {"enable": 1, "high_pri": 0, "size": 2, "inc_read": 1, "inc_read_rev": 0,
                  "inc_write": 1, "inc_write_rev": 0, "ring_size": 0, "ring_sel": 0,
                  "chain_to": self.channel, "treq_sel": 0x3F, "irq_quiet": 1, "bswap": 0,
                  "sniff_en": 0}
        if default is not None:
            fields.update(self.unpack_ctrl(default))
        for k, v in kw.items():
            if k not in fields:
                raise TypeError(f"unexpected keyword argument '{k}'")
            v = int(v)
            if v & ~((1 << _CTRL_FIELDS[k][1]) - 1):
                raise ValueError("bad field value")
            fields[k] = v
        value = 0
        for k, v in fields.items():
            lsb, width = _CTRL_FIELDS[k]
            value |= (v & ((1 << width) - 1)) << lsb
        return value

    @staticmethod
    def unpack_ctrl(value: int) -> dict:
        return {k: (value >> lsb) & ((1 << w) - 1) for k, (lsb, w) in _CTRL_FIELDS.items()}

    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False) -> None:
        if read is not None:
            self.read = read
        if write is not None:
            self.write = write
        if count is not None:
            self.count = count
        if ctrl is not None:
            self.ctrl = ctrl
        if trigger:
            self._trigger()

    def active(self, value=None):
        if value is not None:
            if value:
                self._trigger()
            else:
                self._now()
                self._abort()
        self._now()
        return self._busy

    def irq(self, handler=None, hard=False):
        self._handler = handler
        return self

    def close(self) -> None:
        self._now()
        self._abort()
        self._handler = None
        self._board.dma_channels.pop(self.channel, None)

    # --- the model ----------------------------------------------------------------------
    def _fields(self) -> dict:
        return self.unpack_ctrl(self._ctrl)

    def _abort(self) -> None:
        self._busy = self._paced = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _trigger(self, t_us: Optional[float] = None) -> None:
        """Start a transfer sequence (by software if ``t_us`` is None, else by a chain)."""
        if t_us is None:
            t_us = self._now()
            self.transfers = 0
        f = self._fields()
        if not f["enable"]:
            return
        if f["treq_sel"] != DREQ_ADC or self._read != _FIFO:
            raise NotImplementedError("the fake DMA models only ADC FIFO -> memory transfers")
        if f["size"] != 1 or f["inc_read"] or not f["inc_write"] or f["inc_write_rev"]:
            raise NotImplementedError("the fake DMA models 16-bit, fixed-read, incrementing-write")
        if f["ring_size"] and not f["ring_sel"]:
            raise NotImplementedError("a read-address ring is not modelled")
        if f["bswap"] or f["sniff_en"]:
            raise NotImplementedError("byte swap and sniffing are not modelled")
        for other in self._board.dma_channels.values():
            if other is not self and other._paced:
                raise NotImplementedError("two channels paced by DREQ_ADC at once are not modelled")
        mode = self._reload >> 28
        if mode not in (_MODE_NORMAL, _MODE_TRIGGER_SELF, _MODE_ENDLESS):
            raise NotImplementedError(f"TRANS_COUNT mode 0x{mode:x} is reserved (datasheet 12.6.2.2)")
        self._remaining = self._reload & _COUNT_MASK
        if self._remaining == 0:
            return  # a zero count halts at once
        adc = self._board.adc
        adc.drop_overflow(t_us)
        self._conv = adc.next_conv
        self._target = self._board.heap.find(self._write)
        self._busy = self._paced = True
        self._schedule()

    def _write_addresses(self, n: int) -> np.ndarray:
        f = self._fields()
        offs = 2 * np.arange(n, dtype=np.int64)
        if f["ring_sel"] and f["ring_size"]:
            mask = (1 << f["ring_size"]) - 1
            addr = (self._write & ~mask) | ((self._write + offs) & mask)
            self._write = (self._write & ~mask) | ((self._write + 2 * n) & mask)
        else:
            addr = self._write + offs
            self._write = (self._write + 2 * n) & 0xFFFFFFFF
        return addr

    def _transfer(self, n: int) -> None:
        adc = self._board.adc
        codes = adc.codes(self._conv, n).astype("<u2")
        self._conv += n
        adc.next_conv = self._conv
        self.transfers += n
        addr = self._write_addresses(n)
        byte_addr = np.empty(2 * n, dtype=np.int64)
        byte_addr[0::2], byte_addr[1::2] = addr, addr + 1
        data = codes.view(np.uint8)
        t = self._target
        if t is None:
            outside = np.ones(2 * n, dtype=bool)
        else:
            outside = (byte_addr < t.start) | (byte_addr >= t.start + t.size)
        if outside.any():
            first = int(byte_addr[outside][0])
            near = t or self._board.heap.nearest(first)
            what = near.describe() if near is not None else "no buffer"
            self._board.faults.append(
                f"DMA channel {self.channel} wrote {int(outside.sum())} bytes outside {what}, "
                f"from 0x{first:08x}: heap corruption")
        for a, cnt in self._board.heap.store(byte_addr, data):
            self._board.faults.append(
                f"DMA channel {self.channel} wrote {cnt} bytes at 0x{a:08x}, outside SRAM: bus error")
            self._busy = self._paced = False

    def _advance(self, t_us: float) -> bool:
        """Do the transfers due by ``t_us``; True if anything happened."""
        adc = self._board.adc
        moved = False
        while self._paced:
            avail = adc.completed(t_us) - self._conv
            if avail <= 0:
                break
            endless = (self._reload >> 28) == _MODE_ENDLESS
            n = avail if endless else min(avail, self._remaining)
            self._transfer(n)
            moved = True
            if not self._paced:
                break  # a bus error halts the channel, with no CHAIN_TO (datasheet 12.6.7.1)
            if endless:
                break
            self._remaining -= n
            if self._remaining:
                break
            self._finish(adc.conv_time_us(self._conv - 1))
        return moved

    def _finish(self, t_end_us: float) -> None:
        """End of a sequence at ``t_end_us``: reload or halt, chain, raise the IRQ."""
        self.completions += 1
        f = self._fields()
        if (self._reload >> 28) == _MODE_TRIGGER_SELF:
            self._remaining = self._reload & _COUNT_MASK  # re-triggers itself at once
        else:
            self._busy = self._paced = False
        if f["chain_to"] != self.channel:
            target = self._board.dma_channels.get(f["chain_to"])
            if target is not None:
                target._trigger(t_end_us)
        if not f["irq_quiet"] and self._handler is not None:
            loop = asyncio.get_running_loop()
            due = self._board.clock_of().host_time_at(t_end_us + self._board.irq_latency_us)
            loop.call_at(due, self._handler, self)

    def _schedule(self) -> None:
        """Wake up at the end of the sequence (or a tick from now) to do what is due."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._paced:
            return
        adc = self._board.adc
        if not adc.running:
            return  # waits for DREQ; the ADC's start reschedules
        now = float(upy.clock.now_us())
        due = now + self.TICK_US
        if (self._reload >> 28) != _MODE_ENDLESS:
            due = min(due, adc.conv_time_us(self._conv + self._remaining - 1))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (synchronous use): register reads bring the model up to date
        self._handle = loop.call_at(upy.clock.host_time_at(due), self._tick)

    def _tick(self) -> None:
        self._handle = None
        self._board.advance(float(upy.clock.now_us()))
        self._schedule()


class Pin:
    """Fake of ``machine.Pin``: remembers its mode and value."""

    IN, OUT, OPEN_DRAIN, ALT, ANALOG = 0, 1, 2, 3, 4
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_RISING, IRQ_FALLING = 1, 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self._value = 0 if value is None else int(bool(value))

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = int(bool(v))
        return None

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0

    def __call__(self, v=None):
        return self.value(v)


class ADC:
    """Fake of ``machine.ADC`` (one-shot). Constructing it powers the ADC, like the port."""

    def __init__(self, pin):
        gpio = pin.id if isinstance(pin, Pin) else int(pin)
        board = _board()
        self.input = gpio - _ADC_GPIO_BASE if gpio >= _ADC_GPIO_BASE else gpio
        if not 0 <= self.input <= 4:
            raise ValueError(f"GPIO{gpio} has no ADC input")
        board.analog_inputs.add(self.input)
        if not board.adc.cs & 1:
            board.adc.cs |= 1
        self._board = board

    def read_u16(self) -> int:
        adc = self._board.adc
        if adc.running:
            raise RuntimeError("one-shot ADC read while the ADC free-runs in round robin")
        if self.input == 3:
            code = int(round(self._board.vsys_mV / 3 / 3300 * 4095))
        else:
            code = int(self._board.adc_source(1, (self.input,))[0]) & 0x0FFF
        code = max(0, min(4095, code))
        return (code << 4) | (code >> 8)


class I2C:
    """Fake of ``machine.I2C``: register access forwarded to device models by address."""

    def __init__(self, id=0, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        self.id = id
        self.freq = freq
        self._board = _board()

    def _dev(self, addr: int):
        dev = self._board.i2c_devices.get(addr)
        if dev is None:
            raise OSError(errno.ENODEV, "ENODEV")
        return dev

    def scan(self) -> list:
        return sorted(self._board.i2c_devices)

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int, *, addrsize=8) -> bytes:
        return bytes(self._dev(addr).read(memaddr, nbytes))

    def readfrom_mem_into(self, addr: int, memaddr: int, buf, *, addrsize=8) -> None:
        data = self._dev(addr).read(memaddr, len(buf))
        buf[:len(data)] = data

    def writeto_mem(self, addr: int, memaddr: int, buf, *, addrsize=8) -> None:
        self._dev(addr).write(memaddr, bytes(buf))


class BoardReset(SystemExit):
    """Raised by the fake ``machine.reset()``."""


class Board:
    """The simulated Pico 2 W: ADC + DMA model, I2C devices, battery.

    Parameters
    ----------
    clock : VirtualClock, optional
        Device time; installed by `install`. Default: the clock `upy` already uses.
    adc_source : callable, optional
        ``adc_source(n_conversions, inputs) -> codes``; mid-scale (2048) if omitted.
    motion_source : callable, optional
        ``motion_source(n) -> (acc_g (n, 3), gyro_dps (n, 3))`` for the IMU model.
    imu : bool
        Fit an LSM6DSOX model at I2C address 0x6A.
    vsys_mV : float
        Battery voltage seen on VSYS.
    irq_latency_us : float
        Delay from the end of a DMA sequence to its (soft) IRQ handler running.
    imu_odr_error : float
        Relative error of the IMU's own oscillator (ODR and timestamp counter); the
        default, +0.8 %, is inside the LSM6DSOX's typical +-1.5 %, so nothing that runs
        on this board may assume the nominal IMU rate.
    """

    def __init__(self, clock: Optional[upy.VirtualClock] = None, *,
                 adc_source: Optional[Callable] = None, motion_source: Optional[Callable] = None,
                 imu: bool = True, vsys_mV: float = 3900.0, irq_latency_us: float = 0.0,
                 imu_odr_error: float = 0.008,
                 uid: bytes = b"\xe6\x61\x38\x10\x43\x2a\x3f\x2a"):
        self.clock = clock
        self.adc_source = adc_source or _mid_scale_source
        self.vsys_mV = vsys_mV
        self.uid = uid
        if not irq_latency_us >= 0:
            raise ValueError(f"irq_latency_us must be >= 0, got {irq_latency_us!r}")
        self.irq_latency_us = float(irq_latency_us)
        self.heap = Heap()
        self.adc = _Adc(self)
        self.mem32 = _Mem32(self)
        self.dma_channels: dict = {}
        self.i2c_devices: dict = {}
        self.analog_inputs: set = set()
        self.adc_starts: list = []  # (t_start_us, inputs, period_us) per ADC start
        self.faults: list = []  # what would have gone wrong on hardware
        self.bootsel = False  # BOOTSEL held at power-up
        # A test that damages the heap on purpose says so; otherwise removing the board
        # warns (an error under pytest), so no test passes over a DMA that wrote astray.
        self.expect_damage = False
        if imu:
            from glutescope.virtual.lsm6dsox_model import Lsm6dsoxModel

            self.i2c_devices[0x6A] = Lsm6dsoxModel(motion_source, odr_error=imu_odr_error)

    def advance(self, t_us: float) -> None:
        """Bring every DMA channel up to virtual time ``t_us`` (chains included)."""
        moved = True
        while moved:
            moved = False
            for ch in list(self.dma_channels.values()):
                moved |= ch._advance(t_us)

    def paced_busy(self) -> bool:
        """True if a DMA channel is taking the ADC's conversions."""
        return any(ch._paced for ch in self.dma_channels.values())

    @staticmethod
    def clock_of() -> upy.VirtualClock:
        return upy.clock

    def memory_faults(self) -> list[str]:
        """What the DMA damaged: stray writes seen, then guards found changed."""
        self.advance(float(upy.clock.now_us()))
        return [f for f in self.faults if f.startswith("DMA")] + self.heap.damage()


_current: Optional[Board] = None


def _board() -> Board:
    if _current is None:
        raise RuntimeError("no simulated board: call glutescope.virtual.mcu.install(board) first")
    return _current


def _reset():
    raise BoardReset("machine.reset()")


# One module object each for the whole process: firmware modules imported once keep
# working when a later test installs a new board.
_machine = types.ModuleType("machine", "Fake of MicroPython's machine module (simulated RP2350).")
_machine.Pin, _machine.ADC, _machine.I2C = Pin, ADC, I2C
_machine.freq = lambda *a: 150_000_000
_machine.idle = lambda: None
_machine.reset = _reset
_machine.unique_id = lambda: _board().uid
_rp2 = types.ModuleType("rp2", "Fake of MicroPython's rp2 module (simulated RP2350 DMA).")
_rp2.DMA = DMA
_rp2.bootsel_button = lambda: int(_board().bootsel)
_uctypes = types.ModuleType("uctypes", "Fake of MicroPython's uctypes (addresses in the modelled SRAM).")
_uctypes.addressof = lambda obj: _board().heap.address_of(obj)
_uctypes.bytearray_at = lambda addr, n: _board().heap.view_at(addr, n)


def _retire(board: Board) -> None:
    """Stop the board's DMA; warn if it damaged the modelled heap and nobody expected it."""
    try:
        damage = board.memory_faults()
    except RuntimeError:  # no event loop any more: what was recorded so far
        damage = [f for f in board.faults if f.startswith("DMA")] + board.heap.damage()
    for ch in list(board.dma_channels.values()):
        ch._abort()
    if damage and not board.expect_damage:
        warnings.warn("the simulated DMA wrote outside its buffers: " + "; ".join(damage[:3]),
                      RuntimeWarning, stacklevel=3)


def install(board: Board) -> Board:
    """Make ``machine`` and ``rp2`` importable, backed by ``board`` (also installs upy)."""
    global _current
    upy.install(board.clock)
    if _current is not None and _current is not board:
        _retire(_current)
    _current = board
    _machine.mem32 = board.mem32
    sys.modules["machine"] = _machine
    sys.modules["rp2"] = _rp2
    sys.modules["uctypes"] = _uctypes
    return board


def uninstall() -> None:
    """Remove the fake ``machine`` and ``rp2`` modules and cancel pending DMA."""
    global _current
    if _current is not None:
        _retire(_current)
    _current = None
    sys.modules.pop("machine", None)
    sys.modules.pop("rp2", None)
    sys.modules.pop("uctypes", None)
