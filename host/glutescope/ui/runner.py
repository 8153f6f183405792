"""Run a live session with its window, on screen or offscreen, and report what happened."""
from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from glutescope.exitcodes import CliError, ExitStatus


def _quiet_offscreen_hints(mode, context, message: str) -> None:
    # The offscreen platform warns about window-size hints it ignores; nobody can act
    # on that. Everything else Qt says still reaches stderr.
    if "propagateSizeHints" not in message:
        print(f"Qt: {message}", file=sys.stderr)


@dataclass(frozen=True)
class RunSummary:
    """What a live run ends with."""

    status: ExitStatus
    screenshot: Optional[Path]
    elapsed_s: float
    results_png: Optional[Path] = None
    """Where the protocol's results screen was saved (None: no results, or not saved)."""


def run_live(session, *, headless: bool, duration_s: Optional[float], screenshot: Path, env,
             results_png: Optional[Path] = None, sound: bool = False,
             sound_wav: Optional[Path] = None) -> RunSummary:
    """Start ``session``, show its window until closed or ``duration_s`` passes, stop it.

    Headless runs use Qt's offscreen platform, print each notice of the protocol (the
    desk's reminders, wake-up scores) as it comes, save ``screenshot`` at the end and
    print the session's summary, so the command says what it did without a screen.

    A session running a protocol ends on its results screen (`ResultsView`), saved to
    ``results_png`` when given: in the window it stays until dismissed (its button,
    Enter, Esc, Q or closing it); headless the run ends once it is saved.

    ``sound``: play the biofeedback tone (`glutescope.sound`) when Qt Multimedia is
    there, else say in one line why not; ``sound_wav``: also write the session's tone to
    this WAV (works without any sound output).
    """
    if headless:
        if not os.environ.get("QT_QPA_PLATFORM"):  # unset or empty: Qt would try xcb
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        from glutescope.ui.qtlibs import missing_libraries

        missing = missing_libraries(env.environ)
        if missing is not None:  # Qt would abort the interpreter without a word
            raise CliError(missing.message(), ExitStatus.ERROR)
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore, QtGui
    from tqdm import tqdm

    from glutescope.ui.live_window import LiveWindow, grab_png
    from glutescope.ui.results_view import ResultsView

    app = pg.mkQApp("glutescope")
    if headless:
        QtCore.qInstallMessageHandler(_quiet_offscreen_hints)
    print(f"glutescope: connecting to {session.source_description} …", file=env.stdout, flush=True)
    session.start()  # raises CliError with one clear line if the wearable cannot be reached
    stop_requests: list[str] = []  # how the person asked to stop, if they did

    def request_stop(how: str) -> None:
        stop_requests.append(how)
        app.quit()

    # Qt's event loop holds the interpreter: Python runs its SIGINT handler only when the
    # poll timer below hands it control, so the handler only asks the loop to quit.
    previous_sigint = signal.signal(signal.SIGINT, lambda *_: request_stop("Ctrl-C"))
    print(f"glutescope: streaming from {session.state.stats.link}", file=env.stdout, flush=True)
    window = LiveWindow(session.state, title=session.source_description)
    window.show()
    tone = None
    if sound or sound_wav is not None:
        from glutescope.sound import QtTonePlayer, SessionTone, player_available

        player = None
        if sound:
            why_not = player_available()
            if why_not is None:
                player = QtTonePlayer()
            else:
                print(f"glutescope: {why_not}", file=env.stdout)
        tone = SessionTone(session.state, player=player)
        tone_timer = QtCore.QTimer()
        tone_timer.timeout.connect(tone.tick)
        tone_timer.start(50)
    started = time.monotonic()
    progress = None
    if headless and duration_s is not None:
        progress = tqdm(total=round(duration_s), unit="s", desc="live (offscreen)", file=env.stderr,
                        disable=None, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} s")

    # Esc or Q in the window, Ctrl-C in the terminal, or closing the window: each ends the
    # session the same way, so a recording is always closed cleanly.
    for key in ("Esc", "Q"):
        shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), window)
        shortcut.activated.connect(lambda key=key: request_stop(f"{key} pressed"))
    window.stop_button.clicked.connect(lambda: request_stop("Stop button"))

    shown: list = []  # the results screen, once the protocol's results are in
    saved_results: list[Path] = []
    told = [0]  # notices printed so far (headless)

    def print_notices() -> None:
        """Headless, the protocol's notices (reminders, wake-up scores) reach the terminal,
        one line each with its stream time, as the window would show them."""
        notices = session.state.stats.notices
        for notice in notices[told[0]:]:
            print(f"glutescope: {notice.line()}", file=env.stdout, flush=True)
        told[0] = len(notices)

    def show_results() -> None:
        results = session.results
        view = ResultsView(results, subtitle=f"{session.source_description} · Enter, Esc or Q to close")
        view.dismissed.connect(lambda: request_stop("results dismissed"))
        view.show()
        shown.append(view)
        if results_png is not None and grab_png(view, results_png):
            saved_results.append(results_png)
        if headless:
            request_stop("results in")

    def tick() -> None:
        if headless:
            print_notices()
        if not shown and session.results is not None:
            window.redraw()
            show_results()
        elapsed = time.monotonic() - started
        if progress is not None:
            progress.update(min(round(elapsed), progress.total) - progress.n)
        if (stop_requests or session.failed or session.finished
                or (duration_s is not None and elapsed >= duration_s and not (shown and not headless))):
            app.quit()  # again for a stop asked before the loop ran: quit() then was lost

    poll = QtCore.QTimer()
    poll.timeout.connect(tick)
    poll.start(200)
    try:
        app.exec()
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
        poll.stop()
        if progress is not None:
            progress.close()
        window.redraw()
        saved = None
        if headless:
            saved = screenshot if grab_png(window, screenshot) else None
        if tone is not None:
            tone_timer.stop()
            tone.tick()
            if tone.player is not None:
                tone.player.close()
        window.shutdown()
        for view in shown:
            view.blockSignals(True)  # closing it now is the end, not a request to stop
            view.close()
        session.stop()
        if headless:
            print_notices()  # those that came since the last tick
    elapsed_s = time.monotonic() - started
    if stop_requests and stop_requests[0] != "results in":
        print(f"glutescope: stopped after {elapsed_s:.0f} s ({stop_requests[0]})", file=env.stdout)
    print(session.summary_text(), file=env.stdout)
    if saved is not None:
        print(f"glutescope: screenshot of the live window saved to {saved}", file=env.stdout)
    if saved_results:
        print(f"glutescope: results screen saved to {saved_results[0]}", file=env.stdout)
    if tone is not None and sound_wav is not None:
        tone.write(sound_wav)
        print(f"glutescope: the session's tone saved to {sound_wav}", file=env.stdout)
    if session.failed:
        raise CliError(str(session.error), session.error_status)
    return RunSummary(ExitStatus.OK, saved, elapsed_s, saved_results[0] if saved_results else None)
