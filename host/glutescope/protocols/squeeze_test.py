"""The standing squeeze test: relax, squeeze right, relax, squeeze left, relax, both, relax.

Each one-sided squeeze is scored by `glutescope.guide.SqueezeTestGuide`
(`glutesignal.scores.squeeze_quality`), which the live processor runs on the schedule's
squeeze and relax steps.
"""
from __future__ import annotations

from glutescope.guide import describe_score
from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.runner import ProtocolResults

RELAX_S = 4.0
SQUEEZE_S = 5.0


def results(proc, runner) -> ProtocolResults:
    stats = proc.state.stats
    scores = {s.side: s for s in stats.squeeze_scores}
    figures: dict = {"scores": {side: (round(s.total, 1) if s.detected else None) for side, s in scores.items()},
                     "weaker_side": stats.weaker_squeeze_side or "unknown"}
    lines = [describe_score(s) for s in stats.squeeze_scores]
    if stats.weaker_squeeze_side:
        head = (f"The {stats.weaker_squeeze_side.upper()} side is weaker: practise switching it on alone")
    else:
        head = "No weaker side named: a squeeze was not scored"
    parts = " · ".join(f"{side} {s.total:.0f}/100" for side, s in scores.items() if s.detected)
    if parts:
        head = f"{parts} · {head}"
    if stats.calibration is None:
        lines.append("Strength is relative to the stronger side (not calibrated)")
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, head, tuple(lines), figures)


def _squeeze(side: str) -> Step:
    what = "BOTH cheeks" if side == "both" else f"the {side.upper()} cheek only"
    return Step("squeeze", f"Squeeze {what}: leg and thigh still", SQUEEZE_S, side, "squeeze")


_RELAX = Step("relax", "Relax, stand still", RELAX_S)

PROTOCOL = Protocol(
    name="squeeze_test", title="Standing squeeze test",
    steps=(_RELAX, _squeeze("right"), _RELAX, _squeeze("left"), _RELAX, _squeeze("both"), _RELAX),
    results=results, body_exercise="squeeze_test",
    summary="Each cheek alone, then both: a 0-100 score per side with its parts, and the weaker side.")
