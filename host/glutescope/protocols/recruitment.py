"""The recruitment check: single-leg bridges with a hamstring (or lumbar erector) channel.

"If you feel it more in your lower back or hamstrings than your butt": for each rep on
the synergist's side, the working glute's mean envelope over the synergist's and which
of them fired first (`glutescope.protocols.measures.recruitment_figures`).
"""
from __future__ import annotations

import statistics

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.measures import recruitment_figures
from glutescope.protocols.runner import ProtocolResults

RATIO_GLUTE_LED = 1.0
"""Glute-to-synergist ratio (µV/µV) at or above which the glute is taken to lead."""
LEAD_FLAG_MS = 50.0
"""A synergist firing this much before the glute is reported as firing first, ms
(onsets are found to within a few tens of ms: tests/signal/test_onsets.py)."""


def measure_rep(proc, contraction, side: str) -> dict:
    names = proc.state.channel_names
    syn = next((n for n in names if n.rsplit("_", 1)[0] in ("hamstring", "lumbar_erector")), None)
    if syn is None or not syn.endswith("_" + side):
        return {}
    return recruitment_figures(proc, contraction, side)


def results(proc, runner) -> ProtocolResults:
    names = proc.state.channel_names
    syn = next((n for n in names if n.rsplit("_", 1)[0] in ("hamstring", "lumbar_erector")), None)
    figures: dict = {"synergist": syn, "ratio": None, "synergist_lead_ms": None, "verdict": "not measured"}
    if syn is None:
        return ProtocolResults(PROTOCOL.name, PROTOCOL.title, "No hamstring or lumbar channel worn: not measured",
                               ("Wear a third channel on the hamstring or lumbar erector (--channels)",), figures)
    reps = [f for f in runner.rep_figures.values() if "ratio" in f]
    leads = [f["synergist_lead_ms"] for f in reps if "synergist_lead_ms" in f]
    what = syn.rsplit("_", 1)[0].replace("_", " ")
    lines = []
    if not reps:
        return ProtocolResults(PROTOCOL.name, PROTOCOL.title, f"No rep on the {syn.rsplit('_', 1)[1]} leg measured",
                               (), figures)
    ratio = statistics.median(f["ratio"] for f in reps)
    figures["ratio"] = round(ratio, 2)
    figures["reps"] = len(reps)
    glute_led = ratio >= RATIO_GLUTE_LED
    lead = statistics.median(leads) if leads else None
    figures["synergist_lead_ms"] = None if lead is None else round(lead, 0)
    figures["verdict"] = "glute-led" if glute_led and (lead is None or lead < LEAD_FLAG_MS) else f"{what} takes over"
    lines.append(f"Glute-to-{what} ratio {ratio:.2f} (median of {len(reps)} reps; µV/µV of two muscles, "
                 "a rough sign of who works, not a normalised share)")
    if lead is None:
        lines.append("Firing order: an onset was not found")
    elif lead >= LEAD_FLAG_MS:
        lines.append(f"Firing order: the {what}'s onset is detected {lead:.0f} ms before the glute's")
    elif lead <= -LEAD_FLAG_MS:
        lines.append(f"Firing order: the glute's onset is detected {-lead:.0f} ms before the {what}'s")
    else:
        lines.append(f"Firing order: together (within {LEAD_FLAG_MS:.0f} ms; {what} minus glute onset "
                     f"{-lead:+.0f} ms)")
    if lead is not None:
        lines.append("(onsets by threshold: a muscle rising to a smaller share of its range is detected "
                     "later, even on the same drive)")
    head = ("Glute-led: the glute does the work" if figures["verdict"] == "glute-led"
            else f"The {what} takes over: feel the glute, slow the lift")
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, f"{head} · ratio {ratio:.2f}", tuple(lines), figures)


def _leg(side: str) -> tuple[Step, Step]:
    return (Step("single_leg_bridge", f"Single-leg bridge on the {side.upper()} leg: drive through the heel",
                 3.5, side, "reps"), Step("relax", "Rest, both feet down", 2.0))


PROTOCOL = Protocol(
    name="recruitment", title="Recruitment check",
    steps=(Step("relax", "Lie on your back, knees bent, relax", 3.0),) + _leg("left") * 5 + _leg("right") * 5,
    results=results, body_exercise="single_leg_bridges", single_leg=True, reps_move_pelvis=True,
    measure_rep=measure_rep, channels=("glute_max_left", "glute_max_right", "hamstring_left"),
    summary="Single-leg bridges with a hamstring or lumbar channel: glute-to-synergist ratio, firing order.")
