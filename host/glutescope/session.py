"""A live session: acquisition on its own thread and event loop, state for the UI.

The radio stack, the decoder and the signal core run in an asyncio loop on a worker
thread; the Qt thread only reads the ring buffers and the latest stats (the
BrainFlow ``get_current_board_data`` pattern), so a slow redraw never costs a sample.
"""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from glutescope.exitcodes import CliError, ExitStatus

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SessionOptions:
    """What to connect to and how to configure it."""

    device: Optional[str] = None
    """BLE name or address of a real wearable; ``None`` with no serial port = virtual."""
    serial_port: Optional[str] = None
    exercise: str = "demo"
    """Virtual wearable only: the body model's script."""
    mains_hz: float = 50.0
    speed: float = 1.0
    """Virtual wearable only: its clock runs this many times faster than real time."""
    seed: int = 0
    record_path: Optional[Path] = None
    emg_fs_hz: int = 2000
    channel_mask: int = 0b011
    imu_fs_hz: int = 104
    channel_names: tuple[str, ...] = ("glute_max_left", "glute_max_right")


def make_transport(options: SessionOptions):
    """The transport the options ask for (imported lazily, like bleak's backends)."""
    from glutescope.transports import TransportKind, transport_class

    if options.serial_port:
        return transport_class(TransportKind.SERIAL)(options.serial_port)
    if options.device:
        return transport_class(TransportKind.BLE)(options.device)
    return transport_class(TransportKind.VIRTUAL)(
        exercise=options.exercise, seed=options.seed, speed=options.speed, mains_hz=options.mains_hz)


class LiveSession:
    """Run acquisition + live processing in the background; expose `state` to readers."""

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.state = None  # LiveState, once the device info is known
        self.error: Optional[BaseException] = None
        self.error_status = ExitStatus.ERROR
        self.acquisition = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._started_at = 0.0
        self.transport = make_transport(options)
        self.source_description = self.transport.description

    @property
    def failed(self) -> bool:
        return self.error is not None

    def start(self) -> None:
        """Connect and start streaming; raise `CliError` with one line if that fails."""
        self._thread = threading.Thread(target=self._thread_main, name="glutescope-acquisition", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S / max(self.options.speed, 1.0) + START_TIMEOUT_S):
            self.stop()
            raise CliError("the wearable did not start streaming in time", ExitStatus.DEVICE_NOT_FOUND)
        if self.error is not None:
            self.stop()
            raise CliError(str(self.error), self.error_status)

    def stop(self) -> None:
        """Stop streaming and close the link and the recording; safe twice."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the caller, which prints one line
            self._fail(exc)
        finally:
            self._ready.set()

    def _fail(self, exc: BaseException) -> None:
        from glutescope.transports import DeviceNotFound, NoAdapter

        if self.error is None:
            self.error = exc
            if isinstance(exc, DeviceNotFound):
                self.error_status = ExitStatus.DEVICE_NOT_FOUND
            elif isinstance(exc, NoAdapter):
                self.error_status = ExitStatus.NO_ADAPTER
            elif isinstance(exc, OSError):
                self.error_status = ExitStatus.IO_ERROR

    async def _main(self) -> None:
        from glutescope.acquisition import Acquisition
        from glutescope.live import LiveProcessor

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        opts = self.options
        recorder = None
        if opts.record_path is not None:
            from glutescope.recording import RecordingWriter

            # Frames are stamped with the monotonic clock by the transports: same clock here.
            recorder = RecordingWriter(opts.record_path, clock_ns=time.monotonic_ns)
            recorder.open()
        processor: Optional[LiveProcessor] = None

        def on_emg(block, emg_uV):
            processor.push_emg(block.first_sample, emg_uV)

        def on_imu(block, acc_g, gyro_dps):
            processor.push_imu(block.first_sample, acc_g, gyro_dps)

        acq = Acquisition(self.transport, on_emg=on_emg, on_imu=on_imu, recorder=recorder)
        self.acquisition = acq
        try:
            info = await acq.open(emg_fs_hz=opts.emg_fs_hz, channel_mask=opts.channel_mask,
                                  imu_fs_hz=opts.imu_fs_hz)
            names = opts.channel_names[: bin(info.channel_mask).count("1")]
            processor = LiveProcessor(names, float(info.emg_fs_hz), float(info.imu_fs_hz),
                                      mains_hz=opts.mains_hz, link=self.transport.description)
            if recorder is not None:
                recorder.set_device_info(info, channel_names=names)
            self.state = processor.state
            self._started_at = time.monotonic()
            self._ready.set()
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.5)
                except asyncio.TimeoutError:
                    processor.update_link(acq.counters, acq.status, acq.emg)
        finally:
            await acq.close()
            if processor is not None:
                processor.update_link(acq.counters, acq.status, acq.emg)
            if recorder is not None:
                recorder.close()

    def summary_text(self) -> str:
        """What the session measured, in a few lines for the terminal."""
        if self.state is None:
            return "glutescope: no data was received"
        return self.state.stats.report()
