"""The firmware app over the software BLE link: a dropped link loses nothing in RAM.

While the central is away the wearable keeps sampling into its ring; after the host
reconnects, live frames resume from the present and RESEND brings back the gap as
BACKFILL frames, sample-exact against the codes the body model presented.
"""
import asyncio
import struct

import numpy as np
import pytest

from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow


def _drain(t, into):
    while not t.frames.empty():
        into.append(t.frames.get_nowait().data)


def _emg_blocks(frames_):
    out = []
    for f in frames_:
        if f[1] == 1:
            first, n_ch, n_s, mask, flags = struct.unpack_from("<IBBBB", f, 12)
            codes = np.frombuffer(f[20:20 + 2 * n_ch * n_s], "<u2").reshape(n_s, n_ch).T
            out.append((first, n_s, flags, codes))
    return out


def test_gap_after_a_dropped_link_is_backfilled_exactly():
    frames_ = []

    async def scenario():
        t = VirtualTransport(seed=3, speed=2.0)
        await t.connect()
        try:
            await t.send_command(b"\x01\x01" + struct.pack("<HBH", 1000, 0b011, 104))
            await asyncio.sleep(0.4)
            t.wearable.radio.drop_link()
            await asyncio.sleep(0.6)  # about 1.2 s of EMG goes only to the ring
            _drain(t, frames_)
            await t.connect()
            await asyncio.sleep(0.3)
            _drain(t, frames_)
            live = [b for b in _emg_blocks(frames_) if not b[2] & 1]
            ends = [(a[0] + a[1], b[0]) for a, b in zip(live, live[1:]) if b[0] != a[0] + a[1]]
            assert len(ends) == 1, ends
            gap_first, gap_end = ends[0]
            await t.send_command(b"\x05\x02" + struct.pack("<BIH", 0, gap_first, gap_end - gap_first))
            await asyncio.sleep(0.5)
            await t.send_command(b"\x02\x03")
            await asyncio.sleep(0.2)
            _drain(t, frames_)
            truth = t.wearable.true_emg_codes
            return gap_first, gap_end, truth
        finally:
            await t.close()

    gap_first, gap_end, truth = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert gap_end - gap_first >= 800  # the link really was away
    blocks = _emg_blocks(frames_)
    back = [b for b in blocks if b[2] & 1]
    assert back[0][0] == gap_first and sum(b[1] for b in back) == gap_end - gap_first
    covered = np.zeros(max(b[0] + b[1] for b in blocks), dtype=int)
    for first, n, flags, codes in blocks:
        covered[first:first + n] += 1
        np.testing.assert_array_equal(codes, truth(first, n)[:2])
    assert (covered == 1).all(), "every sample exactly once, live or backfilled"
    responses = [f[12:15] for f in frames_ if f[1] == 4]
    assert responses == [b"\x01\x01\x00", b"\x05\x02\x00", b"\x02\x03\x00"]
