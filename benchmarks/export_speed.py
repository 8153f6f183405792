"""Time and peak memory of the exports (EDF+, C3D, CSV) and the report of a long recording.

A recording of ``--minutes`` (default 60) of 4-channel 2 kHz EMG (glute max and med,
left and right) with the IMU at 104 Hz is written straight into the recording format
with `glutescope.recording.RecordingWriter`, frame by frame as the wearable sends them
(10 ms EMG blocks, 4-sample IMU blocks, a STATUS a second, the device clock wrapping at
2^30 us): a seeded body-model bridge session (`glutesignal.simulation`), repeated to
the length. The virtual link is not involved, so building it takes seconds.
``--channels 2`` builds glute max left and right only, as a 2-channel wearable records
(the soak's recording), so a given recording can be compared with one like it.

Then, for that recording and for one half as long (so "memory not growing with the
length" can be seen, not claimed), the stages run in fresh processes:

- ``read``: `glutescope.chunked.load_summary` (one pass over the log: everything but
  the EMG samples, as ``glutescope export`` and ``report`` open a recording);
- ``analyse``: `glutescope.analysis.analyse` (the live pipeline over the session, which
  reads the EMG again in chunks);
- ``export edf|c3d|csv``: the export function alone, after that read and analysis
  (one process for these; each reads the EMG again in chunks);
- ``glutescope report``: the command as a user runs it (its own load and analysis).

Each line gives the wall time, the peak memory and the CPU time (user + system: on a
machine others share, the wall time also holds the waits for a core). A stage's peak
memory is how far the process's resident set rose above its value at the stage's start,
sampled every 5 ms from ``/proc/self/statm`` by a thread during the one timed run
(numpy's buffers included; a second run under ``tracemalloc`` would slow the per-record
decode several-fold, and an 8-hour recording would then take hours). For the report it
is the process's peak resident set (``VmHWM``). The last lines compare the two
lengths and sum the stages against the goal (all exports + report under 10 s).

``--recording PATH`` measures an existing recording instead (opened read-only; the
outputs go to a temporary folder), e.g. the 8-hour one ``benchmarks/soak.py --keep``
leaves; with ``--minutes`` too, a built recording of that length is measured beside it
and the growth lines compare the two.

Run: PYTHONPATH=host:signal python benchmarks/export_speed.py [--minutes 60] [--keep DIR]
     [--tiny] (--tiny: 1 and 0.5 minutes, for the test that keeps this script working)
     PYTHONPATH=host:signal python benchmarks/export_speed.py --recording REC.glutes [--minutes M]
     [--channels 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHANNELS = ("glute_max_left", "glute_max_right", "glute_med_left", "glute_med_right")
EMG_FS_HZ = 2000
IMU_FS_HZ = 104
EMG_BLOCK = 20  # 10 ms at 2 kHz, as the firmware sends (firmware/glutefw/config.py EMG_BLOCK_MS)
IMU_BLOCK = 4
VREF_MV, EMG_GAIN = 3300, 1000.0
ACC_G_PER_LSB, GYRO_DPS_PER_LSB = 0.000122, 0.0175
GOAL_S = 10.0
STAGES = ("read", "analyse", "edf", "c3d", "csv")


# ---------------------------------------------------------------- protocol v1 frames
# Layouts from firmware/PROTOCOL.md: header <BBHII (version, type, payload length, seq,
# t_device_us mod 2^30), payload, CRC-32 of both.

def _frame(ftype: int, payload: bytes, seq: int, t_us: int) -> bytes:
    body = struct.pack("<BBHII", 1, ftype, len(payload), seq & 0xFFFFFFFF, t_us % (1 << 30)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _info(seq: int, channel_mask: int) -> bytes:
    name = b"glutescope-BENCH"
    payload = struct.pack("<BBBBBBHHHfffHB", 1, 0, 1, 0, 7, channel_mask, EMG_FS_HZ, IMU_FS_HZ, VREF_MV,
                          EMG_GAIN, ACC_G_PER_LSB, GYRO_DPS_PER_LSB, 4000, len(name)) + name
    return _frame(6, payload, seq, 0)


def build(path: Path, minutes: float, channels: tuple[str, ...] = CHANNELS) -> dict:
    """Write the benchmark recording of ``channels`` at ``path``; return what it holds."""
    from glutescope import protocol
    from glutescope.recording import RecordingWriter, RecordSource
    from glutesignal.simulation import simulate

    body = simulate("bridges", channels=channels, seed=0, emg_fs_hz=EMG_FS_HZ, imu_fs_hz=IMU_FS_HZ)
    codes = np.clip(np.rint(np.asarray(body.emg_uV) * EMG_GAIN / 1000.0 * 4096 / VREF_MV) + 2048, 0, 4095)
    codes = codes.astype(np.uint16)
    imu = np.vstack([np.asarray(body.acc_g) / ACC_G_PER_LSB, np.asarray(body.gyro_dps) / GYRO_DPS_PER_LSB])
    imu = np.clip(np.rint(imu), -32768, 32767).astype(np.int16)
    n_emg = int(minutes * 60 * EMG_FS_HZ) // EMG_BLOCK * EMG_BLOCK
    n_imu = int(n_emg / EMG_FS_HZ * IMU_FS_HZ) // IMU_BLOCK * IMU_BLOCK
    mask = (1 << len(channels)) - 1
    t0_ns = 1_780_000_000 * 10**9
    t0 = time.perf_counter()
    seq = 0
    with RecordingWriter(path, subject="BENCH-01", channel_map=dict(enumerate(channels)),
                         flush_interval_s=5.0, clock_ns=lambda: t0_ns) as w:
        w.set_session_plan(exercise="bridges")

        def put(frame: bytes, t_ns: int, to_device: bool = False) -> None:
            w.append(frame, t_ns, source=RecordSource.USB_SERIAL, host_to_device=to_device)

        put(protocol.encode_get_info(1), t0_ns, True)
        put(_info(seq, 0), t0_ns + 1_000_000)
        put(protocol.encode_start(2, EMG_FS_HZ, mask, IMU_FS_HZ), t0_ns + 2_000_000, True)
        seq += 1
        put(_frame(4, struct.pack("<BBBB", int(protocol.Opcode.START), 2, 0, 0), seq, 0), t0_ns + 3_000_000)
        put(protocol.encode_get_info(3), t0_ns + 4_000_000, True)
        seq += 1
        put(_info(seq, mask), t0_ns + 5_000_000)
        n_cycle, m_cycle = codes.shape[1], imu.shape[1]
        j = 0  # next IMU sample
        for a in range(0, n_emg, EMG_BLOCK):
            t_us = a * 500  # 2 kHz on the device clock
            while j < n_imu and j * 1e6 / IMU_FS_HZ <= t_us:
                k = np.arange(j, j + IMU_BLOCK) % m_cycle
                seq += 1
                payload = struct.pack("<IBBH", j, IMU_BLOCK, 0, 0) + imu[:, k].T.astype("<i2").tobytes()
                put(_frame(2, payload, seq, int(j * 1e6 / IMU_FS_HZ)), t0_ns + 10_000_000 + int(j * 1e9 / IMU_FS_HZ))
                j += IMU_BLOCK
            k = np.arange(a, a + EMG_BLOCK) % n_cycle
            seq += 1
            payload = struct.pack("<IBBBB", a, len(channels), EMG_BLOCK, mask, 0) + codes[:, k].T.astype("<u2").tobytes()
            put(_frame(1, payload, seq, t_us), t0_ns + 10_000_000 + t_us * 1000 + 5_000_000)
            if a % EMG_FS_HZ == 0:
                seq += 1
                status = struct.pack("<HBBIIIII", 3900, 80, 1, 0, 0, 0, 0, 100_000)
                put(_frame(3, status, seq, t_us), t0_ns + 10_000_000 + t_us * 1000 + 6_000_000)
    return {"minutes": n_emg / EMG_FS_HZ / 60, "build_s": time.perf_counter() - t0,
            "bytes": (path / "frames.log").stat().st_size}


# ---------------------------------------------------------------- the stages, in one process

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_now_bytes() -> int:
    """This process's resident set now (Linux ``/proc/self/statm``), else its peak so far."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_BYTES
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _hwm_bytes(pid="self") -> int:
    """A process's peak resident set (Linux ``VmHWM``), 0 when unknown.

    Not ``ru_maxrss``: Linux carries it over a fork and exec, so a child started by
    this script would report this script's own peak when that was higher."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class _PeakRss:
    """How far the resident set rises above its value at entry while the block runs.

    A thread samples it every ``interval_s``; the GIL lets it in between numpy calls and
    every 5 ms of Python, so a peak shorter than that can be missed: the figure is a
    lower bound, close for stages that hold their buffers for longer."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.start_bytes = self.peak_bytes = 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak_bytes = max(self.peak_bytes, _rss_now_bytes())

    def __enter__(self) -> "_PeakRss":
        self.start_bytes = self.peak_bytes = _rss_now_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, _rss_now_bytes())

    @property
    def growth_bytes(self) -> int:
        return self.peak_bytes - self.start_bytes


def _stages(recording: Path, out_dir: Path) -> dict:
    """Read and analyse once, then each export, each stage timed once with its peak RSS."""
    from glutescope import export
    from glutescope.analysis import analyse
    from glutescope.chunked import load_summary
    from glutescope.private import private_files

    how = "RSS growth"
    res = {}
    t, c = time.perf_counter(), time.process_time()
    with _PeakRss() as rss:
        rec = load_summary(recording)
    res["read"] = {"s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "peak_bytes": rss.growth_bytes,
                   "how": how, "held_bytes": _rss_now_bytes() - rss.start_bytes,
                   "minutes": sum(e.n_samples for e in rec.emg) / rec.device_info.emg_fs_hz / 60,
                   "n_channels": int(rec.emg[0].samples.shape[0]) if rec.emg else 0,
                   "emg_fs_hz": float(rec.device_info.emg_fs_hz)}
    t, c = time.perf_counter(), time.process_time()
    with _PeakRss() as rss:
        analysis = analyse(rec)[0]
    res["analyse"] = {"s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "peak_bytes": rss.growth_bytes,
                      "how": how}
    fns = {"edf": export.export_edf, "c3d": export.export_c3d, "csv": export.export_csv}
    with private_files():
        for stage, fn in fns.items():
            target = out_dir / {"edf": "x.edf", "c3d": "x.c3d", "csv": "x-csv"}[stage]
            t, c = time.perf_counter(), time.process_time()
            with _PeakRss() as rss:
                fn(rec, analysis, target)
            dt, cpu = time.perf_counter() - t, time.process_time() - c
            size = sum(p.stat().st_size for p in target.iterdir()) if target.is_dir() else target.stat().st_size
            res[stage] = {"s": dt, "cpu_s": cpu, "peak_bytes": rss.growth_bytes, "out_bytes": size, "how": how}
            for p in (target.iterdir() if target.is_dir() else (target,)):  # a day's CSV is gigabytes
                p.unlink()
    res["process_peak_bytes"] = _hwm_bytes() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return res


def _child_stages(recording: Path, out_dir: Path) -> dict:
    cmd = [sys.executable, __file__, "--stages", "--recording", str(recording), "--out", str(out_dir)]
    done = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "host"), str(REPO / "signal")])), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the stages failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(recording: Path, out_dir: Path) -> dict:
    """``glutescope report`` as a user runs it: wall time and the process's peak RSS."""
    out = out_dir / "report.pdf"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "host"), str(REPO / "signal")]),
               QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "glutescope", "report", str(recording), "-o", str(out), "--force"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = [0], threading.Event()

    def watch() -> None:  # VmHWM only grows: its last reading before the exit is the peak
        while not done.is_set():  # (not poll(): that would reap the child before wait4)
            peak[0] = max(peak[0], _hwm_bytes(proc.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    err = proc.stderr.read().decode(errors="replace")
    done.set()
    watcher.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    dt = time.perf_counter() - t
    return {"s": dt, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_bytes": peak[0] or usage.ru_maxrss * 1024, "status": proc.returncode,
            "error": err.strip().splitlines()[-1] if proc.returncode else ""}


def measure(recording: Path, out_dir: Path) -> dict:
    res = _child_stages(recording, out_dir)
    res["report"] = _report(recording, out_dir)
    return res


def _mb(n: int) -> str:
    return f"{n / 1e6:8.1f}"


def _name(stage: str) -> str:
    return stage if stage in ("read", "analyse") else f"export {stage}"


def _print_measure(r: dict) -> None:
    print(f"{'stage':<20} {'time s':>8} {'peak MB':>8} {'CPU s':>8}  (of what)")
    for stage in STAGES:
        x = r[stage]
        extra = f", output {x['out_bytes'] / 1e6:.1f} MB" if x.get("out_bytes") else ""
        if "held_bytes" in x:
            extra += f", {x['held_bytes'] / 1e6:.1f} MB still held after it"
        print(f"{_name(stage):<20} {x['s']:8.2f} {_mb(x['peak_bytes'])} {x['cpu_s']:8.2f}  "
              f"({x['how']}, this stage alone{extra})")
    print(f"{'(these stages)':<20} {'':>8} {_mb(r['process_peak_bytes'])} {'':>8}  "
          f"(peak RSS of their process, the interpreter and imports included)")
    rp = r["report"]
    state = "" if rp["status"] == 0 else f"  FAILED (exit {rp['status']}: {rp['error']})"
    print(f"{'glutescope report':<20} {rp['s']:8.2f} {_mb(rp['rss_bytes'])} {rp['cpu_s']:8.2f}  "
          f"(peak RSS of the process){state}")
    total = sum(r[s]["s"] for s in STAGES) + rp["s"]
    cpu = sum(r[s]["cpu_s"] for s in STAGES) + rp["cpu_s"]
    print(f"total: one read + analysis, the 3 exports, and the report (its own read + analysis) "
          f"{total:.2f} s ({cpu:.2f} s of CPU: less than the time when others share the machine)", flush=True)


def _verdict(label: str, minutes: float, r: dict) -> None:
    total = sum(r[s]["s"] for s in STAGES) + r["report"]["s"]
    exports = sum(r[s]["s"] for s in ("edf", "c3d", "csv"))
    verdict = ("PASS" if total < GOAL_S else "FAIL") if 59.0 <= minutes <= 61.0 else \
        f"not judged (the goal is for 60 min; {total / minutes * 60:.1f} s per hour of signal)"
    print(f"verdict: {label}, all exports + report {total:.1f} s (exports alone {exports:.1f} s, "
          f"one read + analysis {r['read']['s'] + r['analyse']['s']:.1f} s) against < {GOAL_S:g} s: {verdict}")


def _growth(short_label: str, long_label: str, short: dict, long: dict) -> None:
    print(f"growth from {short_label} to {long_label} (peak memory, longer / shorter; 1.0 = not growing):")
    for stage in STAGES:
        ratio = long[stage]["peak_bytes"] / max(1, short[stage]["peak_bytes"])
        print(f"  {_name(stage):<18} {ratio:5.2f}")
    print(f"  {'glutescope report':<18} {long['report']['rss_bytes'] / max(1, short['report']['rss_bytes']):5.2f}")


def _built(base: Path, tmp: str, m: float, channels: tuple[str, ...] = CHANNELS) -> tuple[dict, dict]:
    """Build (or reuse) the ``m``-minute recording of ``channels`` in ``base`` and measure it."""
    rec = base / (f"bench-{m:g}min.glutes" if channels == CHANNELS else f"bench-{m:g}min-{len(channels)}ch.glutes")
    if rec.exists():
        built = {"minutes": m, "build_s": float("nan"), "bytes": (rec / "frames.log").stat().st_size}
    else:
        built = build(rec, m, channels)
    out_dir = Path(tmp) / f"out-{m:g}"
    out_dir.mkdir()
    print(f"recording: {built['minutes']:g} min, {len(channels)} ch x {EMG_FS_HZ} Hz EMG + IMU "
          f"{IMU_FS_HZ} Hz, frames.log {built['bytes'] / 1e6:.1f} MB, "
          + (f"built in {built['build_s']:.1f} s" if built["build_s"] == built["build_s"] else "reused"),
          flush=True)
    r = measure(rec, out_dir)
    _print_measure(r)
    return built, r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=None,
                    help="length of the long recording built (default 60; with --recording: none unless given)")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the recordings in this folder")
    ap.add_argument("--tiny", action="store_true", help="1 and 0.5 minutes: only checks that everything runs")
    ap.add_argument("--recording", type=Path, metavar="REC.glutes",
                    help="measure this existing recording (read only; outputs go to a temporary folder)")
    ap.add_argument("--channels", type=int, choices=(2, 4), default=4,
                    help="EMG channels of the built recordings: 4 (glute max and med, both sides; "
                         "the goal's) or 2 (glute max only, as a 2-channel wearable records)")
    ap.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stages:  # the child: every stage, one JSON line
        print(json.dumps(_stages(args.recording, args.out)))
        return 0
    if args.recording is not None and not (args.recording / "frames.log").is_file():
        ap.error(f"--recording {args.recording}: not a recording (no frames.log in it)")
    minutes = 1.0 if args.tiny else args.minutes
    if minutes is None and args.recording is None:
        minutes = 60.0
    if minutes is not None and not minutes > 0:
        ap.error(f"--minutes must be > 0, got {minutes}")
    channels = CHANNELS[:args.channels]
    with tempfile.TemporaryDirectory(prefix="export-speed-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        if args.recording is not None:
            out_dir = Path(tmp) / "out-given"
            out_dir.mkdir()
            print(f"recording: {args.recording.name}, frames.log "
                  f"{(args.recording / 'frames.log').stat().st_size / 1e6:.1f} MB (given)", flush=True)
            given = measure(args.recording, out_dir)
            given_min = given["read"]["minutes"]
            print(f"  {given_min:.1f} min of EMG, {given['read']['n_channels']} ch x {given['read']['emg_fs_hz']:g} Hz")
            _print_measure(given)
            if minutes is not None:
                _, r = _built(base, tmp, minutes, channels)
                a, b = sorted([(minutes, r, f"{minutes:g} min (built)"),
                               (given_min, given, f"{given_min:.0f} min ({args.recording.name})")],
                              key=lambda x: x[0])
                _growth(a[2], b[2], a[1], b[1])
                _verdict(f"{minutes:g} min (built)", minutes, r)
            _verdict(f"{args.recording.name}, {given_min:.0f} min", given_min, given)
            return 0
        results = {}
        for m in (minutes, minutes / 2):
            _, results[m] = _built(base, tmp, m, channels)
        _growth(f"{minutes / 2:g} min", f"{minutes:g} min", results[minutes / 2], results[minutes])
        _verdict(f"{minutes:g} min", minutes, results[minutes])
    return 0


if __name__ == "__main__":
    sys.exit(main())
