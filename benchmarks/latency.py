"""Latency from a sample's conversion in the wearable to its envelope in the live view.

Runs the live session the UI runs (`glutescope.session.LiveSession`) on the built-in
virtual wearable: the firmware's own code on the hardware models, a real software BLE
stack (bumble) reached through bleak's public API, then the host's decoder and signal
core. The wearable's clock runs at real speed (1.0), so every delay is a real one.

Each sample's acquisition time is the firmware's stamp of its frame (device time of the
first sample, plus k / fs for sample k), mapped to the host's monotonic clock through
the virtual clock. It ends when `LiveProcessor` has written the sample's envelope value
to the ring the UI reads. The stages:

- batching: the sample waits for the rest of its frame to be converted;
- firmware: from the frame's last sample to the frame handed to the BLE stack (poll of the DMA ring,
  copy into the RAM ring, sender task);
- transport: from there to the host's notify callback (``ReceivedFrame.t_host_ns``);
- queueing: in the transport's queue until the consumer takes it;
- processing: record, decode, condition, envelope, until the envelope is in the ring.

The envelope's own smoothing (the moving RMS lags the true amplitude by half its
window) is printed apart: it is a property of the estimator, not of the pipeline.

The wearable runs in this process and shares its event loop with the host, so its
firmware and its half of the BLE stack take turns with the host's work: the figures
are an upper bound for a real wearable, which has its own processor.

Run: ``PYTHONPATH=host:signal python benchmarks/latency.py [--seconds 30] [--channels 2] [--fs 2000]``
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import pipeline_probe as pp

GOAL_P95_MS = 40.0
WARMUP_S = 1.0  # connection set-up and first-call costs, not the steady state


def _parse(argv):
    parser = argparse.ArgumentParser(description="Sample -> envelope latency over the virtual BLE link.")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="how long to stream, s (default: %(default)s)")
    parser.add_argument("--channels", type=int, default=2, choices=range(1, pp.MAX_CHANNELS + 1),
                        help="EMG channels, ADC0 upwards (default: %(default)s)")
    parser.add_argument("--fs", type=int, default=2000, choices=pp.EMG_RATES_HZ,
                        help="EMG rate per channel, Hz (default: %(default)s)")
    parser.add_argument("--imu-fs", type=int, default=104, choices=(0, 104, 208),
                        help="IMU rate, Hz; 0 = off (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error(f"--seconds must be > 0, got {args.seconds:g}")
    return args


def run(seconds_s: float, n_channels: int, fs_hz: int, imu_fs_hz: int):
    """Stream for ``seconds_s``; return the probe, the virtual clock and facts about the run."""
    from glutescope.session import LiveSession, SessionOptions

    probe = pp.PipelineProbe()
    probe.install(firmware_side=True)
    try:
        options = SessionOptions(exercise="demo", speed=1.0, emg_fs_hz=fs_hz,
                                 channel_mask=pp.channel_mask(n_channels), imu_fs_hz=imu_fs_hz,
                                 channel_names=pp.CHANNEL_NAMES[:n_channels])
        session = LiveSession(options)
        probe.watch_transport(session.transport)
        session.start()
        wearable = session.transport.wearable
        clock, adc_starts = wearable.clock, wearable.board.adc_starts
        cpu0, t0 = time.process_time(), time.monotonic()
        time.sleep(seconds_s)
        stop_ns = time.monotonic_ns()
        cpu_pct = 100 * (time.process_time() - cpu0) / (time.monotonic() - t0)
        session.stop()
        if session.error is not None:
            raise SystemExit(f"the session failed: {session.error}")
        counters = session.acquisition.counters
    finally:
        probe.uninstall()
    return probe, clock, list(adc_starts), stop_ns, cpu_pct, counters


def analyse(probe, clock, adc_starts, stop_ns, n_channels, fs_hz, warmup_s):
    """Per-sample delays (ms) of every stage, and how late each frame's stamp is against the ADC model (µs)."""
    t0_s = clock.host_time_at(clock.start_us)
    us_per_ns = clock.rate / 1e3  # the device's crystal drift included
    blocks = [b for b in probe.blocks
              if b.received_ns < stop_ns and b.first_sample >= warmup_s * fs_hz and b.sent_ns is not None]
    if not blocks:
        raise SystemExit("no EMG block was timed: stream longer (--seconds)")
    n = np.array([b.n_samples for b in blocks])
    col = {name: np.repeat(np.array([getattr(b, name) for b in blocks], dtype=np.float64), n)
           for name in ("sent_ns", "received_ns", "handled_ns", "envelope_ns")}
    # Unwrap the 30-bit device stamps with the device time at arrival (always later).
    received = np.array([b.received_ns for b in blocks], dtype=np.float64)
    ref_us = clock.start_us + (received - t0_s * 1e9) * us_per_ns
    stamp = np.array([b.t_device_us for b in blocks], dtype=np.float64)
    first_us = ref_us - np.mod(ref_us - stamp, pp.TICKS_PERIOD_US)
    k = np.concatenate([np.arange(m) for m in n])
    sample_us = np.repeat(first_us, n) + k * 1e6 / fs_hz
    last_us = np.repeat(first_us + (n - 1) * 1e6 / fs_hz, n)
    to_host_ns = lambda device_us: clock.host_time_at(device_us) * 1e9  # noqa: E731
    sample_ns, last_ns = to_host_ns(sample_us), to_host_ns(last_us)
    stages = {
        "batching: sample -> frame's last sample": last_ns - sample_ns,
        "firmware: last sample -> frame to BLE stack": col["sent_ns"] - last_ns,
        "transport: BLE stack -> host notify callback": col["received_ns"] - col["sent_ns"],
        "queueing: callback -> consumer takes frame": col["handled_ns"] - col["received_ns"],
        "processing: decode + filter + envelope -> ring": col["envelope_ns"] - col["handled_ns"],
        "total: sample -> envelope in the UI's ring": col["envelope_ns"] - sample_ns,
    }
    stages = {name: ns / 1e6 for name, ns in stages.items()}
    # The firmware's stamp against the ADC model's own conversion times (first channel).
    stamp_late_us = np.array([np.nan])
    if adc_starts:
        t_start_us, _inputs, period_us = adc_starts[-1]
        index = np.array([b.first_sample for b in blocks], dtype=np.float64)
        truth_us = t_start_us + (index * n_channels + 1) * period_us
        stamp_late_us = first_us - truth_us
    return stages, blocks, stamp_late_us


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    from glutescope.live import ENVELOPE_WINDOW_S
    from glutesignal.envelope import MovingRMS

    warmup_s = min(WARMUP_S, args.seconds / 2)
    probe, clock, adc_starts, stop_ns, cpu_pct, counters = run(args.seconds, args.channels, args.fs, args.imu_fs)
    stages, blocks, stamp_late_us = analyse(probe, clock, adc_starts, stop_ns, args.channels, args.fs, warmup_s)
    n_analysed = sum(b.n_samples for b in blocks)
    frame_samples = int(np.median([b.n_samples for b in blocks]))
    imu = f"IMU {args.imu_fs} Hz" if args.imu_fs else "no IMU"
    print("latency over the virtual link: firmware on the hardware models -> bumble BLE -> bleak -> "
          "decoder -> signal core (LiveSession, wearable in this process, clock speed 1.0)")
    print(f"config: {args.channels} ch x {args.fs} Hz EMG + {imu}; streamed {args.seconds:g} s, "
          f"first {warmup_s:g} s skipped; {n_analysed} samples/ch in {len(blocks)} frames analysed; "
          f"{frame_samples} samples ({1000 * frame_samples / args.fs:g} ms) per EMG frame")
    print(f"link: {counters.frames} frames, lost {counters.lost_frames}, corrupt {counters.corrupt_frames}; "
          f"frame queue high-water {probe.queue_high_water}; process CPU {cpu_pct:.0f} % of one core")
    print(f"{'stage':<50} {'median ms':>10} {'p95 ms':>8}")
    for name, ms in stages.items():
        print(f"{name:<50} {np.median(ms):>10.2f} {pp.percentile(ms, 95):>8.2f}")
    design = MovingRMS(args.fs, args.channels, window_s=ENVELOPE_WINDOW_S).design
    print(f"envelope smoothing ({1000 * design.window_s:g} ms moving RMS, group delay, not included above): "
          f"{1000 * design.group_delay_s:.2f} ms")
    print(f"firmware frame stamps vs the ADC model's conversion times: late by median "
          f"{np.median(stamp_late_us):.0f} us, at most {np.max(stamp_late_us):.0f} us "
          f"(the stamp keeps the earliest estimate from the DMA's transfer count; the totals are short by that much)")
    p95_ms = pp.percentile(stages["total: sample -> envelope in the UI's ring"], 95)
    verdict = "PASS" if p95_ms < GOAL_P95_MS else "FAIL"
    print(f"verdict: p95 sample -> envelope {p95_ms:.1f} ms (without smoothing) vs goal < {GOAL_P95_MS:g} ms: "
          f"{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
