"""Offscreen: each protocol on a body-model person of known truth, as the window and the
results screen show it."""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
    ("desk", dict(seed=1), ["sat 0.0 min", "wake-up 0/3 squeezes"]),
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
