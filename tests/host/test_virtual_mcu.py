"""The RP2350 model behaves as the datasheet says, failures included.

Known answers from the RP2350 datasheet (12.6.2.2 count modes, 12.6.10 CTRL_TRIG ring
fields): a model that forgave a misaligned ring, a stopped channel or a count past its
buffer would let broken firmware pass, so each case here is one the silicon gets wrong
for the firmware, and the model must too.
"""
import asyncio

import numpy as np
import pytest

from glutescope.virtual import mcu, upy

_FIFO = mcu.ADC_BASE + 0x0C
_P_US = 1e6 / 6000  # one conversion every 8000 ADC clocks (DIV.INT = 7999)


class Counting:
    """Analog source whose k-th conversion reads k mod 4096."""

    def __init__(self):
        self.k = 0

    def __call__(self, n, inputs):
        self.k += n
        return (np.arange(self.k - n, self.k) % 4096).astype(np.uint16)


@pytest.fixture
def board():
    upy.install(upy.VirtualClock(speed=2.0))
    b = mcu.install(mcu.Board(adc_source=Counting()))
    yield b
    mcu.uninstall()
    upy.install(upy.VirtualClock())


def _start_adc():
    import machine

    machine.mem32[mcu.ADC_BASE + 0x10] = 7999 << 8  # DIV
    machine.mem32[mcu.ADC_BASE + 0x08] = 1 | 1 << 3 | 1 << 24  # FCS: EN, DREQ_EN, THRESH 1
    machine.mem32[mcu.ADC_BASE] = 1 | 1 << 3  # CS: EN, START_MANY (input 0)


def _channel(write, count, ring_size=0, irq_quiet=True, chain_to=None):
    import rp2

    d = rp2.DMA()
    ctrl = d.pack_ctrl(size=1, inc_read=False, inc_write=True, treq_sel=mcu.DREQ_ADC,
                       ring_size=ring_size, ring_sel=bool(ring_size), irq_quiet=irq_quiet,
                       chain_to=d.channel if chain_to is None else chain_to)
    d.config(read=_FIFO, write=write, count=count, ctrl=ctrl, trigger=False)
    return d


def test_a_ring_over_a_buffer_not_aligned_to_its_size_writes_outside_it(board):
    import uctypes

    board.expect_damage = True
    buf = bytearray(1024)
    addr = uctypes.addressof(buf)
    assert addr % 32 == 16  # the model never aligns a buffer to more than 16 bytes
    d = _channel(addr, 0x1 << 28 | 3000, ring_size=10)  # wraps on a 1 KiB boundary

    async def main():
        d.active(1)
        _start_adc()
        await asyncio.sleep_ms(200)  # 1200 transfers: more than one lap of the ring

    asyncio.run(main())
    faults = board.memory_faults()
    # Below its start: the ring wraps to the 1 KiB boundary under the buffer.
    assert any("wrote" in f and "outside the 1024-byte bytearray" in f for f in faults), faults
    assert any("guard bytes before the 1024-byte bytearray" in f for f in faults), faults


def test_trigger_self_reloads_and_reads_back_mode_and_remaining(board):
    import uctypes

    buf = bytearray(2 * 2048)
    base = (uctypes.addressof(buf) + 2047) & ~2047
    d = _channel(base, 0x1 << 28 | 500, ring_size=11)

    async def main():
        d.active(1)
        _start_adc()
        await asyncio.sleep_ms(200)
        count = d.count
        transfers = d.transfers  # as of that read
        return count, d.active(), transfers

    count, busy, done = asyncio.run(main())
    assert busy and count >> 28 == 0x1
    assert (count & 0x0FFFFFFF) == 500 - done % 500 and d.completions == done // 500 >= 2
    assert board.memory_faults() == []


def test_normal_mode_halts_chains_and_raises_its_irq_late(board):
    import uctypes

    upy.install(upy.VirtualClock(speed=1.0))
    board.irq_latency_us = 5_000.0
    a, b = bytearray(40), bytearray(40)
    first = _channel(uctypes.addressof(a), 20, irq_quiet=False)
    second = _channel(uctypes.addressof(b), 20, chain_to=None)
    first.config(ctrl=first.pack_ctrl(default=first.ctrl, chain_to=second.channel))
    seen = []
    first.irq(lambda dma: seen.append(upy.clock.now_us()))

    async def main():
        first.active(1)
        _start_adc()
        t0 = board.adc.t_start_us
        await asyncio.sleep_ms(30)
        return t0

    t0 = asyncio.run(main())
    assert not first.active() and not second.active()
    assert first.count & 0x0FFFFFFF == 0 and second.completions == 1
    end_us = t0 + 20 * _P_US
    assert seen and seen[0] >= end_us + 5_000  # never sooner than the latency asked for
    np.testing.assert_array_equal(np.frombuffer(bytes(a), "<u2"), np.arange(20))
    np.testing.assert_array_equal(np.frombuffer(bytes(b), "<u2"), np.arange(20, 40))
    assert board.memory_faults() == []


def test_a_count_longer_than_the_buffer_writes_past_its_end(board):
    import uctypes

    board.expect_damage = True
    buf = bytearray(40)
    d = _channel(uctypes.addressof(buf), 30)

    async def main():
        d.active(1)
        _start_adc()
        await asyncio.sleep_ms(20)

    asyncio.run(main())
    faults = board.memory_faults()
    assert any("wrote 20 bytes outside the 40-byte bytearray" in f for f in faults), faults
    assert any("20 guard bytes after the 40-byte bytearray" in f for f in faults), faults


def test_endless_mode_never_counts_down(board):
    import uctypes

    buf = bytearray(2 * 256)
    base = (uctypes.addressof(buf) + 255) & ~255
    d = _channel(base, 0xF << 28 | 7, ring_size=8)

    async def main():
        d.active(1)
        _start_adc()
        await asyncio.sleep_ms(20)
        return d.count, d.active(), d.transfers

    count, busy, transfers = asyncio.run(main())
    assert count == 0xF << 28 | 7 and busy and transfers > 7
    assert board.memory_faults() == []


def test_an_adc_no_dma_drains_overflows_its_fifo(board):
    import machine

    async def main():
        _start_adc()
        await asyncio.sleep_ms(5)
        return machine.mem32[mcu.ADC_BASE + 0x08]

    fcs = asyncio.run(main())
    assert fcs & (1 << 11) and (fcs >> 16) & 0xF == 4  # OVER, and four codes waiting


def test_a_board_removed_after_undeclared_damage_warns():
    upy.install(upy.VirtualClock(speed=2.0))
    b = mcu.install(mcu.Board(adc_source=Counting()))
    try:
        import uctypes

        buf = bytearray(8)
        d = _channel(uctypes.addressof(buf), 8)

        async def main():
            d.active(1)
            _start_adc()
            await asyncio.sleep_ms(5)

        asyncio.run(main())
        with pytest.warns(RuntimeWarning, match="the simulated DMA wrote outside its buffers"):
            mcu.uninstall()
    finally:
        b.expect_damage = True
        mcu.uninstall()
        upy.install(upy.VirtualClock())
