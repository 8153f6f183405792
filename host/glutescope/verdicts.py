"""The left/right verdict in words, one place for the terminal, the window and the report.

Two rules keep every sentence honest (docs/scores.md, "Left/right"):

- Without a per-side calibration the symmetry index is an amplitude ratio of two
  electrodes, not of two muscles: it is worded as such and names no glute.
- With a calibration a side is named only outside the +/-10 % no-clear-difference band
  (`glutesignal.symmetry`), and the interval is worded as what it holds: the rep-to-rep
  spread, and once calibrated the references' precision.
"""
from __future__ import annotations

from glutesignal.symmetry import MARKED_PCT, NO_CLEAR_DIFFERENCE_PCT

__all__ = ["NOT_NORMALISED", "symmetry_headline", "symmetry_verdict"]

NOT_NORMALISED = "amplitude ratio, not normalised - depends on electrodes"
"""How an uncalibrated SI is labelled wherever it is shown."""

_BAND_RANGE = {"no clear difference": f"within +/-{NO_CLEAR_DIFFERENCE_PCT:g} %",
               "moderate": f"{NO_CLEAR_DIFFERENCE_PCT:g}-{MARKED_PCT:g} %", "marked": f"above {MARKED_PCT:g} %"}


def _spread(stats) -> str:
    if stats.ci_low_pct is None or stats.ci_high_pct is None:
        return "one rep: no rep-to-rep spread yet"
    ref_sd = getattr(stats, "si_reference_sd_pct", 0.0) or 0.0
    what = (f"95 % interval (rep-to-rep spread and the references' precision, +/-{ref_sd:.1f} points SD)"
            if ref_sd > 0 else "rep-to-rep 95 % interval")
    interval = f"{what} {stats.ci_low_pct:+.1f} to {stats.ci_high_pct:+.1f} %"
    if stats.louder_side in ("left", "right"):
        if stats.si_consistent:
            agree = "the interval lies on that side" if ref_sd > 0 else "the reps agree on the side"
        elif ref_sd > 0:
            agree = f"not certain: the interval reaches into the +/-{NO_CLEAR_DIFFERENCE_PCT:g} % band"
        else:
            agree = f"the reps vary: the interval reaches into the +/-{NO_CLEAR_DIFFERENCE_PCT:g} % band"
        return f"{interval}; {agree}"
    return interval


def symmetry_verdict(stats, *, single_leg: bool = False) -> str:
    """One or two sentences on left/right for a `glutescope.live.LiveStats`.

    Parameters
    ----------
    stats : LiveStats
        With ``si_pct`` (None: no comparison), ``louder_side``, ``asymmetry_band``,
        ``ci_low_pct``, ``ci_high_pct``, ``n_reps``, ``si_consistent``, ``si_normalised``.
    single_leg : bool
        The reps compare the working glute of left-leg and right-leg reps.
    """
    if stats.si_pct is None:
        return "No rep of both glutes was found: no left/right comparison."
    reps = f"{stats.n_reps} rep{'s' if stats.n_reps != 1 else ''}" + (
        " pairs (working glute of left-leg against right-leg reps)" if single_leg else "")
    if not stats.si_normalised:
        if stats.louder_side in ("left", "right"):
            which = f"the {stats.louder_side} channel reads higher"
        else:
            which = f"the channels read within +/-{NO_CLEAR_DIFFERENCE_PCT:g} % of each other"
        return (f"Left/right {NOT_NORMALISED}: {which} (SI {stats.si_pct:+.1f} %, {reps}; {_spread(stats)}). "
                "Not a muscle finding: calibrate each side to compare the glutes.")
    band = stats.asymmetry_band or "no clear difference"
    if stats.louder_side in ("left", "right"):
        head = (f"{band.capitalize()} asymmetry: the {stats.louder_side} glute works at a higher share of its "
                f"reference")
    else:
        head = "No clear difference between the glutes"
    return (f"{head}: SI {stats.si_pct:+.1f} % of each side's reference ({_BAND_RANGE[band]}), {reps}; "
            f"{_spread(stats)}.")


def symmetry_headline(stats) -> str:
    """The short line the live window shows."""
    if stats.si_pct is None:
        return "Left/right: waiting for a rep…"
    n = f" · {stats.n_reps} rep{'s' if stats.n_reps != 1 else ''}" if stats.n_reps else ""
    if not stats.si_normalised:
        return f"L/R amplitude ratio SI {stats.si_pct:+.0f} %{n} (not normalised: depends on electrodes)"
    if stats.louder_side in ("left", "right"):
        return (f"{stats.louder_side.upper()} glute works harder · SI {stats.si_pct:+.0f} % "
                f"({stats.asymmetry_band}){n}{'' if stats.si_consistent else ' · not certain'}")
    return f"No clear left/right difference · SI {stats.si_pct:+.0f} %{n}"
