"""Wire protocol v1: frame decoding and command encoding.

This module is the host's reading of ``firmware/PROTOCOL.md``; it is written
independently of the firmware's packer and both are held to the golden vectors in
``tests/vectors/protocol_v1.json``. It is pure: bytes in, frozen dataclasses out.

All integers on the wire are little-endian. Every frame is a 12-byte header
(``version``, ``type``, ``payload_len``, ``seq``, ``t_device_us``), the payload, and a
CRC-32 (IEEE 802.3, as :func:`zlib.crc32`) of everything before it. Scaling the
words to physical units is `glutescope.units`.
"""

from __future__ import annotations

import enum
import math
import struct
import zlib
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Union

import numpy as np

__all__ = [
    "PROTOCOL_VERSION",
    "HEADER_BYTES",
    "CRC_BYTES",
    "FRAME_OVERHEAD_BYTES",
    "MAX_FRAME_BYTES_BLE",
    "MAX_FRAME_BYTES_USB",
    "DEVICE_CLOCK_MODULUS_US",
    "EMG_FS_HZ_SUPPORTED",
    "IMU_FS_HZ_SUPPORTED",
    "IMU_LOST_SAMPLE",
    "SERVICE_UUID",
    "STREAM_CHAR_UUID",
    "CONTROL_CHAR_UUID",
    "INFO_CHAR_UUID",
    "BATTERY_SERVICE_UUID",
    "BATTERY_LEVEL_CHAR_UUID",
    "DEVICE_INFO_SERVICE_UUID",
    "MANUFACTURER_NAME_CHAR_UUID",
    "MODEL_NUMBER_CHAR_UUID",
    "FIRMWARE_REVISION_CHAR_UUID",
    "FrameType",
    "Opcode",
    "ErrorCode",
    "StreamId",
    "DeviceState",
    "FrameError",
    "EmgBlock",
    "ImuBlock",
    "Status",
    "Response",
    "Event",
    "DeviceInfo",
    "Frame",
    "decode_frame",
    "encode_start",
    "encode_stop",
    "encode_mark",
    "encode_ping",
    "encode_resend",
    "encode_get_info",
    "encode_get_status",
]

PROTOCOL_VERSION = 1
HEADER_BYTES = 12
CRC_BYTES = 4
FRAME_OVERHEAD_BYTES = HEADER_BYTES + CRC_BYTES
#: Largest frame on BLE with the ATT MTU of 247 the host requests (MTU - 3).
MAX_FRAME_BYTES_BLE = 244
#: Largest frame on USB serial (before COBS).
MAX_FRAME_BYTES_USB = 1024
#: ``t_device_us`` is MicroPython's ``time.ticks_us()``, which wraps at 2**30 µs.
DEVICE_CLOCK_MODULUS_US = 1 << 30

EMG_FS_HZ_SUPPORTED = (500, 1000, 1500, 2000)
#: The LSM6DSOX output data rates the firmware offers; 0 switches the IMU off.
IMU_FS_HZ_SUPPORTED = (0, 104, 208)

SERVICE_UUID = "5a1c0001-7d3e-4b8a-9f21-3c6e0b9d4a17"
STREAM_CHAR_UUID = "5a1c0002-7d3e-4b8a-9f21-3c6e0b9d4a17"
CONTROL_CHAR_UUID = "5a1c0003-7d3e-4b8a-9f21-3c6e0b9d4a17"
INFO_CHAR_UUID = "5a1c0004-7d3e-4b8a-9f21-3c6e0b9d4a17"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_CHAR_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_CHAR_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_CHAR_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_CHAR_UUID = "00002a26-0000-1000-8000-00805f9b34fb"

_HEADER = struct.Struct("<BBHII")
_CRC = struct.Struct("<I")
_EMG_HEAD = struct.Struct("<IBBBB")
_IMU_HEAD = struct.Struct("<IBBH")
_STATUS = struct.Struct("<HBBIIIII")
_STATUS_EXT = struct.Struct("<IIIIII")  # appended in firmware 0.2 (PROTOCOL.md, STATUS)
_BATTERY_AGE_NEVER = 0xFFFFFFFF
_RESPONSE_HEAD = struct.Struct("<BBBB")
_PING_ECHO = struct.Struct("<II")
_EVENT = struct.Struct("<HHI")
_INFO_HEAD = struct.Struct("<BBBBBBHHHfffHB")
# Bound once: the decoder runs for every frame of a recording (about 130 a second).
_HEADER_UNPACK_FROM = _HEADER.unpack_from
_EMG_HEAD_UNPACK_FROM = _EMG_HEAD.unpack_from
_EMG_HEAD_BYTES = _EMG_HEAD.size
_crc32 = zlib.crc32
#: CRC-32 of any message followed by its own CRC-32, little-endian (the residue of the
#: reflected CRC-32 with its final XOR).
_CRC32_RESIDUE = 0x2144DF1C

_FLAG_BACKFILL = 0x01
_FLAG_ADC_ERROR = 0x02
_SAMPLE_CODE_MASK = 0x0FFF
_SAMPLE_RESERVED_MASK = 0x7000
_SAMPLE_ERROR_BIT = 0x8000
IMU_LOST_SAMPLE = -32768
"""Every word of an IMU sample the wearable's sensor FIFO dropped (PROTOCOL.md, IMU block)."""
_EMG_MAX_CHANNELS = 4
_IMU_AXES = 6
_BATTERY_PCT_UNKNOWN = 255
_POPCOUNT = tuple(bin(m).count("1") for m in range(256))
# High bytes of EMG words (bits 8-15): those with bits 12-15 clear, and those with
# bits 12-14 (reserved) clear.
_HIGH_BYTES_CLEAN = bytes(range(0x10))
_HIGH_BYTES_NOT_RESERVED = bytes(b for b in range(256) if not b & (_SAMPLE_RESERVED_MASK >> 8))


class FrameType(enum.IntEnum):
    """Frame ``type`` byte (wearable to host)."""

    EMG = 0x01
    IMU = 0x02
    STATUS = 0x03
    RESPONSE = 0x04
    EVENT = 0x05
    INFO = 0x06


class Opcode(enum.IntEnum):
    """Command opcodes (host to wearable)."""

    START = 0x01
    STOP = 0x02
    MARK = 0x03
    PING = 0x04
    RESEND = 0x05
    GET_INFO = 0x06
    GET_STATUS = 0x07


class ErrorCode(enum.IntEnum):
    """``code`` of a RESPONSE frame; :attr:`message` says it in words."""

    OK = 0
    UNKNOWN_OPCODE = 1
    BAD_LENGTH = 2
    BAD_RATE = 3
    BAD_CHANNELS = 4
    BAD_STATE = 5
    OUT_OF_WINDOW = 6
    BUSY = 7

    @property
    def message(self) -> str:
        """One line for a person saying what the wearable answered."""
        return _ERROR_MESSAGES[self]


_ERROR_MESSAGES = {
    ErrorCode.OK: "ok",
    ErrorCode.UNKNOWN_OPCODE: "the wearable does not know this command",
    ErrorCode.BAD_LENGTH: "the command's payload has the wrong length for its opcode",
    ErrorCode.BAD_RATE: "the EMG or IMU sampling rate is not supported by the wearable",
    ErrorCode.BAD_CHANNELS: "the channel mask is empty or names an ADC input the board lacks",
    ErrorCode.BAD_STATE: "the command is not allowed in the wearable's current state",
    ErrorCode.OUT_OF_WINDOW: "the requested samples are no longer (or not yet) in the wearable's memory",
    ErrorCode.BUSY: "the wearable is busy (a resend is running, or more commands came at once than it holds): try again",
}


class StreamId(enum.IntEnum):
    """Stream selector of the RESEND command."""

    EMG = 0
    IMU = 1


class DeviceState(enum.IntEnum):
    """``state`` of a STATUS frame."""

    IDLE = 0
    STREAMING = 1


class FrameError(ValueError):
    """A frame that cannot be trusted: truncated, bad version, unknown type, length or
    CRC mismatch, or counts that contradict each other. The host counts and skips it."""


@dataclass(frozen=True, eq=False)
class EmgBlock:
    """An EMG block (frame type 0x01).

    Compared by identity: ``samples`` is an array. Use :func:`numpy.array_equal` on it.
    """

    seq: int
    """Frame sequence number since the wearable booted (u32, wraps at 2**32)."""
    t_device_us: int
    """Device clock when the first sample was converted, µs modulo 2**30."""
    first_sample: int
    """Stream index of the block's first sample, counted from 0 at START."""
    channel_mask: int
    """ADC inputs present, bit i = ADC i; rows of ``samples`` follow ascending input order."""
    backfill: bool
    """True when the block was resent from the wearable's RAM window on request."""
    adc_error: bool
    """True when some sample carries the ADC's conversion-error bit (bit 15)."""
    samples: np.ndarray
    """Raw ADC words, uint16, shape (n_channels, n_samples), read-only. Bits 0-11 are the
    ADC code (0-4095), bit 15 the conversion-error flag; :func:`glutescope.units.codes_to_uV` gives NaN there."""

    @property
    def n_channels(self) -> int:
        """Number of EMG channels (rows of ``samples``)."""
        return int(self.samples.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per channel in this block."""
        return int(self.samples.shape[1])

    @property
    def channels(self) -> tuple[int, ...]:
        """ADC input number of each row of ``samples``."""
        return _mask_to_inputs(self.channel_mask)


@dataclass(frozen=True, eq=False)
class ImuBlock:
    """An IMU block (frame type 0x02). Compared by identity, like :class:`EmgBlock`."""

    seq: int
    """Frame sequence number since the wearable booted (u32, wraps at 2**32)."""
    t_device_us: int
    """Device clock of the block's first sample, µs modulo 2**30."""
    first_sample: int
    """Stream index of the block's first sample, counted from 0 at START."""
    backfill: bool
    """True when the block was resent from the wearable's RAM window on request."""
    samples: np.ndarray
    """Raw sensor readings, int16 LSB, shape (6, n_samples), read-only; rows are
    ax, ay, az, gx, gy, gz in sensor axes. :func:`glutescope.units.imu_to_si` scales them."""

    @property
    def n_samples(self) -> int:
        """Samples in this block."""
        return int(self.samples.shape[1])


@dataclass(frozen=True)
class Status:
    """Wearable health (frame type 0x03), sent once a second and on GET_STATUS."""

    seq: int
    """Frame sequence number since the wearable booted."""
    t_device_us: int
    """Device clock when the frame was made, µs modulo 2**30."""
    battery_mV: int
    """Battery voltage in mV."""
    battery_pct: int
    """Battery charge in percent (0-100), or 255 when the wearable does not know it
    (see :attr:`battery_known`)."""
    state: DeviceState
    """Idle or streaming."""
    emg_overruns: int
    """Since boot: EMG polls that found samples overwritten in the DMA ring (sent marked
    lost, with the ADC error bit), plus ADC and IMU FIFO overflows."""
    saturated_samples: int
    """EMG samples at code 0 or 4095 since boot."""
    notify_backoffs: int
    """Times the sender held a frame back because the link could not take it: the radio
    refused it (NimBLE ENOMEM), the free heap was below the sender's floor, or copying
    the notification raised MemoryError (btstack queues notifications on the heap)."""
    ring_drops: int
    """Samples overwritten in the RAM ring before they were sent."""
    free_heap_bytes: int
    """Free MicroPython heap in bytes."""
    heap_waits: Optional[int] = None
    """Of ``notify_backoffs``: waits for the free heap to regain the sender's floor
    (``None``: the firmware predates this field)."""
    notify_memory_errors: Optional[int] = None
    """Of ``notify_backoffs``: notifications whose copy raised MemoryError and were retried."""
    commands_refused: Optional[int] = None
    """Commands answered BUSY because they arrived while the command queue was full."""
    commands_lost: Optional[int] = None
    """Commands that arrived in a burst too large even to be answered (no RESPONSE)."""
    battery_age_ms: Optional[int] = None
    """How long ago ``battery_mV`` was measured, in ms (``None``: never measured, or a
    firmware without this field)."""
    free_heap_min_bytes: Optional[int] = None
    """Lowest free heap the sender has seen since boot, in bytes."""

    @property
    def battery_known(self) -> bool:
        """False when ``battery_pct`` is 255 (unknown)."""
        return self.battery_pct != _BATTERY_PCT_UNKNOWN


@dataclass(frozen=True)
class Response:
    """The single answer to a command (frame type 0x04)."""

    seq: int
    """Frame sequence number since the wearable booted."""
    t_device_us: int
    """Device clock when the frame was made, µs modulo 2**30."""
    opcode: int
    """Opcode of the command answered (an :class:`Opcode` value unless ``code`` is
    UNKNOWN_OPCODE)."""
    token: int
    """The command's token, echoed (0-255)."""
    code: ErrorCode
    """OK or the reason the command was refused."""
    host_time: int | None = None
    """PING only: the u32 the host sent, echoed; None otherwise."""
    device_time_us: int | None = None
    """PING only: device clock when the PING was handled, µs modulo 2**30; None otherwise."""

    @property
    def ok(self) -> bool:
        """True when the command was accepted."""
        return self.code is ErrorCode.OK


@dataclass(frozen=True)
class Event:
    """A marker (frame type 0x05) sent in reply to MARK."""

    seq: int
    """Frame sequence number since the wearable booted."""
    t_device_us: int
    """Device clock when the frame was made, µs modulo 2**30."""
    code: int
    """The u16 code the host chose in MARK."""
    emg_sample: int
    """EMG stream index at which the mark was taken."""


@dataclass(frozen=True)
class DeviceInfo:
    """What the wearable is and how to scale its numbers (frame type 0x06)."""

    seq: int
    """Frame sequence number since the wearable booted."""
    t_device_us: int
    """Device clock when the frame was made, µs modulo 2**30."""
    protocol_version: int
    """Wire protocol version the firmware speaks."""
    fw_version: tuple[int, int, int]
    """Firmware version (major, minor, patch)."""
    adc_channels_available: int
    """ADC inputs free for EMG on this board, bit i = ADC i."""
    channel_mask: int
    """ADC inputs in use, 0 when idle."""
    emg_fs_hz: int
    """EMG sampling rate per channel in Hz (configured, or the default when idle)."""
    imu_fs_hz: int
    """IMU output data rate in Hz, 0 when there is no IMU."""
    vref_mV: int
    """ADC reference voltage in mV."""
    emg_gain: float
    """Analog front-end gain from electrodes to ADC pin, V/V."""
    acc_g_per_lsb: float
    """Accelerometer scale, g per LSB."""
    gyro_dps_per_lsb: float
    """Gyroscope scale, degrees per second per LSB."""
    backfill_window_ms: int
    """How far back RESEND can reach, in ms."""
    name: str
    """Device name (UTF-8), e.g. ``glutescope-1A2B``."""

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of every field (for recordings' ``meta.json``)."""
        d = asdict(self)
        d["fw_version"] = list(self.fw_version)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DeviceInfo:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If a field is missing or of the wrong kind.
        """
        try:
            return cls(
                seq=int(d["seq"]),
                t_device_us=int(d["t_device_us"]),
                protocol_version=int(d["protocol_version"]),
                fw_version=tuple(int(v) for v in d["fw_version"]),  # type: ignore[arg-type]
                adc_channels_available=int(d["adc_channels_available"]),
                channel_mask=int(d["channel_mask"]),
                emg_fs_hz=int(d["emg_fs_hz"]),
                imu_fs_hz=int(d["imu_fs_hz"]),
                vref_mV=int(d["vref_mV"]),
                emg_gain=float(d["emg_gain"]),
                acc_g_per_lsb=float(d["acc_g_per_lsb"]),
                gyro_dps_per_lsb=float(d["gyro_dps_per_lsb"]),
                backfill_window_ms=int(d["backfill_window_ms"]),
                name=str(d["name"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"device info dict is not valid: {exc!r}") from None


Frame = Union[EmgBlock, ImuBlock, Status, Response, Event, DeviceInfo]
"""Any decoded frame."""


def _mask_to_inputs(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(8) if mask >> i & 1)


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one frame and check everything the protocol lets the host check.

    Parameters
    ----------
    data : bytes-like
        Exactly one frame: header, payload and CRC (for USB, after COBS decoding).

    Returns
    -------
    Frame
        An :class:`EmgBlock`, :class:`ImuBlock`, :class:`Status`, :class:`Response`,
        :class:`Event` or :class:`DeviceInfo`.

    Raises
    ------
    FrameError
        With one line saying what is wrong: truncated, bad version, length mismatch,
        CRC mismatch, unknown type, or inconsistent counts/values. No other exception
        escapes for bytes-like input.
    TypeError
        If ``data`` is not bytes-like.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
    buf = bytes(data)
    n = len(buf)
    if n < FRAME_OVERHEAD_BYTES:
        raise FrameError(f"truncated frame: {n} bytes, a frame has at least {FRAME_OVERHEAD_BYTES}")
    version, ftype, payload_len, seq, t_device_us = _HEADER_UNPACK_FROM(buf, 0)
    if version != PROTOCOL_VERSION:
        raise FrameError(f"bad protocol version {version}, expected {PROTOCOL_VERSION}")
    expected = FRAME_OVERHEAD_BYTES + payload_len
    if n != expected:
        raise FrameError(
            f"length mismatch: payload_len {payload_len} needs a {expected}-byte frame, got {n} bytes"
        )
    # The CRC of a frame together with its own little-endian CRC is a constant: one
    # pass over the bytes as they are, no slice. Which CRC is wrong is worked out only
    # for the message of a frame that fails.
    if _crc32(buf) != _CRC32_RESIDUE:
        (crc_wire,) = _CRC.unpack_from(buf, n - CRC_BYTES)
        crc = _crc32(memoryview(buf)[: n - CRC_BYTES])
        raise FrameError(f"CRC mismatch: frame says 0x{crc_wire:08x}, bytes give 0x{crc:08x}")
    if t_device_us >= DEVICE_CLOCK_MODULUS_US:
        raise FrameError(f"t_device_us {t_device_us} is not below 2**30")
    decoder = _DECODERS.get(ftype)
    if decoder is None:
        raise FrameError(f"unknown frame type 0x{ftype:02x}")
    return decoder(seq, t_device_us, buf[HEADER_BYTES : n - CRC_BYTES])


def _decode_emg(seq: int, t_device_us: int, p: bytes) -> EmgBlock:
    n = len(p)
    if n < _EMG_HEAD_BYTES:
        raise FrameError(f"EMG payload of {n} bytes is shorter than its {_EMG_HEAD_BYTES}-byte head")
    first_sample, n_ch, n_s, mask, flags = _EMG_HEAD_UNPACK_FROM(p, 0)
    if not 1 <= n_ch <= _EMG_MAX_CHANNELS:
        raise FrameError(f"inconsistent counts: EMG n_channels {n_ch} is not in 1-{_EMG_MAX_CHANNELS}")
    if _POPCOUNT[mask] != n_ch:
        raise FrameError(
            f"inconsistent counts: channel_mask 0x{mask:02x} names {_POPCOUNT[mask]} inputs, n_channels is {n_ch}"
        )
    need = _EMG_HEAD_BYTES + 2 * n_ch * n_s
    if n != need:
        raise FrameError(
            f"inconsistent counts: {n_ch} channels x {n_s} samples need a {need}-byte EMG payload, got {n}"
        )
    # Bits 12-15 of a little-endian word are the top nibble of its second byte. Deleting
    # every high byte whose top nibble is 0 leaves nothing for a clean block: the check
    # stays in C, where two numpy reductions on ~80 words cost more than the rest of
    # the decode together.
    flagged = p[_EMG_HEAD_BYTES + 1 :: 2].translate(None, _HIGH_BYTES_CLEAN)
    any_error = False
    if flagged:
        if flagged.translate(None, _HIGH_BYTES_NOT_RESERVED):
            raise FrameError("EMG sample has reserved bits 12-14 set")
        any_error = not flagged.isascii()  # a byte >= 0x80: bit 15, the error bit
    if any_error != bool(flags & _FLAG_ADC_ERROR):
        raise FrameError(
            f"inconsistent flags: ADC_ERROR flag is {bool(flags & _FLAG_ADC_ERROR)} but "
            f"{'some' if any_error else 'no'} sample has its error bit set"
        )
    samples = np.ascontiguousarray(
        np.frombuffer(p, dtype="<u2", offset=_EMG_HEAD_BYTES).reshape(n_s, n_ch).T, dtype=np.uint16
    )
    samples.flags.writeable = False
    return EmgBlock(seq, t_device_us, first_sample, mask, bool(flags & _FLAG_BACKFILL), any_error, samples)


def _decode_imu(seq: int, t_device_us: int, p: bytes) -> ImuBlock:
    if len(p) < _IMU_HEAD.size:
        raise FrameError(f"IMU payload of {len(p)} bytes is shorter than its {_IMU_HEAD.size}-byte head")
    first_sample, n_s, flags, _reserved = _IMU_HEAD.unpack_from(p, 0)
    need = _IMU_HEAD.size + 2 * _IMU_AXES * n_s
    if len(p) != need:
        raise FrameError(
            f"inconsistent counts: {n_s} IMU samples need a {need}-byte payload, got {len(p)}"
        )
    samples = np.ascontiguousarray(
        np.frombuffer(p, dtype="<i2", offset=_IMU_HEAD.size).reshape(n_s, _IMU_AXES).T, dtype=np.int16
    )
    samples.flags.writeable = False
    return ImuBlock(seq, t_device_us, first_sample, bool(flags & _FLAG_BACKFILL), samples)


def _decode_status(seq: int, t_device_us: int, p: bytes) -> Status:
    full = _STATUS.size + _STATUS_EXT.size
    if len(p) != _STATUS.size and len(p) < full:
        raise FrameError(
            f"length mismatch: STATUS payload is {_STATUS.size} or at least {full} bytes, got {len(p)}"
        )
    mv, pct, state, overruns, saturated, backoffs, drops, heap = _STATUS.unpack_from(p, 0)
    ext: tuple = (None,) * 6
    if len(p) >= full:  # fields are only ever appended: read the ones this host knows
        ext = _STATUS_EXT.unpack_from(p, _STATUS.size)
        if ext[4] == _BATTERY_AGE_NEVER:
            ext = ext[:4] + (None,) + ext[5:]
    if pct > 100 and pct != _BATTERY_PCT_UNKNOWN:
        raise FrameError(f"battery_pct {pct} is neither 0-100 nor 255 (unknown)")
    try:
        state_enum = DeviceState(state)
    except ValueError:
        raise FrameError(f"unknown device state {state}") from None
    return Status(
        seq=seq,
        t_device_us=t_device_us,
        battery_mV=mv,
        battery_pct=pct,
        state=state_enum,
        emg_overruns=overruns,
        saturated_samples=saturated,
        notify_backoffs=backoffs,
        ring_drops=drops,
        free_heap_bytes=heap,
        heap_waits=ext[0],
        notify_memory_errors=ext[1],
        commands_refused=ext[2],
        commands_lost=ext[3],
        battery_age_ms=ext[4],
        free_heap_min_bytes=ext[5],
    )


def _decode_response(seq: int, t_device_us: int, p: bytes) -> Response:
    if len(p) < _RESPONSE_HEAD.size:
        raise FrameError(f"RESPONSE payload of {len(p)} bytes is shorter than {_RESPONSE_HEAD.size}")
    opcode, token, code, _reserved = _RESPONSE_HEAD.unpack_from(p, 0)
    try:
        code_enum = ErrorCode(code)
    except ValueError:
        raise FrameError(f"unknown RESPONSE code {code}") from None
    if opcode == Opcode.PING and code_enum is ErrorCode.OK:
        need = _RESPONSE_HEAD.size + _PING_ECHO.size
        if len(p) != need:
            raise FrameError(f"length mismatch: PING RESPONSE payload is {need} bytes, got {len(p)}")
        host_time, device_time_us = _PING_ECHO.unpack_from(p, _RESPONSE_HEAD.size)
        if device_time_us >= DEVICE_CLOCK_MODULUS_US:
            raise FrameError(f"PING device_time_us {device_time_us} is not below 2**30")
        return Response(seq, t_device_us, opcode, token, code_enum, host_time, device_time_us)
    if len(p) != _RESPONSE_HEAD.size:
        raise FrameError(
            f"length mismatch: RESPONSE to opcode 0x{opcode:02x} is {_RESPONSE_HEAD.size} bytes, got {len(p)}"
        )
    return Response(seq, t_device_us, opcode, token, code_enum)


def _decode_event(seq: int, t_device_us: int, p: bytes) -> Event:
    if len(p) != _EVENT.size:
        raise FrameError(f"length mismatch: EVENT payload is {_EVENT.size} bytes, got {len(p)}")
    code, _reserved, emg_sample = _EVENT.unpack_from(p, 0)
    return Event(seq=seq, t_device_us=t_device_us, code=code, emg_sample=emg_sample)


def _decode_info(seq: int, t_device_us: int, p: bytes) -> DeviceInfo:
    if len(p) < _INFO_HEAD.size:
        raise FrameError(f"INFO payload of {len(p)} bytes is shorter than its {_INFO_HEAD.size}-byte head")
    (
        proto,
        major,
        minor,
        patch,
        available,
        mask,
        emg_fs_hz,
        imu_fs_hz,
        vref_mV,
        gain,
        acc,
        gyro,
        window_ms,
        name_len,
    ) = _INFO_HEAD.unpack_from(p, 0)
    if len(p) != _INFO_HEAD.size + name_len:
        raise FrameError(
            f"inconsistent counts: name_len {name_len} needs a {_INFO_HEAD.size + name_len}-byte INFO payload, got {len(p)}"
        )
    try:
        name = bytes(p[_INFO_HEAD.size :]).decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("INFO device name is not valid UTF-8") from None
    for field, value in (("emg_gain", gain), ("acc_g_per_lsb", acc), ("gyro_dps_per_lsb", gyro)):
        if not math.isfinite(value):
            raise FrameError(f"INFO {field} is not a finite number ({value})")
    return DeviceInfo(
        seq=seq,
        t_device_us=t_device_us,
        protocol_version=proto,
        fw_version=(major, minor, patch),
        adc_channels_available=available,
        channel_mask=mask,
        emg_fs_hz=emg_fs_hz,
        imu_fs_hz=imu_fs_hz,
        vref_mV=vref_mV,
        emg_gain=gain,
        acc_g_per_lsb=acc,
        gyro_dps_per_lsb=gyro,
        backfill_window_ms=window_ms,
        name=name,
    )


_DECODERS: dict[int, Callable[[int, int, bytes], Frame]] = {
    FrameType.EMG: _decode_emg,
    FrameType.IMU: _decode_imu,
    FrameType.STATUS: _decode_status,
    FrameType.RESPONSE: _decode_response,
    FrameType.EVENT: _decode_event,
    FrameType.INFO: _decode_info,
}


# ---------------------------------------------------------------- commands


def _check_uint(name: str, value: int, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    top = (1 << bits) - 1
    if not 0 <= value <= top:
        raise ValueError(f"{name} must be in 0-{top}, got {value}")
    return int(value)


def _command(opcode: Opcode, token: int, payload: bytes = b"") -> bytes:
    return bytes((opcode, _check_uint("token", token, 8))) + payload


def encode_start(token: int, emg_fs_hz: int, channel_mask: int, imu_fs_hz: int) -> bytes:
    """START: (re)start streaming; stream indices restart at 0.

    Parameters
    ----------
    token : int
        0-255, echoed in the RESPONSE.
    emg_fs_hz : int
        EMG rate per channel, one of :data:`EMG_FS_HZ_SUPPORTED`.
    channel_mask : int
        ADC inputs to sample, bit i = ADC i; 1-255 (the wearable refuses inputs its
        board lacks with BAD_CHANNELS).
    imu_fs_hz : int
        IMU rate, one of :data:`IMU_FS_HZ_SUPPORTED` (0 = no IMU).

    Returns
    -------
    bytes
        The command (the BLE control write; :func:`glutescope.framing.encode_command_packet`
        frames it for USB).
    """
    _check_uint("emg_fs_hz", emg_fs_hz, 16)
    if emg_fs_hz not in EMG_FS_HZ_SUPPORTED:
        raise ValueError(f"emg_fs_hz must be one of {EMG_FS_HZ_SUPPORTED}, got {emg_fs_hz}")
    if _check_uint("channel_mask", channel_mask, 8) == 0:
        raise ValueError("channel_mask must name at least one ADC input (1-255), got 0")
    _check_uint("imu_fs_hz", imu_fs_hz, 16)
    if imu_fs_hz not in IMU_FS_HZ_SUPPORTED:
        raise ValueError(f"imu_fs_hz must be one of {IMU_FS_HZ_SUPPORTED}, got {imu_fs_hz}")
    return _command(Opcode.START, token, struct.pack("<HBH", emg_fs_hz, channel_mask, imu_fs_hz))


def encode_stop(token: int) -> bytes:
    """STOP: stop streaming. ``token`` 0-255 is echoed in the RESPONSE."""
    return _command(Opcode.STOP, token)


def encode_mark(token: int, code: int) -> bytes:
    """MARK: ask for an EVENT frame tagged with the current EMG index.

    Parameters
    ----------
    token : int
        0-255, echoed in the RESPONSE.
    code : int
        0-65535, chosen by the host, returned in the EVENT.
    """
    return _command(Opcode.MARK, token, struct.pack("<H", _check_uint("code", code, 16)))


def encode_ping(token: int, host_time: int) -> bytes:
    """PING: the RESPONSE echoes ``host_time`` with the device time (clock sync).

    Parameters
    ----------
    token : int
        0-255, echoed in the RESPONSE.
    host_time : int
        Any u32 (0 to 2**32 - 1) the host wants back, e.g. its clock in µs modulo 2**32.
    """
    return _command(Opcode.PING, token, struct.pack("<I", _check_uint("host_time", host_time, 32)))


def encode_resend(token: int, stream: StreamId | int, first_sample: int, n_samples: int) -> bytes:
    """RESEND: have a range of a stream resent as BACKFILL blocks.

    Parameters
    ----------
    token : int
        0-255, echoed in the RESPONSE.
    stream : StreamId or int
        0 (EMG) or 1 (IMU).
    first_sample : int
        Stream index of the first missing sample (u32).
    n_samples : int
        How many samples, 1-65535.
    """
    if _check_uint("stream", stream, 8) not in (StreamId.EMG, StreamId.IMU):
        raise ValueError(f"stream must be 0 (EMG) or 1 (IMU), got {stream}")
    _check_uint("first_sample", first_sample, 32)
    if _check_uint("n_samples", n_samples, 16) == 0:
        raise ValueError("n_samples must be in 1-65535, got 0")
    return _command(Opcode.RESEND, token, struct.pack("<BIH", stream, first_sample, n_samples))


def encode_get_info(token: int) -> bytes:
    """GET_INFO: ask for an INFO frame. ``token`` 0-255 is echoed in the RESPONSE."""
    return _command(Opcode.GET_INFO, token)


def encode_get_status(token: int) -> bytes:
    """GET_STATUS: ask for a STATUS frame. ``token`` 0-255 is echoed in the RESPONSE."""
    return _command(Opcode.GET_STATUS, token)
