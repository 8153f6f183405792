"""A workday on the virtual wearable: memory, CPU and losses per hour of signal, then the
recording compared sample by sample with what the body model produced.

The virtual wearable (the firmware's own code on the hardware models, its crystal
``--drift-ppm`` fast) streams over the software BLE link to the host's `Acquisition`,
which records every frame to a ``.glutes`` recording, exactly as ``glutescope record``
does with the virtual wearable; both run in this process, as they do there, so the
RSS and CPU figures are those of that command (host and simulator together).

The wearable's clock runs ``--speed`` times faster than real time through steady
streaming. Each hour of signal holds ``--dropouts`` random dropouts (the wearable out
of the host's range for 0.2-5 s of its own time, while it keeps sampling into its RAM
rings) and one reconnection (the link dropped, both sides in range). Around each of
them the clock runs at ``--drop-speed`` only (default real time, as a board runs): the
host's reconnection back-off and the radio's connection set-up are host time, and at a
fast clock they alone would outlast the wearable's backfill window.

Printed per hour of signal: the process RSS at the hour's end, its CPU share over the
hour (% of one core, host and simulator together), frames lost (sequence numbers never
seen), samples missing (EMG + IMU, as gaps), samples backfilled (RESEND), samples the
wearable's own rings dropped (the simulator starved of CPU: STATUS ``ring_drops``), and
the hour's wall time. At the end: the RSS of the last hour against the first (goal:
within 10 %), the samples lost inside the backfill window (goal: 0) -- missing samples
that the wearable still held in its rings when the host asked for them (the firmware's
RESEND handler is observed: what it was asked, the oldest sample its ring held, its
answer); a dropout plus reconnection longer than the window loses its oldest samples
for real, and samples the wearable's ring dropped before sending leave a gap no lost
frame points at; both are counted apart -- and the recording read back, every EMG and IMU
sample of every block compared with the body model's truth (samples the wearable
flagged lost with the ADC error bit are counted apart).

When the wearable reports ring drops or overruns, the simulator itself was starved of
CPU (its hardware models were served late in device time, which a fast clock
multiplies): those samples were lost on the wearable before sending, and an IMU FIFO
overflow shifts the IMU stream's indices against the body model (the firmware's stream
index closes up over the lost batches), so the comparison then shows differences that
are the simulator's, not the host's. A lower ``--speed`` avoids it.

Run: ``PYTHONPATH=host:signal python benchmarks/soak.py [--hours 8] [--speed 16]``
(wall time about ``hours * 3600 / speed`` s plus the dropouts at ``--drop-speed``);
a short run: ``--hours 0.1 --period-s 120``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RECONNECT_TIMEOUT_S = 60.0  # host seconds for a lost link to come back and be backfilled
_OUT_OF_WINDOW = 6  # ErrorCode.OUT_OF_WINDOW


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass(frozen=True)
class Hour:
    """What one reporting period of signal cost and lost."""

    index: int
    rss_bytes: int
    """Process RSS at the period's end."""
    cpu_pct: float
    """Process CPU time over wall time during the period, % of one core."""
    frames_lost: int
    missing: int
    """EMG + IMU samples that became gaps during the period."""
    backfilled: int
    """EMG + IMU samples that arrived in BACKFILL blocks during the period."""
    wearable_drops: int
    """Samples the wearable's rings dropped during the period (STATUS ring_drops)."""
    overruns: int
    """DMA ring / ADC / IMU FIFO overruns of the wearable during the period (STATUS
    emg_overruns): the simulator's hardware models were served late (CPU starved)."""
    dropouts: int
    reconnects: int
    wall_s: float


class ResendObserver:
    """Wraps the firmware's RESEND handler: what it was asked, the oldest sample its ring
    still held at that moment, and its answer. Observation only; the call goes through."""

    def __init__(self, fw_wearable) -> None:
        self.entries: list[tuple[int, int, int, int, int]] = []  # stream, first, n, oldest, code
        handler = fw_wearable._resend

        def observed(cmd):
            ring = fw_wearable.emg_ring if cmd.stream == 0 else fw_wearable.imu_ring
            oldest = ring.oldest
            code = handler(cmd)
            self.entries.append((cmd.stream, cmd.first_sample, cmd.n_samples, oldest, int(code)))
            return code

        fw_wearable._resend = observed

    def held_when_asked(self, stream: int) -> list[tuple[int, int]]:
        """Ranges the wearable still held when asked (it resends from its oldest sample on)."""
        return [(max(first, oldest), first + n) for s, first, n, oldest, code in self.entries
                if s == stream and code == 0 and first + n > max(first, oldest)]

    def asked(self, stream: int) -> list[tuple[int, int]]:
        """Every range the host asked for, whatever the answer."""
        return [(first, first + n) for s, first, n, _, _ in self.entries if s == stream]


def _covered(intervals: list[tuple[int, int]], a: int, b: int) -> int:
    """How many of the indices a .. b-1 lie in the union of ``intervals``."""
    total, cursor = 0, a
    for lo, hi in sorted(intervals):
        lo, hi = max(lo, cursor), min(hi, b)
        if hi > lo:
            total += hi - lo
            cursor = hi
    return total


def _missing(acq) -> int:
    return sum(g.n_samples for asm in (acq.emg, acq.imu) for g in asm.gaps())


def _backfilled(acq) -> int:
    return sum(seg.n_backfilled for asm in (acq.emg, acq.imu) for seg in asm.segments())


def schedule(hours: float, period_s: float, dropouts: int, seed: int) -> list[tuple[float, str, float]]:
    """(device time s, "dropout" or "reconnect", out-of-range s) events, in time order.

    Each period holds ``dropouts`` dropouts at random times, none in its first or last
    tenth, and one reconnection at 95 % of it.
    """
    rng = random.Random(seed)
    total_s = hours * 3600.0
    events = []
    start = 0.0
    while start < total_s - 1e-9:
        length = min(period_s, total_s - start)
        for _ in range(dropouts):
            events.append((start + rng.uniform(0.1, 0.85) * length, "dropout", rng.uniform(0.2, 5.0)))
        events.append((start + 0.95 * length, "reconnect", 0.0))
        start += length
    events.sort()
    # Keep events apart, so each recovery is measured on its own.
    spaced, last = [], -1e9
    for t, kind, out_s in events:
        if t - last >= 15.0:
            spaced.append((t, kind, out_s))
            last = t
    return spaced


async def _wait(predicate, timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout_s:g} s")
        await asyncio.sleep(0.02)


async def _interrupt(acq, wearable, kind: str, out_s: float, speed: float, drop_speed: float) -> None:
    """One dropout or reconnection, at the slow clock, waited for until backfilled."""
    clock = wearable.clock
    clock.set_speed(drop_speed)
    try:
        before = acq.counters.disconnects
        if kind == "dropout":
            wearable.go_out_of_range(out_s)
            await asyncio.sleep(clock.host_seconds(out_s))
        else:
            wearable.radio.drop_link()
        await _wait(lambda: acq.counters.disconnects > before, 20.0, "the link loss being noticed")
        await _wait(lambda: acq.transport.connected and not acq.recovering, RECONNECT_TIMEOUT_S,
                    "reconnection and backfill")
    finally:
        clock.set_speed(speed)


async def soak(args, out_dir: Path, emit) -> tuple[list[Hour], dict]:
    from glutescope.acquisition import Acquisition
    from glutescope.recording import RecordingWriter
    from glutescope.transports.virtual import VirtualTransport

    channels = ("glute_max_left", "glute_max_right", "glute_med_left")[: args.channels]
    transport = VirtualTransport(exercise=args.exercise, seed=args.seed, speed=args.speed,
                                 emg_fs_hz=args.emg_rate, imu_fs_hz=args.imu_rate, channels=channels,
                                 drift_ppm=args.drift_ppm)
    writer = RecordingWriter(out_dir / "soak.glutes", clock_ns=time.monotonic_ns,
                             channel_map=dict(enumerate(channels)))
    writer.open()
    acq = Acquisition(transport, recorder=writer, reconnect_timeout_s=RECONNECT_TIMEOUT_S)
    info = await acq.open(emg_fs_hz=args.emg_rate, channel_mask=(1 << args.channels) - 1,
                          imu_fs_hz=args.imu_rate)
    wearable = transport.wearable
    observer = ResendObserver(sys.modules["glutefw.app"].wearable)
    events = schedule(args.hours, args.period_s, args.dropouts, args.seed)
    total_s = args.hours * 3600.0
    fs = info.emg_fs_hz
    hours: list[Hour] = []

    def device_s() -> float:
        return acq.emg.end_sample / fs

    t_wall, t_cpu = time.monotonic(), time.process_time()
    base = dict(lost=0, missing=0, backfilled=0, drops=0, overruns=0, disconnects=0, reconnects=0)
    n_drop = 0
    period_end = min(args.period_s, total_s)
    try:
        while True:
            upcoming = [e for e in events if e[0] < period_end]
            events = events[len(upcoming):]
            for t, kind, out_s in upcoming:
                await _wait(lambda: device_s() >= t, 3 * args.period_s / args.speed + 60, f"signal up to {t:.0f} s")
                await _interrupt(acq, wearable, kind, out_s, args.speed, args.drop_speed)
                n_drop += kind == "dropout"
            await _wait(lambda: device_s() >= period_end, 3 * args.period_s / args.speed + 60,
                        f"signal up to {period_end:.0f} s")
            now_wall, now_cpu = time.monotonic(), time.process_time()
            status = acq.status
            c = acq.counters
            figures = dict(lost=c.lost_frames, missing=_missing(acq), backfilled=_backfilled(acq),
                           drops=status.ring_drops if status is not None else 0,
                           overruns=status.emg_overruns if status is not None else 0, disconnects=n_drop,
                           reconnects=c.reconnects)
            hour = Hour(index=len(hours), rss_bytes=rss_bytes(),
                        cpu_pct=100.0 * (now_cpu - t_cpu) / max(now_wall - t_wall, 1e-9),
                        frames_lost=figures["lost"] - base["lost"], missing=figures["missing"] - base["missing"],
                        backfilled=figures["backfilled"] - base["backfilled"],
                        wearable_drops=figures["drops"] - base["drops"],
                        overruns=figures["overruns"] - base["overruns"],
                        dropouts=figures["disconnects"] - base["disconnects"],
                        reconnects=figures["reconnects"] - base["reconnects"], wall_s=now_wall - t_wall)
            hours.append(hour)
            emit(hour)
            base, t_wall, t_cpu = figures, now_wall, now_cpu
            if period_end >= total_s - 1e-9:
                break
            period_end = min(period_end + args.period_s, total_s)
    finally:
        await acq.close()
        writer.close()

    lost_inside = never_asked = 0
    for stream, asm in ((0, acq.emg), (1, acq.imu)):
        held, asked = observer.held_when_asked(stream), observer.asked(stream)
        for g in asm.gaps():
            a, b = g.first_sample, g.first_sample + g.n_samples
            lost_inside += _covered(held, a, b)
            never_asked += g.n_samples - _covered(asked, a, b)
    live_gaps = {"EMG": acq.emg.gaps(), "IMU": acq.imu.gaps()}
    summary = dict(lost_inside=lost_inside, never_asked=never_asked, live_gaps=live_gaps,
                   restarts=acq.session.n_restarts, window_ms=info.backfill_window_ms, recording=writer.path,
                   wearable=wearable, n_channels=args.channels, segments=len(acq.emg.segments()))
    return hours, summary


def compare_recording(path: Path, wearable, n_channels: int) -> dict:
    """Read the recording back: every block's samples against the body model's truth, and
    the gaps it holds (assembled with a short retention, so memory stays small)."""
    from glutescope import protocol
    from glutescope.recording import RecordingReader
    from glutescope.stream import SessionAssembler

    session = SessionAssembler(retain_s=10.0)
    compared = {"EMG": 0, "IMU": 0}
    differing = {"EMG": 0, "IMU": 0}
    marked = 0
    reader = RecordingReader(path)
    for rec in reader:
        if rec.host_to_device:
            continue
        try:
            frame = protocol.decode_frame(rec.frame)
        except protocol.FrameError:
            session.add_corrupt()
            continue
        session.add_frame(frame)
        if isinstance(frame, protocol.EmgBlock) and frame.n_samples:
            truth = wearable.true_emg_codes(frame.first_sample, frame.n_samples)[:n_channels]
            got = frame.samples[:n_channels] & 0x0FFF
            # The wearable marks samples its DMA overwrote before they were read (error bit):
            # flagged as lost, not claimed as signal.
            flagged = np.any(frame.samples & 0x8000, axis=0)
            compared["EMG"] += frame.n_samples
            marked += int(flagged.sum())
            differing["EMG"] += int((np.any(got != truth, axis=0) & ~flagged).sum())
        elif isinstance(frame, protocol.ImuBlock) and frame.n_samples:
            truth = wearable.true_imu_lsb(frame.first_sample, frame.n_samples)
            compared["IMU"] += frame.n_samples
            differing["IMU"] += int(np.any(frame.samples != truth, axis=0).sum())
    return dict(compared=compared, differing=differing, marked=marked, corrupt=session.n_corrupt + reader.n_corrupt,
                gaps={"EMG": session.emg.gaps(), "IMU": session.imu.gaps()},
                n_samples={"EMG": session.emg.end_sample, "IMU": session.imu.end_sample},
                restarts=session.n_restarts, bytes=(path / "frames.log").stat().st_size)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=8.0, help="device hours of signal (default: %(default)s)")
    parser.add_argument("--period-s", type=float, default=3600.0,
                        help="device seconds per reported row, one reconnection each (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=16.0,
                        help="the wearable's clock, times real time, while streaming (default: %(default)s)")
    parser.add_argument("--drop-speed", type=float, default=1.0,
                        help="the clock around dropouts and reconnections (default: %(default)s)")
    parser.add_argument("--dropouts", type=int, default=6, help="random dropouts per period (default: %(default)s)")
    parser.add_argument("--channels", type=int, choices=(1, 2, 3), default=2)
    parser.add_argument("--emg-rate", type=int, choices=(500, 1000, 1500, 2000), default=2000)
    parser.add_argument("--imu-rate", type=int, choices=(0, 104, 208), default=104)
    parser.add_argument("--drift-ppm", type=float, default=35.0, help="the wearable's crystal error, ppm")
    parser.add_argument("--exercise", default="bridges")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the recording in DIR (default: a temporary one)")
    args = parser.parse_args(argv[1:])
    for name in ("hours", "period_s", "speed", "drop_speed"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name):g}")
    logging.getLogger("bumble").setLevel(logging.ERROR)  # dropouts make the stack complain, as it should

    out_dir = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="soak-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"soak: {args.hours:g} h of signal, {args.channels} ch x {args.emg_rate} Hz EMG + IMU {args.imu_rate} Hz, "
          f"clock x{args.speed:g} (x{args.drop_speed:g} around link losses), crystal {args.drift_ppm:+g} ppm, "
          f"{args.dropouts} dropouts of 0.2-5 s and 1 reconnection per {args.period_s:g} s")
    print(f"{'hour':>4} {'RSS MB':>8} {'CPU %':>6} {'frames lost':>11} {'missing':>8} {'backfilled':>10} "
          f"{'wearable drops':>14} {'overruns':>8} {'dropouts':>8} {'reconnects':>10} {'wall s':>7}")

    def emit(h: Hour) -> None:
        print(f"{h.index + 1:>4} {h.rss_bytes / 1e6:>8.1f} {h.cpu_pct:>6.0f} {h.frames_lost:>11} {h.missing:>8} "
              f"{h.backfilled:>10} {h.wearable_drops:>14} {h.overruns:>8} {h.dropouts:>8} {h.reconnects:>10} "
              f"{h.wall_s:>7.0f}",
              flush=True)

    t0 = time.monotonic()
    try:
        hours, summary = asyncio.run(soak(args, out_dir, emit))
        wall_s = time.monotonic() - t0
        first, last = hours[0].rss_bytes, hours[-1].rss_bytes
        print(f"RSS: first period {first / 1e6:.1f} MB, last {last / 1e6:.1f} MB: "
              f"{100 * (last - first) / first:+.1f} % (goal: within 10 %)")
        n_missing = sum(g.n_samples for gs in summary["live_gaps"].values() for g in gs)
        print(f"lost inside the backfill window ({summary['window_ms']} ms): {summary['lost_inside']} samples "
              f"(goal: 0: missing samples the wearable still held when the host asked for them); of the "
              f"{n_missing} missing, {n_missing - summary['lost_inside'] - summary['never_asked']} were gone from "
              f"its rings when asked, {summary['never_asked']} never asked for (no lost frame pointed at them: "
              f"the wearable's own ring drops)")
        print(f"wall time: {wall_s:.0f} s for {args.hours:g} h of signal; 8 h at this pace: "
              f"{wall_s * 8 / args.hours / 60:.0f} min")
        check = compare_recording(summary["recording"], summary["wearable"], summary["n_channels"])
        for stream in ("EMG", "IMU"):
            same_gaps = check["gaps"][stream] == summary["live_gaps"][stream]
            flagged = f" unflagged, {check['marked']} flagged lost by the wearable" if stream == "EMG" else ""
            print(f"recording {stream}: {check['n_samples'][stream]} samples, {check['compared'][stream]} compared "
                  f"(backfill and duplicates included), {check['differing'][stream]} differ from the body model"
                  f"{flagged}; "
                  f"gaps {sum(g.n_samples for g in check['gaps'][stream])} samples in {len(check['gaps'][stream])}, "
                  f"{'the same as' if same_gaps else 'NOT the same as'} the live session's")
        print(f"recording: {check['bytes'] / 1e6:.1f} MB, {check['corrupt']} corrupt frames, "
              f"{summary['segments']} segment(s)")
        starved = sum(h.wearable_drops + h.overruns for h in hours)
        if starved:
            print(f"note: the wearable's models were served late ({starved} ring drops + overruns): the simulator "
                  f"was starved of CPU at x{args.speed:g} and lost those samples before sending (see the "
                  f"docstring); a lower --speed avoids it")
    finally:
        if args.keep is None:
            shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
