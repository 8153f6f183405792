"""The calibration: rest, then three maximal holds per side (right, then left).

Each glute's reference is computed by `glutescope.calibration.CalibrationGuide`, which
the live processor runs on the schedule's "reference" steps; a later session reuses it
with ``--calibration THIS.glutes``.
"""
from __future__ import annotations

import math

from glutescope.calibration import HOLD_S, REST_S, TRIALS
from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.runner import ProtocolResults


def results(proc, runner) -> ProtocolResults:
    stats = proc.state.stats
    cal = stats.calibration
    note = stats.calibration_note or "calibration: no hold could be measured"
    figures: dict = {"usable": cal is not None}
    if cal is not None:
        figures["reference_uV"] = [round(v, 1) for v in cal.reference_uV]
        figures["cv_pct"] = [round(v, 1) if math.isfinite(v) else None for v in cal.cv_pct]
        figures["redo"] = list(cal.redo_sides())
        head = ("Calibrated: redo the " + " and ".join(cal.redo_sides()) + " side" if cal.redo_sides()
                else "Calibrated: both sides repeatable")
    else:
        head = "Not calibrated: a side has no reference"
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, head, (note[0].upper() + note[1:],), figures)


def _holds(side: str) -> tuple[Step, ...]:
    hold = Step("reference", f"Reference: squeeze the {side.upper()} glute as hard as you can, hold", HOLD_S,
                side, "reference")
    return (hold, Step("relax", "Relax", REST_S)) * TRIALS


PROTOCOL = Protocol(
    name="calibration", title="Calibration",
    steps=(Step("relax", "Stand still, relax", REST_S),) + _holds("right") + _holds("left"),
    results=results, body_exercise="calibration", settle_s=1.0,
    summary="Three maximal holds per side: each glute's reference, so left/right compares muscles.")
