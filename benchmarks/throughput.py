"""The most EMG the host takes in for a whole run without losing any of it.

The virtual wearable (the firmware's own code on the hardware models) runs in a child
process (``python -m glutescope.virtual.serve``), on the air of a software BLE link
(bumble, relayed over loopback TCP). This process is only the host: bleak on the bumble
backend, the live session the UI runs (`glutescope.session.LiveSession`: decoder,
stream assembly, conditioning, envelope, scores) and a recording to a temporary
directory. So the CPU figures are the host's own.

First every configuration the Pico 2 W supports (1-3 channels on ADC0-2 x 500-2000 Hz,
IMU at 104 Hz) runs at real speed. Then, beyond what the board can do, the top one runs
with the wearable's clock N times faster: N times the samples per second through the
same frames, until the host no longer keeps up. Last, the recording of the fastest
sustained run is replayed through the live session as fast as it goes (recording it
again): the host's decoding + processing + recording alone, without radio or wearable,
which is where the host itself saturates when the simulator or the machine gives out
first.

A run is sustained when, over its whole duration: no frame sequence number is missing,
no sample is missing from either stream, no frame is corrupt, the wearable reports no
ring drop or ADC overrun, and the host's backlog does not grow (the stream's newest
sample stays as far behind the wearable's clock at the end as at the start, within
``BACKLOG_GROWTH_LIMIT_S``). A run that fails says what ran out: the host's core
(host-bound), the wearable simulator's core (simulator-bound: the host was not the
limit), or neither, when other processes on the machine took the cores (CPU-starved;
the load average is printed with each run).

Columns: ``backlog+ s`` the backlog growth, ``queue hw`` the high-water mark of the
transport's frame queue, ``host CPU`` this process, ``pipeline`` the part of it spent in
record + decode + live processing, ``wearable`` the wearable's process, all in % of one
core (``time.process_time`` and /proc), ``load`` the machine's 1-minute load average.

Run: ``PYTHONPATH=host:signal python benchmarks/throughput.py [--seconds 60]``
(up to 20 runs: budget about 20 x (seconds + 5) s).
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

import pipeline_probe as pp

BACKLOG_GROWTH_LIMIT_S = 0.25
SPEEDS = (2.0, 4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0)
IMU_FS_HZ = 104
BUSY_PCT = 90.0  # a process using this much of one core is taken as saturated
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RunResult:
    """What one run streamed and how the host coped."""

    n_channels: int
    fs_hz: int
    speed: float
    seconds_s: float
    emg_samples: int
    """EMG samples per channel that reached the host."""
    lost_frames: int
    corrupt_frames: int
    missing_samples: int
    """EMG + IMU samples missing from the streams (gaps in the stream assembler)."""
    wearable_drops: int
    """Samples the wearable's RAM ring dropped plus its ADC overruns (last STATUS)."""
    backlog_growth_s: float
    """How much further the newest sample fell behind the wearable's clock, host s."""
    queue_high_water: int
    host_cpu_pct: float
    """This process (the whole host), % of one core."""
    pipeline_cpu_pct: float
    """Record + decode + live processing (``Acquisition.handle``, ``update_link``), % of one core."""
    wearable_cpu_pct: float
    """The wearable's process (firmware, its BLE stack, the relay), % of one core; nan if unknown."""
    load_avg: float
    """The machine's 1-minute load average at the end of the run (other processes compete for the cores)."""
    error: str = ""

    @property
    def effective_fs_hz(self) -> float:
        return self.fs_hz * self.speed

    @property
    def sustained(self) -> bool:
        return (not self.error and self.lost_frames == 0 and self.corrupt_frames == 0
                and self.missing_samples == 0 and self.wearable_drops == 0
                and self.backlog_growth_s < BACKLOG_GROWTH_LIMIT_S
                and self.emg_samples >= 0.5 * self.effective_fs_hz * self.seconds_s)

    def limit(self) -> str:
        """What ran out: the host's core, the simulator's core, or the machine's cores."""
        if self.sustained:
            return ""
        if self.error:
            return "failed"
        if self.host_cpu_pct >= BUSY_PCT:
            return "host-bound"
        if self.wearable_cpu_pct >= BUSY_PCT:
            return "simulator-bound"
        return "CPU-starved: neither process had a full core (load average %.1f)" % self.load_avg


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pp.ROOT / "host"), str(pp.ROOT / "signal")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _cpu_s_of(pid: int) -> float:
    """CPU seconds (user + system) a process used so far; nan where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _remote_transport(central_port: int):
    """The host's transport to the wearable's process (a loaded wearable may scan slowly)."""
    from glutescope.transports.virtual import RemoteVirtualTransport

    return RemoteVirtualTransport(central_port, scan_timeout_s=30.0)


def _start_wearable(speed: float):
    """Start the wearable's process; return it and the port of the host's controller."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-m", "glutescope.virtual.serve", "--speed", repr(speed)],
                             stdout=subprocess.PIPE, env=_env(), text=True)
    line = child.stdout.readline()  # the ready line, or '' if it died
    if not line.startswith("ready:"):
        child.kill()
        child.wait()
        raise RuntimeError(f"the virtual wearable's process did not start (printed {line!r})")
    return child, int(line.strip().rsplit(":", 1)[1])


def _stop_wearable(child) -> None:
    child.terminate()
    try:
        child.wait(timeout=15)
    except Exception:
        child.kill()
        child.wait()


def _backlog_growth_s(arrivals, fs_hz: float, speed: float, warmup_s: float) -> float:
    """Growth of (host time - wearable time of the newest sample) from the start to the end of a run."""
    if len(arrivals) < 10:
        return float("inf")
    t_s = np.array([a[0] for a in arrivals], dtype=np.float64) / 1e9
    behind_s = t_s - np.array([a[1] for a in arrivals], dtype=np.float64) / (fs_hz * speed)
    t_s -= t_s[0]
    steady = t_s >= min(warmup_s, t_s[-1] / 2)
    t_s, behind_s = t_s[steady], behind_s[steady]
    window_s = max(1.0, 0.1 * (t_s[-1] - t_s[0]))
    # Low quantiles: a frame's own batching and jitter only ever add to "behind".
    start = np.percentile(behind_s[t_s <= t_s[0] + window_s], 10)
    end = np.percentile(behind_s[t_s >= t_s[-1] - window_s], 10)
    return float(end - start)


def run_once(n_channels: int, fs_hz: int, speed: float, seconds_s: float, warmup_s: float,
             record_path: Optional[Path] = None) -> RunResult:
    """Stream one configuration for ``seconds_s`` and judge it; record to ``record_path`` (default: a temporary one)."""
    from glutescope.session import LiveSession, SessionOptions

    child, port = _start_wearable(speed)
    probe = pp.PipelineProbe()
    probe.install(firmware_side=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            options = SessionOptions(speed=speed, emg_fs_hz=fs_hz, channel_mask=pp.channel_mask(n_channels),
                                     imu_fs_hz=IMU_FS_HZ, channel_names=pp.CHANNEL_NAMES[:n_channels],
                                     record_path=record_path or Path(tmp) / "throughput.glutes")
            session = LiveSession(options)
            session.transport = _remote_transport(port)
            probe.watch_transport(session.transport)
            try:
                session.start()
            except Exception as exc:  # the host refused the configuration: a result, not a crash
                return RunResult(n_channels, fs_hz, speed, seconds_s, 0, 0, 0, 0, 0, float("nan"), 0,
                                 0.0, 0.0, 0.0, os.getloadavg()[0], f"the live session did not start: {exc}")
            cpu0, child_cpu0, t0 = time.process_time(), _cpu_s_of(child.pid), time.monotonic()
            time.sleep(seconds_s)
            wall_s = time.monotonic() - t0
            host_cpu_pct = 100 * (time.process_time() - cpu0) / wall_s
            wearable_cpu_pct = 100 * (_cpu_s_of(child.pid) - child_cpu0) / wall_s
            pipeline_cpu_pct = 100 * (probe.handle_cpu_ns + probe.update_cpu_ns) / 1e9 / wall_s
            stop_ns = time.monotonic_ns()
            session.stop()
            error = "" if session.error is None else str(session.error)
            acq = session.acquisition
            counters, status = acq.counters, acq.status
            missing = sum(g.n_samples for g in acq.emg.gaps()) + sum(g.n_samples for g in acq.imu.gaps())
            emg_samples = acq.emg.end_sample
    finally:
        probe.uninstall()
        _stop_wearable(child)
    arrivals = [a for a in probe.arrivals if a[0] < stop_ns]
    drops = 0 if status is None else status.ring_drops + status.emg_overruns
    return RunResult(n_channels, fs_hz, speed, seconds_s, emg_samples, counters.lost_frames,
                     counters.corrupt_frames, missing, drops,
                     _backlog_growth_s(arrivals, fs_hz, speed, warmup_s), probe.queue_high_water,
                     host_cpu_pct, pipeline_cpu_pct, wearable_cpu_pct, os.getloadavg()[0], error)


def replay_capacity(path: Path) -> tuple[int, float, float, float]:
    """Replay a recording through the live session as fast as it goes, recording it again.

    No radio and no wearable: only the host's decoding, processing and recording, on
    this process's one thread (plus the recorder's flushing). Returns the EMG samples
    per channel replayed, the wall time, the process CPU time and the CPU time spent in
    ``Acquisition.handle`` and ``update_link`` (s).
    """
    from glutescope.session import LiveSession, SessionOptions

    probe = pp.PipelineProbe()
    probe.install(firmware_side=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            session = LiveSession(SessionOptions(replay_path=path, speed=0.0,
                                                 record_path=Path(tmp) / "again.glutes"))
            cpu0, t0 = time.process_time(), time.monotonic()
            session.start()
            while not session.finished and session.error is None:
                time.sleep(0.02)
            session.stop()
            wall_s, cpu_s = time.monotonic() - t0, time.process_time() - cpu0
            if session.error is not None and not session.finished:
                raise RuntimeError(f"the replay failed: {session.error}")
            samples = session.acquisition.emg.end_sample
    finally:
        probe.uninstall()
    return samples, wall_s, cpu_s, (probe.handle_cpu_ns + probe.update_cpu_ns) / 1e9


def _parse(argv):
    parser = argparse.ArgumentParser(description="Sustained EMG throughput of the host over the virtual link.")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run, s (default: %(default)s)")
    parser.add_argument("--rates", type=int, nargs="+", default=list(pp.EMG_RATES_HZ), choices=pp.EMG_RATES_HZ,
                        metavar="HZ", help="supported EMG rates to try (default: all: %(default)s)")
    parser.add_argument("--speeds", type=float, nargs="*", default=list(SPEEDS), metavar="X",
                        help="clock speed factors to try beyond the board, in order, stopping at the first "
                             "run not sustained (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0, got {args.seconds:g}")
    if any(not s > 0 for s in args.speeds):
        parser.error(f"--speeds must all be > 0, got {args.speeds}")
    return args


HEADER = (f"{'ch':>2} {'fs Hz':>6} {'speed':>5} {'eff. Hz/ch':>10} {'samples/s':>9} {'lost':>4} "
          f"{'missing':>7} {'drops':>5} {'backlog+ s':>10} {'queue hw':>8} {'host CPU':>8} "
          f"{'pipeline':>8} {'wearable':>8} {'load':>4}  result")


def _row(r: RunResult) -> str:
    verdict = "sustained" if r.sustained else f"NOT sustained ({r.limit()}{': ' + r.error if r.error else ''})"
    return (f"{r.n_channels:>2} {r.fs_hz:>6} {r.speed:>5g} {r.effective_fs_hz:>10.0f} "
            f"{r.effective_fs_hz * r.n_channels:>9.0f} {r.lost_frames:>4} {r.missing_samples:>7} "
            f"{r.wearable_drops:>5} {r.backlog_growth_s:>10.3f} {r.queue_high_water:>8} "
            f"{r.host_cpu_pct:>7.1f}% {r.pipeline_cpu_pct:>7.1f}% {r.wearable_cpu_pct:>7.1f}% {r.load_avg:>4.1f}  {verdict}")


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    # Notifications still in flight when a run unsubscribes are expected, not news.
    logging.getLogger("bumble.gatt_client").setLevel(logging.ERROR)
    warmup_s = min(2.0, args.seconds / 4)
    print("throughput over the virtual link: wearable process (firmware on the hardware models, bumble) -> "
          "loopback relay -> this process (bleak, LiveSession: decode + processing + recording)")
    print(f"each run: {args.seconds:g} s of streaming with IMU {IMU_FS_HZ} Hz; sustained = no lost frame, "
          f"no missing sample, no wearable drop, backlog growth < {BACKLOG_GROWTH_LIMIT_S:g} s; "
          f"CPU in % of one core ({os.cpu_count()} cores on this machine)")
    print(HEADER, flush=True)
    results = []
    for n_channels in range(1, pp.MAX_CHANNELS + 1):
        for fs_hz in sorted(args.rates):
            r = run_once(n_channels, fs_hz, 1.0, args.seconds, warmup_s)
            results.append(r)
            print(_row(r), flush=True)
    board = [r for r in results if r.sustained]
    top_channels, top_fs = pp.MAX_CHANNELS, max(args.rates)
    beyond = []
    keep = tempfile.TemporaryDirectory()
    replayable: Optional[Path] = None
    for k, speed in enumerate(args.speeds):
        path = Path(keep.name) / f"x{k}.glutes"
        r = run_once(top_channels, top_fs, speed, args.seconds, warmup_s, record_path=path)
        beyond.append(r)
        print(_row(r), flush=True)
        if not r.sustained:
            break
        if replayable is not None:
            shutil.rmtree(replayable, ignore_errors=True)  # only the last sustained one is replayed
        replayable = path
    if board:
        best = max(board, key=lambda r: (r.n_channels * r.fs_hz, r.n_channels))
        print(f"highest supported config sustained: {best.n_channels} ch x {best.fs_hz} Hz "
              f"({best.n_channels * best.fs_hz} samples/s) for {args.seconds:g} s")
    else:
        print("highest supported config sustained: none")
    every = board + [r for r in beyond if r.sustained]
    if every:
        best = max(every, key=lambda r: r.effective_fs_hz * r.n_channels)
        print(f"highest rate sustained: {best.n_channels} ch x {best.effective_fs_hz:.0f} samples/s per channel "
              f"= {best.n_channels * best.effective_fs_hz:.0f} samples/s (wearable clock x{best.speed:g}), "
              f"host CPU {best.host_cpu_pct:.0f} % of one core, frame queue high-water {best.queue_high_water}")
    failed = [r for r in beyond if not r.sustained]
    if failed:
        r = failed[0]
        print(f"first run not sustained: {r.n_channels} ch x {r.effective_fs_hz:.0f} samples/s per channel "
              f"(clock x{r.speed:g}): {r.limit()}, host CPU {r.host_cpu_pct:.0f} %, "
              f"wearable process CPU {r.wearable_cpu_pct:.0f} %")
    else:
        print("first run not sustained: none within the speeds tried")
    fit = [r for r in every if (r.n_channels, r.fs_hz) == (top_channels, top_fs)]
    if len(fit) >= 2:
        rate = np.array([r.effective_fs_hz * r.n_channels for r in fit])
        slope, intercept = np.polyfit(rate, [r.host_cpu_pct for r in fit], 1)
        if slope > 0:
            print(f"host CPU cost ({top_channels} ch x {top_fs} Hz at every clock speed sustained, straight line): {1e4 * slope:.1f} % of one core "
                  f"per 10000 samples/s + {intercept:.1f} %; a whole free core would take about "
                  f"{(100 - intercept) / slope:.0f} samples/s (an extrapolation, not a measurement)")
    if replayable is not None:
        samples, wall_s, cpu_s, pipeline_s = replay_capacity(replayable)
        print(f"host pipeline alone (replay of the last sustained {top_channels} ch recording as fast as it goes, "
              f"recording it again, no radio): {samples * top_channels / wall_s:.0f} samples/s at "
              f"{100 * cpu_s / wall_s:.0f} % of one core; record + decode + live processing alone "
              f"{samples * top_channels / pipeline_s:.0f} samples/s per core "
              f"({samples} samples/ch in {wall_s:.1f} s)")
        if failed:
            asked = failed[0].effective_fs_hz * failed[0].n_channels
            ceiling = samples * top_channels / wall_s
            print(f"so the first run not sustained ({asked:.0f} samples/s) asks for "
                  + (f"more than the host alone manages ({ceiling:.0f}): the host is the limit" if asked > ceiling
                     else f"less than the host alone manages ({ceiling:.0f}): the simulator or the machine "
                          f"was the limit, not the host"))
    keep.cleanup()
    default = [r for r in results if r.n_channels == 2 and r.fs_hz == 2000]
    if default:
        r = default[0]
        print(f"default config (2 ch x 2000 Hz + IMU 104 Hz): host process {r.host_cpu_pct:.1f} % of one core, "
              f"of which record + decode + live processing {r.pipeline_cpu_pct:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
