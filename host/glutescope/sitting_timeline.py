"""The sitting and wake-up timeline of a recording: when the person sat, was reminded, woke up.

For the report of a day at the desk: the sitting periods, the reminders and the wake-ups
with their scores, as a list of small per-event results, never a day-long trace.

- A recording of the desk protocol (``meta.json`` "protocol" named "desk"): the events
  the protocol's runner found again while `glutescope.analysis` streamed the recording
  through the live pipeline (its results' figures), so the reminders listed are those
  the session gave, at the times it gave them.
- A recording of the desk exercise without the protocol: the sitting periods from the
  pelvis tilt (`glutesignal.sitting.SittingTracker`, fed by `glutescope.analysis` as it
  tracked the pelvis), with the
  moments a reminder would have been due; no reminder was given, and the timeline says so.
- Anything else: no timeline (the pelvis' reference posture is not standing in a bridge
  session, so its tilt cannot say "seated").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


from glutesignal.sitting import REMIND_EVERY_S

__all__ = ["SittingPeriod", "WakeUp", "SittingTimeline", "sitting_timeline"]

@dataclass(frozen=True)
class SittingPeriod:
    """One period seated (short stands inside it do not end it)."""

    start_s: float
    """First seated sample, s from the segment's start."""
    end_s: float
    """End of the last seated sample, s."""
    seated_s: float
    """Time seated within it, s."""


@dataclass(frozen=True)
class WakeUp:
    """One wake-up asked for, and how it went."""

    asked_s: float
    """When it was asked (the reminder, or the step of the schedule), s."""
    by: str
    """"reminder" or "step"."""
    done: bool
    """Done: 30 s of contraction or 10 contractions after it was asked."""
    score: float
    """0-100: the larger of held time / 30 s and contractions / 10, capped."""
    held_s: float
    """Contraction time counted for it, s."""
    reps: int
    """Contractions counted for it."""
    at_s: float
    """When it was scored, s."""


@dataclass(frozen=True)
class SittingTimeline:
    """The sitting and wake-up events of one segment, in time order."""

    source: str
    """"protocol" (the desk protocol's own events) or "pelvis" (sitting found in the pelvis
    tilt of a desk recording without the protocol: no reminders were given)."""
    periods: tuple[SittingPeriod, ...]
    reminders_s: tuple[float, ...]
    """Reminders given ("protocol"), or the moments one was due ("pelvis"), s."""
    wake_ups: tuple[WakeUp, ...]
    remind_every_s: float
    """Sitting time between reminders, s."""
    sitting_s: float
    """Time seated in all, s."""


def sitting_timeline(analysis) -> Optional[SittingTimeline]:
    """The timeline of one analysed segment (`glutescope.analysis.SegmentAnalysis`), or None.

    None when the segment is not a desk session, or when its sitting could not be
    measured (no pelvis IMU).
    """
    results = getattr(analysis, "protocol_results", None)
    if results is not None and results.protocol == "desk":
        f = results.figures
        if f.get("sitting_s") is None:
            return None
        periods = tuple(SittingPeriod(float(p["start_s"]), float(p["end_s"]), float(p["sitting_s"]))
                        for p in f.get("periods") or ())
        wakes = tuple(WakeUp(float(w["asked_s"]), str(w["by"]), bool(w["done"]), float(w["score"]),
                             float(w["held_s"]), int(w["reps"]), float(w["at_s"])) for w in f.get("wake_ups") or ())
        return SittingTimeline("protocol", periods, tuple(float(t) for t in f.get("reminders") or ()), wakes,
                               float(f.get("remind_every_s", REMIND_EVERY_S)), float(f["sitting_s"]))
    plan = getattr(analysis, "plan", None)
    if getattr(plan, "exercise", None) != "desk" or getattr(analysis, "sitting", None) is None:
        return None
    events, valid_n, remind_every_s, sitting_s = analysis.sitting  # fed the tilt as the analysis tracked it
    periods, start = [], None
    for ev in events:
        if ev.kind == "sat_down":
            start = ev.t_s
        elif ev.kind == "stood_up" and start is not None:
            periods.append(SittingPeriod(float(start), float(ev.t_s), float(ev.sitting_s)))
            start = None
    if valid_n == 0:
        return None
    return SittingTimeline("pelvis", tuple(periods), tuple(float(e.t_s) for e in events if e.kind == "reminder"),
                           (), remind_every_s, sitting_s)
