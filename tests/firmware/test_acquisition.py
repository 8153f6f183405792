"""EMG acquisition on the simulated RP2350 ADC + DMA: every sample, in order, on time,
and never a byte outside its buffer.

The MCU model writes where the silicon would (no bounds check) and guards every buffer,
delivers DMA IRQs late when told to, and counts transfers as TRANS_COUNT does, so the
old ping-pong capture (kept in ``old_pingpong_acquisition.py``) fails here where it
would fail on the board, and the ring capture has to earn its pass.
"""
import asyncio
import importlib.util
import pathlib
import time

import numpy as np
import pytest

from glutescope.virtual import mcu, upy

_MASK30 = 2**30 - 1


class Ramp:
    """Known analog source: input i reads (1000 * i + sample set) mod 4096."""

    def __init__(self, error_at=None):
        self.k = 0
        self.error_at = error_at

    def __call__(self, n, inputs):
        idx = self.k + np.arange(n)
        self.k += n
        inp = np.asarray(inputs)[idx % len(inputs)]
        codes = ((1000 * inp + idx // len(inputs)) % 4096).astype(np.uint16)
        if self.error_at is not None:
            codes[idx == self.error_at] |= 0x8000
        return codes


def _truth(inputs, n_samples, passes=1):
    """What the ring must hold: the first of ``passes`` round-robin passes of each sample."""
    j = np.arange(n_samples) * passes
    return np.stack([(1000 * i + j) % 4096 for i in inputs])


def _install(irq_latency_us=0.0, speed=2.0):
    upy.install(upy.VirtualClock(speed=speed, start_us=2**30 - 300_000))
    return mcu.install(mcu.Board(adc_source=Ramp(), irq_latency_us=irq_latency_us))


@pytest.fixture
def board():
    b = _install()
    yield b
    mcu.uninstall()
    upy.install(upy.VirtualClock())


def _old_design():
    path = pathlib.Path(__file__).with_name("old_pingpong_acquisition.py")
    spec = importlib.util.spec_from_file_location("old_pingpong_acquisition", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.EmgAcquisition


def _make(board, design=None):
    from glutefw import config
    from glutefw.acquisition import EmgAcquisition
    from glutefw.ringbuf import Ring

    ring = Ring("H", config.EMG_RING_VALUES, config.TIME_ANCHORS)
    return ring, (design or EmgAcquisition)(ring)


async def _run(acq, seconds):
    task = asyncio.create_task(acq.acquisition_task())
    await asyncio.sleep_ms(int(seconds * 1000))
    acq.stop()
    task.cancel()


def _ring_codes(ring):
    n = ring.head - ring.oldest
    dst = bytearray(2 * ring.width * n)
    ring.read_into(memoryview(dst), ring.oldest, n)
    return np.frombuffer(bytes(dst), "<u2").reshape(n, ring.width).T  # (n_channels, n_samples)


def _stamp_errors_us(ring, board, step, first=0):
    """Stamp minus truth (first conversion of the sample), µs, for every ``step``-th sample."""
    from glutefw.acquisition import oversampling

    t0, inputs, period_us = board.adc_starts[-1]
    cps = len(inputs) * oversampling(ring.fs_hz, len(inputs))  # codes converted per sample
    ks = np.arange(first, ring.head, step)
    stamps = np.array([ring.time_of(int(k)) for k in ks])
    truth = (t0 + (ks * cps + 1) * period_us).astype(np.int64) & _MASK30
    return ((stamps - truth + 2**29) & _MASK30) - 2**29


def _watch_read_lags(acq, monkeypatch):
    """Collect, per poll, the device µs between its TRANS_COUNT read and its ticks_us read.

    The two reads are nanoseconds apart on the silicon, but the host may preempt this
    model between them; that lag is the model's, so tests allow for it as measured
    rather than for a guess of the machine's load.
    """
    lags_us = []
    ticks_us = time.ticks_us
    poll = acq._poll
    in_poll = []

    def watched_poll():
        in_poll.append(True)
        try:
            return poll()
        finally:
            in_poll.clear()

    def ticks_us_watched():
        t = ticks_us()
        if in_poll:  # a poll's first ticks_us read is the one right after TRANS_COUNT
            in_poll.clear()
            lags_us.append(upy.clock.now_us() - acq._dma.count_read_us)
        return t

    monkeypatch.setattr(acq, "_poll", watched_poll)
    monkeypatch.setattr(time, "ticks_us", ticks_us_watched)
    return lags_us


def _late_bound_us(board, read_lags_us):
    """How late a stamp may be: one conversion (the newest code counted is at most that
    old at the count read) plus the model's read lag, plus rounding."""
    period_us = board.adc_starts[-1][2]
    return period_us + max(read_lags_us, default=0.0) + 2


@pytest.mark.parametrize("fs_hz,mask", [(2000, 0b111), (1500, 0b101), (500, 0b010), (500, 0b011)])
def test_every_sample_reaches_the_ring_in_channel_order(board, monkeypatch, fs_hz, mask):
    ring, acq = _make(board)
    read_lags_us = _watch_read_lags(acq, monkeypatch)

    async def main():
        acq.start(fs_hz, mask)
        await _run(acq, 0.5)

    asyncio.run(main())
    from glutefw.acquisition import oversampling

    inputs = [i for i in range(3) if mask & (1 << i)]
    passes = oversampling(fs_hz, len(inputs))
    # stop() moves every code the ADC converted: nothing is left behind.
    assert ring.head == board.adc.stopped_at // (passes * len(inputs)) >= 0.4 * fs_hz
    np.testing.assert_array_equal(_ring_codes(ring), _truth(inputs, ring.head, passes))
    t0, _, period_us = board.adc_starts[-1]
    assert period_us == pytest.approx(1e6 / (fs_hz * passes * len(inputs)))
    # An estimate is late by at most the wait from the newest code to the poll: at most
    # one conversion, plus the poll's own lag.
    err = _stamp_errors_us(ring, board, 10)
    assert err.min() >= -2 and err.max() <= _late_bound_us(board, read_lags_us)
    assert acq.overruns == 0 and acq.lost_samples == 0
    assert board.faults == [] and board.memory_faults() == []
    assert board.analog_inputs == set(inputs)


def test_the_dma_ring_is_aligned_inside_its_buffer_and_never_stops(board):
    import uctypes

    from glutefw import acquisition, config

    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b111)
        await asyncio.sleep_ms(30)
        f = acq._dma.unpack_ctrl(acq._dma.ctrl)
        assert (acq._dma.count >> 28) == 0x1  # TRIGGER_SELF: it restarts itself
        assert f["ring_sel"] == 1 and f["ring_size"] == config.EMG_DMA_RING_BITS
        assert f["irq_quiet"] == 1 and f["chain_to"] == acq._dma.channel
        await _run(acq, 0.05)

    asyncio.run(main())
    base = uctypes.addressof(acq._buf)
    ring_bytes = 1 << config.EMG_DMA_RING_BITS
    assert acq._ring_addr % ring_bytes == 0
    assert base <= acq._ring_addr and acq._ring_addr + ring_bytes <= base + 2 * len(acq._buf)
    assert acquisition.RING_CODES == ring_bytes // 2


def test_the_count_survives_trans_count_reloads(board, monkeypatch):
    from glutefw import acquisition

    # Sequences of ~1000 transfers instead of ~2**28: several reloads in half a second.
    monkeypatch.setattr(acquisition, "_SEQ_MAX", 1000)
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b111)
        await _run(acq, 0.5)

    asyncio.run(main())
    assert acq._seq == 999 and acq._dma.completions >= 2
    assert ring.head == board.adc.stopped_at // 3
    np.testing.assert_array_equal(_ring_codes(ring), _truth([0, 1, 2], ring.head))


def test_adc_divider_gives_the_requested_rate(board):
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b111)
        await _run(acq, 0.05)

    asyncio.run(main())
    t0, inputs, period_us = board.adc_starts[-1]
    assert inputs == (0, 1, 2)
    assert period_us == pytest.approx(1e6 / 6000)  # DIV.INT = 7999


def test_timestamps_follow_the_adc_clock_across_the_ticks_wrap(board, monkeypatch):
    ring, acq = _make(board)
    read_lags_us = _watch_read_lags(acq, monkeypatch)

    async def main():
        acq.start(1000, 0b011)
        await _run(acq, 1.0)

    asyncio.run(main())
    err = _stamp_errors_us(ring, board, 10)
    stamps = [ring.time_of(k) for k in range(0, ring.head, 10)]
    # The clock started 0.3 s before the ticks wrap: stamps cross it.
    assert any(s < 300_000 for s in stamps) and any(s > 2**30 - 300_000 for s in stamps)
    assert err.min() >= -2, "a sample was stamped before it was taken"
    assert err.max() <= _late_bound_us(board, read_lags_us), "a stamp is late"


@pytest.mark.parametrize("design,late", [("ring", False), ("old ping-pong", True)])
def test_first_samples_after_start_are_stamped_like_the_rest(board, monkeypatch, design, late):
    # The loop is busy for 19 ms right after START (as when the START response and the
    # IMU's setup run): the old design stamped its first block at its late IRQ, and
    # that first anchor was never corrected, so the first frame came ~19 ms late.
    ring, acq = _make(board, None if design == "ring" else _old_design())
    read_lags_us = [] if late else _watch_read_lags(acq, monkeypatch)

    async def main():
        acq.start(2000, 0b111)
        time.sleep(upy.clock.host_seconds(0.019))  # blocks the event loop
        await _run(acq, 0.2)

    asyncio.run(main())
    err = _stamp_errors_us(ring, board, 20)
    assert err.min() >= -2
    if late:
        assert err[0] > 5_000  # the fault the fixture shows
    else:
        assert err.max() <= _late_bound_us(board, read_lags_us)


@pytest.mark.parametrize("design", ["ring", "old ping-pong"])
def test_irq_latency_above_one_block_corrupts_the_old_design_only(design):
    # 3 channels x 2 kHz: a 10 ms block is 60 codes (120 B) in the old design's 160-byte
    # buffers. An IRQ later than one block leaves a channel un-re-armed when the other
    # chains to it: it writes on from the end of its last block. At zero latency the
    # re-arm has a whole block of slack (the clock runs at half speed so the host's
    # scheduling jitter stays far below it), and the old design keeps to its buffers.
    results = {}
    for latency_us in (0.0, 15_000.0):
        board = _install(irq_latency_us=latency_us, speed=0.5)
        board.expect_damage = design != "ring"  # the old design may; the ring must not
        try:
            ring, acq = _make(board, None if design == "ring" else _old_design())

            async def main():
                acq.start(2000, 0b111)
                await _run(acq, 0.2)

            asyncio.run(main())
            results[latency_us] = (board.memory_faults(), board.heap.damage())
            if design == "ring":
                np.testing.assert_array_equal(_ring_codes(ring), _truth([0, 1, 2], ring.head))
                assert acq.lost_samples == 0
        finally:
            mcu.uninstall()
            upy.install(upy.VirtualClock())
    assert results[0.0] == ([], [])
    faults, damage = results[15_000.0]
    if design == "ring":
        assert (faults, damage) == ([], [])
    else:
        assert any("bytes outside the 160-byte array" in f for f in faults), faults
        assert any("guard bytes after the 160-byte array" in d for d in damage), damage


def test_a_poll_later_than_the_ring_loses_exactly_the_lapped_samples(board, monkeypatch):
    from glutefw.acquisition import LOST_SAMPLE, RING_CODES

    ring, acq = _make(board)
    reads = []
    count = acq._count

    def logged():
        reads.append(count())
        return reads[-1]

    monkeypatch.setattr(acq, "_count", logged)

    async def main():
        acq.start(2000, 0b111)
        await asyncio.sleep_ms(1500)  # the task is not running: the DMA laps the ring
        await _run(acq, 0.1)

    asyncio.run(main())
    codes = _ring_codes(ring)
    lost = (codes == LOST_SAMPLE).all(axis=0)
    # The first poll found more than a ring of codes: the samples whose codes the DMA
    # had overwritten by the second read of that poll are marked, and only those.
    first_ok = -(-(reads[1] - RING_CODES) // 3)
    assert first_ok > 1000 and reads[0] > RING_CODES + 3000
    np.testing.assert_array_equal(lost, np.arange(ring.head) < first_ok)
    assert acq.lost_samples == lost.sum() == first_ok and acq.overruns == 1
    truth = _truth([0, 1, 2], ring.head)
    np.testing.assert_array_equal(codes[:, ~lost], truth[:, ~lost])
    assert board.memory_faults() == []


def test_codes_lapped_while_being_copied_are_not_delivered_as_good(board, monkeypatch):
    # Between reading TRANS_COUNT and copying, the CPU is held up (an interrupt, GC)
    # for nearly a whole ring: the DMA overwrites the oldest codes of this poll before
    # they are read. The second TRANS_COUNT read must catch that.
    from glutefw.acquisition import LOST_SAMPLE, RING_CODES

    ring, acq = _make(board)
    ticks = time.ticks_us
    state = {"polls": 0}
    period_us = 1e6 / 6000

    def stalled_ticks():
        t = ticks()
        if acq.running and ring.head > 200 and state["polls"] == 0:
            state["polls"] = 1
            upy.clock.start_us += int((RING_CODES - 30) * period_us)
            board.advance(float(upy.clock.now_us()))
        return t

    monkeypatch.setattr(time, "ticks_us", stalled_ticks)

    async def main():
        acq.start(2000, 0b111)
        await _run(acq, 0.2)

    asyncio.run(main())
    assert state["polls"] == 1
    codes = _ring_codes(ring)
    lost = (codes == LOST_SAMPLE).all(axis=0)
    assert acq.lost_samples == lost.sum() >= 10 and acq.overruns >= 1
    truth = _truth([0, 1, 2], ring.head)
    np.testing.assert_array_equal(codes[:, ~lost], truth[:, ~lost])


def test_conversion_error_bit_reaches_the_ring(board):
    board.adc_source = Ramp(error_at=7)
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b011)
        await _run(acq, 0.05)

    asyncio.run(main())
    assert ring.any_bits(3, 1, 0x8000) and not ring.any_bits(0, 3, 0x8000)
    assert acq.lost_samples == 0


class EveryFourth:
    """Every fourth conversion reads full scale (4095), the others mid-scale."""

    def __init__(self):
        self.k = 0

    def __call__(self, n, inputs):
        idx = self.k + np.arange(n)
        self.k += n
        return np.where(idx % 4 == 0, 4095, 2048).astype(np.uint16)


def test_saturated_codes_are_counted(board):
    board.adc_source = EveryFourth()
    ring, acq = _make(board)

    async def main():
        acq.start(1000, 0b011)
        await _run(acq, 0.1)

    asyncio.run(main())
    assert acq.saturated == (2 * ring.head + 3) // 4


def test_one_shot_read_while_streaming_is_refused(board):
    import machine

    ring, acq = _make(board)

    async def main():
        acq.start(1000, 0b001)
        with pytest.raises(RuntimeError, match="one-shot ADC read while the ADC free-runs"):
            machine.ADC(machine.Pin(29)).read_u16()
        acq.stop()
        assert machine.ADC(machine.Pin(29)).read_u16() >> 4 == round(3900 / 3 / 3300 * 4095)

    asyncio.run(main())


def test_bad_configuration_is_refused(board):
    ring, acq = _make(board)
    with pytest.raises(ValueError, match="emg_fs_hz must be one of"):
        acq.start(1234, 0b1)
    with pytest.raises(ValueError, match="channel_mask must be a non-empty subset of 0x7, got 0x8"):
        acq.start(1000, 0b1000)


def test_stamps_stay_right_for_longer_than_ticks_add_can_reach():
    # ticks_add refuses a delta of 2**29 us (about 9 min) or more, as MicroPython does:
    # extrapolating from one time estimate for the whole session would stop the capture
    # 9 minutes in. 10 minutes of 500 Hz on one input, the clock at 40x.
    upy.install(upy.VirtualClock(speed=40.0, start_us=2**30 - 300_000))
    board = mcu.install(mcu.Board(adc_source=Ramp()))
    try:
        ring, acq = _make(board)
        errors = []

        async def main():
            acq.start(500, 0b001)
            task = asyncio.create_task(acq.acquisition_task())
            for _ in range(10):
                await asyncio.sleep_ms(60_000)
                errors.append(_stamp_errors_us(ring, board, 50, first=ring.head - 1000))
            acq.stop()
            assert not task.done(), task.exception()
            task.cancel()

        asyncio.run(main())
    finally:
        mcu.uninstall()
        upy.install(upy.VirtualClock())
    assert ring.head == board.adc.stopped_at // 2 >= 599 * 500  # 1 kHz, every second kept
    # At 40x, a 0.2 s stall of the host is a late poll here: rare, counted, not the point.
    assert acq.lost_samples < 0.01 * ring.head
    err = np.concatenate(errors)
    assert err.min() >= -2 and err.max() <= 10_000  # 10 ms: the clock runs at 40x here


def test_one_input_at_500_hz_is_converted_twice_as_fast_as_div_can_pace():
    # DIV.INT has 16 bits: 48 MHz / 65536 = 732 conversions/s at the slowest, so one
    # input at 500 Hz (DIV 0x176FF00) would overflow the register and run at a wrong rate.
    from glutefw.acquisition import adc_div_register, oversampling

    assert adc_div_register(500, 1) > 0xFFFFFF >= adc_div_register(1000, 1)
    assert oversampling(500, 1) == 2 and oversampling(500, 2) == oversampling(2000, 3) == 1
