"""USB serial transport (pyserial): the same frames, COBS-framed, for the bench.

Safety: a wearable on a person must not be connected to a mains-powered computer
except through a USB isolator; the CLI prints that warning whenever this transport
is chosen.
"""
from __future__ import annotations

import asyncio
import errno
import threading
import time
import zlib
from typing import Optional

import serial

from glutescope.framing import CobsStreamDecoder, encode_command_packet
from glutescope.transports.base import DeviceNotFound, ReceivedFrame, Transport, TransportError

READ_CHUNK_BYTES = 4096
READ_TIMEOUT_S = 0.02  # how long the reader blocks; bounds the added latency


class SerialTransport(Transport):
    """Frames from a USB CDC serial port, read on a small thread.

    Parameters
    ----------
    port : str
        Device path or URL understood by pyserial (``/dev/ttyACM0``, ``COM5``).
    """

    record_source = 3  # RecordSource.USB_SERIAL

    def __init__(self, port: str) -> None:
        super().__init__()
        self.port = port
        self.description = f"USB serial {port}"
        self._serial: Optional[serial.Serial] = None
        self._reader: Optional[threading.Thread] = None
        self._running = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.decoder = CobsStreamDecoder(synced=True)
        self._joined = False

    async def connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._serial = serial.Serial(self.port, baudrate=921600, timeout=READ_TIMEOUT_S)
        except serial.SerialException as exc:
            # pyserial keeps the OS errno of the failed open.
            if exc.errno == errno.ENOENT:
                raise DeviceNotFound(f"serial port {self.port} does not exist") from exc
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise TransportError(
                    f"permission denied on {self.port} (on Linux, join the 'dialout' group)") from exc
            raise TransportError(f"cannot open serial port {self.port}: {exc}") from exc
        self._serial.reset_input_buffer()
        # The first packet may be the tail of a frame sent before the port was opened, or
        # a whole frame (an idle wearable answering our first command): keep it if its
        # CRC checks rather than always throwing it away.
        self.decoder = CobsStreamDecoder(synced=True)
        self._joined = False
        self._running.set()
        self._reader = threading.Thread(target=self._read_loop, name="glutescope-serial", daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        port = self._serial
        while self._running.is_set():
            try:
                chunk = port.read(READ_CHUNK_BYTES)
            except (serial.SerialException, OSError, TypeError):
                # Unplugged: pyserial raises (or returns None inside on some platforms).
                self._running.clear()
                self._loop.call_soon_threadsafe(self._lost)
                return
            if not chunk:
                continue
            t_ns = time.monotonic_ns()
            for frame in self.decoder.feed(chunk):
                if not self._joined:
                    self._joined = True
                    if not _whole(frame):
                        continue  # the tail of a frame sent before we listened
                self._loop.call_soon_threadsafe(self.frames.put_nowait, ReceivedFrame(t_ns, frame))

    @property
    def connected(self) -> bool:
        return self._running.is_set()

    async def send_command(self, command: bytes) -> None:
        if self._serial is None or not self._running.is_set():
            raise TransportError("the serial port is not open")
        packet = encode_command_packet(command)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._serial.write, packet)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"command not sent on {self.port}: {exc}") from exc

    async def close(self) -> None:
        self._running.clear()
        if self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._reader.join, 1.0)
            self._reader = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None


def _whole(frame: bytes) -> bool:
    """True when a packet ends with the CRC-32 of what precedes it (a whole frame)."""
    return len(frame) > 4 and zlib.crc32(frame[:-4]) == int.from_bytes(frame[-4:], "little")
