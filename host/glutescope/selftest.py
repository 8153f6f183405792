"""Bring-up self-test of a wearable: rates, channel counts, a forced dropout and a RESEND.

`run_selftest` drives one wearable through a list of steps over any transport and
measures, per step, what a maker needs to trust the board:

* **rate**: EMG samples per second of the *device's* clock, from the frames'
  ``first_sample`` and ``t_device_us`` (the ADC's pacing, not the link's);
* **lost**: samples still missing after the host's own backfill;
* **overruns**: the wearable's ``emg_overruns`` counter (STATUS) over the step;
* **link kB/s**: bytes of frames received per second of the host's clock;
* **ping ms**: median PING round trip on the host's clock (an upper bound of the
  one-way latency, not the latency itself);
* **battery**: the last STATUS's figure and, if the firmware says, its age.

A step passes when the rate is within `RATE_TOLERANCE` of the configured rate, nothing
is lost and no overrun happened. The dropout step needs a transport that can take the
wearable out of range (the virtual wearable); on a real one it is skipped and says so.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Optional

from glutescope import protocol

#: Largest relative error of the measured EMG rate that still passes (ADC clock 48 MHz
#: from the USB PLL: far better than this; the margin covers the device timer's jitter).
RATE_TOLERANCE = 0.01
_TICKS_PERIOD = 1 << 30
_PINGS = 5


@dataclass(frozen=True)
class Step:
    """One configuration to run."""

    name: str
    """What the step checks, one word or two."""
    emg_fs_hz: int
    """EMG rate per channel, Hz."""
    channel_mask: int
    """ADC inputs sampled (bit i = ADC i)."""
    imu_fs_hz: int
    """IMU rate, Hz (0: IMU off)."""
    duration_s: float
    """Device seconds of streaming measured."""
    dropout_s: float = 0.0
    """Device seconds out of range in the middle of the step (0: none)."""
    resend_window: bool = False
    """After streaming, RESEND the whole RAM window of EMG and time its arrival."""


@dataclass(frozen=True)
class StepResult:
    """What one step measured."""

    step: Step
    """The step that was run."""
    rate_hz: Optional[float]
    """EMG samples per device second (``None``: too few frames to tell)."""
    lost_samples: int
    """EMG + IMU samples still missing after backfill."""
    overruns: Optional[int]
    """Increase of STATUS ``emg_overruns`` over the step (``None``: no STATUS)."""
    link_kBps: float
    """kB of frames received per host second."""
    ping_ms: Optional[float]
    """Median PING round trip, host ms."""
    battery: str
    """Battery as the last STATUS reports it, with the reading's age when known."""
    passed: Optional[bool]
    """True/False; ``None`` when the step could not be run here (see ``note``)."""
    note: str = ""
    """Why it failed or was skipped, or what else was measured."""


def default_steps(available_mask: int, *, duration_s: float = 3.0, window_s: float = 4.0) -> list[Step]:
    """Rates and channel counts the board supports, then a dropout and a full-window RESEND."""
    inputs = [i for i in range(8) if available_mask >> i & 1]
    if not inputs:
        raise ValueError(f"available_mask must name at least one ADC input, got {available_mask:#x}")
    masks = [sum(1 << i for i in inputs[:n]) for n in range(1, len(inputs) + 1)]
    full = masks[-1]
    steps = [
        Step("1 ch 500 Hz", 500, masks[0], 0, duration_s),
        Step(f"{len(masks) // 2 + 1} ch 1 kHz", 1000, masks[len(masks) // 2], 104, duration_s),
        Step(f"{len(inputs)} ch 2 kHz", 2000, full, 208, duration_s),
        Step("dropout 1 s", 2000, full, 208, duration_s, dropout_s=1.0),
        Step("RESEND window", 2000, full, 208, window_s + 0.5, resend_window=True),
    ]
    return steps


class _Counter:
    """A recorder stand-in: counts bytes and BACKFILL EMG samples as frames arrive."""

    def __init__(self) -> None:
        self.bytes = 0
        self.backfilled = 0
        self.t_last_backfill = 0.0

    def append(self, data, t_host_ns=None, *, source=0, host_to_device=False) -> None:
        if host_to_device:
            return
        self.bytes += len(data)
        if len(data) > 20 and data[1] == 0x01 and data[19] & 1:  # EMG, flags: BACKFILL
            self.backfilled += data[17]
            self.t_last_backfill = time.monotonic()


class _Rate:
    """EMG rate on the device clock from (first_sample, t_device_us) of live blocks.

    Only blocks of the stream started last count: a block whose index goes back (a new
    START) starts the measurement again.
    """

    def __init__(self) -> None:
        self.first: Optional[tuple[int, int]] = None
        self.last: Optional[tuple[int, int]] = None
        self.end_sample = 0
        """One past the newest live sample seen."""
        self._unwrap = 0
        self._prev_t = 0

    def __call__(self, block, _emg_uV) -> None:
        t = block.t_device_us
        if self.first is None or block.first_sample < self.end_sample:  # live only goes forward
            self.first = (block.first_sample, t)
            self.last = None
            self._unwrap = 0
            self._prev_t = t
            self.end_sample = block.first_sample + block.n_samples
            return
        self.end_sample = max(self.end_sample, block.first_sample + block.n_samples)
        if t < self._prev_t:
            self._unwrap += _TICKS_PERIOD
        self._prev_t = t
        self.last = (block.first_sample, t + self._unwrap)

    def hz(self) -> Optional[float]:
        if self.first is None or self.last is None or self.last[1] <= self.first[1]:
            return None
        return (self.last[0] - self.first[0]) * 1e6 / (self.last[1] - self.first[1])


async def _status(acq) -> Optional[protocol.Status]:
    await acq.command(protocol.encode_get_status)
    await asyncio.sleep(0.05)
    return acq.status


async def _ping_ms(acq) -> Optional[float]:
    rtts = []
    for i in range(_PINGS):
        t0 = time.monotonic()
        await acq.command(protocol.encode_ping, i)
        rtts.append((time.monotonic() - t0) * 1000.0)
    return statistics.median(rtts) if rtts else None


def _battery(status: Optional[protocol.Status]) -> str:
    if status is None or not status.battery_known:
        return "unknown"
    text = f"{status.battery_pct} % {status.battery_mV / 1000:.2f} V"
    if status.battery_age_ms is not None:
        text += f" ({status.battery_age_ms / 1000:.0f} s old)"
    return text


def _missing(acq) -> int:
    return sum(g.n_samples for g in acq.emg.gaps()) + sum(g.n_samples for g in acq.imu.gaps())


async def _wait_samples(rate: "_Rate", n: int, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while rate.end_sample < n and loop.time() < deadline:
        await asyncio.sleep(0.02)


async def run_step(acq, counter: _Counter, step: Step, *, speed: float = 1.0,
                   wearable=None) -> StepResult:
    """Run one step on an open `Acquisition` (its transport's frames feed ``counter``)."""
    before = await _status(acq)
    await asyncio.sleep(0.1 / speed)  # the tail of the last stream arrives before START
    rate = _Rate()
    acq.on_emg = rate
    await acq.command(protocol.encode_start, step.emg_fs_hz, step.channel_mask, step.imu_fs_hz)
    bytes0, t0 = counter.bytes, time.monotonic()
    n_target = int(step.duration_s * step.emg_fs_hz)
    host_s = step.duration_s / speed
    note = ""
    if step.dropout_s:
        if wearable is None or not hasattr(wearable, "go_out_of_range"):
            await acq.command(protocol.encode_stop)
            return StepResult(step, None, 0, None, 0.0, None, _battery(acq.status), None,
                              "skipped: this transport cannot force a dropout; carry the wearable "
                              "out of range by hand to test it")
        await _wait_samples(rate, n_target // 2, 10 + host_s)
        wearable.go_out_of_range(step.dropout_s)
        await asyncio.sleep(step.dropout_s / speed)
    await _wait_samples(rate, n_target, 10 + 2 * host_s)
    link_kBps = (counter.bytes - bytes0) / 1000 / max(time.monotonic() - t0, 1e-9)
    if step.resend_window and acq.info is not None:
        window = acq.info.backfill_window_ms * step.emg_fs_hz // 1000
        head = rate.end_sample
        n = min(window - step.emg_fs_hz // 10, head)  # leave the edge the ring overwrites next
        got0, t_ask = counter.backfilled, time.monotonic()
        await acq.command(protocol.encode_resend, protocol.StreamId.EMG, head - n, n)
        deadline = t_ask + 10 + 4 * window / step.emg_fs_hz / speed
        while counter.backfilled - got0 < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        got = counter.backfilled - got0
        took_s = (counter.t_last_backfill - t_ask) * speed
        note = f"resent {got}/{n} samples in {took_s:.2f} s"
        if got < n:
            note += " (incomplete)"
    await acq.backfill()
    after = await _status(acq)
    ping = await _ping_ms(acq)
    await acq.command(protocol.encode_stop)
    lost = _missing(acq)
    overruns = None if before is None or after is None else after.emg_overruns - before.emg_overruns
    hz = rate.hz()
    problems = []
    if hz is None or abs(hz - step.emg_fs_hz) > RATE_TOLERANCE * step.emg_fs_hz:
        problems.append("rate off")
    if lost:
        problems.append(f"{lost} samples lost")
    if overruns is None or overruns:
        problems.append("overruns" if overruns else "no STATUS")
    if step.resend_window and "incomplete" in note:
        problems.append("RESEND incomplete")
    if after is not None and after.free_heap_min_bytes is not None:
        note += ("; " if note else "") + f"heap low {after.free_heap_min_bytes // 1000} kB"
    if problems:
        note = ", ".join(problems) + ("; " + note if note else "")
    return StepResult(step, hz, lost, overruns, link_kBps, ping, _battery(after), not problems, note)


async def run_selftest(transport, steps: Optional[list[Step]] = None, *, speed: float = 1.0) -> list[StepResult]:
    """Open ``transport``, run ``steps`` (default: `default_steps` for the board), close."""
    from glutescope.acquisition import Acquisition

    counter = _Counter()
    acq = Acquisition(transport, recorder=counter)
    first = steps[0] if steps else Step("probe", 500, 0b1, 0, 0.0)
    info = await acq.open(emg_fs_hz=first.emg_fs_hz, channel_mask=first.channel_mask, imu_fs_hz=first.imu_fs_hz)
    try:
        await acq.command(protocol.encode_stop)
        if steps is None:
            steps = default_steps(info.adc_channels_available)
        wearable = getattr(transport, "wearable", None)
        return [await run_step(acq, counter, s, speed=speed, wearable=wearable) for s in steps]
    finally:
        await acq.close()


def format_table(results: list[StepResult]) -> str:
    """The results as a fixed-width table, one line per step, then a verdict."""
    head = f"{'step':<16} {'rate Hz':>9} {'lost':>5} {'overruns':>8} {'link kB/s':>9} {'ping ms':>7}  {'battery':<24} result"
    lines = [head, "-" * len(head)]
    for r in results:
        rate = "-" if r.rate_hz is None else f"{r.rate_hz:.1f}"
        over = "-" if r.overruns is None else str(r.overruns)
        ping = "-" if r.ping_ms is None else f"{r.ping_ms:.1f}"
        verdict = "SKIP" if r.passed is None else ("PASS" if r.passed else "FAIL")
        line = (f"{r.step.name:<16} {rate:>9} {r.lost_samples:>5} {over:>8} {r.link_kBps:>9.1f} {ping:>7}  "
                f"{r.battery:<24} {verdict}")
        if r.note:
            line += f"  {r.note}"
        lines.append(line)
    failed = sum(1 for r in results if r.passed is False)
    skipped = sum(1 for r in results if r.passed is None)
    if failed:
        lines.append(f"{failed} of {len(results)} steps FAILED")
    else:
        lines.append("all steps passed" + (f" ({skipped} skipped)" if skipped else ""))
    return "\n".join(lines)
