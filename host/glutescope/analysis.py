"""A recording analysed by the live pipeline: what the report and the exports show.

The recording's EMG and IMU are fed, block by block as they arrived (the stream
anchors give the live blocks' boundaries), through the same `glutescope.live.LiveProcessor`
the live view used, so every score here (contractions, symmetry, squeeze scores,
signal quality) is the one the live view computed, not a second implementation.
For speed, consecutive live blocks are joined into blocks of up to `FAST_BLOCK_S`,
cut wherever the processor acts on a block's end, which gives the same results
(`_fast_groups`; tests/host/test_analysis_blocks.py compares the two exactly).

What the frames do not say (the exercise and the squeeze test's cues) comes from
`exercise_plan`, by the same rules the live session used to pick its cues.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from glutescope.calibration import Calibration
from glutescope.guide import Cue, session_cues, session_rep_cues
from glutescope.imu_timeline import ImuTimeline
from glutescope.live import BRIDGE_EXERCISES, LiveProcessor, LiveStats
from glutescope.mains import recorded_mains_hz
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.recording import Recording, RecordingReader, RecordSource
from glutescope.ringbuffer import RingBuffer
from glutescope.units import adc_scale, codes_to_uV, imu_to_si
from glutesignal.fatigue import FatigueTrend, fatigue_trend, trend_of_windows
from glutesignal.quality import ChannelQuality
from glutesignal.scores import bridge_reps
from glutesignal.sitting import SittingTracker
from glutesignal.symmetry import symmetry_index_pct

__all__ = ["ExercisePlan", "imu_times_s", "emg_words", "segment_words", "RepResult", "ChannelQualitySummary", "SegmentAnalysis",
           "exercise_plan", "analyse_segment", "analyse"]

_GRADES = ("good", "fair", "poor")
ENVELOPE_BIN_S = 0.02
"""Bin of `SegmentAnalysis.envelope_max_uV`, s (50 per second: a page's width of a short session)."""
ENVELOPE_MEAN_BIN_S = 1.0
"""Bin of `SegmentAnalysis.envelope_mean_uV`, s."""
FAST_BLOCK_S = 1.0
"""Longest block `analyse_segment` feeds the live processor at once, s (50 live blocks)."""
PELVIS_BIN_S = 0.1
"""Bin of `SegmentAnalysis.pelvis_mean_deg`, s (at most `MAX_TRACE_BINS` of them)."""
MAX_TRACE_BINS = 45_000
"""Most bins of the traces kept for drawing (`SegmentAnalysis.envelope_max_uV`,
`SegmentAnalysis.pelvis_mean_deg`): 15 minutes at 20 ms; a longer segment's bins are
a whole multiple wider, so a day costs what 15 minutes does."""
HIP_DROP_HOLD_S = 600.0
"""Pelvic obliquity held for the hip drops of the contractions not yet reported, s: a
contraction longer than that has none."""
BLOCK_WINDOW_SAMPLES = 1 << 17
"""Samples of the live blocks' starts and ends `analyse_segment` holds at a time (65 s at 2 kHz)."""
_ADC_ERROR_BIT = 0x8000


@dataclass(frozen=True)
class ExercisePlan:
    """What the session asked of the person, which the frames do not record."""

    exercise: Optional[str]
    """Exercise script name (e.g. "demo", "squeeze_test"); None when unknown."""
    squeeze_cues: tuple[Cue, ...]
    """The squeeze test's cues on the EMG stream clock (empty: no squeeze test)."""
    single_leg: bool
    """Single-leg exercise: symmetry compares the working glute of left and right reps."""
    source: str
    """Where the plan comes from, in words (shown in the report)."""
    rep_cues: tuple[Cue, ...] = ()
    """One-sided reps the protocol cued, with their working leg (empty: none cued)."""
    calibration: Optional[Calibration] = None
    """A calibration made in another recording that the session used (``meta.json``)."""
    protocol: Optional[dict] = None
    """The guided protocol the session ran, as stored (``meta.json`` "protocol": name,
    steps, events, results); the analysis steps through it again. None: none was run."""


def _recorded_by_virtual_wearable(rec: Recording) -> bool:
    for record in RecordingReader(rec.path):
        if not record.host_to_device:
            return record.source == RecordSource.VIRTUAL
    return False


def exercise_plan(rec: Recording, exercise: Optional[str] = None, *, seed: Optional[int] = None) -> ExercisePlan:
    """The exercise and squeeze cues of a recording, chosen as the live session chose them.

    In order: cues stored in ``meta.json`` (``"squeeze_cues"``: a list of objects with
    ``start_s``, ``end_s``, ``name``, ``side``); for a recording of the virtual wearable,
    the cues of its body model's script (its body follows them, and the live session
    showed them); for a real wearable running ``squeeze_test``, the standard schedule
    (`glutescope.guide.squeeze_test_cues`); otherwise none.

    Parameters
    ----------
    rec : Recording
        The loaded recording.
    exercise : str, optional
        What was performed; default ``meta.json``'s ``"exercise"``, and for a virtual
        recording that does not say, ``"demo"`` (``glutescope record``'s default).
    seed : int, optional
        The virtual body model's seed; default ``meta.json``'s ``"seed"``, else 0.

    Returns
    -------
    ExercisePlan
    """
    meta = rec.meta or {}
    given = exercise if exercise is not None else meta.get("exercise")
    name = given
    cues: tuple[Cue, ...] = ()
    rep_cues: tuple[Cue, ...] = ()
    try:
        rep_cues = tuple(Cue(float(c["start_s"]), float(c["end_s"]), str(c["name"]), str(c["side"]))
                         for c in meta.get("rep_cues") or ())
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"meta.json rep_cues must be objects with start_s, end_s, name, side ({exc})") from None
    calibration = Calibration.from_meta(meta["calibration"]) if meta.get("calibration") is not None else None
    stored = meta.get("squeeze_cues")
    if stored is not None:
        try:
            cues = tuple(Cue(float(c["start_s"]), float(c["end_s"]), str(c["name"]), str(c["side"]))
                         for c in stored)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"meta.json squeeze_cues must be objects with start_s, end_s, name, side; "
                             f"got {stored!r} ({exc})") from None
        source = "cues stored with the recording"
    elif _recorded_by_virtual_wearable(rec):
        from glutesignal.simulation import EXERCISES, simulate

        name = given or "demo"
        if name not in EXERCISES:
            raise ValueError(f"exercise must be one of {EXERCISES}, got {name!r}")
        s = int(seed if seed is not None else meta.get("seed", 0))
        # The script (and so its cues) does not depend on the rates: render cheaply.
        body = simulate(name, seed=s, emg_fs_hz=200.0, imu_fs_hz=104.0, mains_hz=None)
        cues = session_cues(name, body.phases)
        rep_cues = rep_cues or session_rep_cues(body.reps)
        source = (f"virtual wearable script '{name}', seed {s}"
                  + ("" if given else " (assumed: the recording does not name its exercise)"))
    elif name in ("squeeze_test", "calibration"):
        cues = session_cues(name)
        source = f"standard {name.replace('_', '-')} schedule"
    else:
        source = f"exercise '{name}'" if name else "exercise not recorded"
    protocol = meta.get("protocol") or None
    return ExercisePlan(name, cues, bool(name and name.startswith("single_leg")), source, rep_cues, calibration,
                        protocol)


@dataclass(frozen=True)
class RepResult:
    """One rep (contraction of both sides) as the live view listed it, on the stream clock."""

    index: int
    """Rep number from 1."""
    start_s: float
    """Onset, s from the segment's first EMG sample."""
    duration_s: float
    """Time under tension: onset to offset of the contraction, s."""
    mean_uV: tuple[float, float]
    """Mean envelope (left, right) over the rep, µV."""
    peak_uV: tuple[float, float]
    """Peak envelope (left, right), µV."""
    si_pct: float
    """Symmetry index of the means in µV, (R-L)/(0.5(R+L)) x 100, % (right higher +; an amplitude
    ratio of the electrodes, not normalised)."""
    working_side: str
    """"both" for a two-legged rep; for a single-leg rep the supporting leg from the
    protocol's cue or the pelvis IMU ("unknown" when neither says), never from the EMG."""
    hip_drop_deg: Optional[float]
    """Largest change of pelvic obliquity from the rep's start, degrees (None without IMU)."""
    mean_pct_ref: Optional[tuple[float, float]] = None
    """Calibrated: each side's mean above the rest before the rep, in % of its reference
    (rest removed in quadrature, as the live SI does); None uncalibrated."""
    si_normalised_pct: Optional[float] = None
    """Calibrated: the symmetry index of ``mean_pct_ref``, %; None uncalibrated."""


@dataclass(frozen=True)
class ChannelQualitySummary:
    """Signal quality of one channel over the whole segment, from the live grading windows."""

    channel: int
    """Row of the channel."""
    grade: str
    """Worst grade over the windows ("good", "fair", "poor"); "unknown" if none was graded."""
    reasons: tuple[str, ...]
    """Each kind of reason given in a window not graded good, with its first figures and
    in how many windows, first seen first."""
    n_windows: dict
    """Windows per grade, e.g. ``{"good": 25, "fair": 2, "poor": 0}``."""


@dataclass(frozen=True, eq=False)
class SegmentAnalysis:
    """One segment (one START) of a recording, processed by the live pipeline."""

    segment: int
    """Index of the segment in the recording."""
    channel_names: tuple[str, ...]
    """Muscle of each EMG row."""
    emg_fs_hz: float
    """EMG rate, Hz."""
    imu_fs_hz: float
    """IMU rate, Hz (0 without IMU)."""
    envelope_max_uV: np.ndarray
    """Largest value of the 100 ms RMS envelope of the conditioned EMG in each bin of
    `envelope_max_bin_s` (``round(envelope_max_bin_s * emg_fs_hz)`` samples, from the
    segment's first), µV, float32 (n_channels, n_bins); NaN where a bin is all gap. The
    envelope is not kept sample by sample: a day would hold its whole length."""
    pelvis_mean_deg: Optional[np.ndarray]
    """Mean pelvis tilt and obliquity in each bin of `pelvis_mean_bin_s`
    (``round(pelvis_mean_bin_s * imu_fs_hz)`` IMU samples, from the segment's first),
    degrees, float32 (2, n_bins);
    NaN where a bin has no angle; None without IMU. Not kept sample by sample (a day is
    4.5 MB an hour): `glutescope.imu_feed.ImuFeed` tracks them again from the recording."""
    stats: LiveStats
    """The live processor's stats at the end: symmetry, contractions, squeeze scores."""
    reps: tuple[RepResult, ...]
    """The contractions compared left/right, on the stream clock, with hip drop."""
    quality: tuple[ChannelQualitySummary, ...]
    """Signal quality per channel over the segment."""
    plan: ExercisePlan
    """The exercise and cues used."""
    mains_source: str = ""
    """Where the mains frequency came from, in words (``stats.mains_hz``, ``stats.notch_hz``
    say which frequency and lines were notched)."""
    fatigue: tuple = ()
    """``(side, FatigueTrend)`` of each glute over the reps of the segment
    (`glutesignal.fatigue`): median-frequency and amplitude trends, left then right."""
    envelope_mean_uV: Optional[np.ndarray] = None
    """Mean envelope in each bin of `ENVELOPE_MEAN_BIN_S` (over its gap-free samples), µV,
    float32 (n_channels, n_bins); NaN where a bin is all gap."""
    n_samples: int = 0
    """EMG samples of the segment, gaps included."""
    quality_history: tuple = ()
    """``(t_s, tuple of ChannelQuality)``: every grading the live view made, at the
    segment time (s) of the newest sample it graded, in time order. What the live view
    showed at time t is the last entry at or before t."""
    protocol_results: Optional[object] = None
    """The protocol's results recomputed from this segment by the same runner
    (`glutescope.protocols.runner.ProtocolResults`); None without a protocol, or when the
    segment ends before them."""
    adc_flagged: tuple = ()
    """``(first, end)`` of each run of samples the ADC flagged (bit 15 on any channel),
    outside gaps, stream indices: found while the analysis read the EMG, so the exports
    need not read it once more for them."""
    sitting: Optional[tuple] = None
    """Desk sessions with the IMU: ``(events, valid_n, remind_every_s, sitting_s)`` of a
    `glutesignal.sitting.SittingTracker` fed the pelvis tilt as it was tracked: its
    `glutesignal.sitting.SittingEvent` s (finished), the tilt samples it could use,
    its reminder interval and the time seated, s; None otherwise."""
    envelope_max_bin_s: float = ENVELOPE_BIN_S
    """Bin of `envelope_max_uV`, s: `ENVELOPE_BIN_S`, wider for a segment that would
    have more than `MAX_TRACE_BINS`."""
    pelvis_mean_bin_s: float = PELVIS_BIN_S
    """Bin of `pelvis_mean_deg`, s: `PELVIS_BIN_S`, wider likewise."""

    @property
    def duration_s(self) -> float:
        """Span of the EMG stream, s."""
        return self.n_samples / self.emg_fs_hz


def channel_names(rec: Recording) -> tuple[str, ...]:
    """Muscle of each EMG row from ``meta.json``'s channel map (``ADC<i>`` where unnamed)."""
    info = rec.device_info
    if info is None:
        raise ValueError(f"recording {rec.path} holds no device info: its channels are unknown")
    cmap = (rec.meta or {}).get("channel_map") or {}
    return tuple(str(cmap.get(str(i), f"ADC{i}")) for i in range(8) if info.channel_mask >> i & 1)


def imu_times_s(rec: Recording, segment: int) -> np.ndarray:
    """Time of every IMU sample of ``segment``, s from its first EMG sample, on the
    wearable's clock (`glutescope.imu_timeline`; a day's are better asked of an
    :class:`glutescope.imu_timeline.ImuTimeline` a stretch at a time).

    Returns
    -------
    numpy.ndarray
        float64, shape (n_imu_samples,); empty when the segment has no IMU.
    """
    return ImuTimeline(rec, segment).all_times_s()


def _cuts_in(segment, fallback: int) -> Callable[[int, int, int], np.ndarray]:
    """``cuts(run_start, lo, hi)``: where live blocks started in [lo, hi), sorted: from
    the segment's ``block_starts`` or its anchors, else every ``fallback`` samples of
    the valid run from ``run_start``."""
    if segment.block_starts is not None:
        return lambda _, lo, hi: segment.block_starts.between(lo, hi)
    if segment.anchors.size:
        cuts = np.unique(segment.anchors[0])
        return lambda _, lo, hi: cuts[np.searchsorted(cuts, lo):np.searchsorted(cuts, hi)]
    return lambda a, lo, hi: np.arange(a + -(-(lo - a) // fallback) * fallback, hi, fallback, dtype=np.int64)


def _block_windows(segment, fallback: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """[start, end) of the blocks as they arrived live (the block starts split the valid
    runs), as int64 arrays of starts and ends, about `BLOCK_WINDOW_SAMPLES` at a time.

    A window at a time, not the segment's: a day has millions of blocks, and two arrays
    of them (with their times) were most of what a long analysis held. A window ends
    where a block ends."""
    cuts, window = _cuts_in(segment, fallback), BLOCK_WINDOW_SAMPLES
    for a, b in segment.valid_runs():
        start, span = a, window
        while start < b:
            hi = min(b, start + span)
            inner = cuts(a, start + 1, hi)
            if hi == b:
                edges = np.concatenate([[start], inner, [b]]).astype(np.int64)
            elif inner.size:
                edges = np.concatenate([[start], inner]).astype(np.int64)
            else:  # a block longer than the window
                span *= 2
                continue
            yield edges[:-1], edges[1:]
            start, span = int(edges[-1]), window


class _ImuBlocks:
    """The IMU's live blocks in arrival order, a window at a time (`_block_windows`), with
    when each was due: the running maximum of their first samples' times (the first
    block not yet due stops the interleave, as live).

    A window at a time: a day has millions of IMU blocks, and their starts, ends and
    times were 2 MB an hour held to the end."""

    def __init__(self, segment, timeline: ImuTimeline) -> None:
        self._windows = _block_windows(segment, 4)
        self._timeline = timeline
        self._starts = self._ends = np.zeros(0, np.int64)
        self._due = np.zeros(0)
        self._pos = 0
        self._latest_s = -np.inf

    def _ready(self) -> bool:
        """A block is at ``_pos``, the next window read in if need be."""
        while self._pos >= self._starts.size:
            window = next(self._windows, None)
            if window is None:
                return False
            self._starts, self._ends = window
            due = np.maximum.accumulate(np.concatenate([[self._latest_s], self._timeline.times_s(self._starts)]))
            self._due, self._pos = due[1:], 0
            self._latest_s = float(due[-1])
        return True

    def take_due(self, t_s: float, max_join: int) -> Iterator[tuple[int, int]]:
        """[i0, i1) to push of the blocks due before ``t_s``; contiguous ones joined
        while at most ``max_join`` samples long (0: one by one)."""
        while self._ready():
            due = int(np.searchsorted(self._due, t_s, side="left"))
            if due <= self._pos:
                return
            while self._pos < due:
                i0, last = int(self._starts[self._pos]), self._pos
                if max_join > 0:
                    while (last + 1 < due and self._starts[last + 1] == self._ends[last]
                           and self._ends[last + 1] - i0 <= max_join):
                        last += 1
                yield i0, int(self._ends[last])
                self._pos = last + 1

    def take_rest(self) -> Iterator[tuple[int, int]]:
        """[i0, i1) of every block not yet taken, one by one."""
        while self._ready():
            yield int(self._starts[self._pos]), int(self._ends[self._pos])
            self._pos += 1


def _fast_groups(proc: LiveProcessor, windows: Iterable[tuple[np.ndarray, np.ndarray]], fs: float,
                 block_s: float) -> Iterator[tuple[int, int]]:
    """[a, b) of the blocks to feed: consecutive live blocks joined up to ``block_s``.

    Joined blocks give the live results because the processor's state runs sample by
    sample (filters with their state, the moving RMS, the contraction and pelvis
    trackers, the envelope bins, mains checks on fixed samples). What acts on a block's
    end (a squeeze scored, a cued rep settled, a protocol step, its results: the
    processor's `decision_times_s`; the quality grading every 2 s) is kept there: a
    joined block ends at the first live boundary at or after each of those times, so
    the processor sees the stream there as it did live. After a grading that a gap in
    its window put off, the live blocks go one by one until it grades. Read lazily, as
    the quality's next due sample depends on what was fed.

    ``windows`` gives the live blocks a window at a time (`_block_windows`); a joined
    block never spans two windows, which costs one more block per window and changes
    nothing else.
    """
    decisions = np.unique(np.asarray(proc.decision_times_s(), float))
    max_n = max(1, int(round(block_s * fs))) if block_s > 0 else 0
    prev_end_s = -np.inf
    for starts, ends in windows:
        n = ends.size
        if n == 0:
            continue
        if not max_n:
            for i in range(n):
                yield int(starts[i]), int(ends[i])
            continue
        t_end = ends / fs
        # The first block ending at or after each decision, among those still to come.
        later = decisions[decisions > prev_end_s]
        forced = np.unique(np.searchsorted(t_end, later, side="left"))
        prev_end_s = t_end[-1]
        # Last block of each contiguous run of blocks (a gap or the window's end follows it).
        breaks = np.flatnonzero(np.append(starts[1:] != ends[:-1], True))
        i = 0
        while i < n:
            j = int(np.searchsorted(ends, starts[i] + max_n, side="right")) - 1
            j = max(i, min(j, int(breaks[np.searchsorted(breaks, i)])))
            k = np.searchsorted(forced, i)
            if k < forced.size:
                j = min(j, int(forced[k]))
            due = proc.quality_due_sample
            q = int(np.searchsorted(ends, due, side="left"))
            if q >= i:
                j = min(j, q)
            graded_at = proc.quality_due_sample
            yield int(starts[i]), int(ends[j])
            if ends[j] >= due and proc.quality_due_sample == graded_at:
                # Due, but a gap in the window put the grading off: live blocks until it grades.
                while j + 1 < n and proc.quality_due_sample == graded_at:
                    j += 1
                    yield int(starts[j]), int(ends[j])
            i = j + 1


def _note_flagged(words: np.ndarray, first: int, runs: list) -> None:
    """Add the runs of samples the ADC flagged (bit 15 on any channel) in ``words`` to ``runs``."""
    flagged = np.any((words & _ADC_ERROR_BIT) != 0, axis=0)
    if not flagged.any():
        return
    m = np.concatenate([[False], flagged, [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    for x, y in zip(edges[::2], edges[1::2]):
        a, b = first + int(x), first + int(y)
        if runs and runs[-1][1] == a:  # a run across two blocks
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))


def segment_words(rec: Recording, segment: int, streams=("emg", "imu")) -> dict[str, Callable[[int, int], np.ndarray]]:
    """``{stream: words(a, b)}``: the segment's words of [a, b) of each stream, read
    forward: from the segment when it holds them, else (a
    `glutescope.chunked.load_summary` recording) from the log again, chunk by chunk,
    all the streams asked for in one pass (`glutescope.chunked.SegmentFeeds`: read them
    at about the same pace), so a day-long segment is never in memory at once."""
    out: dict[str, Callable[[int, int], np.ndarray]] = {}
    again: dict[str, tuple] = {}
    for kind in streams:
        seg = (rec.emg if kind == "emg" else rec.imu)[segment]
        if seg.samples_start == 0 and seg.samples.shape[1] == seg.n_samples:
            out[kind] = lambda a, b, seg=seg: seg.samples[:, a:b]
        elif seg.samples_start != seg.n_samples:
            raise ValueError(f"segment {segment} of {rec.path} holds only part of its {kind.upper()} samples")
        else:
            again[kind] = (seg.samples.shape[0], seg.samples.dtype)
    if again:
        from glutescope.chunked import SegmentFeeds

        out.update({kind: feed.read for kind, feed in SegmentFeeds(rec.path, segment, again).feeds.items()})
    return out


def emg_words(rec: Recording, segment: int) -> Callable[[int, int], np.ndarray]:
    """``words(a, b)``: the segment's EMG words of [a, b), read forward (`segment_words`)."""
    return segment_words(rec, segment, ("emg",))["emg"]


def _merge_quality(history: list[tuple[ChannelQuality, ...]], n_channels: int) -> tuple[ChannelQualitySummary, ...]:
    out = []
    for ch in range(n_channels):
        counts = {g: 0 for g in _GRADES}
        kinds: dict[str, list[str]] = {}  # reason without its figures -> each time given
        worst = -1
        for snapshot in history:
            q = snapshot[ch]
            counts[q.grade] = counts.get(q.grade, 0) + 1
            worst = max(worst, _GRADES.index(q.grade) if q.grade in _GRADES else 0)
            for r in q.reasons:
                kinds.setdefault(re.sub(r"[-+]?\d[\d.]*", "#", r), []).append(r)
        reasons = tuple(f"{given[0]} (in {len(given)} of {len(history)} checks)" for given in kinds.values())
        out.append(ChannelQualitySummary(ch, _GRADES[worst] if worst >= 0 else "unknown", reasons, counts))
    return tuple(out)


def analyse_segment(rec: Recording, segment: int = 0, *, plan: Optional[ExercisePlan] = None,
                    mains_hz: Optional[float] = None,
                    progress: Optional[Callable[[int], None]] = None,
                    block_s: float = FAST_BLOCK_S) -> SegmentAnalysis:
    """Feed one segment of a recording through a `LiveProcessor`, as it arrived live.

    EMG blocks go in at the live blocks' boundaries (each valid run split at the
    stream anchors), with the IMU blocks due by then fed first, as the wearable
    interleaves them; the live processor restarts its filters at each gap as it did
    live. Signal quality is graded every 2 s of signal, as live.

    Parameters
    ----------
    rec : Recording
        The loaded recording (with device info).
    segment : int
        Index into ``rec.emg``.
    plan : ExercisePlan, optional
        Default: ``exercise_plan(rec)``.
    mains_hz : float, optional
        Mains frequency, Hz (50 or 60); default: the one stored in ``meta.json``, else
        found in the signal. Only the lines found in the signal are notched, as live.
    progress : callable, optional
        Called with the number of EMG samples of each block once it is processed (a
        progress bar's ``update``).
    block_s : float
        Longest block fed at once, s (default `FAST_BLOCK_S`); 0 feeds the live blocks
        one by one. The results are the same either way (see `_fast_groups`).

    Returns
    -------
    SegmentAnalysis

    Notes
    -----
    The EMG is scaled as live (`glutescope.units.codes_to_uV` of the words as
    received), so samples the ADC flagged as errors go in as live, with their code.
    Backfilled samples (resent after a dropout) are in the recording but were not
    seen live: the analysis includes them, so it can only hold more signal than the
    live view had, never less.
    """
    info = rec.device_info
    if info is None:
        raise ValueError(f"recording {rec.path} holds no device info: cannot scale its samples")
    if not 0 <= segment < len(rec.emg):
        raise ValueError(f"segment must be in 0-{len(rec.emg) - 1}, got {segment}")
    plan = plan if plan is not None else exercise_plan(rec)
    names = channel_names(rec)
    emg = rec.emg[segment]
    fs = float(info.emg_fs_hz)
    imu = rec.imu[segment] if segment < len(rec.imu) and info.imu_fs_hz > 0 else None
    ifs = float(info.imu_fs_hz) if imu is not None else 0.0
    if mains_hz is not None:
        mains_source = "given for this analysis"
    elif recorded_mains_hz(rec.meta) is not None:
        mains_hz = recorded_mains_hz(rec.meta)
        how = (rec.meta or {}).get("mains_source")
        mains_source = "detected in the signal when recorded" if how == "detected" else "given when recorded"
    else:
        mains_source = "found in the signal"
    runner = None
    if plan.protocol and segment == 0:  # the protocol's clock is the first segment's stream
        from glutescope.protocols.runner import runner_from_record

        runner = runner_from_record(plan.protocol)
    proc = LiveProcessor(names, fs, ifs, mains_hz=mains_hz, squeeze_cues=plan.squeeze_cues or None,
                         single_leg=plan.single_leg, rep_cues=plan.rep_cues, calibration=plan.calibration,
                         reps_move_pelvis=plan.exercise in BRIDGE_EXERCISES, adc=adc_scale(info), runner=runner)
    # Scaled block by block, the envelope kept in float32 bins (the live ring's own type),
    # and of the conditioned EMG only each contraction's fatigue windows, measured in the
    # live ring as the contraction is reported: a day-long segment would otherwise hold
    # three float64 copies of its EMG.
    env_bin_s = _trace_bin_s(ENVELOPE_BIN_S, fs, emg.n_samples)
    env_max = _Binned(len(names), emg.n_samples, env_bin_s * fs, "max")
    env_mean = _Binned(len(names), emg.n_samples, ENVELOPE_MEAN_BIN_S * fs, "mean")
    held: dict[tuple[int, int], Optional[dict]] = {}
    rows = _fatigue_rows(names)
    n_contractions = 0
    mount = recorded_mount(rec.meta)
    timeline = ImuTimeline(rec, segment)  # on the EMG's clock: the IMU's rate is its own
    pelvis_mean = drops = sitting = None
    sitting_events: list = []
    if imu is not None:
        pelvis_mean = _Binned(2, imu.n_samples, _trace_bin_s(PELVIS_BIN_S, ifs, imu.n_samples) * ifs, "mean")
        drops = _HipDrops(timeline, ifs, fs, len(names), imu.n_samples)
        sitting = SittingTracker(ifs) if plan.exercise == "desk" else None
    history: list[tuple[ChannelQuality, ...]] = []
    history_t_s: list[float] = []
    read = segment_words(rec, segment, ("emg", "imu") if imu is not None else ("emg",))
    words = read["emg"]
    # Longer blocks than the live ones give the same results (see `_fast_groups`): the
    # per-block cost of a 20 ms block (~180,000 an hour) was most of the analysis.
    groups = _fast_groups(proc, _block_windows(emg, 40), fs, block_s)
    imu_blocks = _ImuBlocks(imu, timeline) if imu is not None else None
    imu_cap = proc.state.pelvis.capacity // 2 if imu is not None else 0

    def push_imu(i0: int, i1: int) -> None:
        # Scaled block by block: the session's IMU in float64 was 18 MB an hour.
        acc_g, gyro_dps = to_body_axes(*imu_to_si(read["imu"](i0, i1), info), mount)
        proc.push_imu(i0, acc_g, gyro_dps)
        angles = proc.state.pelvis.latest(i1 - i0)
        pelvis_mean.add(i0, angles[:2])
        drops.add(i0, angles)
        if sitting is not None:
            sitting_events.extend(sitting.update(i0, angles[0]))

    flagged: list[tuple[int, int]] = []
    for a, b in groups:
        # The IMU blocks due by the block's end go first, as the wearable interleaves them.
        # (contiguous IMU blocks in one push: the tracker runs per sample)
        for i0, i1 in imu_blocks.take_due(b / fs, imu_cap if block_s > 0 else 0) if imu_blocks else ():
            push_imu(i0, i1)
        w = words(a, b)
        _note_flagged(w, a, flagged)
        proc.push_emg(a, codes_to_uV(w, info))
        latest = proc.state.envelope.latest(b - a)
        env_max.add(a, latest)
        env_mean.add(a, latest)
        if len(proc.state.stats.contractions) != n_contractions:
            if drops is not None:  # the new ones (any other, revised, at the end)
                drops.note(proc.state.stats.contractions[n_contractions:])
            n_contractions = len(proc.state.stats.contractions)
            _hold_contractions(proc, held, emg.n_samples, rows)
        if drops is not None and drops.pending:
            drops.settle()
        before = proc.state.stats.quality
        proc.update_quality()
        if proc.state.stats.quality is not before and proc.state.stats.quality:
            history.append(proc.state.stats.quality)
            history_t_s.append(b / fs)
        if progress is not None:
            progress(b - a)
    for i0, i1 in imu_blocks.take_rest() if imu_blocks else ():
        push_imu(i0, i1)
    _hold_contractions(proc, held, emg.n_samples, rows)
    stats = proc.state.stats
    if drops is not None:
        drops.note(stats.contractions)
        drops.settle(final=True)
    if sitting is not None:
        sitting_events.extend(sitting.finish())
    reps = _rep_results(stats, drops)
    return SegmentAnalysis(segment, names, fs, ifs, env_max.result(),
                           pelvis_mean.result() if pelvis_mean is not None else None, stats, reps,
                           _merge_quality(history, len(names)), plan, mains_source,
                           _fatigue(held, fs, reps, rows, emg.n_samples), env_mean.result(), emg.n_samples,
                           tuple(zip(history_t_s, history)),
                           protocol_results=runner.results if runner is not None else None,
                           adc_flagged=tuple(flagged),
                           sitting=(tuple(sitting_events), sitting.valid_n, sitting.remind_every_s, sitting.sitting_s)
                           if sitting is not None else None,
                           envelope_max_bin_s=env_max.k / fs,
                           pelvis_mean_bin_s=pelvis_mean.k / ifs if pelvis_mean is not None else PELVIS_BIN_S)


def _trace_bin_s(bin_s: float, fs: float, n: int) -> float:
    """``bin_s``, or the smallest whole multiple of it that cuts ``n`` samples at ``fs``
    into at most `MAX_TRACE_BINS` bins, s."""
    k = max(1, int(round(bin_s * fs)))
    return k * max(1, -(-n // (k * MAX_TRACE_BINS))) / fs


class _Binned:
    """The maximum (or mean) of each bin of ``bin_samples`` samples, fed block by block."""

    def __init__(self, n_channels: int, n: int, bin_samples: float, how: str) -> None:
        self.k = max(1, int(round(bin_samples)))
        n_bins = -(-n // self.k)
        self.how = how
        if how == "max":
            self.acc = np.full((n_channels, n_bins), np.nan, dtype=np.float32)
        else:
            self.acc = np.zeros((n_channels, n_bins))
            self.count = np.zeros((n_channels, n_bins), dtype=np.int64)
        self._carry: Optional[np.ndarray] = None  # "mean": the unfinished bin's samples so far
        self._carry_first = 0

    def add(self, first: int, x: np.ndarray) -> None:
        """Samples ``x`` (n_channels, m) from stream index ``first`` on.

        A mean's bin is summed once from all its contiguous samples (the unfinished bin
        is carried to the next call), so the sums do not depend on how the stream was
        cut into blocks."""
        if self.how == "mean":
            carry, self._carry = self._carry, None
            if carry is not None and self._carry_first + carry.shape[1] == first:
                x, first = np.concatenate([carry, x], axis=1), self._carry_first
            elif carry is not None:
                self._sum(self._carry_first, carry)
            tail = (first + x.shape[1]) % self.k
            if tail and x.shape[1]:
                cut = max(0, x.shape[1] - tail)
                self._carry, self._carry_first = x[:, cut:].copy(), first + cut
                x = x[:, :cut]
            self._sum(first, x)
            return
        if x.shape[1] == 0:
            return
        starts, bins = self._bins(first, x.shape[1])
        self.acc[:, bins] = np.fmax(self.acc[:, bins], np.fmax.reduceat(x, starts, axis=1))

    def _bins(self, first: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """Where each bin starts in a block of ``m`` samples from sample ``first``, and its index."""
        lead = (-first) % self.k
        starts = np.r_[0, np.arange(lead if lead else self.k, m, self.k)]
        return starts, (first + starts) // self.k

    def _sum(self, first: int, x: np.ndarray) -> None:
        if x.shape[1] == 0:
            return
        starts, bins = self._bins(first, x.shape[1])
        ok = np.isfinite(x)
        self.acc[:, bins] += np.add.reduceat(np.where(ok, x, 0.0), starts, axis=1)
        self.count[:, bins] += np.add.reduceat(ok, starts, axis=1)

    def result(self) -> np.ndarray:
        if self.how == "max":
            return self.acc
        if self._carry is not None:
            self._sum(self._carry_first, self._carry)
            self._carry = None
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.acc / np.maximum(self.count, 1), np.nan).astype(np.float32)


def _span(start_s: float, end_s: float, fs: float, n: int) -> tuple[int, int]:
    """[first, end) samples of an interval, rounded as `glutesignal.fatigue.fatigue_trend` rounds it."""
    return max(0, int(round(start_s * fs))), min(n, int(round(end_s * fs)))


def _fatigue_rows(names) -> dict[str, int]:
    """Row of each glute max the fatigue trend follows, by side."""
    return {side: names.index(f"glute_max_{side}") for side in ("left", "right") if f"glute_max_{side}" in names}


def _hold_contractions(proc: LiveProcessor, held: dict, n: int, rows: dict[str, int]) -> None:
    """Measure each reported contraction's fatigue windows (`glutesignal.fatigue.fatigue_trend`
    of each glute max in ``rows``) from the live ring once it is all in.

    The windows are kept, not the contraction's EMG: a day of bridges held ~40 MB an
    hour of it. A contraction whose start has already left the ring (longer than the
    ring, or reported that late) is held as None: its windows are missing from the trend.
    """
    fs = proc.state.emg_fs_hz
    ring = proc.state.emg
    for c in proc.state.stats.contractions:
        key = _span(c.start_s, c.start_s + c.duration_s, fs, n)
        if key in held or key[1] > proc.next_sample:
            continue
        back = proc.next_sample - key[0]
        if not 0 < back <= ring.capacity:
            held[key] = None
            continue
        x = ring.latest(back)[:, : key[1] - key[0]]
        held[key] = {side: fatigue_trend(x[row], fs) for side, row in rows.items()}


def _fatigue(held: dict, fs: float, reps, rows: dict[str, int], n: int) -> tuple[tuple[str, FatigueTrend], ...]:
    """Fatigue trend of each glute over the reps: the windows inside each rep, measured on
    the rep's own stretch, placed at their times in the segment and fitted together."""
    out = []
    for side in rows:
        if not reps:
            continue
        t, mdf, rms = [], [], []
        for r in reps:
            first, _ = key = _span(r.start_s, r.start_s + r.duration_s, fs, n)
            trends = held.get(key)
            if trends is None:
                continue
            tr = trends[side]
            t.extend(first / fs + tr.t_s)
            mdf.extend(tr.mdf_hz)
            rms.extend(tr.rms_uV)
        out.append((side, trend_of_windows(t, mdf, rms)))
    return tuple(out)


@dataclass(frozen=True)
class _Interval:
    start_s: float
    end_s: float


class _HipDrops:
    """Each contraction's hip drop, measured once the IMU is in past its end, from the
    obliquity of the last `HIP_DROP_HOLD_S` (a day's pelvis angles are not kept).

    The hip drop is `glutesignal.scores.bridge_reps`'s, over the contraction alone:
    given the rep's stretch on a grid of the IMU's nominal rate from a whole IMU sample
    before it (so its indices round as over the whole), each point the IMU sample in
    force there, on the IMU's own clock (`glutescope.imu_timeline`)."""

    def __init__(self, timeline: ImuTimeline, ifs: float, fs: float, n_channels: int, n_imu: int) -> None:
        self._timeline, self._ifs, self._fs, self._n_channels, self._n_imu = timeline, ifs, fs, n_channels, n_imu
        self._obliquity = RingBuffer(1, max(1, int(np.ceil(HIP_DROP_HOLD_S * ifs))))
        self._drops: dict[tuple[float, float], Optional[float]] = {}
        self._seen: set[tuple[float, float]] = set()
        self.pending: list = []
        """Contractions reported whose IMU is not all in yet."""

    def add(self, first: int, angles: np.ndarray) -> None:
        """Pelvis angles (3, m) of IMU samples from ``first`` on (a jump forward is a gap)."""
        ring = self._obliquity
        if first > ring.write_index:
            ring.write_gap(first - ring.write_index)
        ring.write(angles[1:2])

    def note(self, contractions) -> None:
        """Contractions reported: those not seen before wait for their IMU."""
        for c in contractions:
            if self._key(c) not in self._seen:
                self._seen.add(self._key(c))
                self.pending.append(c)

    def settle(self, final: bool = False) -> None:
        """Measure the pending contractions whose IMU is in (all of them when ``final``)."""
        waiting = []
        for c in self.pending:
            done, drop = self._measure(c, final)
            if done:
                self._drops[self._key(c)] = drop
            else:
                waiting.append(c)
        self.pending = waiting

    def drop(self, contraction) -> Optional[float]:
        """The hip drop of a contraction `note` and `settle` saw, degrees; None without one."""
        return self._drops.get(self._key(contraction))

    @staticmethod
    def _key(c) -> tuple[float, float]:
        return (float(c.start_s), float(c.duration_s))

    def _measure(self, c, final: bool) -> tuple[bool, Optional[float]]:
        ifs, ring = self._ifs, self._obliquity
        start = c.start_s  # on the stream clock: the tracker is told of every gap
        end = start + c.duration_s
        j0 = max(int(round(start * ifs)) - 1, 0)
        j1 = min(int(round(end * ifs)) + 2, self._n_imu)
        k = self._timeline.held(np.arange(j0, max(j0, j1)) / ifs)
        if not final and k.size and int(k.max()) >= ring.write_index:
            return False, None
        lo = max(int(k.min()), 0) if k.size else 0
        first, held = ring.since(min(lo, ring.write_index))
        if k.size and first > lo:
            return True, None  # longer than the obliquity held
        at = k - first
        inside = (k >= 0) & (at < held.shape[1])
        obl = np.full(k.size, np.nan, np.float32)
        obl[inside] = held[0, at[inside]]
        t0 = j0 / ifs
        drop = bridge_reps(np.zeros((self._n_channels, int(round((end - t0) * self._fs)) + 2)), self._fs,
                           [_Interval(start - t0, end - t0)], obliquity_deg=obl, imu_fs_hz=ifs)[0].hip_drop_deg
        return True, drop if drop is not None and np.isfinite(drop) else None


def _rep_results(stats: LiveStats, drops: Optional[_HipDrops]) -> tuple[RepResult, ...]:
    out = []
    for i, (c, side, rest) in enumerate(zip(stats.contractions, stats.rep_sides, stats.rep_rest_uV), 1):
        drop = drops.drop(c) if drops is not None else None
        si = symmetry_index_pct(c.mean_uV[0], c.mean_uV[1])
        pct = stats.activation_pct(c.mean_uV, rest)
        si_norm = symmetry_index_pct(*pct) if pct is not None and sum(pct) > 0 else None
        out.append(RepResult(i, c.start_s, c.duration_s, c.mean_uV, c.peak_uV, si, side, drop, pct, si_norm))
    return tuple(out)


def analyse(rec: Recording, *, exercise: Optional[str] = None, mains_hz: Optional[float] = None,
            progress: Optional[Callable[[int], None]] = None) -> tuple[SegmentAnalysis, ...]:
    """Every segment of a recording through the live pipeline (see `analyse_segment`).

    Parameters
    ----------
    rec : Recording
    exercise : str, optional
        Passed to `exercise_plan`.
    mains_hz : float, optional
        Mains frequency, Hz; default: stored in the recording, else found in the signal.
    progress : callable, optional
        Passed to `analyse_segment`.

    Returns
    -------
    tuple of SegmentAnalysis
        One per EMG segment (empty when the recording holds no EMG).
    """
    plan = exercise_plan(rec, exercise)
    return tuple(analyse_segment(rec, k, plan=plan, mains_hz=mains_hz, progress=progress)
                 for k in range(len(rec.emg)))
