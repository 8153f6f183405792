"""COBS framing for the USB serial link.

On USB each frame, and each command with its CRC-32 appended, is COBS-encoded
(Cheshire & Baker, 1999) and followed by one ``0x00`` delimiter. COBS leaves no zero
byte inside a packet, so a reader that loses its place resynchronises at the next
``0x00``.

References
----------
S. Cheshire and M. Baker, "Consistent overhead byte stuffing," IEEE/ACM Transactions
on Networking 7(2):159-172, 1999.
"""

from __future__ import annotations

import struct
import zlib

from cobs import cobs

from glutescope.protocol import MAX_FRAME_BYTES_USB

__all__ = ["CobsStreamDecoder", "encode_packet", "encode_command_packet"]

_DELIMITER = b"\x00"


def encode_packet(frame: bytes) -> bytes:
    """COBS-encode one frame and append the ``0x00`` delimiter.

    Parameters
    ----------
    frame : bytes-like
        A complete frame (it already ends with its CRC-32).

    Returns
    -------
    bytes
        The bytes to write to the serial port.
    """
    return cobs.encode(bytes(frame)) + _DELIMITER


def encode_command_packet(command: bytes) -> bytes:
    """Frame a command for USB: command + CRC-32 (little-endian), COBS, ``0x00``.

    Parameters
    ----------
    command : bytes-like
        A command from :mod:`glutescope.protocol` (``encode_start`` etc.).
    """
    command = bytes(command)
    if len(command) < 2:
        raise ValueError(f"command must hold at least opcode and token (2 bytes), got {len(command)}")
    return encode_packet(command + struct.pack("<I", zlib.crc32(command)))


class CobsStreamDecoder:
    """Cut a serial byte stream into frames.

    Feed it whatever the port returns; it hands back the decoded packets that are
    complete. Bytes before the first ``0x00`` are discarded (the host may join
    mid-stream, PROTOCOL.md "USB serial") unless ``synced=True``. A packet that is not
    valid COBS, or grows past ``max_packet_bytes`` without a delimiter, is counted in
    :attr:`n_bad_packets` and dropped; the decoder carries on at the next ``0x00``.
    It does not check CRCs: pass each packet to :func:`glutescope.protocol.decode_frame`.

    Parameters
    ----------
    synced : bool
        True when the stream is known to start on a packet boundary.
    max_packet_bytes : int
        Largest decoded packet accepted; defaults to the USB frame limit.
    """

    def __init__(self, *, synced: bool = False, max_packet_bytes: int = MAX_FRAME_BYTES_USB) -> None:
        if max_packet_bytes < 1:
            raise ValueError(f"max_packet_bytes must be >= 1, got {max_packet_bytes}")
        self._synced = synced
        # COBS adds one byte per 254 plus one: the encoded limit for a maximal packet.
        self._max_encoded = max_packet_bytes + max_packet_bytes // 254 + 1
        self._buf = bytearray()
        self._overlong = False
        self.n_bad_packets = 0
        """Packets dropped: invalid COBS or longer than ``max_packet_bytes``."""
        self.n_discarded_bytes = 0
        """Bytes thrown away: before the first delimiter, or inside dropped packets."""

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the packets completed by them, in order.

        Parameters
        ----------
        data : bytes-like
            Bytes as read from the port (any split).

        Returns
        -------
        list of bytes
            Decoded packets (frames with their CRC), possibly empty.
        """
        out: list[bytes] = []
        raw = bytes(data)
        view = memoryview(raw)
        start = 0
        while start < len(raw):
            end = raw.find(_DELIMITER, start)
            if end < 0:
                self._append(view[start:])
                break
            self._append(view[start:end])
            self._finish(out)
            start = end + 1
        return out

    def _append(self, chunk: memoryview) -> None:
        if not chunk:
            return
        if not self._synced or self._overlong:
            self.n_discarded_bytes += len(chunk)
            return
        self._buf += chunk
        if len(self._buf) > self._max_encoded:
            self.n_discarded_bytes += len(self._buf)
            self.n_bad_packets += 1
            self._buf.clear()
            self._overlong = True

    def _finish(self, out: list[bytes]) -> None:
        if not self._synced:
            self._synced = True
            return
        if self._overlong:
            self._overlong = False
            return
        if not self._buf:
            return  # back-to-back delimiters: an idle line, not an error
        encoded = bytes(self._buf)
        self._buf.clear()
        try:
            packet = cobs.decode(encoded)
        except cobs.DecodeError:
            self.n_bad_packets += 1
            self.n_discarded_bytes += len(encoded)
            return
        out.append(packet)
