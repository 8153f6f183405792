"""The report of a desk session: the sitting/wake-up timeline against the body model's truth."""
from __future__ import annotations

import re
import subprocess

import pytest

from body_recordings import write_body_recording
from glutescope.analysis import analyse
from glutescope.protocols import get
from glutescope.protocols.runner import runner_for
from glutescope.recording import load
from glutescope.report import write_report
from glutescope.sitting_timeline import sitting_timeline
from glutesignal.simulation import simulate

# A reminder after 20 s of sitting stands in for the hour, as stored in the recording.
REMIND_S = 20.0


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    kw = dict(seed=2, sitting_s=(50.0, 30.0))
    runner = runner_for(get("desk"), simulate("desk", **kw), remind_every_s=REMIND_S)
    # The results come `settle_s` after the last step: the recording runs on past it.
    body = simulate("desk", duration_s=runner.end_s + get("desk").settle_s + 1.0, **kw)
    record = runner.to_record()
    path = write_body_recording(tmp_path_factory.mktemp("desk") / "desk.glutes", body, subject="p01",
                                start_time="2026-03-02T09:00:00+00:00", exercise="desk", protocol_record=record)
    rec = load(path)
    return body, rec, analyse(rec)[0]


def test_the_timeline_has_the_truths_sitting_reminders_and_wake_ups(desk):
    body, _, analysis = desk
    tl = sitting_timeline(analysis)
    assert tl is not None and tl.source == "protocol" and tl.remind_every_s == REMIND_S
    first, second = body.sitting
    # The wake-up between the two sittings is 35 s up, under the minute that ends a period.
    (period,) = tl.periods
    assert period.start_s == pytest.approx(first.start_s - 1.0, abs=0.5)
    assert period.end_s == pytest.approx(second.end_s + 1.0, abs=0.5)
    assert tl.sitting_s == pytest.approx(first.duration_s + second.duration_s + 3.0, abs=2.0)
    assert len(tl.reminders_s) == 3
    assert tl.reminders_s[:2] == pytest.approx([first.start_s - 1.0 + REMIND_S, first.start_s - 1.0 + 2 * REMIND_S],
                                               abs=1.0)
    assert [(w.done, w.score) for w in tl.wake_ups] == [(False, 0.0), (True, 100.0), (True, 100.0)]
    squeezes = [r for r in body.reps if r.kind == "squeeze"]
    assert [w.at_s for w in tl.wake_ups[1:]] == pytest.approx([r.end_s for r in squeezes], abs=1.0)


def test_the_pdf_shows_the_sitting_strip_and_its_table(desk, tmp_path):
    body, rec, analysis = desk
    pdf = write_report(rec, [analysis], tmp_path / "desk.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    assert "Sitting and wake-ups" in flat
    assert re.search(r"Seated 1\.\d min in 1 period", flat)
    assert "A reminder after each 0.3 min of sitting: 3 given" in flat
    assert "1 of 3" not in flat and "2 of 3 done" in flat
    # One table row per event, in time order, with the times of the truth.
    rows = re.findall(r"(\d:\d\d:\d\d)\s+(sat down|stood up|reminder|wake-up done|wake-up not done)", text)
    # The last squeeze comes after standing up: its wake-up is scored after "stood up".
    assert [e for _, e in rows] == ["sat down", "reminder", "reminder", "wake-up not done", "wake-up done",
                                    "reminder", "stood up", "wake-up done"]
    sat = next(t for t, e in rows if e == "sat down")
    assert sat == f"0:00:{round(body.sitting[0].start_s - 1.0):02d}"
    assert "no reminder was given" not in flat


def test_a_desk_recording_without_the_protocol_shows_sitting_and_says_no_reminder_was_given(tmp_path):
    body = simulate("desk", seed=4, sitting_s=(40.0,))
    path = write_body_recording(tmp_path / "plain.glutes", body, subject="p01", start_time="2026-03-02T09:00:00+00:00")
    rec = load(path)
    (analysis,) = analyse(rec)
    tl = sitting_timeline(analysis)
    assert tl is not None and tl.source == "pelvis" and tl.wake_ups == () and tl.reminders_s == ()
    (period,) = tl.periods
    assert period.seated_s == pytest.approx(body.sitting[0].duration_s + 1.5, abs=1.0)
    pdf = write_report(rec, [analysis], tmp_path / "plain.pdf")
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Recorded without the desk protocol: no reminder was given" in text


def test_other_sessions_have_no_sitting_timeline(tmp_path):
    body = simulate("bridges", seed=1)
    rec = load(write_body_recording(tmp_path / "b.glutes", body, subject="p01",
                                    start_time="2026-03-02T09:00:00+00:00"))
    assert sitting_timeline(analyse(rec)[0]) is None
