"""The guided standing squeeze test: cues on the stream's clock, a score per squeeze.

The test (relax, squeeze right, relax, squeeze left, relax, both, relax) asks for each
cheek alone without moving the leg or tensing the thigh. Cues are timed on the EMG
stream's own clock (sample index / rate), so what the person was asked and what the
electrodes measured line up exactly, whatever the link's delay. Each one-sided
squeeze is scored by `glutesignal.scores.squeeze_quality` once the relaxation after it
has been observed; strength is relative to the stronger side's rise (or, once the
person is calibrated, in % of each side's reference), so both sides' scores are final
once both squeezes are in. A squeeze without a detected contraction has no score and
shows why; nothing a person does makes the guide raise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from glutesignal.scores import SqueezeScore, not_scored, squeeze_quality

BASELINE_S = 2.0  # rest before each cue used as baseline (within the preceding relax)
AFTER_S = 3.0  # time after the relax cue searched for relaxation


@dataclass(frozen=True)
class Cue:
    """One cued phase of the test."""

    start_s: float
    """When the cue is given, seconds on the stream clock."""
    end_s: float
    """When the next cue is given, seconds."""
    name: str
    """"relax", "squeeze" (the squeeze test), "reference" (a calibration hold) or a rep
    of the protocol ("bridge", "single_leg_bridge")."""
    side: str
    """"left", "right", "both", or "none" for relax; for a single-leg rep, the working leg."""

    def instruction(self) -> str:
        if self.name == "squeeze":
            what = "BOTH cheeks" if self.side == "both" else f"the {self.side.upper()} cheek only"
            return f"Squeeze {what}: leg and thigh still"
        if self.name == "reference":
            return f"Reference: squeeze the {self.side.upper()} glute as hard as you can, hold"
        if self.name == "single_leg_bridge":
            return f"Single-leg bridge on the {self.side.upper()} leg"
        if self.name == "bridge":
            return "Bridge"
        return "Relax"


def squeeze_test_cues(t0_s: float = 0.0, relax_s: float = 4.0, squeeze_s: float = 5.0) -> tuple[Cue, ...]:
    """The standard schedule, starting at ``t0_s`` on the stream clock."""
    order = [("relax", "none"), ("squeeze", "right"), ("relax", "none"), ("squeeze", "left"),
             ("relax", "none"), ("squeeze", "both"), ("relax", "none")]
    cues, t = [], t0_s
    for name, side in order:
        length = squeeze_s if name == "squeeze" else relax_s
        cues.append(Cue(t, t + length, name, side))
        t += length
    return tuple(cues)


def session_cues(exercise: str, body_phases=None) -> tuple[Cue, ...]:
    """The cued phases (squeeze test, calibration) a session shows, if it runs them.

    With the virtual wearable the body follows its script's phases, which are then the
    cues the app shows (``body_phases``); with a real wearable the exercise
    "squeeze_test" runs the standard schedule, and "calibration" the reference holds
    (`glutescope.calibration.calibration_cues`).
    """
    if body_phases is not None:
        # Only a squeeze test's or a calibration's phases are cues the guides follow; other
        # scripts' phases (the medius set's steps, the desk's sitting) are protocol steps.
        if not any(p.name in ("squeeze", "reference") for p in body_phases):
            return ()
        return tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in body_phases)
    if exercise == "calibration":
        from glutescope.calibration import calibration_cues

        return calibration_cues()
    return squeeze_test_cues() if exercise == "squeeze_test" else ()


def session_rep_cues(body_reps=None) -> tuple[Cue, ...]:
    """The one-sided reps a protocol cues (their working leg), e.g. the virtual body's script.

    A single-leg rep's working side comes from here when the protocol says it, else from
    the pelvis IMU (`glutescope.live`), never from the EMG. Real sessions have no rep
    cues until the protocol runner gives them.
    """
    # The reps of one leg the runner counts (`glutescope.protocols.runner.REP_STEPS`); a
    # clamshell or a band-walk step is not a rep of the glute comparison.
    return tuple(Cue(r.start_s, r.end_s, r.kind, r.side) for r in (body_reps or ())
                 if r.side in ("left", "right") and r.kind in ("bridge", "single_leg_bridge", "stance"))


class SqueezeTestGuide:
    """Follow a cue schedule and score each one-sided squeeze as soon as it can be scored.

    Parameters
    ----------
    cues : sequence of Cue
        The schedule, in time order.
    fs_hz : float
        Envelope sampling rate, Hz.
    """

    def __init__(self, cues, fs_hz: float, imu_fs_hz: float = 0.0, *, reference_uV=None) -> None:
        self.cues = tuple(cues)
        if not self.cues:
            raise ValueError("cues must hold at least one phase")
        self.fs_hz = float(fs_hz)
        self.imu_fs_hz = float(imu_fs_hz)
        self._windows: dict[str, tuple[np.ndarray, float, float]] = {}
        self._pelvis: dict[str, tuple[np.ndarray, float]] = {}  # side -> ((3, n) angles, start on the window axis)
        self.scores: dict[str, SqueezeScore] = {}
        """Latest score per side ("left", "right")."""
        self.reference_uV = None if reference_uV is None else tuple(float(v) for v in reference_uV)
        """Calibrated reference amplitude (left, right) above rest, µV: strength in % of it."""
        self._pending = [c for c in self.cues if c.name == "squeeze" and c.side in ("left", "right")]

    def cue_at(self, t_s: float) -> tuple[Optional[Cue], float]:
        """The cue in force at ``t_s`` and the seconds left in it (None after the test)."""
        for cue in self.cues:
            if cue.start_s <= t_s < cue.end_s:
                return cue, cue.end_s - t_s
        return None, 0.0

    @property
    def finished(self) -> bool:
        return not self._pending

    def update(self, t_s: float, envelope_since: Callable[[int], tuple[int, np.ndarray]],
               pelvis_since: Optional[Callable[[int], tuple[int, np.ndarray]]] = None) -> bool:
        """Score every squeeze whose relaxation window has passed by ``t_s``.

        ``envelope_since(index)`` returns ``(first_index, envelope (2, n))`` from the
        live ring (left, right rows); ``pelvis_since(index)`` likewise the pelvis angles
        (tilt, obliquity, rotation in degrees, (3, n) at ``imu_fs_hz``), which add pelvis
        motion to the isolation score. Returns True when a score changed.
        """
        changed = False
        for cue in list(self._pending):
            if t_s < cue.end_s + AFTER_S:
                continue
            self._pending.remove(cue)
            first = int(round((cue.start_s - BASELINE_S) * self.fs_hz))
            start, env = envelope_since(max(first, 0))
            if start > max(first, 0) or env.shape[1] == 0 or not np.all(np.isfinite(env)):
                continue  # the window is no longer (or not entirely) there: no score
            t_start = start / self.fs_hz
            self._windows[cue.side] = (np.asarray(env, float), cue.start_s - t_start, cue.end_s - t_start)
            if pelvis_since is not None and self.imu_fs_hz > 0:
                i_first = int(np.floor(max(t_start, 0.0) * self.imu_fs_hz))
                i_start, angles = pelvis_since(i_first)
                t_imu = i_start / self.imu_fs_hz
                if angles.shape[1] and t_imu <= cue.start_s and np.all(np.isfinite(angles)):
                    self._pelvis[cue.side] = (np.asarray(angles, float), t_imu - t_start)
            changed = True
        if changed:
            self._score_all()
        return changed

    def _score(self, side: str, reference_peak: Optional[float]) -> SqueezeScore:
        env, cue_s, relax_s = self._windows[side]
        pelvis = {}
        if side in self._pelvis:
            angles, start_s = self._pelvis[side]
            pelvis = dict(tilt_deg=angles[0], obliquity_deg=angles[1], rotation_deg=angles[2],
                          imu_fs_hz=self.imu_fs_hz, imu_start_s=start_s)
        try:
            return squeeze_quality(env, self.fs_hz, side=side, cue_s=cue_s, relax_cue_s=relax_s,
                                   baseline_s=BASELINE_S, after_s=AFTER_S, reference_peak=reference_peak,
                                   mvc=self.reference_uV, **pelvis)
        except ValueError as exc:
            # A window the schedule cut short (a cue too early for its baseline, say):
            # the session goes on, and the squeeze shows why it has no score.
            return not_scored(side, f"not scored: {exc}")

    def set_reference(self, reference_uV) -> None:
        """Use a calibration (left, right reference above rest, µV) for strength from now on."""
        self.reference_uV = None if reference_uV is None else tuple(float(v) for v in reference_uV)
        if self._windows:
            self._score_all()

    def _score_all(self) -> None:
        first = {side: self._score(side, None) for side in self._windows}
        # The stronger side is the reference only among squeezes that were contractions:
        # a side that never rose (or fell) is not a yardstick for the other.
        rises = [s.amplitude for s in first.values() if s.detected]
        reference = max(rises) if len(first) == 2 and rises else None
        for side in self._windows:
            self.scores[side] = self._score(side, reference) if first[side].detected else first[side]

    def weaker_side(self) -> Optional[str]:
        """The side with the lower total once both are scored (None unless both squeezes were detected)."""
        if len(self.scores) < 2 or not all(s.detected for s in self.scores.values()):
            return None
        return min(self.scores, key=lambda side: self.scores[side].total)


def describe_score(score: SqueezeScore) -> str:
    """'right 92/100 (strength 100, speed 95, ...)', or 'left: no score (why)'."""
    if not score.detected:
        return f"{score.side}: no score ({score.reason})"
    return (f"{score.side} {score.total:.0f}/100 (strength {score.strength:.0f}, speed {score.speed:.0f}, "
            f"steadiness {score.steadiness:.0f}, relaxation {score.relaxation:.0f}, "
            f"isolation {score.isolation:.0f})")
