"""Offscreen: each protocol on a body-model person of known truth, as the window and the
results screen show it."""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from glutescope.protocols import get  # noqa: E402
from glutescope.virtual.rehearsal import rehearse  # noqa: E402


@pytest.fixture(scope="module")
def app():
    import pyqtgraph as pg

    return pg.mkQApp()


def screens(name, **kw):
    """Run the protocol with the live window open; return (cue lines seen, results screen text)."""
    from glutescope.ui.live_window import LiveWindow
    from glutescope.ui.results_view import ResultsView

    windows, cues = [], []

    def prepare(proc):
        windows.append(LiveWindow(proc.state, title="test"))

    next_draw = [0.0]

    def on_block(t_s):
        if t_s >= next_draw[0]:  # the window redraws on its timer; here once a second of stream
            windows[0].redraw()
            cues.append(windows[0].cue_label.text())
            next_draw[0] += 1.0

    runner, proc, body = rehearse(name, prepare=prepare, on_block=on_block, **kw)
    window = windows[0]
    try:
        assert runner.results is not None
        view = ResultsView(runner.results)
        text = view.text()
        view.close()
    finally:
        window.shutdown()
    return cues, text


@pytest.mark.parametrize("name, kw, shown", [
    ("bridges", dict(seed=3), ["10 reps · LEFT glute weaker", "Time under tension"]),
    ("bridges", dict(seed=4, left_scale=1.0), ["10 reps · no clear difference"]),
    ("single_leg_bridges", dict(seed=2), ["LEFT glute weaker", "hip drop on LEFT-leg reps",
                                         "Hip drop on RIGHT-leg reps: up to"]),
    ("squeeze_test", dict(seed=1, calibrated=False), ["The LEFT side is weaker"]),
    ("medius", dict(seed=1, left_scale=0.5), ["Hip drop standing on the LEFT leg", "Trendelenburg sign"]),
    ("medius", dict(seed=1, left_scale=1.0), ["No hip drop flagged"]),
    ("recruitment", dict(seed=1), ["Glute-led", "Glute-to-hamstring ratio"]),
    ("recruitment", dict(seed=1, rows=(2, 1, 0)), ["The hamstring takes over"]),
    ("desk", dict(seed=1), ["sat 0.5 min", "wake-ups 1/1 done", "Sitting: 0.5 min in 1 period"]),
    ("calibration", dict(seed=1, calibrated=False), ["Calibrated: both sides repeatable", "mean of 3 holds"]),
])
def test_the_results_screen_shows_the_truth(app, name, kw, shown):
    cues, text = screens(name, **kw)
    for words in shown:
        assert words in text, text
    # While it ran, the headline was always the step in force, with its time left.
    assert any(" s" in c and c.strip() for c in cues)
    assert not any(c == "" for c in cues)


def test_the_step_headline_follows_the_protocol(app):
    cues, _ = screens("squeeze_test", seed=1, calibrated=False)
    assert cues[0].startswith("Relax, stand still")
    assert any(c.startswith("Squeeze the RIGHT cheek only") for c in cues)
    assert any(c.startswith("Squeeze the LEFT cheek only") for c in cues)
    assert cues[-1] == "Standing squeeze test: done"


def test_big_figures_show_each_glute_in_percent_of_its_reference(app):
    from glutescope.ui.live_window import LiveWindow

    seen = []

    def prepare(proc):
        seen.append(LiveWindow(proc.state, title="test"))

    def on_block(t_s):
        if 4.0 <= t_s < 4.02:  # the first bridge's hold
            seen[0].redraw()
            seen.append(seen[0].big_numbers.text())

    rehearse("bridges", seed=3, prepare=prepare, on_block=on_block)
    seen[0].shutdown()
    left, right = (float(part.split()[1]) for part in seen[1].split("·"))
    assert seen[1].startswith("L ") and "%" in seen[1]
    # Truth at the hold: the right glute at 45 %MVC = 50 % of its 90 %MVC reference, the left at 70 % of that.
    assert right == pytest.approx(50, abs=12) and left == pytest.approx(35, abs=10)


def readouts(name, **kw):
    """The window's top line once a second of stream, with the step in force then."""
    from glutescope.ui.live_window import LiveWindow

    windows, seen = [], []

    def prepare(proc):
        windows.append(LiveWindow(proc.state, title="test"))

    def on_block(t_s):
        if t_s % 1.0 < 0.02:
            windows[0].redraw()
            step = windows[0].state.stats.step
            seen.append((step.step.scored if step is not None else None, windows[0].readout.text()))

    rehearse(name, prepare=prepare, on_block=on_block, **kw)
    windows[0].shutdown()
    return seen


@pytest.mark.parametrize("name", ["squeeze_test", "calibration"])
def test_a_protocol_without_reps_never_waits_for_one(app, name):
    seen = readouts(name, seed=1, calibrated=False)
    assert len(seen) > 20 and all(text.startswith(get(name).title) for _, text in seen)
    assert seen[-1][0] is None  # it ran to its end
    assert not any("waiting for a rep" in text for _, text in seen)


def test_bridges_wait_for_the_first_rep_in_its_step_only(app):
    seen = readouts("bridges", seed=3)
    waiting = [scored for scored, text in seen if "waiting for a rep" in text]
    assert waiting and set(waiting) == {"reps"}  # in the first bridge, before its rep is found
    assert "RIGHT glute works harder" in seen[-1][1]


def test_a_channel_without_a_reference_says_so_once_calibrated(app):
    from glutescope.ui.live_window import LiveWindow

    windows, states = [], []

    def prepare(proc):
        windows.append(LiveWindow(proc.state, title="test"))

    def on_block(t_s):
        if abs(t_s - 4.0) < 0.01:  # the first rep's hold
            windows[0].redraw()
            states.append([label.isVisible() for label in windows[0].no_reference])
            states.append(list(windows[0].bars.opts["height"]))

    for calibrated in (True, False):
        windows.clear()
        rehearse("recruitment", seed=1, calibrated=calibrated, prepare=prepare, on_block=on_block)
        windows[0].shutdown()
    (shown_cal, heights_cal), (shown_raw, heights_raw) = states[:2], states[2:]
    names = get("recruitment").channels
    ham = names.index("hamstring_left")
    # Calibrated: % of reference, and the hamstring has none: an empty slot that says so.
    assert shown_cal == [True] and heights_cal[ham] == 0
    # Not calibrated: every bar in µV, the hamstring's too, and nothing to explain.
    assert shown_raw == [False] and heights_raw[ham] > 0
