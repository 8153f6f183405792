"""Run protocols in the live window on the virtual wearable, one body-model person each,
and print what each results screen showed: one JSON line per case.

``python results_screens_driver.py OUT_DIR CASES_JSON`` (tests/e2e/test_results_screens.py
runs it once for all its cases: one process, one Qt application, one wearable at a time).
Each case: {"id", "protocol", "person": simulate() keywords, "channels": the body's rows
(optional), "calibrated": start from the body model's truth as the reference}.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

SPEEDS = (4.0, 2.0)
"""The virtual clock, times real time: 4x stays lossless on two busy cores with the
window drawing (6x loses samples there); a run that lost samples anyway (the machine
busier still) is run again at 2x, since what the screen shows of a lossy link is
another test's matter (tests/e2e/test_dropouts.py)."""


def main(argv) -> int:
    from glutescope.virtual.coached import coach, person
    from glutescope.virtual.rehearsal import truth_calibration

    out = Path(argv[0])
    for case in json.loads(argv[1]):
        body = person(case["protocol"], channels=case.get("channels"), **case["person"])
        calibration = truth_calibration(body) if case.get("calibrated") else None
        started = time.monotonic()
        for speed in SPEEDS:
            record = out / f"{case['id']}.glutes"
            if record.exists():
                shutil.rmtree(record)
            shown = coach(case["protocol"], body, speed=speed, calibration=calibration, record=record,
                          results_png=out / f"{case['id']}-results.png")
            if shown.missing_samples == 0:
                break
        print(json.dumps({"id": case["id"], "speed": speed, "headline": shown.headline, "findings": shown.findings,
                          "missing_samples": shown.missing_samples, "wall_s": round(time.monotonic() - started, 1),
                          "terminal": shown.terminal,
                          "results_png": str(shown.results_png) if shown.results_png else None}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
