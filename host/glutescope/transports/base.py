"""The one small interface every transport (BLE, serial, virtual, replay) shares."""
from __future__ import annotations

import abc
import asyncio
import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class ReceivedFrame:
    """One frame as it arrived, before any decoding."""

    t_host_ns: int
    """Host monotonic clock (``time.monotonic_ns``) when the bytes arrived."""
    data: bytes
    """The frame's bytes exactly as received (the recorder stores these)."""


class TransportError(Exception):
    """The link could not be opened or was lost; the message is one clear line."""


class DeviceNotFound(TransportError):
    """No wearable matching the request answered in time."""


class NoAdapter(TransportError):
    """There is no Bluetooth adapter or serial port to use."""


class Transport(abc.ABC):
    """Raw frames in, commands out.

    Callbacks from the link only timestamp the bytes and put them on ``frames``;
    decoding happens in the consumer (bleak's ``async_callback_with_queue`` pattern),
    so a slow consumer never stalls the radio stack.
    """

    #: what the UI and the recording call this link, e.g. "BLE glutescope-3F2A"
    description: str = ""
    #: how the recorder labels frames from this link (glutescope.recording.RecordSource)
    record_source: int = 0

    def __init__(self, queue_size: int = 0) -> None:
        self.frames: asyncio.Queue[ReceivedFrame] = asyncio.Queue(queue_size)
        self.on_disconnect: Optional[Callable[[], None]] = None
        self._clock_ns = time.monotonic_ns

    def _deliver(self, data: bytes | bytearray) -> None:
        """Timestamp and enqueue; the only work done in the link's callback."""
        self.frames.put_nowait(ReceivedFrame(self._clock_ns(), bytes(data)))

    def _lost(self) -> None:
        if self.on_disconnect is not None:
            self.on_disconnect()

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the link and subscribe to the wearable's frames."""

    @abc.abstractmethod
    async def send_command(self, command: bytes) -> None:
        """Send one command (see PROTOCOL.md); the answer arrives as a frame."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the link; safe to call twice."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while frames can arrive."""

    async def reconnect(self) -> None:
        """Open the link again after a loss (default: connect again)."""
        await self.connect()

    async def __aenter__(self) -> "Transport":
        await self.connect()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
