"""Each protocol on body-model people of known truth, run by the one runner on the stream clock."""
import json

import pytest

from glutescope.protocols import NAMES, get
from glutescope.protocols.base import Step, TimedStep, schedule
from glutescope.protocols.runner import runner_for

from protocol_people import run_protocol


def test_every_protocol_is_data_with_steps_that_say_what_they_score():
    for name in NAMES:
        protocol = get(name)
        assert protocol.steps and all(isinstance(s, Step) and s.cue for s in protocol.steps)
        steps = schedule(protocol.steps)
        # Stored and read back from the recording's events unchanged.
        assert tuple(TimedStep.from_event(json.loads(json.dumps(s.to_event()))) for s in steps) == steps
    with pytest.raises(ValueError, match="protocol must be one of"):
        get("planks")
    with pytest.raises(ValueError, match="duration_s must be > 0"):
        Step("bridge", "Bridge", 0.0)


def test_bridges_count_every_rep_and_name_the_weaker_left_glute():
    runner, proc, body = run_protocol("bridges", seed=3)
    r = runner.results
    assert r is not None and r.figures["reps"] == len(body.reps) == 10
    assert r.figures["weaker_side"] == "left"  # truth: the left glute works at 70 %
    assert r.figures["si_pct"] == pytest.approx(body.true_symmetry_index_pct, abs=5.0)
    assert r.headline == "10 reps · LEFT glute weaker"
    # Time under tension per rep is inside the scripted rep (lift 1 s, hold 2 s, lower 1 s).
    assert all(1.5 < rep["time_under_tension_s"] < 4.0 for rep in r.figures["per_rep"])
    # The right glute (50 % of its reference, truth) is inside the 40-80 % target band, the left (35 %) is not.
    assert all(not rep["in_target"] for rep in r.figures["per_rep"])


def test_bridges_of_an_even_person_show_no_clear_difference():
    runner, _, _ = run_protocol("bridges", seed=4, left_scale=1.0)
    assert runner.results.figures["weaker_side"] == "no clear difference"
    assert "no clear difference" in runner.results.headline


def test_uncalibrated_bridges_name_no_weaker_glute():
    runner, _, _ = run_protocol("bridges", seed=3, calibrated=False)
    assert runner.results.figures["weaker_side"] == "unknown"
    assert any("not known without a calibration" in line for line in runner.results.lines)


def test_single_leg_bridges_flag_the_hip_drop_of_the_weak_leg_only():
    runner, _, body = run_protocol("single_leg_bridges", seed=2)
    f = runner.results.figures
    assert f["reps"] == 10 and f["weaker_side"] == "left"
    # Truth: the unsupported side drops 8° on left-leg reps (weak glute), 5° on right-leg reps.
    assert f["hip_drop_flag"] == ["left"]
    assert f["hip_drop_left_leg_deg"] > f["hip_drop_right_leg_deg"]
    assert "hip drop on LEFT-leg reps" in runner.results.headline


def test_squeeze_test_names_the_weaker_side_from_its_scores():
    runner, _, body = run_protocol("squeeze_test", seed=1, calibrated=False)
    f = runner.results.figures
    assert f["weaker_side"] == "left"  # truth: weaker_side="left"
    assert f["scores"]["left"] < f["scores"]["right"]


@pytest.mark.parametrize("left_scale, flagged", [(0.5, ["left"]), (1.0, [])])
def test_medius_stance_flags_a_trendelenburg_hip_drop(left_scale, flagged):
    runner, _, _ = run_protocol("medius", seed=1, left_scale=left_scale)
    f = runner.results.figures
    # Truth: the unsupported side drops 3 + 8 (1 - left_scale) degrees standing on the left.
    assert f["stance"]["left"]["hip_drop_deg"] == pytest.approx(3 + 8 * (1 - left_scale), abs=1.0)
    assert f["stance"]["right"]["hip_drop_deg"] == pytest.approx(3.0, abs=1.0)
    assert f["hip_drop_flag"] == flagged
    assert all(v["wobble_deg"] > 0 for v in f["stance"].values())


def test_the_medius_body_does_the_protocol_step_for_step():
    from glutescope.protocols.base import steps_from_body
    from glutesignal.simulation import simulate

    protocol = get("medius")
    laid = steps_from_body(protocol, simulate("medius", emg_fs_hz=200.0, mains_hz=None))
    assert [(s.start_s, s.end_s, s.step) for s in laid] == [(s.start_s, s.end_s, s.step)
                                                            for s in schedule(protocol.steps)]


def test_medius_clamshells_and_band_walk_show_the_working_glute_medius():
    ch = ("glute_max_left", "glute_max_right", "glute_med_left", "glute_med_right")
    runner, _, _ = run_protocol("medius", seed=1, channels=ch)
    amps = runner.results.figures["activation_uV"]
    assert set(amps) == {"clamshell_left", "clamshell_right", "band_walk_left", "band_walk_right"}
    # Truth: a clamshell works the upper leg's glute medius only (the other stays at rest).
    assert amps["clamshell_left"]["glute_med_left"] > 3 * amps["clamshell_left"]["glute_med_right"]
    assert amps["clamshell_right"]["glute_med_right"] > 3 * amps["clamshell_right"]["glute_med_left"]
    # In the band walk both work (each leg supports in turn); the left, at 70 %, less.
    walk = amps["band_walk_left"]
    assert 0.5 < walk["glute_med_left"] / walk["glute_med_right"] < 0.95
    assert any(line.startswith("Clamshell (left): glute med left") for line in runner.results.lines)


def test_recruitment_check_finds_the_glute_leading_and_a_planted_swap_the_hamstring():
    runner, _, body = run_protocol("recruitment", seed=1)
    f = runner.results.figures
    # Truth: the hamstring works at 0.45 of the glute's drive; 300 vs 250 µV at MVC.
    assert f["ratio"] == pytest.approx(250.0 / (0.45 * 300.0), rel=0.15)
    assert f["verdict"] == "glute-led" and f["reps"] == 5
    # The same person with the glute and hamstring electrodes swapped: the hamstring "wins".
    swapped, _, _ = run_protocol("recruitment", seed=1, rows=(2, 1, 0))
    assert swapped.results.figures["verdict"] == "hamstring takes over"
    assert swapped.results.figures["ratio"] < 1.0


def test_desk_measures_the_sitting_and_scores_the_wake_up_of_a_short_day():
    runner, _, body = run_protocol("desk", seed=1)
    f = runner.results.figures
    (seated,) = body.sitting
    # Truth: 30 s seated; the sample count adds about half of each 2-s sit-down and stand-up.
    assert f["sitting_s"] == pytest.approx(seated.duration_s + 1.5, abs=1.0)
    (period,) = f["periods"]
    assert period["start_s"] == pytest.approx(seated.start_s - 1.0, abs=0.5)
    assert period["end_s"] == pytest.approx(seated.end_s + 1.0, abs=0.5)
    assert f["reminders"] == []  # half a minute is not an hour
    # The wake-up the schedule asks for after the sitting: a 30-s squeeze, done.
    (wake,) = f["wake_ups"]
    assert wake["by"] == "step" and wake["done"] and wake["score"] == 100 and wake["held_s"] >= 30.0
    assert runner.results.headline.endswith("sat 0.5 min · 0 reminders · wake-ups 1/1 done")


def test_desk_reminds_after_each_stretch_of_sitting_and_a_wake_up_restarts_the_clock():
    # A short reminder interval stands in for the hour (the hour itself: the slow test below).
    runner, _, body = run_protocol("desk", seed=2, sitting_s=(50.0, 30.0), remind_every_s=20.0)
    first, second = body.sitting
    r = runner.results.figures["reminders"]
    # Sitting counts from the sit-down's threshold crossing, about 1 s before the truth's start.
    assert len(r) == 3 and r[:2] == pytest.approx([first.start_s + 19.0, first.start_s + 39.0], abs=1.0)
    # The first reminder's wake-up is not done before the second comes; the second's is the
    # squeeze after standing up, which restarts the clock: the third reminder comes 20 s of
    # sitting later, in the second stretch, and the squeeze after that one is its wake-up.
    wake = runner.results.figures["wake_ups"]
    assert [(w["by"], w["done"]) for w in wake] == [("reminder", False), ("reminder", True), ("reminder", True)]
    assert [w["score"] for w in wake] == [0, 100, 100]
    assert second.start_s - 1.0 + 20.0 - 1.0 < r[2] < second.end_s
    reminders = [e for e in runner.events if e["kind"] == "sitting" and e["what"] == "reminder"]
    assert [e["t_s"] for e in reminders] == pytest.approx(r, abs=1e-3)


@pytest.mark.slow
def test_two_hours_ten_sitting_in_one_go_get_two_reminders_at_the_right_times():
    """Known answer: reminders after one and two hours of sitting, the first wake-up not
    done (the person sits on), the second done by the squeeze after standing up."""
    runner, proc, body = run_protocol("desk", seed=3, sitting_s=(7800.0,), in_blocks=True, emg_fs_hz=1000.0,
                                      block=1000)
    (seated,) = body.sitting
    f = runner.results.figures
    assert f["reminders"] == pytest.approx([seated.start_s - 1.0 + 3600.0, seated.start_s - 1.0 + 7200.0], abs=1.0)
    assert f["sitting_s"] == pytest.approx(7800.0 + 1.5, abs=1.0)
    assert [(w["done"], w["score"]) for w in f["wake_ups"]] == [(False, 0), (True, 100)]
    assert f["wake_ups"][1]["at_s"] > seated.end_s
    assert "Sitting: 2 h 10 min in 1 period" in runner.results.lines[1]


@pytest.mark.parametrize("name", ["bridges", "single_leg_bridges", "medius"])
def test_results_do_not_depend_on_how_the_stream_was_cut(name):
    a, _, _ = run_protocol(name, seed=2, block=40)
    b, _, _ = run_protocol(name, seed=2, block=37)
    assert a.results.to_event()["figures"] == b.results.to_event()["figures"]
    assert [e for e in a.events if e["kind"] == "step"] == [e for e in b.events if e["kind"] == "step"]


def test_step_events_follow_the_stream_clock():
    runner, _, _ = run_protocol("squeeze_test", seed=1, calibrated=False)
    steps = [e for e in runner.events if e["kind"] == "step"]
    assert [e["index"] for e in steps] == list(range(len(runner.steps)))
    assert all(e["emg_sample"] == round(e["start_s"] * 2000) for e in steps)
    assert runner.events[-1]["kind"] == "results"
    assert runner_for(get("squeeze_test")).steps[1].name == "squeeze"


def test_a_target_band_the_person_sets_is_the_one_scored():
    default, _, _ = run_protocol("bridges", seed=3)
    own, _, _ = run_protocol("bridges", seed=3, target_pct=(20.0, 50.0))
    # Truth: the left glute works at ~31 %, the right at ~45 % of its reference (mean over a rep lower).
    assert default.results.figures["in_target"] == 0
    assert own.results.figures["in_target"] == 10
    assert "In the target band 20-50 % of reference: 10 of 10 reps" in own.results.lines


@pytest.mark.parametrize("argv, message", [
    (["--target", "80,50"], "--target must have 0 <= LOW < HIGH"),
    (["--target", "fifty"], "--target must be LOW,HIGH"),
    (["--channels", "glute_max_left,hamstring_left"], "needs the channels glute_max_right"),
])
def test_bad_protocol_options_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    from glutescope.cli import Environment, main

    err = []

    class Err:
        def write(self, text):
            err.append(text)

        def flush(self):
            pass

    env = Environment(stderr=Err(), environ={})
    status = main(["live", "--protocol", "bridges", "--record", str(tmp_path / "x.glutes"), *argv], env)
    assert status == 2
    text = "".join(err)
    assert message in text and text.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_electrode_check_grades_each_channel_before_anything_is_scored():
    runner, proc, body = run_protocol("bridges", seed=3)
    assert runner.results.figures["electrodes"] == {"glute_max_left": "good", "glute_max_right": "good"}
    check = next(e for e in runner.events if e["kind"] == "electrode_check")
    first_rep = next(e for e in runner.events if e["kind"] == "step" and e["name"] == "bridge")
    assert check["emg_sample"] <= first_rep["emg_sample"] + 40  # graded at the first step's end
    assert runner.results.lines[0].startswith("Electrode check before scoring: glute max left good")


def test_a_detached_electrode_is_flagged_on_the_results():
    import numpy as np

    from glutescope.live import LiveProcessor
    from glutescope.protocols.runner import runner_for
    from glutescope.virtual.rehearsal import feed, truth_calibration
    from glutesignal.simulation import simulate

    protocol = get("bridges")
    script = simulate("bridges", seed=3, emg_fs_hz=200.0, mains_hz=None)
    runner = runner_for(protocol, script)
    body = simulate("bridges", seed=3, duration_s=runner.end_s + 4.0)
    emg = np.array(body.emg_uV)
    emg[0] = 0.01 * np.random.default_rng(0).standard_normal(emg.shape[1])  # the left lead is off
    proc = LiveProcessor(body.channels, body.emg_fs_hz, body.imu_fs_hz, runner=runner,
                         calibration=truth_calibration(body))
    feed(proc, body, emg_uV=emg)
    assert runner.results.figures["electrodes"]["glute_max_left"] == "poor"
    assert runner.results.headline.startswith("Check electrodes (glute max left)")


def test_the_calibration_protocol_finds_each_glutes_reference_of_the_body_model():
    runner, proc, body = run_protocol("calibration", seed=1, calibrated=False)
    f = runner.results.figures
    # Truth: holds at 90 %MVC (3 % trial to trial) of a 250 µV-at-MVC glute: 225 µV. The
    # reference, a mean of 3 holds, reads a few per cent under it: the chain's band edges
    # and mains notches take their share of the sEMG power (the same share of every rep,
    # so %-of-reference and the SI are not moved by it).
    assert f["usable"] and f["redo"] == []
    assert f["reference_uV"] == pytest.approx([225.0, 225.0], rel=0.09)
    assert f["reference_uV"][0] / f["reference_uV"][1] == pytest.approx(1.0, abs=0.06)
    assert proc.state.stats.calibration is not None  # the session's own reps now use it


@pytest.mark.parametrize("name", ["single_leg_bridges", "medius"])
def test_results_do_not_depend_on_the_imu_arriving_after_the_emg(name):
    # Over the radio the IMU frames can queue behind EMG frames of the same time: a rep
    # found before the IMU has reached its end is measured once it has, as a replay would.
    on_time, _, _ = run_protocol(name, seed=2)
    late, _, _ = run_protocol(name, seed=2, imu_lag_s=0.6)
    assert late.results.to_event()["figures"] == on_time.results.to_event()["figures"]
    assert late.results.lines == on_time.results.lines
