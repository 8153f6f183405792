"""CPU time of the offline analysis' compute: `glutescope.analysis.analyse` minus its log pass.

`analyse` reads the EMG of the recording again from the log (`glutescope.analysis.emg_words`)
and feeds it through the live pipeline (`glutescope.live.LiveProcessor`: conditioning,
envelope, contraction detector, pelvis filter, quality grading, mains search, the
protocol runner). The log pass is timed alone (the same words read forward in 1 s
ranges, as the analysis reads them) and subtracted, so what is left is the compute that
also runs live. The same analysis of the recording loaded whole (`glutescope.recording.load`: the samples
in memory, no log pass) is timed too: the compute alone, measured directly. CPU time
(``time.process_time``), not wall time: the machine may be shared. Each figure is the
best of ``--repeat`` runs.

With ``--profile N`` the N functions of the signal core and the live processor with the
most own time (cProfile tottime, CPU clock) are printed too.

Run: PYTHONPATH=host:signal python benchmarks/analysis_compute.py [REC.glutes | --minutes 5] [--repeat 3]
     [--profile 15]
     (without a recording, one of ``--minutes`` is built as benchmarks/export_speed.py builds it:
     4-ch 2 kHz body-model bridges with the IMU, in a temporary folder)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path


def _log_pass(rec, fs_hz: float) -> None:
    from glutescope.analysis import emg_words

    for segment in range(len(rec.emg)):
        words = emg_words(rec, segment)
        n = rec.emg[segment].n_samples
        step = int(fs_hz)
        for a in range(0, n, step):
            words(a, min(n, a + step))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", nargs="?")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the recording built (default 5)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.recording
        if path is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from export_speed import build

            path = Path(tmp) / f"bench-{args.minutes:g}min.glutes"
            build(path, args.minutes)
        _measure(str(path), args)
    return 0


def _measure(path: str, args) -> None:
    from glutescope.analysis import analyse
    from glutescope.chunked import load_summary

    rec = load_summary(path)
    fs_hz = float(rec.device_info.emg_fs_hz)
    minutes = sum(s.n_samples for s in rec.emg) / fs_hz / 60.0
    best_all = best_log = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.process_time()
        analyse(rec)
        best_all = min(best_all, time.process_time() - t0)
        t0 = time.process_time()
        _log_pass(rec, fs_hz)
        best_log = min(best_log, time.process_time() - t0)
    print(f"recording: {minutes:.1f} min, {rec.emg[0].samples.shape[0]} ch x {fs_hz:g} Hz")
    print(f"analyse:   {best_all:6.2f} s CPU")
    print(f"log pass:  {best_log:6.2f} s CPU")
    print(f"compute:   {best_all - best_log:6.2f} s CPU (analyse minus log pass)")
    from glutescope.recording import load

    whole = load(path)
    best_whole = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.process_time()
        analyse(whole)
        best_whole = min(best_whole, time.process_time() - t0)
    print(f"in memory: {best_whole:6.2f} s CPU (analyse of the recording loaded whole)")
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        analyse(rec)
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
        stats.print_stats(r"glutesignal|live\.py|analysis\.py|ringbuffer\.py", args.profile)
        print(out.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
