"""What the live window draws is what the buffers hold: per-column extremes of the raw
trace, the envelope on both signs, and scales that move in steps, not every frame."""
import os

import numpy as np
import pytest

from glutescope.ui.live_window import stepped_span, stepped_top

CHANNELS = ("glute_max_left", "glute_max_right", "glute_med_left", "hamstring_left")


@pytest.fixture
def window():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from glutescope.live import LiveProcessor
    from glutescope.ui.live_window import LiveWindow
    from glutesignal.simulation import simulate

    app = pg.mkQApp()
    body = simulate("bridges", seed=1, channels=CHANNELS, duration_s=12.0)
    live = LiveProcessor(CHANNELS, body.emg_fs_hz, body.imu_fs_hz)
    ratio = body.emg_fs_hz / body.imu_fs_hz
    j = 0
    for a in range(0, body.emg_uV.shape[1] - 40, 40):
        k = int((a + 40) / ratio)
        if k > j:
            live.push_imu(j, body.acc_g[:, j:k], body.gyro_dps[:, j:k])
            j = k
        live.push_emg(a, body.emg_uV[:, a:a + 40])
    w = LiveWindow(live.state, "test", display_s=10.0)
    w.resize(1280, 800)
    w.show()
    app.processEvents()
    w.redraw()
    yield w
    w.shutdown()


def brute_columns(stream, n_columns, per):
    """Min and max of each column of ``per`` samples fixed in stream time, the newest
    (still filling) last, by plain Python slicing of the whole stream."""
    end = stream.shape[-1]
    c_end = end // per
    lows, highs = [], []
    for c in range(c_end - n_columns, c_end + 1):
        col = stream[max(0, c * per):min(end, (c + 1) * per)]
        lows.append(col.min() if col.size else np.nan)
        highs.append(col.max() if col.size else np.nan)
    return np.array(lows), np.array(highs)


def test_raw_and_envelope_curves_hold_each_columns_extremes(window):
    state = window.state
    end = state.emg.write_index
    assert end < state.emg.capacity  # the whole stream is still held: the brute force sees it all
    raw = state.emg.latest(end)
    env = state.envelope.latest(end)
    for ch in range(state.n_channels):
        x, y = window.raw_curves[ch].getData()
        n_columns = y.size // 2 - 1
        per = round((x[2] - x[0]) * state.emg_fs_hz)
        # About one column per pixel, and the columns span the whole window.
        assert 0.8 * window.first_plot.getViewBox().width() < n_columns <= window.first_plot.getViewBox().width()
        assert n_columns * per >= window.display_s * state.emg_fs_hz - per
        low, high = brute_columns(raw[ch], n_columns, per)
        np.testing.assert_array_equal(y[0::2], low)
        np.testing.assert_array_equal(y[1::2], high)
        # Each column's stroke starts at its first sample; the newest sample is t = 0.
        first = ((end // per - n_columns + np.arange(n_columns + 1)) * per - (end - 1)) / state.emg_fs_hz
        np.testing.assert_allclose(x[0::2], first)
        np.testing.assert_array_equal(x[0::2], x[1::2])
        assert x[-1] <= 1 / state.emg_fs_hz and x[0] <= -window.display_s + per / state.emg_fs_hz
        # The envelope: every column's peak on the positive side, then a break, then
        # mirrored; smooth, so its columns are a few pixels wide.
        ex, ey = window.env_curves[ch].getData()
        m = (ey.size - 1) // 2
        env_columns, env_per = m - 1, round((ex[1] - ex[0]) * state.emg_fs_hz)
        assert ey.size == 2 * m + 1 and np.isnan(ey[m])
        assert env_per == -(-int(window.display_s * state.emg_fs_hz) // int(window.first_plot.getViewBox().width() / 3))
        assert env_columns * env_per >= window.display_s * state.emg_fs_hz - env_per
        _, env_high = brute_columns(env[ch], env_columns, env_per)
        np.testing.assert_array_equal(ey[:m], env_high)
        np.testing.assert_array_equal(ey[m + 1:], -env_high)
        np.testing.assert_array_equal(ex[:m], ex[m + 1:])
        env_first = ((end // env_per - env_columns + np.arange(m)) * env_per - (end - 1)) / state.emg_fs_hz
        np.testing.assert_allclose(ex[:m], env_first)


def test_the_pelvis_scale_shows_every_angle_and_holds_still_within_a_step(window):
    state = window.state
    angles = state.pelvis.latest(int(window.display_s * state.imu_fs_hz))[:2]
    lo, hi = window.pelvis_plot.getViewBox().viewRange()[1]
    assert lo <= np.nanmin(angles) and np.nanmax(angles) <= hi
    assert lo % 5 == 0 and hi % 5 == 0
    window.redraw()
    assert window.pelvis_plot.getViewBox().viewRange()[1] == [lo, hi]


def test_scales_move_in_whole_steps():
    assert stepped_top(120.0, 300.0, 50.0) == 300.0
    assert stepped_top(301.0, 300.0, 50.0) == 350.0
    assert stepped_top(349.0, 300.0, 50.0) == 350.0
    assert stepped_top(float("nan"), 100.0, 25.0) == 100.0
    assert stepped_span(-3.2, 7.9, 5.0) == (-5.0, 10.0)
    assert stepped_span(12.0, 12.5, 5.0) == (5.0, 15.0)  # a flat trace: a step either side


def test_the_cached_axes_and_texts_look_as_drawn_directly(window):
    from pyqtgraph.Qt import QtWidgets

    def pixels():
        image = window.graphs.grab().toImage()
        return np.array([[image.pixel(x, y) for x in range(0, image.width(), 3)]
                         for y in range(0, image.height(), 3)])

    cached = [item for item in window.graphs.scene().items()
              if item.cacheMode() != QtWidgets.QGraphicsItem.CacheMode.NoCache]
    assert len(cached) > 20  # every axis, title, label and zero line
    with_cache = pixels()
    for item in cached:
        item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
    direct = pixels()
    np.testing.assert_array_equal(with_cache, direct)  # pixel for pixel


def scene_points(curve):
    """The curve's drawn points (finite ones) in scene coordinates."""
    from pyqtgraph.Qt import QtCore

    x, y = curve.getData()
    if x is None:
        return []
    keep = np.isfinite(x) & np.isfinite(y)
    return [curve.mapToScene(QtCore.QPointF(float(a), float(b))) for a, b in zip(x[keep], y[keep])]


def test_the_pelvis_legend_never_covers_its_traces():
    # A bridges session drawn every half second of stream: the tilt swings from level to
    # a bridge and back, so over the session the traces reach every height of the plot.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from glutescope.live import LiveProcessor
    from glutescope.ui.live_window import LiveWindow
    from glutesignal.simulation import simulate

    app = pg.mkQApp()
    body = simulate("bridges", seed=2, duration_s=24.0)
    live = LiveProcessor(body.channels, body.emg_fs_hz, body.imu_fs_hz)
    w = LiveWindow(live.state, "test")
    w.show()
    app.processEvents()
    legend = w.pelvis_legend
    assert [label.text for _, label in legend.items] == ["tilt (anterior +)", "obliquity (hip drop)"]
    ratio = body.emg_fs_hz / body.imu_fs_hz
    j, checked = 0, 0
    try:
        for a in range(0, body.emg_uV.shape[1] - 40, 40):
            k = int((a + 40) / ratio)
            if k > j:
                live.push_imu(j, body.acc_g[:, j:k], body.gyro_dps[:, j:k])
                j = k
            live.push_emg(a, body.emg_uV[:, a:a + 40])
            if (a + 40) % 1000 == 0:  # every 0.5 s of stream
                w.redraw()
                app.processEvents()
                box = legend.sceneBoundingRect()
                assert legend.isVisible() and box.width() > 50
                for curve in w.pelvis_curves:
                    inside = [p for p in scene_points(curve) if box.contains(p)]
                    assert not inside, f"at {(a + 40) / body.emg_fs_hz:.1f} s the legend covers the trace"
                    checked += 1
    finally:
        w.shutdown()
    assert checked > 80


def test_every_trace_plot_puts_the_same_time_at_the_same_x(window):
    # The pelvis and the EMG share the time axis: a rep's burst and its tilt line up.
    from pyqtgraph.Qt import QtCore, QtWidgets

    QtWidgets.QApplication.processEvents()  # the axes as laid out for the values drawn
    plots = window.plots + [window.pelvis_plot]
    for t_s in (-window.display_s, -window.display_s / 2, 0.0):
        xs = [p.getViewBox().mapViewToScene(QtCore.QPointF(t_s, 0.0)).x() for p in plots]
        assert max(xs) - min(xs) < 1.0, xs


def test_every_drawn_point_lies_in_the_box_its_curve_reports(window):
    # The window states each curve's box itself (Qt skips painting an item whose box
    # misses the exposed area): a box short of the data would cut a trace off.
    curves = list(window.raw_curves) + list(window.env_curves) + list(window.pelvis_curves)
    for curve in curves:
        x, y = curve.getData()
        finite = np.isfinite(x) & np.isfinite(y)
        assert finite.sum() > 100
        box = curve.boundingRect()
        assert box.width() > 0 and box.height() > 0
        assert np.all(x[finite] >= box.left() - 1e-9) and np.all(x[finite] <= box.right() + 1e-9)
        assert np.all(y[finite] >= box.top() - 1e-6) and np.all(y[finite] <= box.bottom() + 1e-6)
        lo, hi = curve.dataBounds(1)
        assert lo <= float(np.min(y[finite])) and hi >= float(np.max(y[finite]))


def test_a_flat_trace_still_has_a_box_to_paint_in():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from glutescope.ui.live_window import TraceCurve

    pg.mkQApp()
    curve = TraceCurve()
    curve.set_trace(np.linspace(-10, 0, 50), np.zeros(50), (-10.0, 0.0), (0.0, 0.0))
    assert not curve.boundingRect().isEmpty()
    curve.set_trace(np.linspace(-10, 0, 50), np.full(50, np.nan), (-10.0, 0.0), (np.nan, np.nan))
    assert not curve.boundingRect().isEmpty()  # a gap over the whole window: nothing drawn, no error


def test_the_bars_follow_a_pixel_of_change_and_hold_still_below_it(window):
    lo, hi = window._ranges[id(window.balance)]
    px = (hi - lo) / window.balance.getViewBox().height()
    before = np.array(window.bars.opts["height"], dtype=float)
    window._show_bars(before + 0.4 * px)  # less than a pixel: the same picture
    np.testing.assert_array_equal(window.bars.opts["height"], before)
    moved = before.copy()
    moved[1] += 3 * px
    window._show_bars(moved)
    np.testing.assert_allclose(window.bars.opts["height"], moved)


def test_frames_come_at_the_screens_rate_in_whole_ms_intervals(window, monkeypatch):
    from glutescope.ui import live_window

    assert window.frame_s == pytest.approx(1 / 60)  # offscreen reports no rate: 60 Hz
    clock = [100.0]
    monkeypatch.setattr(live_window.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(window, "redraw", lambda: None)
    window._due_s = None
    intervals = []
    for _ in range(600):  # ten seconds of frames, each tick when the timer fires
        window._next_frame()
        intervals.append(window.timer.interval())
        clock[0] += intervals[-1] / 1000
    assert set(intervals) <= {16, 17}
    assert sum(intervals) / 1000 == pytest.approx(600 / 60, abs=0.002)  # 60 frames a second
    clock[0] += 0.5  # a stall: the next frames are timed from now, not bunched to catch up
    window._next_frame()
    assert window.timer.interval() in (16, 17)
