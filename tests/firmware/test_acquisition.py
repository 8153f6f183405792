"""EMG acquisition on the simulated RP2350 ADC + DMA: every sample, in order, on time."""
import asyncio
import struct

import numpy as np
import pytest

from glutescope.virtual import mcu, upy


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


@pytest.fixture
def board():
    upy.install(upy.VirtualClock(speed=2.0, start_us=2**30 - 300_000))
    b = mcu.install(mcu.Board(adc_source=Ramp()))
    yield b
    mcu.uninstall()
    upy.install(upy.VirtualClock())


def _make(board):
    from glutefw import config
    from glutefw.acquisition import EmgAcquisition
    from glutefw.ringbuf import Ring

    ring = Ring("H", config.EMG_RING_VALUES, config.TIME_ANCHORS)
    return ring, EmgAcquisition(ring)


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


@pytest.mark.parametrize("fs_hz,mask", [(2000, 0b111), (1500, 0b101), (500, 0b010)])
def test_every_sample_reaches_the_ring_in_channel_order(board, fs_hz, mask):
    ring, acq = _make(board)

    async def main():
        acq.start(fs_hz, mask)
        await _run(acq, 0.5)

    asyncio.run(main())
    inputs = [i for i in range(3) if mask & (1 << i)]
    block = fs_hz // 100
    assert ring.head >= 0.4 * fs_hz and ring.head % block == 0
    codes = _ring_codes(ring)
    j = np.arange(ring.head)
    for c, inp in enumerate(inputs):
        np.testing.assert_array_equal(codes[c], (1000 * inp + j) % 4096)
    assert acq.overruns == 0 and board.faults == []
    assert board.analog_inputs == set(inputs)


def test_adc_divider_gives_the_requested_rate(board):
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b111)
        await _run(acq, 0.05)

    asyncio.run(main())
    t0, inputs, period_us = board.adc_starts[-1]
    assert inputs == (0, 1, 2)
    assert period_us == pytest.approx(1e6 / 6000)  # DIV.INT = 7999


def test_block_timestamps_follow_the_adc_clock(board):
    ring, acq = _make(board)

    async def main():
        acq.start(1000, 0b011)
        await _run(acq, 1.0)

    asyncio.run(main())
    t0, _, period_us = board.adc_starts[-1]
    n_ch, block = 2, 10
    stamps = [ring.time_of(k) for k in range(0, ring.head, block)]
    truth = [int(t0 + (k * n_ch + 1) * period_us) & (2**30 - 1) for k in range(0, ring.head, block)]
    err = [((s - t + 2**29) & (2**30 - 1)) - 2**29 for s, t in zip(stamps, truth)]
    # The clock started 0.3 s before the ticks wrap: stamps cross it.
    assert any(s < 300_000 for s in stamps) and any(s > 2**30 - 300_000 for s in stamps)
    assert min(err) >= -2, "a block was stamped before its samples were taken"
    assert err[-1] <= 2_000, "IRQ latency is removed over time"
    steps = [((b - a) & (2**30 - 1)) for a, b in zip(stamps, stamps[1:])]
    assert max(steps) <= 10_000


def test_late_task_loses_whole_blocks_marked_as_errors(board):
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b001)
        await asyncio.sleep_ms(65)  # the copying task is not running: blocks pile up
        await _run(acq, 0.05)

    asyncio.run(main())
    assert acq.overruns >= 4
    codes = _ring_codes(ring)[0]
    lost = codes == 0x8000
    assert lost.sum() == 20 * acq.overruns
    j = np.arange(ring.head)
    np.testing.assert_array_equal(codes[~lost], j[~lost] % 4096)


def test_missing_rearm_overflows_the_fifo_and_is_counted(board):
    ring, acq = _make(board)
    acq._dma[0].irq(lambda dma: None)  # a broken handler never re-arms channel 0

    async def main():
        acq.start(2000, 0b011)
        await _run(acq, 0.1)

    asyncio.run(main())
    assert board.faults and "not re-armed" in board.faults[0]
    assert acq.overruns >= 1


def test_conversion_error_bit_reaches_the_ring(board):
    board.adc_source = Ramp(error_at=7)
    ring, acq = _make(board)

    async def main():
        acq.start(2000, 0b011)
        await _run(acq, 0.05)

    asyncio.run(main())
    assert ring.any_bits(3, 1, 0x8000) and not ring.any_bits(0, 3, 0x8000)


def test_saturated_codes_are_counted(board):
    board.adc_source = lambda n, inputs: np.where(np.arange(n) % 4 == 0, 4095, 2048).astype(np.uint16)
    ring, acq = _make(board)

    async def main():
        acq.start(1000, 0b011)
        await _run(acq, 0.1)

    asyncio.run(main())
    assert acq.saturated == ring.head * 2 // 4


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
