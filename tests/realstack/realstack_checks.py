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
            await stack._drain_output()
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


class FrameTap:
    """A recorder for `glutescope.acquisition.Acquisition` that keeps every decoded frame.

    The acquisition hands it each frame before anything else sees it, so a test can look
    at the BACKFILL blocks and RESPONSEs themselves, not only at the assembled streams.
    """

    def __init__(self) -> None:
        self.frames: list = []

    def append(self, data, t_host_ns=None, *, source=0, host_to_device=False) -> None:
        if host_to_device:
            return
        try:
            self.frames.append(protocol.decode_frame(data))
        except protocol.FrameError:
            self.frames.append(None)

    def responses(self) -> list:
        return [f for f in self.frames if isinstance(f, protocol.Response)]

    def backfill(self, stream: int) -> list:
        kind = protocol.EmgBlock if stream == 0 else protocol.ImuBlock
        return [f for f in self.frames if isinstance(f, kind) and f.backfill]

    def statuses(self) -> list:
        return [f for f in self.frames if isinstance(f, protocol.Status)]


def covered(blocks) -> list[tuple[int, int]]:
    """The index ranges ``blocks`` cover, merged, in order."""
    spans = sorted((b.first_sample, b.first_sample + b.n_samples) for b in blocks)
    out: list[list[int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def covers(blocks, first: int, end: int) -> bool:
    """Whether ``blocks`` cover every index of ``first .. end-1``."""
    return any(a <= first and end <= b for a, b in covered(blocks))


def assert_blocks_as_fed(blocks, channel_mask: int = 0b111) -> None:
    """Every sample of every EMG or IMU block equals what was fed at its index."""
    for b in blocks:
        idx = range(b.first_sample, b.first_sample + b.n_samples)
        if isinstance(b, protocol.EmgBlock):
            chans = [c for c in range(8) if b.channel_mask & (1 << c)]
            want = np.array([[known.emg_code(c, i) for i in idx] for c in chans], dtype=np.uint16)
        else:
            want = np.array([[known.imu_value(i, a) for i in idx] for a in range(6)], dtype=np.int16)
        bad = np.flatnonzero(np.any(b.samples != want, axis=0))
        assert bad.size == 0, (f"block at {b.first_sample} (backfill={b.backfill}): {bad.size} samples "
                               f"differ from what was fed, first at index {b.first_sample + int(bad[0])}")


# -- GATT ------------------------------------------------------------------------------------
def _sig(uuid16: int) -> str:
    return f"0000{uuid16:04x}-0000-1000-8000-00805f9b34fb"


#: firmware/PROTOCOL.md, "BLE GATT": service -> characteristic -> bleak property names.
EXPECTED_GATT = {
    protocol.SERVICE_UUID: {
        protocol.STREAM_CHAR_UUID: {"notify"},
        protocol.CONTROL_CHAR_UUID: {"write", "write-without-response"},
        protocol.INFO_CHAR_UUID: {"read"},
    },
    _sig(0x180F): {_sig(0x2A19): {"read", "notify"}},
    _sig(0x180A): {_sig(0x2A29): {"read"}, _sig(0x2A24): {"read"}, _sig(0x2A26): {"read"}},
}
#: btstack's own GAP and GATT services, which every peripheral has.
STACK_SERVICES = {_sig(0x1800), _sig(0x1801)}


def gatt_layout(services) -> dict:
    """bleak's service collection as {service: {characteristic: set of properties}}."""
    return {s.uuid: {c.uuid: set(c.properties) for c in s.characteristics} for s in services}


def assert_gatt_layout(layout: dict) -> None:
    """Exactly the services, characteristics and properties of PROTOCOL.md (plus btstack's own)."""
    problems = []
    for service, chars in EXPECTED_GATT.items():
        got = layout.get(service)
        if got is None:
            problems.append(f"service {service} missing")
            continue
        for char, props in chars.items():
            if char not in got:
                problems.append(f"characteristic {char} missing from {service}")
            elif got[char] != props:
                problems.append(f"characteristic {char}: properties {sorted(got[char])}, expected {sorted(props)}")
        extra = set(got) - set(chars)
        if extra:
            problems.append(f"service {service} has unexpected characteristics {sorted(extra)}")
    extra = set(layout) - set(EXPECTED_GATT) - STACK_SERVICES
    if extra:
        problems.append(f"unexpected services {sorted(extra)}")
    assert not problems, "GATT layout differs from PROTOCOL.md:\n" + "\n".join(problems)


def ad_structures(data: bytes) -> list[tuple[int, bytes]]:
    """(AD type, value) of each advertising data structure (Core Supplement Part A 1)."""
    out, i = [], 0
    while i < len(data) and data[i]:
        n = data[i]
        out.append((data[i + 1], bytes(data[i + 2:i + 1 + n])))
        i += 1 + n
    return out
