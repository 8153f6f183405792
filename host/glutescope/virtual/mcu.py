"""Fakes of MicroPython's ``machine`` and ``rp2`` modules for the RP2350, on CPython.

They stand in for silicon that cannot run here, and model only what the firmware uses,
honestly enough that its timing and failure paths are exercised:

- ``machine.mem32`` is a register file. Writes to the ADC's CS / FCS / DIV configure a
  model of the RP2350 ADC that converts in round robin at the rate DIV implies
  (1 + INT + FRAC/256 cycles of 48 MHz per conversion, at least 96), in virtual time.
- ``rp2.DMA`` channels paced by DREQ_ADC (48) take their ``count`` conversions from the
  ADC, write the codes into the target buffer when the last one is due (scheduled on
  the asyncio loop in virtual time), fire their IRQ handler as a soft IRQ and trigger
  the channel they chain to. If that channel was not re-armed (its write address still
  at the end of its buffer), the model refuses to write out of bounds: the ADC FIFO
  overflows (FCS.OVER) and capture stops, as the real pipeline would stall.
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
import errno
import sys
import types
from typing import Callable, Optional

import numpy as np

from glutescope.virtual import upy

__all__ = ["Board", "install", "uninstall", "ADC_BASE", "DREQ_ADC"]

ADC_BASE = 0x400A0000
_CS, _FCS, _FIFO, _DIV = ADC_BASE, ADC_BASE + 0x08, ADC_BASE + 0x0C, ADC_BASE + 0x10
DREQ_ADC = 48
_ADC_CLOCK_HZ = 48_000_000
_ADC_GPIO_BASE = 26
_N_DMA_CHANNELS = 16

# RP2350 DMA CTRL_TRIG layout (datasheet 12.6.10, pico-sdk hardware/regs/dma.h).
_CTRL_FIELDS = {  # name: (lsb, width)
    "enable": (0, 1), "high_pri": (1, 1), "size": (2, 2), "inc_read": (4, 1),
    "inc_read_rev": (5, 1), "inc_write": (6, 1), "inc_write_rev": (7, 1),
    "ring_size": (8, 4), "ring_sel": (12, 1), "chain_to": (13, 4), "treq_sel": (17, 6),
    "irq_quiet": (23, 1), "bswap": (24, 1), "sniff_en": (25, 1),
}


def _mid_scale_source(n: int, inputs: tuple) -> np.ndarray:
    return np.full(n, 2048, dtype=np.uint16)


class _Adc:
    """Model of the RP2350 SAR ADC's CS / FCS / DIV registers and its round robin."""

    def __init__(self, board: "Board"):
        self.board = board
        self.cs = 0
        self.fcs = 0
        self.div = 0
        self.fifo: list[int] = []
        self.running = False
        self.t_start_us = 0.0
        self.inputs: tuple = ()
        self.next_conv = 0  # next conversion index to be handed to a DMA channel
        self.waiting: list["DMA"] = []

    @property
    def period_us(self) -> float:
        cycles = 1 + (self.div >> 8) + (self.div & 0xFF) / 256 if self.div else 96
        return max(cycles, 96) / _ADC_CLOCK_HZ * 1e6

    def conv_time_us(self, k: int) -> float:
        """Virtual time at which conversion ``k`` (0-based) completes."""
        return self.t_start_us + (k + 1) * self.period_us

    def read(self, addr: int) -> int:
        if addr == _CS:
            ready = 0 if self.running else 1 << 8
            return (self.cs & ~(1 << 8)) | (ready if self.cs & 1 else 0)
        if addr == _FCS:
            return (self.fcs & ~(0xF << 16)) | (min(len(self.fifo), 15) << 16) | (
                (1 << 8) if not self.fifo else 0)
        if addr == _FIFO:
            return self.fifo.pop(0) if self.fifo else 0
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
        self.next_conv = 0
        self.board.adc_starts.append((self.t_start_us, self.inputs, self.period_us))
        # The source may be a bound method (``AnalogFrontEnd.read``): its object restarts.
        source = self.board.adc_source
        restart = getattr(source, "restart", None) or getattr(getattr(source, "__self__", None), "restart", None)
        if restart is not None:
            restart(self.inputs)
        waiting, self.waiting = self.waiting, []
        for ch in waiting:
            ch._pace()

    def _stop(self) -> None:
        self.running = False
        for ch in self.board.dma_channels.values():
            ch._cancel()

    def overflow(self, why: str) -> None:
        self.fcs |= 1 << 11
        self.board.faults.append(why)

    def codes(self, n: int) -> np.ndarray:
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


class DMA:
    """Fake of ``rp2.DMA``: a channel that can be paced by the ADC model."""

    def __init__(self):
        board = _board()
        free = [c for c in range(_N_DMA_CHANNELS) if c not in board.dma_channels]
        if not free:
            raise OSError(errno.EBUSY, "no free DMA channel")
        self.channel = free[0]
        board.dma_channels[self.channel] = self
        self._board = board
        self._read: object = 0
        self._write_buf: Optional[memoryview] = None
        self._write_off = 0
        self._count = 0
        self._ctrl = self.pack_ctrl()
        self._busy = False
        self._handle: Optional[asyncio.TimerHandle] = None
        self._handler: Optional[Callable] = None
        self.completions = 0

    # --- register-like attributes -----------------------------------------------------
    @property
    def write(self):
        return self._write_off

    @write.setter
    def write(self, buf) -> None:
        self._write_buf = memoryview(buf).cast("B")
        self._write_off = 0

    @property
    def read(self):
        return self._read

    @read.setter
    def read(self, value) -> None:
        self._read = value

    @property
    def count(self) -> int:
        return self._count

    @count.setter
    def count(self, n: int) -> None:
        self._count = int(n)

    @property
    def ctrl(self) -> int:
        return self._ctrl

    @ctrl.setter
    def ctrl(self, value: int) -> None:
        self._ctrl = int(value)

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
            fields[k] = int(v)
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
        if value is None:
            return self._busy
        if value:
            self._trigger()
        else:
            self._cancel()
            self._busy = False
        return None

    def irq(self, handler=None, hard=False):
        self._handler = handler
        return self

    def close(self) -> None:
        self._cancel()
        self._handler = None
        self._board.dma_channels.pop(self.channel, None)

    # --- the model ----------------------------------------------------------------------
    def _fields(self) -> dict:
        return self.unpack_ctrl(self._ctrl)

    def _trigger(self) -> None:
        f = self._fields()
        if not f["enable"]:
            return
        if f["treq_sel"] != DREQ_ADC or self._read != _FIFO:
            raise NotImplementedError("the fake DMA models only ADC FIFO -> memory transfers")
        if f["size"] != 1 or f["inc_read"] or not f["inc_write"]:
            raise NotImplementedError("the fake DMA models 16-bit, fixed-read, incrementing-write")
        nbytes = 2 * self._count
        if self._write_buf is None or self._write_off + nbytes > len(self._write_buf):
            self._board.adc.overflow(
                f"DMA channel {self.channel} triggered with its write address "
                f"{self._write_off} bytes into a {0 if self._write_buf is None else len(self._write_buf)}"
                f"-byte buffer: not re-armed, capture stalls")
            self._busy = False
            return
        self._busy = True
        self._pace()

    def _pace(self) -> None:
        adc = self._board.adc
        if not adc.running:
            adc.waiting.append(self)
            return
        first = adc.next_conv
        adc.next_conv += self._count
        due_us = adc.conv_time_us(first + self._count - 1)
        loop = asyncio.get_running_loop()
        self._handle = loop.call_at(upy.clock.host_time_at(due_us), self._complete)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        adc = self._board.adc
        if self in adc.waiting:
            adc.waiting.remove(self)

    def _complete(self) -> None:
        self._handle = None
        adc = self._board.adc
        codes = adc.codes(self._count).astype("<u2")
        nbytes = 2 * self._count
        self._write_buf[self._write_off:self._write_off + nbytes] = codes.tobytes()
        self._write_off += nbytes
        self._busy = False
        self.completions += 1
        f = self._fields()
        chain = f["chain_to"]
        if chain != self.channel:
            target = self._board.dma_channels.get(chain)
            if target is not None:
                target._trigger()
        if not f["irq_quiet"] and self._handler is not None:
            asyncio.get_running_loop().call_soon(self._handler, self)


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
    """

    def __init__(self, clock: Optional[upy.VirtualClock] = None, *,
                 adc_source: Optional[Callable] = None, motion_source: Optional[Callable] = None,
                 imu: bool = True, vsys_mV: float = 3900.0,
                 uid: bytes = b"\xe6\x61\x38\x10\x43\x2a\x3f\x2a"):
        self.clock = clock
        self.adc_source = adc_source or _mid_scale_source
        self.vsys_mV = vsys_mV
        self.uid = uid
        self.adc = _Adc(self)
        self.mem32 = _Mem32(self)
        self.dma_channels: dict = {}
        self.i2c_devices: dict = {}
        self.analog_inputs: set = set()
        self.adc_starts: list = []  # (t_start_us, inputs, period_us) per ADC start
        self.faults: list = []  # what would have gone wrong on hardware
        self.bootsel = False  # BOOTSEL held at power-up
        if imu:
            from glutescope.virtual.lsm6dsox_model import Lsm6dsoxModel

            self.i2c_devices[0x6A] = Lsm6dsoxModel(motion_source)


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


def install(board: Board) -> Board:
    """Make ``machine`` and ``rp2`` importable, backed by ``board`` (also installs upy)."""
    global _current
    upy.install(board.clock)
    if _current is not None and _current is not board:
        for ch in list(_current.dma_channels.values()):
            ch._cancel()
    _current = board
    _machine.mem32 = board.mem32
    sys.modules["machine"] = _machine
    sys.modules["rp2"] = _rp2
    return board


def uninstall() -> None:
    """Remove the fake ``machine`` and ``rp2`` modules and cancel pending DMA."""
    global _current
    if _current is not None:
        for ch in list(_current.dma_channels.values()):
            ch._cancel()
    _current = None
    sys.modules.pop("machine", None)
    sys.modules.pop("rp2", None)
