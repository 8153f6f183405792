"""The desk protocol's notices reach the person: the window's banner, the reminder call,
the headless terminal; driven by body-model people at a desk, with a short reminder
period standing in for the hour."""
import io
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from glutescope.live import LiveStats  # noqa: E402
from glutescope.protocols.runner import Notice  # noqa: E402
from glutescope.sound import (CUE_NOTES_HZ, REMINDER_NOTE_S, REMINDER_NOTES_HZ, LiveTone,  # noqa: E402
                              SAMPLE_RATE_HZ)
from glutescope.virtual.rehearsal import rehearse  # noqa: E402

REMIND_S = 20.0


@pytest.fixture(scope="module")
def app():
    import pyqtgraph as pg

    return pg.mkQApp()


@pytest.fixture(scope="module")
def desk_day(app, tmp_path_factory):
    """Sit 50 s, wake up, sit 30 s, wake up, a reminder after each 20 s of sitting, the
    window open and redrawn twice a second of stream; (runner, body, [(t_s, banner shown,
    banner text)], screenshot path)."""
    from glutescope.ui.live_window import LiveWindow, grab_png

    windows, seen = [], []
    shot = tmp_path_factory.mktemp("desk") / "desk_reminder.png"

    def prepare(proc):
        window = LiveWindow(proc.state, title="test")
        window.timer.stop()  # redrawn here, on the stream clock, instead of on wall time
        window.show()
        windows.append(window)

    next_draw = [0.0]

    def on_block(t_s):
        if t_s >= next_draw[0]:
            w = windows[0]
            w.redraw()
            seen.append((t_s, w.notice_banner.isVisible(), w.notice_banner.text()))
            if not shot.exists() and w.notice_banner.isVisible():
                app.processEvents()  # lay the banner out before the picture
                grab_png(w, shot)
            next_draw[0] += 0.5

    runner, _, body = rehearse("desk", seed=2, sitting_s=(50.0, 30.0), remind_every_s=REMIND_S,
                               prepare=prepare, on_block=on_block)
    geometry = {name: getattr(windows[0], name).geometry() for name in
                ("notice_banner", "readout", "cue_label", "big_numbers", "graphs")}
    banner = windows[0].notice_banner
    fits = banner.height() >= banner.heightForWidth(banner.width())
    windows[0].shutdown()
    return runner, body, seen, shot, geometry, fits


def texts_between(seen, start_s, end_s):
    return [text for t, shown, text in seen if start_s <= t < end_s and shown]


def test_the_banner_shows_each_reminder_until_its_wake_up_is_scored(desk_day):
    runner, body, seen, _, _, _ = desk_day
    reminders = runner.results.figures["reminders"]
    wake = runner.results.figures["wake_ups"]
    assert len(reminders) == 3 and [w["done"] for w in wake] == [False, True, True]
    # Nothing to say before the first reminder.
    assert not any(shown for t, shown, _ in seen if t < reminders[0])
    # The first reminder, within a redraw of it, with the stream time it came at.
    first = texts_between(seen, reminders[0] + 0.6, reminders[1])
    m, s = divmod(int(round(reminders[0])), 60)
    assert first and all(t == (f"Time to move: {REMIND_S:.0f} s sitting. Stand up: squeeze BOTH glutes for 30 s, "
                               f"or do 10 bridges  · at 0:{m:02d}:{s:02d}") for t in first), first
    # The second reminder comes before the first was done: the screen keeps asking for
    # the wake-up (the first one's "not done" does not replace it) until it is done.
    second = texts_between(seen, reminders[1] + 0.6, wake[1]["at_s"])
    assert second and all(t.startswith("Time to move") and "Wake-up" not in t for t in second)
    # The squeeze after standing up: its score, until the next reminder.
    scored = texts_between(seen, wake[1]["at_s"] + 0.6, reminders[2])
    assert scored and all(t.startswith("Wake-up done: 100/100 (") for t in scored), scored
    # The last wake-up, scored on the spot, stays up to the end.
    assert seen[-1][1] and seen[-1][2].startswith("Wake-up done: 100/100")


def test_every_notice_is_kept_in_order_with_the_one_the_screen_skips(desk_day):
    runner, _, _, _, _, _ = desk_day
    kinds = [n.kind for n in runner.notices]
    assert kinds == ["reminder", "reminder", "wake_up_not_done", "wake_up_done", "reminder", "wake_up_done"]
    assert [n.t_s for n in runner.notices] == sorted(n.t_s for n in runner.notices)
    assert runner.notice == runner.notices[-1]


def test_the_banner_is_on_top_of_the_window_and_overlaps_nothing(desk_day):
    _, _, _, shot, geometry, fits = desk_day
    banner = geometry.pop("notice_banner")
    assert banner.top() < min(g.top() for g in geometry.values())
    assert not any(banner.intersects(g) for g in geometry.values())
    assert fits  # tall enough for its wrapped lines: nothing cut off
    assert shot.stat().st_size > 10_000


def dominant_hz(x, fs):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.fft.rfftfreq(x.size, 1.0 / fs)[int(np.argmax(spectrum))]


def test_a_reminder_sounds_its_own_call_and_a_score_does_not():
    tone = LiveTone()
    silent = LiveStats()
    tone.block(silent, 0.0, 0.0, 0.1)
    reminder = Notice(25.0, "Time to move", "reminder")
    x = tone.block(LiveStats(notices=(reminder,)), 0.0, 0.0, 1.0)  # no activation: the call alone
    n = int(REMINDER_NOTE_S * SAMPLE_RATE_HZ)
    heard = [dominant_hz(x[i * n + n // 8:(i + 1) * n - n // 8].sum(axis=1), SAMPLE_RATE_HZ)
             for i in range(len(REMINDER_NOTES_HZ))]
    assert heard == pytest.approx(REMINDER_NOTES_HZ, abs=5)
    assert not set(np.round(heard)) & set(CUE_NOTES_HZ)  # not the step chime
    assert not np.any(x[len(REMINDER_NOTES_HZ) * n + 10:])  # and then quiet again
    # Said once: the same notices next block, or a wake-up's score, make no sound.
    assert not np.any(tone.block(LiveStats(notices=(reminder,)), 0.0, 0.0, 0.5))
    score = Notice(70.0, "Wake-up done: 100/100", "wake_up_done")
    assert not np.any(tone.block(LiveStats(notices=(reminder, score)), 0.0, 0.0, 0.5))


@pytest.mark.slow
def test_headless_each_notice_is_printed_with_its_stream_time(app, tmp_path):
    from glutescope.cli import Environment
    from glutescope.protocols import get
    from glutescope.protocols.runner import runner_for, stream_clock
    from glutescope.session import LiveSession, SessionOptions
    from glutescope.ui.runner import run_live
    from glutesignal.simulation import simulate

    remind_s = 15.0  # once in 25 s of sitting
    script = simulate("desk", emg_fs_hz=200.0, mains_hz=None, seed=4, sitting_s=(25.0,))
    end_s = runner_for(get("desk"), script).end_s + get("desk").settle_s + 2.0
    body = simulate("desk", seed=4, sitting_s=(25.0,), duration_s=end_s)
    session = LiveSession(SessionOptions(protocol="desk", body=body, remind_every_s=remind_s, speed=3.0))
    out, err = io.StringIO(), io.StringIO()
    run_live(session, headless=True, duration_s=None, screenshot=tmp_path / "live.png",
             env=Environment(stdout=out, stderr=err, environ=dict(os.environ)))
    lines = out.getvalue().splitlines()
    runner = session.runner
    assert [n.kind for n in runner.notices] == ["reminder", "wake_up_done"], out.getvalue()
    printed = [ln for ln in lines if "Time to move" in ln or "Wake-up done" in ln]
    assert printed == [f"glutescope: {stream_clock(n.t_s)} {n.text}" for n in runner.notices]
    (seated,) = body.sitting
    assert runner.notices[0].t_s == pytest.approx(seated.start_s - 1.0 + remind_s, abs=1.0)
    # Each as it came: before the results.
    assert lines.index(printed[-1]) < next(i for i, ln in enumerate(lines) if "Desk wake-up call results" in ln)
