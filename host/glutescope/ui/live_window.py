"""The live biofeedback window.

It only *reads*: a QTimer pulls the latest samples from the ring buffers the
acquisition thread fills and redraws (pyqtgraph's scrollingPlots pattern). Nothing
here filters, decodes or waits on the radio, so a slow redraw never costs a sample.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtWidgets

from glutescope.guide import describe_score
from glutescope.ui.decimate import ColumnTracker, column_layout
from glutescope.live import LiveState, LiveStats
from glutescope.protocols.runner import stream_clock
from glutescope.verdicts import symmetry_headline
from glutesignal.normalise import above_rest

# Colour per side, kept the same in the plots, the bars and the report.
SIDE_COLOURS = {"left": (66, 135, 245), "right": (245, 130, 48)}
OTHER_COLOUR = (120, 180, 90)
QUALITY_COLOURS = {"good": "#5cb85c", "fair": "#f0ad4e", "poor": "#d9534f"}
# The notice banner per kind (text colour, background): a reminder in amber, a wake-up
# done in green, one not done in grey; dark text on the light ones for contrast.
NOTICE_STYLES = {"reminder": ("#1b1b1b", "#f0ad4e"), "wake_up_done": ("#1b1b1b", "#5cb85c"),
                 "wake_up_not_done": ("#ffffff", "#6c757d")}
# Frames at the screen's refresh rate (decimated drawing keeps that cheap: benchmarks/
# ui_fps.py); a frame more than the screen shows is never seen. 60 Hz where the platform
# does not say (offscreen) or says something implausible.
DEFAULT_DISPLAY_HZ = 60.0
DISPLAY_HZ_RANGE = (24.0, 240.0)
BIG_NUMBERS_EVERY_S = 0.25  # the big figures change at most 4 times a second
DEFAULT_COLUMNS = 900  # pixel columns to decimate to before the window has a size
RAW_ALPHA = 55  # the raw trace's opacity (of 255): faint, so the 1 px envelope reads over it
LEFT_AXIS_PX = 64  # the trace plots' left axes: room for "-1000" and the axis label
AXIS_END_MARGIN_PX = 2  # a cached axis' room past its ends (_cache_still_items)
# The envelope is smooth (a low-pass of a few Hz moves over tens of pixels in a 10 s
# window), so a point per few pixel columns draws the same curve for a third of the points.
ENVELOPE_PX_PER_POINT = 3
PELVIS_STEP_DEG = 5.0  # the pelvis plot's angle scale grows and shrinks in these steps


def stepped_top(value: float, floor: float, step: float) -> float:
    """The top of a scale that shows ``value``: at least ``floor``, else ``value`` rounded up
    to a whole ``step``, so the scale holds still while the value moves within a step."""
    if not np.isfinite(value) or value <= floor:
        return floor
    return float(np.ceil(value / step) * step)


def stepped_span(lo: float, hi: float, step: float) -> tuple[float, float]:
    """``lo``..``hi`` widened outwards to whole ``step``s, at least one step either side of
    their middle (a flat trace still gets a scale)."""
    lo_s, hi_s = float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)
    if hi_s - lo_s < 2 * step:
        mid = float(np.round((lo + hi) / 2 / step) * step)
        lo_s, hi_s = min(lo_s, mid - step), max(hi_s, mid + step)
    return lo_s, hi_s


_SHORT = {"glute_max": "max", "glute_med": "med", "hamstring": "ham", "lumbar_erector": "lumb"}


def channel_colour(name: str) -> tuple[int, int, int]:
    """The side's colour for a glute, another for a synergist (so a left hamstring is not
    mistaken for the left glute)."""
    if name.startswith(("hamstring", "lumbar_erector")):
        return OTHER_COLOUR
    for side, colour in SIDE_COLOURS.items():
        if side in name:
            return colour
    return OTHER_COLOUR


def channel_tick(name: str) -> str:
    """A bar's label: side and muscle, e.g. "L max", "L ham"."""
    muscle, _, side = name.rpartition("_")
    return f"{side[:1].upper()} {_SHORT.get(muscle, muscle)}" if side in ("left", "right") else name


class TraceCurve(pg.PlotCurveItem):
    """A curve whose bounds the window states with its data (`set_trace`).

    pyqtgraph works a curve's bounds out from its points, with a NaN-aware min and max of
    each axis, on every new set of data; the window already knows them (the time span
    shown, the column extremes it reduced), and Qt asks for them on every paint.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bounds = QtCore.QRectF()

    def set_trace(self, x, y, x_span: tuple[float, float], y_span: tuple[float, float]) -> None:
        """New points, and the box they lie in (data units; a NaN span draws nothing)."""
        lo, hi = float(y_span[0]), float(y_span[1])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo = hi = 0.0
        if hi <= lo:
            # A flat trace still has a box: Qt skips an item whose box is empty.
            pad = 1e-6 * max(1.0, abs(lo))
            lo, hi = lo - pad, hi + pad
        self._bounds = QtCore.QRectF(x_span[0], lo, x_span[1] - x_span[0], hi - lo)
        self.setData(x, y)

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802 (pyqtgraph's name)
        r = self._bounds
        return (r.left(), r.right()) if ax == 0 else (r.top(), r.bottom())

    def boundingRect(self):  # noqa: N802 (Qt's name)
        # One pixel's pen around the box (a 1 px cosmetic pen, as the window uses): in
        # data units it would need the view's transform on every call, so it is left out
        # and the view's clipping, which repaints the whole plot each frame, covers it.
        return self._bounds


class Bars(pg.BarGraphItem):
    """Bars whose box is worked out once per change, not on each of Qt's calls.

    pyqtgraph's bars recompute their box, with the pen's width in data units, every time
    Qt asks, which is several times a frame; it changes only with new heights or a new
    view transform.
    """

    def setOpts(self, **opts):  # noqa: N802 (pyqtgraph's name)
        self._box = None
        super().setOpts(**opts)

    def viewTransformChanged(self):  # noqa: N802 (pyqtgraph's name)
        self._box = None
        super().viewTransformChanged()
        self.prepareGeometryChange()

    def boundingRect(self):  # noqa: N802 (Qt's name)
        if getattr(self, "_box", None) is None:
            self._box = super().boundingRect()
        return self._box


def describe_asymmetry(stats: LiveStats) -> str:
    """The one line the readout shows (`glutescope.verdicts.symmetry_headline`): it names a
    glute only once calibrated and outside the +/-10 % band."""
    return symmetry_headline(stats)


class LiveWindow(QtWidgets.QWidget):
    """Raw EMG and envelope per channel, the left/right balance and link health."""

    def __init__(self, state: LiveState, title: str, display_s: float = 8.0):
        super().__init__()
        self.state = state
        self.display_s = display_s
        self.setWindowTitle(f"glutescope — {title}")
        self.resize(1100, 720)

        layout = QtWidgets.QVBoxLayout(self)
        # The protocol's notice (the desk's reminder to move, a wake-up's score): the first
        # thing on the screen, big, on a coloured band, so it is seen from across the room.
        # Hidden until there is one.
        self.notice_banner = QtWidgets.QLabel("")
        notice_font = self.notice_banner.font()
        notice_font.setPointSize(24)
        notice_font.setBold(True)
        self.notice_banner.setFont(notice_font)
        self.notice_banner.setWordWrap(True)
        self.notice_banner.setVisible(False)
        layout.addWidget(self.notice_banner)
        self._notice = None
        self.readout = QtWidgets.QLabel(describe_asymmetry(state.stats))
        font = self.readout.font()
        font.setPointSize(20)
        font.setBold(True)
        self.readout.setFont(font)
        layout.addWidget(self.readout)
        # The squeeze test's cue: big enough to read from a few steps away.
        self.cue_label = QtWidgets.QLabel("")
        cue_font = self.cue_label.font()
        cue_font.setPointSize(26)
        cue_font.setBold(True)
        self.cue_label.setFont(cue_font)
        self.cue_label.setText(" ")
        layout.addWidget(self.cue_label)
        # Each glute's activation now in big figures, readable from two metres.
        self.big_numbers = QtWidgets.QLabel(" ")
        big = self.big_numbers.font()
        big.setPointSize(34)
        big.setBold(True)
        self.big_numbers.setFont(big)
        layout.addWidget(self.big_numbers)
        self._big_text = " "
        self._big_at_s = 0.0
        self.scores_label = QtWidgets.QLabel("")
        self.scores_label.setVisible(False)
        layout.addWidget(self.scores_label)

        self.graphs = pg.GraphicsLayoutWidget()
        layout.addWidget(self.graphs, stretch=1)
        self.status = QtWidgets.QLabel("")
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.status, stretch=1)
        # A button as well as Esc/Q, Ctrl-C and closing the window (ui/runner.py connects it).
        self.stop_button = QtWidgets.QPushButton("Stop (Esc)")
        bottom.addWidget(self.stop_button)
        layout.addLayout(bottom)

        self.plots = []
        self.raw_curves = []
        self.env_curves = []
        self.t_axis_s = None
        n = state.n_channels
        for ch, name in enumerate(state.channel_names):
            colour = channel_colour(name)
            plot = self.graphs.addPlot(row=ch, col=0, title=name.replace("_", " "))
            plot.setLabel("left", "EMG", units="µV")
            # No grid: pyqtgraph draws it through the axes, whose replay was most of every
            # frame's cost (benchmarks/ui_fps.py); the ticks and the zero line remain.
            plot.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen((90, 90, 90), width=1)))
            # Decimated per pixel column before setData (redraw), so the plot's own
            # downsampling and clipping have nothing left to do.
            plot.setXRange(-display_s, 0, padding=0)
            plot.setYRange(-600, 600)
            if ch:
                # Same scale on every channel: the comparison between sides is the point.
                plot.setYLink(self.first_plot)
            else:
                self.first_plot = plot
            if ch == n - 1:
                plot.setLabel("bottom", "time", units="s")
            self.plots.append(plot)
            # Bare curve items (not PlotDataItem): the data arrive decimated, so its
            # downsampling, clipping and bounds bookkeeping would be paid on every frame
            # for nothing. Pens one pixel wide: Qt strokes wider lines as polygons, which
            # cost more than everything else in a frame (benchmarks/ui_fps.py); the
            # envelope stays distinct from the raw trace by contrast instead: it is opaque
            # in the side's colour, the raw trace a faint version of it.
            raw = TraceCurve(pen=pg.mkPen((*colour, RAW_ALPHA), width=1), connect="finite",
                             skipFiniteCheck=True)
            # The envelope on both signs, so it hugs the raw trace: one curve, the two
            # halves parted by a NaN, so one item is updated and painted instead of two.
            env = TraceCurve(pen=pg.mkPen(colour, width=1), connect="finite", skipFiniteCheck=True)
            plot.addItem(raw)
            plot.addItem(env)
            self.raw_curves.append(raw)
            self.env_curves.append(env)

        self.pelvis_curves = ()
        if state.pelvis is not None:
            pelvis = self.graphs.addPlot(row=n, col=0, title="pelvis")
            pelvis.setLabel("left", "angle", units="°")
            pelvis.setLabel("bottom", "time", units="s")
            pelvis.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen((90, 90, 90), width=1)))
            pelvis.setXRange(-display_s, 0, padding=0)
            # The angle scale moves in whole steps (redraw), not with every sample as
            # auto-range would: each change re-lays out the axis and paints the view twice.
            pelvis.setYRange(-PELVIS_STEP_DEG, PELVIS_STEP_DEG, padding=0)
            self.pelvis_plot = pelvis
            pelvis.setMaximumHeight(170)
            # Bare curves, as the traces: a PlotDataItem's bookkeeping on each new set of
            # points cost more than the rest of a frame's updates (benchmarks/ui_fps.py).
            self.pelvis_curves = tuple(TraceCurve(pen=pg.mkPen(rgb, width=1), connect="finite",
                                                  skipFiniteCheck=True)
                                       for rgb in ((200, 200, 200), (230, 90, 200)))
            for curve in self.pelvis_curves:
                pelvis.addItem(curve)
            # The legend in the cell beside the plot, under the bars: inside the plot it
            # sat where the traces start and hid them (a level pelvis is the plot's top).
            self.pelvis_legend = pg.LegendItem(labelTextColor=(200, 200, 200))
            for curve, name in zip(self.pelvis_curves, ("tilt (anterior +)", "obliquity (hip drop)")):
                self.pelvis_legend.addItem(curve, name)
            self.pelvis_legend.setMaximumSize(220, 60)  # its own size, not the cell's
            self.graphs.addItem(self.pelvis_legend, row=n, col=1)
        for plot in self.plots + ([self.pelvis_plot] if self.pelvis_curves else []):
            # One width for every left axis, so the same time is at the same x in the EMG
            # and the pelvis plots (each axis would otherwise size itself to its tick labels).
            plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        self.balance = self.graphs.addPlot(row=0, col=1, rowspan=max(n, 1), title="activation now")
        self.balance.setMaximumWidth(220)
        self.balance.setLabel("left", "envelope", units="µV")
        self.balance.getAxis("bottom").setTicks(
            [[(i, channel_tick(name)) for i, name in enumerate(state.channel_names)]]
        )
        # Once calibrated the bars are % of each glute's reference; a channel without one
        # (a hamstring, a lumbar erector) says so in its empty slot rather than read as 0 %.
        self.no_reference = []
        for i, name in enumerate(state.channel_names):
            if name not in ("glute_max_left", "glute_max_right"):
                label = pg.TextItem("no reference", color=(150, 150, 150), angle=90, anchor=(0, 0.5))
                label.setPos(i, 0)
                label.setVisible(False)
                self.balance.addItem(label)
                self.no_reference.append(label)
        self.bars = Bars(
            x=np.arange(n), height=np.zeros(n), width=0.6,
            brushes=[pg.mkBrush(channel_colour(c)) for c in state.channel_names],
        )
        self.balance.addItem(self.bars)
        self.balance.setYRange(0, 300)
        # The step's target band in % of reference, shown once calibrated.
        self.target = pg.LinearRegionItem(values=(0, 1), orientation="horizontal", movable=False,
                                          brush=pg.mkBrush(92, 184, 92, 60), pen=pg.mkPen((92, 184, 92), width=1))
        self.target.setVisible(False)
        self.balance.addItem(self.target)
        self._target = None

        self._ranges: dict[int, tuple[float, float]] = {}
        # Decimation state and the curves' point arrays, reused frame to frame (_trackers).
        self._raw_tracker = self._env_tracker = None
        self._t_raw = self._env_x = self._env_y = self._t_imu = None
        self._drawn_stats = None
        self._bar_heights = None
        self._titles: dict[int, tuple[str, str]] = {}
        self._cache_still_items()
        self.frame_s = 1.0 / display_rate_hz(self)
        self._due_s = None
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._next_frame)
        self.timer.start(max(1, int(self.frame_s * 1000)))

    def redraw(self) -> None:
        state = self.state
        stats = state.stats
        if state.emg.write_index > 1 and state.envelope.write_index > 1:
            # One (min, max) pair per pixel column: the same picture as every sample, for
            # a tenth of the points; columns are fixed in stream time, so each frame
            # reduces only the samples new since the last (glutescope.ui.decimate).
            raw_tracker, env_tracker = self._trackers()
            x_raw, raw_cols = raw_tracker.update(state.emg)
            x_env, env_cols = env_tracker.update(state.envelope)
            m = x_env.size
            self._t_raw = np.divide(x_raw, state.emg_fs_hz, out=self._t_raw)
            self._env_x[:m] = x_env
            self._env_x[m] = x_env[-1]
            self._env_x[m + 1:] = x_env
            self._env_x /= state.emg_fs_hz
            self._env_y[:, :m] = env_cols
            np.negative(env_cols, out=self._env_y[:, m + 1:])
            # Each curve's box from the columns: fmin/fmax skip a gap's NaN without a warning.
            x_span = (float(min(self._t_raw[0], self._env_x[0])), float(max(self._t_raw[-1], self._env_x[m])))
            raw_lo, raw_hi = np.fmin.reduce(raw_cols, axis=1), np.fmax.reduce(raw_cols, axis=1)
            env_hi = np.fmax.reduce(env_cols, axis=1)
            for ch in range(state.n_channels):
                self.raw_curves[ch].set_trace(self._t_raw, raw_cols[ch], x_span, (raw_lo[ch], raw_hi[ch]))
                self.env_curves[ch].set_trace(self._env_x, self._env_y[ch], x_span, (-env_hi[ch], env_hi[ch]))
            env_top = float(np.fmax.reduce(env_hi))
            env = state.envelope.latest(int(0.2 * state.emg_fs_hz))
            now = env.mean(axis=1)
            pct = self._percent_of_reference(now)
            if pct is not None:
                # Calibrated: each glute against its own reference, so the bars compare muscles.
                # fmax ignores a gap's NaN without a warning; all NaN gives NaN: the floor.
                self._set_range(self.balance, 0.0, stepped_top(float(np.fmax.reduce(pct)) * 1.2, 100.0, 25.0))
                self._show_bars(pct)
            else:
                self._set_range(self.balance, 0.0, stepped_top(env_top * 1.2, 300.0, 50.0))
                self._show_bars(now)
            self._show_big_numbers(now, pct)
        if self.pelvis_curves and state.pelvis is not None:
            angles = state.pelvis.latest(int(self.display_s * state.imu_fs_hz))
            if angles.shape[1] > 1:
                t_imu = self._imu_times(angles.shape[1])
                shown = angles[:2]
                lo_deg, hi_deg = np.fmin.reduce(shown, axis=1), np.fmax.reduce(shown, axis=1)
                span = (float(t_imu[0]), 0.0)
                for curve, row, lo, hi in zip(self.pelvis_curves, shown, lo_deg, hi_deg):
                    curve.set_trace(t_imu, row, span, (lo, hi))
                lo, hi = float(np.fmin.reduce(lo_deg)), float(np.fmax.reduce(hi_deg))
                if np.isfinite(lo) and np.isfinite(hi):  # all NaN: a gap fills the window
                    self._set_range(self.pelvis_plot, *stepped_span(lo, hi, PELVIS_STEP_DEG))
        if stats is self._drawn_stats:
            return  # the texts below only change with a new stats snapshot
        self._drawn_stats = stats
        warning = stats.quality_warning(state.channel_names)
        self.readout.setText(describe_asymmetry(stats) + (f"\n⚠ {warning}" if warning else ""))
        for q in stats.quality:
            name = state.channel_names[q.channel].replace("_", " ")
            title = (f"{name} · signal {q.grade}", QUALITY_COLOURS.get(q.grade, "#bbbbbb"))
            if self._titles.get(q.channel) != title:  # a plot title is re-rendered on every set
                self._titles[q.channel] = title
                self.plots[q.channel].setTitle(title[0], color=title[1])
        step = stats.step
        if step is not None:
            # A protocol runs: the headline is its step, with the time left and where in
            # the protocol it is, so the person always knows what to do now.
            colour = "#5b9bd5" if step.name == "relax" else "#d9534f"
            self.cue_label.setText(f"{step.step.cue} · {stats.step_left_s:.0f} s")
            self.cue_label.setStyleSheet(f"color: {colour}")
            # "Waiting for a rep" only where a rep is due: a squeeze test, a calibration or a
            # stance has none to wait for.
            balance = "" if stats.si_pct is None and step.step.scored != "reps" else " · " + describe_asymmetry(stats)
            self.readout.setText(f"{stats.protocol_title} · step {step.index + 1} of {stats.n_steps}"
                                 + balance + (f"\n⚠ {warning}" if warning else ""))
            self._show_target(step.step.target_pct if stats.calibration is not None else None)
        elif stats.cue is not None:
            colour = "#d9534f" if stats.cue.name in ("squeeze", "reference") else "#5b9bd5"
            self.cue_label.setText(f"{stats.cue.instruction()} · {stats.cue_left_s:.0f} s")
            self.cue_label.setStyleSheet(f"color: {colour}")
        elif stats.protocol_title:
            # Before the first step or after the last: the protocol, and its left/right only
            # if there is one (nothing is waited for any more).
            balance = "" if stats.si_pct is None else " · " + describe_asymmetry(stats)
            self.readout.setText(stats.protocol_title + balance + (f"\n⚠ {warning}" if warning else ""))
            self.cue_label.setText(f"{stats.protocol_title}: done" if stats.protocol_results is not None
                                   else f"{stats.protocol_title}")
            self.cue_label.setStyleSheet("color: #5cb85c")
            self._show_target(None)
        # The cue line keeps its place (empty, not hidden) so the layout does not jump.
        if step is None and stats.cue is None and not stats.protocol_title:
            self.cue_label.setText(" ")
        if stats.squeeze_scores or stats.calibration_note:
            lines = ["Squeeze test: " + describe_score(score) for score in stats.squeeze_scores]
            if stats.weaker_squeeze_side:
                lines.append(f"The {stats.weaker_squeeze_side} side is weaker: practise switching it on alone.")
            if stats.calibration_note:
                lines.append(stats.calibration_note[0].upper() + stats.calibration_note[1:])
            self.scores_label.setText("\n".join(lines))
        self.scores_label.setVisible(bool(stats.squeeze_scores or stats.calibration_note))
        self._show_notice(stats.notice)
        self.status.setText(stats.summary())

    def _next_frame(self) -> None:
        """Redraw, and time the next frame a frame after this one was due: whole-ms
        intervals that average the screen's rate (16 ms alone would be 62.5 Hz)."""
        now_s = time.monotonic()
        if self._due_s is None or now_s - self._due_s > self.frame_s:
            self._due_s = now_s  # the first frame, or late by a frame: start again from now
        self._due_s += self.frame_s
        self.timer.setInterval(max(1, round((self._due_s - now_s) * 1000)))
        self.redraw()

    def _trackers(self) -> tuple[ColumnTracker, ColumnTracker]:
        """The raw and envelope column trackers for the plots' present width (new ones,
        and their point arrays, only when the width changes the column count)."""
        n_samples = int(self.display_s * self.state.emg_fs_hz)
        width_px = self.first_plot.getViewBox().width() or DEFAULT_COLUMNS
        n_columns, per = column_layout(n_samples, width_px)
        if self._raw_tracker is None or (self._raw_tracker.n_columns, self._raw_tracker.per) != (n_columns, per):
            n = self.state.n_channels
            self._raw_tracker = ColumnTracker(n, n_columns, per, with_min=True)
            env_columns, env_per = column_layout(n_samples, width_px / ENVELOPE_PX_PER_POINT)
            self._env_tracker = ColumnTracker(n, env_columns, env_per, with_min=False)
            self._t_raw = np.empty(2 * (n_columns + 1))
            m = env_columns + 1
            self._env_x = np.empty(2 * m + 1)
            self._env_y = np.empty((n, 2 * m + 1), dtype=np.float32)
            self._env_y[:, m] = np.nan  # the break between the two signs
        return self._raw_tracker, self._env_tracker

    def _imu_times(self, n: int) -> np.ndarray:
        """The pelvis curve's times, s before now: made again only when the count changes."""
        if self._t_imu is None or self._t_imu.size != n:
            self._t_imu = (np.arange(n) - n + 1) / self.state.imu_fs_hz
        return self._t_imu

    def _cache_still_items(self) -> None:
        """Keep axes, texts (titles, labels, legend) and the zero lines as pixmaps.

        The curves change every frame, so the whole view is repainted every frame; without
        a cache each axis replays its tick labels glyph by glyph and each title re-lays out
        its text, about a fifth of a frame (benchmarks/ui_fps.py). A cached item is redrawn
        only when it changes itself (a new title, a pelvis scale step), and at device
        resolution, so it looks the same.
        """
        cache = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        for item in self.graphs.scene().items():
            if isinstance(item, pg.AxisItem) and item.orientation in ("bottom", "top"):
                # A cached item is clipped to its bounding rect, and a time axis' rect ends
                # where its line does: on a whole pixel the line's antialiased end would be
                # cut. A margin of a few pixels (which labels may also reach) keeps it whole.
                # (Vertical axes have 15 px already.)
                item.setStyle(hideOverlappingLabels=AXIS_END_MARGIN_PX)
            if isinstance(item, (pg.AxisItem, pg.InfiniteLine, QtWidgets.QGraphicsTextItem)):
                item.setCacheMode(cache)

    def _set_range(self, plot, lo: float, hi: float) -> None:
        """Set a plot's y range only when it changes (each set re-lays out its axis)."""
        if self._ranges.get(id(plot)) != (lo, hi):
            self._ranges[id(plot)] = (lo, hi)
            plot.setYRange(lo, hi, padding=0)

    def _show_bars(self, heights) -> None:
        """The bars, redrawn only when one would move by a pixel: pyqtgraph re-renders all
        of them on every change (benchmarks/ui_fps.py), and a still bar is still."""
        lo, hi = self._ranges[id(self.balance)]
        px = (hi - lo) / max(1.0, self.balance.getViewBox().height())
        shown = np.nan_to_num(np.asarray(heights, dtype=float))  # a gap's NaN: an empty bar
        if self._bar_heights is not None and self._bar_heights.shape == shown.shape \
                and np.all(np.abs(shown - self._bar_heights) < px):
            return
        self._bar_heights = shown
        self.bars.setOpts(height=shown)

    def _show_no_reference(self, calibrated: bool) -> None:
        for label in self.no_reference:
            if label.isVisible() != calibrated:
                label.setVisible(calibrated)

    def _percent_of_reference(self, now_uV):
        """The bars in % of each glute's reference once calibrated (other channels: 0,
        marked "no reference"), else None."""
        stats, names = self.state.stats, self.state.channel_names
        if stats.calibration is None or "glute_max_left" not in names or "glute_max_right" not in names:
            if self.balance.getAxis("left").labelText != "envelope":
                self.balance.setLabel("left", "envelope", units="µV")
            self._show_no_reference(False)
            return None
        self._show_no_reference(True)
        rows = names.index("glute_max_left"), names.index("glute_max_right")
        # The reference is an amplitude above rest: remove the latest rest seen before a
        # rep the same way (none before the first rep).
        rest = stats.rep_rest_uV[-1] if stats.rep_rest_uV else (0.0, 0.0)
        pct = np.zeros(len(names))
        for row, ref, r in zip(rows, stats.calibration.reference_uV, rest):
            pct[row] = 100.0 * above_rest(float(now_uV[row]), r) / ref
        if self.balance.getAxis("left").labelText != "% of reference":
            self.balance.setLabel("left", "% of reference")
        return pct

    def _show_big_numbers(self, now_uV, pct) -> None:
        """"L 41 % · R 12 % of reference" once calibrated, else µV: set only when a figure changes."""
        names = self.state.channel_names
        if "glute_max_left" not in names or "glute_max_right" not in names:
            return
        rows = names.index("glute_max_left"), names.index("glute_max_right")
        values = [pct[r] if pct is not None else now_uV[r] for r in rows]
        if not all(np.isfinite(v) for v in values):
            return
        unit = "%" if pct is not None else "µV"
        # "%" alone would read as %MVC: say of what (the calibration hold, not a maximum).
        text = f"L {values[0]:.0f} {unit}   ·   R {values[1]:.0f} {unit}"
        if pct is not None:
            text += "   of reference"
        now_s = time.monotonic()
        # Figures read at a glance need not change 60 times a second (nor re-lay out the label).
        if text != self._big_text and now_s - self._big_at_s >= BIG_NUMBERS_EVERY_S:
            self._big_at_s = now_s
            self._big_text = text
            self.big_numbers.setText(text)

    def _show_notice(self, notice) -> None:
        """The banner: the notice and the stream time it came at; set only when it changes."""
        if notice is self._notice:
            return
        self._notice = notice
        if notice is None:
            self.notice_banner.setVisible(False)
            return
        fg, bg = NOTICE_STYLES[notice.kind]
        self.notice_banner.setStyleSheet(f"color: {fg}; background-color: {bg}; padding: 6px 12px;"
                                         " border-radius: 6px")
        self.notice_banner.setText(f"{notice.text}  · at {stream_clock(notice.t_s)}")
        self.notice_banner.setVisible(True)

    def _show_target(self, band) -> None:
        if band == self._target:
            return
        self._target = band
        if band is not None:
            self.target.setRegion(band)
        self.target.setVisible(band is not None)

    def shutdown(self) -> None:
        """Stop redrawing and close."""
        self.timer.stop()
        self.close()


def display_rate_hz(widget: QtWidgets.QWidget) -> float:
    """The refresh rate of the screen the widget is on, Hz (`DEFAULT_DISPLAY_HZ` when the
    platform gives none or one outside `DISPLAY_HZ_RANGE`)."""
    screen = widget.screen() or QtWidgets.QApplication.primaryScreen()
    rate = float(screen.refreshRate()) if screen is not None else 0.0
    lo, hi = DISPLAY_HZ_RANGE
    return rate if lo <= rate <= hi else DEFAULT_DISPLAY_HZ


def grab_png(widget: QtWidgets.QWidget, path) -> bool:
    """Save what the widget shows now; works offscreen."""
    return widget.grab().save(str(path))
