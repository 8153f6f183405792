"""Gluteus medius set: single-leg stance (hip drop, wobble), clamshells, lateral band walk.

Hip drop and wobble come from the pelvis IMU over each stance
(`glutesignal.stance.hold_pelvis`); the clamshells and the band walk report each side's
mean envelope over the step (glute medius channels when worn, else glute max), µV.
"""
from __future__ import annotations

from glutescope.protocols.base import Protocol, Step
from glutescope.protocols.results import HIP_DROP_FLAG_DEG, side_finding
from glutescope.protocols.runner import ProtocolResults


def results(proc, runner) -> ProtocolResults:
    names = proc.state.channel_names
    figures: dict = {"stance": {}, "hip_drop_flag": [], "activation_uV": {}}
    lines: list[str] = []
    for step in runner.steps:
        held = runner.hold_figures.get(step.index)
        if held is None:
            continue
        if step.step.scored == "stance":
            if "hip_drop_deg" not in held:
                lines.append(f"Stance on the {step.side.upper()} leg: hip drop not measured (no pelvis IMU, or a gap)")
                continue
            drop, wobble = held["hip_drop_deg"], held["wobble_deg"]
            flag = drop > HIP_DROP_FLAG_DEG
            figures["stance"][step.side] = {"hip_drop_deg": round(drop, 1), "wobble_deg": round(wobble, 1)}
            if flag:
                figures["hip_drop_flag"].append(step.side)
            lines.append(f"Stance on the {step.side.upper()} leg: hip drop {drop:.1f}° (other side down), "
                         f"wobble {wobble:.1f}°" + (" - flagged: Trendelenburg sign" if flag else ""))
        elif "mean_uV" in held:
            rows = [i for i, n in enumerate(names) if n.startswith("glute_med_")] or \
                   [i for i, n in enumerate(names) if n.startswith("glute_max_")]
            amps = {names[i]: held["mean_uV"][i] for i in rows}
            figures["activation_uV"][f"{step.name}_{step.side}"] = amps
            lines.append(f"{step.step.name.replace('_', ' ').capitalize()} ({step.side}): " + ", ".join(
                f"{n.replace('_', ' ')} {v:.0f} µV" for n, v in amps.items()) + " (µV, not normalised)")
    weaker, sentence = side_finding(proc.state.stats)
    figures["weaker_side"] = weaker
    lines.append(sentence)
    flagged = figures["hip_drop_flag"]
    head = ("Hip drop standing on the " + " and ".join(s.upper() for s in flagged) + " leg"
            if flagged else "No hip drop flagged")
    if figures["stance"]:
        head += " · " + ", ".join(f"{s} {v['hip_drop_deg']:.0f}°" for s, v in figures["stance"].items())
    return ProtocolResults(PROTOCOL.name, PROTOCOL.title, head, tuple(lines), figures)


def _stance(side: str) -> Step:
    return Step("stance", f"Stand on the {side.upper()} leg: hips level, hold", 10.0, side, "stance")


def _side_steps(name: str, cue: str, duration_s: float) -> tuple[Step, ...]:
    return tuple(Step(name, cue.replace("SIDE", side.upper()), duration_s, side, "activation")
                 for side in ("left", "right"))


_REST = Step("relax", "Stand on both legs, relax", 3.0)

PROTOCOL = Protocol(
    name="medius", title="Gluteus medius set",
    steps=(_REST, _stance("left"), _REST, _stance("right"), _REST)
    + _side_steps("clamshell", "Clamshells lying on your side, SIDE knee up and down", 20.0) + (_REST,)
    + _side_steps("band_walk", "Lateral band walk, leading with the SIDE leg", 15.0) + (_REST,),
    results=results, body_exercise="medius", single_leg=True,
    channels=("glute_max_left", "glute_max_right"),
    summary="Single-leg stance with hip drop and wobble, clamshells, lateral band walk.")
