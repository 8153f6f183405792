"""Import and history costs: a long 16-channel C3D imported, and a person's sessions indexed.

Prints, for a C3D of ``--minutes`` of 16 analog channels at 2000 Hz written here with
the ``c3d`` package (4 glute channels kept): the import's wall time, and in a second
run its peak traced memory (tracemalloc, numpy's buffers included) against the size
of the file's 16 channels as float64; and for ``--sessions`` body-model bridge sessions, the time
to index them into the history database the first time and again from the cache.

    PYTHONPATH=host:signal python benchmarks/import_history.py [--minutes 10] [--sessions 5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

FS_HZ = 2000
POINT_RATE_HZ = 100.0
LABELS = ("L GMAX", "R GMAX", "L GMED", "R GMED", "L BF", "R BF", "L ES", "R ES",
          "L VL", "R VL", "L RF", "R RF", "L TA", "R TA", "L GAS", "R GAS")


def write_c3d(path: Path, minutes: float) -> int:
    import c3d

    per = int(FS_HZ / POINT_RATE_HZ)
    n_frames = int(minutes * 60 * POINT_RATE_HZ)
    rng = np.random.default_rng(0)
    w = c3d.Writer(point_rate=POINT_RATE_HZ, analog_rate=float(FS_HZ), point_scale=-1.0)
    no_points = np.zeros((0, 5), np.float32)
    chunk = 600  # frames generated at a time
    for f0 in range(0, n_frames, chunk):
        k = min(chunk, n_frames - f0)
        block = (rng.normal(0.0, 30e-6, (len(LABELS), k * per))).astype(np.float32)
        w.add_frames([(no_points, block[:, i * per:(i + 1) * per]) for i in range(k)])
    w.set_analog_labels(list(LABELS))
    w.set_analog_scales([1.0] * len(LABELS))
    w.set_analog_offsets([0] * len(LABELS))
    w.analog_group.add_str("UNITS", "Analog units", "V" * len(LABELS), 1, len(LABELS))
    with open(path, "wb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w.write(fh)
    return n_frames * per


def bench_import(folder: Path, minutes: float) -> None:
    from glutescope.importer import read_foreign, write_imported

    src = folder / "long.c3d"
    n = write_c3d(src, minutes)
    t0 = time.perf_counter()
    emg = read_foreign(src)
    summary = write_imported(emg, folder / "long.glutes", source_name=src.name, subject="P-BENCH")
    dt = time.perf_counter() - t0
    del emg
    # Again under tracemalloc for the memory (it slows every allocation: not timed).
    tracemalloc.start()
    emg = read_foreign(src)
    write_imported(emg, folder / "again.glutes", source_name=src.name, subject="P-BENCH")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole_MB = len(LABELS) * n * 8 / 1e6
    print(f"import: C3D {minutes:g} min x {len(LABELS)} ch x {FS_HZ} Hz ({src.stat().st_size / 1e6:.1f} MB file), "
          f"{len(emg.emg_uV)} channels kept: {dt:.2f} s, peak traced memory {peak / 1e6:.1f} MB "
          f"(all 16 channels as float64: {whole_MB:.1f} MB)")
    print(f"import: {summary.n_samples} samples per channel at {summary.uV_per_code:.3g} uV per code")


def bench_history(folder: Path, sessions: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "host"))
    from body_recordings import write_body_recording
    from glutescope.history import HISTORY_FILE, History
    from glutesignal.simulation import simulate

    recs = folder / "recs"
    recs.mkdir()
    for i in range(sessions):
        write_body_recording(recs / f"s{i}.glutes", simulate("bridges", seed=i, left_scale=0.6 + 0.08 * i),
                             subject="P-BENCH", start_time=f"2026-11-{i + 1:02d}T10:00:00+00:00")
    with History(folder / HISTORY_FILE) as h:
        t0 = time.perf_counter()
        first = h.index(recs)
        t1 = time.perf_counter()
        again = h.index(recs)
        t2 = time.perf_counter()
    print(f"history: {sessions} sessions of 57.5 s analysed and indexed in {t1 - t0:.2f} s "
          f"({(t1 - t0) / max(first.n_analysed, 1):.2f} s each); from the cache in {(t2 - t1) * 1e3:.1f} ms "
          f"({again.n_cached} cached)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the C3D (default: %(default)s)")
    parser.add_argument("--sessions", type=int, default=5, help="sessions to index (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.minutes > 0 or args.sessions < 1:
        parser.error(f"--minutes must be > 0 and --sessions >= 1, got {args.minutes} and {args.sessions}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_import(Path(tmp), args.minutes)
        bench_history(Path(tmp), args.sessions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
