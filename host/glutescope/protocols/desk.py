"""The desk wake-up call: sitting time from the pelvis IMU, a reminder each hour of sitting.

The session starts standing tall (the pelvis' reference posture), then the day at the
desk. Sitting is the pelvis tilted back from that posture as in a chair
(`glutesignal.sitting`), counted sample by sample from the IMU; a sitting period ends
after a minute up. Each hour of sitting in a period brings a reminder, and the wake-up it
asks for (a 30-s squeeze of both glutes or 10 bridges) is scored on the spot, from the
contractions the detector (`glutesignal.balance`) finds after the reminder: done as soon
as either is complete, not done when the next reminder comes first.
"""
from __future__ import annotations

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.results import side_finding
from glutescope.protocols.runner import WAKE_HOLD_S, WAKE_REPS, ProtocolResults, stream_clock
from glutesignal.sitting import BREAK_S, SIT_TILT_DEG

DAY_S = 8 * 3600.0
"""The sitting step: a working day; the reminders come from the IMU within it."""


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{int(seconds // 3600)} h {seconds % 3600 / 60:.0f} min"


def results(proc, runner) -> ProtocolResults:
    measured = runner.sitting_measured
    sitting_s = round(runner.sitting_s, 1)
    periods = list(runner.sitting_periods)
    wake = list(runner.wake_ups)
    done = [w for w in wake if w["done"]]
    figures: dict = {"sitting_s": sitting_s if measured else None,
                     "periods": periods if measured else None,
                     "longest_period_s": max((p["sitting_s"] for p in periods), default=0.0) if measured else None,
                     "reminders": [round(t, 3) for t in runner.reminders],
                     "remind_every_s": runner.remind_every_s,
                     "wake_ups": wake, "wake_ups_done": len(done)}
    lines = []
    if measured:
        lines.append(f"Sitting: {_minutes(sitting_s)} in {len(periods)} period{'s' if len(periods) != 1 else ''} "
                     f"(pelvis tilted back more than {SIT_TILT_DEG:g}°; a period ends after {BREAK_S:g} s up)")
        for i, p in enumerate(periods, 1):
            lines.append(f"  period {i}: from {stream_clock(p['start_s'])} to {stream_clock(p['end_s'])}, "
                         f"seated {_minutes(p['sitting_s'])}")
        lines.append(f"Reminders: {len(runner.reminders)} (one after each {_minutes(runner.remind_every_s)} of sitting)")
    else:
        lines.append("Sitting time: not measured (no pelvis IMU)")
    for w in wake:
        what = "a reminder" if w["by"] == "reminder" else "the schedule"
        lines.append(f"Wake-up asked at {stream_clock(w['asked_s'])} by {what}: "
                     + (f"done, {w['score']}/100" if w["done"] else f"not done, {w['score']}/100")
                     + f" ({w['held_s']:.0f} s of {WAKE_HOLD_S:g} s held, {w['reps']} of {WAKE_REPS} contractions)")
    weaker, sentence = side_finding(proc.state.stats)
    figures["weaker_side"] = weaker
    if done:
        lines.append(sentence)
    sat = f"sat {sitting_s / 60:.1f} min" if measured else "sitting not measured"
    head = (f"{sat} · {len(runner.reminders)} reminder{'s' if len(runner.reminders) != 1 else ''} · "
            f"wake-ups {len(done)}/{len(wake)} done")
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, head, tuple(lines), figures)


_STAND = Step("relax", "Stand tall for the reference posture", 5.0)
_SIT = Step("sit", "Sit and work: a reminder comes after each hour of sitting", DAY_S, "none", "sitting")
_WAKE = Step("wake_up", f"Wake-up: stand, squeeze BOTH glutes for {WAKE_HOLD_S:g} s (or {WAKE_REPS} bridges)",
             35.0, "both", "activation")

PROTOCOL = Protocol(
    name="desk", title="Desk wake-up call",
    steps=(_STAND, _SIT),
    results=results, body_exercise="desk",
    virtual_steps=(_STAND, _SIT, _WAKE),
    summary="Sitting time from the pelvis IMU, a reminder after each hour of sitting, the wake-up scored on the spot.")
