"""The virtual wearable: the firmware's own code, on CPython, on a software radio.

What is real here: every line of firmware/glutefw (frames, control, acquisition, IMU
driver, BLE GATT server, the app's tasks) runs unchanged; the radio is a real
Bluetooth LE stack (bumble) that the host reaches through bleak's public API.
What stands in for silicon: `upy` (MicroPython-only functions), `mcu` (the RP2350's
ADC, DMA and I2C as register models), `lsm6dsox_model` (the IMU), `ble_shim`
(MicroPython's `bluetooth` module on bumble) and `analog` (electrodes to ADC codes),
fed by the body model, which also gives the ground truth.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from glutesignal.simulation import BodySession, simulate

FIRMWARE_MODULE_PREFIX = "glutefw"
#: The virtual board's crystal runs this fast by default, in ppm: a real one is never
#: exact, and a host that assumed it were would drift off the wearable's timeline.
DEFAULT_DRIFT_PPM = 35.0


def firmware_dir() -> Path:
    """Where the firmware sources are: the repository, or the copy inside a wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parents[1] / "firmware", package / "_firmware"):
        if (candidate / "glutefw").is_dir():
            return candidate
    raise FileNotFoundError("the firmware sources (firmware/glutefw) are not installed with glutescope")


class MotionSource:
    """Serves the body model's pelvis motion to the IMU model, sample by sample."""

    def __init__(self, session: BodySession, imu_mount: str = "upright") -> None:
        from glutescope.mounting import to_sensor_axes

        # The body model speaks body axes; the breakout measures in its own.
        acc_g, gyro_dps = to_sensor_axes(np.asarray(session.acc_g), np.asarray(session.gyro_dps), imu_mount)
        self.acc_g = np.ascontiguousarray(acc_g.T)
        self.gyro_dps = np.ascontiguousarray(gyro_dps.T)
        self.served = 0

    def __call__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.arange(self.served, self.served + n) % self.acc_g.shape[0]
        self.served += n
        return self.acc_g[idx], self.gyro_dps[idx]


class VirtualWearable:
    """One virtual wearable in this process (the shims are process-wide: one at a time).

    Parameters
    ----------
    session : BodySession, optional
        What the body does; default: ``simulate(exercise, seed=seed, mains_hz=mains_hz)``.
    speed : float
        The wearable's clock runs this many times faster than real time.
    firmware : Path, optional
        A firmware tree (holding ``glutefw/``) to run instead of the installed one,
        e.g. a build under test.
    imu_mount : str
        How the IMU breakout is strapped on (`glutescope.mounting`): its readings are the
        body's motion seen in the breakout's own axes.
    usb : bool
        Bench mode: the firmware's USB serial link on a pseudo-terminal whose path is
        `serial_port` (open it with pyserial like a board's /dev/ttyACM0); no BLE.
    drift_ppm : float
        How fast the board's crystal runs, in ppm (`glutescope.virtual.upy.VirtualClock`):
        its clock, ADC and DMA all run that much fast against the host's clock.
    clock_start_us : int
        The device clock's reading at power-up, µs (e.g. just below 2**30, to reach the
        30-bit wrap at once); a reboot starts it from 0 as the silicon does.
    """

    _running: Optional["VirtualWearable"] = None

    def __init__(self, session: Optional[BodySession] = None, *, exercise: str = "demo", seed: int = 0,
                 speed: float = 1.0, mains_hz: float = 50.0, radio=None,
                 firmware: Optional[Path] = None, usb: bool = False, imu_mount: str = "upright",
                 drift_ppm: float = DEFAULT_DRIFT_PPM, clock_start_us: int = 0) -> None:
        from glutescope.virtual.analog import AnalogFrontEnd
        from glutescope.virtual.upy import VirtualClock

        VirtualClock(speed, clock_start_us, drift_ppm)  # refuse a bad clock before anything starts
        self.drift_ppm = float(drift_ppm)
        self._clock_start_us = int(clock_start_us)

        self.session = session if session is not None else simulate(exercise, seed=seed, mains_hz=mains_hz)
        self.speed = speed
        self.analog = AnalogFrontEnd(self.session.emg_uV, seed=seed + 1)
        self.motion = MotionSource(self.session, imu_mount)
        self.firmware = Path(firmware) if firmware is not None else firmware_dir()
        self.usb = usb
        self.serial_port: Optional[str] = None
        self._pty: Optional["_PtyLink"] = None
        self._own_radio = radio is None
        self.radio = radio
        self._task: Optional[asyncio.Task] = None
        self.board = None
        self.clock = None

    @property
    def name(self) -> str:
        return "virtual wearable"

    async def start(self) -> None:
        """Power the board: install the shims, import the firmware, run its main()."""
        if VirtualWearable._running is not None:
            raise RuntimeError("a virtual wearable is already running in this process")
        from glutescope.virtual import ble_shim, mcu, upy
        from glutescope.virtual.radio import VirtualRadio

        if self.radio is None:
            self.radio = VirtualRadio()
            await self.radio.open()
        self.clock = upy.install(upy.VirtualClock(speed=self.speed, start_us=self._clock_start_us,
                                                  drift_ppm=self.drift_ppm))
        self.board = mcu.Board(self.clock, adc_source=self.analog.read, motion_source=self.motion)
        mcu.install(self.board)
        ble_shim.install()
        ble_shim.attach(self.radio)
        _forget_firmware_modules()
        sys.path.insert(0, str(self.firmware))
        try:
            from glutefw import app  # the firmware's own entry, as main.py runs it
        finally:
            sys.path.remove(str(self.firmware))
        VirtualWearable._running = self
        usb_link = None
        if self.usb:
            from glutefw.usb import UsbLink

            if self._pty is None:
                self._pty = _PtyLink()
                self.serial_port = self._pty.slave_path
            usb_link = UsbLink(self._pty, self._pty)
        self._task = asyncio.create_task(app.main(usb=usb_link, use_ble=not self.usb),
                                         name="virtual-wearable-firmware")
        self._task.add_done_callback(self._firmware_ended)

    def _firmware_ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            # The firmware crashed: say so loudly; the host sees the link drop.
            print(f"virtual wearable firmware stopped: {task.exception()!r}", file=sys.stderr)

    async def stop(self) -> None:
        """Power off; safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if VirtualWearable._running is self:
            from glutescope.virtual import ble_shim, mcu, upy

            ble_shim.detach()
            mcu.uninstall()
            upy.uninstall()
            _forget_firmware_modules()
            VirtualWearable._running = None
        if self._own_radio and self.radio is not None:
            await self.radio.close()
            self.radio = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    async def reboot(self) -> None:
        """Reset the board, as ``machine.reset()`` does, and boot the firmware again.

        Everything in RAM is gone (rings, counters, frame sequence, configuration), the
        device clock starts again from 0, and the BLE link drops as the firmware's stack
        goes down; the radio stays, so a host can reconnect to the fresh wearable, which
        comes back idle and advertising. The body model's motion starts again with the
        next START, as its EMG does with each ADC start, so the ``true_*`` methods hold
        for the new stream too.
        """
        if self._task is None or VirtualWearable._running is not self:
            raise RuntimeError("the virtual wearable is not running: await start() first")
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None
        from glutescope.virtual import ble_shim, mcu, upy

        # The reset takes the radio's host stack down with the MCU: the link drops for
        # real and the GATT table is gone before the new firmware registers its own.
        radio = ble_shim.BLE()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(radio.settle(), 2.0)  # the firmware's own disconnect, on the way down
        radio.active(False)
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(radio.settle(), 2.0)
        radio._remove_own_services()
        ble_shim.detach()
        mcu.uninstall()
        upy.uninstall()
        _forget_firmware_modules()
        VirtualWearable._running = None
        self.motion.served = 0
        self.speed = self.clock.speed  # as set last (`VirtualClock.set_speed`)
        self._clock_start_us = 0  # the timer starts again from 0 at reset
        await self.start()  # the radio is kept: start() powers up on it

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, *args, **kwargs):
        wearable = cls(*args, **kwargs)
        await wearable.start()
        try:
            yield wearable
        finally:
            await wearable.stop()

    @property
    def scanner_backend(self):
        from glutescope.transports.bumble_backend import backends_for

        return backends_for(self.radio)[0]

    @property
    def client_backend(self):
        from glutescope.transports.bumble_backend import backends_for

        return backends_for(self.radio)[1]

    def go_out_of_range(self, device_s: float) -> int:
        """Drop the BLE link and stay out of the host's reach for ``device_s`` of device time.

        The wearable keeps sampling into its RAM rings meanwhile (that is what RESEND
        recovers later); ``device_s`` is converted to host time with the clock's speed.
        Returns how many connections were dropped.
        """
        if not device_s >= 0:
            raise ValueError(f"device_s must be >= 0, got {device_s!r}")
        if self.radio is None or self.clock is None:
            raise RuntimeError("the virtual wearable is not running: await start() first")
        return self.radio.out_of_range(self.clock.host_seconds(device_s))

    def true_imu_lsb(self, first_sample: int, n_samples: int) -> np.ndarray:
        """The raw IMU words (int16, rows ax ay az gx gy gz) of IMU stream samples ``first ..``.

        The IMU model serves the body model's motion one sample per output period from
        the first START on, at the full scales the firmware sets (+-4 g: 0.122 mg/LSB,
        +-500 dps: 17.5 mdps/LSB), so stream sample k of the first segment is motion
        sample k.
        """
        idx = np.arange(first_sample, first_sample + n_samples) % self.motion.acc_g.shape[0]
        acc = np.rint(self.motion.acc_g[idx] * 1000.0 / 0.122)
        gyro = np.rint(self.motion.gyro_dps[idx] * 1000.0 / 17.5)
        return np.clip(np.hstack([acc, gyro]), -32768, 32767).astype(np.int16).T

    def true_emg_codes(self, first_sample: int, n_samples: int) -> np.ndarray:
        """The ADC codes the body presented for EMG stream samples ``first .. first+n-1``."""
        idx = self.analog.body_index(np.arange(first_sample, first_sample + n_samples))
        return self.analog.codes[:, idx]


class _PtyLink:
    """The board's USB CDC port, as a pseudo-terminal pair (stands in for the USB cable).

    The firmware writes frames to the master end and reads commands from it; the host
    opens the slave end's path with pyserial, exactly as it opens /dev/ttyACM0.
    """

    def __init__(self) -> None:
        import os
        import tty

        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.slave_fd)  # no echo, no newline translation: bytes pass as they are
        self.slave_path = os.ttyname(self.slave_fd)
        os.set_blocking(self.master_fd, False)
        self._pending = bytearray()

    MAX_PENDING_BYTES = 64 * 1024  # like a CDC port with nobody listening, drop beyond this

    def write(self, data) -> None:
        """Called by the firmware's UsbLink: queue the bytes and push what the pty takes."""
        if len(self._pending) < self.MAX_PENDING_BYTES:
            self._pending += bytes(data)
        self._flush()

    def _flush(self) -> None:
        import os

        while self._pending:
            try:
                n = os.write(self.master_fd, self._pending)
            except BlockingIOError:
                return  # the host is not reading: keep the bytes, as a USB FIFO would stall
            del self._pending[:n]

    async def read(self, n: int) -> bytes:
        """Called by the firmware's reader task: wait for command bytes from the host."""
        import os

        loop = asyncio.get_running_loop()
        while True:
            self._flush()
            try:
                data = os.read(self.master_fd, n)
                if data:
                    return data
            except BlockingIOError:
                pass
            except OSError:
                return b""  # the host side closed
            ready = loop.create_future()
            loop.add_reader(self.master_fd, ready.set_result, None)
            try:
                await asyncio.wait_for(ready, 0.05)
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(self.master_fd)

    def close(self) -> None:
        import os

        for fd in (self.master_fd, self.slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _forget_firmware_modules() -> None:
    for name in [m for m in sys.modules if m == FIRMWARE_MODULE_PREFIX or m.startswith(FIRMWARE_MODULE_PREFIX + ".")]:
        del sys.modules[name]
