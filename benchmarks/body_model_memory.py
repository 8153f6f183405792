"""The body model's cost against the session's length: `simulate` whole vs `simulate_blocks`.

A desk scenario (2 ch x 2 kHz EMG, 104 Hz IMU) of growing length, generated both ways
where the whole one fits: peak traced memory (tracemalloc, the arrays numpy allocates)
and CPU time per hour of signal. The blocks' peak should not grow with the length.

Run: PYTHONPATH=host:signal python benchmarks/body_model_memory.py [--minutes 1,10,60] [--whole-max 10]
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

from glutesignal.simulation import simulate, simulate_blocks


def _measure(fn):
    tracemalloc.start()
    t0 = time.process_time()
    try:
        n = fn()
        cpu = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return n, cpu, peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10,60", help="sitting lengths, minutes (default: %(default)s)")
    parser.add_argument("--whole-max", type=float, default=10.0,
                        help="longest sitting generated whole by simulate, minutes (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        lengths = [float(v) for v in args.minutes.split(",")]
    except ValueError:
        print(f"error: --minutes must be numbers separated by commas, got {args.minutes!r}", file=sys.stderr)
        return 2
    if not lengths or any(v <= 0 for v in lengths):
        print("error: --minutes must be positive", file=sys.stderr)
        return 2
    print("body model, desk scenario, 2 ch x 2 kHz + IMU 104 Hz")
    print(f"{'sitting':>9}  {'way':<14}{'peak MB':>9}{'CPU s per h':>13}")
    for minutes in lengths:
        kw = dict(sitting_s=(60.0 * minutes,), seed=1)
        stream = simulate_blocks("desk", **kw)
        hours = stream.duration_s / 3600.0
        n, cpu, peak = _measure(lambda: sum(b.emg_uV.shape[1] for b in stream.blocks()))
        assert n == stream.n_emg
        print(f"{minutes:>7g} m  {'blocks':<14}{peak / 1e6:>9.1f}{cpu / hours:>13.1f}")
        if minutes <= args.whole_max:
            _, cpu, peak = _measure(lambda: simulate("desk", **kw).emg_uV.shape[1])
            print(f"{minutes:>7g} m  {'whole':<14}{peak / 1e6:>9.1f}{cpu / hours:>13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
