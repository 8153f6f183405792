"""Myoelectric manifestations of fatigue: median-frequency and amplitude trends.

During a sustained or repeated contraction the sEMG power spectrum compresses towards
lower frequencies as muscle-fibre conduction velocity falls, so the median frequency
(MDF) of the spectrum declines, while the amplitude typically rises as more motor units
are recruited to hold the force [1], [2]. The rate of that decline, normalised to its
initial value, is the classic fatigue index [2], [3].

:func:`fatigue_trend` takes the conditioned EMG of one muscle and the contractions of a
set, computes the MDF and the RMS of each window inside the contractions, and fits a
straight line to each against time: slope in Hz/s (µV/s) and in % of the fitted
initial value per minute.

Caveats, stated where the figures are shown: in dynamic exercise (bridges) the MDF also
moves with force, muscle length and electrode shift over the innervation zone, so a
slope over a set is a trend, not a pure fatigue measure [4]; a set shorter than ~30 s
or with fewer than 3 windows gives no slope.

References
----------
.. [1] De Luca CJ. Myoelectrical manifestations of localized muscular fatigue in
   humans. Crit Rev Biomed Eng 11(4):251-279, 1984.
.. [2] Merletti R, Knaflitz M, De Luca CJ. Myoelectric manifestations of fatigue in
   voluntary and electrically elicited contractions. J Appl Physiol 69(5):1810-1820,
   1990 (normalised rates of change of spectral and amplitude variables).
.. [3] Stulen FB, De Luca CJ. Frequency parameters of the myoelectric signal as a
   measure of muscle conduction velocity. IEEE Trans Biomed Eng 28(7):515-523, 1981.
.. [4] Farina D. Interpretation of the surface electromyogram in dynamic contractions.
   Exerc Sport Sci Rev 34(3):121-127, 2006.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = ["trend_of_windows", "FatigueTrend", "fatigue_trend", "median_frequency_hz"]

DEFAULT_WINDOW_S = 0.5
"""Spectral window, s: 0.5-1 s is the usual epoch for MDF of sEMG [2] (2 Hz resolution)."""
DEFAULT_BAND_HZ = (20.0, 450.0)
"""Band over which the median frequency is taken, Hz (the conditioning band)."""
MIN_WINDOWS = 3
"""Fewest windows that give a slope."""


def median_frequency_hz(x_uV, fs_hz: float, *, band_hz=DEFAULT_BAND_HZ) -> float:
    """Median frequency of one window: the frequency that halves the power in ``band_hz``.

    Parameters
    ----------
    x_uV : array_like, shape (n_samples,)
        One window of conditioned EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    band_hz : (float, float)
        Band searched, Hz (its upper edge is capped at Nyquist).

    Returns
    -------
    float
        Hz, linearly interpolated between bins; NaN when the band holds no power.

    Notes
    -----
    Periodogram of the mean-removed, Hann-windowed samples; the median is where the
    cumulative power crosses half the band's total [3].
    """
    x = _validate.signal_2d("x_uV", np.atleast_2d(np.asarray(x_uV, dtype=float)), 1)[0]
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    lo, hi = (float(b) for b in band_hz)
    if not 0 <= lo < hi:
        raise ValueError(f"band_hz must be (low, high) with 0 <= low < high; got {band_hz!r}")
    if x.size < 8:
        raise ValueError(f"x_uV must hold at least 8 samples; got {x.size}")
    return float(_median_frequencies_hz(x[None, :], fs, lo, hi)[0])


def _median_frequencies_hz(windows: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """`median_frequency_hz` of each row of ``windows`` (n_windows, n_samples), the
    periodograms taken in one batch (per row the same arithmetic as one at a time)."""
    n = windows.shape[1]
    spec = np.abs(np.fft.rfft((windows - windows.mean(axis=1, keepdims=True)) * np.hanning(n), axis=1)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    keep = (f >= lo) & (f <= min(hi, fs / 2))
    f = f[keep]
    df = fs / n
    out = np.full(windows.shape[0], np.nan)
    for i, p in enumerate(spec[:, keep]):
        total = p.sum()
        if not total > 0:
            continue
        # Each bin holds the power of [f - df/2, f + df/2]: the cumulative power reaches
        # c[k] at the upper edge of bin k; interpolate within the bin where it crosses half.
        c = np.cumsum(p)
        k = int(np.searchsorted(c, 0.5 * total))
        below = c[k - 1] if k else 0.0
        frac = (0.5 * total - below) / (c[k] - below)
        out[i] = f[k] - 0.5 * df + frac * df
    return out


@dataclass(frozen=True)
class FatigueTrend:
    """MDF and RMS trends of one muscle over a set."""

    t_s: np.ndarray
    """Centre of each window, s (the time base of the intervals), ``(n_windows,)``."""
    mdf_hz: np.ndarray
    """Median frequency of each window, Hz."""
    rms_uV: np.ndarray
    """RMS of each window, µV."""
    mdf_initial_hz: float | None
    """Fitted MDF at the first window, Hz (None: fewer than ``MIN_WINDOWS`` windows)."""
    mdf_slope_hz_per_s: float | None
    """Slope of the MDF fit, Hz/s (negative: the spectrum compresses, as with fatigue)."""
    mdf_slope_pct_per_min: float | None
    """The same in % of ``mdf_initial_hz`` per minute."""
    rms_initial_uV: float | None
    """Fitted RMS at the first window, µV."""
    rms_slope_uV_per_s: float | None
    """Slope of the RMS fit, µV/s."""
    rms_slope_pct_per_min: float | None
    """The same in % of ``rms_initial_uV`` per minute."""

    @property
    def n_windows(self) -> int:
        return int(self.t_s.size)


def _fit(t: np.ndarray, y: np.ndarray):
    """(value at t[0], slope per s, slope in % of that value per min) of a least-squares line."""
    slope, intercept = np.polyfit(t, y, 1)
    first = intercept + slope * t[0]
    pct = 100.0 * 60.0 * slope / first if first > 0 else None
    return float(first), float(slope), (None if pct is None else float(pct))


def fatigue_trend(emg_uV, fs_hz: float, intervals_s=None, *, window_s: float = DEFAULT_WINDOW_S,
                  band_hz=DEFAULT_BAND_HZ) -> FatigueTrend:
    """Median-frequency and amplitude trends of one muscle over a set of contractions.

    Parameters
    ----------
    emg_uV : array_like, shape (n_samples,)
        Conditioned EMG of one muscle, µV (:mod:`glutesignal.conditioning`); NaN marks
        missing samples, and a window touching one is skipped.
    fs_hz : float
        Sampling rate, Hz.
    intervals_s : sequence of (start_s, end_s), or None
        The contractions of the set, s from the first sample; each holds
        ``floor(duration / window_s)`` consecutive windows from its start. None: the
        whole signal is one interval (a sustained contraction).
    window_s : float
        Window length, s.
    band_hz : (float, float)
        Band of the median frequency, Hz.

    Returns
    -------
    FatigueTrend
        Slopes are None with fewer than :data:`MIN_WINDOWS` windows.
    """
    x = np.asarray(emg_uV, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"emg_uV must be one muscle, shape (n_samples,); got shape {x.shape}")
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    n_win = int(round(_validate.positive("window_s", window_s, " (s)") * fs))
    if n_win < 8:
        raise ValueError(f"window_s must span at least 8 samples; got {window_s!r} s at {fs:g} Hz")
    if intervals_s is None:
        intervals = [(0, x.size)]
    else:
        intervals = []
        for iv in intervals_s:
            a, b = float(iv[0]), float(iv[1])
            if not (np.isfinite(a) and np.isfinite(b) and b >= a):
                raise ValueError(f"each interval must be (start_s, end_s) with end_s >= start_s; got {iv!r}")
            intervals.append((max(0, int(round(a * fs))), min(x.size, int(round(b * fs)))))
    lo, hi = (float(v) for v in band_hz)
    if not 0 <= lo < hi:
        raise ValueError(f"band_hz must be (low, high) with 0 <= low < high; got {band_hz!r}")
    t, mdf, rms = [], [], []
    for a, b in intervals:
        starts = np.arange(a, b - n_win + 1, n_win)
        if starts.size == 0:
            continue
        windows = x[starts[0]:starts[-1] + n_win].reshape(starts.size, n_win)
        whole = np.all(np.isfinite(windows), axis=1)
        windows, starts = windows[whole], starts[whole]
        if starts.size == 0:
            continue
        t.extend(((starts + 0.5 * n_win) / fs).tolist())
        mdf.extend(_median_frequencies_hz(windows, fs, lo, hi).tolist())
        rms.extend(np.sqrt(np.mean(windows ** 2, axis=1)).tolist())
    return trend_of_windows(t, mdf, rms)


def trend_of_windows(t_s, mdf_hz, rms_uV) -> FatigueTrend:
    """The trends fitted to windows already measured (e.g. by `fatigue_trend` per
    contraction, their times moved onto one time base): as `fatigue_trend` fits them.

    Parameters
    ----------
    t_s, mdf_hz, rms_uV : array_like, shape (n_windows,)
        Window centres (s), median frequencies (Hz, NaN where the band held no power)
        and RMS (µV), in time order.

    Returns
    -------
    FatigueTrend
    """
    t_a, mdf_a, rms_a = (np.asarray(v, dtype=float).reshape(-1) for v in (t_s, mdf_hz, rms_uV))
    if not t_a.shape == mdf_a.shape == rms_a.shape:
        raise ValueError(f"t_s, mdf_hz and rms_uV must have one length; got {t_a.size}, {mdf_a.size}, {rms_a.size}")
    ok = np.isfinite(mdf_a)
    if ok.sum() < MIN_WINDOWS:
        return FatigueTrend(t_a, mdf_a, rms_a, None, None, None, None, None, None)
    m0, ms, mp = _fit(t_a[ok], mdf_a[ok])
    r0, rs, rp = _fit(t_a, rms_a)
    return FatigueTrend(t_a, mdf_a, rms_a, m0, ms, mp, r0, rs, rp)
