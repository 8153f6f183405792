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

from glutescope import mounting, protocol, units
from glutescope.stream import SessionAssembler
from glutescope.transports.base import ReceivedFrame, Transport, TransportError

COMMAND_TIMEOUT_S = 3.0
RECONNECT_FIRST_DELAY_S = 0.2
RECONNECT_MAX_DELAY_S = 5.0
BACKFILL_MAX_SAMPLES = 0xFFFF  # RESEND's n_samples is a u16
BACKFILL_WAIT_S = 5.0
BACKFILL_PASSES = 3  # rounds over the remaining gaps (a resend that started late leaves a hole)
BUSY_RETRY_S = 0.05
RESUME_WAIT_S = 2.0  # for the first live blocks after a reconnection
GAP_BACKFILL_DELAY_S = 0.2  # after a corrupt or missing frame, for late ones and the gap's end to arrive
BUSY_RETRIES = 40
# Samples the live assembler holds per stream: many times the wearable's RAM window
# (4 s), so every backfill it can still send lands in held samples and is checked
# against any copy already received; older samples are in the recording only.
LIVE_RETAIN_S = 60.0


class CommandRefused(Exception):
    """The wearable answered a command with an error code.

    ``code`` is the RESPONSE's error code (a `protocol.ErrorCode` value).
    """

    def __init__(self, message: str, code: int = -1) -> None:
        super().__init__(message)
        self.code = code


class NoAnswer(TransportError, asyncio.TimeoutError):
    """A command got no RESPONSE in time (a link that carries nothing back, or a hung wearable)."""


def _opcode_name(opcode: int) -> str:
    try:
        return protocol.Opcode(opcode).name
    except ValueError:
        return f"opcode 0x{opcode:02x}"


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
    disconnects: int = 0
    reconnects: int = 0
    backfill_requests: int = 0
    restarts: int = 0  # times the wearable came back idle after a link loss and was started again
    unrecoverable: list = field(default_factory=list)  # (stream, first_sample, n_samples) refused as out of window


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
        ``on_imu(block, acc_g, gyro_dps)`` for each new IMU block, in body axes.
    imu_mount : str
        How the IMU sits on the sacrum (`glutescope.mounting`): turns sensor axes into body axes.
    recorder : RecordingWriter, optional
        Gets every received frame before anything else looks at it.
    """

    def __init__(self, transport: Transport, *, on_emg: Optional[Callable] = None,
                 on_imu: Optional[Callable] = None, recorder=None, reconnect_timeout_s: float = 60.0,
                 on_link_change: Optional[Callable[[str], None]] = None, imu_mount: str = "upright") -> None:
        self.transport = transport
        self.reconnect_timeout_s = reconnect_timeout_s
        mounting.rotation(imu_mount)  # refuse an unknown mount before connecting
        self.imu_mount = imu_mount
        self.on_link_change = on_link_change
        self.link_lost: Optional[str] = None  # why the link is down for good, if it is
        self._reconnecting: Optional[asyncio.Task] = None
        self._closing = False
        transport.on_disconnect = self._on_disconnect
        self.on_emg = on_emg
        self.on_imu = on_imu
        self.recorder = recorder
        self.counters = LinkCounters()
        self.session = SessionAssembler(retain_s=LIVE_RETAIN_S)
        """Every decoded frame, placed: EMG/IMU by stream index (the newest `LIVE_RETAIN_S`
        of samples held; the recorder has them all), clock, info, status, events."""
        self._tokens = itertools.cycle(range(1, 256))
        self._pending: dict[tuple[int, int], asyncio.Future] = {}
        self._info_waiters: list[asyncio.Future] = []
        self._streaming_info_waiters: list[asyncio.Future] = []
        self._consumer: Optional[asyncio.Task] = None
        self._refused: dict[int, list[tuple[int, int]]] = {}  # stream -> ranges refused this segment
        self._refused_epoch = -1
        self._backfill_lock = asyncio.Lock()
        self._gap_task: Optional[asyncio.Task] = None
        self._config: Optional[tuple[int, int, int]] = None  # START arguments of open()
        self.passive = False
        """True after `open_passive`: nothing is ever sent to the source."""
        self.failure: Optional[BaseException] = None
        """The first error of the recorder or of a callback; acquisition cannot be trusted after it."""

    # -- lifecycle ---------------------------------------------------------------
    async def open(self, *, emg_fs_hz: int, channel_mask: int, imu_fs_hz: int) -> protocol.DeviceInfo:
        """Connect, read the device info, start streaming; return the device info."""
        await self.transport.connect()
        self._consumer = asyncio.create_task(self._consume())
        await self.request_info()
        await self.command(protocol.encode_start, emg_fs_hz, channel_mask, imu_fs_hz)
        self._config = (emg_fs_hz, channel_mask, imu_fs_hz)
        return await self.request_info()  # now with the configuration in use

    async def open_passive(self, *, timeout_s: float = COMMAND_TIMEOUT_S) -> protocol.DeviceInfo:
        """Connect and listen without sending anything; return the first streaming INFO.

        For sources that cannot answer commands, such as the replay of a recording:
        frames are consumed as they come, and the device info is the first INFO frame
        of a running configuration (``channel_mask`` not 0) found in the stream. Later
        on, `close` sends no STOP and a reconnection asks for no backfill.

        Parameters
        ----------
        timeout_s : float
            How long to wait for that INFO frame, s (> 0).

        Raises
        ------
        TransportError
            If the source carries no streaming INFO within ``timeout_s``.
        """
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.passive = True
        await self.transport.connect()
        future = asyncio.get_running_loop().create_future()
        self._streaming_info_waiters.append(future)
        self._consumer = asyncio.create_task(self._consume())
        try:
            return await asyncio.wait_for(future, timeout_s)
        except asyncio.TimeoutError:
            raise TransportError(
                f"{self.transport.description or 'the source'} carried no device info of a running "
                f"configuration within {timeout_s:g} s") from None

    async def close(self) -> None:
        """Stop streaming (if the link is up), drain what arrived, close. Safe twice."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            try:
                await self._reconnecting
            except (asyncio.CancelledError, Exception):
                pass  # closing: a reconnect in progress has nothing left to deliver
            self._reconnecting = None
        if self._gap_task is not None:
            self._gap_task.cancel()
            try:
                await self._gap_task
            except (asyncio.CancelledError, Exception):
                pass  # closing: the gap stays as it is
            self._gap_task = None
        if self.transport.connected and not self.passive:
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

    # -- link loss -----------------------------------------------------------------
    @property
    def recovering(self) -> bool:
        """True from a link loss until the link is back and the backfill is done (or given up)."""
        return self._reconnecting is not None

    def _on_disconnect(self) -> None:
        if self._closing or self._reconnecting is not None:
            return
        self.counters.disconnects += 1
        self._notify_link("lost")
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def _notify_link(self, what: str) -> None:
        if self.on_link_change is not None:
            self.on_link_change(what)

    async def _reconnect(self) -> None:
        """Reconnect with exponential back-off, then ask the wearable to resend what was missed.

        A link lost again during the backfill is counted and reconnected in the same way
        (the disconnect callback is ignored while this task runs).
        """
        loop = asyncio.get_running_loop()
        try:
            while True:
                give_up_at = loop.time() + self.reconnect_timeout_s
                delay = RECONNECT_FIRST_DELAY_S
                while True:
                    await asyncio.sleep(delay)
                    try:
                        await self.transport.reconnect()
                        break
                    except TransportError as exc:
                        if loop.time() + delay > give_up_at:
                            self.link_lost = (f"the wearable did not come back within "
                                              f"{self.reconnect_timeout_s:g} s: {exc}")
                            self._notify_link("gone")
                            return
                        delay = min(2 * delay, RECONNECT_MAX_DELAY_S)
                self.counters.reconnects += 1
                self._notify_link("back")
                if self.passive:
                    return
                try:
                    await self._restart_if_idle()
                    await self.backfill()
                except (TransportError, asyncio.TimeoutError):
                    pass  # the link went again; what is still missing is asked for next time
                if self.transport.connected or self._closing:
                    return
                self.counters.disconnects += 1
                self._notify_link("lost")
        finally:
            self._reconnecting = None

    async def _restart_if_idle(self) -> None:
        """Start streaming again if the wearable came back idle (it was reset, or lost power)."""
        if self._config is None:
            return
        info = await self.request_info()
        if not info.channel_mask:
            self.counters.restarts += 1
            await self.command(protocol.encode_start, *self._config)  # a new segment begins
            await self.request_info()

    def _gap_seen(self) -> None:
        """A frame was corrupt or never came: ask for its samples once the stream has moved on."""
        if self.passive or self._closing or self._reconnecting is not None or self._gap_task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # frames handled outside a running acquisition
        self._gap_task = loop.create_task(self._backfill_soon())

    async def _backfill_soon(self) -> None:
        try:
            await asyncio.sleep(GAP_BACKFILL_DELAY_S)
            if self._reconnecting is None and self.transport.connected:
                await self.backfill()
        except (TransportError, asyncio.TimeoutError):
            pass  # the link went: the reconnection backfills
        finally:
            self._gap_task = None

    async def backfill(self) -> None:
        """Ask for every missing range of both streams; what the wearable no longer has stays a gap.

        First waits (up to `RESUME_WAIT_S`) for live blocks of each running stream, since
        only they show where a gap ends. Then one RESEND at a time (the wearable serves
        one), each waited for until the last sample of its range has arrived. The
        wearable resends from the oldest sample it still holds (PROTOCOL.md), so a long
        gap comes back in part; the next pass asks for the rest, which the wearable
        refuses (OUT_OF_WINDOW) and ``counters.unrecoverable`` records. In the end every
        sample still missing lies in a range the wearable refused, counted exactly once.
        """
        async with self._backfill_lock:
            await self._backfill()

    async def _backfill(self) -> None:
        await self._wait_resumed()
        epoch = self.session.n_restarts
        if epoch != self._refused_epoch:  # stream indices began again: old refusals are void
            self._refused = {}
            self._refused_epoch = epoch
        for _ in range(BACKFILL_PASSES):
            asked = False
            # The IMU first: its gap is a fifth of the EMG's bytes, so it is back quickly,
            # while the EMG's ring, which the link backfills faster than it fills, keeps
            # its older samples meanwhile. EMG first would leave the IMU's oldest samples
            # waiting the whole EMG backfill (seconds on a real link) and lose them.
            for stream_id, assembler in ((protocol.StreamId.IMU, self.imu), (protocol.StreamId.EMG, self.emg)):
                refused = self._refused.setdefault(int(stream_id), [])
                for gap in assembler.gaps():
                    for first, end in _subtract(gap.first_sample, gap.first_sample + gap.n_samples, refused):
                        asked = True
                        await self._backfill_range(stream_id, assembler, first, end)
            if not asked or self.session.n_restarts != epoch:
                return

    async def _wait_resumed(self) -> None:
        info = self.info
        if info is None or not info.channel_mask:
            return  # not streaming: nothing will resume
        ends = [(self.emg, self.emg.end_sample)]
        if info.imu_fs_hz:
            ends.append((self.imu, self.imu.end_sample))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESUME_WAIT_S
        while loop.time() < deadline and any(asm.end_sample <= end for asm, end in ends):
            await asyncio.sleep(0.005)

    async def _backfill_range(self, stream_id: protocol.StreamId, assembler, first: int, end: int) -> None:
        while first < end:
            n = min(end - first, BACKFILL_MAX_SAMPLES)
            code = await self._resend(stream_id, first, n)
            if code == protocol.ErrorCode.OK:
                await self._wait_arrived(assembler, first + n - 1)
            else:
                self._give_up(stream_id, first, first + n)
            first += n

    async def _resend(self, stream_id: protocol.StreamId, first: int, n: int) -> int:
        """Send one RESEND; its RESPONSE code (BUSY, a resend still running, is waited out)."""
        for _ in range(BUSY_RETRIES):
            self.counters.backfill_requests += 1
            try:
                await self.command(protocol.encode_resend, stream_id, first, n)
            except CommandRefused as exc:
                if exc.code != protocol.ErrorCode.BUSY:
                    return exc.code
                await asyncio.sleep(BUSY_RETRY_S)
            else:
                return protocol.ErrorCode.OK
        return protocol.ErrorCode.BUSY

    async def _wait_arrived(self, assembler, index: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACKFILL_WAIT_S
        while loop.time() < deadline and _overlaps(assembler.gaps(), index, 1):
            await asyncio.sleep(0.005)

    def _give_up(self, stream_id: protocol.StreamId, first: int, end: int) -> None:
        if end > first:
            self._refused.setdefault(int(stream_id), []).append((first, end))
            self.counters.unrecoverable.append((stream_id.name, first, end - first))

    # -- commands ----------------------------------------------------------------
    async def command(self, encoder, *args) -> "protocol.Response":
        """Send one command and wait for its RESPONSE; raise `CommandRefused` on an error code."""
        token = next(self._tokens)
        command = encoder(token, *args)
        key = (command[0], token)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            if self.recorder is not None and self.failure is None:
                try:
                    self.recorder.append(command, source=self.transport.record_source, host_to_device=True)
                except Exception as exc:
                    self._failed(exc)
            await self.transport.send_command(command)
            try:
                response = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise NoAnswer(f"the wearable did not answer {_opcode_name(command[0])} "
                               f"within {COMMAND_TIMEOUT_S:g} s") from None
        finally:
            self._pending.pop(key, None)
        if response.code != protocol.ErrorCode.OK:
            raise CommandRefused(_describe(response.code), int(response.code))
        return response

    async def request_info(self) -> protocol.DeviceInfo:
        future = asyncio.get_running_loop().create_future()
        self._info_waiters.append(future)
        await self.command(protocol.encode_get_info)
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise NoAnswer(f"the wearable acknowledged GET_INFO but sent no device info "
                           f"within {COMMAND_TIMEOUT_S:g} s") from None

    @property
    def emg(self):
        """The EMG stream assembler (samples by index, exact gaps)."""
        return self.session.emg

    @property
    def imu(self):
        return self.session.imu

    @property
    def info(self) -> Optional[protocol.DeviceInfo]:
        return self.session.info

    @property
    def status(self) -> Optional[protocol.Status]:
        return self.session.status

    # -- frames ------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            self.handle(await self.transport.frames.get())

    def handle(self, received: ReceivedFrame) -> None:
        """Record, decode and dispatch one frame; never raises.

        A bad frame is counted and skipped. A failure of the recorder (disk full) or of a
        consumer's callback is kept in `failure` for the owner to report, and frames keep
        being decoded so the live view and the counters stay truthful.
        """
        if self.recorder is not None and self.failure is None:
            try:
                self.recorder.append(received.data, received.t_host_ns, source=self.transport.record_source)
            except Exception as exc:  # reported by the owner as one line; nothing is hidden
                self._failed(exc)
        self.counters.frames += 1
        try:
            self._dispatch(received)
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            if self.on_link_change is not None:
                self.on_link_change("failed")

    def _dispatch(self, received: ReceivedFrame) -> None:
        try:
            frame = protocol.decode_frame(received.data)
        except protocol.FrameError:
            self.session.add_corrupt()
            self.counters.corrupt_frames += 1
            self._gap_seen()
            return
        skips = self.session.n_seq_skips
        self.session.add_frame(frame, received.t_host_ns)
        if self.session.n_seq_skips != skips:
            self._gap_seen()
        self.counters.lost_frames = self.session.n_seq_skips
        if isinstance(frame, protocol.EmgBlock):
            # The live view takes new blocks in order; it ignores late ones itself.
            if not frame.backfill and self.on_emg is not None and self.info is not None:
                self.on_emg(frame, units.codes_to_uV(frame.samples, self.info))
        elif isinstance(frame, protocol.ImuBlock):
            if not frame.backfill and self.on_imu is not None and self.info is not None:
                acc_g, gyro_dps = mounting.to_body_axes(*units.imu_to_si(frame.samples, self.info),
                                                        self.imu_mount)
                self.on_imu(frame, acc_g, gyro_dps)
        elif isinstance(frame, protocol.Response):
            future = self._pending.get((frame.opcode, frame.token))
            if future is not None and not future.done():
                future.set_result(frame)
        elif isinstance(frame, protocol.DeviceInfo):
            while self._info_waiters:
                waiter = self._info_waiters.pop()
                if not waiter.done():
                    waiter.set_result(frame)
            while frame.channel_mask and self._streaming_info_waiters:
                waiter = self._streaming_info_waiters.pop()
                if not waiter.done():
                    waiter.set_result(frame)

def _overlaps(gaps, first: int, n: int) -> bool:
    return any(g.first_sample < first + n and first < g.first_sample + g.n_samples for g in gaps)


def _subtract(first: int, end: int, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pieces of ``first .. end-1`` outside every ``(a, b)`` range of ``ranges``."""
    pieces = [(first, end)]
    for a, b in ranges:
        pieces = [p for lo, hi in pieces for p in ((lo, min(hi, a)), (max(lo, b), hi)) if p[0] < p[1]]
    return pieces
