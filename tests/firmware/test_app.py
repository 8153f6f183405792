"""The whole firmware application on the simulated board, talking COBS over a USB pipe."""
import asyncio
import struct
import zlib

import numpy as np
import pytest

from glutescope.virtual import mcu, upy

from test_acquisition import Ramp


class Pipe:
    """Both ends of a USB serial line in memory: the firmware writes, the test reads."""

    def __init__(self):
        self.to_host = bytearray()
        self._to_device = asyncio.Queue()

    def write(self, buf):
        self.to_host += bytes(buf)

    async def read(self, n):
        return await self._to_device.get()

    def send_command(self, opcode, token, payload=b""):
        from glutefw import cobs

        body = bytes([opcode, token]) + payload
        body += struct.pack("<I", zlib.crc32(body))
        enc = bytearray(cobs.max_encoded_len(len(body)))
        n = cobs.encode(body, len(body), enc)
        self._to_device.put_nowait(bytes(enc[:n]) + b"\x00")

    def frames(self):
        from glutefw import cobs

        out = []
        for block in bytes(self.to_host).split(b"\x00")[:-1]:
            raw = bytearray(len(block))
            n = cobs.decode(block, len(block), raw)
            assert n >= 16
            raw = bytes(raw[:n])
            version, ftype, plen, seq, t = struct.unpack_from("<BBHII", raw)
            assert version == 1 and plen + 16 == n
            assert struct.unpack_from("<I", raw, n - 4)[0] == zlib.crc32(raw[:-4])
            out.append((ftype, seq, t, raw[12:-4]))
        return out


@pytest.fixture
def board():
    upy.install(upy.VirtualClock(speed=4.0))
    b = mcu.install(mcu.Board(adc_source=Ramp(), motion_source=None))
    yield b
    mcu.uninstall()
    upy.install(upy.VirtualClock())


def _emg(frames_):
    out = []
    for ftype, _, t, p in frames_:
        if ftype == 1:
            first, n_ch, n_s, mask, flags = struct.unpack_from("<IBBBB", p)
            codes = np.frombuffer(p[8:], "<u2").reshape(n_s, n_ch).T
            out.append((first, n_ch, n_s, mask, flags, codes, t))
    return out


async def _run_app(pipe, script):
    from glutefw import app
    from glutefw.usb import UsbLink

    task = asyncio.create_task(app.main(usb=UsbLink(pipe, pipe), use_ble=False))
    await asyncio.sleep_ms(50)
    try:
        await script(app.wearable)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_stream_over_usb_is_complete_ordered_and_answers_every_command(board):
    pipe = Pipe()

    async def script(w):
        pipe.send_command(0x06, 1)  # GET_INFO
        pipe.send_command(0x01, 2, struct.pack("<HBH", 2000, 0b011, 104))
        await asyncio.sleep_ms(1500)
        pipe.send_command(0x03, 3, struct.pack("<H", 7))  # MARK
        pipe.send_command(0x04, 4, struct.pack("<I", 0xCAFEF00D))  # PING
        pipe.send_command(0x01, 5, struct.pack("<HBH", 1234, 0b011, 104))  # BAD_RATE
        await asyncio.sleep_ms(100)
        pipe.send_command(0x02, 6)  # STOP
        await asyncio.sleep_ms(100)
        pipe.send_command(0x05, 7, struct.pack("<BIH", 0, 100, 200))  # RESEND
        pipe.send_command(0x05, 8, struct.pack("<BIH", 1, 0, 20))  # BUSY: one at a time
        await asyncio.sleep_ms(200)
        pipe.send_command(0x05, 9, struct.pack("<BIH", 1, 0, 20))
        await asyncio.sleep_ms(200)

    asyncio.run(_run_app(pipe, script))
    frames_ = pipe.frames()
    seqs = [f[1] for f in frames_]
    assert seqs == list(range(len(frames_)))
    responses = [struct.unpack_from("<BBB", p) for ftype, _, _, p in frames_ if ftype == 4]
    assert responses == [(6, 1, 0), (1, 2, 0), (3, 3, 0), (4, 4, 0), (1, 5, 3), (2, 6, 0),
                         (5, 7, 0), (5, 8, 7), (5, 9, 0)]
    kinds = [f[0] for f in frames_]
    assert kinds.index(6) < kinds.index(4)  # INFO, then its RESPONSE
    start_ack = [i for i, f in enumerate(frames_) if f[0] == 4][1]
    assert kinds.index(1) > start_ack  # no EMG before START's RESPONSE

    emg = _emg(frames_)
    live = [e for e in emg if not e[4] & 1]
    firsts = [e[0] for e in live]
    assert firsts[0] == 0
    assert all(b[0] == a[0] + a[2] for a, b in zip(live, live[1:])), "gap or overlap"
    total = live[-1][0] + live[-1][2]
    w_head = total
    assert total >= 1.5 * 2000
    assert all(e[2] <= 40 for e in live)  # at most 20 ms per frame
    for first, n_ch, n_s, mask, flags, codes, _ in live:
        assert (n_ch, mask) == (2, 0b011)
        j = first + np.arange(n_s)
        np.testing.assert_array_equal(codes[0], j % 4096)
        np.testing.assert_array_equal(codes[1], (1000 + j) % 4096)

    back = [e for e in emg if e[4] & 1]
    assert [e[0] for e in back][0] == 100 and sum(e[2] for e in back) == 200
    for first, n_ch, n_s, _, _, codes, t in back:
        np.testing.assert_array_equal(codes[1], (1000 + first + np.arange(n_s)) % 4096)
        match = [e for e in live if e[0] <= first < e[0] + e[2]][0]
        dt = upy.ticks_diff(t, match[6])
        # Same timeline as the live frames. Each poll's stamp may pull the timeline
        # earlier (the earliest estimate is the truest), never later, and a poll's lag
        # is event-loop jitter times the clock's speed: allow one poll interval.
        assert -10_000 <= dt - (first - match[0]) * 500 <= 1

    event = [p for ftype, _, _, p in frames_ if ftype == 5]
    code, _, emg_index = struct.unpack("<HHI", event[0])
    assert code == 7 and 0 < emg_index <= w_head
    ping = [p for ftype, _, _, p in frames_ if ftype == 4 and p[0] == 4][0]
    assert struct.unpack_from("<I", ping, 4)[0] == 0xCAFEF00D

    imu = [(struct.unpack_from("<IBB", p)) for ftype, _, _, p in frames_ if ftype == 2]
    live_imu = [f for f in imu if not f[2] & 1]
    assert live_imu[0][0] == 0
    assert all(b[0] == a[0] + a[1] for a, b in zip(live_imu, live_imu[1:]))
    assert abs(sum(f[1] for f in live_imu) - 1.6 * 104) <= 12
    assert sum(f[1] for f in imu if f[2] & 1) == 20

    status = [p for ftype, _, _, p in frames_ if ftype == 3]
    assert len(status) >= 1
    mv, pct, state, overruns, sat, backoffs, drops, heap = struct.unpack_from("<HBBIIIII", status[0])
    assert state == 1 and overruns == 0 and drops == 0 and 3800 <= mv <= 4000


def test_samples_keep_flowing_into_the_ring_without_any_link(board):
    async def main():
        from glutefw import app

        task = asyncio.create_task(app.main(use_ble=False))
        await asyncio.sleep_ms(20)
        w = app.wearable
        assert w.link() is None
        w.commands.put(b"\x01\x09" + struct.pack("<HBH", 1000, 0b111, 208))
        await asyncio.sleep_ms(500)
        head, imu_head = w.emg_ring.head, w.imu_ring.head
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return w, head, imu_head

    w, head, imu_head = asyncio.run(main())
    assert 400 <= head <= 520 and 80 <= imu_head <= 110
    dst = bytearray(6 * head)
    w.emg_ring.read_into(memoryview(dst), 0, head)
    codes = np.frombuffer(bytes(dst), "<u2").reshape(head, 3).T
    np.testing.assert_array_equal(codes[2], (2000 + np.arange(head)) % 4096)
    assert w.packer.seq == 0  # nothing was sent: no frame numbers used up


def _responses(frames_):
    return [struct.unpack_from("<BBB", p) for ftype, _, _, p in frames_ if ftype == 4]


@pytest.mark.parametrize("burst", [16, 40])
def test_every_command_of_a_burst_gets_exactly_one_response(board, burst):
    """A burst delivered before the control task runs (btstack hands every write of a
    connection event over in one poll): each command gets one RESPONSE, BUSY past the
    queue, in the order sent."""
    from glutefw import cmdqueue

    pipe = Pipe()

    async def script(w):
        for token in range(burst):  # no await in between: nothing else runs meanwhile
            op = (0x04, 0x07, 0x06)[token % 3]  # PING, GET_STATUS, GET_INFO
            payload = struct.pack("<I", token) if op == 0x04 else b""
            w.commands.put(bytes([op, token]) + payload)
        await asyncio.sleep_ms(400)

    asyncio.run(_run_app(pipe, script))
    responses = _responses(pipe.frames())
    assert [r[1] for r in responses] == list(range(burst))
    n_ok = min(burst, cmdqueue.SLOTS)
    assert [r[2] for r in responses] == [0] * n_ok + [7] * (burst - n_ok)  # 7: BUSY
    assert [r[0] for r in responses] == [(0x04, 0x07, 0x06)[t % 3] for t in range(burst)]


def _status_battery(frames_):
    out = []
    for ftype, _, _, p in frames_:
        if ftype == 3:
            mv, pct, state = struct.unpack_from("<HBB", p)
            out.append((state, mv, struct.unpack_from("<I", p, 40)[0]))
    return out


def test_status_says_how_old_the_battery_reading_is_and_stop_measures_it_again(board):
    """While streaming the ADC cannot measure VSYS: the figure from START stands, and
    STATUS says its age; STOP measures again."""
    pipe = Pipe()

    async def script(w):
        pipe.send_command(0x01, 1, struct.pack("<HBH", 1000, 0b001, 0))
        await asyncio.sleep_ms(1600)
        pipe.send_command(0x07, 2)  # GET_STATUS while streaming
        await asyncio.sleep_ms(50)
        pipe.send_command(0x02, 3)  # STOP
        pipe.send_command(0x07, 4)
        await asyncio.sleep_ms(50)

    asyncio.run(_run_app(pipe, script))
    statuses = _status_battery(pipe.frames())
    streaming_ages = [age for state, _, age in statuses if state == 1]
    assert streaming_ages and max(streaming_ages) >= 1500  # measured at START, not since
    state, mv, age = statuses[-1]  # after STOP
    assert state == 0 and 3800 <= mv <= 4000 and age <= 100
