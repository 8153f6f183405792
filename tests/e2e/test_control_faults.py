"""Malformed and refused commands over the virtual link get one error RESPONSE each.

While the wearable streams to an `Acquisition`, raw command bytes go to the control
characteristic through the transport (as a buggy or hostile host would write them):
unknown opcodes, wrong lengths, unsupported rates and channel sets, and commands that
are well formed but refused in the wearable's state. Each must be answered by exactly
one RESPONSE carrying its opcode, its token and the error code PROTOCOL.md names, and
the EMG and IMU streams must go on as if nothing happened: no gap, no lost frame, no
restart, every sample equal to what the body presented.
"""
import asyncio
import struct

import numpy as np
import pytest

from glutescope import protocol
from glutescope.acquisition import Acquisition, CommandRefused
from glutescope.protocol import ErrorCode
from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow

EMG_FS_HZ = 1000
IMU_FS_HZ = 104
CHANNEL_MASK = 0b011
SPEED = 2.0
RESPONSE_WAIT_S = 3.0


def _start(token, emg_fs_hz, mask, imu_fs_hz):
    return bytes((0x01, token)) + struct.pack("<HBH", emg_fs_hz, mask, imu_fs_hz)


def _resend(token, stream, first, n):
    return bytes((0x05, token)) + struct.pack("<BIH", stream, first, n)


# (what it is, raw command bytes, opcode answered, token answered, code).
MALFORMED = [
    ("opcode 0", b"\x00\xa0", 0x00, 0xA0, ErrorCode.UNKNOWN_OPCODE),
    ("opcode 8, one past GET_STATUS", b"\x08\xa1\x00\x00", 0x08, 0xA1, ErrorCode.UNKNOWN_OPCODE),
    ("opcode 0xFF", b"\xff\xa2", 0xFF, 0xA2, ErrorCode.UNKNOWN_OPCODE),
    ("empty write", b"", 0x00, 0x00, ErrorCode.UNKNOWN_OPCODE),
    ("STOP without a token", b"\x02", 0x02, 0x00, ErrorCode.BAD_LENGTH),
    ("STOP with a payload", b"\x02\xa3\x00", 0x02, 0xA3, ErrorCode.BAD_LENGTH),
    ("START one byte short", _start(0xA4, 1000, 0b011, 104)[:-1], 0x01, 0xA4, ErrorCode.BAD_LENGTH),
    ("START one byte long", _start(0xA5, 1000, 0b011, 104) + b"\x00", 0x01, 0xA5, ErrorCode.BAD_LENGTH),
    ("PING of 3 bytes", b"\x04\xa6\x01\x02\x03", 0x04, 0xA6, ErrorCode.BAD_LENGTH),
    ("MARK without its code", b"\x03\xa7", 0x03, 0xA7, ErrorCode.BAD_LENGTH),
    ("RESEND without n_samples", _resend(0xA8, 0, 0, 1)[:-2], 0x05, 0xA8, ErrorCode.BAD_LENGTH),
    ("GET_INFO of 100 bytes (beyond the 64-byte buffer)", b"\x06\xa9" + bytes(98), 0x06, 0xA9,
     ErrorCode.BAD_LENGTH),
    ("START at 999 Hz", _start(0xAA, 999, 0b011, 104), 0x01, 0xAA, ErrorCode.BAD_RATE),
    ("START at 4000 Hz", _start(0xAB, 4000, 0b011, 104), 0x01, 0xAB, ErrorCode.BAD_RATE),
    ("START with the IMU at 52 Hz", _start(0xAC, 1000, 0b011, 52), 0x01, 0xAC, ErrorCode.BAD_RATE),
    ("START with no channel", _start(0xAD, 1000, 0, 104), 0x01, 0xAD, ErrorCode.BAD_CHANNELS),
    ("START on ADC3 (the radio's pin)", _start(0xAE, 1000, 0b1000, 104), 0x01, 0xAE,
     ErrorCode.BAD_CHANNELS),
    ("START on ADC0-7", _start(0xAF, 1000, 0xFF, 104), 0x01, 0xAF, ErrorCode.BAD_CHANNELS),
    ("RESEND of stream 2", _resend(0xB0, 2, 0, 10), 0x05, 0xB0, ErrorCode.BAD_CHANNELS),
    # Well formed, refused in the wearable's state:
    ("RESEND of samples not taken yet", _resend(0xB1, 0, 10_000_000, 10), 0x05, 0xB1,
     ErrorCode.OUT_OF_WINDOW),
    ("RESEND of IMU samples not taken yet", _resend(0xB2, 1, 10_000_000, 10), 0x05, 0xB2,
     ErrorCode.OUT_OF_WINDOW),
]


async def _answers(acq, opcode, token, after):
    """RESPONSEs to (opcode, token) among those received after index ``after``."""
    return [r for r in acq.session.responses[after:] if (r.opcode, r.token) == (opcode, token)]


async def _wait_samples(acq, n, timeout_s):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while acq.emg.end_sample < n:
        assert loop.time() < deadline, f"only {acq.emg.end_sample} of {n} EMG samples arrived"
        await asyncio.sleep(0.02)


async def _scenario():
    transport = VirtualTransport(exercise="squeeze_test", seed=5, speed=SPEED)
    acq = Acquisition(transport)
    await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=CHANNEL_MASK, imu_fs_hz=IMU_FS_HZ)
    loop = asyncio.get_running_loop()
    got = {}
    try:
        await _wait_samples(acq, EMG_FS_HZ // 2, 10)
        for what, raw, opcode, token, code in MALFORMED:
            before = len(acq.session.responses)
            await transport.send_command(raw)
            deadline = loop.time() + RESPONSE_WAIT_S
            while not await _answers(acq, opcode, token, before) and loop.time() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # a second answer, if any, would arrive by now
            got[what] = [r.code for r in await _answers(acq, opcode, token, before)]
        # Through the host API, a refusal is an exception that names the reason.
        with pytest.raises(CommandRefused, match="not supported by the wearable"):
            await acq.command(_start, 1500, CHANNEL_MASK, 26)  # 26 Hz: an ODR the IMU has, not offered
        with pytest.raises(CommandRefused, match="no longer \\(or not yet\\) in the wearable's memory"):
            await acq.command(protocol.encode_resend, protocol.StreamId.EMG, 50_000_000, 100)
        # The streams went on meanwhile; let them run a little more.
        await _wait_samples(acq, acq.emg.end_sample + EMG_FS_HZ, 10)
        end = acq.emg.end_sample
        truth = transport.wearable.true_emg_codes(0, end)
    finally:
        await acq.close()
    return acq, got, truth


def test_each_malformed_command_gets_one_error_and_streaming_goes_on():
    acq, got, truth = asyncio.run(asyncio.wait_for(_scenario(), 120))

    for what, _raw, _opcode, _token, code in MALFORMED:
        assert got[what] == [code], f"{what}: expected one RESPONSE {code.name}, got {got[what]}"

    # Streaming intact: one segment, no gap, no lost or corrupt frame, the right samples.
    assert acq.counters.lost_frames == 0
    assert acq.counters.corrupt_frames == 0
    assert acq.session.n_restarts == 1  # the START of open() only
    assert len(acq.emg.segments()) == 1 and len(acq.imu.segments()) == 1
    emg = acq.emg.current()
    assert emg.gaps == () and emg.n_backfilled == 0
    n = truth.shape[1]
    assert n >= 2 * EMG_FS_HZ
    assert np.array_equal(emg.samples[:, :n] & 0x0FFF, truth)
    imu = acq.imu.current()
    assert imu.gaps == () and imu.n_samples >= IMU_FS_HZ
    assert acq.info.emg_fs_hz == EMG_FS_HZ and acq.info.channel_mask == CHANNEL_MASK
