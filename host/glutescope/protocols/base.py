"""A protocol as data: steps with a cue, a duration, a side, a target and what is scored.

A protocol is declared once (one small module per protocol in this package) and run by
one runner (`glutescope.protocols.runner.ProtocolRunner`) on the EMG stream's sample
clock, in the window, headless and when a recording is analysed again, so all three
step through it identically. The virtual wearable's body follows its own script: for
it, the steps are laid on that script's reps and phases (`steps_from_body`), so what the
screen asks is what the body does.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

__all__ = ["Step", "TimedStep", "Protocol", "schedule", "steps_from_body", "with_target", "SCORED"]

SCORED = ("nothing", "reps", "squeeze", "reference", "stance", "activation", "sitting")
"""What a step can score: nothing (rest), reps (bridges: count, L/R, hip drop, time
under tension), squeeze (the squeeze test's score), reference (a calibration hold),
stance (hip drop and wobble from the pelvis IMU), activation (mean envelope per side),
sitting (time seated from the pelvis IMU)."""

SIDES = ("left", "right", "both", "none")


@dataclass(frozen=True)
class Step:
    """One step of a protocol, before it is placed on the stream clock."""

    name: str
    """What is done: "relax", "bridge", "single_leg_bridge", "squeeze", "reference",
    "stance", "clamshell", "band_walk", "sit"."""
    cue: str
    """The instruction shown (and spoken as a cue tone) when the step starts."""
    duration_s: float
    """How long the step lasts, s (> 0)."""
    side: str = "none"
    """"left", "right", "both" or "none": the side asked (for one leg: the working leg)."""
    scored: str = "nothing"
    """What the step scores (one of `SCORED`)."""
    target_pct: Optional[tuple[float, float]] = None
    """Target band of each glute's activation in % of its reference (low, high), shown as
    a band on the bars once calibrated; None: no target."""

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"step {self.name!r}: duration_s must be > 0 s, got {self.duration_s!r}")
        if self.side not in SIDES:
            raise ValueError(f"step {self.name!r}: side must be one of {SIDES}, got {self.side!r}")
        if self.scored not in SCORED:
            raise ValueError(f"step {self.name!r}: scored must be one of {SCORED}, got {self.scored!r}")
        if self.target_pct is not None and not 0 <= self.target_pct[0] < self.target_pct[1]:
            raise ValueError(f"step {self.name!r}: target_pct must be (low, high) with 0 <= low < high, "
                             f"got {self.target_pct!r}")


@dataclass(frozen=True)
class TimedStep:
    """A step placed on the stream clock."""

    index: int
    """Position in the schedule, from 0."""
    start_s: float
    """Start on the EMG stream clock (sample index / rate), s."""
    end_s: float
    """End (the next step's start), s."""
    step: Step

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def side(self) -> str:
        return self.step.side

    def to_event(self) -> dict:
        """A JSON-ready mapping for the recording's events."""
        s = self.step
        return {"index": self.index, "start_s": round(self.start_s, 6), "end_s": round(self.end_s, 6),
                "name": s.name, "cue": s.cue, "side": s.side, "scored": s.scored,
                "target_pct": list(s.target_pct) if s.target_pct else None}

    @classmethod
    def from_event(cls, d) -> "TimedStep":
        """Inverse of :meth:`to_event`; ValueError naming what is wrong."""
        try:
            target = tuple(float(v) for v in d["target_pct"]) if d.get("target_pct") else None
            return cls(int(d["index"]), float(d["start_s"]), float(d["end_s"]),
                       Step(str(d["name"]), str(d["cue"]), float(d["end_s"]) - float(d["start_s"]),
                            str(d["side"]), str(d["scored"]), target))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a protocol step needs index, start_s, end_s, name, cue, side, scored; "
                             f"got {d!r} ({exc})") from None


@dataclass(frozen=True)
class Protocol:
    """A protocol: its steps and how its results are computed."""

    name: str
    """Command-line name, e.g. "bridges"."""
    title: str
    """Shown as the session's title."""
    steps: tuple[Step, ...]
    """The steps in order, for a real wearable (and the default schedule)."""
    results: Callable
    """``results(proc, runner) -> ProtocolResults`` (`glutescope.protocols.runner`), called
    once, `settle_s` after the last step has ended."""
    body_exercise: Optional[str] = None
    """The virtual wearable's body-model script that performs this protocol (None: the
    body model has none, the virtual wearable runs the default schedule at rest)."""
    single_leg: bool = False
    """Reps are single-leg: the symmetry compares the working glute of each leg's reps."""
    reps_move_pelvis: bool = False
    """A rep must tilt the pelvis into a bridge when the IMU is worn."""
    channels: tuple[str, ...] = ("glute_max_left", "glute_max_right")
    """The channel map the protocol asks for by default."""
    needs: tuple[str, ...] = ("glute_max_left", "glute_max_right")
    """Channels without which the protocol cannot be scored."""
    settle_s: float = 3.0
    """Stream time after the last step before the results are computed, s (the detectors
    report a contraction at its offset, and the squeeze test scores the relaxation)."""
    summary: str = ""
    """One sentence: what the protocol is for."""
    virtual_steps: Optional[tuple[Step, ...]] = None
    """Steps a virtual-wearable run uses when the body model has no script for the
    protocol (None: `steps`), e.g. a sitting step short enough to watch."""
    measure_rep: Optional[Callable] = None
    """``measure_rep(proc, contraction, side) -> dict``: extra figures of each rep, taken
    when the rep is found (`glutescope.protocols.measures`); None: the common ones only."""


def with_target(protocol: Protocol, target_pct: tuple[float, float]) -> Protocol:
    """``protocol`` with ``target_pct`` (low, high, % of reference) on every step that has a
    target: the person's own band instead of the protocol's."""
    steps = tuple(replace(s, target_pct=tuple(target_pct)) if s.target_pct is not None else s
                  for s in protocol.steps)
    return replace(protocol, steps=steps)


def schedule(steps, t0_s: float = 0.0) -> tuple[TimedStep, ...]:
    """Place ``steps`` end to end from ``t0_s`` on the stream clock."""
    out, t = [], float(t0_s)
    for i, step in enumerate(steps):
        out.append(TimedStep(i, t, t + step.duration_s, step))
        t += step.duration_s
    return tuple(out)


def _template(protocol: Protocol, name: str, side: str) -> Step:
    """The protocol's step of this kind for ``side`` (its cue re-worded for the side)."""
    same = [s for s in protocol.steps + (protocol.virtual_steps or ()) if s.name == name]
    for step in same:
        if step.side == side:
            return step
    if same:
        step = same[0]
        cue = step.cue
        if side in ("left", "right"):
            for word in ("LEFT", "RIGHT"):
                cue = cue.replace(word, side.upper())
        return replace(step, side=side, cue=cue)
    return Step(name, name.replace("_", " ").capitalize(), 1.0, side if side in SIDES else "none")


def steps_from_body(protocol: Protocol, body) -> tuple[TimedStep, ...]:
    """The protocol's steps laid on a body-model session's script (the virtual wearable).

    The body's cued phases (squeeze test, calibration) and its reps become steps with the
    protocol's cue text, side and target for that kind of step; the time between them is
    rest. So the screen asks exactly what the simulated person does, when they do it.
    """
    events = [(p.start_s, p.end_s, p.name, p.side) for p in body.phases]
    phase_spans = [(p.start_s, p.end_s) for p in body.phases]
    for r in body.reps:
        if any(a <= r.start_s < b for a, b in phase_spans):
            continue  # a squeeze of the cued test is its phase already
        events.append((r.start_s, r.end_s, r.kind, r.side))
    events.sort()
    out: list[TimedStep] = []
    t = 0.0
    for start, end, name, side in events:
        if start > t + 1e-9:
            out.append(TimedStep(len(out), t, start, _template(protocol, "relax", "none")))
        step = _template(protocol, name, side)
        out.append(TimedStep(len(out), start, end, replace(step, duration_s=end - start)))
        t = end
    if body.duration_s > t + 1e-9:
        out.append(TimedStep(len(out), t, body.duration_s, _template(protocol, "relax", "none")))
    return tuple(out)
