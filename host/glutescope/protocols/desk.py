"""The desk wake-up call: sitting time from the pelvis IMU, an hourly reminder, a 30-s wake-up.

The session starts standing tall (the pelvis' reference posture); sitting is the pelvis
tilted back (posterior) by more than `SIT_TILT_DEG` from it, counted sample by sample
from the IMU over the sitting step (`glutescope.protocols.runner`). The sitting step
lasts an hour and ends on the reminder; the wake-up is three 5-s squeezes of both
glutes, each counted when the contraction detector (`glutesignal.balance`) finds it.
"""
from __future__ import annotations

from dataclasses import replace

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.measures import SIT_TILT_DEG
from glutescope.protocols.results import side_finding
from glutescope.protocols.runner import ProtocolResults

SIT_S = 3600.0
"""The sitting step: the reminder comes after an hour."""
WAKE_SQUEEZES = 3


def results(proc, runner) -> ProtocolResults:
    stats = proc.state.stats
    sit_steps = [s for s in runner.steps if s.step.scored == "sitting"]
    sitting_s = round(runner.sitting_s, 1)
    span_s = sum(s.end_s - s.start_s for s in sit_steps)
    wake = [s for s in runner.steps if s.name == "wake_squeeze"]
    found = [c for c in stats.contractions
             if any(w.start_s <= 0.5 * (c.start_s + c.end_s) < w.end_s + 1.0 for w in wake)]
    figures: dict = {"sitting_s": sitting_s if runner.sitting_measured else None, "sit_step_s": round(span_s, 1),
                     "wake_squeezes": len(found), "wake_asked": len(wake)}
    lines = []
    if runner.sitting_measured:
        lines.append(f"Sitting: {sitting_s:.0f} s of {span_s:.0f} s (pelvis tilted back more than {SIT_TILT_DEG:g}°)")
    else:
        lines.append("Sitting time: not measured (no pelvis IMU)")
    lines.append(f"Wake-up: {len(found)} of {len(wake)} squeezes found")
    weaker, sentence = side_finding(stats)
    figures["weaker_side"] = weaker
    if found:
        lines.append(sentence)
    sat = f"sat {sitting_s / 60:.1f} min" if runner.sitting_measured else "sitting not measured"
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, f"{sat} · wake-up {len(found)}/{len(wake)} squeezes",
                           tuple(lines), figures)


def _wake() -> tuple[Step, ...]:
    return (Step("wake_squeeze", "Wake-up: stand, squeeze BOTH glutes hard", 5.0, "both", "activation"),
            Step("relax", "Relax", 5.0)) * WAKE_SQUEEZES


_STAND = Step("relax", "Stand tall for the reference posture", 5.0)
_SIT = Step("sit", "Sit and work: a reminder comes after an hour", SIT_S, "none", "sitting")

PROTOCOL = Protocol(
    name="desk", title="Desk wake-up call",
    steps=(_STAND, _SIT, Step("relax", "Time to move: stand up", 5.0)) + _wake(),
    results=results, body_exercise=None,
    virtual_steps=(_STAND, replace(_SIT, duration_s=15.0), Step("relax", "Time to move: stand up", 5.0)) + _wake(),
    summary="Sitting time from the pelvis IMU, a reminder after each hour, a 30-s squeeze wake-up.")
