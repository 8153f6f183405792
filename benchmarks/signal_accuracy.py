"""Accuracy of the signal core against the body model's truth, on seeded sessions.

Prints: envelope/activation correlation; onset error (median, p95), misses and false
alarms on synthetic bursts at 3, 10 and 20 dB SNR for the app's detector and three
published ones; symmetry-index error on bridges; rep-count errors from the pelvis tilt;
squeeze-score ordering of the weaker side; the app's onsets on a real walking recording
against its gait events; mains detection on body-model windows; and, through the app's
live pipeline (glutescope.live.LiveProcessor): the SI with a 1.4x electrode gain on one
side, uncalibrated and calibrated; "no squeeze" and "tensed during relax" people; reps on
the demo, bridges and single-leg scripts with no squeeze counted as a rep.

Run: PYTHONPATH=host:signal python benchmarks/signal_accuracy.py [--seeds N] [--onset-trials N]
     [--section K ...]  (K from 1 to 10, the numbers printed; default all)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from scipy.signal import butter, sosfilt

from glutesignal.simulation import burst_trial, simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import linear_envelope, moving_rms
from glutesignal.onsets import ContractionDetector, detect_bursts
from glutesignal.quality import LINE_PRESENT_RATIO, detect_mains
from glutesignal.pelvis import pelvis_angles, segment_tilt_reps
from glutesignal.scores import squeeze_quality
from glutesignal.symmetry import symmetry_over_reps


ENVELOPE_WINDOW_S = 0.1
"""The live view's envelope window (glutescope.live.ENVELOPE_WINDOW_S), s."""
ONSET_SNRS_DB = (3.0, 10.0, 20.0)
ONSET_RISES_S = (0.0, 0.05)
ONSET_MATCH_S = 0.15
"""A detected onset within this of the truth is a hit; any other is a false alarm."""


def single_threshold_onsets_s(y_uV, fs_hz, baseline_s=1.0, h_sd=3.0, window_s=0.025):
    """Hodges & Bui (1996) style baseline: the 25 ms mean of the rectified, 50 Hz low-passed
    signal crossing the baseline mean + 3 SD; every upward crossing after the baseline is an onset."""
    sos = butter(2, 50.0, btype="lowpass", output="sos", fs=fs_hz)
    env = sosfilt(sos, np.abs(y_uV[0]))
    n = max(1, int(round(window_s * fs_hz)))
    mean = np.convolve(env, np.ones(n) / n)[: env.size]
    k = int(round(baseline_s * fs_hz))
    above = mean[k:] > mean[n:k].mean() + h_sd * mean[n:k].std()
    ups = np.flatnonzero(np.diff(above.astype(np.int8)) == 1) + 1
    if above.size and above[0]:
        ups = np.concatenate([[0], ups])
    return (k + ups) / fs_hz


ONSET_METHODS = {
    "single threshold (Hodges & Bui 1996)": single_threshold_onsets_s,
    "Bonato x^2 (h 6, 50 ms, 20 %)": lambda y, fs: [b.on_s for b in detect_bursts(
        y, fs, tkeo=False, h=6.0, window_s=0.05, min_fraction=0.2, refine_s=None)],
    "Bonato TKEO (Solnik 2010)": lambda y, fs: [b.on_s for b in detect_bursts(
        y, fs, tkeo=True, h=6.0, window_s=0.05, min_fraction=0.2, refine_s=None)],
    "TKEO + Bonato + ML time (library)": lambda y, fs: [b.on_s for b in detect_bursts(y, fs)],
    "app: envelope double threshold": lambda y, fs: app_onsets_s(y, fs),
}
"""Onset detectors compared; the last is the app's (`glutesignal.onsets.ContractionDetector` on the
100 ms RMS envelope, default parameters); `detect_bursts` is a library detector the app does not run."""


def app_onsets_s(y_uV, fs_hz):
    """Onsets of the app's contraction detector with its default parameters, s."""
    env = moving_rms(y_uV, fs_hz, ENVELOPE_WINDOW_S)
    return [a.start_s for a in ContractionDetector(fs_hz, y_uV.shape[0]).process(env)]


REAL_EMG_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "real-emg"
GAIT_HIT_WINDOW_S = (-0.25, 0.1)
"""An onset from 250 ms before to 100 ms after touchdown is that cycle's onset: gluteus
maximus and medius switch on in terminal swing (Perry & Burnfield 2010, ch. 4-5)."""


def mains_detection(args, seeds) -> None:
    """Row: mains lines found in 4 s windows (half overlapping) of body-model sessions with
    50 Hz, 60 Hz and no hum, and what the former fixed 50 Hz notch set took from clean EMG."""
    print(f"\n7. Mains detection on 4 s windows of body-model bridges and demo, seeds 0..{max(seeds)}")
    print(f"   (a line is present at >= {LINE_PRESENT_RATIO:g} x its neighbours). Goal: no line found without hum;")
    print("   the right frequency in >= 90 % of windows with hum.")
    for mains in (None, 50.0, 60.0):
        right = wrong = n = 0
        worst = 0.0
        for seed in seeds:
            for ex in ("bridges", "demo"):
                s = simulate(ex, seed=seed, mains_hz=mains, duration_s=60.0)
                w = int(4 * s.emg_fs_hz)
                for k in range(0, s.emg_uV.shape[1] - w, w // 2):
                    found = detect_mains(s.emg_uV[:, k:k + w], s.emg_fs_hz)
                    n += 1
                    right += found.mains_hz == mains
                    wrong += found.mains_hz is not None and found.mains_hz != mains
                    worst = max(worst, max(found.line_ratio.values()))
        label = "no hum" if mains is None else f"{mains:g} Hz hum"
        extra = f", largest line ratio {worst:.1f}" if mains is None else ""
        print(f"   {label:10s}: {n} windows, right {100 * right / n:5.1f} %, a wrong line in {wrong}{extra}")
    s = simulate("bridges", seed=0, duration_s=30.0, mains_hz=None)
    clean = condition(s.emg_uV, s.emg_fs_hz, mains_hz=None)
    fixed = condition(s.emg_uV, s.emg_fs_hz, mains_hz=50.0)
    print(f"   clean EMG power removed by the former fixed 50 Hz notches: "
          f"{100 * (1 - np.mean(fixed ** 2) / np.mean(clean ** 2)):.1f} % (now 0: no line, no notch)")


def real_gait_onsets(args=None, seeds=None) -> None:
    """Row: the app's detector (default parameters, the live chain) on a real recording.

    Treadmill walking, 1 kHz, gluteus medius (ME) and maximus (MA) of the right leg,
    with touchdown times from the data set (Santuz et al. 2020; tests/data/real-emg).
    Conditioning as the live view: 20-450 Hz band-pass, notches at the mains lines found
    in the recording, 100 ms RMS; then `ContractionDetector` with its defaults.
    """
    data = np.loadtxt(REAL_EMG_DIR / "walking_13muscles_1khz.csv", delimiter=",", skiprows=1)
    cycles = np.loadtxt(REAL_EMG_DIR / "walking_13muscles_gait_cycles.csv", delimiter=",", skiprows=1, ndmin=2)
    with (REAL_EMG_DIR / "walking_13muscles_1khz.csv").open() as f:
        header = f.readline().strip().split(",")
    fs = 1000.0
    t0 = data[0, 0]
    td, lo = cycles[:, 0], cycles[:, 1]
    print("\n6. Onsets on a real treadmill recording (Santuz et al. 2020, 1 kHz, right leg) against its")
    print("   touchdowns, with the app's default chain and detector. A cycle's onset: from "
          f"{1000 * GAIT_HIT_WINDOW_S[0]:.0f} to {1000 * GAIT_HIT_WINDOW_S[1]:+.0f} ms of touchdown.")
    print("   Goal: found for >= 90 % of cycles; median and p95 of onset - touchdown printed.")
    for muscle, label in (("MA", "gluteus maximus"), ("ME", "gluteus medius")):
        raw = data[:, header.index(muscle)][None, :]
        mains = detect_mains(raw, fs)
        y = condition(raw, fs, mains_hz=mains.mains_hz, harmonics=mains.harmonics or (1,))
        ons = np.asarray(app_onsets_s(y, fs)) + t0
        rel = []
        for t in td:
            near = ons[(ons >= t + GAIT_HIT_WINDOW_S[0]) & (ons <= t + GAIT_HIT_WINDOW_S[1])] - t
            if near.size:
                rel.append(near[0])
        inside = ons[(ons > td[0] + GAIT_HIT_WINDOW_S[0]) & (ons < lo[-1])]
        rel = np.asarray(rel)
        found = rel.size / td.size
        timing = (f"onset - touchdown median {1000 * np.median(rel):+5.0f} ms, "
                  f"p5 {1000 * np.percentile(rel, 5):+5.0f}, p95 {1000 * np.percentile(rel, 95):+5.0f} ms"
                  if rel.size else "no onsets")
        print(f"   {label:16s} found {rel.size}/{td.size} cycles ({100 * found:.0f} %), {timing}; "
              f"other onsets in the strides {inside.size - rel.size}; "
              f"{'goal met' if found >= 0.9 else 'GOAL MISSED'}")


def onset_trials(n_trials, snr_db, rise_s):
    """Per method: (|errors| s, signed errors s, misses, false alarms) over seeded burst trials."""
    out = {name: ([], 0, 0) for name in ONSET_METHODS}
    for seed in range(n_trials):
        trial = burst_trial(seed, snr_db, rise_s=rise_s)
        y = condition(trial.emg_uV, trial.fs_hz)
        for name, fn in ONSET_METHODS.items():
            errs, missed, extra = out[name]
            ons = np.asarray(fn(y, trial.fs_hz), dtype=float)
            hit = np.abs(ons - trial.onset_s) <= ONSET_MATCH_S
            if hit.any():
                errs.append(float(ons[hit][0] - trial.onset_s))
                extra += int(ons.size - 1)
            else:
                missed += 1
                extra += int(ons.size)
            out[name] = (errs, missed, extra)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="sessions per measure (default 5)")
    parser.add_argument("--onset-trials", type=int, default=200,
                        help="synthetic bursts per SNR and rise (default 200)")
    parser.add_argument("--section", type=int, action="append", choices=range(1, N_SECTIONS + 1),
                        metavar="K", help=f"run only section K (1-{N_SECTIONS}; repeat for several; default all)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.onset_trials < 1:
        parser.error("--seeds and --onset-trials must be at least 1")
    seeds = range(args.seeds)
    want = set(args.section or range(1, N_SECTIONS + 1))

    print(f"glutesignal accuracy on body-model sessions, seeds 0..{args.seeds - 1}")
    for k, section in enumerate(SECTIONS, start=1):
        if k in want:
            section(args, seeds)
    return 0


def envelope_rows(args, seeds) -> None:
    print("\n1. Envelope vs true activation (Pearson r, bridges + squeeze test, all channels)")
    for name, fn in (("moving RMS 100 ms", lambda y, fs: moving_rms(y, fs)),
                     ("linear envelope 6 Hz", lambda y, fs: linear_envelope(y, fs))):
        for snr in (20.0, 10.0):
            rs = []
            for seed in seeds:
                for ex in ("bridges", "squeeze_test"):
                    s = simulate(ex, seed=seed, snr_db=snr)
                    env = fn(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
                    rs += [np.corrcoef(env[c], s.activation[c])[0, 1] for c in range(len(s.channels))]
            print(f"   {name:22s} SNR {snr:4.0f} dB: r median {np.median(rs):.3f}, min {np.min(rs):.3f}")


def onset_rows(args, seeds) -> None:
    print(f"\n2. Onset error on synthetic bursts ({args.onset_trials} seeded trials per row; Staude et al. 2001,")
    print("   Solnik et al. 2010): sEMG-shaped Gaussian background, a burst of the same spectrum starting")
    print("   at a known time with a step or a 50 ms linear amplitude rise; truth = burst start; 2 kHz,")
    print(f"   conditioned as in the app. Hit: an onset within {1000 * ONSET_MATCH_S:.0f} ms; false alarm: any other onset.")
    print("   Goal (TKEO library detector, step): |error| median <= 15 ms and p95 <= 40 ms at 10 dB.")
    print("   Goal (app's envelope detector, which finds contraction intervals, not ms onsets): no miss and")
    print("   no false alarm at >= 10 dB. It needs the envelope to reach 2.5 x rest, i.e. SNR >= ~7 dB: at 3 dB")
    print("   it misses most bursts by design; its onset lags a step by ~15 ms at 10 dB (100 ms RMS window).")
    for rise in ONSET_RISES_S:
        for snr in ONSET_SNRS_DB:
            res = onset_trials(args.onset_trials, snr, rise)
            rise_label = "step" if rise == 0 else f"{1000 * rise:.0f} ms rise"
            print(f"   SNR {snr:4.0f} dB, {rise_label}:")
            for name, (errs, missed, extra) in res.items():
                e = np.asarray(errs)
                if e.size:
                    timing = (f"|error| median {1000 * np.median(np.abs(e)):6.1f} ms, p95 "
                              f"{1000 * np.percentile(np.abs(e), 95):6.1f} ms, bias {1000 * np.median(e):+6.1f} ms")
                else:
                    timing = "no hits" + " " * 51
                print(f"      {name:38s} {timing}, missed {100 * missed / args.onset_trials:5.1f} %, "
                      f"false alarms {extra / args.onset_trials:.2f}/trial")


def symmetry_rows(args, seeds) -> None:
    print("\n3. Symmetry index on bridges (left 30 % weaker), mean of per-rep SI of mean RMS")
    errs, covered = [], 0
    for seed in seeds:
        s = simulate("bridges", seed=seed)
        env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
        t = s.t_emg_s()
        left = [env[0, (t >= r.start_s) & (t < r.end_s)].mean() for r in s.reps]
        right = [env[1, (t >= r.start_s) & (t < r.end_s)].mean() for r in s.reps]
        res = symmetry_over_reps(left, right)
        errs.append(res.si_pct - s.true_symmetry_index_pct)
        covered += res.ci_low_pct <= s.true_symmetry_index_pct <= res.ci_high_pct
        print(f"   seed {seed}: SI {res.si_pct:6.2f} % [{res.ci_low_pct:6.2f}, {res.ci_high_pct:6.2f}] "
              f"truth {s.true_symmetry_index_pct:6.2f} %  side named {res.louder_side} (equal electrodes)")
    print(f"   SI error mean {np.mean(errs):+.2f} points, max |error| {np.max(np.abs(errs)):.2f}; "
          f"95 % CI covers truth in {covered}/{len(errs)}")


def rep_count_rows(args, seeds) -> None:
    print("\n4. Rep count from pelvis tilt")
    for ex in ("bridges", "single_leg_bridges"):
        count_err, bound_err = [], []
        for seed in seeds:
            s = simulate(ex, seed=seed)
            a = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
            reps = segment_tilt_reps(a.tilt_deg, s.imu_fs_hz)
            count_err.append(len(reps) - len(s.reps))
            if len(reps) == len(s.reps):
                bound_err += [abs(f.start_s - r.start_s) for f, r in zip(reps, s.reps)]
                bound_err += [abs(f.end_s - r.end_s) for f, r in zip(reps, s.reps)]
        print(f"   {ex:20s}: count errors {count_err}, boundary |error| median {np.median(bound_err):.2f} s, "
              f"max {np.max(bound_err):.2f} s")
        print(f"   {'':20s}  tilt RMS error {np.sqrt(np.mean((a.tilt_deg - s.tilt_deg) ** 2)):.2f} deg, obliquity "
              f"{np.sqrt(np.mean((a.obliquity_deg - s.obliquity_deg) ** 2)):.2f} deg (last seed)")


def squeeze_quality_rows(args, seeds) -> None:
    print("\n5. Squeeze quality: weaker side (left) total vs stronger")
    for seed in seeds:
        s = simulate("squeeze_test", seed=seed)
        env = moving_rms(condition(s.emg_uV, s.emg_fs_hz), s.emg_fs_hz)
        ang = pelvis_angles(s.acc_g, s.gyro_dps, s.imu_fs_hz)
        tot = {}
        for p in s.phases:
            if p.name == "squeeze" and p.side != "both":
                tot[p.side] = squeeze_quality(env, s.emg_fs_hz, side=p.side, cue_s=p.start_s, relax_cue_s=p.end_s,
                                              mvc=s.mvc_uV, tilt_deg=ang.tilt_deg, obliquity_deg=ang.obliquity_deg,
                                              rotation_deg=ang.rotation_deg, imu_fs_hz=s.imu_fs_hz).total
        print(f"   seed {seed}: right {_score_text(tot['right'])}, left {_score_text(tot['left'])}")


def _score_text(total):
    return "no score" if total is None else f"{total:5.1f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _live(session, *, cues=(), rep_cues=(), calibration=None, single_leg=False, imu=True):
    """The app's live pipeline fed a body-model session block by block, IMU interleaved."""
    from glutescope.live import BRIDGE_EXERCISES, LiveProcessor

    names = ("glute_max_left", "glute_max_right")
    proc = LiveProcessor(names, session.emg_fs_hz, session.imu_fs_hz if imu else 0.0, squeeze_cues=cues or None,
                         rep_cues=rep_cues, calibration=calibration, single_leg=single_leg,
                         reps_move_pelvis=session.exercise in BRIDGE_EXERCISES)
    ratio = session.emg_fs_hz / session.imu_fs_hz
    j = 0
    for a in range(0, session.emg_uV.shape[1], 40):
        k = int((a + 40) / ratio)
        if imu and k > j:
            proc.push_imu(j, session.acc_g[:, j:k], session.gyro_dps[:, j:k])
            j = k
        proc.push_emg(a, session.emg_uV[:, a:a + 40])
    return proc.state.stats


def _cues(session):
    from glutescope.guide import Cue

    return tuple(Cue(p.start_s, p.end_s, p.name, p.side) for p in session.phases)


def _true_hold_effort(cal_session) -> dict:
    """Per side, the body model's true activation of each reference hold over the part the
    app measures (from ``glutescope.calibration.SETTLE_S`` after the cue to its end), as a
    fraction of that muscle's MVC."""
    from glutescope.calibration import SETTLE_S

    t = cal_session.t_emg_s()
    out = {"left": [], "right": []}
    for p in cal_session.phases:
        if p.name == "reference":
            k = cal_session.channel_index(f"glute_max_{p.side}")
            m = (t >= p.start_s + SETTLE_S) & (t < p.end_s)
            out[p.side].append(float(cal_session.activation[k, m].mean()))
    return out


def left_right_rows(args, seeds) -> None:
    """Row: the SI with a 1.4x electrode gain on the right, uncalibrated and calibrated, with
    where the calibrated error comes from."""
    from glutescope.calibration import Calibration
    from glutescope.verdicts import symmetry_verdict

    gain = (1.0, 1.4)
    print("\n8. Left/right with a 1.4x electrode gain on the right (bridges, left 30 % weaker), live pipeline.")
    print("   Goal: uncalibrated, no louder glute claimed as a muscle finding; calibrated (3 reference holds")
    print("   per side, body-model calibration seed 100 + seed; each side's reference the mean of its holds),")
    print("   |SI error| <= 3 points in every session. Truth: the SI of the muscles' true activation in % of")
    print("   their MVC (equal on both sides), what a physiotherapist asks about. The holds are maximal")
    print("   squeezes at ~90 %MVC whose effort varies hold to hold (3 % in the model, inside the 10 % CV")
    print("   accepted as repeatable): that spread is a real error of any voluntary reference, so it stays")
    print("   in the error. Sources, per session: 'effort' = the error left with each side's reference at its")
    print("   holds' true mean effort (a perfect estimator); 'bridge' = with the true MVC as reference.")
    raw_err, cal_err, invariance, claims, covered, ref_sds = [], [], [], 0, 0, []
    effort_err, bridge_err, effort_cv = [], [], []
    for seed in seeds:
        b = simulate("bridges", seed=seed, electrode_gain=gain)
        truth = b.true_symmetry_index_pct
        raw = _live(b, imu=False)
        words = symmetry_verdict(raw)
        claims += ("glute works" in words) or ("louder" in words) or raw.si_normalised
        c = simulate("calibration", seed=100 + seed, electrode_gain=gain)
        cal = _live(c, cues=_cues(c), imu=False).calibration
        c_equal = simulate("calibration", seed=100 + seed)
        equal_cal = _live(c_equal, cues=_cues(c_equal), imu=False).calibration
        calibrated = _live(b, calibration=cal, imu=False)
        equal = _live(simulate("bridges", seed=seed), calibration=equal_cal, imu=False)
        efforts = _true_hold_effort(c)
        mvc = [b.mvc_uV[b.channel_index(f"glute_max_{side}")] for side in ("left", "right")]
        exact = (0.0, 0.0)
        by_effort = Calibration(tuple(m * np.mean(efforts[side]) for m, side in zip(mvc, ("left", "right"))),
                                ((1.0,), (1.0,)), exact, (True, True))
        by_mvc = Calibration(tuple(mvc), ((1.0,), (1.0,)), exact, (True, True))
        effort_err.append(_live(b, calibration=by_effort, imu=False).si_pct - truth)
        bridge_err.append(_live(b, calibration=by_mvc, imu=False).si_pct - truth)
        effort_cv += [100 * np.std(v, ddof=1) / np.mean(v) for v in efforts.values()]
        raw_err.append(raw.si_pct - truth)
        cal_err.append(calibrated.si_pct - truth)
        invariance.append(calibrated.si_pct - equal.si_pct)
        covered += calibrated.ci_low_pct <= truth <= calibrated.ci_high_pct
        ref_sds.append(calibrated.si_reference_sd_pct)
        print(f"   seed {seed}: truth {truth:+6.1f} %, uncalibrated {raw.si_pct:+6.1f} % (error {raw_err[-1]:+5.1f}), "
              f"calibrated {calibrated.si_pct:+6.1f} % (error {cal_err[-1]:+5.1f}: effort {effort_err[-1]:+5.1f}, "
              f"bridge {bridge_err[-1]:+5.1f}; vs equal gains {invariance[-1]:+.2f})")
    abs_cal = np.abs(cal_err)
    print(f"   uncalibrated: error mean {np.mean(raw_err):+.1f} points; muscle claims {claims}/{len(raw_err)} "
          f"(worded '{symmetry_verdict(raw)[:60]}...'): {_verdict(claims == 0)}")
    print(f"   calibrated: |error| median {np.median(abs_cal):.1f}, max {np.max(abs_cal):.1f} points; within 3 points "
          f"in {int(np.sum(abs_cal <= 3.0))}/{abs_cal.size}: {_verdict(bool(np.all(abs_cal <= 3.0)))}")
    if len(cal_err) >= 2:
        print(f"   error SD over the sessions: calibrated {np.std(cal_err, ddof=1):.1f} points; effort alone "
              f"{np.std(effort_err, ddof=1):.1f}; bridge alone {np.std(bridge_err, ddof=1):.1f} (true hold-to-hold "
              f"effort CV {np.mean(effort_cv):.1f} %). With effort spread s per hold and n holds a side, the "
              f"effort part alone is ~sqrt(2/n) x s")
    print(f"   calibrated 95 % interval (rep spread + the references' precision, SD {np.min(ref_sds):.1f}-"
          f"{np.max(ref_sds):.1f} points from the holds' CV / sqrt(3)) holds the truth in {covered}/{len(ref_sds)}: "
          f"{_verdict(covered == len(ref_sds))}")
    print(f"   calibrated SI with the 1.4x gain minus with equal gains: max |difference| "
          f"{np.max(np.abs(invariance)):.2f} points (the gain cancels; the error left is the reference's own precision)")


def squeeze_gate_rows(args, seeds) -> None:
    print("\n9. Squeeze scores gated on a detected contraction, live pipeline (all seeds).")
    scored, reasons, raised = 0, 0, 0
    for seed in seeds:
        st = _live(simulate("no_squeeze", seed=seed), cues=_cues(simulate("no_squeeze", seed=seed)))
        scored += sum(s.detected for s in st.squeeze_scores)
        reasons += sum(bool(s.reason) for s in st.squeeze_scores)
    print(f"   'no squeeze' person: {scored} of {2 * len(seeds)} squeezes scored, {reasons} with a reason shown. "
          f"Goal: 0 scored: {_verdict(scored == 0)}")
    shown = 0
    for seed in seeds:
        try:
            s = simulate("tensed_relax", seed=seed)
            st = _live(s, cues=_cues(s))
            shown += sum(bool(x.reason) and not x.detected for x in st.squeeze_scores)
        except Exception as exc:  # the old pipeline raised here: count it, do not stop the benchmark
            raised += 1
            print(f"   seed {seed}: {type(exc).__name__}: {exc}")
    print(f"   'tensed during relax' person: {raised} exceptions, {shown} of {2 * len(seeds)} squeezes with a "
          f"reason and no score. Goal: 0 exceptions, a reason each: {_verdict(raised == 0 and shown == 2 * len(seeds))}")



def live_rep_rows(args, seeds) -> None:
    from glutescope.guide import session_rep_cues

    print("\n10. Reps through the live pipeline (IMU on: a rep is an EMG burst over a pelvic-tilt rep; single-leg")
    print("   sides from the script's cues). Goal: the scripted number of reps exactly, and 0 squeeze-test")
    print("   contractions counted as reps.")
    for ex in ("demo", "bridges", "single_leg_bridges"):
        exact, squeezes_as_reps, sides_ok = 0, 0, 0
        for seed in seeds:
            s = simulate(ex, seed=seed)
            st = _live(s, cues=_cues(s), rep_cues=session_rep_cues(s.reps), single_leg=ex.startswith("single"))
            want = [r for r in s.reps if r.kind != "squeeze"]
            exact += len(st.contractions) == len(want)
            squeezes_as_reps += sum(any(c.start_s < p.end_s and c.end_s > p.start_s for p in s.phases)
                                    for c in st.contractions)
            if ex.startswith("single"):
                sides_ok += st.rep_sides == tuple(r.side for r in want)
        extra = f", working sides right in {sides_ok}/{len(seeds)}" if ex.startswith("single") else ""
        print(f"   {ex:20s}: rep count exact in {exact}/{len(seeds)}, squeeze contractions counted as reps "
              f"{squeezes_as_reps}{extra}: {_verdict(exact == len(seeds) and squeezes_as_reps == 0)}")


SECTIONS = (envelope_rows, onset_rows, symmetry_rows, rep_count_rows, squeeze_quality_rows, real_gait_onsets,
            mains_detection, left_right_rows, squeeze_gate_rows, live_rep_rows)
"""The printed sections, in order: ``--section K`` runs the K-th."""
N_SECTIONS = 10


if __name__ == "__main__":
    sys.exit(main())
