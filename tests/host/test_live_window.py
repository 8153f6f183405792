"""The live demo as a user without a display runs it: offscreen, screenshot, summary."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def read_png(path):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtGui

    pg.mkQApp()  # image plugins need an application object
    image = QtGui.QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    buf = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return buf.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].reshape(
        image.height(), image.width(), 3).copy()  # own the pixels before the QImage goes


def test_headless_demo_streams_saves_a_screenshot_and_reports_the_left_right_ratio(tmp_path):
    shot = tmp_path / "demo.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "-m", "glutescope", "demo", "--duration", "12", "--speed", "2",
         "--screenshot", str(shot)],
        capture_output=True, text=True, env=env, timeout=240)
    # A clean exit: no traceback, no abort while Qt and Python shut down.
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "lost 0, corrupt 0" in out
    # The body model's left side is 30 % weaker; uncalibrated, the summary says which
    # channel reads higher and that this is not a muscle finding.
    assert "the right channel reads" in out and "not normalised - depends on electrodes" in out
    assert "glute louder" not in out
    assert f"screenshot of the live window saved to {shot}" in out

    pixels = read_png(shot)
    assert pixels.shape[0] >= 500 and pixels.shape[1] >= 900
    # Both sides' traces are drawn in their colours (left blue, right orange).
    blue = np.all(np.abs(pixels.astype(int) - (66, 135, 245)) < 30, axis=-1).sum()
    orange = np.all(np.abs(pixels.astype(int) - (245, 130, 48)) < 30, axis=-1).sum()
    assert blue > 2000 and orange > 2000


def test_once_calibrated_the_bars_are_in_percent_of_each_sides_reference():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    from glutescope.calibration import Calibration
    from glutescope.live import LiveProcessor
    from glutescope.ui.live_window import LiveWindow
    from glutesignal.simulation import simulate

    pg.mkQApp()
    names = ("glute_max_left", "glute_max_right")
    session = simulate("bridges", seed=0, duration_s=5.0, electrode_gain=(1.0, 1.4))
    cal = Calibration((200.0, 280.0), ((200.0,), (280.0,)), (float("nan"),) * 2, (True, True))
    live = LiveProcessor(names, session.emg_fs_hz, 0.0, calibration=cal)
    assert live.state.stats.calibration_note.startswith("calibration: left 200 µV")
    for a in range(0, session.emg_uV.shape[1], 40):
        live.push_emg(a, session.emg_uV[:, a:a + 40])
    window = LiveWindow(live.state, title="test")
    try:
        window.redraw()
        now = live.state.envelope.latest(int(0.2 * session.emg_fs_hz)).mean(axis=1)
        heights = window.bars.opts["height"]
        np.testing.assert_allclose(heights, 100.0 * now / np.array(cal.reference_uV), rtol=1e-6)
        assert window.balance.getAxis("left").labelText == "% of reference"
        assert window.scores_label.text().startswith("Calibration: left 200 µV")  # the verdict is shown
    finally:
        window.shutdown()
