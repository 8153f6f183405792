"""Per-side calibration: a reference contraction of each glute, so left/right compares muscles.

Between-side µV differences are dominated by the electrodes (position over the
innervation zone, inter-electrode distance, skin and fat: Burden 2010), so the
left/right symmetry index and the squeeze score's strength are only a muscle finding
once each side is expressed against its own reference contraction. The calibration
is a guided step sequence run on the stream clock like the squeeze test: rest, then
three maximal holds per side (right, then left) of the standing glute squeeze, the
gluteus maximus MVIC position that Contreras et al. (2015) compared with the prone
bent-leg hip extension. Each hold's amplitude is the mean envelope of its steady part
(from 1 s after the cue to its end) with the rest before it removed in quadrature, and
each side's reference is the mean of its accepted holds
(`glutesignal.normalise.reference_from_trials`: the mean is the steadier denominator; the
best of 3 carries more of the effort's hold-to-hold variation). The holds' CV says
whether the effort was repeatable, and a side whose holds differ by more than 10 % is
offered a redo; the reference's precision, the holds' CV / sqrt(n), goes into the
left/right interval (:meth:`Calibration.ratio_sd`).

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
JCGM 100:2008 (GUM), G.4: Welch-Satterthwaite effective degrees of freedom.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy import stats as _stats

from glutescope.guide import Cue
from glutesignal.normalise import REPEATABLE_CV_PCT, reference_from_trials

__all__ = ["Calibration", "CalibrationGuide", "calibration_cues", "load_calibration"]

HOLD_S = 5.0
"""Each reference hold, s (3-5 s trials: Konrad 2005)."""
REST_S = 5.0
"""Rest before and between holds, s."""
TRIALS = 3
"""Holds per side (3 trials of 3-5 s: Konrad 2005); the reference is their mean."""
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
    """Reference (left, right): the mean amplitude above rest of the side's accepted holds,
    µV (nan: none detected)."""
    trial_rises_uV: tuple[tuple[float, ...], tuple[float, ...]]
    """Every hold's amplitude above rest (left holds, right holds), µV."""
    cv_pct: tuple[float, float]
    """Hold-to-hold CV (left, right), % (nan with fewer than two detected holds)."""
    repeatable: tuple[bool, bool]
    """Per side: every hold a contraction, and CV below 10 %."""
    source: str = "this session"
    """Where the calibration was made (a recording's name, or this session)."""
    accepted: tuple[tuple[bool, ...], tuple[bool, ...]] = ((), ())
    """Per hold (left holds, right holds): a contraction, averaged into the reference.
    Empty: a calibration stored before references were means, whose reference is the
    best hold (see :attr:`averaged`)."""

    @property
    def averaged(self) -> bool:
        """Each reference is the mean of its accepted holds (False: the best hold, as
        calibrations stored before the accepted holds were kept)."""
        return len(self.accepted) == 2 and all(len(a) == len(r) for a, r in zip(self.accepted,
                                                                                 self.trial_rises_uV))

    def n_accepted(self, i: int) -> int:
        """Holds counted for side ``i``'s reference (0 left, 1 right)."""
        if self.averaged:
            return sum(bool(a) for a in self.accepted[i])
        return sum(1 for r in self.trial_rises_uV[i] if r > 0)

    def ratio_sd(self, confidence: float = 0.95) -> float:
        """Relative standard uncertainty of the right/left reference ratio, for the SI's interval.

        Each side's reference is a mean of n holds, so its relative standard uncertainty
        is u = CV / sqrt(n) (GUM 4.2.3); the ratio's is hypot(u_left, u_right). The CVs are
        estimated from a few holds (2 degrees of freedom per side with 3), so the result is
        scaled by t_{nu} / z, nu the Welch-Satterthwaite effective degrees of freedom of the
        two (GUM G.4): the interval's z x ratio_sd is then the Student-t half-width. A side
        whose CV is unknown (fewer than two holds) is taken at the largest CV accepted as
        repeatable (``REPEATABLE_CV_PCT``), never as exact. A stored best-hold reference
        keeps the rule it was made with: one hold's CV per side, no degrees of freedom.
        """
        u, nu_terms = [], []
        for i in (0, 1):
            n = max(self.n_accepted(i), 1) if self.averaged else 1
            cv = self.cv_pct[i]
            if math.isfinite(cv) and n >= 2:
                ui = cv / 100.0 / math.sqrt(n)
                nu_terms.append(ui ** 4 / (n - 1))
            else:
                ui = (cv if math.isfinite(cv) else REPEATABLE_CV_PCT) / 100.0 / math.sqrt(n)
            u.append(ui)
        uc = math.hypot(*u)
        if uc == 0.0:
            return 0.0
        nu = uc ** 4 / sum(nu_terms) if sum(nu_terms) > 0 else math.inf
        q = 0.5 + 0.5 * float(confidence)
        scale = float(_stats.t.ppf(q, nu) / _stats.norm.ppf(q)) if math.isfinite(nu) else 1.0
        return uc * scale

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
            n_ok, n_all = self.n_accepted(i), len(self.trial_rises_uV[i])
            ref_text = f"{ref:.0f} µV" if math.isfinite(ref) else "no contraction"
            cv_text = f", CV {cv:.0f} %" if math.isfinite(cv) and n_ok >= 2 else ""
            of = (("mean of " if self.averaged else "best of ")
                  + (f"{n_ok} holds" if n_ok == n_all else f"{n_ok} of {n_all} holds"))
            parts.append(f"{side} {ref_text} ({of}{cv_text})" if n_ok else f"{side}: no contraction in its holds")
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
                "accepted": [list(side) for side in self.accepted], "source": self.source}

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
            accepted = tuple(tuple(bool(v) for v in side) for side in d.get("accepted", ((), ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration must hold reference_uV, trial_rises_uV, cv_pct and repeatable; "
                             f"got {d!r} ({exc})") from None
        if not (len(ref) == len(rises) == len(cv) == len(rep) == len(accepted) == 2):
            raise ValueError(f"calibration must give (left, right) values; got {d!r}")
        return cls(ref, rises, cv, rep, source, accepted)  # type: ignore[arg-type]


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
        # The last cue decides when the calibration is known, whether or not its own hold
        # could be measured (a gap in it must not leave the other holds unused).
        if self.finished and self.result is None and any(self._trials.values()):
            self.result = self._compute()
            return True
        return False

    def _compute(self) -> Calibration:
        refs, rises, cvs, reps, accepted = [], [], [], [], []
        for side in ("left", "right"):
            trials = self._trials[side]
            if not trials:
                refs.append(float("nan")), rises.append(()), cvs.append(float("nan")), reps.append(False)
                accepted.append(())
                continue
            r = reference_from_trials([h for h, _ in trials], [b for _, b in trials])
            refs.append(r.reference)
            rises.append(r.trial_amplitudes)
            cvs.append(r.cv_pct)
            reps.append(r.repeatable)
            accepted.append(r.detected)
        return Calibration(tuple(refs), tuple(rises), tuple(cvs), tuple(reps),  # type: ignore[arg-type]
                           accepted=tuple(accepted))  # type: ignore[arg-type]


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
            return dataclasses.replace(cal, source=path.name)
    raise ValueError(f"{path} holds no usable calibration (record one with --exercise calibration)")
