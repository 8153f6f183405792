"""EMG capture against DMA IRQ latency: the old ping-pong design and the ring, on the MCU model.

For each soft-IRQ latency, runs each capture design for a while on the RP2350 model
(3 channels x 2 kHz, 10 ms blocks for the old design) and prints what the DMA damaged
(heap guard bytes overwritten, stray writes reported) and what the firmware lost.
The old design (kept as ``tests/firmware/old_pingpong_acquisition.py``) re-arms its
channels from the IRQ, so past one block of latency its DMA writes outside its buffers;
the ring needs no IRQ.

Run: ``PYTHONPATH=host:signal python benchmarks/dma_irq_latency.py [--seconds 0.3]``
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATENCIES_MS = (0.0, 5.0, 9.0, 11.0, 15.0, 30.0)


def _old_design():
    path = ROOT / "tests" / "firmware" / "old_pingpong_acquisition.py"
    spec = importlib.util.spec_from_file_location("old_pingpong_acquisition", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.EmgAcquisition


class _Counting:
    """Conversion k reads k mod 4096, so a sample in the wrong place shows."""

    def __init__(self):
        self.k = 0

    def __call__(self, n, inputs):
        import numpy as np

        self.k += n
        return (np.arange(self.k - n, self.k) % 4096).astype(np.uint16)


def run(design: str, latency_ms: float, seconds_s: float) -> tuple[int, int, int, int, int]:
    """(guard bytes damaged, stray-write reports, samples, marked lost, wrong but unmarked)."""
    from glutescope.virtual import mcu, upy

    upy.install(upy.VirtualClock(speed=0.5))  # half speed: host jitter far below a block
    board = mcu.install(mcu.Board(adc_source=_Counting(), irq_latency_us=latency_ms * 1000))
    board.expect_damage = True  # measured and printed here
    try:
        from glutefw import config
        from glutefw.acquisition import EmgAcquisition
        from glutefw.ringbuf import Ring

        ring = Ring("H", config.EMG_RING_VALUES, config.TIME_ANCHORS)
        acq = (EmgAcquisition if design == "ring" else _old_design())(ring)

        async def main():
            acq.start(2000, 0b111)
            task = asyncio.create_task(acq.acquisition_task())
            await asyncio.sleep_ms(int(seconds_s * 1000))
            acq.stop()
            task.cancel()

        asyncio.run(main())
        damage = board.heap.damage()
        guard_bytes = sum(int(d.split()[0]) for d in damage)
        strays = sum(1 for f in board.memory_faults() if f.startswith("DMA"))
        n = ring.head - ring.oldest
        lost = wrong = 0
        for j in range(ring.oldest, ring.head):
            p = ring.value_pos(j)
            if ring.values[p] == 0x8000:
                lost += 1
            elif any(ring.values[p + c] != (3 * j + c) % 4096 for c in range(3)):
                wrong += 1
        return guard_bytes, strays, n, lost, wrong
    finally:
        mcu.uninstall()
        upy.install(upy.VirtualClock())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="device seconds per run (default: %(default)s)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    for p in (ROOT / "firmware", ROOT / "host"):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))
    from glutescope.virtual import upy

    upy.install()
    print("EMG capture vs DMA soft-IRQ latency on the RP2350 model (3 ch x 2 kHz; one old block = 10 ms)")
    print("columns: guard bytes of the modelled heap overwritten; stray DMA writes reported; samples in "
          "the ring; samples marked lost; samples with wrong codes delivered as good")
    print(f"{'IRQ latency ms':>14} {'design':>14} {'guard bytes':>12} {'strays':>7} "
          f"{'samples':>8} {'lost':>6} {'wrong':>6}")
    for latency_ms in LATENCIES_MS:
        for design in ("old ping-pong", "ring"):
            guard, strays, n, lost, wrong = run(design, latency_ms, args.seconds)
            print(f"{latency_ms:>14g} {design:>14} {guard:>12} {strays:>7} {n:>8} {lost:>6} {wrong:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
