"""Screenshots of the live view and each protocol's results screen: ``make screenshots``.

Each one is a run of ``glutescope live`` on the virtual wearable (the firmware's code on
the virtual board, the software BLE link, the real window offscreen:
`glutescope.virtual.coached`), its virtual clock at 2x (lossless on a busy two-core
machine). The protocols' person is the body model's (seed 1: the left glute 30 % weaker),
started from the body model's truth as each glute's reference, as after a calibration
(the calibration protocol makes its own). Each live view is grabbed in the middle of the
protocol's third scored step, each results screen as it comes up. ``live.png`` is the
plain live scope (``glutescope demo``, not calibrated) ten seconds into its bridges.
A run that lost samples on the link says so, since its figures may then differ.

Usage: python docs/screenshots.py [OUTPUT_DIR]   (default: docs/img)
"""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SPEED = 2.0
SCOPE_WALL_S = 10.0
"""How long the plain live scope runs before its screenshot, s of wall time (at its
headless speed, 2x: ~20 s of stream, in the middle of its five bridges)."""


def scope_screenshot(path: Path) -> None:
    """The live scope without a protocol, as ``glutescope demo --headless`` saves it."""
    from glutescope.cli import Environment, main

    out = io.StringIO()
    env = Environment(stdout=out, stderr=io.StringIO(), environ={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    status = main(["demo", "--headless", "--duration", f"{SCOPE_WALL_S:g}", "--screenshot", str(path)], env=env)
    if status != 0 or not path.exists():
        raise SystemExit(f"the live scope's screenshot failed: {out.getvalue()}")


def main(argv) -> int:
    from glutescope.protocols import NAMES, get
    from glutescope.protocols.runner import runner_for
    from glutescope.virtual.coached import coach, person
    from glutescope.virtual.rehearsal import truth_calibration

    out = Path(argv[0]) if argv else Path(__file__).parent / "img"
    out.mkdir(parents=True, exist_ok=True)
    scope_screenshot(out / "live.png")
    print(f"live scope: {out / 'live.png'}")
    for name in NAMES:
        body = person(name, seed=1)
        scored = [s for s in runner_for(get(name), body).steps if s.step.scored != "nothing"]
        step = scored[min(2, len(scored) - 1)]
        shown = coach(name, body, speed=SPEED,
                      calibration=truth_calibration(body) if name != "calibration" else None,
                      live_png=out / f"live-{name}.png", live_at_s=step.start_s + 0.6 * (step.end_s - step.start_s),
                      results_png=out / f"results-{name}.png")
        if shown.live_png is None or shown.results_png is None:
            raise SystemExit(f"{name}: no screenshot (the run ended before it): {shown.terminal}")
        lost = f" ({shown.missing_samples} samples lost on the link)" if shown.missing_samples else ""
        print(f"{name}: {shown.headline}{lost}")
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
