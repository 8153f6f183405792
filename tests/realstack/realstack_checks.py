"""Reusable checks of the real-MicroPython layer: the known input, waits, what a stream held.

Not a test module: the tests in this folder import it.
"""
from __future__ import annotations

import asyncio
import importlib.util
import struct
from pathlib import Path

import numpy as np

from glutescope import protocol
from glutescope.stream import Segment

_KNOWN = Path(__file__).resolve().parent / "upy" / "known.py"
_spec = importlib.util.spec_from_file_location("realstack_known", _KNOWN)
known = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(known)  # the very file the stand-in hardware runs

_ERROR_BIT = 0x8000


def emg_truth(channel_mask: int, n: int) -> np.ndarray:
    """What the ADC was fed: uint16 (n_channels, n), rows in channel order."""
    chans = [c for c in range(8) if channel_mask & (1 << c)]
    return np.array([[known.emg_code(c, i) for i in range(n)] for c in chans], dtype=np.uint16)


def imu_truth(n: int) -> np.ndarray:
    """What the IMU was fed: int16 (6, n), rows ax ay az gx gy gz."""
    return np.array([[known.imu_value(i, a) for i in range(n)] for a in range(6)], dtype=np.int16)


async def wait_until(predicate, timeout_s: float, what: str, stack=None) -> None:
    """Poll ``predicate()`` every 10 ms; fail naming ``what`` (and the firmware's stderr)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if stack is not None and stack.exited() is not None:
            raise AssertionError(f"the firmware exited while waiting for {what}:\n{stack.stderr()}")
        if loop.time() > deadline:
            tail = "" if stack is None else "\nfirmware stderr:\n" + stack.stderr()[-3000:]
            raise AssertionError(f"{what} did not happen within {timeout_s} s{tail}")
        await asyncio.sleep(0.01)


def segment_report(segment: Segment, truth: np.ndarray, what: str) -> list[str]:
    """Every way ``segment`` differs from ``truth`` (empty: it is exactly the truth)."""
    problems = []
    n = truth.shape[1]
    if segment.n_samples < n:
        problems.append(f"{what}: only {segment.n_samples} of {n} samples arrived")
    if segment.gaps:
        problems.append(f"{what}: {segment.n_missing} samples missing in {list(segment.gaps)[:5]}")
    m = min(n, segment.n_samples)
    got = segment.samples[:, :m]
    if got.shape[0] != truth.shape[0]:
        problems.append(f"{what}: {got.shape[0]} rows, fed {truth.shape[0]}")
        return problems
    bad = np.flatnonzero(np.any(got != truth[:, :m], axis=0) & segment.valid_mask()[:m])
    if bad.size:
        i = int(bad[0])
        problems.append(f"{what}: {bad.size} samples differ from what was fed, first at index {i}: "
                        f"got {got[:, i].tolist()}, fed {truth[:, i].tolist()}")
    if segment.n_conflicts:
        problems.append(f"{what}: {segment.n_conflicts} blocks arrived twice with different samples")
    return problems


def assert_exactly_fed(emg: Segment, imu: Segment | None, channel_mask: int, n_emg: int, n_imu: int) -> None:
    """The first ``n_emg`` EMG and ``n_imu`` IMU samples arrived, none missing, each as fed."""
    problems = segment_report(emg, emg_truth(channel_mask, n_emg), "EMG")
    if n_imu:
        assert imu is not None, "no IMU segment arrived"
        problems += segment_report(imu, imu_truth(n_imu), "IMU")
    assert not problems, "\n".join(problems)


def response_codes(frames) -> list[tuple[int, int, int]]:
    """(opcode, token, code) of every RESPONSE among received frames, in arrival order."""
    out = []
    for received in frames:
        frame = protocol.decode_frame(received.data)
        if isinstance(frame, protocol.Response):
            out.append((frame.opcode, frame.token, frame.code))
    return out


def u32(x: int) -> bytes:
    return struct.pack("<I", x)
