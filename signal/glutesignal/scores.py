"""Scores: per-rep bridge results and squeeze quality (0-100 with its parts).

Definitions, thresholds and their sources are in ``docs/scores.md``; the constants
below are those thresholds. Every score is a pure function of envelopes (µV or %MVC)
and pelvis angles, so a report recomputed from a recording equals what was shown live.

References
----------
.. [1] Robinson RO, Herzog W, Nigg BM. J Manipulative Physiol Ther 10(4):172-176, 1987
   (symmetry index).
.. [2] Burden A. How should we normalize electromyograms obtained from healthy
   participants? J Electromyogr Kinesiol 20(6):1023-1035, 2010 (%MVC).
.. [3] Hodges PW, Bui BH. A comparison of computer-based methods for the determination of
   onset of muscle activity using surface electromyography. Electroencephalogr Clin
   Neurophysiol 101(6):511-519, 1996 (onset/relaxation relative to baseline).
.. [4] Hug F. Can muscle coordination be precisely studied by surface electromyography?
   J Electromyogr Kinesiol 21(1):1-12, 2011 (crosstalk and overflow between muscles).
.. [5] Di Fabio RP. Reliability of computerized surface electromyography for determining
   the onset of muscle activity. Phys Ther 67(1):43-48, 1987 (onset at baseline + 3 SD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate
from .normalise import above_rest
from .symmetry import louder_side, symmetry_index_pct

__all__ = ["BridgeRep", "SqueezeScore", "bridge_reps", "not_scored", "squeeze_quality", "squeeze_window_s"]

STRENGTH_TARGET_PCT_MVC = 50.0
"""Peak %MVC that earns full strength marks (a hard voluntary squeeze)."""
SPEED_FULL_S, SPEED_ZERO_S = 0.6, 2.0
"""Cue-to-90 %-of-peak times (s) scoring 100 and 0 (linear in between)."""
STEADY_FULL_CV, STEADY_ZERO_CV = 0.05, 0.25
"""Hold coefficients of variation scoring 100 and 0."""
RELAX_FULL_S, RELAX_ZERO_S = 0.5, 2.0
"""Relax-cue-to-10 %-of-peak times (s) scoring 100 and 0."""
OVERFLOW_FULL, OVERFLOW_ZERO = 0.15, 0.6
"""Other-side activity as a fraction of the asked side scoring 100 and 0."""
PEAK_PERCENTILE = 90.0
"""Percentile of the hold's envelope taken as its peak."""
STEADY_BIN_S = 0.25
"""Bin over which the envelope is averaged before its CV is taken, s."""
MOTION_FULL_DEG, MOTION_ZERO_DEG = 1.0, 5.0
"""Largest pelvis excursion (tilt, obliquity or rotation) scoring 100 and 0, degrees."""


DETECT_K = 5.0
"""A squeeze counts as a contraction when its peak rises above the pre-cue rest by more
than ``DETECT_K`` standard deviations of the rest's envelope. Onset detectors put the
threshold at 1-3 SD of the baseline for a single sample (Hodges & Bui 1996 [3]; Di Fabio
1987 [5]); the peak here is the 90th percentile of a 5 s hold of a correlated 100 ms RMS
envelope, which noise alone lifts above the rest's median: on the body model's
"no_squeeze" person at most 2.6 SD (20 seeds x 6/10/20/30 dB SNR, both sides). 5 SD keeps
a factor ~2 over that, while a 5 %MVC squeeze at 20 dB SNR (>= 9.8 SD) and a 20 %MVC one
at 10 dB (>= 10.6 SD) still clear it; a 5 %MVC squeeze at 10 dB (~2.5 SD) is below the
noise and is rightly not scored (tests/signal/test_scores.py)."""


def _linear_score(value: float | None, full: float, zero: float) -> float:
    """100 at or below ``full``, 0 at or above ``zero`` or when unknown, linear in between."""
    if value is None or not np.isfinite(value):
        return 0.0
    return float(100.0 * np.clip((zero - value) / (zero - full), 0.0, 1.0))


@dataclass(frozen=True)
class SqueezeScore:
    """Quality of one cued squeeze of one side, 0-100, with its parts and measures.

    A squeeze with no detected contraction (``detected`` False) has no score: ``total``
    and the parts are None and ``reason`` says why. Measures are None when they could
    not be taken, never inf or nan.
    """

    side: str
    """Side asked to squeeze: "left" or "right"."""
    detected: bool
    """A contraction was found: the peak rose above the pre-cue rest by more than
    ``DETECT_K`` x the rest's standard deviation."""
    reason: str
    """Why there is no score ("" when scored)."""
    total: float | None
    """Mean of the five parts, 0-100 (None: not scored)."""
    strength: float | None
    """0-100 from ``amplitude``: in % of the side's reference against 50 %, or relative to
    the stronger side's ``amplitude`` (the same amplitude in both modes)."""
    speed: float | None
    """0-100 from ``t90_s`` (0 when the plateau was never reached)."""
    steadiness: float | None
    """0-100 from ``hold_cv``."""
    relaxation: float | None
    """0-100 from ``relax_s`` (0 when not back within ``after_s``)."""
    isolation: float | None
    """0-100: mean of the overflow score and (with IMU) the pelvis-motion score."""
    peak: float
    """Rise of the asked side above its pre-cue rest: 90th percentile of the hold minus
    the rest's median, in the envelope's unit (µV, or %MVC for a normalised envelope);
    negative when the squeeze was quieter than the rest before it."""
    rest: float
    """Median envelope of the asked side in the rest before the cue (envelope unit)."""
    rest_sd: float
    """Standard deviation of that rest envelope (envelope unit): the detection noise."""
    amplitude: float | None
    """The hold's 90th percentile with the rest removed in quadrature,
    sqrt(P² - rest²) (`glutesignal.normalise.above_rest`): what strength compares."""
    t90_s: float | None
    """Cue to 90 % of the plateau (median of the hold's second half) above rest, s."""
    hold_cv: float | None
    """CV of the envelope (in 0.25 s bins) from ``t90`` to the relax cue."""
    relax_s: float | None
    """Relax cue to within 10 % of the rise above rest, s (None: not within ``after_s``)."""
    overflow: float | None
    """Other side's mean rise above its rest over the asked side's, during the hold."""
    motion_deg: float | None
    """Largest pelvis excursion during the squeeze, degrees (None without IMU)."""
    strength_basis: str = ""
    """What strength is relative to: "%MVC", "stronger side" or "" (not scored)."""


def not_scored(side: str, reason: str, *, peak: float = float("nan"), rest: float = float("nan"),
               rest_sd: float = float("nan")) -> SqueezeScore:
    """A squeeze without a score, carrying the reason to show in its place."""
    return SqueezeScore(side, False, reason, None, None, None, None, None, None, float(peak), float(rest),
                        float(rest_sd), None, None, None, None, None, None, "")


def squeeze_quality(envelope, fs_hz: float, *, side: str, cue_s: float, relax_cue_s: float,
                    channel_left: int = 0, channel_right: int = 1, baseline_s: float = 2.0,
                    after_s: float = 3.0, mvc=None, reference_peak: float | None = None,
                    tilt_deg=None, obliquity_deg=None, rotation_deg=None,
                    imu_fs_hz: float | None = None, imu_start_s: float = 0.0,
                    detect_k: float = DETECT_K) -> SqueezeScore:
    """Score one cued squeeze of the squeeze test, if it was a contraction at all.

    Live, call it once the relax window after the relax cue has been seen (``relax_cue_s
    + after_s`` on the stream clock), with the stretch of the envelope that
    :func:`squeeze_window_s` names (cue times then relative to that stretch's first
    sample) and, for isolation, the pelvis angles with ``imu_start_s`` placing their first
    sample on the same axis. The score equals the one computed on the whole recording.

    Parameters
    ----------
    envelope : array_like, shape (n_channels, n_samples)
        Envelope (e.g. 100 ms moving RMS) of the whole test, µV or %MVC.
    fs_hz : float
        Envelope sampling rate, Hz.
    side : {"left", "right"}
        Side asked to squeeze.
    cue_s, relax_cue_s : float
        Times of the squeeze cue and of the following relax cue, s.
    channel_left, channel_right : int
        Rows of the left and right glute in ``envelope``.
    baseline_s : float
        Rest before the cue used as baseline, s.
    after_s : float
        Time after the relax cue searched for relaxation, s.
    mvc : array_like of 2 floats (left, right) or None
        Reference amplitude of each side above rest (MVC or a submaximal reference, same
        unit as ``envelope``, rest removed in quadrature): strength is then ``amplitude``
        in % of it against 50 % [2]. None: ``reference_peak`` is used.
    reference_peak : float or None
        Without ``mvc``: the stronger side's ``amplitude`` in the same test; strength =
        100 x amplitude / reference_peak (capped). Both None: strength is 100 (the side
        is its own reference). Strength compares ``amplitude`` in every mode.
    tilt_deg, obliquity_deg, rotation_deg : array_like (n_imu,) or None
        Pelvis angles for the isolation score (all three, with ``imu_fs_hz``).
    imu_fs_hz : float or None
        IMU rate, Hz.
    imu_start_s : float
        Time of the first pelvis-angle sample on the envelope's time axis, s (0 when both
        start together; the angles must start by ``cue_s``).
    detect_k : float
        Detection gate, multiples of the rest's standard deviation (``DETECT_K``).

    Returns
    -------
    SqueezeScore
        Scored, or ``detected`` False with the reason and no parts.

    Raises
    ------
    ValueError
        For arguments no recording can produce (wrong side, cue times outside the
        envelope, a non-positive ``mvc`` or ``reference_peak``). What the person did never
        raises: no contraction, or a quieter squeeze than the rest, is a reason.

    References
    ----------
    See the module docstring ([2], [3], [5]).
    """
    env = _validate.signal_2d("envelope", envelope)
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    k_detect = _validate.positive("detect_k", detect_k)
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right'; got {side!r}")
    if not (0.0 <= cue_s < relax_cue_s):
        raise ValueError(f"cue_s must be >= 0 and before relax_cue_s; got cue_s={cue_s!r}, relax_cue_s={relax_cue_s!r}")
    n = env.shape[1]
    if relax_cue_s * fs >= n:
        raise ValueError(f"relax_cue_s {relax_cue_s:g} s is beyond the envelope ({n / fs:g} s)")
    mv = None
    if mvc is not None:
        mv = np.asarray(mvc, dtype=float).reshape(-1)
        if mv.shape != (2,) or np.any(~np.isfinite(mv)) or np.any(mv <= 0):
            raise ValueError(f"mvc must be two positive values (left, right); got {mvc!r}")
    ref = None if reference_peak is None or mv is not None else _validate.positive("reference_peak", reference_peak)
    asked = channel_left if side == "left" else channel_right
    other = channel_right if side == "left" else channel_left
    k_cue, k_relax = int(round(cue_s * fs)), int(round(relax_cue_s * fs))
    k_base = max(0, k_cue - int(round(baseline_s * fs)))
    k_after = min(n, k_relax + int(round(after_s * fs)))
    if k_base >= k_cue:
        raise ValueError(f"cue_s {cue_s:g} s leaves no baseline before the cue")
    motion = None
    angles = (tilt_deg, obliquity_deg, rotation_deg)
    if any(a is not None for a in angles):
        if any(a is None for a in angles) or imu_fs_hz is None:
            raise ValueError("tilt_deg, obliquity_deg, rotation_deg and imu_fs_hz must be given together")
        ifs = _validate.positive("imu_fs_hz", imu_fs_hz, " (Hz)")
        if not (np.isfinite(imu_start_s) and imu_start_s <= cue_s):
            raise ValueError(f"imu_start_s must be finite and not after cue_s ({cue_s:g} s); got {imu_start_s!r}")
        i_base = max(0, int(round((cue_s - baseline_s - imu_start_s) * ifs)))
        i_cue, i_end = int(round((cue_s - imu_start_s) * ifs)), int(round((relax_cue_s - imu_start_s) * ifs))
        motion = 0.0
        for a in angles:
            arr = np.asarray(a, dtype=float).reshape(-1)
            if arr.size < i_end:
                raise ValueError(f"pelvis angles must cover relax_cue_s {relax_cue_s:g} s; got {arr.size} samples")
            r0 = float(np.median(arr[i_base:max(i_cue, i_base + 1)]))
            motion = max(motion, float(np.max(np.abs(arr[i_cue:i_end] - r0))))
    x, y = env[asked], env[other]
    base_x, base_y = float(np.median(x[k_base:k_cue])), float(np.median(y[k_base:k_cue]))
    noise = float(np.std(x[k_base:k_cue]))
    hold = x[k_cue:k_relax]
    # A robust peak: the envelope's single largest value is mostly estimation noise.
    peak_abs = float(np.percentile(hold, PEAK_PERCENTILE))
    peak = peak_abs - base_x
    if not peak > k_detect * noise:
        if peak <= 0:
            why = (f"no contraction detected: the {side} glute was no more active during the squeeze than in "
                   f"the rest before it (rise {peak:+.3g}; tensed during the relax?)")
        else:
            why = (f"no contraction detected: rise {peak:.3g} above the rest is below {k_detect:g} x the "
                   f"rest's spread ({noise:.3g})")
        return not_scored(side, why, peak=peak, rest=base_x, rest_sd=noise)
    # Speed: cue to 90 % of the rise to the plateau (median of the hold's second half,
    # steadier than the peak, which wavering and estimator noise push up).
    plateau_level = float(np.median(hold[hold.size // 2:])) - base_x
    reach = np.flatnonzero(hold >= base_x + 0.9 * plateau_level) if plateau_level > 0 else np.array([], int)
    t90 = float(reach[0] / fs) if reach.size else None
    k90 = k_cue + (int(reach[0]) if reach.size else 0)
    # Steadiness is about slow wavering of the effort: average the envelope over
    # STEADY_BIN_S bins first, so the estimator's own sample noise does not count.
    plateau = x[k90:k_relax]
    n_bin = max(1, int(round(STEADY_BIN_S * fs)))
    n_bins = plateau.size // n_bin
    hold_cv = None
    if n_bins >= 2:
        bins = plateau[: n_bins * n_bin].reshape(n_bins, n_bin).mean(axis=1)
        if bins.mean() > 0:
            hold_cv = float(bins.std() / bins.mean())
    # Relaxation: relax cue to back within 10 % of the rise above rest.
    tail = x[k_relax:k_after]
    back = np.flatnonzero(tail <= base_x + 0.1 * peak)
    relax = float(back[0] / fs) if back.size else None
    # Overflow into the other side during the hold.
    asked_mean = float(np.mean(x[k90:k_relax]) - base_x)
    other_mean = float(np.mean(y[k90:k_relax]) - base_y)
    overflow = max(other_mean, 0.0) / asked_mean if asked_mean > 0 else None

    # An RMS envelope adds the muscle and the noise floor in power: remove the rest in
    # quadrature, as the calibration's reference does, so the two compare like with like.
    amplitude = above_rest(peak_abs, base_x)
    if mv is not None:
        peak_pct = 100.0 * amplitude / mv[0 if side == "left" else 1]
        strength = float(100.0 * min(peak_pct / STRENGTH_TARGET_PCT_MVC, 1.0))
        basis = "%MVC"
    elif ref is not None:
        strength = float(100.0 * np.clip(amplitude / ref, 0.0, 1.0))
        basis = "stronger side"
    else:
        strength, basis = 100.0, "own"
    speed = _linear_score(t90, SPEED_FULL_S, SPEED_ZERO_S)
    steadiness = _linear_score(hold_cv, STEADY_FULL_CV, STEADY_ZERO_CV)
    relaxation = _linear_score(relax, RELAX_FULL_S, RELAX_ZERO_S)
    overflow_score = _linear_score(overflow, OVERFLOW_FULL, OVERFLOW_ZERO)
    isolation = overflow_score
    if motion is not None:
        isolation = 0.5 * (overflow_score + _linear_score(motion, MOTION_FULL_DEG, MOTION_ZERO_DEG))
    total = float(np.mean([strength, speed, steadiness, relaxation, isolation]))
    return SqueezeScore(side, True, "", total, strength, speed, steadiness, relaxation, isolation, peak, base_x,
                        noise, amplitude, t90, hold_cv, relax, overflow, motion, basis)


def squeeze_window_s(cue_s: float, relax_cue_s: float, *, baseline_s: float = 2.0,
                     after_s: float = 3.0) -> tuple[float, float]:
    """The stretch of the stream :func:`squeeze_quality` reads for one cued squeeze.

    Parameters
    ----------
    cue_s, relax_cue_s : float
        Squeeze and relax cue times on the stream clock, s.
    baseline_s, after_s : float
        As in :func:`squeeze_quality`.

    Returns
    -------
    (start_s, end_s) : tuple of float
        Keep the envelope (and pelvis angles) from ``start_s`` to ``end_s``; score once
        the stream has reached ``end_s``, passing ``cue_s - start_s`` and
        ``relax_cue_s - start_s`` as the cue times.
    """
    baseline_s = _validate.positive("baseline_s", baseline_s, " (s)")
    after_s = _validate.positive("after_s", after_s, " (s)")
    if not (cue_s - baseline_s >= 0.0 and cue_s < relax_cue_s):
        raise ValueError(f"cue_s must leave baseline_s ({baseline_s:g} s) of stream before it and precede "
                         f"relax_cue_s; got cue_s={cue_s!r}, relax_cue_s={relax_cue_s!r}")
    return float(cue_s - baseline_s), float(relax_cue_s + after_s)


@dataclass(frozen=True)
class BridgeRep:
    """One bridge rep: activation per side, asymmetry, hip drop, time under tension."""

    index: int
    """Rep number from 0."""
    start_s: float
    """Start of the rep, s."""
    end_s: float
    """End of the rep, s."""
    peak_left: float
    """Peak envelope of the left glute in the rep (unit of the envelope)."""
    peak_right: float
    """Peak envelope of the right glute."""
    mean_left: float
    """Mean envelope of the left glute over the rep."""
    mean_right: float
    """Mean envelope of the right glute over the rep."""
    si_pct: float
    """Symmetry index of the means, % (right higher +)."""
    louder_side: str
    """"left", "right", or "none" inside the +/-10 % no-clear-difference band."""
    hip_drop_deg: float | None
    """Largest |obliquity| change from the rep start, degrees (None without IMU)."""
    time_under_tension_s: float
    """Time the mean of both sides' envelopes is above half its rep peak, s."""


def bridge_reps(envelope, fs_hz: float, reps, *, channel_left: int = 0, channel_right: int = 1,
                obliquity_deg=None, imu_fs_hz: float | None = None) -> tuple[BridgeRep, ...]:
    """Per-rep bridge results.

    Parameters
    ----------
    envelope : array_like, shape (n_channels, n_samples)
        Envelope of the session, µV or %MVC.
    fs_hz : float
        Envelope sampling rate, Hz.
    reps : sequence of objects with ``start_s`` and ``end_s``
        Rep intervals, e.g. from :func:`glutesignal.pelvis.segment_tilt_reps`.
    channel_left, channel_right : int
        Rows of the left and right glute.
    obliquity_deg : array_like (n_imu,) or None
        Pelvic obliquity for the hip drop, with ``imu_fs_hz``.
    imu_fs_hz : float or None
        IMU rate, Hz.

    Returns
    -------
    tuple of BridgeRep
    """
    env = _validate.signal_2d("envelope", envelope)
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    obl = None
    if obliquity_deg is not None:
        if imu_fs_hz is None:
            raise ValueError("imu_fs_hz must be given with obliquity_deg")
        ifs = _validate.positive("imu_fs_hz", imu_fs_hz, " (Hz)")
        obl = np.asarray(obliquity_deg, dtype=float).reshape(-1)
    out = []
    for i, rep in enumerate(reps):
        a, b = int(round(rep.start_s * fs)), int(round(rep.end_s * fs))
        if not (0 <= a < b <= env.shape[1]):
            raise ValueError(f"rep {i} ({rep.start_s:g}-{rep.end_s:g} s) is outside the envelope "
                             f"(0-{env.shape[1] / fs:g} s)")
        left, right = env[channel_left, a:b], env[channel_right, a:b]
        ml, mr = float(left.mean()), float(right.mean())
        si = symmetry_index_pct(ml, mr) if ml + mr > 0 else 0.0
        both = 0.5 * (left + right)
        tut = float(np.count_nonzero(both > 0.5 * both.max()) / fs)
        drop = None
        if obl is not None:
            ia, ib = int(round(rep.start_s * ifs)), min(int(round(rep.end_s * ifs)), obl.size)
            if ia < ib:
                drop = float(np.max(np.abs(obl[ia:ib] - obl[ia])))
        out.append(BridgeRep(i, float(rep.start_s), float(rep.end_s), float(left.max()), float(right.max()),
                             ml, mr, si, louder_side(si), drop, tut))
    return tuple(out)
