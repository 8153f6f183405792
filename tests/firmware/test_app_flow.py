"""Flow control of the firmware's sender on btstack semantics (the shim's default).

btstack never refuses a notification: it copies it to the heap and returns at once. So
nothing but the sender's own pacing keeps a full-window RESEND from being queued in one
go while the sampling tasks wait. These tests run the firmware app over the software BLE
link and watch what the board would feel: how many notifications go out between two
turns of the scheduler, and how much heap the stack's queue takes.
"""
import asyncio
import struct
import sys

import pytest

from glutescope.transports.virtual import VirtualTransport
from glutescope.virtual import ble_shim

pytestmark = pytest.mark.slow

EMG_FS_HZ = 2000
IMU_FS_HZ = 208


def _responses(frames_):
    return [bytes(f[12:15]) for f in frames_ if f[1] == 4]


def test_a_full_window_resend_is_paced_yields_after_every_notify_and_bounds_the_heap():
    frames_ = []
    turns = []  # notifications sent so far, at each turn of the scheduler

    async def scenario():
        t = VirtualTransport(seed=5, speed=4.0)
        await t.connect()
        ble = ble_shim.BLE()
        assert ble.stack == "btstack"
        stop = asyncio.Event()

        async def probe():  # a task that wants the CPU at every turn, like the sampler
            while not stop.is_set():
                turns.append(ble.notifications)
                await asyncio.sleep(0)

        probe_task = asyncio.create_task(probe())
        try:
            await t.send_command(b"\x01\x01" + struct.pack("<HBH", EMG_FS_HZ, 0b111, IMU_FS_HZ))
            await asyncio.sleep(t.wearable.clock.host_seconds(4.5))  # the ring wraps
            w = sys.modules["glutefw.app"].wearable
            ring = w.emg_ring
            # All but the edge the ring overwrites next (0.5 s: a busy host delays the start).
            first, n = ring.oldest + 1000, 7000
            turns.clear()
            await t.send_command(b"\x05\x02" + struct.pack("<BIH", 0, first, n))
            await asyncio.sleep(t.wearable.clock.host_seconds(2.5))
            # ~2 s of device time on an idle machine; a busy one gets longer to finish.
            for _ in range(400):
                if w._resend_stream < 0:
                    break
                await asyncio.sleep(0.05)
            await t.send_command(b"\x07\x03")  # GET_STATUS
            await asyncio.sleep(t.wearable.clock.host_seconds(0.3))
            while not t.frames.empty():
                frames_.append(t.frames.get_nowait().data)
            queue_max = sys.modules["glutefw.config"].BLE_QUEUE_MAX_BYTES
            return w, first, n, queue_max, ble.heap_high_water_bytes
        finally:
            stop.set()
            await probe_task
            await t.close()

    w, first, n, queue_max, heap_hw = asyncio.run(asyncio.wait_for(scenario(), 120))

    back = []
    for f in frames_:
        if f[1] == 1:
            f0, n_ch, n_s, _mask, flags = struct.unpack_from("<IBBBB", f, 12)
            if flags & 1:
                back.append((f0, n_s))
    assert back and back[-1][0] + back[-1][1] == first + n, "the range resent to its end"
    assert all(a + k == b for (a, k), (b, _) in zip(back, back[1:])), "in order, without a hole"
    assert back[0][0] == first, "whole range resent"
    assert b"\x05\x02\x00" in _responses(frames_)
    # Never more than one notification between two turns of the scheduler: the
    # sampling tasks get the CPU after every frame (the old sender queued the whole
    # window, ~200 notifications, in one go).
    steps = [b - a for a, b in zip(turns, turns[1:])]
    assert max(steps) <= 1, max(steps)
    # The stack's heap queue stays within its bound, plus what goes out between two
    # checks of the heap (one per kB sent: at most 5 copies of 318 B); old sender: ~64 kB.
    assert heap_hw <= queue_max + 5 * 318
    assert w.ble.notify_memory_errors == 0 and w.commands.lost == 0
