"""MVC normalisation: the reference amplitude from MVC trials, %MVC, repeatability.

References
----------
.. [1] Burden A. How should we normalize electromyograms obtained from healthy
   participants? What we have learned from over 25 years of research. J Electromyogr
   Kinesiol 20(6):1023-1035, 2010 (peak of a 500 ms-1 s moving average of the envelope
   in the MVC trial).
.. [2] Konrad P. The ABC of EMG. Noraxon, 2005 (MVC: 3 trials of 3-5 s, 1 s window).
.. [3] Halaki M, Ginn K. Normalization of EMG signals: to normalize or not to normalize
   and what to normalize to? In: Computational Intelligence in Electromyography
   Analysis, InTech, 2012 (trial-to-trial reliability).
.. [4] Contreras B, Vigotsky AD, Schoenfeld BJ, Beardsley C, Cronin J. A comparison of
   two gluteus maximus EMG maximum voluntary isometric contraction positions. PeerJ
   3:e1261, 2015 (the standing glute squeeze and the prone bent-leg hip extension).
.. [5] JCGM 100:2008. Evaluation of measurement data - Guide to the expression of
   uncertainty in measurement (GUM), 4.2.3 (standard uncertainty of a mean of n
   observations: s / sqrt(n)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = ["MvcResult", "ReferenceResult", "above_rest", "mvc_from_trials", "percent_mvc", "reference_from_trials"]

DEFAULT_AVERAGE_S = 0.5
"""Moving-average window over the envelope in which the MVC peak is taken, s (Burden [1])."""
REPEATABLE_CV_PCT = 10.0
"""Trial-to-trial CV below which the MVC counts as repeatable, %."""


@dataclass(frozen=True)
class MvcResult:
    """MVC reference per channel from one or more trials."""

    mvc: np.ndarray
    """Reference amplitude per channel (unit of the envelope), the largest trial peak, ``(n_channels,)``."""
    trial_peaks: np.ndarray
    """Peak of each trial per channel, ``(n_trials, n_channels)``."""
    cv_pct: np.ndarray
    """Trial-to-trial coefficient of variation of the peaks per channel, % (nan with one trial)."""
    repeatable: np.ndarray
    """Per channel: at least two trials and ``cv_pct`` < 10 %."""
    average_s: float
    """Moving-average window used, s."""


def mvc_from_trials(envelopes, fs_hz: float, *, average_s: float = DEFAULT_AVERAGE_S) -> MvcResult:
    """MVC amplitude from MVC trials: the peak of a moving average of the envelope.

    Parameters
    ----------
    envelopes : sequence of array_like, each (n_channels, n_samples)
        Envelope (e.g. moving RMS, µV) of each MVC trial.
    fs_hz : float
        Envelope sampling rate, Hz.
    average_s : float
        Moving-average window, s (default 0.5, Burden 2010 [1]).

    Returns
    -------
    MvcResult
    """
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    n_avg = max(1, int(round(_validate.positive("average_s", average_s, " (s)") * fs)))
    trials = list(envelopes)
    if not trials:
        raise ValueError("envelopes must hold at least one MVC trial; got none")
    peaks = []
    n_ch = None
    for i, env in enumerate(trials):
        x = _validate.signal_2d(f"envelopes[{i}]", env, n_ch)
        n_ch = x.shape[0]
        if x.shape[1] < n_avg:
            raise ValueError(f"envelopes[{i}] must be at least average_s={average_s:g} s long; got {x.shape[1] / fs:g} s")
        c = np.cumsum(np.concatenate([np.zeros((n_ch, 1)), x], axis=1), axis=1)
        peaks.append(((c[:, n_avg:] - c[:, :-n_avg]) / n_avg).max(axis=1))
    p = np.array(peaks)
    if p.shape[0] >= 2:
        cv = 100.0 * p.std(axis=0, ddof=1) / p.mean(axis=0)
    else:
        cv = np.full(p.shape[1], np.nan)
    repeatable = (p.shape[0] >= 2) & (cv < REPEATABLE_CV_PCT)
    mvc = p.max(axis=0)
    if np.any(mvc <= 0):
        raise ValueError(f"MVC trials must show activity on every channel; got peak {mvc}")
    return MvcResult(mvc, p, cv, np.asarray(repeatable), float(n_avg / fs))


def percent_mvc(envelope, mvc) -> np.ndarray:
    """Envelope in %MVC.

    Parameters
    ----------
    envelope : array_like, shape (n_channels, n_samples)
        Envelope, same unit as ``mvc``.
    mvc : array_like, shape (n_channels,)
        MVC reference per channel (e.g. ``MvcResult.mvc``), > 0.

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        100 x envelope / mvc.
    """
    x = _validate.signal_2d("envelope", envelope, allow_empty=True)
    m = np.asarray(mvc, dtype=float).reshape(-1)
    if m.shape != (x.shape[0],) or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"mvc must be {x.shape[0]} positive finite values; got {mvc!r}")
    return 100.0 * x / m[:, None]


def above_rest(envelope, rest):
    """Amplitude above a rest level for an RMS envelope: sqrt(max(envelope² - rest², 0)).

    An RMS envelope adds independent sources in power (the muscle's sEMG and the
    electrode/amplifier noise floor), so the rest is removed in quadrature; subtracting
    it linearly over-removes it from the weaker side and inflates an asymmetry (on the
    body model by ~3 SI points at 20 dB SNR).

    Parameters
    ----------
    envelope, rest : float or array_like
        RMS envelope and rest level, same unit (broadcast).

    Returns
    -------
    float or ndarray
    """
    e, r = np.asarray(envelope, dtype=float), np.asarray(rest, dtype=float)
    out = np.sqrt(np.maximum(e * e - r * r, 0.0))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class ReferenceResult:
    """A one-channel reference contraction from several trials, as an amplitude above rest."""

    reference: float
    """The mean amplitude above rest of the accepted (detected) trials (unit of the
    envelope), or nan when no trial was a contraction."""
    trial_amplitudes: tuple[float, ...]
    """Each trial's amplitude: the mean envelope over its steady hold, rest removed in
    quadrature (:func:`above_rest`)."""
    detected: tuple[bool, ...]
    """Per trial: the hold's mean exceeds the rest's median by ``detect_k`` x the rest's SD;
    the accepted trials, those the reference averages."""
    cv_pct: float
    """Trial-to-trial CV of the accepted amplitudes, % (nan with fewer than 2)."""
    repeatable: bool
    """Every trial detected, at least two, and ``cv_pct`` < ``REPEATABLE_CV_PCT``."""

    @property
    def n_accepted(self) -> int:
        """Number of trials the reference averages."""
        return sum(self.detected)

    @property
    def se_pct(self) -> float:
        """Standard uncertainty of the reference from its trials' spread, % of it:
        cv_pct / sqrt(n_accepted) (GUM 4.2.3 [5]); nan with fewer than 2 accepted trials."""
        return self.cv_pct / float(np.sqrt(self.n_accepted)) if self.n_accepted >= 2 else float("nan")


def reference_from_trials(holds, rests, *, detect_k: float = 5.0) -> ReferenceResult:
    """Reference amplitude of one channel from repeated reference contractions.

    Each trial's amplitude is the mean envelope over the steady part of its hold, with
    the rest just before it removed in quadrature (:func:`above_rest`), so the noise floor
    of the electrodes (which differs between sides and sessions) is not part of the
    reference. The reference is the **mean of the accepted trials** (those that are a
    contraction), and the trials' CV says whether the effort was repeatable [3].

    Why the mean, not the best trial or a peak: the reference is a denominator, and the
    left/right index compares two of them, so what matters is how far each side's
    reference lands from the same fraction of that muscle's capacity. Repeated reference
    holds of one person vary in effort by a few per cent (within the 10 % CV that is
    accepted as repeatable [2], [3]); over n trials with spread s the mean is off by
    s / sqrt(n) (0.58 s for 3), the largest of 3 by 0.75 s around a level 0.85 s too high
    (Gaussian order statistics). On the body model (1.4x gain on one side, 40 seeded
    sessions, ``benchmarks/signal_accuracy.py``) that is a calibrated SI error SD of 3.1
    points with the mean against 3.6 with the best of 3. The mean over a multi-second
    steady hold is used rather than the peak of a 0.5 s moving average [1] for the same
    reason: the peak of a short window adds the motor-unit variability of the envelope
    (a few per cent per side) to each side's reference.

    Parameters
    ----------
    holds, rests : sequence of array_like, each (n_samples,)
        Envelope of each hold's steady part and of the rest before it, same unit (e.g.
        µV), one channel.
    detect_k : float
        A trial is a contraction when its mean exceeds the rest's median by ``detect_k``
        x the rest's SD (as the squeeze score's gate, ``glutesignal.scores.DETECT_K``).

    Returns
    -------
    ReferenceResult
    """
    k = _validate.positive("detect_k", detect_k)
    holds, rests = list(holds), list(rests)
    if not holds or len(holds) != len(rests):
        raise ValueError(f"holds and rests must be non-empty and of equal length; got {len(holds)} and {len(rests)}")
    amps, detected = [], []
    for i, (h, r) in enumerate(zip(holds, rests)):
        hold = _validate.signal_2d(f"holds[{i}]", np.atleast_2d(np.asarray(h, dtype=float)), 1)[0]
        rest = _validate.signal_2d(f"rests[{i}]", np.atleast_2d(np.asarray(r, dtype=float)), 1)[0]
        level, rest_level = float(hold.mean()), float(np.median(rest))
        amps.append(above_rest(level, rest_level))
        detected.append(bool(level - rest_level > k * float(np.std(rest))))
    good = np.array([a for a, d in zip(amps, detected) if d])
    cv = float(100.0 * good.std(ddof=1) / good.mean()) if good.size >= 2 else float("nan")
    repeatable = bool(all(detected) and len(amps) >= 2 and cv < REPEATABLE_CV_PCT)
    reference = float(good.mean()) if good.size else float("nan")
    return ReferenceResult(reference, tuple(amps), tuple(detected), cv, repeatable)
