"""A body-model person coached through a protocol on the virtual wearable, in the live window.

This is ``glutescope live --protocol NAME`` as a person runs it (`glutescope.ui.runner.run_live`:
the firmware's own code on the virtual board, the software BLE link, the live window and
the results screen), with a body-model person of known truth in the place of the
default one. It reads what the results screen shows from its widgets and then dismisses
it with its Close button, as the person would, so the offscreen GUI tests and
``make screenshots`` see exactly what a person sees, through the radio link.
(`glutescope.virtual.rehearsal` feeds the body model straight into the live processor
instead: faster, but without the link.)
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

__all__ = ["person", "Shown", "coach"]

PAD_S = 2.0
"""Rest the person holds past the protocol's results, s (as `glutescope.session` pads)."""
POLL_MS = 50
"""How often the window is looked at for the moment to grab and for the results screen, ms."""


def person(name: str, *, seed: int = 1, channels=None, **body_kw):
    """The body-model person doing protocol ``name``, long enough for its results.

    ``body_kw`` go to `glutesignal.simulation.simulate` (left_scale, weaker_side,
    electrode_gain, ...): who the person is, hence the truth the results should show.
    ``channels``: the body's EMG rows, in the order the wearable's inputs carry them
    (default: the protocol's channel map), e.g. two rows swapped to plant an electrode
    swap.
    """
    from glutescope.protocols import get
    from glutescope.protocols.runner import runner_for
    from glutesignal.simulation import simulate

    protocol = get(name)
    channels = tuple(channels or protocol.channels)
    exercise = protocol.body_exercise or "rest"
    script = simulate(exercise, emg_fs_hz=200.0, mains_hz=None, seed=seed, channels=channels, **body_kw)
    end_s = runner_for(protocol, script).end_s
    return simulate(exercise, seed=seed, channels=channels, duration_s=end_s + protocol.settle_s + PAD_S,
                    **body_kw)


@dataclass(frozen=True)
class Shown:
    """What the run showed the person."""

    headline: str
    """The results screen's headline (None-free: '' when no results screen came)."""
    findings: str
    """The results screen's findings, one per line."""
    terminal: str
    """What the command printed (its summary lines)."""
    missing_samples: int
    """Samples the link lost that the live view never saw (0: a lossless run)."""
    live_png: Optional[Path] = None
    """The live window's grab, if one was asked for and taken."""
    results_png: Optional[Path] = None
    """The results screen as saved, if it was."""

    @property
    def text(self) -> str:
        return self.headline + "\n" + self.findings


def coach(name: str, body, *, speed: float = 4.0, calibration=None, channels=None,
          record: Optional[Path] = None, results_png: Optional[Path] = None,
          live_png: Optional[Path] = None, live_at_s: Optional[float] = None,
          timeout_s: Optional[float] = None) -> Shown:
    """Run protocol ``name`` on the virtual wearable playing ``body``, the live window open.

    Parameters
    ----------
    name : str
        The protocol (`glutescope.protocols.NAMES`).
    body : glutesignal.simulation.BodySession
        The person (`person`); the virtual wearable plays it through the firmware.
    speed : float
        The virtual wearable's clock, times real time (``--speed``).
    calibration : glutescope.calibration.Calibration, optional
        The per-side reference in use from the start (``--calibration``).
    channels : tuple of str, optional
        The channel map the host is told (``--channels``; default: the protocol's).
    record : Path, optional
        Also record the session here (``--record``).
    results_png, live_png : Path, optional
        Where to save the results screen, and a grab of the live window taken once
        ``live_at_s`` of stream has been drawn (default: the middle of the run).
    timeout_s : float, optional
        Wall time after which a run with no results screen yet is stopped, s (default:
        three times the body's length at ``speed``, plus a minute).

    Returns
    -------
    Shown
    """
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore

    from glutescope.cli import Environment
    from glutescope.protocols import get
    from glutescope.session import LiveSession, SessionOptions
    from glutescope.ui.live_window import LiveWindow, grab_png
    from glutescope.ui.results_view import ResultsView
    from glutescope.ui.runner import run_live

    channels = tuple(channels or get(name).channels)
    options = SessionOptions(protocol=name, body=body, seed=body.seed, speed=speed, calibration=calibration,
                             channel_names=channels, channel_mask=(1 << len(channels)) - 1,
                             record_path=record)
    app = pg.mkQApp("glutescope")
    live_at_s = 0.5 * body.duration_s if live_at_s is None else live_at_s
    seen: dict = {}

    def look() -> None:
        for widget in app.topLevelWidgets():
            if not widget.isVisible():
                continue
            if isinstance(widget, LiveWindow) and live_png is not None and "live" not in seen:
                stats = widget.state.stats
                if stats.samples / max(stats.emg_fs_hz, 1.0) >= live_at_s:
                    widget.redraw()
                    if grab_png(widget, live_png):
                        seen["live"] = live_png
            elif isinstance(widget, ResultsView) and "headline" not in seen:
                # What the screen shows, from its widgets; then Close, as the person does.
                seen["headline"] = widget.headline.text()
                seen["findings"] = widget.findings.text()
                widget.close_button.click()

    timer = QtCore.QTimer()
    timer.timeout.connect(look)
    timer.start(POLL_MS)
    out = io.StringIO()
    session = LiveSession(options)
    bound_s = timeout_s if timeout_s is not None else 3.0 * body.duration_s / speed + 60.0
    try:
        summary = run_live(session, headless=False, duration_s=bound_s, screenshot=Path(os.devnull),
                           env=Environment(stdout=out, environ=dict(os.environ)), results_png=results_png)
    finally:
        timer.stop()
    stats = session.state.stats if session.state is not None else None
    return Shown(seen.get("headline", ""), seen.get("findings", ""), out.getvalue(),
                 stats.missing_samples if stats is not None else 0, seen.get("live"), summary.results_png)
