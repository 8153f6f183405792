"""Left/right symmetry index of glute activation, per rep and over reps.

SI = (R - L) / (0.5 (R + L)) x 100 %  (Robinson et al. 1987 [1]): 0 for perfect
symmetry, positive when the right side is louder, bounded by +/-200 %.

References
----------
.. [1] Robinson RO, Herzog W, Nigg BM. Use of force platform variables to quantify the
   effects of chiropractic manipulation on gait symmetry. J Manipulative Physiol Ther
   10(4):172-176, 1987.
.. [2] Herzog W, Nigg BM, Read LJ, Olsson E. Asymmetries in ground reaction force
   patterns in normal human gait. Med Sci Sports Exerc 21(1):110-114, 1989.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SymmetryResult", "louder_side", "symmetry_index_pct", "symmetry_over_reps"]

DEFAULT_CONFIDENCE = 0.95
"""Two-sided confidence level of the interval over reps."""
EQUAL_TOLERANCE_PCT = 1e-9
"""|SI| at or below which neither side is called louder."""


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
        SI in %, in [-200, 200]; positive when the right side is louder.

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


def louder_side(si_pct: float) -> str:
    """Name the louder side from an SI: "right" (> 0), "left" (< 0) or "equal"."""
    if not np.isfinite(si_pct):
        raise ValueError(f"si_pct must be finite; got {si_pct!r}")
    if si_pct > EQUAL_TOLERANCE_PCT:
        return "right"
    if si_pct < -EQUAL_TOLERANCE_PCT:
        return "left"
    return "equal"


@dataclass(frozen=True)
class SymmetryResult:
    """Symmetry over several reps, with its confidence interval."""

    si_pct: float
    """Mean of the per-rep symmetry indices, %; positive: right louder."""
    louder_side: str
    """"left", "right" or "equal" (from ``si_pct``)."""
    ci_low_pct: float
    """Lower bound of the confidence interval of the mean SI, % (nan with one rep)."""
    ci_high_pct: float
    """Upper bound, % (nan with one rep)."""
    n_reps: int
    """Reps the result is based on."""
    confident: bool
    """True when the interval excludes 0: the louder side is not a chance finding."""
    per_rep_si_pct: tuple[float, ...] = ()
    """The per-rep indices, %, in rep order."""


def symmetry_over_reps(left_per_rep, right_per_rep, *, confidence: float = DEFAULT_CONFIDENCE) -> SymmetryResult:
    """Mean symmetry index over reps with a Student-t confidence interval.

    Parameters
    ----------
    left_per_rep, right_per_rep : array_like, shape (n_reps,)
        Amplitude of each side in each rep (e.g. mean or peak envelope), same unit.
    confidence : float
        Two-sided confidence level, 0 < confidence < 1 (default 0.95).

    Returns
    -------
    SymmetryResult
        Mean SI, louder side, interval and whether it excludes 0.

    Notes
    -----
    The per-rep SIs are treated as independent draws around the athlete's true SI;
    the interval is mean +/- t_{(1+c)/2, n-1} s / sqrt(n). With one rep the interval is
    undefined (nan) and the result is never ``confident``.
    """
    lv = np.atleast_1d(_amplitudes("left_per_rep", left_per_rep))
    rv = np.atleast_1d(_amplitudes("right_per_rep", right_per_rep))
    if lv.ndim != 1 or rv.ndim != 1 or lv.shape != rv.shape:
        raise ValueError(f"left_per_rep and right_per_rep must be 1-D of equal length; got {lv.shape} and {rv.shape}")
    if lv.size == 0:
        raise ValueError("left_per_rep must hold at least one rep; got 0")
    if not (0.0 < float(confidence) < 1.0):
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    si = np.asarray(symmetry_index_pct(lv, rv), dtype=float).reshape(-1)
    n = si.size
    mean = float(si.mean())
    if n >= 2:
        sem = float(si.std(ddof=1)) / np.sqrt(n)
        half = float(stats.t.ppf(0.5 + 0.5 * float(confidence), n - 1)) * sem
        lo, hi = mean - half, mean + half
        confident = bool(lo > 0 or hi < 0)
    else:
        lo = hi = float("nan")
        confident = False
    return SymmetryResult(mean, louder_side(mean), lo, hi, n, confident, tuple(float(v) for v in si))
