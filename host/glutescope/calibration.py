"""Per-side calibration: a reference contraction of each glute, so left/right compares muscles.

Between-side µV differences are dominated by the electrodes (position over the
innervation zone, inter-electrode distance, skin and fat: Burden 2010), so the
left/right symmetry index and the squeeze score's strength are only a muscle finding
once each side is expressed against its own reference contraction. The calibration
is a guided step sequence run on the stream clock like the squeeze test: rest, then
three maximal holds per side (right, then left) of the standing glute squeeze, the
gluteus maximus MVIC position that Contreras et al. (2015) compared with the prone
bent-leg hip extension. Each side's reference is its best hold's amplitude above the
rest before it, the mean envelope of the hold's steady part with the rest removed in
quadrature (`glutesignal.normalise.reference_from_trials`); the holds' CV says whether
the effort was repeatable, and a side whose holds differ by more than 10 % is offered
a redo.

A calibration is derived from the recording it was made in (its EMG and cues), so it
can always be derived again; a later session of the same person reuses it with
``--calibration OTHER.glutes`` and notes it in its own ``meta.json``.

References
----------
Burden A. How should we normalize electromyograms obtained from healthy participants?
J Electromyogr Kinesiol 20(6):1023-1035, 2010.
Contreras B, Vigotsky AD, Schoenfeld BJ, Beardsley C, Cronin J. A comparison of two
gluteus maximus EMG maximum voluntary isometric contraction positions. PeerJ 3:e1261, 2015.
Konrad P. The ABC of EMG. Noraxon, 2005 (three MVC trials of 3-5 s, rest between).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from glutescope.guide import Cue
from glutesignal.normalise import REPEATABLE_CV_PCT, reference_from_trials

__all__ = ["Calibration", "CalibrationGuide", "calibration_cues", "load_calibration"]

HOLD_S = 5.0
"""Each reference hold, s (3-5 s trials: Konrad 2005)."""
REST_S = 5.0
"""Rest before and between holds, s."""
TRIALS = 3
"""Holds per side: the best of 3 is the reference."""
REST_WINDOW_S = 2.0
"""Rest before each hold used as its baseline, s."""
SETTLE_S = 1.0
"""Start of a hold's steady part after its cue (reaction and rise), s."""
AFTER_S = 0.0
"""Wait after a hold's end before it is measured, s."""


def calibration_cues(t0_s: float = 0.0, *, hold_s: float = HOLD_S, rest_s: float = REST_S,
                     trials: int = TRIALS) -> tuple[Cue, ...]:
    """The calibration's schedule from ``t0_s`` on the stream clock: rest, then right and left holds."""
    cues = [Cue(t0_s, t0_s + rest_s, "relax", "none")]
    t = t0_s + rest_s
    for side in ("right", "left"):
        for _ in range(trials):
            cues.append(Cue(t, t + hold_s, "reference", side))
            cues.append(Cue(t + hold_s, t + hold_s + rest_s, "relax", "none"))
            t += hold_s + rest_s
    return tuple(cues)


@dataclass(frozen=True)
class Calibration:
    """Each glute's reference contraction, and whether it can be trusted."""

    reference_uV: tuple[float, float]
    """Reference (left, right): the best hold's amplitude above rest, µV (nan: none detected)."""
    trial_rises_uV: tuple[tuple[float, ...], tuple[float, ...]]
    """Every hold's amplitude above rest (left holds, right holds), µV."""
    cv_pct: tuple[float, float]
    """Hold-to-hold CV (left, right), % (nan with fewer than two detected holds)."""
    repeatable: tuple[bool, bool]
    """Per side: every hold a contraction, and CV below 10 %."""
    source: str = "this session"
    """Where the calibration was made (a recording's name, or this session)."""

    @property
    def usable(self) -> bool:
        """Both sides have a reference from at least one detected hold."""
        return all(math.isfinite(v) and v > 0 for v in self.reference_uV)

    def redo_sides(self) -> tuple[str, ...]:
        """Sides whose holds were not repeatable (or not contractions): offer a redo."""
        return tuple(side for side, ok in zip(("left", "right"), self.repeatable) if not ok)

    def verdict(self) -> str:
        """In words: the reference per side, the repeatability and any redo."""
        parts = []
        for i, side in enumerate(("left", "right")):
            ref, cv = self.reference_uV[i], self.cv_pct[i]
            n_ok = sum(1 for r in self.trial_rises_uV[i] if r > 0)
            ref_text = f"{ref:.0f} µV" if math.isfinite(ref) else "no contraction"
            cv_text = f", CV {cv:.0f} %" if math.isfinite(cv) else ""
            parts.append(f"{side} {ref_text} (best of {len(self.trial_rises_uV[i])}{cv_text})"
                         if n_ok else f"{side}: no contraction in its holds")
        text = "calibration: " + "; ".join(parts)
        redo = self.redo_sides()
        if redo:
            text += (f" - redo the {' and '.join(redo)} side{'s' if len(redo) > 1 else ''}: the holds "
                     f"were not repeatable (CV above {REPEATABLE_CV_PCT:g} % or a hold without a contraction)")
        else:
            text += " - repeatable"
        return text

    def to_meta(self) -> dict:
        """A JSON-ready mapping for ``meta.json`` (nan written as None)."""
        def num(v):
            return float(v) if math.isfinite(v) else None

        return {"reference_uV": [num(v) for v in self.reference_uV],
                "trial_rises_uV": [[num(v) for v in side] for side in self.trial_rises_uV],
                "cv_pct": [num(v) for v in self.cv_pct], "repeatable": list(self.repeatable),
                "source": self.source}

    @classmethod
    def from_meta(cls, d) -> "Calibration":
        """Inverse of :meth:`to_meta`; a ValueError names what is missing or wrong."""
        def num(v):
            return float("nan") if v is None else float(v)

        try:
            ref = tuple(num(v) for v in d["reference_uV"])
            rises = tuple(tuple(num(v) for v in side) for side in d["trial_rises_uV"])
            cv = tuple(num(v) for v in d["cv_pct"])
            rep = tuple(bool(v) for v in d["repeatable"])
            source = str(d.get("source", "stored calibration"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration must hold reference_uV, trial_rises_uV, cv_pct and repeatable; "
                             f"got {d!r} ({exc})") from None
        if not (len(ref) == len(rises) == len(cv) == len(rep) == 2):
            raise ValueError(f"calibration must give (left, right) values; got {d!r}")
        return cls(ref, rises, cv, rep, source)  # type: ignore[arg-type]


class CalibrationGuide:
    """Follow the "reference" cues of a schedule and compute the calibration once all are in.

    Parameters
    ----------
    cues : sequence of Cue
        The session's schedule; only its "reference" cues are used.
    fs_hz : float
        Envelope sampling rate, Hz.
    """

    def __init__(self, cues, fs_hz: float) -> None:
        self.fs_hz = float(fs_hz)
        self._pending = [c for c in cues if c.name == "reference" and c.side in ("left", "right")]
        if not self._pending:
            raise ValueError("cues must hold at least one 'reference' cue for a calibration")
        self._trials: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"left": [], "right": []}
        self.result: Optional[Calibration] = None
        """The calibration, once every hold has been seen (None before)."""

    @property
    def finished(self) -> bool:
        return not self._pending

    def update(self, t_s: float, envelope_since: Callable[[int], tuple[int, np.ndarray]]) -> bool:
        """Take every hold that has ended by ``t_s``; True when the calibration became known.

        ``envelope_since(index)`` returns ``(first_index, envelope (2, n))`` (left, right)
        from the live ring, µV.
        """
        took = False
        for cue in list(self._pending):
            if t_s < cue.end_s + AFTER_S:
                continue
            self._pending.remove(cue)
            first = int(round((cue.start_s - REST_WINDOW_S) * self.fs_hz))
            start, env = envelope_since(max(first, 0))
            if start > max(first, 0) or env.shape[1] == 0:
                continue  # the window scrolled out of the ring: the hold is lost
            row = env[0 if cue.side == "left" else 1]
            k_cue = int(round(cue.start_s * self.fs_hz)) - start
            k_end = min(row.size, int(round((cue.end_s + AFTER_S) * self.fs_hz)) - start)
            k_steady = k_cue + int(round(SETTLE_S * self.fs_hz))
            rest, hold = row[max(k_cue - int(REST_WINDOW_S * self.fs_hz), 0):k_cue], row[k_steady:k_end]
            if rest.size < 2 or hold.size < int(self.fs_hz) or not (np.all(np.isfinite(rest))
                                                                   and np.all(np.isfinite(hold))):
                continue  # a gap in the hold or its rest: the hold cannot be measured
            self._trials[cue.side].append((hold, rest))
            took = True
        if took and self.finished:
            self.result = self._compute()
            return True
        return False

    def _compute(self) -> Calibration:
        refs, rises, cvs, reps = [], [], [], []
        for side in ("left", "right"):
            trials = self._trials[side]
            if not trials:
                refs.append(float("nan")), rises.append(()), cvs.append(float("nan")), reps.append(False)
                continue
            r = reference_from_trials([h for h, _ in trials], [b for _, b in trials])
            refs.append(r.reference)
            rises.append(r.trial_amplitudes)
            cvs.append(r.cv_pct)
            reps.append(r.repeatable)
        return Calibration(tuple(refs), tuple(rises), tuple(cvs), tuple(reps))  # type: ignore[arg-type]


def load_calibration(path) -> Calibration:
    """The calibration a recording holds: made in it (derived again from its EMG and cues)
    or, for a session that reused one, the one stored in its ``meta.json``.

    Raises
    ------
    ValueError
        When the recording holds neither (one line, naming the recording).
    OSError
        When it cannot be read.
    """
    from pathlib import Path

    from glutescope.analysis import analyse
    from glutescope.recording import load

    path = Path(path)
    rec = load(path)
    stored = (rec.meta or {}).get("calibration")
    if stored is not None:
        return Calibration.from_meta(stored)
    for segment in analyse(rec):
        cal = segment.stats.calibration
        if cal is not None:
            return Calibration(cal.reference_uV, cal.trial_rises_uV, cal.cv_pct, cal.repeatable, source=path.name)
    raise ValueError(f"{path} holds no usable calibration (record one with --exercise calibration)")
