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

from glutescope.calibration import Calibration, CalibrationGuide
from glutescope.guide import Cue, SqueezeTestGuide, describe_score
from glutescope.ringbuffer import RingBuffer
from glutescope.verdicts import symmetry_verdict
from glutesignal.balance import BalanceTracker, Contraction, working_side_pairs
from glutesignal.conditioning import Conditioner, default_high_hz
from glutesignal.envelope import MovingRMS
from glutesignal.normalise import above_rest
from glutesignal.pelvis import PelvisTracker, segment_tilt_reps
from glutesignal.quality import MAINS_DETECT_S, AdcScale, ChannelQuality, channel_quality, detect_mains
from glutesignal.scores import SqueezeScore
from glutesignal.symmetry import symmetry_index_pct, symmetry_over_reps

ENVELOPE_WINDOW_S = 0.1  # 100 ms RMS: smooth enough to read, fast enough to follow a squeeze
DISPLAY_BUFFER_S = 30.0
QUALITY_WINDOW_S = 8.0  # long enough to hold a contraction and a rest for the SNR
QUALITY_EVERY_S = 2.0
REST_BEFORE_REP_S = (1.0, 0.2)
"""A rep's rest: the envelope from 1.0 s to 0.2 s before its onset (per side), the
baseline its rise above rest is measured from once calibrated."""
BRIDGE_EXERCISES = ("bridges", "single_leg_bridges", "demo", "calibrated_demo")
"""Exercises whose reps are bridges: with the IMU worn, a rep must move the pelvis."""
WORKING_SIDE_DROP_DEG = 2.0
"""Hip drop (median obliquity change over a rep's middle half) that names the supporting
leg of a single-leg rep from the IMU: the unsupported side drops (Trendelenburg)."""
CUED_REP_SETTLE_S = 2.0
"""Stream time after a cued rep's end before it is taken as a rep without a detected
burst: the detector reports a burst at its offset, which may follow the cue's end."""
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
    """Symmetry index (R-L)/(0.5(R+L)) x 100 over the reps so far, %: of each side's rise
    above rest in % of its reference once calibrated (``si_normalised``), else of µV."""
    louder_side: Optional[str] = None
    """"left", "right", or "none" inside the +/-10 % band (a muscle claim only when
    ``si_normalised``)."""
    asymmetry_band: Optional[str] = None
    """"no clear difference", "moderate" or "marked"."""
    ci_low_pct: Optional[float] = None
    """95 % interval of the mean SI, low end, %: the rep-to-rep spread, and once
    calibrated the references' precision too (``si_reference_sd_pct``)."""
    ci_high_pct: Optional[float] = None
    si_reference_sd_pct: float = 0.0
    """Standard uncertainty of the calibrated SI from the references' precision, points
    (0 uncalibrated): it shifts every rep alike, so more reps do not shrink it."""
    n_reps: int = 0
    """Reps (or, single-leg, left/right rep pairs) the SI is based on."""
    si_consistent: bool = False
    """The rep-to-rep interval lies beyond the +/-10 % band on the named side."""
    si_normalised: bool = False
    """The SI compares each side against its own reference contraction (calibrated)."""
    last_rep_si_pct: Optional[float] = None
    contractions: tuple[Contraction, ...] = ()
    """The reps: contractions outside every cued squeeze-test or calibration phase."""
    rep_sides: tuple[str, ...] = ()
    """Per rep: "both", or the working leg of a single-leg rep ("left"/"right", from the
    protocol's cue or the pelvis IMU; "unknown" when neither says)."""
    rep_rest_uV: tuple[tuple[float, float], ...] = ()
    """Per rep: the (left, right) rest envelope just before it, µV."""
    cued_contractions: int = 0
    """Contractions during a cued squeeze-test or calibration phase: squeezes, never reps."""
    still_contractions: int = 0
    """Contractions in a bridge exercise during which the pelvis did not tilt into a
    bridge (`glutesignal.pelvis.segment_tilt_reps`): tension, not reps."""
    calibration: Optional[Calibration] = None
    """The per-side reference in use (None: not calibrated)."""
    calibration_note: str = ""
    """The calibration's verdict (repeatable or redo), or why it is not in use."""
    quality: tuple[ChannelQuality, ...] = ()
    """Signal quality per channel over the last few seconds (empty until enough data)."""
    cue: Optional[Cue] = None
    """The squeeze test's cue in force now (None outside a guided test)."""
    cue_left_s: float = 0.0
    squeeze_scores: tuple[SqueezeScore, ...] = ()
    """Scores of the squeeze test so far, right then left (a squeeze without a detected
    contraction carries its reason instead of a score)."""
    weaker_squeeze_side: Optional[str] = None
    single_leg: bool = False
    """The SI pairs the working glute of left-leg and right-leg reps."""
    protocol_title: str = ""
    """The protocol being run ('' without one)."""
    step: Optional[object] = None
    """The protocol's step in force now (`glutescope.protocols.base.TimedStep`; None
    before the first, after the last, or without a protocol)."""
    step_left_s: float = 0.0
    """Whole seconds left in the step (rounded up)."""
    n_steps: int = 0
    """Steps in the protocol's schedule."""
    protocol_results: Optional[object] = None
    """The protocol's results once its last step has ended
    (`glutescope.protocols.runner.ProtocolResults`)."""
    notice: Optional[object] = None
    """What the protocol tells the person now (`glutescope.protocols.runner.Notice`: the
    desk's reminder to move, a wake-up's score); None before the first."""
    notices: tuple = ()
    """Every notice so far, in stream order."""

    def activation_pct(self, envelope_uV, rest_uV=None):
        """``envelope_uV`` (left, right) in % of each side's reference, or None uncalibrated."""
        cal = self.calibration
        if cal is None or not cal.usable:
            return None
        rest = (0.0, 0.0) if rest_uV is None else rest_uV
        return tuple(100.0 * above_rest(e, r) / ref for e, r, ref in zip(envelope_uV, rest, cal.reference_uV))
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
        if self.calibration_note:
            lines.append(f"glutescope: {self.calibration_note}")
        if self.cued_contractions:
            lines.append(f"glutescope: {self.cued_contractions} contraction"
                         f"{'s' if self.cued_contractions != 1 else ''} during the cued phases "
                         "(squeezes, not reps)")
        if self.still_contractions:
            lines.append(f"glutescope: {self.still_contractions} contraction"
                         f"{'s' if self.still_contractions != 1 else ''} without a bridge movement of the "
                         "pelvis (not reps)")
        lines.append(f"glutescope: {symmetry_verdict(self, single_leg=self.single_leg)}")
        for i, c in enumerate(self.contractions, 1):
            side = self.rep_sides[i - 1] if i - 1 < len(self.rep_sides) else "both"
            pct = self.activation_pct(c.mean_uV, self.rep_rest_uV[i - 1] if i - 1 < len(self.rep_rest_uV) else None)
            amp = (f"left {pct[0]:5.1f} %ref  right {pct[1]:5.1f} %ref" if pct is not None
                   else f"left {c.mean_uV[0]:6.1f} µV  right {c.mean_uV[1]:6.1f} µV")
            what = f"  {side}-leg" if side not in ("both",) else ""
            si = (symmetry_index_pct(*pct) if pct is not None and sum(pct) > 0 else
                  symmetry_index_pct(*c.mean_uV) if pct is None else None)
            si_text = "" if si is None or side != "both" else f"  SI {si:+6.1f} %"
            lines.append(f"  rep {i:2d}: {c.start_s:6.1f}-{c.end_s:6.1f} s  {amp}{si_text}{what}")
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


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of equal values in a 1-D boolean array, in order."""
    edges = (np.flatnonzero(np.diff(flags.astype(np.int8))) + 1).tolist()
    bounds = [0, *edges, flags.size]
    return list(zip(bounds[:-1], bounds[1:]))


class PelvisStream:
    """The pelvis tracker fed by stream index: holes in the IMU stream (lost frames,
    samples the wearable's FIFO dropped) are told to it as holes.

    The live view and every reader of a recording's pelvis angles go through this
    one path, so the angles an export writes are the ones shown live."""

    def __init__(self, imu_fs_hz: float) -> None:
        self.tracker = PelvisTracker(imu_fs_hz)
        self.next_sample = 0
        """The stream index the next sample tracked will have."""

    def push(self, first_sample: int, acc_g: np.ndarray, gyro_dps: np.ndarray) -> list:
        """Track one IMU block, (3, n) each, from stream index ``first_sample``.

        Returns
        -------
        list
            In stream order, from the previous `next_sample`: an int ``n`` for a hole
            of ``n`` samples, a float64 array (3, m) of tilt, obliquity and rotation in
            degrees for ``m`` tracked samples. Empty for a block already tracked.
        """
        out: list = []
        if first_sample < self.next_sample:
            return out
        # Samples the wearable's FIFO dropped (NaN from imu_to_si) are a hole like a lost frame.
        bad = ~(np.all(np.isfinite(acc_g), axis=0) & np.all(np.isfinite(gyro_dps), axis=0))
        if bad.any():
            for a, b in _runs(bad):
                if bad[a]:  # shown at once, so the pelvis view stays on the stream's samples
                    self._hole(first_sample + b - self.next_sample, out)
                else:
                    self._track(first_sample + a, acc_g[:, a:b], gyro_dps[:, a:b], out)
            return out
        self._track(first_sample, acc_g, gyro_dps, out)
        return out

    def _hole(self, n: int, out: list) -> None:
        # Re-level from gravity, keep the reference posture and the gyro bias
        # (re-learning them mid-rep would re-zero tilt to the rep).
        self.tracker.gap(n)
        out.append(n)
        self.next_sample += n

    def _track(self, first_sample: int, acc_g: np.ndarray, gyro_dps: np.ndarray, out: list) -> None:
        """A run of valid samples that may follow a hole in the stream."""
        if first_sample > self.next_sample:
            self._hole(first_sample - self.next_sample, out)
        angles = self.tracker.process(acc_g, gyro_dps)
        out.append(np.vstack([angles.tilt_deg, angles.obliquity_deg, angles.rotation_deg]))
        self.next_sample = first_sample + acc_g.shape[1]


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
                 rep_cues: tuple[Cue, ...] = (), calibration: Optional[Calibration] = None,
                 reps_move_pelvis: bool = False, adc: Optional[AdcScale] = None,
                 runner=None) -> None:
        """``runner``: a `glutescope.protocols.runner.ProtocolRunner` to step through on the
        stream clock; its schedule then gives the squeeze cues, the rep cues, single-leg and
        whether reps must move the pelvis (the arguments of the same names are ignored).

        ``adc``: the device's ADC scale (INFO: step, rails, stated gain) for the quality
        checks of quantisation, saturation and gain plausibility (`glutescope.units.adc_scale`).

        ``mains_hz``: the local mains frequency when known (50 or 60 Hz), else None to
        find it in the signal. Either way only the lines found in the raw EMG are notched
        (`glutesignal.quality.detect_mains`, checked every `MAINS_CHECK_EVERY_S` of
        signal; a line once found stays notched)."""
        self.runner = runner
        if runner is not None:
            opts = runner.processor_options()
            squeeze_cues, rep_cues = opts["squeeze_cues"], opts["rep_cues"]
            single_leg, reps_move_pelvis = opts["single_leg"], opts["reps_move_pelvis"]
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
        self._pelvis_stream = PelvisStream(imu_fs_hz) if imu_fs_hz > 0 else None
        if imu_fs_hz > 0:
            self.state.imu_fs_hz = imu_fs_hz
            self.state.pelvis = RingBuffer(3, int(display_s * imu_fs_hz))
        self.mains_hz = mains_hz
        self.adc = adc
        self._quality_at = 0
        self.sides = _side_rows(tuple(channel_names))
        self.balance = BalanceTracker(emg_fs_hz) if self.sides else None
        usable = calibration if calibration is not None and calibration.usable else None
        self.guide = (SqueezeTestGuide(squeeze_cues, emg_fs_hz, imu_fs_hz,
                                       reference_uV=usable.reference_uV if usable else None)
                      if squeeze_cues and self.sides else None)
        # Every cued phase (squeeze test, calibration): a contraction there is not a rep.
        self._cued = tuple((c.start_s, c.end_s) for c in (squeeze_cues or ()))
        self.calibrating = (CalibrationGuide(squeeze_cues, emg_fs_hz)
                            if self.sides and any(c.name == "reference" for c in (squeeze_cues or ())) else None)
        # Single-leg exercises compare the working glute of left-leg and right-leg reps;
        # the working leg comes from the protocol's cues, else from the pelvis, never from the EMG.
        self.single_leg = single_leg
        self.rep_cues = tuple(rep_cues)
        # A bridge rep is a movement: with the IMU worn, an EMG burst counts as a rep only
        # when the pelvic tilt made a rep over it (the tilt rep definition of pelvis.py).
        self.reps_move_pelvis = bool(reps_move_pelvis and imu_fs_hz > 0)
        self._rep_moved: list[Optional[bool]] = []
        self._rep_sides: list[str] = []
        self._rep_rest: list[tuple[float, float]] = []
        self._next_rep_cue = 0  # the first rep cue not yet checked for a burst
        self._cue_reps: list[Contraction] = []  # cued reps the detector found no burst in
        self._cue_rep_rest: list[tuple[float, float]] = []
        self._n_seen = 0
        note = ""
        if calibration is not None:
            note = (calibration.verdict() + f" (from {calibration.source})" if usable else
                    f"calibration from {calibration.source} not used: a side has no reference")
        self.state.stats = dataclasses.replace(
            self.state.stats, calibration=usable, calibration_note=note, single_leg=single_leg,
            protocol_title=runner.protocol.title if runner is not None else "",
            n_steps=len(runner.steps) if runner is not None else 0)
        self.next_sample = 0
        self.missing_samples = 0

    @property
    def quality_due_sample(self) -> float:
        """The stream sample from which `update_quality` grades again (it grades then
        unless a gap is inside its window, and tries again at every later call)."""
        fs = self.state.emg_fs_hz
        return max(self._quality_at + QUALITY_EVERY_S * fs, 2 * fs)

    def decision_times_s(self) -> tuple[float, ...]:
        """Stream times, s, from which the processor acts once on what it holds: a cued
        rep is settled, a squeeze is scored, a calibration hold taken, a protocol step
        or its results. Everything else it does is the same however the stream is cut
        into blocks (the filters, envelope and detectors carry their state sample by
        sample; the mains checks fall on fixed samples); these act on the blocks' ends,
        so a caller feeding blocks longer than the live ones (`glutescope.analysis`)
        ends one at the first live boundary at or after each of these times."""
        from glutescope.calibration import AFTER_S as HOLD_AFTER_S
        from glutescope.guide import AFTER_S as SQUEEZE_AFTER_S

        times = set()
        if self.balance is not None:
            times.update(c.end_s + CUED_REP_SETTLE_S for c in self.rep_cues)
        if self.guide is not None or self.calibrating is not None:
            for start, end in self._cued:
                times.update((start, end, end + SQUEEZE_AFTER_S, end + HOLD_AFTER_S))
        if self.runner is not None:
            times.update(self.runner.decision_times_s())
        return tuple(sorted(times))

    def push_emg(self, first_sample: int, emg_uV: np.ndarray) -> None:
        """Process one block of raw EMG (µV, (n_channels, n)) starting at stream index ``first_sample``."""
        if first_sample < self.next_sample:
            return  # a late or resent block: the recording has it, the live view moved on
        # Samples without a value (the wearable lost them, or the ADC flagged a conversion
        # error: NaN from codes_to_uV) are a gap like those the link lost, never a code.
        bad = ~np.all(np.isfinite(emg_uV), axis=0)
        if not bad.any():
            self._push_contiguous(first_sample, emg_uV)
            return
        for a, b in _runs(bad):
            if bad[a]:  # shown at once, so the views stay on the stream's samples
                self._emg_gap(first_sample + b - self.next_sample)
            else:
                self._push_contiguous(first_sample + a, emg_uV[:, a:b])

    def _emg_gap(self, gap: int) -> None:
        """Samples without a value: restart the filters rather than splice across the hole."""
        self.missing_samples += gap
        self.conditioner.reset()
        self.rms.reset()
        self.state.emg.write_gap(gap)
        self.state.envelope.write_gap(gap)
        self.raw.write_gap(gap)
        if self.balance is not None:
            self.balance.gap(gap)
        self.next_sample += gap
        self._run_start = self.next_sample

    def _push_contiguous(self, first_sample: int, emg_uV: np.ndarray) -> None:
        """Process a block of valid samples that may follow a gap in the stream."""
        gap = first_sample - self.next_sample
        if gap:
            self._emg_gap(gap)  # samples the link lost
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
        if self.balance is not None and self._next_rep_cue < len(self.rep_cues):
            self._cued_reps_without_burst()
        if self.calibrating is not None and not self.calibrating.finished:
            self._update_calibration()
        if self.guide is not None:
            self._update_guide()
        if self.runner is not None:
            self._update_runner()

    def _update_runner(self) -> None:
        changed = self.runner.update(self)
        step, left_s = self.runner.step_at(self.next_sample / self.state.emg_fs_hz)
        left_s = float(np.ceil(left_s)) if step is not None else 0.0
        stats = self.state.stats
        if changed or left_s != stats.step_left_s:
            notices = self.runner.notices
            self.state.stats = dataclasses.replace(
                stats, step=step, step_left_s=left_s, protocol_results=self.runner.results,
                notice=self.runner.notice,
                notices=stats.notices if len(notices) == len(stats.notices) else tuple(notices))

    def _envelope_since(self, index):
        start, data = self.state.envelope.since(index)
        return start, data[list(self.sides)]

    def _update_calibration(self) -> None:
        if not self.calibrating.update(self.next_sample / self.state.emg_fs_hz, self._envelope_since):
            return
        cal = self.calibrating.result
        changes = dict(calibration_note=cal.verdict())
        if cal.usable and self.state.stats.calibration is None:
            # Calibrated in this session: the reps and squeezes from now on (and those
            # already in) are compared against each side's reference.
            changes["calibration"] = cal
            if self.guide is not None:
                self.guide.set_reference(cal.reference_uV)
        self.state.stats = dataclasses.replace(self.state.stats, **changes)
        if self.balance is not None and self.balance.contractions:
            self._update_balance()

    def _update_guide(self) -> None:
        t_s = self.next_sample / self.state.emg_fs_hz
        envelope_since = self._envelope_since

        pelvis = self.state.pelvis
        scored = self.guide.update(t_s, envelope_since, pelvis.since if pelvis is not None else None)
        cue, left_s = self.guide.cue_at(t_s)
        changes = dict(cue=cue, cue_left_s=left_s)
        if scored:
            changes.update(
                squeeze_scores=tuple(self.guide.scores[s] for s in ("right", "left") if s in self.guide.scores),
                weaker_squeeze_side=self.guide.weaker_side())
        self.state.stats = dataclasses.replace(self.state.stats, **changes)

    @property
    def next_imu_sample(self) -> int:
        """The IMU stream index the next sample tracked will have."""
        return self._pelvis_stream.next_sample if self._pelvis_stream is not None else 0

    def push_imu(self, first_sample: int, acc_g: np.ndarray, gyro_dps: np.ndarray) -> None:
        """Track pelvic tilt and obliquity (hip drop) from one IMU block, (3, n) each."""
        if self.state.pelvis is None:
            return
        for piece in self._pelvis_stream.push(first_sample, acc_g, gyro_dps):
            if isinstance(piece, int):
                self.state.pelvis.write_gap(piece)
            else:
                self.state.pelvis.write(piece)

    def _cued_reps_without_burst(self) -> None:
        """A cued rep whose burst the detector did not find is still a rep: over its cue.

        The protocol says a rep happened there; a glute too weak to lift the summed
        envelope 2.5 x above rest (a 10 %-strength left glute in its own single-leg reps)
        is exactly the finding, so it must not vanish from the comparison. Judged once
        the detector has had `CUED_REP_SETTLE_S` after the cue's end to report a burst.
        """
        t_s = self.next_sample / self.state.emg_fs_hz
        fs = self.state.emg_fs_hz
        while self._next_rep_cue < len(self.rep_cues):
            cue = self.rep_cues[self._next_rep_cue]
            if t_s < cue.end_s + CUED_REP_SETTLE_S:
                return
            self._next_rep_cue += 1
            if any(c.start_s < cue.end_s and c.end_s > cue.start_s for c in self.balance.contractions):
                continue
            a = int(round(cue.start_s * fs))
            start, env = self._envelope_since(max(a, 0))
            seg = env[:, max(a, 0) - start:int(round(cue.end_s * fs)) - start] if start <= a else env[:, :0]
            if seg.shape[1] == 0 or not np.all(np.isfinite(seg)):
                continue  # the envelope is no longer held, or a gap: nothing to measure
            rep = Contraction(cue.start_s, cue.end_s, (float(seg[0].mean()), float(seg[1].mean())),
                              (float(seg[0].max()), float(seg[1].max())))
            self._cue_reps.append(rep)
            self._cue_rep_rest.append(self._rest_before(rep))
            self._update_balance()

    def _update_balance(self) -> None:
        contractions = self.balance.contractions
        for c in contractions[self._n_seen:]:
            # Measured once, when the contraction ends (its rest and pelvis are still in the rings).
            self._rep_rest.append(self._rest_before(c))
            self._rep_sides.append(self._working_side(c) if self.single_leg else "both")
            self._rep_moved.append(self._pelvis_moved(c) if self.reps_move_pelvis else None)
        self._n_seen = len(contractions)
        uncued = [i for i, c in enumerate(contractions) if not self._in_cued_phase(c)]
        keep = [i for i in uncued if self._rep_moved[i] is not False]
        found = [(contractions[i], self._rep_sides[i], self._rep_rest[i]) for i in keep]
        found += [(c, self._working_side(c), r) for c, r in zip(self._cue_reps, self._cue_rep_rest)]
        found.sort(key=lambda rep: rep[0].start_s)
        reps = tuple(f[0] for f in found)
        sides = tuple(f[1] if self.single_leg else "both" for f in found)
        rests = tuple(f[2] for f in found)
        changes = dict(contractions=reps, rep_sides=sides, rep_rest_uV=rests,
                       cued_contractions=len(contractions) - len(uncued),
                       still_contractions=len(uncued) - len(keep))
        cal = self.state.stats.calibration
        if cal is not None:
            # Each side's amplitude above its rest in % of its reference: the electrodes'
            # gain and noise floor cancel (glutesignal.normalise.reference_from_trials).
            amps = [tuple(100.0 * above_rest(c.mean_uV[k], r[k]) / cal.reference_uV[k] for k in (0, 1))
                    for c, r in zip(reps, rests)]
        else:
            amps = [c.mean_uV for c in reps]
        if self.single_leg:
            left, right = working_side_pairs(amps, sides)
        else:
            left, right = [a[0] for a in amps], [a[1] for a in amps]
        pairs = [(lv, rv) for lv, rv in zip(left, right) if lv + rv > 0]
        if pairs:
            # A reference's precision (its holds' CV / sqrt(n), for few holds) scales every
            # rep of that side alike: more reps do not shrink it.
            result = symmetry_over_reps([p[0] for p in pairs], [p[1] for p in pairs],
                                        ratio_sd=cal.ratio_sd() if cal is not None else 0.0)
            last = amps[-1]
            changes.update(
                si_pct=result.si_pct, louder_side=result.louder_side, asymmetry_band=result.band,
                ci_low_pct=_finite(result.ci_low_pct), ci_high_pct=_finite(result.ci_high_pct),
                n_reps=result.n_reps, si_consistent=result.consistent, si_normalised=cal is not None,
                si_reference_sd_pct=result.reference_sd_pct,
                last_rep_si_pct=symmetry_index_pct(*last) if sum(last) > 0 else None)
        else:
            changes.update(si_pct=None, louder_side=None, asymmetry_band=None, ci_low_pct=None,
                           ci_high_pct=None, n_reps=0, si_consistent=False, si_normalised=cal is not None,
                           si_reference_sd_pct=0.0,
                           last_rep_si_pct=None)
        self.state.stats = dataclasses.replace(self.state.stats, **changes)

    def _in_cued_phase(self, contraction: Contraction) -> bool:
        """True when a contraction overlaps any cued phase of the squeeze test or calibration."""
        return any(contraction.start_s < end and contraction.end_s > start for start, end in self._cued)

    def _rest_before(self, contraction: Contraction) -> tuple[float, float]:
        fs = self.state.emg_fs_hz
        a = int(round((contraction.start_s - REST_BEFORE_REP_S[0]) * fs))
        b = int(round((contraction.start_s - REST_BEFORE_REP_S[1]) * fs))
        start, env = self._envelope_since(max(a, 0))
        seg = env[:, max(a, 0) - start:max(b, 0) - start] if start <= max(a, 0) else env[:, :0]
        if seg.shape[1] == 0 or not np.all(np.isfinite(seg)):
            return (0.0, 0.0)  # no rest seen (a gap, or the stream's first second): no baseline
        return float(np.median(seg[0])), float(np.median(seg[1]))

    def _pelvis_moved(self, contraction: Contraction) -> Optional[bool]:
        """Whether the pelvic tilt made a rep (|tilt| > 8 deg for 1 s) over a contraction; None: unknown."""
        pelvis, ifs = self.state.pelvis, self.state.imu_fs_hz
        if pelvis is None or ifs <= 0:
            return None
        i0 = int(round(contraction.start_s * ifs))
        start, angles = pelvis.since(max(i0, 0))
        n = int(round(contraction.duration_s * ifs))
        tilt = angles[0, :n]
        if start > i0 or tilt.size < n or n < 2 or not np.all(np.isfinite(tilt)):
            return None  # the IMU is not there for all of it: do not judge
        # The excursion from where the tilt was at the onset, so a reference posture that
        # was re-levelled between reps (after an IMU gap) does not hide the movement.
        return bool(segment_tilt_reps(tilt - tilt[0], ifs))

    def _working_side(self, contraction: Contraction) -> str:
        """The supporting leg of a single-leg rep: the protocol's cue, else the pelvis, else "unknown"."""
        mid = 0.5 * (contraction.start_s + contraction.end_s)
        for cue in self.rep_cues:
            if cue.start_s <= mid < cue.end_s and cue.side in ("left", "right"):
                return cue.side
        pelvis = self.state.pelvis
        if pelvis is None or self.state.imu_fs_hz <= 0:
            return "unknown"
        ifs = self.state.imu_fs_hz
        i0 = int(round(contraction.start_s * ifs))
        start, angles = pelvis.since(max(i0, 0))
        n = int(round(contraction.duration_s * ifs))
        if start > i0 or angles.shape[1] < max(n, 4):
            return "unknown"
        obliquity = angles[1, :n]
        if not np.all(np.isfinite(obliquity)):
            return "unknown"
        # Obliquity is + with the left hip higher: the right (unsupported) side dropped,
        # so the left leg carries the rep (pelvis.py's convention).
        drop = float(np.median(obliquity[n // 4: 3 * n // 4] - obliquity[0]))
        if drop >= WORKING_SIDE_DROP_DEG:
            return "left"
        if drop <= -WORKING_SIDE_DROP_DEG:
            return "right"
        return "unknown"

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
