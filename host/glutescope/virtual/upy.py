"""MicroPython-only modules and attributes for CPython, so the firmware runs unchanged.

``install()`` puts a ``micropython`` module into ``sys.modules`` and *adds* the
MicroPython-only attributes the firmware uses to CPython's own modules: ``time.ticks_us``
and friends (wrapping at 2**30 as on the board), ``asyncio.ThreadSafeFlag``,
``asyncio.sleep_ms`` and ``gc.mem_free``. Existing attributes are never replaced, and
``uninstall()`` removes exactly what ``install()`` added.

``gc.mem_free()`` is a fixed `HEAP_FREE_BYTES` (CPython has no MicroPython heap to
measure) less what the simulated parts hold on the board's heap, for example the
notifications the btstack model of `glutescope.virtual.ble_shim` has queued; those parts
register with `add_heap_user`.

Time is virtual: a `VirtualClock` maps the event loop's monotonic clock to device
microseconds with a ``speed`` factor, so tests can run the firmware faster than real
time while every timestamp it takes stays consistent with the simulated hardware.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import time
import types

__all__ = ["VirtualClock", "install", "uninstall", "clock", "TICKS_PERIOD", "HEAP_FREE_BYTES", "MAX_DRIFT_PPM",
           "add_heap_user", "remove_heap_user"]

#: ``gc.mem_free()`` with nothing held by simulated parts.
HEAP_FREE_BYTES = 200_000

#: MicroPython's ticks_* functions wrap at this period on every port.
TICKS_PERIOD = 1 << 30
_TICKS_MASK = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2


#: A quartz crystal's frequency tolerance is tens of ppm (typically +-10 to +-50 ppm at
#: 25 C, plus temperature and ageing): a virtual clock off by more than this is a
#: mistake, not a crystal.
MAX_DRIFT_PPM = 1000.0


class VirtualClock:
    """Device time in microseconds, running ``speed`` times faster than the host clock.

    The board's crystal is not the host's: the device counts ``drift_ppm`` parts per
    million more microseconds than its nominal rate in the same time, and since the
    ADC, the DMA and ``ticks_us`` all run from that crystal, everything the firmware
    times (sample periods included) runs that much fast on the host's clock. Device
    time at host time ``t`` is ``start_us + (t - t0) * speed * (1 + drift_ppm * 1e-6)``.

    Parameters
    ----------
    speed : float
        Device seconds per host second at the nominal crystal rate (1.0 = real time). Must be > 0.
    start_us : int
        Device time at creation, in µs (for example close to 2**30 to test the wrap).
    drift_ppm : float
        How fast the device's crystal runs, in ppm of its nominal frequency (positive: fast),
        within +-`MAX_DRIFT_PPM`.
    """

    def __init__(self, speed: float = 1.0, start_us: int = 0, drift_ppm: float = 0.0):
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        if not -MAX_DRIFT_PPM <= drift_ppm <= MAX_DRIFT_PPM:
            raise ValueError(f"drift_ppm must be within +-{MAX_DRIFT_PPM:g} ppm (a crystal's tolerance), "
                             f"got {drift_ppm!r}")
        self.speed = float(speed)
        self.drift_ppm = float(drift_ppm)
        self.start_us = int(start_us)
        self._t0 = time.monotonic()

    @property
    def rate(self) -> float:
        """Device µs per host µs: ``speed * (1 + drift_ppm * 1e-6)``."""
        return self.speed * (1.0 + self.drift_ppm * 1e-6)

    def now_us(self) -> int:
        """Device time in µs since the clock's epoch, never wrapping."""
        return self.start_us + int((time.monotonic() - self._t0) * self.rate * 1e6)

    def host_time_at(self, device_us: float) -> float:
        """The ``time.monotonic()`` value at which the device clock reads ``device_us``
        (since the last `set_speed`; earlier device times map along the current rate)."""
        return self._t0 + (device_us - self.start_us) / (self.rate * 1e6)

    def host_seconds(self, device_s: float) -> float:
        """Host seconds that ``device_s`` device seconds take at the current speed."""
        return device_s / self.rate

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` times faster than real time from now on (device time continues).

        For long runs: a fast clock through steady streaming, a slower one where host-side
        delays (a reconnection's back-off) must stay short in device time.
        """
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0, got {speed!r}")
        now = time.monotonic()
        self.start_us = self.start_us + int((now - self._t0) * self.rate * 1e6)
        self._t0 = now
        self.speed = float(speed)


clock: VirtualClock = VirtualClock()
_added: list[tuple[object, str]] = []


def _const(x):
    return x


def _identity(f):
    return f


def _mem_info(*_args):
    print("mem: (CPython stand-in for micropython.mem_info: no figures)")


def _make_micropython() -> types.ModuleType:
    m = types.ModuleType("micropython", "Fake of MicroPython's micropython module for CPython.")
    m.const = _const
    m.native = _identity
    m.viper = _identity
    m.alloc_emergency_exception_buf = lambda n: None
    m.mem_info = _mem_info
    m.kbd_intr = lambda ch: None
    m.schedule = lambda f, arg: asyncio.get_running_loop().call_soon(f, arg)
    return m


def ticks_us() -> int:
    return clock.now_us() & _TICKS_MASK


def ticks_ms() -> int:
    return (clock.now_us() // 1000) & _TICKS_MASK


def ticks_add(t: int, delta: int) -> int:
    # MicroPython refuses a delta of half the period or more (extmod/modtime.c).
    if not -_TICKS_HALF < delta < _TICKS_HALF:
        raise OverflowError("ticks interval overflow")
    return (t + delta) & _TICKS_MASK


def ticks_diff(t1: int, t0: int) -> int:
    return ((t1 - t0 + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


def sleep_ms(ms: float) -> None:
    time.sleep(clock.host_seconds(ms / 1000))


def sleep_us(us: float) -> None:
    time.sleep(clock.host_seconds(us / 1e6))


async def _asleep_ms(ms: float) -> None:
    await asyncio.sleep(clock.host_seconds(ms / 1000))


class ThreadSafeFlag:
    """CPython stand-in for ``asyncio.ThreadSafeFlag``: set from an IRQ, awaited by one task.

    ``wait()`` clears the flag when it returns, as on MicroPython. ``set()`` may be called
    from another thread; the simulated IRQs call it from the event loop itself.
    """

    def __init__(self):
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = False

    def set(self) -> None:
        if self._event is None:
            self._pending = True
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
        else:
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._pending = False
        if self._event is not None:
            self._event.clear()

    async def wait(self) -> None:
        if self._event is None or self._loop is not asyncio.get_running_loop():
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            if self._pending:
                self._event.set()
        await self._event.wait()
        self._event.clear()
        self._pending = False


_heap_users: list = []


def add_heap_user(bytes_in_use) -> None:
    """Count ``bytes_in_use()`` (a callable returning bytes) against ``gc.mem_free()``."""
    _heap_users.append(bytes_in_use)


def remove_heap_user(bytes_in_use) -> None:
    """Stop counting a callable given to `add_heap_user` (absent: nothing happens)."""
    if bytes_in_use in _heap_users:
        _heap_users.remove(bytes_in_use)


def _mem_free() -> int:
    return HEAP_FREE_BYTES - sum(user() for user in _heap_users)


def _add(module: object, name: str, value: object) -> None:
    if not hasattr(module, name):
        setattr(module, name, value)
        _added.append((module, name))


def install(virtual_clock: VirtualClock | None = None) -> VirtualClock:
    """Make MicroPython-only names available on CPython; return the clock in use.

    Safe to call again: a new clock replaces the old one, nothing is added twice.
    """
    global clock
    if virtual_clock is not None:
        clock = virtual_clock
    if "micropython" not in sys.modules:
        sys.modules["micropython"] = _make_micropython()
        _added.append((sys.modules, "micropython"))
    for name, fn in (("ticks_us", ticks_us), ("ticks_ms", ticks_ms), ("ticks_add", ticks_add),
                     ("ticks_diff", ticks_diff), ("sleep_ms", sleep_ms), ("sleep_us", sleep_us)):
        _add(time, name, fn)
    _add(asyncio, "ThreadSafeFlag", ThreadSafeFlag)
    _add(asyncio, "sleep_ms", _asleep_ms)
    _add(gc, "mem_free", _mem_free)
    return clock


def uninstall() -> None:
    """Remove everything ``install()`` added."""
    while _added:
        module, name = _added.pop()
        if module is sys.modules:
            sys.modules.pop(name, None)
        else:
            delattr(module, name)
