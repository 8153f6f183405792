"""Time and peak memory of ``glutescope report`` against the recording's length.

Writes recordings of 2 channels at 2 kHz (no IMU) of a few lengths, frame by frame as
a wearable sends them (the test suite's protocol-v1 packer), holding the body model's
glute bridges over and over, and runs ``glutescope report`` on each in a child process.
Prints, per length: wall time, the child's peak RSS, and the growth of peak RSS per
minute of signal between the shortest and longest (0 would be memory bounded).

Usage: python benchmarks/report_memory.py [--minutes 2.5 5 10] [--html] [--command info]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "signal"), str(ROOT / "tests" / "host")]

BLOCK = 100
FS_HZ = 2000


def write_recording(path: Path, minutes: float) -> None:
    import wirepack_v1 as pack

    from glutescope.protocol import decode_frame
    from glutescope.recording import RecordingWriter, RecordSource
    from glutesignal.simulation import simulate

    body = simulate("bridges", seed=0, emg_fs_hz=FS_HZ, imu_fs_hz=104.0, mains_hz=50.0)
    info_frame = pack.info(seq=0, imu_fs_hz=0)
    info = decode_frame(info_frame)
    uV_per_code = info.vref_mV * 1000.0 / 4096 / info.emg_gain
    codes = np.clip(np.round(body.emg_uV / uV_per_code) + 2048, 0, 4095).astype(np.uint16)
    n = int(minutes * 60 * FS_HZ) // BLOCK * BLOCK
    t0_ns = 1_000_000_000_000
    with RecordingWriter(path, subject="BENCH", channel_map={0: "glute_max_left", 1: "glute_max_right"}) as w:
        w.append(info_frame, t_host_ns=t0_ns, source=RecordSource.BLE_NOTIFY)
        w.append(pack.response(1, 1, 0, seq=1), t_host_ns=t0_ns + 1000, source=RecordSource.BLE_NOTIFY)  # START ok
        w.set_device_info(info, channel_names=("glute_max_left", "glute_max_right"))
        w.set_session_plan(exercise="bridges")
        for i in range(n // BLOCK):
            k = (np.arange(i * BLOCK, (i + 1) * BLOCK)) % codes.shape[1]
            t_us = i * BLOCK * 1_000_000 // FS_HZ
            w.append(pack.emg(codes[:, k], first_sample=i * BLOCK, seq=i + 2, t_device_us=t_us % (1 << 30)),
                     t_host_ns=t0_ns + t_us * 1000 + 20_000_000, source=RecordSource.BLE_NOTIFY)


_CHILD = """
import atexit, sys

def _hwm():
    with open('/proc/self/status') as f:
        kb = next(line.split()[1] for line in f if line.startswith('VmHWM:'))
    sys.stderr.write('VMHWM ' + kb + '\\n')

atexit.register(_hwm)
sys.argv[0] = 'glutescope'
from glutescope.cli import run
run()
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.5, 5.0, 10.0])
    parser.add_argument("--html", action="store_true", help="write the HTML page instead of the PDF")
    parser.add_argument("--command", choices=("report", "info"), default="report",
                        help="the subcommand measured (info: the one-pass summary alone)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in sorted(args.minutes):
            rec = Path(tmp) / f"m{minutes:g}.glutes"
            write_recording(rec, minutes)
            out = rec.with_suffix(".html" if args.html else ".pdf")
            env = {"PYTHONPATH": f"{ROOT / 'host'}:{ROOT / 'signal'}", "QT_QPA_PLATFORM": "offscreen",
                   "PATH": "/usr/bin:/bin"}
            t = time.perf_counter()
            # The child reports its own VmHWM at exit. Not ru_maxrss: Linux folds the
            # parent's high-water mark into it across a vfork + exec, so it read this
            # script's own peak (which grows with the recording it wrote), not the child's.
            cmd = ["report", str(rec), "-o", str(out)] if args.command == "report" else ["info", str(rec)]
            done = subprocess.run([sys.executable, "-c", _CHILD, *cmd], check=True, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall_s = time.perf_counter() - t
            rss_mb = int(re.search(r"^VMHWM (\d+)$", done.stderr, re.M).group(1)) / 1024
            rows.append((minutes, wall_s, rss_mb))
            print(f"{args.command} of {minutes:6.1f} min (2 ch x {FS_HZ} Hz): {wall_s:6.1f} s, peak RSS {rss_mb:7.1f} MB",
                  flush=True)
    # Between each pair of lengths, not just the ends: the report's layout changes at
    # 10 min (a timeline instead of the trace), which moves the first step alone.
    for (m0, _, r0), (m1, _, r1) in zip(rows, rows[1:]):
        print(f"{m0:g} -> {m1:g} min: peak RSS grows {(r1 - r0) / (m1 - m0):.2f} MB per minute of signal "
              f"({(r1 - r0) / (m1 - m0) / 60 * 1024:.1f} kB per second; 0 would be bounded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
