"""The firmware's CPU, heap and link budget, measured on the real MicroPython + btstack.

The unmodified firmware runs on MicroPython's unix port built with btstack (the stack of
the Pico 2 W), with stand-in hardware, and the host's own BLE transport receives its
frames over bumble (see tests/realstack/realstack_harness.py). Two phases:

1. live streaming (3 ch x 2 kHz EMG + IMU 208 Hz by default);
2. a RESEND of the full RAM window of EMG, then of IMU, while live streaming goes on.

For each it prints notifications/s received, the heap high-water in the firmware
process (``gc.mem_alloc()`` right after a collection, sampled every 250 ms; and, garbage
not yet collected included, its highest value and the lowest ``gc.mem_free()``), the worst delay between two polls of the sampling task, and the
capture's overrun count from STATUS.

These are CPU figures of this machine's x86 core running the interpreter: bumble's
controller has no air timing (no connection interval, no radio), and the RP2350 runs
MicroPython several times slower. The heap figures carry over (same interpreter, same
btstack); the rates and delays show headroom, not the board's numbers.

Usage: ``python benchmarks/firmware_budget.py [--seconds S] [--firmware DIR]``.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "realstack"))

from realstack_checks import FrameTap, covers, wait_until  # noqa: E402
from realstack_harness import FIRMWARE_DIR, HOW_TO_GET_IT, RealStack, find_binary  # noqa: E402

from glutescope import protocol  # noqa: E402
from glutescope.acquisition import Acquisition  # noqa: E402

FS_HZ = 2000
MASK = 0b111
IMU_HZ = 208


def _phase(stack, tap, t0, t1, n_frames0, n_frames1):
    probes = [p for t, p in stack.probes if t0 < t <= t1 + 1.0]
    seconds = max(t1 - t0, 1e-9)
    return {
        "seconds": seconds,
        "notify_per_s": (n_frames1 - n_frames0) / seconds,
        "alloc_max": max((p["heap_alloc_max"] for p in probes), default=-1),
        "free_min": min((p["heap_free_min"] for p in probes), default=-1),
        "live_max": max((p["heap_live_max"] for p in probes), default=-1),
        "gap_max_ms": max((p["poll_gap_max_us"] for p in probes), default=-1) / 1000,
    }


async def _status(acq):
    await acq.command(protocol.encode_get_status)
    await asyncio.sleep(0.05)
    return acq.status


async def measure(binary, firmware, seconds):
    loop = asyncio.get_running_loop()
    async with RealStack(binary, firmware, probe=True) as stack:
        await stack.wait_advertising()
        tap = FrameTap()
        acq = Acquisition(stack.transport(), recorder=tap)
        try:
            info = await acq.open(emg_fs_hz=FS_HZ, channel_mask=MASK, imu_fs_hz=IMU_HZ)
            await asyncio.sleep(1.0)  # past the connection and START
            t0, n0 = loop.time(), len(tap.frames)
            await asyncio.sleep(seconds)
            t1, n1 = loop.time(), len(tap.frames)
            live_status = await _status(acq)
            live = _phase(stack, tap, t0, t1, n0, n1)

            window = info.backfill_window_ms
            # A full window needs the rings full first.
            await wait_until(lambda: acq.emg.end_sample >= (window + 500) * FS_HZ // 1000, 60,
                             "a full RAM window of EMG", stack)
            t2, n2 = loop.time(), len(tap.frames)
            for stream, fs in ((protocol.StreamId.EMG, FS_HZ), (protocol.StreamId.IMU, IMU_HZ)):
                assembler = acq.emg if stream == protocol.StreamId.EMG else acq.imu
                end = assembler.end_sample
                first = end - window * fs // 1000 + fs // 4
                await acq.command(protocol.encode_resend, stream, first, end - first)
                await wait_until(lambda: covers(tap.backfill(int(stream)), first, end), 60,
                                 f"the {stream.name} backfill", stack)
            t3, n3 = loop.time(), len(tap.frames)
            await asyncio.sleep(1.1)  # the probe's line for the last second
            resend_status = await _status(acq)
            resend = _phase(stack, tap, t2, t3, n2, n3)
            resend["emg_samples"] = sum(b.n_samples for b in tap.backfill(0))
            resend["imu_samples"] = sum(b.n_samples for b in tap.backfill(1))
            return live, live_status, resend, resend_status
        finally:
            await acq.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="live streaming phase, s (default 10)")
    parser.add_argument("--firmware", type=Path, default=FIRMWARE_DIR, help="firmware tree (default: the repo's)")
    args = parser.parse_args(argv)
    binary = find_binary()
    if binary is None:
        print(f"SKIPPED: {HOW_TO_GET_IT}")
        return 0
    live, live_status, resend, resend_status = asyncio.run(measure(binary, args.firmware, args.seconds))
    print(f"config: {bin(MASK).count('1')} ch x {FS_HZ} Hz EMG + IMU {IMU_HZ} Hz on {binary.name} "
          "(MicroPython unix port + btstack, heap 2M)")
    print("CPU figures: bumble has no air timing and an x86 core is faster than the RP2350")
    for name, p, st in (("streaming", live, live_status), ("full-window RESEND", resend, resend_status)):
        print(f"{name}: {p['seconds']:.1f} s")
        print(f"  notifications/s: {p['notify_per_s']:.1f}")
        print(f"  heap high-water: {p['live_max']} B live (after gc.collect, every 250 ms); "
              f"{p['alloc_max']} B allocated with garbage, {p['free_min']} B free at least")
        print(f"  sampling task worst delay: {p['gap_max_ms']:.1f} ms between polls")
        print(f"  capture overruns (STATUS): {st.emg_overruns}; STATUS free heap min: {st.free_heap_min_bytes} B")
    print(f"resent: {resend['emg_samples']} EMG + {resend['imu_samples']} IMU samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
