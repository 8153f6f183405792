"""An HTML page's layout as headless Chromium renders it, and the checks a reader would make.

Chromium is run as a subprocess, offline, on a copy of the page that carries a small
probe script: after the page has loaded and been laid out, the script measures every
line of text (``Range.getClientRects``), every SVG ``<text>``, every plot's data area
and legend, and writes them as JSON into a ``<pre id="layout-json">`` appended after
measuring (so it moves nothing it measured); ``--dump-dom`` prints the DOM with it. The
page given is never changed: the report itself has no script. A ``--screenshot`` of the
same page at the same width gives the pixels for the checks that should not trust the
probe (ink outside the text column, the plots' frames found in the image).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
NO_CHROMIUM = ("no headless Chromium installed (Debian: apt-get install chromium-headless-shell): the HTML "
               "report's rendering is not checked")

PROBE_JS = r"""
addEventListener('load', () => {
  const box = r => ({x0: r.left + scrollX, y0: r.top + scrollY, x1: r.right + scrollX, y1: r.bottom + scrollY});
  const body = document.body, cs = getComputedStyle(body), b = body.getBoundingClientRect();
  const column = {x0: b.left + parseFloat(cs.paddingLeft) + scrollX,
                  x1: b.right - parseFloat(cs.paddingRight) + scrollX};  // the body's content box
  const texts = [];
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || el.closest('svg, style, script, title')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects())  // one per line the text is laid out on
      if (r.width > 0 && r.height > 0)
        texts.push({...box(r), text: n.data.trim().slice(0, 60), tag: el.tagName.toLowerCase()});
  }
  const figures = [];
  document.querySelectorAll('figure svg').forEach((svg, k) => {
    const part = s => Array.from(svg.querySelectorAll(s)).map(e => ({...box(e.getBoundingClientRect()), id: e.id}));
    const svgTexts = Array.from(svg.querySelectorAll('text')).map(e =>
      ({...box(e.getBoundingClientRect()), text: e.textContent.trim().slice(0, 60), tag: 'svg text'}));
    figures.push({...box(svg.getBoundingClientRect()), axes: part('[id*="-axes-"]'),
                  legends: part('[id*="-legend-"]'), texts: svgTexts});
  });
  const out = document.createElement('pre');
  out.id = 'layout-json';
  out.hidden = true;  // measured already; and the reader sees nothing of it
  out.textContent = JSON.stringify({width: innerWidth, scroll_width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight, column, texts, figures, body_text: body.innerText});
  body.appendChild(out);
});
"""


def chromium() -> str | None:
    """The headless Chromium to use: ``$GLUTESCOPE_CHROMIUM`` or the first found on PATH."""
    env = os.environ.get("GLUTESCOPE_CHROMIUM")
    if env:
        return env
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _run(args: list[str], page: Path) -> str:
    exe = chromium()
    assert exe, NO_CHROMIUM
    cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
           "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--proxy-server=127.0.0.1:9", "--user-data-dir=" + str(page.parent / "chromium-profile"),
           *args, page.resolve().as_uri()]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to start its sandbox as root
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr[-2000:]}"
    return done.stdout


@dataclass(frozen=True)
class Box:
    """A rectangle on the rendered page, CSS px from its top-left."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str = ""
    """The text it holds (its first 60 characters), or the element's id."""

    def overlaps(self, other: "Box", tol: float = 1.0) -> bool:
        """True when the two share more than ``tol`` px in both directions."""
        return (min(self.x1, other.x1) - max(self.x0, other.x0) > tol
                and min(self.y1, other.y1) - max(self.y0, other.y0) > tol)


def _box(d: dict) -> Box:
    return Box(d["x0"], d["y0"], d["x1"], d["y1"], d.get("text", d.get("id", "")))


@dataclass(frozen=True)
class Layout:
    """What the probe measured, in CSS px from the page's top-left."""

    width: int
    scroll_width: int
    height: int
    column: tuple[float, float]
    texts: list[Box]
    """Each line of running text (paragraphs, headings, table cells, footer)."""
    figures: list[dict]
    """Per plot: "box", "axes" (data areas), "legends", "texts" (its SVG text), as Boxes."""
    body_text: str
    """The page's text as the browser shows it (``innerText``)."""


def probe(page: Path, width_px: int, workdir: Path) -> Layout:
    """Render ``page`` at ``width_px`` in headless Chromium and measure it."""
    workdir.mkdir(parents=True, exist_ok=True)
    probed = workdir / "probed.html"
    source = Path(page).read_text(encoding="utf-8")
    assert "</body>" in source
    probed.write_text(source.replace("</body>", f"<script>{PROBE_JS}</script></body>", 1), encoding="utf-8")
    dom = _run(["--dump-dom", f"--window-size={width_px},900", "--virtual-time-budget=2000"], probed)
    m = re.search(r'<pre id="layout-json"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, "the probe wrote no layout (did the page load?)"
    d = json.loads(html.unescape(m.group(1)))
    figures = [{"box": _box(f), "axes": [_box(a) for a in f["axes"]], "legends": [_box(a) for a in f["legends"]],
                "texts": [_box(t) for t in f["texts"]]} for f in d["figures"]]
    return Layout(d["width"], d["scroll_width"], d["height"], (d["column"]["x0"], d["column"]["x1"]),
                  [_box(t) for t in d["texts"]], figures, d["body_text"])


def screenshot(page: Path, width_px: int, height_px: int, workdir: Path) -> np.ndarray:
    """The whole page as a grey image (0 black, 255 white), ``height_px`` tall."""
    from PIL import Image

    workdir.mkdir(parents=True, exist_ok=True)
    png = workdir / "page.png"
    _run([f"--screenshot={png}", f"--window-size={width_px},{height_px}", "--virtual-time-budget=2000"],
         Path(page))
    with Image.open(png) as im:
        return np.asarray(im.convert("L"))


def print_pdf(page: Path, workdir: Path) -> Path:
    """The page as the browser prints it (its own ``@page`` size and margins, no browser
    header or footer), as a PDF for the same checks as the report's own PDF."""
    workdir.mkdir(parents=True, exist_ok=True)
    pdf = workdir / "printed.pdf"
    _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", "--virtual-time-budget=2000"], Path(page))
    assert pdf.stat().st_size > 0
    return pdf


# --------------------------------------------------------------------------- checks

def text_outside_column(layout: Layout, tol_px: float = 0.5) -> list[str]:
    """Lines of text (running text and plot text) reaching outside the text column, plot
    text cut off at its plot's edge, and a page wider than the window (a reader would have
    to scroll sideways)."""
    x0, x1 = layout.column
    bad = [f"{t.text!r} spans x {t.x0:.0f}-{t.x1:.0f}, column {x0:.0f}-{x1:.0f}"
           for t in layout.texts + [t for f in layout.figures for t in f["texts"]]
           if t.x0 < x0 - tol_px or t.x1 > x1 + tol_px]
    for k, f in enumerate(layout.figures, 1):  # a plot's text past its own edge is cut off
        box = f["box"]
        bad += [f"figure {k}: {t.text!r} cut at the plot's edge" for t in f["texts"]
                if t.x0 < box.x0 - tol_px or t.x1 > box.x1 + tol_px or t.y0 < box.y0 - tol_px
                or t.y1 > box.y1 + tol_px]
    if layout.scroll_width > layout.width:
        bad.append(f"page {layout.scroll_width} px wide in a {layout.width} px window")
    return bad


def overlapping_text(layout: Layout) -> list[str]:
    """Pairs of text boxes drawn over each other: running text with running text or a plot,
    and, inside each plot, its texts with each other."""
    bad = []
    lines = layout.texts
    for i, a in enumerate(lines):
        for b in lines[i + 1:]:
            if a.overlaps(b):
                bad.append(f"{a.text!r} over {b.text!r}")
        for f in layout.figures:
            if a.overlaps(f["box"]):
                bad.append(f"{a.text!r} over a plot")
    for f in layout.figures:
        ts = f["texts"]
        for i, a in enumerate(ts):
            for b in ts[i + 1:]:
                if a.overlaps(b):
                    bad.append(f"plot text {a.text!r} over {b.text!r}")
    return bad


def legends_over_data(layout: Layout) -> list[str]:
    """Each legend whose box reaches into a plot's data area (as the probe measured them)."""
    bad = []
    for k, f in enumerate(layout.figures, 1):
        for leg in f["legends"]:
            for ax in f["axes"]:
                if leg.overlaps(ax, tol=0.0):
                    bad.append(f"figure {k}: {leg.text} over {ax.text}")
    return bad


def ink_outside_column(img: np.ndarray, layout: Layout, pad_px: int = 2) -> int:
    """Pixels darker than light grey left or right of the text column in the screenshot."""
    x0, x1 = (int(round(v)) for v in layout.column)
    ink = img < 200
    return int(ink[:, : max(x0 - pad_px, 0)].sum() + ink[:, x1 + pad_px:].sum())


def frames_in_pixels(img: np.ndarray, fig: Box, axes_frames) -> list[Box]:
    """The plots' axes frames found in the screenshot's pixels inside one figure's box
    (``axes_frames`` finds framed rectangles in a grey image, as for the PDF pages)."""
    x0, y0 = int(fig.x0), int(fig.y0)
    crop = img[y0:int(np.ceil(fig.y1)), x0:int(np.ceil(fig.x1))]
    return [Box(a + x0, b + y0, c + x0, d + y0, "frame") for a, b, c, d in axes_frames(crop)]


def legends_over_frames(img: np.ndarray, layout: Layout, axes_frames) -> tuple[list[str], int]:
    """Each legend box lying on a frame found in the pixels, and how many frames were found
    (a check that finds no frame tests nothing)."""
    bad, n = [], 0
    for k, f in enumerate(layout.figures, 1):
        frames = frames_in_pixels(img, f["box"], axes_frames)
        n += len(frames)
        for leg in f["legends"]:
            for fr in frames:
                if leg.overlaps(fr, tol=0.0):
                    bad.append(f"figure {k}: {leg.text} over a frame at y {fr.y0:.0f}-{fr.y1:.0f}")
    return bad, n
