"""The report as a reader sees it: a body-model session's known truth stated, nothing
outside the margins, no legend over data, and the same content in the HTML page.

The PDF is checked with tools we did not write: poppler's ``pdftoppm`` renders the pages
(ink outside the margins, the axes frames) and ``pdftotext -bbox`` gives where each word
sits (legend labels against the frames). The HTML page is parsed with the standard
library (self-contained, the same text as the PDF) and rendered by headless Chromium
(`page_layout`): every line of text inside the text column and over no other, each
plot's legend off its data, both as the browser measured them and against the frames
found in a screenshot's pixels; printed from Chromium it passes the PDF's own checks.
"""
from __future__ import annotations

import dataclasses
import html.parser
import re
import subprocess

import numpy as np
import pytest
from scipy import stats as sps

import page_layout
from export_fixtures import SUBJECT, run_cli
from glutescope.analysis import analyse
from glutescope.exitcodes import ExitStatus
from glutescope.recording import load
from glutescope.report import (A4_IN, CONTENT_W_IN, MARGIN_IN, Heading, Paragraph, Plot, Table, report_blocks,
                               symmetry_sentence, write_html, write_report)
from glutesignal.simulation import simulate
from glutesignal.symmetry import symmetry_over_reps

pytestmark = pytest.mark.slow
needs_chromium = pytest.mark.skipif(page_layout.chromium() is None, reason=page_layout.NO_CHROMIUM)

MM_PER_IN = 25.4
RENDER_DPI = 100
INK_MARGIN_MM = (12.0, 12.0, 12.0, 8.0)
"""Left, right, top, bottom: no ink nearer the page's edge (the footer sits above 8 mm)."""
LEGEND_PHRASES = ("tilt (anterior +)", "obliquity (left hip higher +)", "glute max left", "glute max right",
                  "left glute", "right glute", "left glute max", "right glute max")
"""Every legend label the report draws now or drew before."""


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The virtual wearable running the body model's calibrated demo: 6 reference holds,
    5 bridges with the left glute 30 % weaker, the squeeze test (at 4 x, which a busy
    runner keeps up with: nothing lost, so the truth is the body model's)."""
    path = tmp_path_factory.mktemp("layout") / "cal.glutes"
    status, _, err = run_cli("record", path, "--duration", 126, "--speed", 4, "--exercise", "calibrated_demo",
                             "--subject", SUBJECT, "--seed", 0)
    assert status == 0, err
    return path


@pytest.fixture(scope="module")
def outputs(calibrated):
    pdf, page = calibrated.with_name("cal.pdf"), calibrated.with_name("cal.html")
    status, out, err = run_cli("report", calibrated, "-o", pdf, "--html", page)
    assert status == ExitStatus.OK, err
    return pdf, page


def pdf_words(pdf) -> list[list[tuple[float, float, float, float, str]]]:
    """Per page, each word with its box in points from the top-left (pdftotext -bbox)."""
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    pages = []
    for page in xml.split("<page ")[1:]:
        words = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)
        pages.append([(float(a), float(b), float(c), float(d), _unescape(w)) for a, b, c, d, w in words])
    return pages


def pdf_text(pdf) -> str:
    """The pages' running text in reading order, without the footers (a paragraph split
    over two pages reads on across the break)."""
    words = pdf_words(pdf)
    foot_pt = (A4_IN[1] - MARGIN_IN) * 72  # below this only the footer
    return " ".join(" ".join(w[4] for w in page if w[1] < foot_pt) for page in words)


def _unescape(s: str) -> str:
    import html as _h

    return _h.unescape(s)


def render(pdf, tmp_path) -> list[np.ndarray]:
    """Each page as a grey image (0 black, 255 white) at RENDER_DPI, by pdftoppm."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(RENDER_DPI), "-gray", str(pdf), str(tmp_path / "page")], check=True)
    out = []
    for f in sorted(tmp_path.glob("page-*.pgm")):
        data = f.read_bytes()
        m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
        w, h = int(m.group(1)), int(m.group(2))
        out.append(np.frombuffer(data[m.end():m.end() + w * h], np.uint8).reshape(h, w))
    return out


def ink_outside_margins(img: np.ndarray) -> int:
    """Pixels darker than light grey outside the margins."""
    px = RENDER_DPI / MM_PER_IN
    left, right, top, bottom = (int(round(m * px)) for m in INK_MARGIN_MM)
    ink = img < 200
    inside = np.zeros_like(ink)
    inside[top:img.shape[0] - bottom, left:img.shape[1] - right] = True
    return int((ink & ~inside).sum())


_TICK_PX = int(np.ceil(4.0 / 72 * RENDER_DPI)) + 1
"""A tick mark (3.5 pt) at an axis' end lengthens its spine's line by this much at most."""


def axes_frames(img: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles (x0, y0, x1, y1, pixels) framed by dark lines: the plots' axes.

    A frame is two long dark horizontal lines with the same extent joined by dark
    vertical lines at both ends (the spines); traces, shading and table rules are not.
    An anti-aliased spine can fall on two pixel rows, each too light alone, so a row
    counts as dark where it or a neighbour is; a tick at a spine's end may lengthen it.
    """
    dark = img < 128
    near = dark.copy()
    near[1:] |= dark[:-1]
    near[:-1] |= dark[1:]
    min_run = img.shape[1] // 5
    lines = []  # [y_first, y_last, x0, x1] of each long horizontal line
    for y in range(img.shape[0]):
        row = near[y]
        if row.sum() < min_run:
            continue
        edges = np.flatnonzero(np.diff(np.r_[0, row.astype(np.int8), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a < min_run:
                continue
            for line in lines:
                if y - line[1] <= 3 and abs(line[2] - a) <= _TICK_PX and abs(line[3] - (b - 1)) <= _TICK_PX:
                    line[1] = y
                    break
            else:
                lines.append([y, y, int(a), int(b - 1)])
    lines.sort()
    frames, used = [], set()
    for i, (ya, _, a0, a1) in enumerate(lines):
        if i in used:
            continue
        for j in range(i + 1, len(lines)):
            yb, _, b0, b1 = lines[j]
            if abs(a0 - b0) > _TICK_PX or abs(a1 - b1) > _TICK_PX:
                continue
            col0 = near[ya:yb, max(a0 - 1, 0):a0 + 2].any(axis=1).mean()
            col1 = near[ya:yb, a1 - 1:a1 + 2].any(axis=1).mean()
            if col0 > 0.95 and col1 > 0.95:
                frames.append((a0, ya, a1, yb))
                used.add(j)
                break
    return frames


def legend_boxes(words) -> list[tuple[float, float, float, float, str]]:
    """Boxes (points) of the legend labels found on a page: the phrases' words in a row."""
    out = []
    for phrase in LEGEND_PHRASES:
        parts = phrase.split()
        for i in range(len(words) - len(parts) + 1):
            seq = words[i:i + len(parts)]
            if [w[4] for w in seq] == parts and max(w[1] for w in seq) - min(w[1] for w in seq) < 1.0:
                out.append((seq[0][0], min(w[1] for w in seq), seq[-1][2], max(w[3] for w in seq), phrase))
    return out


def legends_over_data(pdf, tmp_path) -> list[str]:
    """Each legend label whose box lies inside a plot's frame, with its page."""
    scale = RENDER_DPI / 72.0
    bad, n_legends = [], 0
    for k, (img, words) in enumerate(zip(render(pdf, tmp_path), pdf_words(pdf)), 1):
        frames = axes_frames(img)
        for x0, y0, x1, y1, phrase in legend_boxes(words):
            n_legends += 1
            for fx0, fy0, fx1, fy1 in frames:
                if x0 * scale < fx1 and x1 * scale > fx0 and y0 * scale < fy1 and y1 * scale > fy0:
                    bad.append(f"page {k}: {phrase!r}")
    assert n_legends, "no legend label found: the check would pass on anything"
    return bad


def body_truth(windows_s=None):
    """What the body model made: reps, the true SI, each side's %MVC in the bridges (over
    ``windows_s``, the (start, end) of each rep as detected, else the scripted reps)."""
    body = simulate("calibrated_demo", seed=0, emg_fs_hz=500.0, imu_fs_hz=104.0, mains_hz=None)
    t = body.t_emg_s()
    bridges = [r for r in body.reps if r.kind == "bridge"]
    pct = []
    for side in ("left", "right"):
        act = body.activation[body.channel_index(f"glute_max_{side}")]
        holds = [p for p in body.phases if p.name == "reference" and p.side == side]
        rest = float(np.median(act[t < 4.0]))
        ref = max(float(act[(t >= p.start_s + 1.0) & (t < p.end_s)].mean()) for p in holds) - rest
        spans = windows_s or [(r.start_s, r.end_s) for r in bridges]
        pct.append(np.mean([100 * (act[(t >= a) & (t < b)].mean() - rest) / ref for a, b in spans]))
    return bridges, body.true_symmetry_index_pct, pct


def assert_states_the_body_models_truth(text: str, calibrated) -> None:
    """``text`` (a report as its reader sees it) says what the body model made: the
    weaker left glute and what to practise, the reps, each side's %MVC near the true
    activation and against the published range."""
    text = " ".join(text.split())
    (analysis,) = analyse(load(calibrated))
    # The true activation over the windows the report measured (onset to offset as detected).
    bridges, si_true, pct_true = body_truth([(r.start_s, r.start_s + r.duration_s) for r in analysis.reps])
    assert len(bridges) == 5 and si_true > 25  # left 30 % weaker: a marked asymmetry
    assert "Marked asymmetry: the right glute works at a higher share of its reference" in text
    assert f"{len(bridges)} reps" in text
    assert "The left glute is weaker" in text and "What to practise: switch the left glute on alone" in text
    m = re.search(r"left glute max (\d+) % of its reference .*? right glute max (\d+) % of its reference", text)
    assert m, text
    shown = (float(m.group(1)), float(m.group(2)))
    assert shown == pytest.approx(pct_true, abs=6.0)  # the envelope's estimate of the true activation
    # Against the published double-leg bridge value (25 %MVIC, Ekstrom et al. 2007): both above.
    assert min(pct_true) > 25 + 3
    assert "double-leg bridge, glute max: 25 %MVIC (Ekstrom et al. 2007)" in text
    assert "both are above it" in text
    # The squeeze test: the body model's left side is the weaker one.
    assert "The left side is weaker: practise switching it on alone." in text
    assert "uV" not in text and "µV" in text


def test_report_states_the_body_models_truth(outputs, calibrated):
    pdf, _ = outputs
    assert_states_the_body_models_truth(pdf_text(pdf), calibrated)


def _lengthened(analysis, duration_s: float):
    """The analysis cut to, or repeated up to, ``duration_s`` of envelope."""
    from glutescope.analysis import ENVELOPE_BIN_S, ENVELOPE_MEAN_BIN_S

    def fit(x, bin_s):
        n = int(np.ceil(duration_s / bin_s))
        return x[:, :n] if n <= x.shape[1] else np.resize(x, (x.shape[0], n))

    return dataclasses.replace(analysis, n_samples=int(round(duration_s * analysis.emg_fs_hz)),
                               envelope_max_uV=fit(analysis.envelope_max_uV, ENVELOPE_BIN_S),
                               envelope_mean_uV=fit(analysis.envelope_mean_uV, ENVELOPE_MEAN_BIN_S))


def test_report_names_only_cues_that_were_given(calibrated):
    from matplotlib.figure import Figure

    rec = load(calibrated)
    (analysis,) = analyse(rec)
    cues = [c for c in analysis.plan.squeeze_cues if c.name == "squeeze"]
    # The session cut between the squeeze test's first and last cue: the later ones never happened.
    cut_s = 0.5 * (cues[1].start_s + cues[2].start_s)
    cut = _lengthened(analysis, cut_s)
    for seg, given in ((analysis, ["R", "L", "both"]), (cut, ["R", "L"])):
        plot = next(b for b in report_blocks(rec, seg) if isinstance(b, Plot))
        fig = Figure(figsize=(7.1, plot.height_in))
        plot.draw(fig, (0, 0, 1, 1))
        assert [t.get_text().strip() for ax in fig.axes for t in ax.texts if t.get_color() == "green"] == given


def test_pdf_has_no_ink_outside_the_margins(outputs, tmp_path):
    pdf, _ = outputs
    pages = render(pdf, tmp_path)
    assert len(pages) >= 2
    assert [ink_outside_margins(p) for p in pages] == [0] * len(pages)


def test_pdf_legends_sit_outside_the_plotted_data(outputs, tmp_path):
    pdf, _ = outputs
    assert legends_over_data(pdf, tmp_path) == []
    frames = axes_frames(render(pdf, tmp_path / "again")[0])
    assert len(frames) >= 2  # the envelope and pelvis axes were found, so the check had something to test


def test_layout_checks_fail_on_a_legend_inside_its_axes_and_text_in_the_margin(calibrated, tmp_path):
    """The checks themselves: a page with the old layout's faults (a legend in the lower
    right of the data, a line of text running to the page's edge) is caught."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    pdf = tmp_path / "faulty.pdf"
    with rc_context({"pdf.fonttype": 42}), PdfPages(pdf) as pages:
        fig = Figure(figsize=(8.27, 11.69))
        ax = fig.add_axes((0.1, 0.5, 0.85, 0.2))
        ax.plot(np.arange(100), np.sin(np.arange(100) / 5.0), label="tilt (anterior +)")
        ax.legend(loc="lower right", frameon=False)
        fig.text(0.07, 0.3, "Left/right amplitude ratio " * 6, fontsize=9)
        pages.savefig(fig)
    assert legends_over_data(pdf, tmp_path) == ["page 1: 'tilt (anterior +)'"]
    assert ink_outside_margins(render(pdf, tmp_path / "ink")[0]) > 0


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images, self.text, self._open = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            self.images.append(dict(attrs))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open and self._open[-1] in ("p", "h1", "h2", "td", "th") and data.strip():
            self.text.append(data)


def test_html_is_self_contained_and_says_what_the_pdf_says(outputs, calibrated):
    pdf, page = outputs
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "link", "iframe", "object", "embed", "video", "audio", "source"}
    for tag, attrs in parser.tags:
        for key in ("src", "href", "xlink:href", "srcset", "poster", "action"):
            if key in attrs:
                assert attrs[key].startswith("#"), (tag, key, attrs[key][:40])  # only within the page
    source = page.read_text(encoding="utf-8")
    assert set(re.findall(r"url\((.)", source)) <= {"#"}  # CSS and SVG refer only to the page's own parts
    rec = load(calibrated)
    (analysis,) = analyse(rec)
    blocks = report_blocks(rec, analysis)
    plots = [b for b in blocks if isinstance(b, Plot)]
    assert len(parser.images) == len(plots) >= 2
    for svg, plot in zip(parser.images, plots):
        _, _, w_pt, h_pt = map(float, svg["viewbox"].split())
        assert w_pt == pytest.approx(CONTENT_W_IN * 72) and h_pt == pytest.approx(plot.height_in * 72)
        assert svg["role"] == "img" and svg["aria-label"] == plot.alt
    html_text = " ".join(" ".join(parser.text).split())
    pdf_said = pdf_text(pdf)
    for b in blocks:
        if isinstance(b, (Heading, Paragraph)):
            said = " ".join(b.text.split())
            assert said in html_text
            assert said.split(":")[0] in pdf_said
        elif isinstance(b, Table):
            for row in b.rows:
                assert " ".join(row) in html_text
    assert symmetry_sentence(analysis) in html_text
    assert "The left glute is weaker" in html_text


HTML_WIDTHS_PX = (1024, 600)
"""Browser windows the page is read in: a desktop window and a narrow one (tablet, half a screen)."""


def rendered(page, width_px: int, tmp_path):
    """The page as Chromium lays it out at ``width_px``, and its screenshot."""
    layout = page_layout.probe(page, width_px, tmp_path)
    return layout, page_layout.screenshot(page, width_px, layout.height, tmp_path)


def layout_faults(layout, img) -> dict[str, list[str]]:
    """Everything a reader would find wrong with a rendered page, by kind ([] when none)."""
    frames_bad, _ = page_layout.legends_over_frames(img, layout, axes_frames)
    ink = page_layout.ink_outside_column(img, layout)
    return {"outside the column": page_layout.text_outside_column(layout),
            "text over text": page_layout.overlapping_text(layout),
            "legend over data": page_layout.legends_over_data(layout),
            "legend over a frame in the pixels": frames_bad,
            "ink outside the column": [f"{ink} px"] if ink else []}


@needs_chromium
@pytest.mark.parametrize("width_px", HTML_WIDTHS_PX)
def test_html_rendered_in_chromium_keeps_text_in_the_column_and_legends_off_the_data(outputs, calibrated,
                                                                                     width_px, tmp_path):
    _, page = outputs
    layout, img = rendered(page, width_px, tmp_path)
    assert layout_faults(layout, img) == {k: [] for k in layout_faults(layout, img)}
    # The checks had something to check: every plot with its data areas and legends, all text measured.
    rec = load(calibrated)
    (analysis,) = analyse(rec)
    plots = [b for b in report_blocks(rec, analysis) if isinstance(b, Plot)]
    assert len(layout.figures) == len(plots) >= 2
    assert all(f["axes"] and len(f["legends"]) == len(f["axes"]) and f["texts"] for f in layout.figures)
    assert len(layout.texts) > 100
    plot_text = " ".join(t.text for f in layout.figures for t in f["texts"])
    assert "envelope (µV)" in plot_text and "uV" not in plot_text  # the unit as a reader writes it
    # The frames the browser reports are the ones drawn: each found in the screenshot's pixels.
    for f in layout.figures:
        found = page_layout.frames_in_pixels(img, f["box"], axes_frames)
        assert len(found) == len(f["axes"])
        for ax, fr in zip(sorted(f["axes"], key=lambda b: b.y0), sorted(found, key=lambda b: b.y0)):
            assert max(abs(ax.x0 - fr.x0), abs(ax.y0 - fr.y0), abs(ax.x1 - fr.x1), abs(ax.y1 - fr.y1)) <= 2.5
    # The probe changes nothing the reader sees: the probed page's pixels equal the page's.
    probed = page_layout.screenshot(tmp_path / "probed.html", width_px, layout.height, tmp_path / "probed")
    assert np.array_equal(probed, img)


@needs_chromium
def test_rendered_html_states_the_body_models_truth(outputs, calibrated, tmp_path):
    """What the browser shows (its innerText, plots' text aside) says the body model's truth."""
    _, page = outputs
    layout = page_layout.probe(page, HTML_WIDTHS_PX[0], tmp_path)
    assert_states_the_body_models_truth(layout.body_text, calibrated)


@needs_chromium
def test_html_layout_checks_fail_on_a_broken_page(outputs, tmp_path):
    """The same checks on the report with three faults planted: a table too wide for the
    column, a paragraph pulled up over the one before it, and the pelvis legend moved
    down onto its data. Each is caught, by the probe and in the pixels."""
    _, page = outputs
    source = page.read_text(encoding="utf-8")
    wide = "<table><tr>" + "".join(f"<td>column {k}</td>" for k in range(40)) + "</tr></table>"
    over = '<p style="margin-top:-2.2em">A line drawn over the verdict.</p>'
    broken = source.replace("<h2>Activation in %MVC</h2>", f"{wide}{over}<h2>Activation in %MVC</h2>", 1)
    broken = broken.replace('<g id="f1-legend-1">', '<g id="f1-legend-1" transform="translate(0 40)">', 1)
    assert broken.count("column 39") == 1 and 'translate(0 40)' in broken
    bad = tmp_path / "broken.html"
    bad.write_text(broken, encoding="utf-8")
    layout, img = rendered(bad, HTML_WIDTHS_PX[0], tmp_path)
    faults = layout_faults(layout, img)
    assert any("'column 39'" in f for f in faults["outside the column"])
    assert any("page " in f and "wide in a" in f for f in faults["outside the column"])
    assert any("'A line drawn over the verdict.'" in f for f in faults["text over text"])
    assert faults["legend over data"] == ["figure 1: f1-legend-1 over f1-axes-1"]
    assert len(faults["legend over a frame in the pixels"]) == 1
    assert faults["legend over a frame in the pixels"][0].startswith("figure 1: f1-legend-1 over a frame")
    assert faults["ink outside the column"]


@needs_chromium
def test_html_printed_from_the_browser_keeps_the_pdf_reports_margins(outputs, calibrated, tmp_path):
    """Printed from Chromium, the page is A4 with the PDF's checks passing: no ink outside
    the margins, no legend label inside a plot's frame, no heading alone at a page's foot."""
    _, page = outputs
    printed = page_layout.print_pdf(page, tmp_path)
    pages = render(printed, tmp_path / "pages")
    a4_px = np.array([297.0, 210.0]) / MM_PER_IN * RENDER_DPI
    assert len(pages) >= 2 and all(np.abs(np.array(p.shape) - a4_px).max() <= 2 for p in pages)  # A4
    assert [ink_outside_margins(p) for p in pages] == [0] * len(pages)
    assert legends_over_data(printed, tmp_path / "legends") == []
    rec = load(calibrated)
    (analysis,) = analyse(rec)
    headings = {b.text for b in report_blocks(rec, analysis) if isinstance(b, Heading)}
    words = pdf_words(printed)
    for k, page_words in enumerate(words[:-1], 1):
        foot = max(w[1] for w in page_words)
        last_line = " ".join(w[4] for w in page_words if abs(w[1] - foot) < 2.0)
        assert last_line not in headings, f"page {k} ends with the heading {last_line!r}"
    text = " ".join(" ".join(w[4] for w in p) for p in words)
    assert_states_the_body_models_truth(text, calibrated)


@pytest.mark.parametrize("room_lines", [1, 2, 3, 5])
def test_a_paragraph_split_over_pages_leaves_no_line_alone(tmp_path, room_lines):
    """A four-line paragraph meeting the page's foot with room for ``room_lines``: split
    only as two and two (never one line alone at a page's foot or head), else moved whole;
    a heading at the foot goes with it."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    from glutescope.report import _PdfFlow

    pdf = tmp_path / "split.pdf"
    lead_in = Paragraph("").size_pt * 1.32 / 72
    with rc_context({"pdf.fonttype": 42}), PdfPages(pdf) as pages:
        flow = _PdfFlow(pages, "footer")
        flow.add(Paragraph("filler"))
        flow.y_in = MARGIN_IN + (room_lines + 0.5) * lead_in  # as if the page were filled to here
        flow.add(Paragraph("\n".join(f"line{k}" for k in range(1, 5))))
        flow.add(Heading("Next section"))
        flow.add(Paragraph("after1\nafter2"))
        flow.close()
    where = {w[4]: k for k, page in enumerate(pdf_words(pdf)) for w in page}
    on_first = [k for k in range(1, 5) if where[f"line{k}"] == 0]
    assert len(on_first) == {1: 0, 2: 2, 3: 2, 5: 4}[room_lines]
    assert where["Next"] == where["after1"] == where["after2"]


def _sets_session(short, n_sets: int = 20, period_s: float = 120.0):
    """``short``'s five bridges repeated as ``n_sets`` sets, one every ``period_s``."""
    fs = short.emg_fs_hz
    first = short.reps[0].start_s
    reps = tuple(dataclasses.replace(r, index=k * 5 + r.index, start_s=k * period_s + (r.start_s - first) + 5.0)
                 for k in range(n_sets) for r in short.reps)
    n = int(n_sets * period_s * fs)
    return dataclasses.replace(_lengthened(short, n / fs), reps=reps, pelvis_mean_deg=None,
                               stats=dataclasses.replace(short.stats, n_reps=len(reps)))


@needs_chromium
@pytest.mark.parametrize("session", ["40 minutes of sets", "cut to 120 s"])
def test_other_sessions_html_renders_inside_the_column(calibrated, session, tmp_path):
    """A long session's page (timeline, blocks table) and a session ending on a time tick
    (its last tick label at the plot's right edge, where it was cut off) pass the checks."""
    rec = load(calibrated)
    (short,) = analyse(rec)
    seg = _sets_session(short) if session == "40 minutes of sets" else _lengthened(short, 120.0)
    page = write_html(rec, [seg], tmp_path / "other.html")
    layout, img = rendered(page, HTML_WIDTHS_PX[1], tmp_path)
    faults = layout_faults(layout, img)
    assert faults == {k: [] for k in faults}
    assert len(layout.figures) >= 2 and sum(len(f["legends"]) for f in layout.figures) >= 2
    last_tick = "40" if session == "40 minutes of sets" else "120"
    assert last_tick in [t.text for t in layout.figures[0]["texts"]]


def test_long_session_shows_blocks_and_an_interval_over_sets(calibrated, tmp_path):
    """A 40-minute session of 20 sets of 5 bridges: a timeline and 10-minute blocks, no
    trace of every rep, and the SI interval over the 20 sets, not the 100 reps."""
    rec = load(calibrated)
    (short,) = analyse(rec)
    n_sets = 20
    long = _sets_session(short, n_sets)
    reps = long.reps
    pdf = write_report(rec, [long], tmp_path / "long.pdf")
    words = pdf_words(pdf)
    text = " ".join(" ".join(w[4] for w in p) for p in words)
    assert "Timeline" in text and "Blocks of 10 minutes" in text
    assert len(words) <= 4  # not pages of rep rows
    sis = np.array([r.si_normalised_pct for r in reps])
    means = sis.reshape(n_sets, 5).mean(axis=1)
    half = sps.t.ppf(0.975, n_sets - 1) * means.std(ddof=1) / np.sqrt(n_sets)
    # plus, in quadrature, the references' precision, which no number of sets averages out
    half = np.hypot(half, sps.norm.ppf(0.975) * short.stats.si_reference_sd_pct)
    assert short.stats.si_reference_sd_pct > 0
    assert f"{means.mean() - half:+.1f} to {means.mean() + half:+.1f} %" in text
    assert f"95 % interval over {n_sets} sets" in text and f"{len(reps)} reps in {n_sets} sets" in text
    naive = symmetry_over_reps([r.mean_pct_ref[0] for r in reps], [r.mean_pct_ref[1] for r in reps])
    assert f"{naive.ci_low_pct:+.1f} to {naive.ci_high_pct:+.1f} %" not in text
    assert ink_outside_margins(render(pdf, tmp_path)[0]) == 0
    page = write_html(rec, [long], tmp_path / "long.html").read_text(encoding="utf-8")
    blocks_table = page.split("Blocks of 10 minutes")[1].split("</table>")[0]
    assert blocks_table.count("<tr>") == 1 + 4  # the header and four 10-minute blocks


def test_report_cli_writes_html_by_extension_and_refuses_other_suffixes(calibrated, tmp_path):
    status, out, err = run_cli("report", calibrated, "-o", tmp_path / "r.html")
    assert status == ExitStatus.OK, err
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == 0o600
    status, _, err = run_cli("report", calibrated, "--html", tmp_path / "r.txt")
    assert status == ExitStatus.USAGE and ".html" in err and err.count("\n") == 1



def _live_quality_grades(rec, block: int) -> list[tuple[str, ...]]:
    """The grades a live processor shows, fed the recording in fixed blocks (not the
    recorded ones) and asked to grade after each, as the live window's timer does."""
    from glutescope.analysis import channel_names, exercise_plan
    from glutescope.live import LiveProcessor
    from glutescope.mains import recorded_mains_hz
    from glutescope.units import adc_scale, codes_to_uV

    info = rec.device_info
    plan = exercise_plan(rec)
    proc = LiveProcessor(channel_names(rec), info.emg_fs_hz, 0.0, mains_hz=recorded_mains_hz(rec.meta),
                         squeeze_cues=plan.squeeze_cues, adc=adc_scale(info))
    emg = codes_to_uV(rec.emg[0].samples, info)
    shown, last = [], None
    for a in range(0, emg.shape[1], block):
        proc.push_emg(a, emg[:, a:a + block])
        proc.update_quality()
        if proc.state.stats.quality and proc.state.stats.quality is not last:
            last = proc.state.stats.quality
            shown.append(tuple(q.grade for q in last))
    return shown


def test_report_quality_agrees_with_what_the_live_view_showed(outputs, calibrated):
    """The PDF used to headline the worst 2-s grading of the session (left FAIR) while
    the live view and replay showed good: the report now gives the live gradings' counts,
    most common first, and the grade shown at the end."""
    pdf, _ = outputs
    text = pdf_text(pdf)
    rec = load(calibrated)
    shown = _live_quality_grades(rec, 100)
    for ch, name in enumerate(("glute max left", "glute max right")):
        grades = [s[ch] for s in shown]
        most = max(set(grades), key=grades.count)
        assert re.search(rf"{name}: {most} in \d+", text), name
        assert re.search(rf"{name}: .*?shown live at the end: {grades[-1]}", text), name
        assert f"{name}: FAIR" not in text and f"{name}: POOR" not in text


def test_weaker_side_is_named_only_when_the_interval_clears_the_band(calibrated):
    from glutescope.report import weaker_side_sentence

    (analysis,) = analyse(load(calibrated))
    st = analysis.stats
    assert st.si_normalised and st.si_consistent and st.louder_side == "right"
    assert weaker_side_sentence(analysis).startswith("The left glute is weaker")
    reaching = dataclasses.replace(analysis, stats=dataclasses.replace(st, ci_low_pct=4.0, si_consistent=False))
    assert weaker_side_sentence(reaching).startswith("No clear difference between the glutes")
    inside = dataclasses.replace(analysis, stats=dataclasses.replace(st, si_pct=4.0, louder_side="none",
                                                                     asymmetry_band="no clear difference",
                                                                     ci_low_pct=-2.0, ci_high_pct=10.0,
                                                                     si_consistent=False))
    assert weaker_side_sentence(inside).startswith("No clear difference between the glutes")
    raw = dataclasses.replace(analysis, stats=dataclasses.replace(st, si_normalised=False))
    assert weaker_side_sentence(raw).startswith("Which glute is weaker cannot be told")


def test_long_session_without_set_breaks_takes_its_interval_over_time_blocks(calibrated, tmp_path):
    """400 bridges back to back for 40 minutes (the soak's session): one set, so the
    interval is taken over the four 10-minute blocks, never over 400 'independent' reps."""
    rec = load(calibrated)
    (short,) = analyse(rec)
    rng = np.random.default_rng(3)
    base = short.reps[0]
    reps = tuple(dataclasses.replace(base, index=k + 1, start_s=5.0 + 6.0 * k,
                                     si_normalised_pct=float(30 + 8 * np.sin(k / 40) + rng.normal(0, 3)))
                 for k in range(400))
    n = int(2400 * short.emg_fs_hz)
    long = dataclasses.replace(_lengthened(short, n / short.emg_fs_hz), reps=reps, pelvis_mean_deg=None,
                               stats=dataclasses.replace(short.stats, n_reps=len(reps)))
    text = " ".join(symmetry_sentence(long).split())
    sis = np.array([r.si_normalised_pct for r in reps])
    means = np.array([sis[[int(r.start_s // 600) == b for r in reps]].mean() for b in range(4)])
    half = sps.t.ppf(0.975, 3) * means.std(ddof=1) / 2.0
    half = np.hypot(half, sps.norm.ppf(0.975) * short.stats.si_reference_sd_pct)  # the references'
    assert "95 % interval over 4 10-minute blocks" in text and "400 reps in 4 10-minute blocks" in text
    assert f"{means.mean() - half:+.1f} to {means.mean() + half:+.1f} %" in text
    iid = sps.t.ppf(0.975, 399) * sis.std(ddof=1) / np.sqrt(400)
    assert half > 3 * iid  # what treating the reps as independent would have claimed


def test_a_rep_table_longer_than_a_page_continues_inside_the_margins(calibrated, tmp_path):
    """140 reps in 14 minutes (still shown rep by rep): the table runs over pages, each
    with its heading row, and no page has ink outside the margins."""
    rec = load(calibrated)
    (short,) = analyse(rec)
    reps = tuple(dataclasses.replace(short.reps[k % len(short.reps)], index=k + 1, start_s=5.0 + 6.0 * k)
                 for k in range(140))
    many = dataclasses.replace(_lengthened(short, 14 * 60.0), reps=reps, pelvis_mean_deg=None)
    pdf = write_report(rec, [many], tmp_path / "many.pdf")
    pages = pdf_words(pdf)
    heads = [sum(1 for w in p if w[4] == "tension") for p in pages]  # "time under tension" heads each table page
    assert sum(h > 0 for h in heads) >= 2
    assert [ink_outside_margins(p) for p in render(pdf, tmp_path)] == [0] * len(pages)
    first_column = {w[4] for p in pages for w in p if w[0] < 60}
    assert {str(k) for k in range(1, 141)} <= first_column
