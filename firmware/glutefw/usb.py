"""The same frames over USB serial, COBS-framed (PROTOCOL.md "USB serial"): bench mode.

Frames go out as COBS + 0x00; commands come in as COBS(command + CRC-32) + 0x00. A
block that does not decode or whose CRC fails is counted in ``bad_commands`` and
dropped: its opcode and token cannot be trusted, so there is nobody to answer.

A 0x03 (Ctrl-C) left without a delimiter for ``recovery.ESCAPE_MS`` is a person's or
mpremote's Ctrl-C, never part of a command: ``reader_task`` raises ``recovery.Escape``
so the firmware gives the REPL back (glutefw/recovery.py).
"""
import asyncio
import struct
from binascii import crc32

from micropython import const

from glutefw import cobs, config, recovery

_RX_MAX = const(80)  # COBS of the longest command (64 bytes) + CRC fits easily
_CTRL_C = const(3)
_IDLE_READ_MS = const(20)

try:
    _wait_for_ms = asyncio.wait_for_ms
except AttributeError:  # CPython's asyncio

    def _wait_for_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)


class UsbLink:
    """One USB serial link. ``out`` has ``write(buf)``; ``reader`` has ``async read(n)``.

    ``commands`` (a ``CommandQueue``) receives each valid command; ``main`` sets it.
    """

    def __init__(self, out, reader, commands=None):
        self._out = out
        self._reader = reader
        self.commands = commands
        self._enc = bytearray(cobs.max_encoded_len(config.USB_FRAME_MAX) + 1)
        self._enc_mv = memoryview(self._enc)
        self._rx = bytearray(_RX_MAX)
        self._rx_n = 0
        self._rx_overflow = False
        self._ctrl_c = False  # a 0x03 in the block still waiting for its delimiter
        self._dec = bytearray(_RX_MAX)
        self.connected = True  # a USB host may or may not listen: frames are not held back
        self.payload_max = config.USB_FRAME_MAX
        self.bad_commands = 0
        self.notify_backoffs = 0

    async def send(self, frame):
        """Write one frame, COBS-framed; always True (USB has no connection state)."""
        n = cobs.encode(frame, len(frame), self._enc)
        self._enc[n] = 0
        self._out.write(self._enc_mv[:n + 1])
        return True

    def feed(self, data):
        """Take received bytes; complete blocks become commands in the queue."""
        for b in data:
            if b == 0:
                self._ctrl_c = False
                self._block_done()
                continue
            if b == _CTRL_C:
                self._ctrl_c = True
            if self._rx_n < _RX_MAX:
                self._rx[self._rx_n] = b
                self._rx_n += 1
            else:
                self._rx_overflow = True

    def _block_done(self):
        n_rx, overflow = self._rx_n, self._rx_overflow
        self._rx_n = 0
        self._rx_overflow = False
        if n_rx == 0:
            return  # a lone delimiter: a host resynchronising
        n = -1 if overflow else cobs.decode(self._rx, n_rx, self._dec)
        if n < 6:
            self.bad_commands += 1
            return
        body = memoryview(self._dec)[:n - 4]
        if struct.unpack_from("<I", self._dec, n - 4)[0] != crc32(body) & 0xFFFFFFFF:
            self.bad_commands += 1
            return
        self.commands.put(body)

    async def reader_task(self):
        """Read commands from the host until a Ctrl-C outside any command (``Escape``)."""
        while True:
            if self._ctrl_c:
                try:
                    data = await _wait_for_ms(self._reader.read(1), recovery.ESCAPE_MS)
                except asyncio.TimeoutError:
                    raise recovery.Escape()
            else:
                # One byte at a time: on MicroPython a read of n bytes from stdin blocks
                # the whole VM until n bytes came, so a short command (or a lone Ctrl-C)
                # would freeze sampling. Commands are a few bytes, rare: the cost is nil.
                data = await self._reader.read(1)
            if not data:
                # End of input (a closed port or pipe): a host may open it again, so keep
                # listening, without spinning.
                await asyncio.sleep_ms(_IDLE_READ_MS)
                continue
            self.feed(data)
