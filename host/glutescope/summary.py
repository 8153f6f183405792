"""Summaries of a session for the report: sets of reps, time blocks, and the interval of
the mean symmetry index with sets (not reps) as the independent units.

Reps of one set share the person's state (fatigue, attention, electrode contact), so
their symmetry indices are correlated: an interval that treats 400 reps of a day as 400
independent draws is far too narrow. The summary-measures approach (Matthews et al.
1990) takes one value per cluster (here: the mean SI of each set) and computes the
interval over those, with ``n_sets - 1`` degrees of freedom.

References
----------
Matthews JNS, Altman DG, Campbell MJ, Royston P. Analysis of serial measurements in
medical research. BMJ 300:230-235, 1990.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import stats as _stats

from glutesignal.symmetry import NO_CLEAR_DIFFERENCE_PCT

__all__ = ["SET_BREAK_S", "LONG_SESSION_S", "ClusteredInterval", "block_length_s", "rep_sets",
           "interval_over_sets"]

SET_BREAK_S = 60.0
"""A pause between two reps longer than this starts a new set, s."""
LONG_SESSION_S = 15 * 60.0
"""Sessions longer than this are shown as blocks and a timeline, not rep by rep, s."""


def block_length_s(duration_s: float) -> float:
    """The summary block of a long session: 10 min up to 3 h, else 1 h, s."""
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    return 600.0 if duration_s <= 3 * 3600.0 else 3600.0


def rep_sets(start_s: Sequence[float], end_s: Sequence[float], *, break_s: float = SET_BREAK_S) -> list[int]:
    """The set number (from 0) of each rep: a new set after a pause longer than ``break_s``.

    Parameters
    ----------
    start_s, end_s : sequence of float, shape (n_reps,)
        Onset and offset of each rep, s, in time order.
    break_s : float
        Longest pause inside a set, s.

    Returns
    -------
    list of int
    """
    if len(start_s) != len(end_s):
        raise ValueError(f"start_s and end_s must have equal lengths; got {len(start_s)} and {len(end_s)}")
    if not break_s > 0:
        raise ValueError(f"break_s must be positive, got {break_s!r}")
    out, k = [], 0
    for i, s in enumerate(start_s):
        if i and s - end_s[i - 1] > break_s:
            k += 1
        out.append(k)
    return out


@dataclass(frozen=True)
class ClusteredInterval:
    """Mean SI with its interval over sets."""

    si_pct: float
    """Mean of the sets' mean SIs, % (each set weighs the same)."""
    ci_low_pct: Optional[float]
    """Lower end of the 95 % interval over sets, %; None with fewer than 2 sets."""
    ci_high_pct: Optional[float]
    """Upper end, %; None with fewer than 2 sets."""
    n_sets: int
    """Sets (clusters) the interval is over."""
    n_reps: int
    """Reps in them."""

    @property
    def beyond_band(self) -> bool:
        """The whole interval lies outside the +/-10 % no-clear-difference band."""
        if self.ci_low_pct is None or self.ci_high_pct is None:
            return False
        return self.ci_low_pct >= NO_CLEAR_DIFFERENCE_PCT or self.ci_high_pct <= -NO_CLEAR_DIFFERENCE_PCT


def interval_over_sets(si_pct: Sequence[float], set_ids: Sequence[int], *,
                       confidence: float = 0.95, reference_sd_pct: float = 0.0) -> ClusteredInterval:
    """The mean SI and its Student-t interval with each set's mean SI as one observation.

    Parameters
    ----------
    si_pct : sequence of float, shape (n_reps,)
        Per-rep symmetry index, %.
    set_ids : sequence of int, shape (n_reps,)
        The set of each rep (`rep_sets`).
    confidence : float
        Two-sided level, 0 < confidence < 1.
    reference_sd_pct : float
        Standard uncertainty of every rep's SI alike, points (the calibration references'
        precision, `glutescope.live.LiveStats.si_reference_sd_pct`): no number of sets
        averages it out, so it is added to the half-width in quadrature. >= 0.

    Returns
    -------
    ClusteredInterval
    """
    si = np.asarray(si_pct, dtype=float)
    ids = np.asarray(set_ids)
    if si.shape != ids.shape or si.ndim != 1 or si.size == 0:
        raise ValueError(f"si_pct and set_ids must be 1-D, non-empty and of equal length; got {si.shape} "
                         f"and {ids.shape}")
    if not np.all(np.isfinite(si)):
        raise ValueError("si_pct must be finite")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not (math.isfinite(reference_sd_pct) and reference_sd_pct >= 0):
        raise ValueError(f"reference_sd_pct must be a finite number >= 0, got {reference_sd_pct!r}")
    means = np.array([si[ids == k].mean() for k in np.unique(ids)])
    m = float(means.mean())
    if means.size < 2:
        return ClusteredInterval(m, None, None, int(means.size), int(si.size))
    half = float(_stats.t.ppf(0.5 + 0.5 * confidence, means.size - 1)) * float(means.std(ddof=1)) / math.sqrt(means.size)
    half = math.hypot(half, float(_stats.norm.ppf(0.5 + 0.5 * confidence)) * reference_sd_pct)
    return ClusteredInterval(m, m - half, m + half, int(means.size), int(si.size))
