"""Draw the electrode and IMU placement figures for hardware/electrode-placement.md.

Writes hardware/placement-posterior.svg (electrode sites, posterior view) and
hardware/placement-imu.svg (the IMU pod on the sacrum and its axes). Sites are
computed from the SENIAM rules below (a fraction along a line between two bony
landmarks, electrodes oriented along another line), so the drawing shows the
rule, not an artist's guess. Drawing units are millimetres on a stylised adult
pelvis; real landmarks must be palpated. Standard library only.

Usage::

    python hardware/make_placement.py            # rewrite both SVGs
    python hardware/make_placement.py --check    # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
INTER_ELECTRODE_MM = 20.0
"""Centre-to-centre electrode distance recommended by SENIAM (Hermens et al., 2000)."""
_MIDLINE_X = 280.0
_WIDTH_MM, _HEIGHT_MM = 780.0, 800.0


@dataclass(frozen=True)
class Landmark:
    """A palpable bony landmark of the wearer's LEFT side (or the midline), in mm."""

    name: str
    x_mm: float
    y_mm: float


# Stylised adult proportions, posterior view, wearer's left on the viewer's left.
LANDMARKS: dict[str, Landmark] = {
    lm.name: lm
    for lm in (
        Landmark("L1 spinous process", _MIDLINE_X, 55.0),
        Landmark("L3 spinous process", _MIDLINE_X, 118.0),
        Landmark("S2 (sacral vertebrae)", _MIDLINE_X, 232.0),
        Landmark("posterior superior iliac spine", 238.0, 222.0),
        Landmark("iliac crest", 138.0, 158.0),
        Landmark("greater trochanter", 102.0, 330.0),
        Landmark("ischial tuberosity", 222.0, 345.0),
        Landmark("middle of posterior thigh", 178.0, 540.0),
        Landmark("lateral epicondyle of tibia", 138.0, 740.0),
        Landmark("medial epicondyle of tibia", 236.0, 740.0),
    )
}


@dataclass(frozen=True)
class Site:
    """An electrode site defined the SENIAM way."""

    key: str
    """Short id used in the figure and the docs."""
    muscle: str
    line_from: str
    line_to: str
    fraction: float
    """Where along ``line_from -> line_to`` the centre of the pair sits (0-1)."""
    orient_from: str
    orient_to: str
    """The electrode pair lies along ``orient_from -> orient_to``."""
    optional: bool
    rule: str
    """The placement rule in words, as printed on the figure."""


SITES: tuple[Site, ...] = (
    Site("GMax", "gluteus maximus", "S2 (sacral vertebrae)", "greater trochanter", 0.5,
         "posterior superior iliac spine", "middle of posterior thigh", False,
         "50 % sacral vertebrae -> greater trochanter; along PSIS -> mid posterior thigh"),
    Site("GMed", "gluteus medius", "iliac crest", "greater trochanter", 0.5,
         "iliac crest", "greater trochanter", True,
         "50 % iliac crest -> greater trochanter; along the same line"),
    Site("BF", "biceps femoris", "ischial tuberosity", "lateral epicondyle of tibia", 0.5,
         "ischial tuberosity", "lateral epicondyle of tibia", True,
         "50 % ischial tuberosity -> lateral epicondyle of tibia; along the line"),
    Site("ST", "semitendinosus", "ischial tuberosity", "medial epicondyle of tibia", 0.5,
         "ischial tuberosity", "medial epicondyle of tibia", True,
         "50 % ischial tuberosity -> medial epicondyle of tibia; along the line"),
)

# Lumbar erector spinae: offsets from a spinous process, electrodes vertical.
ERECTOR_SITES: tuple[tuple[str, str, float], ...] = (
    ("ES-L1", "L1 spinous process", 35.0),
    ("ES-L3", "L3 spinous process", 30.0),
)
REFERENCE_SITE = Landmark("reference electrode: iliac crest (bone)", 150.0, 176.0)
IMU_SITE = Landmark("IMU pod over S1/S2", _MIDLINE_X, 212.0)


def mirror(x_mm: float) -> float:
    """Mirror a left-side x coordinate to the wearer's right side."""
    return 2 * _MIDLINE_X - x_mm


def site_centre(site: Site) -> tuple[float, float]:
    """Centre of the electrode pair (left side), in mm.

    Raises
    ------
    ValueError
        If the site's fraction is outside 0-1 or names an unknown landmark.
    """
    if not 0.0 <= site.fraction <= 1.0:
        raise ValueError(f"fraction must be within 0-1, got {site.fraction} for {site.key}")
    for name in (site.line_from, site.line_to, site.orient_from, site.orient_to):
        if name not in LANDMARKS:
            raise ValueError(f"unknown landmark {name!r} in site {site.key}; known: {sorted(LANDMARKS)}")
    a, b = LANDMARKS[site.line_from], LANDMARKS[site.line_to]
    return (a.x_mm + site.fraction * (b.x_mm - a.x_mm),
            a.y_mm + site.fraction * (b.y_mm - a.y_mm))


def site_electrodes(site: Site) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres of the two recording electrodes (left side), ``INTER_ELECTRODE_MM`` apart."""
    cx, cy = site_centre(site)
    a, b = LANDMARKS[site.orient_from], LANDMARKS[site.orient_to]
    dx, dy = b.x_mm - a.x_mm, b.y_mm - a.y_mm
    norm = math.hypot(dx, dy)
    ux, uy = dx / norm, dy / norm
    half = INTER_ELECTRODE_MM / 2
    return (cx - half * ux, cy - half * uy), (cx + half * ux, cy + half * uy)


def _t(x: float, y: float, body: str, size: float = 9.0, anchor: str = "start",
       weight: str = "normal", fill: str = "#111111") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(body)}</text>')


def _svg_open(width_mm: float, height_mm: float, title: str) -> list[str]:
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width_mm * 1.5:.0f}" '
        f'height="{height_mm * 1.5:.0f}" viewBox="0 0 {width_mm:.0f} {height_mm:.0f}" '
        'font-family="DejaVu Sans, Arial, Helvetica, sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width_mm:.0f}" height="{height_mm:.0f}" fill="#ffffff"/>',
    ]


def _body_outline() -> list[str]:
    """A stylised posterior torso, pelvis and thighs (not to anatomical accuracy)."""
    skin = 'fill="#f6e3d3" stroke="#b08b73" stroke-width="1.5"'
    m = _MIDLINE_X
    out = [
        # Lower back and buttocks down to the knees, both sides in one path.
        f'<path d="M {m - 120} 20 L {m - 125} 140 Q {m - 190} 190 {m - 185} 300 '
        f'Q {m - 185} 420 {m - 150} 560 L {m - 135} 770 L {m - 15} 770 L {m - 8} 430 '
        f'L {m + 8} 430 L {m + 15} 770 L {m + 135} 770 L {m + 150} 560 '
        f'Q {m + 185} 420 {m + 185} 300 Q {m + 190} 190 {m + 125} 140 L {m + 120} 20 Z" {skin}/>',
        # Gluteal folds and the natal cleft.
        f'<path d="M {m - 10} 330 Q {m - 80} 392 {m - 165} 372" fill="none" stroke="#b08b73"/>',
        f'<path d="M {m + 10} 330 Q {m + 80} 392 {m + 165} 372" fill="none" stroke="#b08b73"/>',
        f'<line x1="{m}" y1="268" x2="{m}" y2="330" stroke="#b08b73"/>',
        # Spine and sacrum (bony, drawn grey).
        f'<line x1="{m}" y1="25" x2="{m}" y2="200" stroke="#9a9a9a" stroke-width="3" stroke-dasharray="10 6"/>',
        f'<path d="M {m - 34} 200 L {m + 34} 200 L {m} 300 Z" fill="#e8e4dc" stroke="#9a9a9a"/>',
        # Iliac crests.
        f'<path d="M {m - 44} 222 Q {m - 70} 160 {m - 142} 158 Q {m - 172} 168 {m - 180} 200" '
        'fill="none" stroke="#9a9a9a" stroke-width="3"/>',
        f'<path d="M {m + 44} 222 Q {m + 70} 160 {m + 142} 158 Q {m + 172} 168 {m + 180} 200" '
        'fill="none" stroke="#9a9a9a" stroke-width="3"/>',
    ]
    return out


def _landmark_dot(x: float, y: float) -> str:
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#6b6b6b"/>'


def _electrode_pair(e1: tuple[float, float], e2: tuple[float, float], colour: str,
                    dashed: bool) -> list[str]:
    dash = ' stroke-dasharray="3 2"' if dashed else ""
    out = [f'<line x1="{e1[0]:.1f}" y1="{e1[1]:.1f}" x2="{e2[0]:.1f}" y2="{e2[1]:.1f}" '
           f'stroke="{colour}" stroke-width="1.2"/>']
    for x, y in (e1, e2):
        # 10 mm circle: the SENIAM maximum conductive area in the fibre direction.
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" fill-opacity="0.85" '
                   f'stroke="#222222" stroke-width="0.8"{dash}/>')
    return out


_SHORT_NAMES = {"posterior superior iliac spine": "PSIS"}

_SITE_COLOURS = {"GMax": "#1f6fd1", "GMed": "#2c9a3f", "BF": "#8e44ad", "ST": "#d4a017",
                 "ES-L1": "#c0392b", "ES-L3": "#c0392b"}


def build_posterior_svg() -> str:
    """Posterior view with every electrode site computed from its SENIAM rule.

    Returns
    -------
    str
        A standalone SVG document (deterministic text).

    References
    ----------
    Hermens HJ, Freriks B, Disselhorst-Klug C, Rau G (2000). Development of
    recommendations for SEMG sensors and sensor placement procedures.
    J Electromyogr Kinesiol 10(5):361-374.
    """
    out = _svg_open(_WIDTH_MM, _HEIGHT_MM, "glutescope electrode sites, posterior view")
    out.append(_t(10, 14, "Electrode sites - posterior view (wearer's LEFT on the left)", size=12,
                  weight="bold"))
    out.extend(_body_outline())

    # Landmark lines and dots, left side, with the rule's construction line dashed.
    for site in SITES:
        a, b = LANDMARKS[site.line_from], LANDMARKS[site.line_to]
        out.append(f'<line x1="{a.x_mm:.1f}" y1="{a.y_mm:.1f}" x2="{b.x_mm:.1f}" y2="{b.y_mm:.1f}" '
                   f'stroke="{_SITE_COLOURS[site.key]}" stroke-width="0.8" stroke-dasharray="4 3"/>')
    for lm in LANDMARKS.values():
        out.append(_landmark_dot(lm.x_mm, lm.y_mm))
        out.append(_landmark_dot(mirror(lm.x_mm), lm.y_mm))

    # Electrode pairs, both sides.
    for site in SITES:
        e1, e2 = site_electrodes(site)
        colour = _SITE_COLOURS[site.key]
        out.extend(_electrode_pair(e1, e2, colour, site.optional))
        out.extend(_electrode_pair((mirror(e1[0]), e1[1]), (mirror(e2[0]), e2[1]), colour,
                                   site.optional))
        cx, cy = site_centre(site)
        out.append(_t(mirror(cx) + 10, cy + 3, site.key, size=9, weight="bold", fill=colour))
    for key, spinous, offset_mm in ERECTOR_SITES:
        lm = LANDMARKS[spinous]
        for x in (lm.x_mm - offset_mm, lm.x_mm + offset_mm):
            half = INTER_ELECTRODE_MM / 2
            out.extend(_electrode_pair((x, lm.y_mm - half), (x, lm.y_mm + half),
                                       _SITE_COLOURS[key], True))
        out.append(_t(lm.x_mm + offset_mm + 9, lm.y_mm + 3, key, size=9, weight="bold",
                      fill=_SITE_COLOURS[key]))

    # Reference electrodes over bone, one per module, on the iliac crests.
    for x in (REFERENCE_SITE.x_mm, mirror(REFERENCE_SITE.x_mm)):
        out.append(f'<circle cx="{x:.1f}" cy="{REFERENCE_SITE.y_mm:.1f}" r="6" fill="#ffffff" '
                   'stroke="#222222" stroke-width="1.5"/>')
        out.append(_t(x, REFERENCE_SITE.y_mm + 3, "R", size=8, anchor="middle", weight="bold"))

    # IMU pod over S1/S2 with its axes: y left, z up, x forward (into the page, away from viewer).
    ix, iy = IMU_SITE.x_mm, IMU_SITE.y_mm
    out.append(f'<rect x="{ix - 14:.1f}" y="{iy - 10:.1f}" width="28" height="20" rx="3" '
               'fill="#333333" fill-opacity="0.85"/>')
    out.append(f'<circle cx="{ix:.1f}" cy="{iy:.1f}" r="5" fill="#ffffff" stroke="#ffffff"/>')
    out.append(f'<line x1="{ix - 3.5:.1f}" y1="{iy - 3.5:.1f}" x2="{ix + 3.5:.1f}" y2="{iy + 3.5:.1f}" '
               'stroke="#111111" stroke-width="1.2"/>')
    out.append(f'<line x1="{ix - 3.5:.1f}" y1="{iy + 3.5:.1f}" x2="{ix + 3.5:.1f}" y2="{iy - 3.5:.1f}" '
               'stroke="#111111" stroke-width="1.2"/>')
    out.append(_arrow(ix, iy, ix - 46, iy, "#c0392b"))
    out.append(_t(ix - 50, iy + 4, "y (left)", size=8, anchor="end", fill="#c0392b", weight="bold"))
    out.append(_arrow(ix, iy, ix, iy - 44, "#1f6fd1"))
    out.append(_t(ix + 3, iy - 46, "z (up)", size=8, fill="#1f6fd1", weight="bold"))
    out.append(_t(ix, iy + 24, "x forward = into the page", size=7, anchor="middle",
                  fill="#2c9a3f", weight="bold"))

    # Landmark names, left side only.
    labels = {
        "L1 spinous process": (-8, 0, "end"), "L3 spinous process": (-8, 0, "end"),
        "posterior superior iliac spine": (-6, 14, "end"), "iliac crest": (-4, -8, "end"),
        "greater trochanter": (-8, 4, "end"), "ischial tuberosity": (6, 14, "start"),
        "middle of posterior thigh": (-8, 18, "end"), "S2 (sacral vertebrae)": (8, 22, "start"),
        "lateral epicondyle of tibia": (-6, 16, "end"), "medial epicondyle of tibia": (6, 16, "start"),
    }
    for name, (dx, dy, anchor) in labels.items():
        lm = LANDMARKS[name]
        shown = _SHORT_NAMES.get(name, name)
        out.append(_t(lm.x_mm + dx, lm.y_mm + dy, shown, size=7.5, anchor=anchor, fill="#444444"))
    out.append(_t(18, 40, "LEFT", size=14, weight="bold", fill="#666666"))
    out.append(_t(mirror(18), 40, "RIGHT", size=14, anchor="end", weight="bold",
                  fill="#666666"))

    # Legend.
    y = 70.0
    legend_x = 575.0
    out.append(_t(legend_x, y, "Sites (SENIAM; dashed pair = optional)", size=8.5, weight="bold"))
    for site in SITES:
        y += 13
        out.append(f'<circle cx="{legend_x + 4:.1f}" cy="{y - 3:.1f}" r="4" fill="{_SITE_COLOURS[site.key]}"/>')
        out.append(_t(legend_x + 12, y, f"{site.key} {site.muscle}", size=8, weight="bold"))
        for line in textwrap.wrap(site.rule, width=40):
            y += 10
            out.append(_t(legend_x + 12, y, line, size=7, fill="#333333"))
    y += 13
    out.append(f'<circle cx="{legend_x + 4:.1f}" cy="{y - 3:.1f}" r="4" fill="{_SITE_COLOURS["ES-L1"]}"/>')
    out.append(_t(legend_x + 12, y, "ES lumbar erector spinae", size=8, weight="bold"))
    y += 10
    out.append(_t(legend_x + 12, y, "L1 or L3 level, electrodes vertical", size=7, fill="#333333"))
    y += 13
    out.append(f'<circle cx="{legend_x + 4:.1f}" cy="{y - 3:.1f}" r="4" fill="#ffffff" stroke="#222222"/>')
    out.append(_t(legend_x + 12, y, "R reference electrode, over bone", size=8, weight="bold"))
    y += 13
    out.append(f'<rect x="{legend_x:.1f}" y="{y - 9:.1f}" width="9" height="7" fill="#333333"/>')
    out.append(_t(legend_x + 12, y, "IMU pod over S1/S2", size=8, weight="bold"))
    y += 13
    out.append(_t(legend_x, y, f"Pairs: {INTER_ELECTRODE_MM:.0f} mm centre to centre.", size=8))
    y += 11
    out.append(_t(legend_x, y, "Grey dots: bony landmarks to palpate.", size=8))
    y += 11
    out.append(_t(legend_x, y, "PSIS: posterior superior iliac spine.", size=8))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _arrow(x0: float, y0: float, x1: float, y1: float, colour: str) -> str:
    """A line with a filled arrow head at (x1, y1)."""
    ang = math.atan2(y1 - y0, x1 - x0)
    head = 6.0
    p1 = (x1 - head * math.cos(ang - 0.4), y1 - head * math.sin(ang - 0.4))
    p2 = (x1 - head * math.cos(ang + 0.4), y1 - head * math.sin(ang + 0.4))
    return (f'<g><line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{colour}" '
            f'stroke-width="2"/><polygon points="{x1:.1f},{y1:.1f} {p1[0]:.1f},{p1[1]:.1f} '
            f'{p2[0]:.1f},{p2[1]:.1f}" fill="{colour}"/></g>')


def build_imu_svg() -> str:
    """Side view of the IMU pod on the sacrum, showing the required sensor axes.

    Returns
    -------
    str
        A standalone SVG document (deterministic text).
    """
    w, h = 600.0, 280.0
    out = _svg_open(w, h, "glutescope IMU mounting on the sacrum")
    out.append(_t(10, 16, "IMU pod on the sacrum - side view, wearer facing right", size=12,
                  weight="bold"))
    # Side silhouette of the lower back, buttock and thigh (wearer facing right).
    out.append('<g transform="translate(90 0)">')
    out.append('<path d="M 150 30 Q 120 110 118 150 Q 95 200 110 250 L 230 262 L 250 150 '
               'Q 240 90 240 30 Z" fill="#f6e3d3" stroke="#b08b73" stroke-width="1.5"/>')
    out.append(_t(180, 120, "lower back and buttock", size=8, anchor="middle", fill="#8a6f5e"))
    # Pod: the breakout stands on a shelf perpendicular to the back plate.
    out.append('<rect x="100" y="130" width="10" height="34" fill="#555555"/>')
    out.append('<rect x="76" y="146" width="26" height="4" fill="#1e7b4a"/>')
    out.append(_t(74, 142, "breakout, chip side up", size=8, anchor="end"))
    out.append(_t(96, 180, "back plate on the skin", size=8, anchor="end"))
    out.append(_t(96, 192, "over S1/S2", size=8, anchor="end"))
    out.append(_arrow(90, 148, 170, 148, "#2c9a3f"))
    out.append(_t(172, 145, "x forward", size=9, fill="#2c9a3f", weight="bold"))
    out.append(_arrow(90, 148, 90, 80, "#1f6fd1"))
    out.append(_t(93, 78, "z up", size=9, fill="#1f6fd1", weight="bold"))
    # y points away from the viewer: a person facing right shows the viewer their right side.
    out.append('<circle cx="90" cy="148" r="5" fill="#ffffff" stroke="#c0392b" stroke-width="1.5"/>')
    out.append('<line x1="86.5" y1="144.5" x2="93.5" y2="151.5" stroke="#c0392b" stroke-width="1.3"/>')
    out.append('<line x1="86.5" y1="151.5" x2="93.5" y2="144.5" stroke="#c0392b" stroke-width="1.3"/>')
    out.append(_t(60, 112, "y left = into the page", size=8, anchor="middle", fill="#c0392b",
                  weight="bold"))
    out.append('</g>')
    # Checks in words.
    notes = (
        "Standing still:  az = +1 g,  ax = ay = 0 (within a few degrees).",
        "Tilt the pelvis forward (anterior tilt): ax goes negative.",
        "Left side of the pelvis drops (hip drop): ay goes negative.",
        "Axes form a right-handed frame: x forward, y left, z up.",
    )
    for i, line in enumerate(notes):
        out.append(_t(350, 70 + 18 * i, line, size=8.5))
    out.append(_t(350, 160, "The firmware sends the sensor's raw axes, so the", size=8.5,
                  fill="#444444"))
    out.append(_t(350, 172, "breakout must be mounted this way round.", size=8.5, fill="#444444"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


FIGURES = {
    "placement-posterior.svg": build_posterior_svg,
    "placement-imu.svg": build_imu_svg,
}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the placement figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a figure is out of date")
    args = parser.parse_args(argv)
    stale = []
    for name, build in FIGURES.items():
        path = HERE / name
        svg = build()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != svg:
                stale.append(name)
        else:
            path.write_text(svg, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python hardware/make_placement.py",
              file=sys.stderr)
        return 1
    if not args.check:
        print("wrote " + ", ".join(FIGURES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
