"""Live processing: decoded blocks in, ring buffers and a stats snapshot out.

Runs on the acquisition thread. The UI thread reads `LiveState.emg`,
`LiveState.envelope` (ring buffers, single writer) and `LiveState.stats` (a frozen
snapshot replaced whole, so a reader never sees half an update).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np

from glutescope.guide import Cue, SqueezeTestGuide, describe_score
from glutescope.ringbuffer import RingBuffer
from glutesignal.balance import BalanceTracker, Contraction, working_side_pairs
from glutesignal.conditioning import Conditioner, default_high_hz
from glutesignal.envelope import MovingRMS
from glutesignal.pelvis import PelvisTracker
from glutesignal.quality import MAINS_DETECT_S, AdcScale, ChannelQuality, channel_quality, detect_mains
from glutesignal.scores import SqueezeScore
from glutesignal.symmetry import symmetry_index_pct, symmetry_over_reps

ENVELOPE_WINDOW_S = 0.1  # 100 ms RMS: smooth enough to read, fast enough to follow a squeeze
DISPLAY_BUFFER_S = 30.0
QUALITY_WINDOW_S = 8.0  # long enough to hold a contraction and a rest for the SNR
QUALITY_EVERY_S = 2.0
MAINS_CHECK_EVERY_S = 2.0
"""The raw EMG is searched for mains lines at every multiple of this on the stream clock, s."""
MAINS_SEARCH_S = 4.0
"""Raw EMG searched at each check (the latest gap-free stretch up to this long), s."""


@dataclass(frozen=True)
class LiveStats:
    """What the readout and the status line show; replaced whole on every update."""

    link: str = ""
    frames: int = 0
    corrupt_frames: int = 0
    lost_frames: int = 0
    missing_samples: int = 0
    samples: int = 0
    emg_fs_hz: float = 0.0
    battery_pct: Optional[int] = None
    si_pct: Optional[float] = None
    """Symmetry index (R-L)/(0.5(R+L)) x 100 over the contractions so far, %."""
    louder_side: Optional[str] = None
    ci_low_pct: Optional[float] = None
    ci_high_pct: Optional[float] = None
    n_reps: int = 0
    si_confident: bool = False
    """The confidence interval excludes 0: the louder side is not a chance finding."""
    last_rep_si_pct: Optional[float] = None
    contractions: tuple[Contraction, ...] = ()
    quality: tuple[ChannelQuality, ...] = ()
    """Signal quality per channel over the last few seconds (empty until enough data)."""
    cue: Optional[Cue] = None
    """The squeeze test's cue in force now (None outside a guided test)."""
    cue_left_s: float = 0.0
    squeeze_scores: tuple[SqueezeScore, ...] = ()
    """Scores of the squeeze test so far, right then left."""
    weaker_squeeze_side: Optional[str] = None
    mains_hz: Optional[float] = None
    """Mains frequency of the notches, Hz: given, or found in the signal; None while none is known."""
    notch_hz: tuple[float, ...] = ()
    """Mains lines notched out so far (only lines found in the signal), Hz."""

    def quality_warning(self, channel_names) -> str:
        """'' when every channel is fine, else which to check and why."""
        bad = [f"{channel_names[q.channel].replace('_', ' ')} ({', '.join(q.reasons)})"
               for q in self.quality if q.grade == "poor"]
        return ("check electrodes: " + "; ".join(bad)) if bad else ""

    def summary(self) -> str:
        """The status line."""
        battery = "?" if self.battery_pct is None else f"{self.battery_pct} %"
        return (f"{self.link} · {self.samples / max(self.emg_fs_hz, 1):.0f} s streamed · "
                f"frames {self.frames} (lost {self.lost_frames}, corrupt {self.corrupt_frames}) · "
                f"missing samples {self.missing_samples} · battery {battery}")

    def report(self, channel_names=None) -> str:
        """A few lines for the terminal when a session ends."""
        lines = [f"glutescope: {self.summary()}"]
        if self.quality:
            def name(ch: int) -> str:
                return channel_names[ch].replace("_", " ") if channel_names else f"ch{ch}"

            grades = ", ".join(f"{name(q.channel)} {q.grade}" + (f" ({'; '.join(q.reasons)})" if q.reasons else "")
                               for q in self.quality)
            lines.append(f"glutescope: signal quality: {grades}")
        if self.notch_hz:
            lines.append(f"glutescope: mains {self.mains_hz:g} Hz; notched at "
                         f"{', '.join(f'{f:g}' for f in self.notch_hz)} Hz (the lines found in the signal)")
        elif self.samples:
            lines.append("glutescope: no mains line found in the signal; not notched")
        for score in self.squeeze_scores:
            lines.append(f"glutescope: squeeze test: {describe_score(score)}")
        if self.weaker_squeeze_side:
            lines.append(f"glutescope: squeeze test: the {self.weaker_squeeze_side} side is weaker")
        if self.si_pct is None:
            lines.append("glutescope: no contraction of both sides was detected")
        else:
            ci = ""
            if self.ci_low_pct is not None:
                ci = f", 95 % CI {self.ci_low_pct:+.1f} to {self.ci_high_pct:+.1f} %"
            if self.si_confident:
                verdict = ""
            elif self.ci_low_pct is None:
                verdict = " (one rep: not conclusive yet)"
            else:
                verdict = " (not conclusive yet: the interval includes 0)"
            reps = f"{self.n_reps} contraction{'s' if self.n_reps != 1 else ''}"
            lines.append(
                f"glutescope: {reps}; {self.louder_side} glute louder, "
                f"symmetry index {self.si_pct:+.1f} %{ci}{verdict}")
            for i, c in enumerate(self.contractions, 1):
                si = symmetry_index_pct(c.mean_uV[0], c.mean_uV[1])
                lines.append(f"  rep {i:2d}: {c.start_s:6.1f}-{c.end_s:6.1f} s  left {c.mean_uV[0]:6.1f} µV  "
                             f"right {c.mean_uV[1]:6.1f} µV  SI {si:+6.1f} %")
        return "\n".join(lines)


@dataclass
class LiveState:
    """What the UI reads."""

    channel_names: tuple[str, ...]
    emg_fs_hz: float
    emg: RingBuffer
    """Conditioned EMG, µV, (n_channels, capacity)."""
    envelope: RingBuffer
    """RMS envelope, µV, (n_channels, capacity)."""
    stats: LiveStats
    imu_fs_hz: float = 0.0
    pelvis: Optional[RingBuffer] = None
    """Pelvic tilt, obliquity and rotation, degrees, (3, capacity) at the IMU rate; None without IMU."""

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)


def adc_scale(info) -> Optional[AdcScale]:
    """The ADC scale a device's INFO states (None when it states no usable one)."""
    try:
        return AdcScale.from_device(info.vref_mV, info.emg_gain)
    except (TypeError, ValueError, AttributeError):
        return None


def _finite(x: float) -> Optional[float]:
    return float(x) if np.isfinite(x) else None


def _side_rows(names: tuple[str, ...]) -> Optional[tuple[int, int]]:
    """Rows of the left and right gluteus maximus, if both are worn."""
    try:
        return names.index("glute_max_left"), names.index("glute_max_right")
    except ValueError:
        return None


class LiveProcessor:
    """Condition, envelope and score each new EMG block as it arrives."""

    def __init__(self, channel_names: tuple[str, ...], emg_fs_hz: float, imu_fs_hz: float, *,
                 mains_hz: Optional[float] = None, link: str = "", display_s: float = DISPLAY_BUFFER_S,
                 squeeze_cues: Optional[tuple[Cue, ...]] = None, single_leg: bool = False,
                 adc: Optional[AdcScale] = None) -> None:
        """``adc``: the device's ADC scale (INFO: step, rails, stated gain) for the quality
        checks of quantisation, saturation and gain plausibility (`adc_scale`).

        ``mains_hz``: the local mains frequency when known (50 or 60 Hz), else None to
        find it in the signal. Either way only the lines found in the raw EMG are notched
        (`glutesignal.quality.detect_mains`, checked every `MAINS_CHECK_EVERY_S` of
        signal; a line once found stays notched)."""
        n = len(channel_names)
        # At 500 Hz the usual 450 Hz band edge is above Nyquist: use 0.45 fs there.
        self._high_hz = default_high_hz(emg_fs_hz)
        self.conditioner = Conditioner(emg_fs_hz, n, mains_hz=None, high_hz=self._high_hz)
        self._harmonics: tuple[int, ...] = ()
        self._mains_every = max(1, int(round(MAINS_CHECK_EVERY_S * emg_fs_hz)))
        self._mains_need = int(round(MAINS_DETECT_S * emg_fs_hz))
        self._mains_search = int(round(MAINS_SEARCH_S * emg_fs_hz))
        self._run_start = 0  # first sample of the current gap-free run
        self.rms = MovingRMS(emg_fs_hz, n, window_s=ENVELOPE_WINDOW_S)
        capacity = int(display_s * emg_fs_hz)
        self.state = LiveState(tuple(channel_names), emg_fs_hz, RingBuffer(n, capacity),
                               RingBuffer(n, capacity), LiveStats(link=link, emg_fs_hz=emg_fs_hz, mains_hz=mains_hz))
        self.raw = RingBuffer(n, int(max(QUALITY_WINDOW_S, MAINS_SEARCH_S) * emg_fs_hz))
        if imu_fs_hz > 0:
            self.pelvis_tracker = PelvisTracker(imu_fs_hz)
            self.state.imu_fs_hz = imu_fs_hz
            self.state.pelvis = RingBuffer(3, int(display_s * imu_fs_hz))
        self.next_imu_sample = 0
        self.mains_hz = mains_hz
        self.adc = adc
        self._quality_at = 0
        self.sides = _side_rows(tuple(channel_names))
        self.balance = BalanceTracker(emg_fs_hz) if self.sides else None
        self.guide = (SqueezeTestGuide(squeeze_cues, emg_fs_hz, imu_fs_hz)
                      if squeeze_cues and self.sides else None)
        # Single-leg exercises compare the working glute of left-leg and right-leg reps.
        self.single_leg = single_leg
        self.next_sample = 0
        self.missing_samples = 0

    def push_emg(self, first_sample: int, emg_uV: np.ndarray) -> None:
        """Process one block of raw EMG (µV, (n_channels, n)) starting at stream index ``first_sample``."""
        if first_sample < self.next_sample:
            return  # a late or resent block: the recording has it, the live view moved on
        gap = first_sample - self.next_sample
        if gap:
            # Samples the link lost: restart the filters rather than splice across the hole.
            self.missing_samples += gap
            self.conditioner.reset()
            self.rms.reset()
            self.state.emg.write_gap(gap)
            self.state.envelope.write_gap(gap)
            self.raw.write_gap(gap)
            if self.balance is not None:
                self.balance.gap(gap)
            self._run_start = first_sample
        # Cut the block at the mains checks, which fall on fixed stream samples, so the
        # notches change at the same sample however the stream was split into blocks.
        n = emg_uV.shape[1]
        pos = 0
        while pos < n:
            check = ((first_sample + pos) // self._mains_every + 1) * self._mains_every
            cut = min(n, check - first_sample)
            self._push_run(first_sample + pos, emg_uV[:, pos:cut])
            pos = cut
            if first_sample + pos == check:
                self._check_mains()

    def _check_mains(self) -> None:
        """Search the latest raw EMG for mains lines; notch any new one from here on."""
        have = min(self.next_sample - self._run_start, self._mains_search)
        if have < self._mains_need:
            return
        raw = self.raw.latest(have).astype(float)
        if not np.all(np.isfinite(raw)):
            return
        fs = self.state.emg_fs_hz
        found = detect_mains(raw, fs, mains_hz=self.mains_hz, max_hz=self._high_hz)
        if found.mains_hz is None:
            return
        harmonics = tuple(sorted(set(self._harmonics) | set(found.harmonics)))
        if harmonics == self._harmonics and self.mains_hz == found.mains_hz:
            return
        self.mains_hz = found.mains_hz
        self._harmonics = harmonics
        conditioner = Conditioner(fs, raw.shape[0], mains_hz=self.mains_hz, harmonics=harmonics,
                                  high_hz=self._high_hz)
        # Run the new filters over the signal just searched, so they take over in steady
        # state (their transients last well under that: Q 30 at 50 Hz decays in ~0.2 s).
        conditioner.process(raw)
        self.conditioner = conditioner
        self.state.stats = dataclasses.replace(self.state.stats, mains_hz=self.mains_hz,
                                               notch_hz=conditioner.design.notch_hz)

    @property
    def notch_hz(self) -> tuple[float, ...]:
        """Mains lines notched out now, Hz."""
        return self.conditioner.design.notch_hz

    def _push_run(self, first_sample: int, emg_uV: np.ndarray) -> None:
        """Process a block that continues the stream without a gap."""
        conditioned = self.conditioner.process(emg_uV)
        envelope = self.rms.process(conditioned)
        self.raw.write(emg_uV)
        self.state.emg.write(conditioned)
        self.state.envelope.write(envelope)
        self.next_sample = first_sample + emg_uV.shape[1]
        if self.balance is not None and self.balance.process(envelope[list(self.sides)]):
            self._update_balance()
        if self.guide is not None:
            self._update_guide()

    def _update_guide(self) -> None:
        t_s = self.next_sample / self.state.emg_fs_hz
        rows = list(self.sides)

        def envelope_since(index):
            start, data = self.state.envelope.since(index)
            return start, data[rows]

        pelvis = self.state.pelvis
        scored = self.guide.update(t_s, envelope_since, pelvis.since if pelvis is not None else None)
        cue, left_s = self.guide.cue_at(t_s)
        changes = dict(cue=cue, cue_left_s=left_s)
        if scored:
            changes.update(
                squeeze_scores=tuple(self.guide.scores[s] for s in ("right", "left") if s in self.guide.scores),
                weaker_squeeze_side=self.guide.weaker_side())
        self.state.stats = dataclasses.replace(self.state.stats, **changes)

    def push_imu(self, first_sample: int, acc_g: np.ndarray, gyro_dps: np.ndarray) -> None:
        """Track pelvic tilt and obliquity (hip drop) from one IMU block, (3, n) each."""
        if self.state.pelvis is None or first_sample < self.next_imu_sample:
            return
        if first_sample > self.next_imu_sample:
            # A hole in the IMU stream: re-level from gravity, keep the reference posture
            # and the gyro bias (re-learning them mid-rep would re-zero tilt to the rep).
            self.pelvis_tracker.gap(first_sample - self.next_imu_sample)
            self.state.pelvis.write_gap(first_sample - self.next_imu_sample)
        angles = self.pelvis_tracker.process(acc_g, gyro_dps)
        self.state.pelvis.write(np.vstack([angles.tilt_deg, angles.obliquity_deg, angles.rotation_deg]))
        self.next_imu_sample = first_sample + acc_g.shape[1]

    def _update_balance(self) -> None:
        reps = tuple(c for c in self.balance.contractions if not self._one_sided(c))
        left, right = (working_side_pairs(reps) if self.single_leg
                       else ([c.mean_uV[0] for c in reps], [c.mean_uV[1] for c in reps]))
        if not left:
            return
        result = symmetry_over_reps(left, right)
        last = reps[-1]
        self.state.stats = dataclasses.replace(
            self.state.stats, si_pct=result.si_pct, louder_side=result.louder_side,
            ci_low_pct=_finite(result.ci_low_pct), ci_high_pct=_finite(result.ci_high_pct),
            n_reps=result.n_reps, si_confident=result.confident,
            last_rep_si_pct=symmetry_index_pct(last.mean_uV[0], last.mean_uV[1]), contractions=reps)

    def _one_sided(self, contraction: Contraction) -> bool:
        """True for a contraction during a one-sided squeeze cue: not a left/right comparison."""
        if self.guide is None:
            return False
        cue, _ = self.guide.cue_at(0.5 * (contraction.start_s + contraction.end_s))
        return cue is not None and cue.name == "squeeze" and cue.side in ("left", "right")

    def update_quality(self) -> None:
        """Grade each channel over the last seconds (at most every QUALITY_EVERY_S of signal)."""
        fs = self.state.emg_fs_hz
        if self.next_sample - self._quality_at < QUALITY_EVERY_S * fs or self.next_sample < 2 * fs:
            return
        self._quality_at = self.next_sample
        n = min(self.raw.capacity, self.next_sample)
        raw = self.raw.latest(n).astype(float)
        conditioned = self.state.emg.latest(n).astype(float)
        if not (np.all(np.isfinite(raw)) and np.all(np.isfinite(conditioned))):
            return  # a gap inside the window: grade again once it has scrolled out
        quality = channel_quality(raw, conditioned, fs, mains_hz=self.mains_hz, adc=self.adc)
        self.state.stats = dataclasses.replace(self.state.stats, quality=quality)

    def update_link(self, counters, status, emg_assembler) -> None:
        """Refresh the link figures from the acquisition's counters."""
        self.update_quality()
        self.state.stats = dataclasses.replace(
            self.state.stats, frames=counters.frames, corrupt_frames=counters.corrupt_frames,
            lost_frames=counters.lost_frames, missing_samples=self.missing_samples,
            samples=self.next_sample,
            battery_pct=None if status is None or status.battery_pct > 100 else status.battery_pct)
