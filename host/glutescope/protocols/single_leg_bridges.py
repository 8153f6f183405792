"""Single-leg bridges: five on each leg, the working glute of each leg compared, hip drop per rep."""
from __future__ import annotations

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.results import headline_reps, rep_results
from glutescope.protocols.runner import ProtocolResults

TARGET_PCT = (50.0, 90.0)
"""Target band of the working glute, % of its reference: a single-leg bridge loads it
more than a two-legged one."""


def results(proc, runner) -> ProtocolResults:
    figures, lines = rep_results(proc, runner, single_leg=True)
    head = headline_reps(figures)
    if figures.get("hip_drop_flag"):
        head += " · hip drop on " + " and ".join(f"{s.upper()}-leg" for s in figures["hip_drop_flag"]) + " reps"
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, head, tuple(lines), figures)


def _leg(side: str) -> tuple[Step, Step]:
    return (Step("single_leg_bridge", f"Single-leg bridge on the {side.upper()} leg: hips level", 3.5, side,
                 "reps", TARGET_PCT),
            Step("relax", "Rest, both feet down", 2.0))


PROTOCOL = Protocol(
    name="single_leg_bridges", title="Single-leg bridges",
    steps=(Step("relax", "Lie on your back, knees bent, relax", 3.0),) + _leg("left") * 5 + _leg("right") * 5,
    results=results, body_exercise="single_leg_bridges", single_leg=True, reps_move_pelvis=True,
    summary="Five single-leg bridges per leg: the working glute of each leg, hip drop per rep.")
