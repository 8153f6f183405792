"""`glutescope live --protocol` on the virtual wearable: the results computed live are
those recomputed from the recording, by the same runner."""
import os
import subprocess
import sys

import pytest

from glutescope.analysis import analyse, exercise_plan, analyse_segment
from glutescope.recording import load

pytestmark = pytest.mark.slow


def run_live(tmp_path, protocol, *extra):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    rec = tmp_path / f"{protocol}.glutes"
    result = subprocess.run(
        [sys.executable, "-m", "glutescope", "live", "--protocol", protocol, "--speed", "2", "--record", str(rec),
         "--screenshot", str(tmp_path / "live.png"), *extra],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return rec, result.stdout


# Every protocol; the desk's on the virtual wearable is its body model's short day (half
# a minute seated, then the wake-up), so its reminders are not here: tests/host/test_protocols.py
# has them, the hours fed straight to the same runner.
@pytest.mark.parametrize("protocol", ["bridges", "single_leg_bridges", "squeeze_test", "medius", "recruitment",
                                      "calibration", "desk"])
def test_live_results_equal_those_recomputed_from_the_recording(tmp_path, protocol):
    wav = tmp_path / "tone.wav"
    rec_path, out = run_live(tmp_path, protocol, "--subject", "S07", "--sound", "--sound-wav", str(wav))
    rec = load(rec_path)
    stored = rec.meta["protocol"]
    assert rec.meta["subject"] == "S07"
    assert stored["name"] == protocol and stored["results"] is not None
    # The results the terminal printed are the stored ones.
    assert f"results: {stored['results']['headline']}" in out
    assert (tmp_path / f"{protocol}-results.png").stat().st_size > 10_000
    # A marker per step on the EMG stream clock, then the results.
    labels = [m["label"] for m in rec.meta["markers"]]
    assert labels[0].startswith("step 1: ") and labels[-1].startswith("results: ")
    recomputed = analyse(rec)[0].protocol_results
    # Samples the link lost live and the wearable resent later are in the recording but
    # were never seen live: then the two may differ, and the run says so.
    missing = next(line for line in out.splitlines() if "missing samples" in line)
    assert recomputed.to_event() == stored["results"], missing

    # The session's tone, in stream time, whether or not a sound output exists here.
    import wave

    with wave.open(str(wav)) as w:
        assert w.getnchannels() == 2
        assert w.getnframes() / w.getframerate() == pytest.approx(stored["results"]["at_s"], abs=2.0)
    assert "sound off: Qt Multimedia is not installed" in out or "sound off" not in out

    # The comparison can fail: the same recording analysed with the wrong mains (60 Hz,
    # so its 50 Hz hum is never notched) gives other figures.
    other = analyse_segment(rec, 0, plan=exercise_plan(rec), mains_hz=60.0)
    assert other.protocol_results.to_event()["figures"] != stored["results"]["figures"]


def test_a_bad_channel_map_for_a_protocol_is_one_line_and_leaves_nothing(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "glutescope", "live", "--protocol", "bridges", "--channels", "hamstring_left",
         "--record", str(tmp_path / "x.glutes")], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "needs the channels glute_max_left" in result.stderr
    assert list(tmp_path.iterdir()) == []
