"""Screenshots of the live view and each protocol's results screen: ``make screenshots``.

Each protocol is run offscreen on a body-model person (`glutescope.virtual.rehearsal`:
the live processor and the protocol runner, fed the body model's EMG and IMU on the
stream clock), calibrated from the body model's truth. The live view is grabbed in
the middle of the protocol's third scored step, the results screen at the end.

Usage: python docs/screenshots.py [OUTPUT_DIR]   (default: docs/img)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv) -> int:
    import pyqtgraph as pg

    from glutescope.protocols import NAMES
    from glutescope.ui.live_window import LiveWindow, grab_png
    from glutescope.ui.results_view import ResultsView
    from glutescope.virtual.rehearsal import rehearse

    out = Path(argv[0]) if argv else Path(__file__).parent / "img"
    out.mkdir(parents=True, exist_ok=True)
    pg.mkQApp("glutescope")
    for name in NAMES:
        window: list = []
        grab_at: list[float] = []

        def prepare(proc, window=window, grab_at=grab_at):
            window.append(LiveWindow(proc.state, title=f"{name} (body model)"))
            window[0].show()
            scored = [s for s in proc.runner.steps if s.step.scored != "nothing"]
            step = scored[min(2, len(scored) - 1)]
            grab_at.append(step.start_s + 0.6 * (step.end_s - step.start_s))

        def on_block(t_s, window=window, grab_at=grab_at, name=name):
            if grab_at and t_s >= grab_at[0]:
                grab_at.clear()
                window[0].redraw()
                pg.QtWidgets.QApplication.processEvents()  # a script, not the UI: lay out before the grab
                grab_png(window[0], out / f"live-{name}.png")

        # The calibration protocol makes its own reference; the others use the model's truth.
        runner, proc, _ = rehearse(name, seed=1, prepare=prepare, on_block=on_block,
                                   calibrated=name != "calibration")
        window[0].shutdown()
        view = ResultsView(runner.results, subtitle="body-model person, calibrated from the model's truth")
        view.show()
        pg.QtWidgets.QApplication.processEvents()
        grab_png(view, out / f"results-{name}.png")
        view.close()
        print(f"{name}: {runner.results.headline}")
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
