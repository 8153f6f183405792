"""CPU time of one pass over a recording's log, per frame.

Every export, the analysis and the report read a recording through
`glutescope.chunked.ChunkedRecording`: ``load_summary`` (everything but the EMG
samples) and ``emg_chunks`` (one EMG segment again, in chunks). This prints the CPU
time (``time.process_time``, not wall time: the machine may be shared) of each, the
best of ``--repeat`` runs, in seconds and in µs per record of ``frames.log``.

Run: PYTHONPATH=host:signal python benchmarks/read_speed.py REC.glutes [--repeat 3]
     (``benchmarks/export_speed.py --minutes 5 --keep DIR`` builds one)
"""

from __future__ import annotations

import argparse
import time

from glutescope.chunked import emg_chunks, load_summary


def _cpu_s(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recording")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rec = load_summary(args.recording)
    n = rec.n_records
    segments = [s.index for s in rec.emg]
    stages = {
        "load_summary": lambda: load_summary(args.recording),
        "emg_chunks (every segment)": lambda: [sum(1 for _ in emg_chunks(args.recording, i)) for i in segments],
    }
    print(f"{args.recording}: {n} records, {len(segments)} EMG segment(s)")
    for name, fn in stages.items():
        best = min(_cpu_s(fn) for _ in range(max(1, args.repeat)))
        print(f"{name:28s} {best:7.3f} s CPU  {best / max(n, 1) * 1e6:6.1f} µs/record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
