"""The physiotherapist's report: one look at a session, as an A4 PDF (matplotlib).

Page 1: who, when, which device, how long, the signal quality of each channel with
its reasons, both glutes' envelopes over the session with the reps shaded and the
squeeze cues marked, the pelvis tilt and obliquity below, and the left/right verdict.
Page 2: the per-rep table, the squeeze test's scores with their five parts, and how
to read each score. Every number comes from `glutescope.analysis` (the live
pipeline run over the recording), so it equals what the live view showed.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from glutescope.analysis import SegmentAnalysis
from glutescope.export import start_datetime
from glutescope.recording import Recording
from glutesignal import scores as _s
from glutesignal.symmetry import louder_side
from glutescope.verdicts import NOT_NORMALISED, symmetry_verdict
from glutesignal.balance import OFF_FACTOR, ON_FACTOR
from glutesignal.symmetry import MARKED_PCT, NO_CLEAR_DIFFERENCE_PCT
from glutesignal.onsets import MIN_DURATION_S

__all__ = ["DISCLAIMER", "score_definitions", "symmetry_sentence", "write_report"]

DISCLAIMER = "glutescope is a training and assessment aid, not a medical device."
A4_IN = (8.27, 11.69)
PLOT_RATE_HZ = 50.0
"""Envelope points per second drawn (the maximum of each bin, so peaks stay visible)."""
_LEFT, _RIGHT = "#1f77b4", "#d62728"


def score_definitions() -> list[tuple[str, str]]:
    """Each score in words, with the thresholds the code uses (docs/scores.md)."""
    return [
        ("Envelope", "How loud a glute is: the 100 ms moving RMS of the EMG after a 20-450 Hz band-pass and "
                     "notches at the mains lines found in the signal (De Luca 1997; SENIAM), in microvolts "
                     "(uV) at the electrodes."),
        ("Rep", f"A contraction of both glutes: their summed envelope rises above {ON_FACTOR:g} x its resting "
                f"level and lasts while above {OFF_FACTOR:g} x (at least {MIN_DURATION_S:g} s; Bonato et al. "
                "1998). The resting level is found in the signal: the mean envelope of its quietest half "
                "second. Time under tension is onset to offset; mean and peak are per side over the rep."),
        ("Symmetry index (SI)", "(R - L) / (0.5 (R + L)) x 100 % of each side's amplitude in a rep (Robinson "
                                "et al. 1987): 0 is perfect symmetry, positive means the right side is higher. "
                                "Calibrated, each side's rise above rest is taken in % of its own reference "
                                "contraction (best of 3 standing glute squeezes; Contreras et al. 2015), and a "
                                f"side is named only outside +/-{NO_CLEAR_DIFFERENCE_PCT:g} % (no clear "
                                f"difference; {NO_CLEAR_DIFFERENCE_PCT:g}-{MARKED_PCT:g} % moderate, above "
                                f"{MARKED_PCT:g} % marked). Without a calibration it is an {NOT_NORMALISED} "
                                "(position, skin and fat differ between sides: Burden 2010) and names no glute. "
                                "The 95 % interval over reps describes the rep-to-rep spread, not a test. "
                                "Squeezes of the squeeze test and calibration holds are never reps."),
        ("Hip drop", "Largest change of pelvic obliquity (tilt of the left-right axis, left hip higher +) from "
                     "the rep's start, in degrees: the Trendelenburg sign in single-leg work."),
        ("Squeeze score", "Per side, 0-100, the mean of five parts, each linear between the bounds given: "
                          f"only a squeeze whose peak rises above the rest before its cue by more than "
                          f"{_s.DETECT_K:g} x the rest's standard deviation is scored, otherwise the reason is "
                          f"shown; strength = rise (90th percentile of the hold above rest) relative to the "
                          f"stronger side's (calibrated: {_s.STRENGTH_TARGET_PCT_MVC:g} % of the side's reference "
                          f"scores 100); "
                          f"speed = cue to 90 % of the plateau, 100 at <= {_s.SPEED_FULL_S:g} s, 0 at >= "
                          f"{_s.SPEED_ZERO_S:g} s; steadiness = variation (CV) of the hold, 100 at <= "
                          f"{100 * _s.STEADY_FULL_CV:g} %, 0 at >= {100 * _s.STEADY_ZERO_CV:g} %; relaxation = "
                          f"relax cue to within 10 % of baseline, 100 at <= {_s.RELAX_FULL_S:g} s, 0 at >= "
                          f"{_s.RELAX_ZERO_S:g} s; isolation = little activity in the other glute (overflow, "
                          f"100 at <= {100 * _s.OVERFLOW_FULL:g} %, 0 at >= {100 * _s.OVERFLOW_ZERO:g} %) and "
                          f"a still pelvis (100 at <= {_s.MOTION_FULL_DEG:g} deg, 0 at >= {_s.MOTION_ZERO_DEG:g} "
                          "deg). The side with the lower total is the weaker one. The bounds are practical "
                          "starting points, not clinical norms."),
        ("Signal quality", "Per channel, good/fair/poor with the reason: flat signal (electrode off), "
                           "saturation, mains interference, motion artefact, or a low contraction-to-rest "
                           "signal-to-noise ratio (Fraser et al. 2014; Sinderby et al. 1995). A score from a "
                           "poor channel is shown with its grade, never hidden."),
    ]


def symmetry_sentence(analysis: SegmentAnalysis) -> str:
    """The left/right verdict in words (`glutescope.verdicts`): a muscle claim only when calibrated."""
    st = analysis.stats
    text = symmetry_verdict(st, single_leg=analysis.plan.single_leg)
    if st.calibration_note:
        text += f" {st.calibration_note[0].upper()}{st.calibration_note[1:]}."
    return text


def _quality_lines(analysis: SegmentAnalysis) -> list[str]:
    lines = []
    for q in analysis.quality:
        name = analysis.channel_names[q.channel].replace("_", " ")
        total = sum(q.n_windows.values())
        if q.grade == "unknown":
            lines.append(f"{name}: not graded (less than 2 s of gap-free signal)")
            continue
        why = f" - {'; '.join(q.reasons)}" if q.reasons else ""
        lines.append(f"{name}: {q.grade.upper()} ({q.n_windows.get('good', 0)} of {total} "
                     f"2-s checks good){why}")
    return lines


def _binned_max(x: np.ndarray, fs_hz: float, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Max of each bin (NaN where the bin is all missing), and the bin times."""
    k = max(1, int(round(fs_hz / rate_hz)))
    n = x.shape[-1] // k
    bins = x[..., : n * k].reshape(*x.shape[:-1], n, k)
    with np.errstate(all="ignore"):
        finite = np.isfinite(bins).any(axis=-1)
        out = np.where(finite, np.nanmax(np.where(np.isfinite(bins), bins, -np.inf), axis=-1), np.nan)
    return (np.arange(n) + 0.5) * k / fs_hz, out


def _header_text(rec: Recording, analysis: SegmentAnalysis, n_segments: int) -> list[str]:
    meta = rec.meta or {}
    info = rec.device_info
    start = start_datetime(rec, analysis.segment)
    dev = "unknown" if info is None else (f"{info.name}, firmware {'.'.join(map(str, info.fw_version))}, "
                                          f"EMG {info.emg_fs_hz} Hz, IMU {info.imu_fs_hz or 'off'}"
                                          + (" Hz" if info.imu_fs_hz else ""))
    emg = rec.emg[analysis.segment]
    missing = f"{emg.n_missing / analysis.emg_fs_hz:.2f} s missing in {len(emg.gaps)} gaps" if emg.gaps else "no gaps"
    seg = f" (segment {analysis.segment + 1} of {n_segments})" if n_segments > 1 else ""
    return [
        f"Subject: {meta.get('subject') or 'not given'}",
        f"Date: {start.strftime('%Y-%m-%d %H:%M:%S')}{seg}",
        f"Device: {dev}",
        f"Duration: {analysis.duration_s:.1f} s of EMG ({missing})",
        f"Exercise: {analysis.plan.exercise or 'not recorded'} ({analysis.plan.source})",
        mains_sentence(analysis),
    ]


def fatigue_sentence(analysis: SegmentAnalysis) -> str:
    """Median-frequency and amplitude trend of each glute over the reps, with its caveat."""
    parts = []
    for side, tr in analysis.fatigue:
        if tr.mdf_slope_pct_per_min is None or tr.rms_slope_pct_per_min is None:
            parts.append(f"{side}: too few 0.5 s windows in the reps ({tr.n_windows})")
        else:
            parts.append(f"{side} median frequency {tr.mdf_slope_pct_per_min:+.1f} %/min "
                         f"({tr.mdf_slope_hz_per_s:+.2f} Hz/s from {tr.mdf_initial_hz:.0f} Hz), "
                         f"amplitude {tr.rms_slope_pct_per_min:+.1f} %/min")
    if not parts:
        return "Fatigue trend: no reps to measure."
    return ("Fatigue trend over the reps (De Luca 1984): " + "; ".join(parts) + ". A falling median frequency "
            "with rising amplitude suggests fatigue; in dynamic reps force and joint angle also move them.")


def mains_sentence(analysis: SegmentAnalysis) -> str:
    """Which mains frequency and lines the EMG was notched at, and how that is known."""
    st = analysis.stats
    source = f" ({analysis.mains_source})" if analysis.mains_source else ""
    if st.mains_hz is None:
        return f"Mains: no mains line found in the signal{source}; no notch applied"
    if not st.notch_hz:
        return f"Mains: {st.mains_hz:g} Hz{source}; no line of it found in the signal, no notch applied"
    lines = ", ".join(f"{f:g}" for f in st.notch_hz)
    return f"Mains: {st.mains_hz:g} Hz{source}; notched at {lines} Hz (only lines found in the signal)"


def _page_one(fig, rec: Recording, analysis: SegmentAnalysis, n_segments: int) -> None:
    fig.text(0.07, 0.965, "glutescope session report", fontsize=16, weight="bold", va="top")
    y = 0.935
    for line in _header_text(rec, analysis, n_segments):
        fig.text(0.07, y, line, fontsize=9, va="top")
        y -= 0.017
    fig.text(0.07, y - 0.004, "Signal quality", fontsize=10, weight="bold", va="top")
    y -= 0.021
    for line in _quality_lines(analysis):
        fig.text(0.09, y, line, fontsize=8.5, va="top", wrap=True)
        y -= 0.016
    top = y - 0.01
    has_imu = analysis.pelvis_deg is not None
    h_env = 0.30 if has_imu else 0.45
    ax = fig.add_axes((0.1, top - h_env, 0.85, h_env - 0.02))
    names = analysis.channel_names
    rows = {"left": names.index("glute_max_left") if "glute_max_left" in names else None,
            "right": names.index("glute_max_right") if "glute_max_right" in names else None}
    t, env = _binned_max(analysis.envelope_uV, analysis.emg_fs_hz, PLOT_RATE_HZ)
    for side, color in (("left", _LEFT), ("right", _RIGHT)):
        if rows[side] is not None:
            ax.plot(t, env[rows[side]], color=color, lw=0.8, label=f"{side} glute")
    for ch, name in enumerate(names):
        if ch not in rows.values():
            ax.plot(t, env[ch], lw=0.6, alpha=0.7, label=name.replace("_", " "))
    for r in analysis.reps:
        ax.axvspan(r.start_s, r.start_s + r.duration_s, color="0.6", alpha=0.25, lw=0)
        ax.text(r.start_s + 0.5 * r.duration_s, 1.0, str(r.index), transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7)
    for cue in analysis.plan.squeeze_cues:
        if cue.name == "squeeze" and cue.start_s < analysis.duration_s:
            ax.axvline(cue.start_s, color="green", lw=0.8, ls="--")
            ax.text(cue.start_s, 0.97, f" squeeze {cue.side}", transform=ax.get_xaxis_transform(),
                    fontsize=6.5, color="green", va="top")
    emg = rec.emg[analysis.segment]
    for g in emg.gaps:
        ax.axvspan(g.first_sample / analysis.emg_fs_hz, (g.first_sample + g.n_samples) / analysis.emg_fs_hz,
                   color="black", alpha=0.15, hatch="///", lw=0)
    ax.set_ylabel("envelope (uV)")
    ax.set_xlim(0, analysis.duration_s)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.04), ncol=3, fontsize=7, frameon=False)
    ax.set_title("Glute envelopes (100 ms RMS); grey: reps (numbered), dashed: squeeze cues, hatched: gaps",
                 fontsize=8, loc="left", pad=14)
    bottom = top - h_env
    if has_imu:
        ax2 = fig.add_axes((0.1, bottom - 0.17, 0.85, 0.15), sharex=ax)
        ti = np.arange(analysis.pelvis_deg.shape[1]) / analysis.imu_fs_hz
        ax2.plot(ti, analysis.pelvis_deg[0], color="0.2", lw=0.8, label="tilt (anterior +)")
        ax2.plot(ti, analysis.pelvis_deg[1], color="darkorange", lw=0.8, label="obliquity (left hip higher +)")
        for r in analysis.reps:
            ax2.axvspan(r.start_s, r.start_s + r.duration_s, color="0.6", alpha=0.25, lw=0)
        ax2.set_ylabel("pelvis (deg)")
        ax2.set_xlabel("time (s)")
        ax2.legend(loc="lower right", fontsize=7, frameon=False)
        bottom -= 0.19
    else:
        ax.set_xlabel("time (s)")
    fig.text(0.07, bottom - 0.025, "Left/right symmetry", fontsize=10, weight="bold", va="top")
    fig.text(0.07, bottom - 0.045, symmetry_sentence(analysis), fontsize=9, va="top", wrap=True)
    squeeze = squeeze_sentence(analysis)
    if squeeze:
        fig.text(0.07, bottom - 0.085, squeeze, fontsize=9, va="top", wrap=True)


def squeeze_sentence(analysis: SegmentAnalysis) -> str:
    """The squeeze test's verdict in words ('' when there was none)."""
    st = analysis.stats
    if not st.squeeze_scores:
        return ""
    parts = ", ".join(f"{s.side} {s.total:.0f}/100" if s.detected else f"{s.side} not scored ({s.reason})"
                      for s in st.squeeze_scores)
    weaker = f"; the {st.weaker_squeeze_side} side is weaker" if st.weaker_squeeze_side else ""
    return f"Squeeze test: {parts}{weaker} (parts on page 2)."


def _table(ax, header: Sequence[str], rows: Sequence[Sequence[str]], col_widths: Sequence[float]) -> None:
    ax.axis("off")
    table = ax.table(cellText=[list(r) for r in rows] or [["-"] * len(header)], colLabels=list(header),
                     colWidths=list(col_widths), loc="upper left", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.scale(1.0, 1.25)
    for (r, _), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if r == 0:
            cell.set_facecolor("0.9")
            cell.set_height(cell.get_height() * 1.8)  # two-line headings


def _page_two(fig, analysis: SegmentAnalysis) -> None:
    fig.text(0.07, 0.965, "Reps", fontsize=12, weight="bold", va="top")
    reps = analysis.reps
    single = analysis.plan.single_leg
    calibrated = analysis.stats.calibration is not None
    header = ["rep", "start (s)", "time under\ntension (s)", "mean L\n(uV)", "mean R\n(uV)", "peak L\n(uV)",
              "peak R\n(uV)", "SI (%)\n" + ("normalised" if calibrated else "uV ratio"),
              "working\nside" if single else "higher\nside", "hip drop\n(deg)"]
    rows = [[str(r.index), f"{r.start_s:.1f}", f"{r.duration_s:.1f}", f"{r.mean_uV[0]:.1f}", f"{r.mean_uV[1]:.1f}",
             f"{r.peak_uV[0]:.1f}", f"{r.peak_uV[1]:.1f}",
             f"{r.si_normalised_pct:+.1f}" if calibrated and r.si_normalised_pct is not None
             else ("-" if calibrated else f"{r.si_pct:+.1f}"),
             r.working_side if single else (louder_side(r.si_normalised_pct)
                                            if calibrated and r.si_normalised_pct is not None else "-"),
             "-" if r.hip_drop_deg is None else f"{r.hip_drop_deg:.1f}"] for r in reps]
    n_rows = max(1, len(rows)) + 1
    h = min(0.45, 0.022 * n_rows + 0.01)
    ax = fig.add_axes((0.07, 0.94 - h, 0.86, h))
    _table(ax, header, rows, [0.06, 0.09, 0.12, 0.09, 0.09, 0.09, 0.09, 0.09, 0.1, 0.1])
    y = 0.94 - h - 0.015
    import textwrap

    fatigue_lines = textwrap.wrap(fatigue_sentence(analysis), 125)
    fig.text(0.07, y, "\n".join(fatigue_lines), fontsize=8, va="top", linespacing=1.3)
    y -= 0.0145 * len(fatigue_lines) + 0.02
    fig.text(0.07, y, "Squeeze test", fontsize=12, weight="bold", va="top")
    st = analysis.stats
    if st.squeeze_scores:
        sheader = ["side", "total", "strength", "speed", "steadiness", "relaxation", "isolation", "weaker"]
        def part(v):
            return "-" if v is None else f"{v:.0f}"

        srows = [[s.side, part(s.total), part(s.strength), part(s.speed), part(s.steadiness),
                  part(s.relaxation), part(s.isolation), "yes" if s.side == st.weaker_squeeze_side else "no"]
                 for s in st.squeeze_scores]
        ax = fig.add_axes((0.07, y - 0.03 - 0.022 * (len(srows) + 1), 0.86, 0.022 * (len(srows) + 1)))
        _table(ax, sheader, srows, [0.1, 0.1, 0.12, 0.1, 0.13, 0.13, 0.12, 0.1])
        y -= 0.05 + 0.022 * (len(srows) + 1)
        if st.weaker_squeeze_side:
            fig.text(0.07, y, f"The {st.weaker_squeeze_side} side is weaker.", fontsize=9, va="top")
            y -= 0.02
        for s in st.squeeze_scores:
            if not s.detected:
                fig.text(0.07, y, f"{s.side.capitalize()}: no score - {s.reason}.", fontsize=8, va="top")
                y -= 0.018
    else:
        fig.text(0.07, y - 0.025, "No squeeze test in this session.", fontsize=9, va="top")
        y -= 0.045
    y -= 0.01
    fig.text(0.07, y, "How to read this", fontsize=12, weight="bold", va="top")
    y -= 0.028
    for name, text in score_definitions():
        lines = textwrap.wrap(f"{name}: {text}", 118)
        fig.text(0.07, y, "\n".join(lines), fontsize=7.5, va="top", linespacing=1.3)
        y -= 0.0135 * len(lines) + 0.008


def write_report(rec: Recording, analyses: Sequence[SegmentAnalysis], path: Path, *,
                 created: Optional[_dt.datetime] = None) -> Path:
    """Write the report of a recording as an A4 PDF (two pages per segment).

    Parameters
    ----------
    rec : Recording
        The loaded recording.
    analyses : sequence of SegmentAnalysis
        From `glutescope.analysis.analyse` on ``rec``; at least one.
    path : pathlib.Path
        The PDF to write (replaced if it exists).
    created : datetime, optional
        Creation time written in the footer (default: now).

    Returns
    -------
    pathlib.Path
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    if not analyses:
        raise ValueError(f"analyses must hold at least one segment, got none for {rec.path}")
    created = created or _dt.datetime.now().astimezone()
    footer = (f"{DISCLAIMER}  Recording {rec.path.name}; report made "
              f"{created.strftime('%Y-%m-%d %H:%M')} by glutescope.")
    path = Path(path)
    # TrueType fonts (not Type 3) keep the text searchable and copyable.
    with rc_context({"pdf.fonttype": 42, "font.size": 8}), PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"] = "glutescope session report"
        info["Subject"] = f"subject {(rec.meta or {}).get('subject') or 'not given'}"
        info["Creator"] = "glutescope"
        page = 0
        for analysis in analyses:
            for draw in (lambda f: _page_one(f, rec, analysis, len(analyses)), lambda f: _page_two(f, analysis)):
                page += 1
                fig = Figure(figsize=A4_IN)
                draw(fig)
                fig.text(0.5, 0.02, f"{footer}  Page {page}.", fontsize=7, ha="center", color="0.3")
                pdf.savefig(fig)
    return path
