"""Results shared by the protocols: reps, left/right in words, target band, hip drop.

Every figure comes from the live processor's stats (`glutesignal.balance`,
`glutesignal.symmetry`) or the runner's per-rep figures (`glutescope.protocols.measures`);
this module only puts them in words, by the rules of `glutescope.verdicts`.
"""
from __future__ import annotations

import math
from typing import Optional

from glutescope.verdicts import symmetry_verdict

HIP_DROP_FLAG_DEG = 6.0
"""Hip drop towards the unsupported side above which a single-leg rep or stance is
flagged, degrees. A project threshold for "look at this", not a clinical cut-off: a
visible Trendelenburg sign is a drop of several degrees, and the IMU's obliquity is
accurate to about a degree (tests/signal/test_pelvis.py)."""


def _r(x: Optional[float], nd: int = 2) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def side_finding(stats) -> tuple[str, str]:
    """(figure, sentence) on which glute is weaker, by the verdict rules.

    The figure is "left"/"right" (the weaker glute), "no clear difference", or
    "unknown" (no comparison, or not calibrated: an electrode ratio names no muscle).
    """
    if stats.si_pct is None:
        return "unknown", "No left/right comparison (no rep of both sides)."
    if not stats.si_normalised:
        return "unknown", "Weaker side: not known without a calibration (the left/right figure is an electrode ratio)."
    if stats.louder_side in ("left", "right"):
        weaker = "left" if stats.louder_side == "right" else "right"
        return weaker, f"Weaker side: {weaker.upper()} ({stats.asymmetry_band}, SI {stats.si_pct:+.0f} %)"
    return "no clear difference", f"No clear difference between the glutes (SI {stats.si_pct:+.0f} %)"


def rep_results(proc, runner, *, single_leg: bool) -> tuple[dict, list[str]]:
    """Figures and lines for a set of bridge reps: count, L/R, target band, TUT, hip drop."""
    stats = proc.state.stats
    figures: dict = {}
    lines: list[str] = []
    reps = []
    target = next((s.step.target_pct for s in runner.steps if s.step.target_pct), None)
    in_band = 0
    for i, (c, side) in enumerate(zip(stats.contractions, stats.rep_sides)):
        rest = stats.rep_rest_uV[i] if i < len(stats.rep_rest_uV) else None
        pct = stats.activation_pct(c.mean_uV, rest)
        rep = dict(runner.rep_figures.get((c.start_s, c.end_s), {}))
        rep.update(index=i + 1, side=side, duration_s=round(c.duration_s, 3),
                   mean_uV=[round(float(v), 2) for v in c.mean_uV])
        if pct is not None:
            rep["mean_pct_ref"] = [round(float(v), 1) for v in pct]
            if target is not None:
                work = [pct[0] if side == "left" else pct[1]] if side in ("left", "right") else list(pct)
                rep["in_target"] = all(target[0] <= v <= target[1] for v in work)
                in_band += rep["in_target"]
        reps.append(rep)
    figures["reps"] = len(reps)
    figures["per_rep"] = reps
    weaker, sentence = side_finding(stats)
    figures["weaker_side"] = weaker
    figures["si_pct"] = _r(stats.si_pct, 1)
    figures["normalised"] = bool(stats.si_normalised)
    tut = [r["time_under_tension_s"] for r in reps if "time_under_tension_s" in r]
    figures["time_under_tension_s"] = round(sum(tut), 1) if tut else None
    lines.append(sentence)
    lines.append(symmetry_verdict(stats, single_leg=single_leg))
    if tut:
        lines.append(f"Time under tension: {sum(tut):.1f} s over {len(tut)} reps")
    if target is not None:
        if stats.calibration is not None:
            figures["in_target"] = in_band
            lines.append(f"In the target band {target[0]:g}-{target[1]:g} % of reference: {in_band} of {len(reps)} reps")
        else:
            figures["in_target"] = None
            lines.append(f"Target band {target[0]:g}-{target[1]:g} % of reference: needs a calibration")
    if single_leg:
        flagged = []
        for side in ("left", "right"):
            drops = [r["hip_drop_deg"] for r in reps if r.get("side") == side and "hip_drop_deg" in r]
            if drops:
                worst = max(drops)
                figures[f"hip_drop_{side}_leg_deg"] = round(worst, 1)
                if worst > HIP_DROP_FLAG_DEG:
                    flagged.append(side)
                lines.append(f"Hip drop on {side.upper()}-leg reps: up to {worst:.1f}°"
                             + (" - flagged" if worst > HIP_DROP_FLAG_DEG else ""))
        figures["hip_drop_flag"] = flagged
        if not any(f"hip_drop_{s}_leg_deg" in figures for s in ("left", "right")):
            lines.append("Hip drop: not measured (no pelvis IMU)")
    for rep in reps:
        amp = (f"L {rep['mean_pct_ref'][0]:.0f} % / R {rep['mean_pct_ref'][1]:.0f} % of ref" if "mean_pct_ref" in rep
               else f"L {rep['mean_uV'][0]:.0f} µV / R {rep['mean_uV'][1]:.0f} µV")
        extra = f", hip drop {rep['hip_drop_deg']:.1f}°" if single_leg and "hip_drop_deg" in rep else ""
        leg = f" {rep['side']} leg" if rep["side"] in ("left", "right") else ""
        lines.append(f"rep {rep['index']:2d}{leg}: {amp}, {rep['duration_s']:.1f} s{extra}")
    return figures, lines


def headline_reps(figures: dict) -> str:
    n = figures["reps"]
    weaker = figures["weaker_side"]
    side = {"unknown": "weaker side not known", "no clear difference": "no clear difference"}.get(
        weaker, f"{weaker.upper()} glute weaker")
    return f"{n} rep{'s' if n != 1 else ''} · {side}"
