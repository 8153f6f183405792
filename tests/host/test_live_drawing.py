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


def brute_columns(y, n_columns):
    """Min and max of each whole column of the newest samples, by plain Python slicing."""
    per = y.shape[-1] // n_columns
    start = y.shape[-1] - per * n_columns
    lows = [y[start + c * per:start + (c + 1) * per].min() for c in range(n_columns)]
    highs = [y[start + c * per:start + (c + 1) * per].max() for c in range(n_columns)]
    return np.array(lows), np.array(highs)


def test_raw_and_envelope_curves_hold_each_columns_extremes(window):
    state = window.state
    n = int(window.display_s * state.emg_fs_hz)
    raw = state.emg.latest(n)
    env = state.envelope.latest(n)
    for ch in range(state.n_channels):
        x, y = window.raw_curves[ch].getData()
        n_columns = y.size // 2
        assert 300 < n_columns <= window.first_plot.getViewBox().width()
        low, high = brute_columns(raw[ch], n_columns)
        np.testing.assert_array_equal(y[0::2], low)
        np.testing.assert_array_equal(y[1::2], high)
        # The newest column ends at t = 0 and the oldest reaches the window's left edge.
        assert -window.display_s <= x[0] < -window.display_s + 2 * window.display_s / n_columns
        assert -window.display_s / n_columns < x[-1] <= 0
        # The envelope: every column's peak on the positive side, then a break, then mirrored.
        ex, ey = window.env_curves[ch].getData()
        _, env_high = brute_columns(env[ch], n_columns)
        assert ey.size == 2 * n_columns + 1 and np.isnan(ey[n_columns])
        np.testing.assert_array_equal(ey[:n_columns], env_high)
        np.testing.assert_array_equal(ey[n_columns + 1:], -env_high)
        np.testing.assert_array_equal(ex[:n_columns], ex[n_columns + 1:])


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
