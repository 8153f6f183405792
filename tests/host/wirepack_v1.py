"""A small packer for protocol v1 frames, written from firmware/PROTOCOL.md for the
host tests (the firmware has its own; both meet at tests/vectors/protocol_v1.json)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def frame(ftype: int, payload: bytes, *, seq: int = 0, t_device_us: int = 0, version: int = 1) -> bytes:
    body = struct.pack("<BBHII", version, ftype, len(payload), seq, t_device_us) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def emg(samples, *, first_sample=0, channel_mask=None, backfill=False, seq=0, t_device_us=0) -> bytes:
    """samples: (n_channels, n_samples) raw u16 words."""
    s = np.asarray(samples, dtype=np.uint16)
    n_ch, n_s = s.shape
    if channel_mask is None:
        channel_mask = (1 << n_ch) - 1
    flags = (1 if backfill else 0) | (2 if np.any(s & 0x8000) else 0)
    payload = struct.pack("<IBBBB", first_sample, n_ch, n_s, channel_mask, flags)
    payload += s.T.astype("<u2").tobytes()
    return frame(1, payload, seq=seq, t_device_us=t_device_us)


def imu(samples, *, first_sample=0, backfill=False, seq=0, t_device_us=0) -> bytes:
    """samples: (6, n_samples) int16."""
    s = np.asarray(samples, dtype=np.int16)
    payload = struct.pack("<IBBH", first_sample, s.shape[1], 1 if backfill else 0, 0)
    payload += s.T.astype("<i2").tobytes()
    return frame(2, payload, seq=seq, t_device_us=t_device_us)


def status(*, battery_mV=3900, battery_pct=80, state=1, counters=(0, 0, 0, 0), free_heap_bytes=100000, seq=0, t_device_us=0):
    payload = struct.pack("<HBBIIIII", battery_mV, battery_pct, state, *counters, free_heap_bytes)
    return frame(3, payload, seq=seq, t_device_us=t_device_us)


def response(opcode, token, code=0, *, ping=None, seq=0, t_device_us=0):
    payload = struct.pack("<BBBB", opcode, token, code, 0)
    if ping is not None:
        payload += struct.pack("<II", *ping)
    return frame(4, payload, seq=seq, t_device_us=t_device_us)


def event(code, emg_sample, *, seq=0, t_device_us=0):
    return frame(5, struct.pack("<HHI", code, 0, emg_sample), seq=seq, t_device_us=t_device_us)


def info(*, name="glutescope-0001", channel_mask=3, emg_fs_hz=2000, imu_fs_hz=104, vref_mV=3300,
         emg_gain=1000.0, acc_g_per_lsb=0.000122, gyro_dps_per_lsb=0.0175, seq=0, t_device_us=0):
    raw = name.encode("utf-8")
    payload = struct.pack("<BBBBBBHHHfffHB", 1, 0, 1, 0, 7, channel_mask, emg_fs_hz, imu_fs_hz, vref_mV,
                          emg_gain, acc_g_per_lsb, gyro_dps_per_lsb, 4000, len(raw)) + raw
    return frame(6, payload, seq=seq, t_device_us=t_device_us)
