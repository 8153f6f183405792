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
from typing import NamedTuple, Optional

import numpy as np

from glutescope.guide import Cue
from glutescope.protocols.base import Protocol, TimedStep
from glutesignal.sitting import REMIND_EVERY_S

__all__ = ["Notice", "ProtocolResults", "ProtocolRunner", "stream_clock"]

CUED_STEPS = ("relax", "squeeze", "reference")
"""Steps the squeeze-test and calibration guides follow (their cues)."""
REP_STEPS = ("bridge", "single_leg_bridge", "stance")
"""Steps that are reps of a protocol (their side names the working leg)."""
CHECK_WINDOW_S = 8.0
"""Longest stretch of the first step the electrode check grades, s (the live quality window)."""
WAKE_HOLD_S = 30.0
"""A wake-up: 30 s of glute contraction ("squeeze the muscles for 30 seconds") ..."""
WAKE_REPS = 10
"""... or 10 contractions ("10 bodyweight glute bridges")."""
WAKE_REP_MIN_S = 1.0
"""Shortest contraction that counts for a wake-up, s (a bridge lasts several seconds;
a twitch on the chair does not count)."""
HOLD_SETTLE_S = 1.0
"""Stream time after a held step's end before it is measured, s (and then only once the
IMU has reached its end: `_imu_reached`)."""
IMU_WAIT_S = 1.5
"""Longest a rep or hold waits for the IMU to reach its end, in EMG stream time, s: under
the protocols' settle time (3 s), so the last rep is measured before the results."""


def _imu_reached(proc, end_s: float) -> bool:
    """The IMU has reached ``end_s`` on the stream clock, or will not in time to be waited for.

    Over the radio, IMU frames can arrive after the EMG of the same time; a figure taken
    before they have would lack the pelvis, and differ from the recording analysed again.
    After `IMU_WAIT_S` of EMG past ``end_s`` it is taken without them (an IMU gap).
    """
    state = proc.state
    if state.pelvis is None or state.imu_fs_hz <= 0:
        return True
    if proc.next_imu_sample >= int(round(end_s * state.imu_fs_hz)):
        return True
    return proc.next_sample / state.emg_fs_hz >= end_s + IMU_WAIT_S


def stream_clock(t_s: float) -> str:
    """A stream time as h:mm:ss from the session's start."""
    t = int(round(t_s))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"


def _sitting_text(seconds: float) -> str:
    """A sitting time as a person says it: "1 h", "1.5 h", "20 min", "45 s"."""
    if seconds >= 3600.0:
        return f"{round(seconds / 3600.0, 1):g} h"
    return f"{round(seconds / 60.0):.0f} min" if seconds >= 60.0 else f"{round(seconds):.0f} s"


class Notice(NamedTuple):
    """Something the person must be told now: a reminder to move, or a wake-up's score."""

    t_s: float
    """Stream time it came at, s."""
    text: str
    kind: str
    """"reminder" (stand up and do the wake-up), "wake_up_done" or "wake_up_not_done" (a
    wake-up scored: complete, or its time over first)."""

    def line(self) -> str:
        """The notice with its stream time, for the terminal."""
        return f"{stream_clock(self.t_s)} {self.text}"


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
    remind_every_s : float
        With a "sitting" step: the sitting time between reminders, s
        (`glutesignal.sitting.SittingTracker`); an hour unless a test asks otherwise.
    """

    def __init__(self, protocol: Protocol, steps, *, remind_every_s: float = REMIND_EVERY_S) -> None:
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
        self.remind_every_s = float(remind_every_s)
        self.sitting_s = 0.0
        """Time seated (pelvis tilted back as in sitting) since the first step ended, s."""
        self.sitting_measured = False
        """Some IMU samples were seen to measure sitting (the protocol has a "sitting" step)."""
        self.sitting_periods: list[dict] = []
        """Each sitting period ended so far: start_s, end_s, sitting_s (stream clock, s)."""
        self.reminders: list[float] = []
        """Stream times of the reminders to stand up (each ``remind_every_s`` of sitting), s."""
        self.wake_ups: list[dict] = []
        """Each wake-up asked (by a reminder or a "wake_up" step), scored when done or over."""
        self.notice: Optional[Notice] = None
        """What the screen shows now: the latest reminder until its wake-up is scored,
        then that score (until the next notice)."""
        self.notices: list[Notice] = []
        """Every notice so far, in stream order (the terminal prints each; a sound cue
        marks each reminder)."""
        self._sitting = None
        self._period_start: Optional[float] = None
        self._pending: list[dict] = []
        self._wake_used: set[float] = set()
        self.electrodes: Optional[tuple] = None
        """Signal quality per channel over the first step, before anything is scored
        (`glutesignal.quality.ChannelQuality`); None until graded, or when it could not be."""
        self._electrodes_due = True
        self._imu_seen = 0
        self._tracks_sitting = any(s.step.scored == "sitting" for s in self.steps)
        self._wake_steps = [s for s in self.steps if s.name == "wake_up"]

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
                "remind_every_s": self.remind_every_s,
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
        if self._tracks_sitting or self._wake_steps:
            changed |= self._track_desk(proc, t_s)
        if self.results is None and t_s >= self.end_s + self.protocol.settle_s:
            self._close_desk(proc, t_s)
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
            if key not in self.rep_figures and _imu_reached(proc, c.end_s):
                from glutescope.protocols import measures

                figures = measures.rep_figures(proc, c, side)
                if measure is not None:
                    figures.update(measure(proc, c, side))
                self.rep_figures[key] = figures

    def _measure_holds(self, proc, t_s: float) -> None:
        from glutescope.protocols import measures

        while (self._next_hold < len(self.steps) and self.steps[self._next_hold].end_s + HOLD_SETTLE_S <= t_s
               and _imu_reached(proc, self.steps[self._next_hold].end_s)):
            step = self.steps[self._next_hold]
            self._next_hold += 1
            if step.step.scored in ("stance", "activation"):
                self.hold_figures[step.index] = measures.hold_figures(proc, step.start_s, step.end_s, step.side)

    def _track_desk(self, proc, t_s: float) -> bool:
        """Sitting periods, reminders and the wake-ups they ask for, as the stream goes."""
        changed = False
        state = proc.state
        fs = state.emg_fs_hz
        if self._tracks_sitting and state.pelvis is not None and state.imu_fs_hz > 0:
            if self._sitting is None:
                from glutesignal.sitting import SittingTracker

                self._sitting = SittingTracker(state.imu_fs_hz, remind_every_s=self.remind_every_s)
                self._imu_seen = int(round(self.steps[0].end_s * state.imu_fs_hz))  # after the reference posture
            end = proc.next_imu_sample
            if end > self._imu_seen:
                first, angles = state.pelvis.since(self._imu_seen)
                start = max(first, self._imu_seen)
                events = self._sitting.update(start, angles[0, start - first:end - first])
                self._imu_seen = end
                self.sitting_measured = self._sitting.valid_n > 0
                self.sitting_s = self._sitting.sitting_s
                for ev in events:
                    changed = True
                    self._sitting_event(ev, fs)
        while self._wake_steps and self._wake_steps[0].start_s <= t_s:
            step = self._wake_steps.pop(0)
            # A wake-up the schedule asks for while a reminder's is still open is that one.
            if not any(w["by"] == "reminder" for w in self._pending):
                self._pending.append({"asked_s": step.start_s, "by": "step", "until_s": step.end_s + 1.0})
        changed |= self._score_wake_ups(proc, t_s)
        return changed

    def _sitting_event(self, ev, fs: float) -> None:
        """Record a `glutesignal.sitting.SittingEvent`; a reminder asks for a wake-up."""
        sample = int(round(ev.t_s * fs))
        if ev.kind == "reminder":
            self.reminders.append(float(ev.t_s))
            for w in self._pending:
                if w["by"] == "reminder" and w["until_s"] is None:
                    w["until_s"] = ev.t_s  # a new reminder: the last one's wake-up was not done
            self._pending.append({"asked_s": ev.t_s, "by": "reminder", "until_s": None})
            self._tell(Notice(float(ev.t_s), f"Time to move: {_sitting_text(ev.sitting_s)} sitting. Stand up: "
                                             f"squeeze BOTH glutes for {WAKE_HOLD_S:g} s, or do {WAKE_REPS} bridges",
                              "reminder"))
        elif ev.kind == "stood_up":
            start = self._period_start if self._period_start is not None else ev.t_s
            self.sitting_periods.append({"start_s": round(float(start), 3), "end_s": round(float(ev.t_s), 3),
                                         "sitting_s": round(ev.sitting_s, 1)})
            self._period_start = None
        else:
            self._period_start = float(ev.t_s)
        self.events.append({"kind": "sitting", "what": ev.kind, "emg_sample": sample,
                            "t_s": round(float(ev.t_s), 3), "sitting_s": round(float(ev.sitting_s), 1)})

    def _score_wake_ups(self, proc, t_s: float, final: bool = False) -> bool:
        """Score each wake-up asked: as soon as it is done, else when its time is over.

        A wake-up is `WAKE_HOLD_S` of contraction (a squeeze, or the reps' time under
        tension) or `WAKE_REPS` contractions of at least `WAKE_REP_MIN_S` each, started
        after it was asked; its score is the larger of the two shares, at most 100.
        """
        if not self._pending:
            return False
        contractions = [c for c in proc.state.stats.contractions
                        if c.duration_s >= WAKE_REP_MIN_S and c.start_s not in self._wake_used]
        changed = False
        for w in sorted(self._pending, key=lambda w: w["asked_s"]):
            until = w["until_s"]
            mine = [c for c in contractions if c.start_s >= w["asked_s"] - 1.0 and (until is None or c.start_s < until)
                    and c.start_s not in self._wake_used]
            held = sum(c.duration_s for c in mine)
            score = min(100.0, 100.0 * max(held / WAKE_HOLD_S, len(mine) / WAKE_REPS))
            over = final or (until is not None and t_s >= until + 2.0)
            if score >= 100.0 or over:
                done = score >= 100.0
                result = {"asked_s": round(w["asked_s"], 3), "by": w["by"], "reps": len(mine),
                          "held_s": round(held, 1), "score": round(score), "done": done,
                          "at_s": round(float(mine[-1].end_s if done else t_s), 3)}
                self.wake_ups.append(result)
                self._pending.remove(w)
                # A contraction wakes the glutes once: it is not credited to a later request.
                self._wake_used.update(c.start_s for c in mine)
                if done and self._sitting is not None:
                    self._sitting.restart_clock()  # the next reminder comes an hour of sitting from now
                self.events.append({"kind": "wake_up", "emg_sample": int(proc.next_sample), **result})
                text = (f"Wake-up {'done' if done else 'not done'}: {score:.0f}/100 "
                        f"({held:.0f} s held, {len(mine)} contractions)")
                # A wake-up given up because a newer reminder came: the screen keeps
                # that reminder (it is what to do now); the terminal still hears of it.
                newer = any(p["asked_s"] > w["asked_s"] for p in self._pending)
                self._tell(Notice(float(t_s), text, "wake_up_done" if done else "wake_up_not_done"), show=not newer)
                changed = True
        return changed

    def _tell(self, notice: Notice, show: bool = True) -> None:
        self.notices.append(notice)
        if show:
            self.notice = notice

    def _close_desk(self, proc, t_s: float) -> None:
        """At the results: score the wake-ups still open, close the sitting period under way."""
        if self._sitting is not None:
            for ev in self._sitting.finish():
                self._sitting_event(ev, proc.state.emg_fs_hz)
        self._score_wake_ups(proc, t_s, final=True)


def runner_for(protocol: Protocol, body=None, *, remind_every_s: float = REMIND_EVERY_S) -> ProtocolRunner:
    """The runner of a new session: on the virtual body's script when it has one for the
    protocol, else the protocol's own schedule from stream time 0."""
    from glutescope.protocols.base import schedule, steps_from_body

    if body is not None and protocol.body_exercise is not None:
        return ProtocolRunner(protocol, steps_from_body(protocol, body), remind_every_s=remind_every_s)
    steps = protocol.virtual_steps if body is not None and protocol.virtual_steps else protocol.steps
    return ProtocolRunner(protocol, schedule(steps), remind_every_s=remind_every_s)


def runner_from_record(record) -> ProtocolRunner:
    """A fresh runner for the protocol and steps a recording stored (``meta.json`` "protocol"),
    to step through the recording again; ValueError naming what is wrong."""
    from glutescope.protocols import get

    try:
        protocol = get(str(record["name"]))
        steps = tuple(TimedStep.from_event(d) for d in record["steps"])
        remind_every_s = float(record.get("remind_every_s", REMIND_EVERY_S))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"meta.json protocol must hold name and steps ({exc})") from None
    return ProtocolRunner(protocol, steps, remind_every_s=remind_every_s)
