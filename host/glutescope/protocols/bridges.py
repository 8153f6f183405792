"""Glute bridges: a set of ten, both glutes, counted rep by rep with left/right per rep."""
from __future__ import annotations

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.results import headline_reps, rep_results
from glutescope.protocols.runner import ProtocolResults

TARGET_PCT = (40.0, 80.0)
"""Target band of each glute during a bridge, % of its reference contraction: a working
set, below the maximal squeeze of the calibration."""


def results(proc, runner) -> ProtocolResults:
    figures, lines = rep_results(proc, runner, single_leg=False)
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, headline_reps(figures), tuple(lines), figures)


_REP = Step("bridge", "Bridge: lift the hips, squeeze BOTH glutes, hold, lower", 4.5, "both", "reps", TARGET_PCT)
_REST = Step("relax", "Rest on your back, glutes relaxed", 2.0)

PROTOCOL = Protocol(
    name="bridges", title="Glute bridges",
    steps=(Step("relax", "Lie on your back, knees bent, relax", 3.0),) + (_REP, _REST) * 10,
    results=results, body_exercise="bridges", reps_move_pelvis=True,
    summary="Ten two-legged bridges: reps, each glute per rep, target band, time under tension.")
