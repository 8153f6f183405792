"""Hip drop and wobble of the pelvis over a held position (single-leg stance, a bridge hold).

From the pelvis angles of `glutesignal.pelvis` over one hold:

- **hip drop**: the median change of pelvic obliquity over the middle half of the hold
  from its value at the hold's start, signed towards the unsupported side (positive: the
  unsupported side dropped, the Trendelenburg sign [1]). The middle half leaves out the
  weight shift at the start and the step down at the end.
- **wobble**: the root-sum-square of the standard deviations of obliquity and tilt over
  the middle half, degrees: how much the pelvis moves while it should be still.

References
----------
.. [1] Trendelenburg F. Über den Gang bei angeborener Hüftgelenksluxation. Dtsch Med
   Wochenschr 21:21-24, 1895 (hip drop on the unsupported side).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HoldPelvis", "hold_pelvis"]


@dataclass(frozen=True)
class HoldPelvis:
    """The pelvis over one hold."""

    hip_drop_deg: float
    """Median obliquity change over the middle half, towards the unsupported side, degrees
    (positive: the unsupported side dropped)."""
    wobble_deg: float
    """Root-sum-square of the SDs of obliquity and tilt over the middle half, degrees."""


def hold_pelvis(obliquity_deg, tilt_deg, supporting_side: str, *, reference_deg: float | None = None) -> HoldPelvis:
    """Hip drop and wobble over one hold.

    Parameters
    ----------
    obliquity_deg, tilt_deg : array_like, shape (n_imu,)
        Pelvic obliquity (left hip higher +) and tilt over the hold, degrees, from its
        start to its end (at least 4 samples, finite).
    supporting_side : str
        "left" or "right": the leg that carries the hold (the other side may drop).
    reference_deg : float, optional
        Obliquity before the hold (e.g. at the start of the rep the hold is part of);
        default: the first sample given.

    Returns
    -------
    HoldPelvis
    """
    obl = np.asarray(obliquity_deg, dtype=float).reshape(-1)
    tilt = np.asarray(tilt_deg, dtype=float).reshape(-1)
    if obl.shape != tilt.shape or obl.size < 4:
        raise ValueError(f"obliquity_deg and tilt_deg must be 1-D of equal length >= 4; got {obl.shape} and "
                         f"{tilt.shape}")
    if not (np.all(np.isfinite(obl)) and np.all(np.isfinite(tilt))):
        raise ValueError("obliquity_deg and tilt_deg must be finite (no gap inside the hold)")
    if supporting_side not in ("left", "right"):
        raise ValueError(f"supporting_side must be 'left' or 'right', got {supporting_side!r}")
    side = supporting_side
    n = obl.size
    mid = slice(n // 4, max(3 * n // 4, n // 4 + 2))
    # Obliquity is + with the left hip higher: standing on the left, the right side
    # (unsupported) dropping makes it positive.
    sign = 1.0 if side == "left" else -1.0
    ref = float(obl[0]) if reference_deg is None else float(reference_deg)
    drop = sign * float(np.median(obl[mid] - ref))
    wobble = float(np.hypot(np.std(obl[mid]), np.std(tilt[mid])))
    return HoldPelvis(drop, wobble)
