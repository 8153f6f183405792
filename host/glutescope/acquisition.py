"""The consumer between a transport and everyone else.

Every frame that arrives is first appended to the recording exactly as received (the
recording is the truth), then decoded; EMG and IMU blocks go to the stream assemblers
(which place samples by index and keep exact gaps) and, for the live view, to the
processor. Commands are matched to their RESPONSE by token.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional

from glutescope import protocol
from glutescope.stream import StreamAssembler
from glutescope.transports.base import ReceivedFrame, Transport, TransportError

COMMAND_TIMEOUT_S = 3.0


class CommandRefused(Exception):
    """The wearable answered a command with an error code."""


def _describe(code: int) -> str:
    try:
        return protocol.ErrorCode(code).message
    except ValueError:
        return f"the wearable answered with unknown error code {code}"


@dataclass
class LinkCounters:
    """How the link behaved; shown in the UI status line and in the summary."""

    frames: int = 0
    corrupt_frames: int = 0
    lost_frames: int = 0  # sequence numbers never seen
    duplicate_frames: int = 0
    last_seq: Optional[int] = None
    events: list = field(default_factory=list)


class Acquisition:
    """Drive one wearable: configure it, consume its frames, keep the counts.

    Parameters
    ----------
    transport : Transport
        Where frames come from.
    on_emg : callable, optional
        ``on_emg(block, emg_uV)`` for each new (not backfilled) EMG block, in µV,
        shaped (n_channels, n_samples).
    on_imu : callable, optional
        ``on_imu(block, acc_g, gyro_dps)`` for each new IMU block.
    recorder : RecordingWriter, optional
        Gets every received frame before anything else looks at it.
    """

    def __init__(self, transport: Transport, *, on_emg: Optional[Callable] = None,
                 on_imu: Optional[Callable] = None, recorder=None) -> None:
        self.transport = transport
        self.on_emg = on_emg
        self.on_imu = on_imu
        self.recorder = recorder
        self.counters = LinkCounters()
        self.info: Optional[protocol.DeviceInfo] = None
        self.status: Optional[protocol.Status] = None
        self.emg = StreamAssembler()
        self.imu = StreamAssembler()
        self._tokens = itertools.cycle(range(1, 256))
        self._pending: dict[tuple[int, int], asyncio.Future] = {}
        self._info_waiters: list[asyncio.Future] = []
        self._consumer: Optional[asyncio.Task] = None

    # -- lifecycle ---------------------------------------------------------------
    async def open(self, *, emg_fs_hz: int, channel_mask: int, imu_fs_hz: int) -> protocol.DeviceInfo:
        """Connect, read the device info, start streaming; return the device info."""
        await self.transport.connect()
        self._consumer = asyncio.create_task(self._consume())
        await self.request_info()
        await self.command(protocol.encode_start, emg_fs_hz, channel_mask, imu_fs_hz)
        return await self.request_info()  # now with the configuration in use

    async def close(self) -> None:
        """Stop streaming (if the link is up), drain what arrived, close. Safe twice."""
        if self.transport.connected:
            try:
                await self.command(protocol.encode_stop)
            except (TransportError, CommandRefused, asyncio.TimeoutError):
                pass  # closing anyway; what arrived is already recorded
        await self.drain()
        if self._consumer is not None:
            self._consumer.cancel()
            try:
                await self._consumer
            except asyncio.CancelledError:
                pass
            self._consumer = None
        await self.transport.close()

    async def drain(self) -> None:
        """Handle every frame already queued."""
        while not self.transport.frames.empty():
            self.handle(self.transport.frames.get_nowait())

    # -- commands ----------------------------------------------------------------
    async def command(self, encoder, *args) -> "protocol.Response":
        """Send one command and wait for its RESPONSE; raise `CommandRefused` on an error code."""
        token = next(self._tokens)
        command = encoder(token, *args)
        key = (command[0], token)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await self.transport.send_command(command)
            response = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        finally:
            self._pending.pop(key, None)
        if response.code != protocol.ErrorCode.OK:
            raise CommandRefused(_describe(response.code))
        return response

    async def request_info(self) -> protocol.DeviceInfo:
        future = asyncio.get_running_loop().create_future()
        self._info_waiters.append(future)
        await self.command(protocol.encode_get_info)
        return await asyncio.wait_for(future, COMMAND_TIMEOUT_S)

    # -- frames ------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            self.handle(await self.transport.frames.get())

    def handle(self, received: ReceivedFrame) -> None:
        """Record, decode and dispatch one frame; a bad frame is counted, never raised."""
        if self.recorder is not None:
            self.recorder.append(received.data, received.t_host_ns)
        self.counters.frames += 1
        try:
            frame = protocol.decode_frame(received.data)
        except protocol.FrameError:
            self.counters.corrupt_frames += 1
            return
        self._count_sequence(frame.seq)
        if isinstance(frame, protocol.EmgBlock):
            new = self.emg.add(frame)
            if new and not frame.backfill and self.on_emg is not None and self.info is not None:
                self.on_emg(frame, protocol.codes_to_uV(frame.samples, self.info))
        elif isinstance(frame, protocol.ImuBlock):
            new = self.imu.add(frame)
            if new and not frame.backfill and self.on_imu is not None and self.info is not None:
                acc_g, gyro_dps = protocol.imu_to_si(frame.samples, self.info)
                self.on_imu(frame, acc_g, gyro_dps)
        elif isinstance(frame, protocol.Response):
            future = self._pending.get((frame.opcode, frame.token))
            if future is not None and not future.done():
                future.set_result(frame)
        elif isinstance(frame, protocol.DeviceInfo):
            self.info = frame
            while self._info_waiters:
                waiter = self._info_waiters.pop()
                if not waiter.done():
                    waiter.set_result(frame)
        elif isinstance(frame, protocol.Status):
            self.status = frame
        elif isinstance(frame, protocol.Event):
            self.counters.events.append(frame)

    def _count_sequence(self, seq: int) -> None:
        last = self.counters.last_seq
        if last is not None:
            step = (seq - last) % 2**32
            if step == 0:
                self.counters.duplicate_frames += 1
                return
            if step < 2**31:
                self.counters.lost_frames += step - 1
            else:
                # an older frame arriving late: it was counted lost, now it is found
                self.counters.lost_frames = max(0, self.counters.lost_frames - 1)
                return
        self.counters.last_seq = seq
