"""Speed of the signal core, offline and streaming, against NeuroKit2 and BioSPPy.

One seeded 10-minute, 4-channel, 2 kHz body-model recording (the demo script padded with
rest; glute max and glute med, left and right), processed in one run by:

- our offline chain: conditioning (band-pass + notches), 100 ms moving-RMS envelope,
  onsets (TKEO double threshold with change-time estimate) and signal quality;
- our streaming chain, block by block as the live view runs it (20 ms blocks):
  conditioner, envelope, onset detector and the left/right balance tracker;
- NeuroKit2's ``emg_process`` (``emg_clean`` + ``emg_amplitude`` + ``emg_activation``)
  per channel;
- BioSPPy's ``emg`` (high-pass + its onset finder) plus its Bonato onset detector per
  channel.

The peers are not dependencies of the project: when they are not importable, the
script makes a virtual environment at build/bench-venv, installs numpy, scipy and the
peers there from PyPI, and runs itself again inside it.

Run: PYTHONPATH=host:signal python benchmarks/signal_speed.py [--minutes 10] [--repeats 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "build" / "bench-venv"
BASE_REQUIREMENTS = ("numpy>=1.26,<3", "scipy>=1.11,<2")
PEER_REQUIREMENTS = ("neurokit2==0.2.13", "biosppy==2.2.4",
                     # biosppy imports peakutils without declaring it
                     "peakutils==1.3.5")
_IN_VENV = "GLUTESCOPE_BENCH_IN_VENV"
BLOCK_S = 0.02
"""Streaming block, s: what the live view processes per update."""
GOAL_STREAM_PCT = 1.0
"""Goal: streaming cost per channel block below this % of the block's real time."""


def _peers_importable() -> bool:
    try:
        import biosppy  # noqa: F401
        import neurokit2  # noqa: F401
    except ImportError:
        return False
    return True


def _run_in_bench_venv(argv: list[str]) -> int:
    """Make/complete build/bench-venv, then run this script inside it; its exit status."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making {VENV.relative_to(REPO)} for the peers (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import neurokit2, biosppy"], capture_output=True)
    if probe.returncode != 0:
        print("installing numpy, scipy, " + ", ".join(PEER_REQUIREMENTS) + " into it ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *BASE_REQUIREMENTS, *PEER_REQUIREMENTS], check=True)
    paths = [str(REPO / "host"), str(REPO / "signal")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **{_IN_VENV: "1"})
    return subprocess.run([str(python), str(Path(__file__).resolve()), *argv], env=env).returncode


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="recording length (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per offline measure, best kept (default 3)")
    parser.add_argument("--no-peers", action="store_true", help="time our chains only")
    args = parser.parse_args(argv)

    if not args.no_peers and not _peers_importable():
        if os.environ.get(_IN_VENV):
            print(f"neurokit2/biosppy still not importable inside {VENV}; see the pip output above", file=sys.stderr)
            return 1
        return _run_in_bench_venv(argv)

    import numpy as np
    import scipy

    from glutesignal.balance import BalanceTracker
    from glutesignal.simulation import simulate
    from glutesignal.conditioning import Conditioner, condition
    from glutesignal.envelope import MovingRMS, moving_rms
    from glutesignal.onsets import OnsetDetector, detect_bursts
    from glutesignal.quality import channel_quality

    channels = ("glute_max_left", "glute_max_right", "glute_med_left", "glute_med_right")
    fs = 2000.0
    s = simulate("demo", channels=channels, emg_fs_hz=fs, seed=0, duration_s=60.0 * args.minutes)
    emg = np.array(s.emg_uV)
    n_ch, n = emg.shape
    print(f"glutesignal speed: seeded body-model recording, {n / fs / 60:.1f} min, {n_ch} channels, {fs:.0f} Hz")
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}")

    def ours_offline():
        y = condition(emg, fs)
        moving_rms(y, fs)
        detect_bursts(y, fs)
        channel_quality(emg, y, fs)

    t_ours = _best_of(ours_offline, args.repeats)
    print("\n1. Offline chain (conditioning + envelope + onsets + quality), best of "
          f"{args.repeats}: {t_ours:.2f} s ({n / fs / t_ours:.0f} x real time)")

    block = int(round(BLOCK_S * fs))
    cond, env, det, bal = Conditioner(fs, n_ch), MovingRMS(fs, n_ch), OnsetDetector(fs, n_ch), BalanceTracker(fs)
    per_block = []
    for i in range(0, n - block + 1, block):
        t0 = time.perf_counter()
        y = cond.process(emg[:, i:i + block])
        e = env.process(y)
        det.process(y)
        bal.process(e[:2])
        per_block.append(time.perf_counter() - t0)
    per_block_s = np.array(per_block)
    mean_pct = 100.0 * per_block_s.mean() / BLOCK_S
    print(f"\n2. Streaming chain (conditioner + envelope + onset detector + balance), {1000 * BLOCK_S:.0f} ms blocks "
          f"of {n_ch} channels, {per_block_s.size} blocks:")
    print(f"   per block: mean {1e6 * per_block_s.mean():.0f} µs, p99 {1e6 * np.percentile(per_block_s, 99):.0f} µs, "
          f"max {1e6 * per_block_s.max():.0f} µs")
    print(f"   cost: {mean_pct:.2f} % of real time for the {n_ch}-channel block, {mean_pct / n_ch:.3f} % per channel "
          f"(goal < {GOAL_STREAM_PCT:g} % per channel block: {'met' if mean_pct / n_ch < GOAL_STREAM_PCT else 'NOT met'})")

    if args.no_peers:
        return 0
    import warnings
    from importlib.metadata import version

    import neurokit2 as nk
    from biosppy.signals import emg as bemg

    print("\n3. Peers on the same recording, channel by channel (their APIs take one channel)")
    print(f"   neurokit2 {version('neurokit2')}, biosppy {version('biosppy')}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}")

    def neurokit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No events found" on channels at rest: not ours to judge here
            for ch in range(n_ch):
                nk.emg_process(emg[ch], sampling_rate=int(fs))

    rest = [0, int(fs)]  # the demo starts at rest

    def biosppy_chain():
        for ch in range(n_ch):
            out = bemg.emg(signal=emg[ch], sampling_rate=fs, show=False)
            # Bonato et al. 1998 with their published constants: h 7.74, r0 = 1 of m = 5, 30 ms minimum.
            bemg.bonato_onset_detector(signal=out["filtered"], rest=rest, sampling_rate=fs, threshold=7.74,
                                       active_state_duration=int(0.03 * fs / 2), samples_above_fail=1, fail_size=5)

    peer_repeats = max(1, min(args.repeats, 2))
    rows = [("NeuroKit2 emg_process (clean + amplitude + activation)", _best_of(neurokit, peer_repeats)),
            ("BioSPPy emg (filter + find_onsets) + bonato_onset_detector", _best_of(biosppy_chain, peer_repeats))]
    print(f"   {'glutesignal offline chain':60s} {t_ours:7.2f} s  1.0 x")
    slower = True
    for name, t in rows:
        print(f"   {name:60s} {t:7.2f} s  {t / t_ours:4.1f} x ours")
        slower &= t > t_ours
    print(f"   goal (ours faster than every peer): {'met' if slower else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
