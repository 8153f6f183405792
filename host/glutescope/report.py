"""The physiotherapist's report: one look at a session, as an A4 PDF or a self-contained HTML page.

The content is built once, as a list of blocks (headings, paragraphs, tables, plots),
and rendered twice: into PDF pages laid out inside fixed margins (text wrapped by its
measured width, legends in a band above their axes, never over data) and into one HTML
file with its plots inline as SVG and no external resource. Every number comes
from `glutescope.analysis` (the live pipeline run over the recording), so it equals
what the live view showed; where the report summarises further (sets, blocks of a long
session) it says how.

Per segment: who, when, which device, how long; the signal quality of each channel as
the live view graded it, check by check; the session plot (a short session: both
glutes' envelopes with the reps and the cues that happened; a session longer than
`glutescope.summary.LONG_SESSION_S`: a timeline per minute and per-block summaries);
the left/right verdict, which side is weaker and what to practise; with a calibration,
each side's activation in % of its reference against published typical %MVIC ranges;
the squeeze test; the reps (or blocks) table; fatigue; how to read each score.

References
----------
Ekstrom RA, Donatelli RA, Carp KC. Electromyographic analysis of core trunk, hip, and
thigh muscles during 9 rehabilitation exercises. J Orthop Sports Phys Ther
37(12):754-762, 2007 (bridge: gluteus maximus 25 %, medius 28 % MVIC; unilateral bridge:
maximus 40 %, medius 47 %).
Boren K, Conrey C, Le Coguic J, Paprocki L, Voight M, Robinson TK. Electromyographic
analysis of gluteus medius and gluteus maximus during rehabilitation exercises. Int J
Sports Phys Ther 6(3):206-223, 2011 (single-limb bridge: the upper ends of the ranges,
maximus 54 %, medius 55 % MVIC).
Reiman MP, Bolgla LA, Loudon JK. A literature review of studies evaluating gluteus
maximus and gluteus medius activation during rehabilitation exercises. Physiother
Theory Pract 28(4):257-268, 2012 (the review these ranges are gathered in).
Distefano LJ, Blackburn JT, Marshall SW, Padua DA. Gluteal muscle activation during
common therapeutic exercises. J Orthop Sports Phys Ther 39(7):532-540, 2009 (no bridge
among its exercises: not used for the bands).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import html as _html
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from glutescope.analysis import ENVELOPE_MEAN_BIN_S, SegmentAnalysis
from glutescope.export import start_datetime
from glutescope.recording import Recording
from glutescope.summary import LONG_SESSION_S, block_length_s, interval_over_sets, rep_sets
from glutescope.verdicts import NOT_NORMALISED, symmetry_verdict
from glutesignal import scores as _s
from glutesignal.balance import OFF_FACTOR, ON_FACTOR
from glutesignal.onsets import MIN_DURATION_S
from glutesignal.symmetry import MARKED_PCT, NO_CLEAR_DIFFERENCE_PCT, louder_side

__all__ = ["DISCLAIMER", "TypicalRange", "TYPICAL_MVIC", "Heading", "Paragraph", "Table", "Plot",
           "report_blocks", "score_definitions", "symmetry_sentence", "weaker_side_sentence",
           "quality_lines", "write_report", "write_html"]

DISCLAIMER = "glutescope is a training and assessment aid, not a medical device."
A4_IN = (8.27, 11.69)
MARGIN_IN = 15.0 / 25.4
"""Page margin on every side; nothing but the footer is drawn outside it."""
FOOTER_Y_IN = 10.0 / 25.4
"""Baseline of the footer above the page's bottom edge (inside the bottom margin)."""
CONTENT_W_IN = A4_IN[0] - 2 * MARGIN_IN
TIMELINE_BIN_S = 60.0
"""Bin of a long session's timeline, s."""
_RIGHT_PAD_IN = 0.15
"""Room right of a time axis for half its last tick label (a session ending on a tick)."""
_LEFT, _RIGHT = "#1f77b4", "#d62728"
_CUE_LABEL = {"left": "L", "right": "R", "both": "both"}
_GRADE_ORDER = ("good", "fair", "poor")


# --------------------------------------------------------------------------- published ranges

@dataclass(frozen=True)
class TypicalRange:
    """Published activation of a muscle in an exercise, %MVIC (healthy adults, study means)."""

    exercise: str
    """In words, e.g. "double-leg bridge"."""
    muscle: str
    """"glute max" or "glute med"."""
    low_pct: float
    """Lowest study mean, %MVIC."""
    high_pct: float
    """Highest study mean, %MVIC (= ``low_pct`` for a single study)."""
    source: str
    """Short citation."""

    def describe(self) -> str:
        value = f"{self.low_pct:g} %" if self.low_pct == self.high_pct else f"{self.low_pct:g}-{self.high_pct:g} %"
        return f"{self.exercise}, {self.muscle}: {value}MVIC ({self.source})"


TYPICAL_MVIC = {
    "double": (TypicalRange("double-leg bridge", "glute max", 25.0, 25.0, "Ekstrom et al. 2007"),
               TypicalRange("double-leg bridge", "glute med", 28.0, 28.0, "Ekstrom et al. 2007")),
    "single": (TypicalRange("single-leg bridge", "glute max", 40.0, 54.0, "Ekstrom et al. 2007; Boren et al. 2011"),
               TypicalRange("single-leg bridge", "glute med", 47.0, 55.0, "Ekstrom et al. 2007; Boren et al. 2011")),
}
"""Study means gathered by Reiman et al. 2012 (see the module's references)."""

_BRIDGE_SCRIPTS = {"bridges": "double", "demo": "double", "calibrated_demo": "double",
                   "single_leg_bridges": "single"}


def typical_ranges(exercise: Optional[str]) -> tuple[TypicalRange, ...]:
    """The published ranges for an exercise name (empty when none is published for it)."""
    kind = _BRIDGE_SCRIPTS.get(exercise or "")
    return TYPICAL_MVIC[kind] if kind else ()


# --------------------------------------------------------------------------- blocks

@dataclass(frozen=True)
class Heading:
    """A section title (level 1: the report's title, 2: a section)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Running text, wrapped inside the margins."""

    text: str
    size_pt: float = 8.5
    bold: bool = False


@dataclass(frozen=True)
class Table:
    """A table; a header cell may hold a line break."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Plot:
    """A figure drawn by ``draw(fig, rect)`` into ``rect`` (figure fractions) of ``height_in``."""

    draw: Callable
    height_in: float
    alt: str
    """What the plot shows, in words (the HTML's alt text)."""


def score_definitions() -> list[tuple[str, str]]:
    """Each score in words, with the thresholds the code uses (docs/scores.md)."""
    return [
        ("Envelope", "How loud a glute is: the 100 ms moving RMS of the EMG after a 20-450 Hz band-pass and "
                     "notches at the mains lines found in the signal (De Luca 1997; SENIAM), in microvolts "
                     "(µV) at the electrodes."),
        ("Rep", f"A contraction of both glutes: their summed envelope rises above {ON_FACTOR:g} x its resting "
                f"level and lasts while above {OFF_FACTOR:g} x (at least {MIN_DURATION_S:g} s; Bonato et al. "
                "1998). The resting level is found in the signal: the mean envelope of its quietest half "
                "second. Time under tension is onset to offset; mean and peak are per side over the rep."),
        ("Symmetry index (SI)", "(R - L) / (0.5 (R + L)) x 100 % of each side's amplitude in a rep (Robinson "
                                "et al. 1987): 0 is perfect symmetry, positive means the right side is higher. "
                                "Calibrated, each side's rise above rest is taken in % of its own reference "
                                "contraction (the mean of 3 standing glute squeezes; Contreras et al. 2015), and a "
                                f"side is named only outside +/-{NO_CLEAR_DIFFERENCE_PCT:g} % (no clear "
                                f"difference; {NO_CLEAR_DIFFERENCE_PCT:g}-{MARKED_PCT:g} % moderate, above "
                                f"{MARKED_PCT:g} % marked). Without a calibration it is an {NOT_NORMALISED} "
                                "(position, skin and fat differ between sides: Burden 2010) and names no glute. "
                                "Within one set the 95 % interval over reps describes the rep-to-rep spread, "
                                "not a test; over several sets (a pause of more than a minute starts a new "
                                "one) it is taken over the sets' means, since reps of one set are not "
                                "independent (Matthews et al. 1990); a session over 15 minutes without set "
                                "breaks is clustered by its time blocks the same way. Squeezes of the squeeze test and "
                                "calibration holds are never reps."),
        ("%MVC", "Calibrated, each side's mean over a rep above the rest before it, in % of that side's "
                 "reference contraction (a standing glute squeeze, which Contreras et al. 2015 found as "
                 "high on average as the prone MVIC test, though not in every person). The published "
                 "ranges are study means of healthy adults in %MVIC (Ekstrom et al. 2007; Boren et al. "
                 "2011; gathered by Reiman et al. 2012): their windows and reference tests differ from "
                 "these, so they are a guide, not a norm."),
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
        ("Signal quality", "Per channel, good/fair/poor with the reason, graded every 2 s of signal over the "
                           "last 8 s exactly as the live view grades it: flat signal (electrode off), "
                           "saturation, mains interference, motion artefact, or a low contraction-to-rest "
                           "signal-to-noise ratio (Fraser et al. 2014; Sinderby et al. 1995). A score from a "
                           "poor channel is shown with its grade, never hidden."),
        ("Sitting and wake-up", "Seated: the pelvis tilted back 15-60 deg from the standing posture at the "
                                "start (further back is lying down); a sitting period ends after 60 s up, and "
                                "only the seated time counts. A reminder comes at each whole hour of sitting in "
                                "a period (\"every hour you spend sitting, stand up\"). Its wake-up is done "
                                "with 30 s of glute contraction or 10 contractions of at least 1 s after it; "
                                "the score is the larger of held time / 30 s and contractions / 10, at most "
                                "100; a done wake-up restarts the hour. The thresholds are the project's, not "
                                "published cut-offs."),
    ]


# --------------------------------------------------------------------------- sentences

def _rep_si(analysis: SegmentAnalysis) -> list[tuple[float, float, float]]:
    """(start_s, end_s, SI %) of each two-legged rep with an SI in the verdict's unit."""
    calibrated = analysis.stats.si_normalised
    out = []
    for r in analysis.reps:
        si = r.si_normalised_pct if calibrated else r.si_pct
        if si is not None and math.isfinite(si) and r.working_side == "both":
            out.append((r.start_s, r.start_s + r.duration_s, si))
    return out


def _set_interval(analysis: SegmentAnalysis):
    """(interval, what a cluster is in words), or (None, "") when the reps are taken one by one.

    Clusters are the sets when the reps form two or more; in a session longer than
    `LONG_SESSION_S` whose reps run on without a set break, the time blocks of its
    summary; otherwise (one set of a short session, or single-leg pairs) there is no
    cluster and the live view's rep-to-rep interval is shown as the spread it is.
    """
    if analysis.plan.single_leg:
        return None, ""
    reps = _rep_si(analysis)
    if len(reps) < 2:
        return None, ""
    ids = rep_sets([a for a, _, _ in reps], [b for _, b, _ in reps])
    ref_sd = analysis.stats.si_reference_sd_pct
    if ids[-1] >= 1:
        return interval_over_sets([si for _, _, si in reps], ids, reference_sd_pct=ref_sd), "sets"
    if analysis.duration_s > LONG_SESSION_S:
        block_s = block_length_s(analysis.duration_s)
        blocks = [int(a // block_s) for a, _, _ in reps]
        if blocks[-1] > blocks[0]:
            return (interval_over_sets([si for _, _, si in reps], blocks, reference_sd_pct=ref_sd),
                    f"{block_s / 60:g}-minute blocks")
    return None, ""


def _verdict_stats(analysis: SegmentAnalysis):
    """The live stats, with the interval over sets in place of the rep-to-rep one when there are sets."""
    st = analysis.stats
    ci, _ = _set_interval(analysis)
    if ci is None or st.si_pct is None:
        return st, None
    side = louder_side(ci.si_pct)
    from glutesignal.symmetry import asymmetry_band

    return dataclasses.replace(st, si_pct=ci.si_pct, ci_low_pct=ci.ci_low_pct, ci_high_pct=ci.ci_high_pct,
                               louder_side=side, asymmetry_band=asymmetry_band(ci.si_pct),
                               si_consistent=ci.beyond_band and side in ("left", "right")), ci


def symmetry_sentence(analysis: SegmentAnalysis) -> str:
    """The left/right verdict in words (`glutescope.verdicts`): a muscle claim only when calibrated.

    With reps in two or more sets (or, in a long session without set breaks, in two or
    more time blocks), the SI is the mean of the clusters' means and its interval is taken
    over them (`glutescope.summary.interval_over_sets`), as the text says.
    """
    st, ci = _verdict_stats(analysis)
    text = symmetry_verdict(st, single_leg=analysis.plan.single_leg)
    if ci is not None:
        unit = _set_interval(analysis)[1]
        why = "reps of a set are not independent" if unit == "sets" else "reps close in time are not independent"
        text = text.replace("rep-to-rep 95 % interval", f"95 % interval over {ci.n_sets} {unit} ({why})")
        text = text.replace("95 % interval (rep-to-rep spread and the references' precision,",
                            f"95 % interval over {ci.n_sets} {unit} ({why}; with the references' precision,")
        text = text.replace(f"{st.n_reps} reps", f"{ci.n_reps} reps in {ci.n_sets} {unit}")
    if analysis.stats.calibration_note:
        note = analysis.stats.calibration_note
        text += f" {note[0].upper()}{note[1:]}."
    return text


def weaker_side_sentence(analysis: SegmentAnalysis) -> str:
    """Which glute is weaker and what to practise, in plain words ('' without reps).

    A side is called weaker only when calibrated and the whole interval lies beyond the
    +/-10 % band; otherwise the sentence says there is no clear difference, or that the
    channels cannot tell.
    """
    st, _ = _verdict_stats(analysis)
    if st.si_pct is None:
        return ""
    if not st.si_normalised:
        return ("Which glute is weaker cannot be told from this session: the two channels are not calibrated, "
                "so their difference may be the electrodes. Record a calibration (glutescope record --exercise "
                "calibration) and pass it with --calibration next time.")
    if st.louder_side in ("left", "right") and st.si_consistent:
        weak = "left" if st.louder_side == "right" else "right"
        leg = "single-leg bridges on the " + weak + " leg" if not analysis.plan.single_leg else \
            "more single-leg bridges on the " + weak + " leg"
        return (f"The {weak} glute is weaker: in these reps it works at a lower share of its own reference than "
                f"the {st.louder_side}. What to practise: switch the {weak} glute on alone (the standing squeeze "
                f"of the {weak} cheek, leg and thigh still) and {leg}, then compare again next session.")
    return ("No clear difference between the glutes: the interval reaches into the "
            f"+/-{NO_CLEAR_DIFFERENCE_PCT:g} % band, so neither side is called weaker and nothing one-sided is "
            "needed from these reps.")


def squeeze_sentence(analysis: SegmentAnalysis) -> str:
    """The squeeze test's verdict in words ('' when there was none)."""
    st = analysis.stats
    if not st.squeeze_scores:
        return ""
    parts = ", ".join(f"{s.side} {s.total:.0f}/100" if s.detected else f"{s.side} not scored ({s.reason})"
                      for s in st.squeeze_scores)
    weaker = (f" The {st.weaker_squeeze_side} side is weaker: practise switching it on alone."
              if st.weaker_squeeze_side else "")
    return f"Squeeze test: {parts}.{weaker}"


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


def _clock(t_s: float, long: bool) -> str:
    if not long:
        return f"{t_s:.0f} s"
    t = int(round(t_s))
    return f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}"


def grade_at(analysis: SegmentAnalysis, channel: int, t_s: float) -> str:
    """The grade the live view showed for ``channel`` at segment time ``t_s`` ("-" before the first)."""
    times = [t for t, _ in analysis.quality_history]
    k = int(np.searchsorted(times, t_s, side="right")) - 1
    return analysis.quality_history[k][1][channel].grade if k >= 0 else "-"


def quality_lines(analysis: SegmentAnalysis) -> list[str]:
    """Per channel: how many live checks gave each grade, when and why it was not good, and the last grade."""
    long = analysis.duration_s > LONG_SESSION_S
    lines = []
    hist = analysis.quality_history
    for ch, name in enumerate(analysis.channel_names):
        label = name.replace("_", " ")
        if not hist:
            lines.append(f"{label}: not graded (less than 2 s of gap-free signal)")
            continue
        grades = [snap[ch].grade for _, snap in hist]
        counts = ", ".join(f"{g} in {grades.count(g)}" for g in _GRADE_ORDER if grades.count(g))
        runs = []  # [first t, last t, grade, first reason] of each stretch of checks not graded good
        for i, ((t, snap), g) in enumerate(zip(hist, grades)):
            if g == "good":
                continue
            if runs and i and grades[i - 1] == g:
                runs[-1][1] = t
            else:
                runs.append([t, t, g, snap[ch].reasons[0] if snap[ch].reasons else ""])
        shown = []
        for a, b, g, reason in runs[:3]:
            when = _clock(a, long) if a == b else f"{_clock(a, long)}-{_clock(b, long)}"
            shown.append(f"{g} at {when}" + (f": {reason}" if reason else ""))
        more = f"; and {len(runs) - 3} more stretches" if len(runs) > 3 else ""
        detail = f" ({'; '.join(shown)}{more})" if shown else ""
        lines.append(f"{label}: {counts} of {len(grades)} live checks{detail}; shown live at the end: "
                     f"{grades[-1]}")
    return lines


# --------------------------------------------------------------------------- plots

def _minute_means(analysis: SegmentAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Mean envelope per `TIMELINE_BIN_S` (the mean of its 1-s means, NaN where all are
    gap), and the bin centres, s."""
    per_s = analysis.envelope_mean_uV
    k = max(1, int(round(TIMELINE_BIN_S / ENVELOPE_MEAN_BIN_S)))
    n = -(-per_s.shape[1] // k)
    padded = np.full((per_s.shape[0], n * k), np.nan, dtype=np.float32)
    padded[:, : per_s.shape[1]] = per_s
    bins = padded.reshape(per_s.shape[0], n, k)
    ok = np.isfinite(bins)
    with np.errstate(invalid="ignore"):
        mean = np.where(ok.any(axis=-1), np.where(ok, bins, 0).sum(axis=-1) / np.maximum(ok.sum(axis=-1), 1), np.nan)
    return (np.arange(n) + 0.5) * k * ENVELOPE_MEAN_BIN_S, mean


def _axes(fig, rect, left_in: float, bottom_in: float, right_in: float, top_in: float):
    """Axes inside ``rect`` (figure fractions) with paddings given in inches."""
    fw, fh = fig.get_size_inches()
    x0, y0, w, h = rect
    return fig.add_axes((x0 + left_in / fw, y0 + bottom_in / fh, w - (left_in + right_in) / fw,
                         h - (bottom_in + top_in) / fh))


def _legend_above(fig, ax, handles, labels, gap_in: float = 0.16) -> None:
    """A one-row legend in the band above ``ax`` (outside the data)."""
    fw, fh = fig.get_size_inches()
    pos = ax.get_position()
    fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(pos.x0, pos.y1 + gap_in / fh),
               ncol=len(labels), fontsize=7, frameon=False, borderaxespad=0.0, handlelength=1.6,
               columnspacing=1.2)


def _gap_spans(rec: Recording, analysis: SegmentAnalysis, join_s: float) -> list[tuple[float, float]]:
    """The segment's gaps as (start, end) in s, those closer than ``join_s`` drawn as one
    (thousands of short gaps in a long session are one hatched stretch at a page's width)."""
    fs = analysis.emg_fs_hz
    spans: list[tuple[float, float]] = []
    for g in rec.emg[analysis.segment].gaps:
        a, b = g.first_sample / fs, (g.first_sample + g.n_samples) / fs
        if spans and a - spans[-1][1] < join_s:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


def _named_cues(analysis: SegmentAnalysis, rec: Recording):
    """Squeeze cues that happened: given inside the recorded EMG, not inside a gap."""
    fs = analysis.emg_fs_hz
    gaps = rec.emg[analysis.segment].gaps
    out = []
    for cue in analysis.plan.squeeze_cues:
        if cue.name != "squeeze" or not 0 <= cue.start_s < analysis.duration_s:
            continue
        k = cue.start_s * fs
        if any(g.first_sample <= k < g.first_sample + g.n_samples for g in gaps):
            continue
        out.append(cue)
    return out


def _session_plot(rec: Recording, analysis: SegmentAnalysis) -> Plot:
    has_imu = analysis.pelvis_mean_deg is not None
    names = analysis.channel_names
    cues = _named_cues(analysis, rec)
    holds = [c for c in analysis.plan.squeeze_cues if c.name == "reference" and c.start_s < analysis.duration_s]

    def draw(fig, rect):
        fh = fig.get_size_inches()[1] * rect[3]
        env_h = fh - 0.42 - (2.15 if has_imu else 0.75)
        ax = _axes(fig, rect, 0.6, fh - 0.42 - env_h, _RIGHT_PAD_IN, 0.42)
        env = analysis.envelope_max_uV
        k = max(1, int(round(analysis.envelope_max_bin_s * analysis.emg_fs_hz)))
        t = (np.arange(env.shape[1]) + 0.5) * k / analysis.emg_fs_hz
        handles, labels = [], []
        for ch, name in enumerate(names):
            color = _LEFT if name == "glute_max_left" else _RIGHT if name == "glute_max_right" else None
            (line,) = ax.plot(t, env[ch], color=color, lw=0.8 if color else 0.6)
            handles.append(line)
            labels.append(name.replace("_", " "))
        for r in analysis.reps:
            ax.axvspan(r.start_s, r.start_s + r.duration_s, color="0.6", alpha=0.25, lw=0)
            ax.text(r.start_s + 0.5 * r.duration_s, 1.01, str(r.index), transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=6.5)
        for cue in holds:
            ax.axvspan(cue.start_s, min(cue.end_s, analysis.duration_s), color="green", alpha=0.1, lw=0)
        for cue in cues:
            ax.axvline(cue.start_s, color="green", lw=0.8, ls="--")
            ax.text(cue.start_s, 1.01, f" {_CUE_LABEL.get(cue.side, cue.side)}", transform=ax.get_xaxis_transform(),
                    fontsize=6.5, color="green", va="bottom", ha="left")
        for a, b in _gap_spans(rec, analysis, analysis.duration_s / 1000):
            ax.axvspan(a, b, color="black", alpha=0.15, hatch="///", lw=0)
        ax.set_ylabel("envelope (µV)")
        ax.set_xlim(0, analysis.duration_s)
        ax.set_ylim(bottom=0)
        _legend_above(fig, ax, handles, labels)
        if has_imu:
            ax.tick_params(labelbottom=False)
            ax2 = _axes(fig, rect, 0.6, 0.4, _RIGHT_PAD_IN, fh - 0.4 - 1.35)
            ax2.sharex(ax)
            pelvis = analysis.pelvis_mean_deg
            kp = max(1, int(round(analysis.pelvis_mean_bin_s * analysis.imu_fs_hz)))
            ti = (np.arange(pelvis.shape[1]) + 0.5) * kp / analysis.imu_fs_hz
            (a,) = ax2.plot(ti, pelvis[0], color="0.2", lw=0.8)
            (b,) = ax2.plot(ti, pelvis[1], color="darkorange", lw=0.8)
            for r in analysis.reps:
                ax2.axvspan(r.start_s, r.start_s + r.duration_s, color="0.6", alpha=0.25, lw=0)
            ax2.set_ylabel("pelvis (deg)")
            ax2.set_xlabel("time (s)")
            _legend_above(fig, ax2, [a, b], ["tilt (anterior +)", "obliquity (left hip higher +)"], 0.05)
        else:
            ax.set_xlabel("time (s)")

    alt = (f"Envelopes of {', '.join(n.replace('_', ' ') for n in names)} over {analysis.duration_s:.0f} s "
           f"with {len(analysis.reps)} reps shaded" + (", and the pelvis angles below" if has_imu else ""))
    return Plot(draw, 4.6 if has_imu else 3.0, alt)


def _timeline_plot(rec: Recording, analysis: SegmentAnalysis, block_s: float) -> Plot:
    names = analysis.channel_names
    hours = analysis.duration_s > 3 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)

    def draw(fig, rect):
        fh = fig.get_size_inches()[1] * rect[3]
        ax = _axes(fig, rect, 0.6, fh - 0.3 - 1.9, _RIGHT_PAD_IN, 0.3)
        t, env = _minute_means(analysis)
        handles = []
        for ch, name in enumerate(names):
            color = _LEFT if name == "glute_max_left" else _RIGHT if name == "glute_max_right" else None
            (line,) = ax.plot(t / scale, env[ch], color=color, lw=0.8)
            handles.append(line)
        for a, b in _gap_spans(rec, analysis, analysis.duration_s / 1000):
            ax.axvspan(a / scale, b / scale, color="black", alpha=0.15, hatch="///", lw=0)
        ax.set_ylabel(f"mean envelope\nper {TIMELINE_BIN_S:g} s (µV)")
        ax.set_xlim(0, analysis.duration_s / scale)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelbottom=False)
        _legend_above(fig, ax, handles, [n.replace("_", " ") for n in names], 0.08)
        ax2 = _axes(fig, rect, 0.6, 0.4, _RIGHT_PAD_IN, 0.3 + 1.9 + 0.15)
        ax2.sharex(ax)
        edges = np.arange(0.0, analysis.duration_s + block_s, block_s)
        counts, _ = np.histogram([r.start_s for r in analysis.reps], bins=edges)
        ax2.bar(edges[:-1] / scale, counts, width=block_s / scale, align="edge", color="0.55", edgecolor="white")
        ax2.set_ylabel(f"reps per\n{block_s / 60:g} min")
        ax2.set_xlabel(f"time ({unit} from the start)")

    alt = (f"Timeline of {analysis.duration_s / 3600:.1f} h: mean envelope per minute of each channel, and reps "
           f"per {block_s / 60:g} min block")
    return Plot(draw, 3.4, alt)


def _sitting_plot(tl, duration_s: float) -> Plot:
    """The sitting/wake-up strip: seated periods as bars, reminders and wake-ups as marks."""
    hours = duration_s > 3 * 3600
    unit, scale = ("h", 3600.0) if hours else ("min", 60.0)

    def draw(fig, rect):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        ax = _axes(fig, rect, 0.6, 0.4, 0.05, 0.3)
        ax.broken_barh([(p.start_s / scale, (p.end_s - p.start_s) / scale) for p in tl.periods], (0.2, 0.6),
                       color="0.6")
        for t in tl.reminders_s:
            ax.axvline(t / scale, color="#d62728", lw=1.0, ls="--")
        done = [w for w in tl.wake_ups if w.done]
        missed = [w for w in tl.wake_ups if not w.done]
        ax.plot([w.at_s / scale for w in done], [1.15] * len(done), "o", color="#2ca02c", ms=5, clip_on=False)
        ax.plot([w.at_s / scale for w in missed], [1.15] * len(missed), "x", color="#ff7f0e", ms=6, mew=1.5,
                clip_on=False)
        ax.set_xlim(0, duration_s / scale)
        ax.set_ylim(0, 1.3)
        ax.set_yticks([])
        ax.set_xlabel(f"time ({unit} from the start)")
        reminder = "reminder" if tl.source == "protocol" else "an hour of sitting (no reminder given)"
        handles = [Patch(color="0.6"), Line2D([], [], color="#d62728", ls="--"),
                   Line2D([], [], marker="o", color="#2ca02c", ls=""), Line2D([], [], marker="x", color="#ff7f0e",
                                                                               ls="", mew=1.5)]
        _legend_above(fig, ax, handles, ["seated", reminder, "wake-up done", "wake-up not done"], 0.08)

    alt = (f"Sitting timeline: {len(tl.periods)} seated periods as bars, {len(tl.reminders_s)} "
           + ("reminders" if tl.source == "protocol" else "hours of sitting reached")
           + f" as dashed lines, {len(tl.wake_ups)} wake-ups as marks (done: circle, not done: cross)")
    return Plot(draw, 1.3, alt)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{int(seconds // 3600)} h {seconds % 3600 / 60:02.0f} min"


def _sitting_blocks(tl, duration_s: float) -> list:
    """The sitting and wake-up timeline: what it is, the strip, the events in a table."""
    from glutesignal.sitting import BREAK_S, LIE_TILT_DEG, SIT_TILT_DEG

    done = sum(w.done for w in tl.wake_ups)
    text = (f"Seated {_duration(tl.sitting_s)} in {len(tl.periods)} period{'s' if len(tl.periods) != 1 else ''} "
            f"(from the pelvis IMU: tilted back {SIT_TILT_DEG:g}-{LIE_TILT_DEG:g}° from standing; a period ends "
            f"after {BREAK_S:g} s up). ")
    if tl.source == "protocol":
        text += (f"A reminder after each {_duration(tl.remind_every_s)} of sitting: {len(tl.reminders_s)} given. "
                 f"Wake-ups (30 s of squeeze or 10 contractions after the ask, scored on the spot): "
                 f"{done} of {len(tl.wake_ups)} done.")
    else:
        text += (f"Recorded without the desk protocol: no reminder was given; {_duration(tl.remind_every_s)} of "
                 f"sitting in one period was reached {len(tl.reminders_s)} times.")
    rows = []
    for i, p in enumerate(tl.periods, 1):
        rows.append((p.start_s, "sat down", f"period {i}"))
        rows.append((p.end_s, "stood up", f"period {i}: seated {_duration(p.seated_s)}"))
    for t in tl.reminders_s:
        rows.append((t, "reminder" if tl.source == "protocol" else "an hour seated", ""))
    for w in tl.wake_ups:
        rows.append((w.at_s, "wake-up " + ("done" if w.done else "not done"),
                     f"{w.score:.0f}/100: {w.held_s:.0f} s held, {w.reps} contractions (asked at "
                     f"{_clock(w.asked_s, True)} by {'a reminder' if w.by == 'reminder' else 'the schedule'})"))
    rows.sort(key=lambda r: r[0])
    table = Table(("time\n(h:mm:ss)", "event", "detail"), tuple((_clock(t, True), e, d) for t, e, d in rows))
    return [Heading("Sitting and wake-ups"), Paragraph(text), _sitting_plot(tl, duration_s), table]


def _mvc_plot(analysis: SegmentAnalysis, ranges: Sequence[TypicalRange]) -> Plot:
    reps = [r for r in analysis.reps if r.mean_pct_ref is not None]
    gmax = [g for g in ranges if g.muscle == "glute max"]

    def draw(fig, rect):
        ax = _axes(fig, rect, 0.6, 0.4, 1.75, 0.3)
        x = np.arange(1, len(reps) + 1)
        (a,) = ax.plot(x, [r.mean_pct_ref[0] for r in reps], "o", color=_LEFT, ms=3.5)
        (b,) = ax.plot(x, [r.mean_pct_ref[1] for r in reps], "s", color=_RIGHT, ms=3.5)
        top = max([50.0] + [max(r.mean_pct_ref) for r in reps] + [g.high_pct for g in gmax]) * 1.15
        for g in gmax:
            if g.high_pct > g.low_pct:
                ax.axhspan(g.low_pct, g.high_pct, color="0.85", lw=0, zorder=0)
            else:
                ax.axhline(g.low_pct, color="0.5", lw=1.0, ls=":", zorder=0)
            # Labelled beside the axes, never over the points.
            ax.text(1.02, 0.5 * (g.low_pct + g.high_pct) / top, f"published\n{g.exercise},\n{g.muscle}:\n"
                    f"{g.low_pct:g}" + ("" if g.high_pct == g.low_pct else f"-{g.high_pct:g}") + " %MVIC",
                    transform=ax.transAxes, fontsize=6.5, va="center", ha="left", color="0.3")
        ax.set_ylim(0, top)
        ax.set_xlim(0.5, len(reps) + 0.5)
        ax.set_xlabel("rep")
        ax.set_ylabel("mean over the rep\n(% of reference)")
        _legend_above(fig, ax, [a, b], ["left glute max", "right glute max"], 0.06)

    return Plot(draw, 2.3, "Each rep's mean activation of each glute in % of its reference, with the published "
                           "typical range")


# --------------------------------------------------------------------------- content

def _header_lines(rec: Recording, analysis: SegmentAnalysis, n_segments: int) -> list[str]:
    meta = rec.meta or {}
    info = rec.device_info
    start = start_datetime(rec, analysis.segment)
    dev = "unknown" if info is None else (f"{info.name}, firmware {'.'.join(map(str, info.fw_version))}, "
                                          f"EMG {info.emg_fs_hz} Hz, IMU {info.imu_fs_hz or 'off'}"
                                          + (" Hz" if info.imu_fs_hz else ""))
    emg = rec.emg[analysis.segment]
    missing = f"{emg.n_missing / analysis.emg_fs_hz:.2f} s missing in {len(emg.gaps)} gaps" if emg.gaps else "no gaps"
    seg = f" (segment {analysis.segment + 1} of {n_segments})" if n_segments > 1 else ""
    d = analysis.duration_s
    length = f"{d:.1f} s" if d < 600 else f"{_clock(d, True)} (h:mm:ss)"
    return [
        f"Subject: {meta.get('subject') or 'not given'}",
        f"Date: {start.strftime('%Y-%m-%d %H:%M:%S')}{seg}",
        f"Device: {dev}",
        f"Duration: {length} of EMG ({missing})",
        f"Exercise: {analysis.plan.exercise or 'not recorded'} ({analysis.plan.source})",
        mains_sentence(analysis),
    ]


def _mvc_blocks(analysis: SegmentAnalysis) -> list:
    st = analysis.stats
    reps = [r for r in analysis.reps if r.mean_pct_ref is not None]
    if st.calibration is None or not reps:
        why = ("no calibration in this session or stored with it: activation is in µV of each electrode, which "
               "cannot be compared with published %MVIC") if st.calibration is None else "no rep to measure"
        return [Heading("Activation in %MVC"), Paragraph(f"Not shown: {why}.")]
    ranges = typical_ranges(analysis.plan.exercise)
    out = [Heading("Activation in %MVC")]
    parts = []
    for i, side in enumerate(("left", "right")):
        vals = np.array([r.mean_pct_ref[i] for r in reps])
        parts.append(f"{side} glute max {vals.mean():.0f} % of its reference (reps {vals.min():.0f}-"
                     f"{vals.max():.0f} %)")
    text = "Mean over the reps: " + "; ".join(parts) + "."
    gmax = [g for g in ranges if g.muscle == "glute max"]
    if gmax:
        g = gmax[0]
        words = []
        for i, side in enumerate(("left", "right")):
            m = float(np.mean([r.mean_pct_ref[i] for r in reps]))
            if g.high_pct > g.low_pct:
                where = ("within" if g.low_pct <= m <= g.high_pct else "below" if m < g.low_pct else "above")
                words.append(f"the {side} is {where} it")
            else:
                words.append(f"the {side} is {'above' if m > g.low_pct else 'below'} it")
        where_both = {w.split(" is ")[1] for w in words}
        said = f"both are {where_both.pop()}" if len(where_both) == 1 else " and ".join(words)
        text += (f" Published for healthy adults: {g.describe()}; {said}. A guide, not a "
                 "norm: the studies' windows and reference tests differ from these.")
    else:
        text += " No published typical range is used for this exercise."
    if any("glute_med" in n for n in analysis.channel_names):
        med = [g for g in ranges if g.muscle == "glute med"]
        text += (" Glute medius: the calibration holds a reference for the two glute max channels only, so no "
                 "%MVC is given for it" + (f" (published: {med[0].describe()})." if med else "."))
    out.append(Paragraph(text))
    out.append(_mvc_plot(analysis, gmax))
    return out


def _rep_table(analysis: SegmentAnalysis) -> Table:
    single = analysis.plan.single_leg
    calibrated = analysis.stats.calibration is not None
    rows_q = [n for n in ("glute_max_left", "glute_max_right") if n in analysis.channel_names]
    q_idx = [analysis.channel_names.index(n) for n in rows_q]
    header = ["rep", "start\n(s)", "time under\ntension (s)", "mean L\n(µV)", "mean R\n(µV)", "peak L\n(µV)",
              "peak R\n(µV)"]
    if calibrated:
        header += ["L\n(% ref)", "R\n(% ref)"]
    header += ["SI (%)\n" + ("normalised" if calibrated else "µV ratio"),
               "working\nside" if single else "higher\nside", "hip drop\n(deg)", "signal\nL / R"]
    rows = []
    for r in analysis.reps:
        end = r.start_s + r.duration_s
        row = [str(r.index), f"{r.start_s:.1f}", f"{r.duration_s:.1f}", f"{r.mean_uV[0]:.1f}",
               f"{r.mean_uV[1]:.1f}", f"{r.peak_uV[0]:.1f}", f"{r.peak_uV[1]:.1f}"]
        if calibrated:
            row += [f"{v:.0f}" for v in r.mean_pct_ref] if r.mean_pct_ref is not None else ["-", "-"]
            si = "-" if r.si_normalised_pct is None else f"{r.si_normalised_pct:+.1f}"
            higher = louder_side(r.si_normalised_pct) if r.si_normalised_pct is not None else "-"
        else:
            si, higher = f"{r.si_pct:+.1f}", "-"
        row += [si, r.working_side if single else higher,
                "-" if r.hip_drop_deg is None else f"{r.hip_drop_deg:.1f}",
                " / ".join(grade_at(analysis, k, end) for k in q_idx) or "-"]
        rows.append(tuple(row))
    return Table(tuple(header), tuple(rows))


def _block_table(analysis: SegmentAnalysis, block_s: float) -> Table:
    calibrated = analysis.stats.si_normalised
    unit = "% ref" if calibrated else "µV"
    q_idx = [analysis.channel_names.index(n) for n in ("glute_max_left", "glute_max_right")
             if n in analysis.channel_names]
    header = ("block", "from - to\n(h:mm:ss)", "reps", f"mean L\n({unit})", f"mean R\n({unit})",
              "SI (%)\n" + ("normalised" if calibrated else "µV ratio"), "signal good\nL / R (% checks)")
    rows = []
    n_blocks = max(1, int(math.ceil(analysis.duration_s / block_s)))
    for k in range(n_blocks):
        a, b = k * block_s, min((k + 1) * block_s, analysis.duration_s)
        reps = [r for r in analysis.reps if a <= r.start_s < b]
        if calibrated:
            vals = [r.mean_pct_ref for r in reps if r.mean_pct_ref is not None]
            sis = [r.si_normalised_pct for r in reps if r.si_normalised_pct is not None]
        else:
            vals = [r.mean_uV for r in reps]
            sis = [r.si_pct for r in reps]
        checks = [snap for t, snap in analysis.quality_history if a < t <= b]
        good = " / ".join(f"{100 * sum(s[i].grade == 'good' for s in checks) / len(checks):.0f}"
                          for i in q_idx) if checks else "-"
        rows.append((str(k + 1), f"{_clock(a, True)} - {_clock(b, True)}", str(len(reps)),
                     f"{np.mean([v[0] for v in vals]):.1f}" if vals else "-",
                     f"{np.mean([v[1] for v in vals]):.1f}" if vals else "-",
                     f"{np.mean(sis):+.1f}" if sis else "-", good))
    return Table(header, tuple(rows))


def _squeeze_blocks(analysis: SegmentAnalysis) -> list:
    st = analysis.stats
    if not st.squeeze_scores:
        return []

    def part(v):
        return "-" if v is None else f"{v:.0f}"

    rows = tuple((s.side, part(s.total), part(s.strength), part(s.speed), part(s.steadiness), part(s.relaxation),
                  part(s.isolation), "yes" if s.side == st.weaker_squeeze_side else "no")
                 for s in st.squeeze_scores)
    out = [Heading("Squeeze test"), Paragraph(squeeze_sentence(analysis)),
           Table(("side", "total", "strength", "speed", "steadiness", "relaxation", "isolation", "weaker"), rows)]
    for s in st.squeeze_scores:
        if not s.detected:
            out.append(Paragraph(f"{s.side.capitalize()}: no score - {s.reason}."))
    return out


def report_blocks(rec: Recording, analysis: SegmentAnalysis, n_segments: int = 1) -> list:
    """The report of one segment as blocks (`Heading`, `Paragraph`, `Table`, `Plot`), in order.

    Both renderers (`write_report`, `write_html`) draw exactly these, so the PDF and the
    HTML page say the same.
    """
    long = analysis.duration_s > LONG_SESSION_S
    out: list = [Heading("glutescope session report", 1)]
    out += [Paragraph(line) for line in _header_lines(rec, analysis, n_segments)]
    out.append(Heading("Signal quality"))
    out += [Paragraph(line) for line in quality_lines(analysis)]
    if long:
        block_s = block_length_s(analysis.duration_s)
        out.append(Heading("Timeline"))
        out.append(Paragraph(f"A session of {_clock(analysis.duration_s, True)}: shown as the mean envelope per "
                             f"minute and {block_s / 60:g}-minute blocks, not as a trace of every rep."))
        out.append(_timeline_plot(rec, analysis, block_s))
    else:
        out.append(Heading("Session"))
        out.append(Paragraph("Glute envelopes (100 ms RMS). Grey: reps (numbered above); dashed green: squeeze "
                             "cues that were given (R right, L left, both); hatched: gaps in the signal."
                             + (" Light green: the calibration's reference holds."
                                if any(c.name == "reference" for c in analysis.plan.squeeze_cues) else "")
                             + (" Below: the pelvis angles." if analysis.pelvis_mean_deg is not None else "")))
        out.append(_session_plot(rec, analysis))
    from glutescope.sitting_timeline import sitting_timeline

    timeline = sitting_timeline(analysis)
    if timeline is not None:
        out += _sitting_blocks(timeline, analysis.duration_s)
    out.append(Heading("Left/right"))
    out.append(Paragraph(symmetry_sentence(analysis)))
    weaker = weaker_side_sentence(analysis)
    if weaker:
        out.append(Paragraph(weaker, bold=True))
    out += _mvc_blocks(analysis)
    out += _squeeze_blocks(analysis)
    if long:
        out.append(Heading(f"Blocks of {block_length_s(analysis.duration_s) / 60:g} minutes"))
        out.append(Paragraph(f"{len(analysis.reps)} reps in all; per block the reps, each side's mean over them, "
                             "their mean SI, and the share of live signal checks graded good."))
        out.append(_block_table(analysis, block_length_s(analysis.duration_s)))
    else:
        out.append(Heading("Reps"))
        if analysis.reps:
            out.append(_rep_table(analysis))
        else:
            out.append(Paragraph("No rep in this session."))
    out.append(Paragraph(fatigue_sentence(analysis)))
    out.append(Heading("How to read this"))
    out += [Paragraph(f"{name}: {text}", size_pt=7.5) for name, text in score_definitions()]
    return out


# --------------------------------------------------------------------------- PDF

class _Measure:
    """Text widths in points, as the PDF lays its text out, without laying it out.

    The PDF backend places a line by shaping it whole (libraqm through FreeType), about
    0.1 ms per character: measuring every trial line of every paragraph that way was most
    of a report's time. A line's width is instead the sum of its glyphs' unhinted advances
    plus the font's kerning between neighbours, each looked up once per font and cached;
    this agrees with the shaped width to within a few tenths of a point on a line across
    the page (the layout test checks that no ink leaves the margins).
    """

    _REF_PT = 100.0  # advances and kerning are read at this size and scaled (unhinted: linear)

    def __init__(self) -> None:
        self._fonts: dict[bool, tuple] = {}

    def _font(self, bold: bool) -> tuple:
        if bold not in self._fonts:
            from matplotlib import font_manager
            from matplotlib.font_manager import FontProperties
            from matplotlib.ft2font import FT2Font

            # A font object of our own: the backends share theirs and resize it per text.
            font = FT2Font(font_manager.findfont(FontProperties(weight="bold" if bold else "normal")))
            font.set_size(self._REF_PT, 72)
            self._fonts[bold] = (font, {}, {})
        return self._fonts[bold]

    def width_pt(self, text: str, size_pt: float, bold: bool = False) -> float:
        from matplotlib.ft2font import Kerning, LoadFlags

        font, glyphs, kerns = self._font(bold)
        total, prev = 0.0, None
        for ch in text:
            g = glyphs.get(ch)
            if g is None:
                index = font.get_char_index(ord(ch))
                g = glyphs[ch] = (index, font.load_glyph(index, flags=LoadFlags.NO_HINTING).linearHoriAdvance / 65536)
            if prev is not None:
                pair = (prev, g[0])
                k = kerns.get(pair)
                if k is None:
                    k = kerns[pair] = font.get_kerning(prev, g[0], Kerning.UNFITTED) / 64
                total += k
            total += g[1]
            prev = g[0]
        return total * size_pt / self._REF_PT

    def wrap(self, text: str, size_pt: float, width_pt: float, bold: bool = False) -> list[str]:
        lines: list[str] = []
        for para in text.split("\n"):
            line = ""
            for word in para.split(" "):
                trial = f"{line} {word}" if line else word
                if line and self.width_pt(trial, size_pt, bold) > width_pt:
                    lines.append(line)
                    line = word
                else:
                    line = trial
            lines.append(line)
        return lines


class _PdfFlow:
    """Blocks laid out top to bottom inside the margins, a new page when one is full."""

    def __init__(self, pdf, footer: str) -> None:
        self.pdf, self.footer = pdf, footer
        self.m = _Measure()
        self.fig = None
        self.y_in = 0.0
        self.page = 0

    def _finish(self) -> None:
        if self.fig is None:
            return
        text = f"{self.footer}  Page {self.page}."
        lines = self.m.wrap(text, 6.5, CONTENT_W_IN * 72)
        self.fig.text(0.5, (FOOTER_Y_IN + 0.11 * (len(lines) - 1)) / A4_IN[1], "\n".join(lines), fontsize=6.5,
                      ha="center", va="baseline", color="0.3", linespacing=1.2)
        self.pdf.savefig(self.fig)
        self.fig = None

    def _new_page(self) -> None:
        from matplotlib.figure import Figure

        self._finish()
        self.fig = Figure(figsize=A4_IN)
        self.page += 1
        self.y_in = A4_IN[1] - MARGIN_IN

    def _need(self, h_in: float) -> None:
        if self.fig is None or self.y_in - h_in < MARGIN_IN:
            self._new_page()

    def _text(self, x_in: float, y_in: float, text: str, size: float, **kw) -> None:
        self.fig.text(x_in / A4_IN[0], y_in / A4_IN[1], text, fontsize=size, va="top", **kw)

    def heading(self, b: Heading) -> None:
        size = 15.0 if b.level == 1 else 10.5
        h = size * 1.5 / 72
        self._need(h + 0.08 + 2 * Paragraph("").size_pt * 1.32 / 72)  # a heading keeps two lines after it
        self.y_in -= 0.06 if b.level > 1 else 0.0
        self._text(MARGIN_IN, self.y_in, b.text, size, weight="bold")
        self.y_in -= h

    def paragraph(self, b: Paragraph) -> None:
        lead = b.size_pt * 1.32 / 72
        lines = self.m.wrap(b.text, b.size_pt, CONTENT_W_IN * 72, b.bold)
        fit = 0 if self.fig is None else int((self.y_in - MARGIN_IN) / lead + 1e-9)
        # Split so that each page holds at least two of its lines, never one alone.
        here = len(lines) if fit >= len(lines) else min(fit, len(lines) - 2)
        if here < 2 and here < len(lines):
            self._new_page()
            here = len(lines)
        for k, line in enumerate(lines):
            if k == here:
                self._new_page()
            self._need(lead)
            self._text(MARGIN_IN, self.y_in, line, b.size_pt, weight="bold" if b.bold else "normal")
            self.y_in -= lead
        self.y_in -= 0.05

    def table(self, b: Table) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Rectangle

        size = 7.5
        pad = 4.0
        cols = len(b.header)

        def widths(sz):
            return [max([self.m.width_pt(s, sz, True) for s in b.header[c].split("\n")]
                        + [self.m.width_pt(r[c], sz) for r in b.rows]) + 2 * pad for c in range(cols)]

        w = widths(size)
        while sum(w) > CONTENT_W_IN * 72 and size > 5.0:
            size -= 0.25
            w = widths(size)
        extra = (CONTENT_W_IN * 72 - sum(w)) / cols if sum(w) < CONTENT_W_IN * 72 else 0.0
        w = [x + extra for x in w]
        n_head = max(h.count("\n") + 1 for h in b.header)
        head_h = (n_head * size * 1.25 + size * 0.8) / 72
        row_h = size * 1.7 / 72
        fw, fh = A4_IN

        def draw_header():
            self._need(head_h + row_h)
            top = self.y_in
            self.fig.add_artist(Rectangle((MARGIN_IN / fw, (top - head_h) / fh), CONTENT_W_IN / fw, head_h / fh,
                                          transform=self.fig.transFigure, facecolor="0.9", edgecolor="none"))
            x = MARGIN_IN
            for c in range(cols):
                self._text(x + w[c] / 144, top - size * 0.4 / 72, b.header[c], size, weight="bold",
                           ha="center", linespacing=1.1)
                x += w[c] / 72
            self.y_in -= head_h

        draw_header()
        for r in b.rows:
            if self.y_in - row_h < MARGIN_IN:
                self._new_page()
                draw_header()
            x = MARGIN_IN
            for c in range(cols):
                self._text(x + w[c] / 144, self.y_in - size * 0.35 / 72, r[c], size, ha="center")
                x += w[c] / 72
            self.y_in -= row_h
            self.fig.add_artist(Line2D([MARGIN_IN / fw, (MARGIN_IN + CONTENT_W_IN) / fw],
                                       [self.y_in / fh] * 2, transform=self.fig.transFigure, lw=0.3, color="0.6"))
        self.y_in -= 0.12

    def plot(self, b: Plot) -> None:
        self._need(b.height_in)
        fw, fh = A4_IN
        b.draw(self.fig, (MARGIN_IN / fw, (self.y_in - b.height_in) / fh, CONTENT_W_IN / fw, b.height_in / fh))
        self.y_in -= b.height_in + 0.08

    def add(self, block) -> None:
        {Heading: self.heading, Paragraph: self.paragraph, Table: self.table, Plot: self.plot}[type(block)](block)

    def close(self) -> None:
        self._finish()


def _footer(rec: Recording, created: _dt.datetime) -> str:
    return (f"{DISCLAIMER}  Recording {rec.path.name}; report made {created.strftime('%Y-%m-%d %H:%M')} by "
            "glutescope.")


def _segments_blocks(rec, analyses, progress) -> list[list]:
    out = []
    for analysis in analyses:
        out.append(report_blocks(rec, analysis, len(analyses)))
        if progress is not None:
            progress(1)
    return out


def write_report(rec: Recording, analyses: Sequence[SegmentAnalysis], path: Path, *,
                 created: Optional[_dt.datetime] = None, progress: Optional[Callable[[int], None]] = None) -> Path:
    """Write the report of a recording as an A4 PDF (each segment from a new page).

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
    progress : callable, optional
        Called with 1 after each segment is laid out.

    Returns
    -------
    pathlib.Path
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    if not analyses:
        raise ValueError(f"analyses must hold at least one segment, got none for {rec.path}")
    created = created or _dt.datetime.now().astimezone()
    path = Path(path)
    # TrueType fonts (not Type 3) keep the text searchable and copyable.
    with rc_context({"pdf.fonttype": 42, "font.size": 8}), PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"] = "glutescope session report"
        info["Subject"] = f"subject {(rec.meta or {}).get('subject') or 'not given'}"
        info["Creator"] = "glutescope"
        flow = _PdfFlow(pdf, _footer(rec, created))
        for blocks in _segments_blocks(rec, analyses, progress):
            if flow.fig is not None:
                flow._new_page()  # each segment from a new page
            for block in blocks:
                flow.add(block)
        flow.close()
    return path


# --------------------------------------------------------------------------- HTML

_CSS = """body{font-family:sans-serif;font-size:10.5pt;max-width:180mm;margin:15mm auto;padding:0 4mm;color:#111}
h1{font-size:18pt}h2{font-size:12.5pt;margin:1.1em 0 .3em}p{margin:.25em 0 .45em;line-height:1.35;
overflow-wrap:anywhere}p.small{font-size:9pt}p.strong{font-weight:bold}figure{margin:.5em 0}
figure svg{display:block;width:100%;height:auto}
table{border-collapse:collapse;font-size:9pt;margin:.4em 0;max-width:100%}
th{background:#e6e6e6;padding:3px 4px;white-space:pre;vertical-align:bottom}td{padding:2px 4px;
text-align:center;border-bottom:1px solid #bbb;white-space:nowrap}footer{margin-top:2em;font-size:8pt;color:#555}
@media (max-width:160mm){body{margin:6mm auto}table{font-size:7.5pt}th,td{padding:2px 3px}}
@media (max-width:130mm){th{white-space:pre-line}td{white-space:normal}}
@page{size:A4;margin:15mm}@media print{body{margin:0 auto;padding:0}}
h1,h2{break-after:avoid}figure,tr{break-inside:avoid}"""
"""The page's only style: a 180 mm text column like the PDF's, plots as wide as the column; printed,
A4 with the PDF's margins, no heading left alone at a page's foot, no plot or table row cut in two."""


def _svg_figure(plot: Plot, k: int) -> str:
    """The plot as inline SVG: its text stays text (searchable, sharp when zoomed or printed).

    Each figure's ids get the prefix ``f{k}-`` so that several figures in one page never
    share one (clip paths and hatches are referenced by id); the data area of axes ``i``
    is ``f{k}-axes-{i}`` and legend ``i`` is ``f{k}-legend-{i}``, so a layout check can
    find them in the rendered page.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"font.size": 8, "svg.fonttype": "none", "svg.hashsalt": "glutescope"}):
        fig = Figure(figsize=(CONTENT_W_IN, plot.height_in))
        plot.draw(fig, (0.0, 0.0, 1.0, 1.0))
        for i, ax in enumerate(fig.axes):
            ax.patch.set_gid(f"axes-{i}")
        for i, leg in enumerate(fig.legends):
            leg.set_gid(f"legend-{i}")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML prologue or DOCTYPE inside HTML
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    prefix = f"f{k}-"
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    svg = svg.replace("url(#", f"url(#{prefix}").replace('href="#', f'href="#{prefix}')
    alt = _html.escape(plot.alt)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{alt}" ', 1).replace(
        ">", f"><title>{alt}</title>", 1)


def write_html(rec: Recording, analyses: Sequence[SegmentAnalysis], path: Path, *,
               created: Optional[_dt.datetime] = None, progress: Optional[Callable[[int], None]] = None) -> Path:
    """Write the same report as one self-contained HTML page (plots inline as SVG).

    The page loads nothing and runs nothing: no script, no stylesheet, font or image from
    anywhere else; its plots are inline SVG whose text the browser lays out.
    Parameters and return as `write_report`.
    """
    if not analyses:
        raise ValueError(f"analyses must hold at least one segment, got none for {rec.path}")
    created = created or _dt.datetime.now().astimezone()
    esc = _html.escape
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>glutescope session report</title>", f"<style>{_CSS}</style></head><body>"]
    n_fig = 0
    for k, blocks in enumerate(_segments_blocks(rec, analyses, progress)):
        parts.append(f'<section id="segment-{k + 1}">')
        for b in blocks:
            if isinstance(b, Heading):
                parts.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
            elif isinstance(b, Paragraph):
                cls = ' class="strong"' if b.bold else (' class="small"' if b.size_pt < 8 else "")
                parts.append(f"<p{cls}>{esc(b.text)}</p>")
            elif isinstance(b, Table):
                head = "".join(f"<th>{esc(h)}</th>" for h in b.header)
                body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in b.rows)
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                n_fig += 1
                parts.append(f"<figure>{_svg_figure(b, n_fig)}</figure>")
        parts.append("</section>")
    parts.append(f"<footer>{esc(_footer(rec, created))}</footer></body></html>")
    Path(path).write_text("\n".join(parts) + "\n", encoding="utf-8")
    return Path(path)
