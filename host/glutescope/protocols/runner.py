"""The one protocol runner: steps on the EMG stream clock, per-rep figures, results.

`glutescope.live.LiveProcessor` calls `ProtocolRunner.update` after every EMG block
(live, in a replay and in `glutescope.analysis`), so the step in force, the per-rep
figures and the results depend only on the stream, never on wall time or on how the
stream was cut into blocks. The runner's step changes and results are its
``events``; the session stores them in the recording (``meta.json`` "protocol").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from glutescope.guide import Cue
from glutescope.protocols.base import Protocol, TimedStep

__all__ = ["ProtocolResults", "ProtocolRunner"]

CUED_STEPS = ("relax", "squeeze", "reference")
"""Steps the squeeze-test and calibration guides follow (their cues)."""
REP_STEPS = ("bridge", "single_leg_bridge", "stance")
"""Steps that are reps of a protocol (their side names the working leg)."""
CHECK_WINDOW_S = 8.0
"""Longest stretch of the first step the electrode check grades, s (the live quality window)."""
HOLD_SETTLE_S = 1.0
"""Stream time after a held step's end before it is measured, s: the IMU samples up to
its end have arrived by then whatever the link's block sizes."""


@dataclass(frozen=True)
class ProtocolResults:
    """What a protocol found, as the results screen and the terminal show it."""

    protocol: str
    """The protocol's name."""
    title: str
    """The protocol's title."""
    headline: str
    """The main finding in one line (big on the results screen)."""
    lines: tuple[str, ...]
    """Each further finding, one line each, with its unit."""
    figures: dict = field(default_factory=dict)
    """The findings as JSON-ready numbers and words (stored in the recording), e.g.
    ``{"reps": 10, "weaker_side": "left"}``."""
    at_s: float = 0.0
    """Stream time the results were computed at, s."""

    def to_event(self) -> dict:
        return {"protocol": self.protocol, "title": self.title, "headline": self.headline,
                "lines": list(self.lines), "figures": self.figures, "at_s": round(self.at_s, 6)}

    def text(self) -> str:
        """The results for the terminal."""
        return "\n".join([f"glutescope: {self.title} results: {self.headline}"] + [f"  {ln}" for ln in self.lines])


class ProtocolRunner:
    """Step through a protocol's schedule on the stream clock and compute its results.

    Parameters
    ----------
    protocol : Protocol
    steps : sequence of TimedStep
        The schedule on the stream clock (`glutescope.protocols.base.schedule`, or
        `steps_from_body` for the virtual wearable).
    """

    def __init__(self, protocol: Protocol, steps) -> None:
        self.protocol = protocol
        self.steps: tuple[TimedStep, ...] = tuple(steps)
        if not self.steps:
            raise ValueError(f"protocol {protocol.name!r}: steps must hold at least one step")
        self.end_s = self.steps[-1].end_s
        self.current: Optional[TimedStep] = None
        self.events: list[dict] = []
        """Step changes and the results, in stream order (JSON-ready)."""
        self.results: Optional[ProtocolResults] = None
        self.rep_figures: dict[tuple[float, float], dict] = {}
        """Per rep (start_s, end_s): the figures measured when it was found."""
        self.hold_figures: dict[int, dict] = {}
        """Per held step (its index): the figures measured when it ended."""
        self._next_hold = 0
        self.sitting_s = 0.0
        """Time the pelvis was tilted back as in sitting during the "sitting" steps, s."""
        self.sitting_measured = False
        """Some IMU samples of a "sitting" step were seen."""
        self.electrodes: Optional[tuple] = None
        """Signal quality per channel over the first step, before anything is scored
        (`glutesignal.quality.ChannelQuality`); None until graded, or when it could not be."""
        self._electrodes_due = True
        self._imu_seen = 0
        self._sit_spans = [(s.start_s, s.end_s) for s in self.steps if s.step.scored == "sitting"]

    # -- what the live processor needs to know ------------------------------------------------
    def cues(self) -> tuple[Cue, ...]:
        """The squeeze-test and calibration cues of the schedule (empty when it has none)."""
        if not any(s.name in ("squeeze", "reference") for s in self.steps):
            return ()
        return tuple(Cue(s.start_s, s.end_s, s.name if s.name in CUED_STEPS else "relax", s.side)
                     for s in self.steps)

    def rep_cues(self) -> tuple[Cue, ...]:
        """The one-sided reps the schedule cues, with their working leg."""
        return tuple(Cue(s.start_s, s.end_s, s.name, s.side) for s in self.steps
                     if s.name in REP_STEPS and s.side in ("left", "right"))

    def processor_options(self) -> dict:
        """Keyword arguments of `glutescope.live.LiveProcessor` for this schedule."""
        return dict(squeeze_cues=self.cues() or None, rep_cues=self.rep_cues(),
                    single_leg=self.protocol.single_leg, reps_move_pelvis=self.protocol.reps_move_pelvis)

    def step_at(self, t_s: float) -> tuple[Optional[TimedStep], float]:
        """The step in force at ``t_s`` and the seconds left in it (None outside the schedule)."""
        for step in self.steps:
            if step.start_s <= t_s < step.end_s:
                return step, step.end_s - t_s
        return None, 0.0

    @property
    def finished(self) -> bool:
        return self.results is not None

    def decision_times_s(self) -> tuple[float, ...]:
        """Stream times, s, from which `update` acts once (a step begins or ends, the
        electrode check, a hold is measured, the results): a caller feeding long blocks
        ends one at the first live block boundary at or after each, so `update` sees the
        stream where it would have seen it live."""
        times = {self.end_s + self.protocol.settle_s}
        for s in self.steps:
            times.update((s.start_s, s.end_s, s.end_s + HOLD_SETTLE_S))
        return tuple(sorted(times))

    def to_record(self) -> dict:
        """The protocol, its schedule and its events, for the recording's ``meta.json``."""
        return {"name": self.protocol.name, "title": self.protocol.title,
                "steps": [s.to_event() for s in self.steps], "events": list(self.events),
                "results": self.results.to_event() if self.results is not None else None}

    # -- driven by the live processor ---------------------------------------------------------
    def update(self, proc) -> bool:
        """Advance to the stream time ``proc`` has reached; True when the step or results changed."""
        fs = proc.state.emg_fs_hz
        t_s = proc.next_sample / fs
        changed = False
        step, _ = self.step_at(t_s)
        if step is not self.current:
            self.current = step
            changed = True
            if step is not None:
                self.events.append({"kind": "step", "emg_sample": int(round(step.start_s * fs)),
                                    **step.to_event()})
        if self._electrodes_due and t_s >= self.steps[0].end_s:
            self._check_electrodes(proc)
            changed = True
        self._measure_reps(proc)
        self._measure_holds(proc, t_s)
        if self._sit_spans:
            self._track_sitting(proc)
        if self.results is None and t_s >= self.end_s + self.protocol.settle_s:
            results = self._with_electrodes(self.protocol.results(proc, self), proc.state.channel_names)
            self.results = dataclasses.replace(results, at_s=t_s)
            self.events.append({"kind": "results", "emg_sample": int(proc.next_sample), **self.results.to_event()})
            changed = True
        return changed

    def _check_electrodes(self, proc) -> None:
        """Grade each channel over the first step (at most `CHECK_WINDOW_S`), once."""
        from glutesignal.quality import channel_quality

        self._electrodes_due = False
        fs = proc.state.emg_fs_hz
        first = self.steps[0]
        n = int(round(min(first.end_s - first.start_s, CHECK_WINDOW_S) * fs))
        if n < fs or proc.next_sample < n:
            return  # under 1 s of rest: too short to grade
        raw = proc.raw.latest(n).astype(float)
        conditioned = proc.state.emg.latest(n).astype(float)
        if raw.shape[1] < n or not (np.all(np.isfinite(raw)) and np.all(np.isfinite(conditioned))):
            return  # a gap in it: not graded
        self.electrodes = channel_quality(raw, conditioned, fs, mains_hz=proc.mains_hz, adc=proc.adc)
        self.events.append({"kind": "electrode_check", "emg_sample": int(proc.next_sample),
                            "grades": [q.grade for q in self.electrodes],
                            "reasons": [list(q.reasons) for q in self.electrodes]})

    def _with_electrodes(self, results: ProtocolResults, names) -> ProtocolResults:
        """The results with the electrode check beside them: a score from a bad electrode is flagged."""
        if self.electrodes is None:
            return dataclasses.replace(results, lines=("Electrode check: not done (under 1 s of rest at the start, "
                                                       "or a gap)",) + results.lines,
                                       figures={**results.figures, "electrodes": None})
        grades = {names[q.channel]: q.grade for q in self.electrodes}
        text = ", ".join(f"{names[q.channel].replace('_', ' ')} {q.grade}"
                         + (f" ({'; '.join(q.reasons)})" if q.reasons else "") for q in self.electrodes)
        poor = [names[q.channel].replace("_", " ") for q in self.electrodes if q.grade == "poor"]
        headline = (f"Check electrodes ({', '.join(poor)}) · " if poor else "") + results.headline
        return dataclasses.replace(results, headline=headline,
                                   lines=(f"Electrode check before scoring: {text}",) + results.lines,
                                   figures={**results.figures, "electrodes": grades})

    def _measure_reps(self, proc) -> None:
        measure = getattr(self.protocol, "measure_rep", None)
        stats = proc.state.stats
        for c, side in zip(stats.contractions, stats.rep_sides):
            key = (c.start_s, c.end_s)
            if key not in self.rep_figures:
                from glutescope.protocols import measures

                figures = measures.rep_figures(proc, c, side)
                if measure is not None:
                    figures.update(measure(proc, c, side))
                self.rep_figures[key] = figures

    def _measure_holds(self, proc, t_s: float) -> None:
        from glutescope.protocols import measures

        while self._next_hold < len(self.steps) and self.steps[self._next_hold].end_s + HOLD_SETTLE_S <= t_s:
            step = self.steps[self._next_hold]
            self._next_hold += 1
            if step.step.scored in ("stance", "activation"):
                self.hold_figures[step.index] = measures.hold_figures(proc, step.start_s, step.end_s, step.side)

    def _track_sitting(self, proc) -> None:
        """Count the new IMU samples inside a sitting step whose tilt says sitting."""
        from glutescope.protocols.measures import SIT_TILT_DEG

        state = proc.state
        if state.pelvis is None or state.imu_fs_hz <= 0:
            return
        ifs = state.imu_fs_hz
        end = proc.next_imu_sample
        if end <= self._imu_seen:
            return
        first, angles = state.pelvis.since(self._imu_seen)
        start = max(first, self._imu_seen)
        tilt = angles[0, start - first:end - first]
        t = (start + np.arange(tilt.size)) / ifs
        inside = np.zeros(tilt.size, bool)
        for a, b in self._sit_spans:
            inside |= (t >= a) & (t < b)
        valid = inside & np.isfinite(tilt)
        if valid.any():
            self.sitting_measured = True
            self.sitting_s += float(np.count_nonzero(valid & (tilt < -SIT_TILT_DEG))) / ifs
        self._imu_seen = end


def runner_for(protocol: Protocol, body=None) -> ProtocolRunner:
    """The runner of a new session: on the virtual body's script when it has one for the
    protocol, else the protocol's own schedule from stream time 0."""
    from glutescope.protocols.base import schedule, steps_from_body

    if body is not None and protocol.body_exercise is not None:
        return ProtocolRunner(protocol, steps_from_body(protocol, body))
    steps = protocol.virtual_steps if body is not None and protocol.virtual_steps else protocol.steps
    return ProtocolRunner(protocol, schedule(steps))


def runner_from_record(record) -> ProtocolRunner:
    """A fresh runner for the protocol and steps a recording stored (``meta.json`` "protocol"),
    to step through the recording again; ValueError naming what is wrong."""
    from glutescope.protocols import get

    try:
        protocol = get(str(record["name"]))
        steps = tuple(TimedStep.from_event(d) for d in record["steps"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"meta.json protocol must hold name and steps ({exc})") from None
    return ProtocolRunner(protocol, steps)
