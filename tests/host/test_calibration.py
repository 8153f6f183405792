"""Per-side calibration: the electrode gain leaves the calibrated left/right verdict alone."""
from __future__ import annotations

import numpy as np
import pytest

import math

from scipy import stats as sps

from glutescope.calibration import Calibration, CalibrationGuide, calibration_cues
from glutescope.guide import Cue
from glutescope.live import LiveProcessor
from glutescope.verdicts import symmetry_verdict
from glutesignal.simulation import simulate

NAMES = ("glute_max_left", "glute_max_right")


def feed(processor, emg_uV, block=40):
    for start in range(0, emg_uV.shape[1], block):
        processor.push_emg(start, emg_uV[:, start:start + block])


def calibrate(seed, gain, emg_uV=None):
    c = simulate("calibration", seed=seed, electrode_gain=gain)
    cues = tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in c.phases)
    live = LiveProcessor(NAMES, c.emg_fs_hz, 0.0, squeeze_cues=cues)
    feed(live, c.emg_uV if emg_uV is None else emg_uV)
    return live.state.stats, c


def bridges(seed, gain, calibration=None):
    s = simulate("bridges", seed=seed, electrode_gain=gain)
    live = LiveProcessor(NAMES, s.emg_fs_hz, 0.0, calibration=calibration)
    feed(live, s.emg_uV)
    return live.state.stats, s


def test_the_standard_schedule_is_three_holds_per_side():
    cues = calibration_cues()
    holds = [c for c in cues if c.name == "reference"]
    assert [c.side for c in holds] == ["right"] * 3 + ["left"] * 3
    assert all(c.end_s - c.start_s == 5.0 for c in holds)
    assert "as hard as you can" in holds[0].instruction()


def _trapezoid_envelopes(cues, plateaus, fs, rest_uV=5.0):
    """A (left, right) RMS envelope: a rest level and, for each reference cue, a trapezoid
    starting 0.3 s after the cue (0.5 s rise) held to the cue's end (0.4 s fall)."""
    n = int(round((cues[-1].end_s + 1.0) * fs))
    t = np.arange(n) / fs
    drive = np.zeros((2, n))
    count = {"left": 0, "right": 0}
    for c in cues:
        if c.name != "reference":
            continue
        k = 0 if c.side == "left" else 1
        up = np.clip((t - c.start_s - 0.3) / 0.5, 0, 1)
        down = np.clip((c.end_s + 0.4 - t) / 0.4, 0, 1)
        drive[k] += plateaus[c.side][count[c.side]] * np.minimum(up, down)
        count[c.side] += 1
    return np.hypot(rest_uV, drive)  # muscle and noise floor add in power


def test_trapezoid_holds_give_the_mean_plateau_as_each_sides_reference():
    # Known answer through the live guide: the steady part of each hold (1 s after its cue
    # to its end) is all plateau, so the reference is the mean plateau of the side's holds,
    # the rest removed in quadrature; the spread of the left holds (CV 15 %) asks for a redo.
    fs = 100.0
    cues = calibration_cues()
    plateaus = {"right": (300.0, 315.0, 285.0), "left": (200.0, 230.0, 170.0)}
    env = _trapezoid_envelopes(cues, plateaus, fs)
    guide = CalibrationGuide(cues, fs)
    assert guide.update(cues[-1].end_s + 0.5, lambda i: (i, env[:, i:]))
    cal = guide.result
    assert cal.reference_uV == pytest.approx((200.0, 300.0), rel=1e-9)
    assert cal.trial_rises_uV[0] == pytest.approx(plateaus["left"], rel=1e-9)
    assert cal.cv_pct == pytest.approx((15.0, 5.0), rel=1e-9)
    assert cal.repeatable == (False, True) and cal.redo_sides() == ("left",)
    assert cal.n_accepted(0) == cal.n_accepted(1) == 3
    assert "left 200 µV (mean of 3 holds, CV 15 %)" in cal.verdict()


def test_a_gap_in_the_last_hold_leaves_the_calibration_to_the_other_holds():
    fs = 100.0
    cues = calibration_cues()
    env = _trapezoid_envelopes(cues, {"right": (300.0, 315.0, 285.0), "left": (200.0, 210.0, 190.0)}, fs)
    last = cues[-2]  # the third left hold (the schedule ends with a relax)
    assert last.name == "reference" and last.side == "left"
    env[:, int(last.start_s * fs) + 200:int(last.start_s * fs) + 210] = np.nan  # lost frames
    guide = CalibrationGuide(cues, fs)
    # As live: the guide is updated as the stream goes, so the lost hold is the last it sees.
    known = [guide.update(c.end_s + 0.1, lambda i: (i, env[:, i:])) for c in cues]
    assert known == [False] * (len(cues) - 2) + [True, False]
    assert guide.result.reference_uV == pytest.approx((205.0, 300.0), rel=1e-9)
    assert guide.result.n_accepted(0) == 2


def test_the_reference_ratios_precision_is_the_mean_of_few_holds():
    # CV 6 % on each side over 3 holds: u = 6 % / sqrt(3) per side, hypot of the two;
    # Welch-Satterthwaite: nu = (2 u^2)^2 / (2 u^4 / 2) = 4, so the z-based interval gets
    # the t(4) width.
    cal = Calibration((200.0, 300.0), ((190.0, 200.0, 210.0),) * 2, (6.0, 6.0), (True, True),
                      accepted=((True,) * 3,) * 2)
    u = math.hypot(0.06 / math.sqrt(3), 0.06 / math.sqrt(3))
    assert cal.ratio_sd() == pytest.approx(u * sps.t.ppf(0.975, 4) / sps.norm.ppf(0.975), rel=1e-9)
    # A side with one accepted hold has no CV: it is taken at the 10 % repeatability limit,
    # never as exact; the body model's truth (CV 0) adds nothing.
    one = Calibration((200.0, 300.0), ((200.0, 0.0, 0.0), (290.0, 300.0, 310.0)), (float("nan"), 3.0),
                      (False, True), accepted=((True, False, False), (True,) * 3))
    assert one.ratio_sd() >= 0.10
    truth = Calibration((200.0, 300.0), ((200.0,), (300.0,)), (0.0, 0.0), (True, True),
                        accepted=((True,), (True,)))
    assert truth.ratio_sd() == 0.0
    # Stored before references were means: the best hold, told as such, with the rule it
    # was made with (one hold's CV per side).
    old = Calibration.from_meta({k: v for k, v in cal.to_meta().items() if k != "accepted"})
    assert not old.averaged and old.n_accepted(0) == 3
    assert old.ratio_sd() == pytest.approx(math.hypot(0.06, 0.06))
    assert "best of 3 holds" in old.verdict() and "mean of 3 holds" in cal.verdict()


def test_the_calibration_run_finds_each_sides_reference_and_says_it_is_repeatable():
    stats, c = calibrate(100, (1.0, 1.4))
    cal = stats.calibration
    assert cal is not None and cal.usable and cal.repeatable == (True, True)
    # Each hold is ~90 %MVC: the reference is what the electrode sees at ~90 %MVC.
    np.testing.assert_allclose(cal.reference_uV, 0.9 * np.asarray(c.mvc_uV), rtol=0.12)
    np.testing.assert_allclose(cal.reference_uV, [np.mean(r) for r in cal.trial_rises_uV], rtol=1e-12)
    assert "repeatable" in stats.calibration_note
    assert stats.n_reps == 0 and stats.cued_contractions == 6  # holds are not reps
    assert Calibration.from_meta(cal.to_meta()) == cal


def test_a_1_4x_electrode_gain_is_a_muscle_claim_only_without_calibration():
    gain = (1.0, 1.4)  # the right electrode reads 40 % high for the same effort
    raw, s = bridges(0, gain)
    # Uncalibrated: the SI carries the electrode (+30 points here), and is worded as an
    # amplitude ratio that names no glute.
    assert raw.si_pct - s.true_symmetry_index_pct > 20.0 and not raw.si_normalised
    words = symmetry_verdict(raw)
    assert "not normalised - depends on electrodes" in words and "Not a muscle finding" in words
    assert "glute works" not in words and "louder" not in words
    # Calibrated with the same electrodes, the gain cancels: the SI is the one an
    # equal-gain session calibrated the same way gives, to a fraction of a point.
    with_gain, _ = bridges(0, gain, calibrate(100, gain)[0].calibration)
    equal, _ = bridges(0, (1.0, 1.0), calibrate(100, (1.0, 1.0))[0].calibration)
    assert with_gain.si_normalised and with_gain.si_pct == pytest.approx(equal.si_pct, abs=0.5)
    assert "glute works at a higher share of its reference" in symmetry_verdict(with_gain)


@pytest.mark.slow
def test_calibrated_si_error_against_the_body_models_truth():
    # What is left after the gain cancels is the 3-hold reference's own precision (the
    # body model's 3 % hold-to-hold effort and 10 % motor-unit variability), about 3
    # points SD of SI: the median error is within 3 points, single sessions up to ~6
    # (benchmarks/signal_accuracy.py prints each seed and the decomposition).
    errors = []
    for seed in range(5):
        stats, s = bridges(seed, (1.0, 1.4), calibrate(100 + seed, (1.0, 1.4))[0].calibration)
        errors.append(stats.si_pct - s.true_symmetry_index_pct)
    assert np.median(np.abs(errors)) <= 3.0 and np.max(np.abs(errors)) <= 6.0, errors


def test_an_unrepeatable_side_is_offered_a_redo_and_a_calibration_without_holds_is_not_used():
    _, c = calibrate(100, (1.0, 1.0))
    emg = np.array(c.emg_uV)
    fs = c.emg_fs_hz
    left_holds = [p for p in c.phases if p.name == "reference" and p.side == "left"]
    a, b = int(left_holds[1].start_s * fs), int(left_holds[1].end_s * fs)
    emg[0, a:b] *= 0.5  # the second left hold at half effort
    stats, _ = calibrate(100, (1.0, 1.0), emg)
    assert stats.calibration is not None and stats.calibration.redo_sides() == ("left",)
    assert "redo the left side" in stats.calibration_note
    # Nothing done in the holds: no reference, so the SI stays an amplitude ratio.
    rest = simulate("no_squeeze", seed=0)
    cues = calibration_cues(0.0)
    live = LiveProcessor(NAMES, rest.emg_fs_hz, 0.0, squeeze_cues=cues)
    feed(live, np.tile(rest.emg_uV, (1, 3))[:, : int(66 * rest.emg_fs_hz)])
    assert live.state.stats.calibration is None
    assert "no contraction" in live.state.stats.calibration_note


@pytest.mark.slow
def test_a_calibration_recording_is_reused_by_a_later_session_and_its_report(tmp_path):
    from export_fixtures import run_cli
    from glutescope.analysis import analyse
    from glutescope.calibration import load_calibration
    from glutescope.recording import load

    cal_path = tmp_path / "cal.glutes"
    status, _, err = run_cli("record", cal_path, "--duration", 66, "--speed", 10, "--exercise", "calibration",
                             "--subject", "P-7", "--seed", 3)
    assert status == 0, err
    cal = load_calibration(cal_path)  # derived again from the recording's EMG and cues
    assert cal.usable and cal.source == "cal.glutes"
    later = tmp_path / "bridges.glutes"
    status, _, err = run_cli("record", later, "--duration", 30, "--speed", 10, "--exercise", "bridges",
                             "--subject", "P-7", "--calibration", cal_path)
    assert status == 0, err
    rec = load(later)
    assert Calibration.from_meta(rec.meta["calibration"]) == cal
    (analysis,) = analyse(rec)
    assert analysis.stats.si_normalised and analysis.stats.n_reps == 5
    # The per-rep table shows the normalised SI the verdict averages, not the µV ratio.
    assert analysis.stats.si_pct == pytest.approx(np.mean([r.si_normalised_pct for r in analysis.reps]), abs=1e-9)
    status, out, err = run_cli("report", later, "-o", tmp_path / "r.pdf")
    assert status == 0, err
    # A recording without one is refused in one line.
    status, _, err = run_cli("record", tmp_path / "x.glutes", "--duration", 1, "--calibration", later / "nope")
    assert status != 0 and err.count("\n") == 1 and "--calibration" in err


def test_calibrating_in_the_session_normalises_the_bridges_and_squeezes_after_it():
    # The guided sequence in one session: calibration, bridges, squeeze test, with the
    # right electrode reading 40 % high.
    s = simulate("calibrated_demo", seed=1, electrode_gain=(1.0, 1.4))
    cues = tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in s.phases)
    live = LiveProcessor(NAMES, s.emg_fs_hz, 0.0, squeeze_cues=cues)
    feed(live, s.emg_uV)
    st = live.state.stats
    assert st.calibration is not None and st.calibration.source == "this session"
    assert st.n_reps == 5 and st.cued_contractions == 6 + 3  # holds and squeezes are not reps
    # One session's calibrated SI is as precise as its 3 holds per side (about 3 points SD
    # on the body model): within 2 SD of the truth, and its interval, which carries that
    # precision, holds the truth.
    truth = s.true_symmetry_index_pct
    assert st.si_normalised and abs(st.si_pct - truth) <= 6.0
    assert st.ci_low_pct <= truth <= st.ci_high_pct
    assert [x.strength_basis for x in st.squeeze_scores] == ["%MVC", "%MVC"]
    assert st.weaker_squeeze_side == "left"
    pct = st.activation_pct(st.contractions[0].mean_uV, st.rep_rest_uV[0])
    assert 20.0 < pct[0] < pct[1] < 80.0  # bridges at ~30-45 % of a ~90 %MVC reference
