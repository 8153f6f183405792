"""Accuracy of the signal core against the body model's truth, on seeded sessions.

Prints: envelope/activation correlation, onset error (median, p95) at 10 and 20 dB SNR,
symmetry-index error on bridges, rep-count errors from the pelvis tilt, squeeze-score
ordering of the weaker side.

Run: PYTHONPATH=host:signal python benchmarks/signal_accuracy.py [--seeds N]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from glutesignal.bodymodel import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import linear_envelope, moving_rms
from glutesignal.onsets import detect_bursts
from glutesignal.pelvis import pelvis_angles, segment_tilt_reps
from glutesignal.scores import squeeze_quality
from glutesignal.symmetry import symmetry_over_reps


def onset_errors_s(seeds, snr_db, tkeo):
    """Detected minus true onset (true: activation at 10 % of its rise), per rep and side."""
    errors, missed, extra = [], 0, 0
    for seed in seeds:
        s = simulate("bridges", seed=seed, snr_db=snr_db)
        y = condition(s.emg_uV, s.emg_fs_hz)
        bursts = detect_bursts(y, s.emg_fs_hz, tkeo=tkeo)
        t = s.t_emg_s()
        for ch in range(len(s.channels)):
            ons = np.array([b.on_s for b in bursts if b.channel == ch])
            a = s.activation[ch]
            matched = 0
            for r in s.reps:
                m = (t >= r.start_s) & (t < r.end_s)
                base, peak = a[m][0], a[m].max()
                t_true = t[m][np.argmax(a[m] >= base + 0.1 * (peak - base))]
                near = ons[np.abs(ons - t_true) < 1.0]
                if near.size:
                    errors.append(near[0] - t_true)
                    matched += 1
                else:
                    missed += 1
            extra += max(0, ons.size - matched)
    return np.array(errors), missed, extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="sessions per measure (default 5)")
    args = parser.parse_args(argv)
    seeds = range(args.seeds)

    print(f"glutesignal accuracy on body-model sessions, seeds 0..{args.seeds - 1}")
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

    print("\n2. Onset error, bridges (detected - true; true = 10 % of the rise)")
    for snr in (20.0, 10.0):
        for tkeo in (False, True):
            e, missed, extra = onset_errors_s(seeds, snr, tkeo)
            label = "TKEO" if tkeo else "x^2 "
            print(f"   SNR {snr:4.0f} dB {label}: |error| median {1000 * np.median(np.abs(e)):6.1f} ms, "
                  f"p95 {1000 * np.percentile(np.abs(e), 95):6.1f} ms, signed median {1000 * np.median(e):+6.1f} ms, "
                  f"missed {missed}, extra {extra} (of {len(e) + missed})")

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
              f"truth {s.true_symmetry_index_pct:6.2f} %  louder {res.louder_side}")
    print(f"   SI error mean {np.mean(errs):+.2f} points, max |error| {np.max(np.abs(errs)):.2f}; "
          f"95 % CI covers truth in {covered}/{len(errs)}")

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
        print(f"   seed {seed}: right {tot['right']:5.1f}, left {tot['left']:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
