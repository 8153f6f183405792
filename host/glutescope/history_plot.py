"""The trend of one person's sessions as a PNG (matplotlib, Agg): SI, squeeze scores, %MVC.

One row of panels per exercise: the SI of each session with its rep-to-rep 95 %
interval, the +/-10 % no-clear-difference band and the smallest detectable change
around the first session (when it can be estimated); the squeeze scores of each side;
%MVC of each side where calibrated. Sessions where the weaker side changed are ringed.
"""
from __future__ import annotations

from pathlib import Path

from glutesignal.symmetry import NO_CLEAR_DIFFERENCE_PCT

__all__ = ["plot_trend"]

_LEFT, _RIGHT = "#1f77b4", "#d62728"


def plot_trend(pseudonym: str, groups, path: Path) -> None:
    """Draw the trend and write it to ``path`` (PNG).

    Parameters
    ----------
    pseudonym : str
        Shown in the title.
    groups : sequence of (exercise, normalised, steps, reliability)
        As ``glutescope history`` builds them: `glutescope.history.TrendStep` s oldest
        first and the group's `glutescope.history.Reliability`.
    path : Path
        The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 3.2 * max(1, len(groups))), dpi=100, layout="constrained")
    axes = fig.subplots(max(1, len(groups)), 2, squeeze=False)
    for (exercise, normalised, steps, rel), (ax_si, ax_sq) in zip(groups, axes):
        x = list(range(1, len(steps) + 1))
        labels = [s.row.start_time[:10] or "?" for s in steps]
        ax_si.axhspan(-NO_CLEAR_DIFFERENCE_PCT, NO_CLEAR_DIFFERENCE_PCT, color="0.9", label="no clear difference")
        ax_si.axhline(0.0, color="0.6", lw=0.8)
        pts = [(i, s.row) for i, s in zip(x, steps) if s.row.si_pct is not None]
        if pts:
            xs = [i for i, _ in pts]
            ys = [r.si_pct for _, r in pts]
            lo = [r.si_pct - r.si_ci_low_pct if r.si_ci_low_pct is not None else 0.0 for _, r in pts]
            hi = [r.si_ci_high_pct - r.si_pct if r.si_ci_high_pct is not None else 0.0 for _, r in pts]
            ax_si.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", color="k", capsize=3, label="SI, rep-to-rep 95 %")
            if rel.estimated:
                y0 = ys[0]
                ax_si.axhspan(y0 - rel.sdc_pct, y0 + rel.sdc_pct, color="#f5d76e", alpha=0.35,
                              label=f"first +/- SDC ({rel.sdc_pct:.0f} %)")
            flips = [(i, s.row.si_pct) for i, s in zip(x, steps) if s.flipped and s.row.si_pct is not None]
            if flips:
                ax_si.plot(*zip(*flips), "o", ms=14, mfc="none", mec="#e67e22", mew=2, label="weaker side changed")
        unit = "% of reference" if normalised else "µV ratio, not normalised"
        ax_si.set_title(f"{exercise or 'exercise not recorded'}: symmetry index ({unit})", fontsize=9)
        ax_si.set_ylabel("SI, % (right higher +)")
        ax_si.set_xticks(x, labels, rotation=30, fontsize=7)
        ax_si.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        for side, colour, attr in (("left", _LEFT, "squeeze_left"), ("right", _RIGHT, "squeeze_right")):
            ys = [getattr(s.row, attr) for s in steps]
            if any(v is not None for v in ys):
                ax_sq.plot(x, [float("nan") if v is None else v for v in ys], "o-", color=colour,
                           label=f"squeeze {side}")
        for side, colour, attr in (("left", _LEFT, "mvc_left_pct"), ("right", _RIGHT, "mvc_right_pct")):
            ys = [getattr(s.row, attr) for s in steps]
            if any(v is not None for v in ys):
                ax_sq.plot(x, [float("nan") if v is None else v for v in ys], "s--", color=colour,
                           label=f"%MVC {side}")
        ax_sq.set_ylim(0, 105)
        for ax in (ax_si, ax_sq):
            ax.set_xlim(0.5, len(steps) + 0.5)
        ax_sq.set_title("squeeze score (0-100) and %MVC", fontsize=9)
        ax_sq.set_xticks(x, labels, rotation=30, fontsize=7)
        if ax_sq.get_legend_handles_labels()[0]:
            ax_sq.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            ax_sq.text(0.5, 0.5, "no squeeze test or calibration", ha="center", va="center",
                       transform=ax_sq.transAxes, fontsize=8, color="0.4")
    fig.suptitle(f"{pseudonym}: sessions over time", fontsize=11)
    fig.savefig(path, format="png")
