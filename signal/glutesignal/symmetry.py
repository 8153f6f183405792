"""Left/right symmetry index of glute activation, per rep and over reps.

SI = (R - L) / (0.5 (R + L)) x 100 %  (Robinson et al. 1987 [1]): 0 for perfect
symmetry, positive when the right side is higher, bounded by +/-200 %.

A side is named only outside an equivalence band: |SI| < 10 % is "no clear
difference", 10-25 % "moderate", > 25 % "marked". 10 % is the order of the
between-limb differences healthy people show in gait (Herzog et al. 1989 [2]; Sadeghi
et al. 2000 [3]) and the lower end of the 10-15 % inter-limb asymmetry thresholds
used in the strength and conditioning literature (Bishop et al. 2018 [4]); 25 % is this
project's mark for a difference well beyond that, not a clinical norm. The bands
describe an SI of amplitudes normalised per side; on raw µV an SI measures the
electrodes as much as the muscles (Burden 2010 [5]) and names no glute.

The interval over reps describes the rep-to-rep spread of the per-rep SIs (a Student-t
interval of their mean). Reps within a set are not independent draws (fatigue, drift),
so it is a description of how consistent the reps were, not a test of a hypothesis.
On normalised amplitudes it also carries the references' own precision, which scales
every rep alike and no number of reps averages out.

References
----------
.. [1] Robinson RO, Herzog W, Nigg BM. Use of force platform variables to quantify the
   effects of chiropractic manipulation on gait symmetry. J Manipulative Physiol Ther
   10(4):172-176, 1987.
.. [2] Herzog W, Nigg BM, Read LJ, Olsson E. Asymmetries in ground reaction force
   patterns in normal human gait. Med Sci Sports Exerc 21(1):110-114, 1989.
.. [3] Sadeghi H, Allard P, Prince F, Labelle H. Symmetry and limb dominance in
   able-bodied gait: a review. Gait Posture 12(1):34-45, 2000.
.. [4] Bishop C, Turner A, Read P. Effects of inter-limb asymmetries on physical and
   sports performance: a systematic review. J Sports Sci 36(10):1135-1144, 2018.
.. [5] Burden A. How should we normalize electromyograms obtained from healthy
   participants? J Electromyogr Kinesiol 20(6):1023-1035, 2010.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["MARKED_PCT", "NO_CLEAR_DIFFERENCE_PCT", "SymmetryResult", "asymmetry_band", "louder_side",
           "symmetry_index_pct", "symmetry_over_reps"]

DEFAULT_CONFIDENCE = 0.95
"""Two-sided level of the rep-to-rep interval."""
NO_CLEAR_DIFFERENCE_PCT = 10.0
"""|SI| below which neither side is named: "no clear difference" (see the module docstring)."""
MARKED_PCT = 25.0
"""|SI| above which an asymmetry is "marked" (10-25 %: "moderate")."""


def _amplitudes(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} amplitudes must be finite; got {x!r}")
    if np.any(a < 0):
        raise ValueError(f"{name} amplitudes must be >= 0 (envelope values, µV or %MVC); got {x!r}")
    return a


def symmetry_index_pct(left, right):
    """Symmetry index SI = (R - L) / (0.5 (R + L)) x 100 (Robinson et al. 1987).

    Parameters
    ----------
    left, right : float or array_like
        Non-negative amplitudes of the left and right side in the same unit (e.g. mean
        envelope over a rep, µV or %MVC). Arrays are compared elementwise.

    Returns
    -------
    float or ndarray
        SI in %, in [-200, 200]; positive when the right side is higher.

    Raises
    ------
    ValueError
        When an amplitude is negative or not finite, or when left + right is 0.
    """
    lv = _amplitudes("left", left)
    rv = _amplitudes("right", right)
    try:
        total = np.broadcast_arrays(lv, rv)
    except ValueError:
        raise ValueError(f"left and right must have the same shape; got {lv.shape} and {rv.shape}") from None
    lv, rv = total
    mean = 0.5 * (lv + rv)
    if np.any(mean <= 0):
        raise ValueError("left + right must be > 0 to compare sides; got both 0")
    si = (rv - lv) / mean * 100.0
    return float(si) if si.ndim == 0 else si


def _finite_si(si_pct) -> float:
    v = float(si_pct)
    if not np.isfinite(v):
        raise ValueError(f"si_pct must be finite; got {si_pct!r}")
    return v


def asymmetry_band(si_pct: float) -> str:
    """The band of an SI: "no clear difference" (|SI| < 10 %), "moderate" (10-25 %) or "marked" (> 25 %)."""
    v = abs(_finite_si(si_pct))
    if v < NO_CLEAR_DIFFERENCE_PCT:
        return "no clear difference"
    return "moderate" if v <= MARKED_PCT else "marked"


def louder_side(si_pct: float) -> str:
    """The side an SI names: "right" (SI >= +10 %), "left" (<= -10 %), else "none"."""
    v = _finite_si(si_pct)
    if v >= NO_CLEAR_DIFFERENCE_PCT:
        return "right"
    if v <= -NO_CLEAR_DIFFERENCE_PCT:
        return "left"
    return "none"


@dataclass(frozen=True)
class SymmetryResult:
    """Symmetry over several reps, with the rep-to-rep spread."""

    si_pct: float
    """Mean of the per-rep symmetry indices, %; positive: right higher."""
    louder_side: str
    """"left", "right", or "none" inside the +/-10 % band (from ``si_pct``)."""
    band: str
    """"no clear difference", "moderate" or "marked" (from ``si_pct``)."""
    ci_low_pct: float
    """Lower end of the rep-to-rep 95 % interval of the mean SI, % (nan with one rep)."""
    ci_high_pct: float
    """Upper end, % (nan with one rep)."""
    n_reps: int
    """Reps the result is based on."""
    consistent: bool
    """The reps agree: the whole rep-to-rep interval lies beyond the +/-10 % band on the
    named side. A description of the spread, not a significance test."""
    per_rep_si_pct: tuple[float, ...] = ()
    """The per-rep indices, %, in rep order."""
    reference_sd_pct: float = 0.0
    """Standard uncertainty of the mean SI from a factor common to every rep (the
    per-side normalisation references' own precision), points; 0 when none was given.
    The interval includes it."""


def symmetry_over_reps(left_per_rep, right_per_rep, *, confidence: float = DEFAULT_CONFIDENCE,
                       ratio_sd: float = 0.0) -> SymmetryResult:
    """Mean symmetry index over reps with its rep-to-rep (Student-t) interval.

    Parameters
    ----------
    left_per_rep, right_per_rep : array_like, shape (n_reps,)
        Amplitude of each side in each rep (e.g. mean or peak envelope), same unit.
    confidence : float
        Two-sided confidence level, 0 < confidence < 1 (default 0.95).
    ratio_sd : float
        Relative standard uncertainty (0.03 = 3 %) of a factor that scales every rep's
        right/left ratio alike: the precision of per-side normalisation references
        (``hypot`` of each side's reference uncertainty). More reps do not average it out,
        so it is added to the interval in quadrature. Must be finite and >= 0 (default 0).

    Returns
    -------
    SymmetryResult
        Mean SI, the side it names and its band, the rep-to-rep interval and whether
        the reps agree on the side.

    Notes
    -----
    The interval is mean +/- t_{(1+c)/2, n-1} s / sqrt(n) of the per-rep SIs: it
    describes their spread. With one rep it is undefined (nan) and the result is never
    ``consistent``. With ``ratio_sd`` > 0 the half-width is
    sqrt((t s / sqrt(n))^2 + (z u)^2), z the normal quantile, u = ratio_sd x dSI/dln(R/L)
    = ratio_sd x (100 - SI^2 / 400) points: a common factor shifts every rep's SI alike
    (combined in quadrature as in the GUM, JCGM 100:2008, 5.1.2).
    """
    lv = np.atleast_1d(_amplitudes("left_per_rep", left_per_rep))
    rv = np.atleast_1d(_amplitudes("right_per_rep", right_per_rep))
    if lv.ndim != 1 or rv.ndim != 1 or lv.shape != rv.shape:
        raise ValueError(f"left_per_rep and right_per_rep must be 1-D of equal length; got {lv.shape} and {rv.shape}")
    if lv.size == 0:
        raise ValueError("left_per_rep must hold at least one rep; got 0")
    if not (0.0 < float(confidence) < 1.0):
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if not (np.isfinite(ratio_sd) and ratio_sd >= 0):
        raise ValueError(f"ratio_sd must be a finite number >= 0; got {ratio_sd!r}")
    si = np.asarray(symmetry_index_pct(lv, rv), dtype=float).reshape(-1)
    n = si.size
    mean = float(si.mean())
    reference_sd = float(ratio_sd) * (100.0 - mean * mean / 400.0)
    if n >= 2:
        sem = float(si.std(ddof=1)) / np.sqrt(n)
        half = float(stats.t.ppf(0.5 + 0.5 * float(confidence), n - 1)) * sem
        half = float(np.hypot(half, stats.norm.ppf(0.5 + 0.5 * float(confidence)) * reference_sd))
        lo, hi = mean - half, mean + half
        consistent = bool(lo >= NO_CLEAR_DIFFERENCE_PCT or hi <= -NO_CLEAR_DIFFERENCE_PCT)
    else:
        lo = hi = float("nan")
        consistent = False
    return SymmetryResult(mean, louder_side(mean), asymmetry_band(mean), lo, hi, n, consistent,
                          tuple(float(v) for v in si), reference_sd)
