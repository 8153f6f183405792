"""Each protocol in the live window on the virtual wearable (the firmware's code, the
software BLE link, the real window offscreen), for body-model people of known truth:
what the results screen shows is that truth.

One process runs every case (results_screens_driver.py); the screen's text is read from
the results view's widgets, which the driver then closes with its Close button. The
truth comes from the body model's script (activation, pelvis angles, reps), never from
what the host computed.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glutescope.protocols import get
from glutescope.protocols.recruitment import RATIO_GLUTE_LED
from glutescope.protocols.results import HIP_DROP_FLAG_DEG
from glutesignal.simulation import simulate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NO_CLEAR_PCT = 10.0
"""The symmetry band inside which the screen says "no clear difference", % (verdicts.py)."""

CASES = [
    # Two-legged bridges: a 30 % weaker left glute, then a 40 % stronger one.
    dict(id="bridges-left", protocol="bridges", person=dict(seed=3, left_scale=0.7), calibrated=True),
    dict(id="bridges-right", protocol="bridges", person=dict(seed=5, left_scale=1.4), calibrated=True),
    # Single-leg: the weak left lets the right hip drop ~10° on its reps; then an even person.
    dict(id="single-leg-left", protocol="single_leg_bridges", person=dict(seed=2, left_scale=0.5), calibrated=True),
    dict(id="single-leg-equal", protocol="single_leg_bridges", person=dict(seed=4, left_scale=1.0),
         calibrated=True),
    dict(id="squeeze-right", protocol="squeeze_test", person=dict(seed=1, left_scale=0.6, weaker_side="right")),
    # Gluteus medius: a weak left (Trendelenburg standing on it, the right stance level).
    dict(id="medius-left", protocol="medius", person=dict(seed=1, left_scale=0.5), calibrated=True),
    dict(id="recruitment-glute", protocol="recruitment", person=dict(seed=1)),
    # The hamstring doing the glute's share: the body's left glute and hamstring rows
    # trade places, so the input read as the glute carries what the hamstring does.
    dict(id="recruitment-hamstring", protocol="recruitment", person=dict(seed=1),
         channels=["hamstring_left", "glute_max_right", "glute_max_left"]),
    dict(id="desk", protocol="desk", person=dict(seed=1), calibrated=True),
    dict(id="calibration", protocol="calibration", person=dict(seed=1)),
]


@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    """What each case's results screen showed, by case id."""
    out = tmp_path_factory.mktemp("screens")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'host'}{os.pathsep}{ROOT / 'signal'}",
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("results_screens_driver.py")), str(out),
                           json.dumps(CASES)], capture_output=True, text=True, env=env, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {d["id"]: d for d in map(json.loads, done.stdout.splitlines())}, out


def truth(case):
    """The case's person at 200 Hz without hum: the same script, so the same truth."""
    protocol = get(case["protocol"])
    channels = tuple(case.get("channels") or protocol.channels)
    return simulate(protocol.body_exercise or "rest", emg_fs_hz=200.0, mains_hz=None, channels=channels,
                    **case["person"])


def true_weaker(body) -> str:
    si = body.true_symmetry_index_pct  # (R - L) / mean, % of the muscles' true amplitudes
    assert abs(abs(si) - NO_CLEAR_PCT) > 5, f"the person's truth ({si:+.1f} %) is too near the band to test"
    return "no clear difference" if abs(si) < NO_CLEAR_PCT else ("LEFT" if si > 0 else "RIGHT")


def true_drops_deg(body) -> dict:
    """The scripted hip drop per supporting leg (the unsupported side's fall while a rep
    or stance holds), worst rep per leg."""
    drops: dict = {}
    for rep in body.reps:
        if rep.kind in ("single_leg_bridge", "stance"):
            drops[rep.side] = max(drops.get(rep.side, -np.inf), rep.hip_drop_deg)
    for side, drop in drops.items():
        assert abs(drop - HIP_DROP_FLAG_DEG) >= 1.0, f"true {side} drop {drop:.1f}° is too near the flag to test"
    return drops


def true_amplitude_uV(body, row, start_s, end_s) -> float:
    """A channel's true mean amplitude (activation x MVC) over a span, µV."""
    t = body.t_emg_s()
    return float(body.mvc_uV[row] * body.activation[row, (t >= start_s) & (t < end_s)].mean())


def case(case_id):
    return next(c for c in CASES if c["id"] == case_id)


def screen(shown, case_id):
    got = shown[0][case_id]
    assert got["headline"], f"no results screen came: {got['terminal'][-2000:]}"
    # A run that lost samples live may show other figures: say so when a check fails.
    return got["headline"], got["findings"], (f"(at {got['speed']:g}x, missing samples {got['missing_samples']})\n"
                                              f"{got['headline']}\n{got['findings']}")


@pytest.mark.parametrize("case_id", ["bridges-left", "bridges-right", "single-leg-left", "single-leg-equal"])
def test_bridges_show_the_reps_and_the_weaker_glute(shown, case_id):
    head, findings, why = screen(shown, case_id)
    body = truth(case(case_id))
    reps = len(body.reps)
    weaker = true_weaker(body)
    assert head.startswith(f"{reps} reps · "), why
    if weaker == "no clear difference":
        assert "no clear difference" in head and "weaker" not in head, why
    else:
        assert f"{weaker} glute weaker" in head and f"Weaker side: {weaker}" in findings, why
    assert len(re.findall(r"^rep +\d+\b", findings, re.M)) == reps, why
    # Time under tension: the time the working glutes truly spend above half their rep's peak.
    tut = float(re.search(r"Time under tension: ([\d.]+) s over (\d+) reps", findings).group(1))
    t = body.t_emg_s()
    rows = {s: body.channel_index(f"glute_max_{s}") for s in ("left", "right")}
    true_s = 0.0
    for rep in body.reps:
        working = body.activation[[rows[s] for s in rows if rep.side in (s, "both")]].mean(axis=0)
        m = (t >= rep.start_s) & (t < rep.end_s)
        true_s += np.sum(working[m] > 0.5 * working[m].max()) / body.emg_fs_hz
    assert tut == pytest.approx(true_s, rel=0.15), why


@pytest.mark.parametrize("case_id", ["single-leg-left", "single-leg-equal"])
def test_single_leg_bridges_flag_the_hip_drop_of_the_leg_that_has_it(shown, case_id):
    head, findings, why = screen(shown, case_id)
    drops = true_drops_deg(truth(case(case_id)))
    for side, drop in drops.items():
        flagged = drop > HIP_DROP_FLAG_DEG
        assert (f"{side.upper()}-leg" in head.partition("hip drop on")[2]) == flagged, why
        line = re.search(rf"Hip drop on {side.upper()}-leg reps: up to ([\d.]+)°(.*)$", findings, re.M)
        assert line is not None, why
        assert ("flagged" in line.group(2)) == flagged, why
        assert float(line.group(1)) == pytest.approx(drop, abs=3.0), why


def test_the_squeeze_test_names_the_weaker_side(shown):
    head, findings, why = screen(shown, "squeeze-right")
    body = truth(case("squeeze-right"))
    peak = {q.side: q.peak_activation for q in body.squeezes if q.side in ("left", "right")}
    weaker = min(peak, key=peak.get)
    assert f"The {weaker.upper()} side is weaker" in head, why
    scores = {side: int(score) for side, score in re.findall(r"^(left|right) (\d+)/100", findings, re.M)}
    assert scores[weaker] < scores[{"left": "right", "right": "left"}[weaker]], why


def test_the_medius_set_flags_a_trendelenburg_hip_drop(shown):
    head, findings, why = screen(shown, "medius-left")
    body = truth(case("medius-left"))
    drops = true_drops_deg(body)
    flagged = [s for s in ("left", "right") if drops[s] > HIP_DROP_FLAG_DEG]
    assert flagged == ["left"]  # the person: one flagged stance, one not
    if flagged:
        assert head.startswith("Hip drop standing on the " + " and ".join(s.upper() for s in flagged) + " leg"), why
    else:
        assert head.startswith("No hip drop flagged"), why
    for side, drop in drops.items():
        line = re.search(rf"Stance on the {side.upper()} leg: hip drop ([\d.]+)°(.*)$", findings, re.M)
        assert line is not None, why
        assert float(line.group(1)) == pytest.approx(drop, abs=1.5), why
        assert ("Trendelenburg sign" in line.group(2)) == (side in flagged), why
    # Clamshells and the band walk: each side's glute in µV, the louder one truly the louder.
    rows = {s: body.channel_index(f"glute_max_{s}") for s in ("left", "right")}
    compared = 0
    for phase in body.phases:
        if phase.name not in ("clamshell", "band_walk"):
            continue
        title = phase.name.replace("_", " ").capitalize()
        line = re.search(rf"^{title} \({phase.side}\): glute max left (\d+) µV, glute max right (\d+) µV", findings,
                         re.M)
        assert line is not None, why
        left_uV, right_uV = true_amplitude_uV(body, rows["left"], phase.start_s, phase.end_s), \
            true_amplitude_uV(body, rows["right"], phase.start_s, phase.end_s)
        if max(left_uV, right_uV) > 1.3 * min(left_uV, right_uV):
            assert (int(line.group(1)) > int(line.group(2))) == (left_uV > right_uV), (phase, left_uV, right_uV, why)
            compared += 1
    assert compared >= 2


@pytest.mark.parametrize("case_id", ["recruitment-glute", "recruitment-hamstring"])
def test_the_recruitment_check_says_who_does_the_work(shown, case_id):
    head, findings, why = screen(shown, case_id)
    c = case(case_id)
    body = truth(c)
    # The host reads the inputs with the protocol's names; what each carries is the body's.
    names = get(c["protocol"]).channels
    glute, synergist = names.index("glute_max_left"), names.index("hamstring_left")
    amp = body.activation * np.asarray(body.mvc_uV)[:, None]
    t = body.t_emg_s()
    ratios = [amp[glute, m].mean() / amp[synergist, m].mean()
              for m in ((t >= r.start_s) & (t < r.end_s) for r in body.reps if r.side == "left")]
    true_ratio = float(np.median(ratios))
    assert abs(true_ratio - RATIO_GLUTE_LED) > 0.2, f"true ratio {true_ratio:.2f} too near the verdict's line"
    if true_ratio >= RATIO_GLUTE_LED:
        assert head.startswith("Glute-led"), why
    else:
        assert head.startswith("The hamstring takes over"), why
    shown_ratio = float(re.search(r"ratio ([\d.]+)$", head).group(1))
    assert (shown_ratio >= RATIO_GLUTE_LED) == (true_ratio >= RATIO_GLUTE_LED), why


def test_the_desk_call_shows_the_sitting_time(shown):
    from glutescope.protocols.runner import WAKE_HOLD_S

    head, findings, why = screen(shown, "desk")
    body = truth(case("desk"))
    true_sit_s = sum(p.duration_s for p in body.sitting)
    assert body.sitting and head.startswith(f"sat {true_sit_s / 60:.1f} min · "), why
    reminders = sum(int(p.duration_s // 3600) for p in body.sitting)  # one per hour seated
    assert f" · {reminders} reminder" in head, why
    n = len(body.sitting)
    assert f"Sitting: {true_sit_s / 60:.1f} min in {n} period{'s' if n != 1 else ''}" in findings, why
    # The person stands up and squeezes both glutes for the wake-up each time it is asked.
    wake = [p for p in body.phases if p.name == "wake_up"]
    assert wake and all(p.end_s - p.start_s >= WAKE_HOLD_S for p in wake)
    assert f"wake-ups {len(wake)}/{len(wake)} done" in head, why


def test_the_calibration_shows_each_sides_repeatable_reference(shown):
    head, findings, why = screen(shown, "calibration")
    body = truth(case("calibration"))
    assert head.startswith("Calibrated: both sides repeatable"), why
    t = body.t_emg_s()
    for side in ("left", "right"):
        row = body.channel_index(f"glute_max_{side}")
        holds = [q for q in body.phases if q.name == "reference" and q.side == side]
        assert len(holds) == 3
        # Each hold's true amplitude over its middle half; the reference is their mean.
        levels = [body.mvc_uV[row] * body.activation[row, (t >= q.start_s + 1.25) & (t < q.end_s - 1.25)].mean()
                  for q in holds]
        ref = float(re.search(rf"{side} (\d+) µV \(mean of 3", findings).group(1))
        assert ref == pytest.approx(sum(levels) / len(levels), rel=0.1), why


def test_each_results_screen_is_saved_and_stored_in_the_recording(shown):
    from glutescope.recording import load

    by_id, out = shown
    assert set(by_id) == {c["id"] for c in CASES}
    for case_id, got in by_id.items():
        assert got["results_png"] and Path(got["results_png"]).stat().st_size > 10_000, case_id
        stored = load(out / f"{case_id}.glutes").meta["protocol"]["results"]
        assert stored["headline"] == got["headline"], case_id
        assert "\n".join(stored["lines"]) == got["findings"], case_id
        # The run ended on the person's Close, not on a timeout.
        assert "(results dismissed)" in got["terminal"], case_id
