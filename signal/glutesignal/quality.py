"""Signal quality per EMG channel: lead-off, dead or quantisation-only front end,
saturation, implausible scale (a wrong gain), mains, motion, noise, SNR.

A score from a bad electrode is flagged, not hidden: these measures go beside every
score in the UI and the report.

References
----------
.. [1] Fraser GD, Chan ADC, Green JR, MacIsaac DT. Automated biosignal quality analysis
   for electromyography using a one-class support vector machine. IEEE Trans Instrum Meas
   63(12):2919-2930, 2014 (contaminant types: power line, motion, saturation, noise).
.. [2] Sinderby C, Lindstrom L, Grassino AE. Automatic assessment of electromyogram
   quality. J Appl Physiol 79(5):1803-1815, 1995.
.. [3] De Luca CJ, Gilmore LD, Kuznetsov M, Roy SH. J Biomech 43:1573-1579, 2010
   (motion artefact power below 20 Hz).
.. [4] De Luca CJ. The use of surface electromyography in biomechanics. J Appl Biomech
   13:135-163, 1997 (sEMG amplitude 0-10 mV peak to peak, i.e. a few mV RMS at most).
.. [5] Huigen E, Peper A, Grimbergen CA. Investigation into the origin of the noise of
   surface electrodes. Med Biol Eng Comput 40:332-338, 2002 (electrode noise of the
   order of 1 µV RMS in the EMG band).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import fft as _fft
from scipy import signal as _sig

from . import _validate

__all__ = ["AdcScale", "ChannelQuality", "MainsEstimate", "channel_quality", "detect_mains"]

FLAT_UV = 0.5
"""Raw standard deviation below which a channel is flat (lead off / no signal), µV."""
MAINS_RATIO_FAIR, MAINS_RATIO_POOR = 0.2, 0.5
"""Fraction of raw power at mains lines above which quality is fair / poor."""
MAINS_RMS_FLOOR_UV = 30.0
"""Mains RMS under which hum is not flagged, µV: the notch removes a hum this small, and
at rest it is a large fraction of a small total (the electrode is fine); a loose
electrode picks up hundreds of µV."""
MOTION_RATIO_FAIR, MOTION_RATIO_POOR = 0.3, 0.6
"""Fraction of raw power below 20 Hz above which quality is fair / poor."""
MOTION_RMS_FLOOR_UV = 40.0
"""Below-20 Hz RMS under which motion is not flagged, µV: on a muscle at rest the raw
power is so small that ordinary baseline wander makes the fraction large, yet the
band-pass removes it and nothing is at risk (no clipping, no leakage into the band)."""
SNR_FAIR_DB, SNR_POOR_DB = 10.0, 3.0
"""Contraction-to-rest SNR below which quality is fair / poor, dB."""
SATURATION_FAIR, SATURATION_POOR = 0.001, 0.01
"""Fraction of saturated samples above which quality is fair / poor."""
QUANTISED_POOR_LSB = 1.0
"""Conditioned RMS of the loudest 10 % of windows, in ADC steps, below which a channel
carries only quantisation noise: uniform quantisation alone is 0.29 steps RMS and a
dead input toggling between two codes about 0.5; a live EMG at rest 1 step RMS already
spans +-3 codes. Below this nothing of the muscle is resolved (front end dead,
electrode off, or a gain too low for the ADC)."""
IMPLAUSIBLE_HIGH_UV = 5000.0
"""Conditioned RMS (loudest 10 % of windows) above which the amplitude is not sEMG at
the electrodes, µV: surface EMG stays within 0-10 mV peak to peak [4], so 5 mV RMS means
the stated gain is too low (or the channel is not EMG)."""
IMPLAUSIBLE_LOW_UV = 0.5
"""Conditioned RMS of the quietest 10 % of windows below which the rest level is below
any real electrode's noise floor, µV: skin-electrode and amplifier noise in the
20-450 Hz band are of the order of 1 µV RMS [5] (thermal noise of 10 kOhm alone is
0.27 µV): a rest under half of that order means the stated gain is too high (a gain
stated ~10 x above the real one; a 5 x error on a 3 µV rest stays above this and goes
unseen)."""


@dataclass(frozen=True)
class AdcScale:
    """How the raw µV were made from ADC codes (from the device's INFO)."""

    lsb_uV: float
    """One ADC step at the electrodes, µV (``vref / 2^bits / gain``)."""
    low_uV: float
    """The lowest code (rail) in µV at the electrodes."""
    high_uV: float
    """The highest code (rail) in µV at the electrodes."""
    gain: float
    """The analog gain the device states (INFO), V/V."""

    @classmethod
    def from_device(cls, vref_mV: float, emg_gain: float, bits: int = 12) -> AdcScale:
        """The scale of ``(code - 2^(bits-1)) * vref / 2^bits / gain`` (PROTOCOL.md, EMG block).

        Parameters
        ----------
        vref_mV : float
            ADC reference, mV.
        emg_gain : float
            Analog gain from the electrodes to the ADC pin, V/V.
        bits : int
            ADC resolution, bits.
        """
        vref_mV = _validate.positive("vref_mV", vref_mV, " (mV)")
        emg_gain = _validate.positive("emg_gain", emg_gain, " (V/V)")
        bits = _validate.count("bits", bits, 2)
        lsb = vref_mV * 1000.0 / 2 ** bits / emg_gain
        mid = 2 ** (bits - 1)
        return cls(lsb, -mid * lsb, (2 ** bits - 1 - mid) * lsb, emg_gain)


@functools.lru_cache(maxsize=8)
def _psd_window(n_per_segment: int, fs_hz: float) -> np.ndarray:
    """The Hann window of `scipy.signal.welch`, scaled to a density (its ShortTimeFFT's)."""
    sft = _sig.ShortTimeFFT(_sig.get_window("hann", n_per_segment), n_per_segment - n_per_segment // 2, fs_hz,
                            fft_mode="onesided", scale_to="psd", phase_shift=None)
    win = sft.win.conj()
    win.flags.writeable = False
    return win


def _welch_density(x: np.ndarray, fs_hz: float, n_per_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.welch(x, fs_hz, nperseg=n_per_segment, axis=-1)``, to the bit, in
    one batch of FFTs.

    The same estimate (Hann segments overlapping by half, each segment's mean removed,
    one-sided density, the mean over segments [Welch 1967]) with the segments taken as
    one strided view and transformed together: scipy removes the mean of, windows and
    transforms one segment at a time in Python, which cost most of a quality grading.
    The arithmetic is scipy's step for step (the same window, per-segment mean,
    transform, doubling and mean over a contiguous axis), so the densities are equal
    (tests/signal/test_inner_loops.py holds them against scipy's).

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Signal, n_samples >= n_per_segment.
    fs_hz : float
        Sampling rate, Hz.
    n_per_segment : int
        Segment length, samples.

    Returns
    -------
    f_hz : ndarray, shape (n_per_segment // 2 + 1,)
    density : ndarray, shape (n_channels, n_per_segment // 2 + 1)
        Units of ``x`` squared per Hz.
    """
    hop = n_per_segment - n_per_segment // 2
    n_segments = (x.shape[1] - n_per_segment // 2) // hop
    segments = np.lib.stride_tricks.sliding_window_view(x, n_per_segment, axis=-1)[:, ::hop][:, :n_segments]
    detrended = segments - np.mean(segments, axis=-1, keepdims=True)
    detrended *= _psd_window(n_per_segment, fs_hz)
    spectra = _fft.rfft(detrended, n=n_per_segment, axis=-1, overwrite_x=True)
    power = np.square(spectra.real)
    power += np.square(spectra.imag)  # (n_channels, n_segments, n_freqs)
    power[..., 1:-1 if n_per_segment % 2 == 0 else None] *= 2
    # scipy averages over the segments along a contiguous last axis (pairwise sums)
    density = np.ascontiguousarray(power.transpose(0, 2, 1)).mean(axis=-1)
    return _fft.rfftfreq(n_per_segment, 1.0 / fs_hz), density


@functools.lru_cache(maxsize=8)
def _hann(n_per_segment: int) -> np.ndarray:
    win = _sig.get_window("hann", n_per_segment)
    win.flags.writeable = False
    return win


def _stft_hann(x: np.ndarray, fs_hz: float, n_per_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.stft(x, fs_hz, "hann", n_per_segment, n_per_segment // 2,
    boundary=None, padded=False)``'s frequencies and transform, to the bit and in the same
    memory layout (so later reductions over it add in the same order), without scipy's
    argument handling, which cost as much as the transform on a 4 s search.

    Returns
    -------
    f_hz : ndarray, shape (n_per_segment // 2 + 1,)
    z : ndarray, complex, shape (n_channels, n_freqs, n_segments)
        Spectrum-scaled (the window's sum), as scipy's.
    """
    win = _hann(n_per_segment)
    hop = n_per_segment - n_per_segment // 2
    segments = np.lib.stride_tricks.sliding_window_view(x, n_per_segment, axis=-1)[..., 0::hop, :]
    z = _fft.rfft(win * segments, n=n_per_segment, axis=-1)
    z *= np.sqrt(1.0 / win.sum() ** 2)
    return _fft.rfftfreq(n_per_segment, 1.0 / fs_hz), np.moveaxis(z, -1, -2)


def _grid_step(x: np.ndarray) -> float | None:
    """The step of the value grid ``x`` lies on, if it lies on one of at most 4096 levels."""
    u = np.unique(x)
    if u.size < 2 or u.size > 4096:
        return None
    step = float(np.min(np.diff(u)))
    k = (u - u[0]) / step
    return step if np.allclose(k, np.round(k), atol=1e-3) else None


MAINS_CANDIDATES_HZ = (50.0, 60.0)
"""Mains frequencies in use worldwide, Hz."""
LINE_PRESENT_RATIO = 8.0
"""A mains line is present when its level-normalised Welch density (1 Hz bins) is at
least this many times the median density 3-10 Hz either side (9 dB). Checked on 4 s
windows of body-model bridges and demo sessions (benchmarks/signal_accuracy.py section 7,
seeds 0-4, 280 windows per case): without hum the largest ratio at 50 or 60 Hz is 4.5 and
no line is found; with hum 92-94 % of windows find the right frequency (the rest are loud
contractions that bury the hum) and none a wrong one. A line weaker than this adds under
8 / 430 of the 20-450 Hz EMG power, about what its notch would remove from the EMG itself."""
MAINS_DETECT_S = 2.0
"""Shortest stretch searched for mains lines, s (three 1 s Welch segments, 50 % overlap)."""


@dataclass(frozen=True)
class MainsEstimate:
    """The mains lines found in a stretch of raw EMG."""

    mains_hz: float | None
    """50.0 or 60.0, the frequency whose lines carry more power; None when no fundamental
    of either stands out (no hum: nothing to notch)."""
    harmonics: tuple[int, ...]
    """Multiples of ``mains_hz`` whose line is present in at least one channel (1 = the
    fundamental), ascending; empty when ``mains_hz`` is None."""
    line_ratio: dict
    """Largest line-to-floor ratio over channels at each candidate's fundamental."""

    @property
    def notch_hz(self) -> tuple[float, ...]:
        """Frequencies of the present lines, Hz."""
        return tuple(k * self.mains_hz for k in self.harmonics) if self.mains_hz else ()


def _line_ratio(f: np.ndarray, p: np.ndarray, f0: float) -> np.ndarray:
    """Peak density within 1 Hz of ``f0`` over the median 3-10 Hz either side, per channel."""
    line = np.abs(f - f0) <= 1.0
    side = (np.abs(f - f0) >= 3.0) & (np.abs(f - f0) <= 10.0)
    return p[:, line].max(axis=1) / (np.median(p[:, side], axis=1) + 1e-30)


def _line_ratios(f: np.ndarray, p: np.ndarray, lines_hz) -> np.ndarray:
    """`_line_ratio` at each of ``lines_hz``, shape (n_channels, n_lines): one median call
    for all lines when each has as many bins as the others (a grid of whole hertz), as
    the median's per-call cost was most of a mains search; the same values either way."""
    lines_hz = np.asarray(lines_hz, dtype=float)
    distance = np.abs(f[None, :] - lines_hz[:, None])
    line = distance <= 1.0
    side = (distance >= 3.0) & (distance <= 10.0)
    n_line, n_side = line.sum(axis=1), side.sum(axis=1)
    if lines_hz.size == 0 or np.any(n_line != n_line[0]) or np.any(n_side != n_side[0]) or n_line[0] == 0:
        return np.stack([_line_ratio(f, p, f0) for f0 in lines_hz], axis=1) if lines_hz.size else (
            np.zeros((p.shape[0], 0)))
    line_bins = np.nonzero(line)[1].reshape(lines_hz.size, -1)
    side_bins = np.nonzero(side)[1].reshape(lines_hz.size, -1)
    return p[:, line_bins].max(axis=2) / (np.median(p[:, side_bins], axis=2) + 1e-30)


def detect_mains(raw_uV, fs_hz: float, *, candidates_hz=MAINS_CANDIDATES_HZ,
                 mains_hz: float | None = None, max_hz: float | None = None) -> MainsEstimate:
    """Find which mains lines (50 or 60 Hz and harmonics) the raw EMG carries.

    The spectrum is a Welch average (1 s Hann segments, 50 % overlap) of segments each
    divided by its own median density over 20-450 Hz, so a contraction starting in the
    stretch does not let one loud segment's spectral peaks (motor-unit firing
    harmonics) dominate the average, while a steady hum line stands out in every
    segment. A line is present in a channel when its density reaches
    :data:`LINE_PRESENT_RATIO` times the median 3-10 Hz either side; a harmonic counts
    only where the fundamental is present (hum always has its fundamental). The
    candidate whose fundamental stands out most is the mains frequency.

    Parameters
    ----------
    raw_uV : array_like, shape (n_channels, n_samples)
        Raw EMG, µV, at least :data:`MAINS_DETECT_S` long.
    fs_hz : float
        Sampling rate, Hz.
    candidates_hz : sequence of float
        Mains frequencies considered, Hz.
    mains_hz : float or None
        The known mains frequency (e.g. stored with the recording): only its lines are
        searched. None: choose among ``candidates_hz``.
    max_hz : float or None
        Highest line searched, Hz; None: 0.98 x Nyquist less 10 Hz (room for the floor).

    Returns
    -------
    MainsEstimate

    References
    ----------
    Welch PD. The use of fast Fourier transform for the estimation of power spectra.
    IEEE Trans Audio Electroacoust 15(2):70-73, 1967. Each notch also removes sEMG
    around its line, hence notching only the lines present (Mewett DT, Reynolds KJ,
    Nazeran H. Reducing power line interference in digitised electromyogram recordings
    by spectrum interpolation. Med Biol Eng Comput 42:524-531, 2004).
    """
    raw = _validate.signal_2d("raw_uV", raw_uV)
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    need = int(round(MAINS_DETECT_S * fs))
    if raw.shape[1] < need:
        raise ValueError(f"raw_uV must hold at least {MAINS_DETECT_S:g} s ({need} samples); got {raw.shape[1]}")
    if mains_hz is not None:
        candidates = (_validate.positive("mains_hz", mains_hz, " (Hz)"),)
    else:
        candidates = tuple(_validate.positive("candidates_hz entries", c, " (Hz)") for c in candidates_hz)
    top = 0.98 * fs / 2 - 10.0 if max_hz is None else min(float(max_hz), 0.98 * fs / 2 - 10.0)
    nper = int(fs)
    f, z = _stft_hann(raw - raw.mean(axis=1, keepdims=True), fs, nper)
    seg = np.abs(z) ** 2  # (n_channels, n_freqs, n_segments)
    band = (f >= 20.0) & (f <= min(450.0, top))
    seg = seg / (np.median(seg[:, band, :], axis=1, keepdims=True) + 1e-30)
    p = seg.mean(axis=2)
    present: dict[float, list[int]] = {}
    fundamental_ratio: dict[float, float] = {}
    for f0 in candidates:
        multiples = [1]
        while (multiples[-1] + 1) * f0 <= top:
            multiples.append(multiples[-1] + 1)
        ratio = _line_ratios(f, p, [k * f0 for k in multiples])  # (n_channels, multiples)
        fundamental = ratio[:, 0] >= LINE_PRESENT_RATIO
        fundamental_ratio[f0] = float(ratio[:, 0].max())
        present[f0] = [k for j, k in enumerate(multiples) if k * f0 <= top
                       and np.any((ratio[:, j] >= LINE_PRESENT_RATIO) & fundamental)]
    best = max(candidates, key=lambda c: fundamental_ratio[c])
    if not present[best] or present[best][0] != 1:
        return MainsEstimate(None, (), fundamental_ratio)
    return MainsEstimate(float(best), tuple(present[best]), fundamental_ratio)


@dataclass(frozen=True)
class ChannelQuality:
    """Quality measures and grade of one channel."""

    channel: int
    """Channel (row) index."""
    grade: str
    """"good", "fair" or "poor"."""
    reasons: tuple[str, ...]
    """Why the grade is not "good" (empty when good)."""
    flat: bool
    """Raw signal flat: electrode off or front end dead."""
    saturated_fraction: float
    """Fraction of samples at the rails (from ``saturated``), 0-1."""
    mains_ratio: float
    """Raw power within 1 Hz of the mains lines over the total, 0-1."""
    motion_ratio: float
    """Raw power below 20 Hz over the total, 0-1."""
    noise_rms_uV: float
    """RMS of the conditioned signal in the quietest 10 % of 100 ms windows, µV."""
    snr_db: float | None
    """20 log10 of the loudest 10 % of windows over ``noise_rms_uV``; None when the channel
    never contracts clearly above rest (nothing to judge)."""
    motion_rms_uV: float = 0.0
    """RMS of the raw signal below 20 Hz, µV."""
    loud_rms_uV: float = 0.0
    """RMS of the conditioned signal in the loudest 10 % of 100 ms windows, µV."""
    loud_rms_lsb: float | None = None
    """``loud_rms_uV`` in ADC steps (from ``adc`` or the value grid of the raw signal);
    None when the step is unknown."""


def channel_quality(raw_uV, conditioned_uV, fs_hz: float, *, mains_hz: float | None = 50.0,
                    saturated=None, adc: AdcScale | None = None) -> tuple[ChannelQuality, ...]:
    """Grade each channel of a stretch of recording (a few seconds or more).

    Parameters
    ----------
    raw_uV : array_like, shape (n_channels, n_samples)
        Raw EMG, µV.
    conditioned_uV : array_like, shape (n_channels, n_samples)
        The same after :mod:`glutesignal.conditioning`, µV.
    fs_hz : float
        Sampling rate, Hz.
    mains_hz : float or None
        Mains frequency, Hz.
    saturated : array_like of bool, shape (n_channels, n_samples), or None
        Samples at the ADC rails (codes 0 or 4095); None: those at ``adc``'s rails.
    adc : AdcScale or None
        The device's scale (INFO): the ADC step for the quantisation check, the rails
        for saturation, the stated gain for the plausibility messages. None: the step is
        taken from the grid the raw values lie on, if they lie on one.

    Notes
    -----
    Poor, with a reason, besides the earlier checks: a channel whose loudest windows
    carry under :data:`QUANTISED_POOR_LSB` ADC steps RMS (only quantisation noise: a
    dead front end, however its offset drifts); loudest windows above
    :data:`IMPLAUSIBLE_HIGH_UV` or a rest below :data:`IMPLAUSIBLE_LOW_UV` (amplitudes no
    electrode on skin gives: the gain the device states does not match its front end).

    Returns
    -------
    tuple of ChannelQuality
        One per channel.
    """
    raw = _validate.signal_2d("raw_uV", raw_uV)
    cond = _validate.signal_2d("conditioned_uV", conditioned_uV, raw.shape[0])
    if cond.shape != raw.shape:
        raise ValueError(f"conditioned_uV must have the shape of raw_uV {raw.shape}; got {cond.shape}")
    fs = _validate.positive("fs_hz", fs_hz, " (Hz)")
    n_win = int(round(0.1 * fs))
    if raw.shape[1] < 10 * n_win:
        raise ValueError(f"raw_uV must hold at least 1 s ({10 * n_win} samples); got {raw.shape[1]}")
    if saturated is not None:
        sat = np.asarray(saturated, dtype=bool)
    elif adc is not None:
        sat = (raw <= adc.low_uV + 0.5 * adc.lsb_uV) | (raw >= adc.high_uV - 0.5 * adc.lsb_uV)
    else:
        sat = np.zeros(raw.shape, bool)
    if sat.shape != raw.shape:
        raise ValueError(f"saturated must have the shape of raw_uV {raw.shape}; got {sat.shape}")
    f, p = _welch_density(raw - raw.mean(axis=1, keepdims=True), fs, min(raw.shape[1], int(fs)))
    total = p.sum(axis=1) + 1e-30
    mains = np.zeros(raw.shape[0])
    mains_rms = np.zeros(raw.shape[0])
    if mains_hz is not None:
        lines = np.zeros_like(f, dtype=bool)
        for k in range(1, int(fs / 2 // mains_hz) + 1):
            lines |= np.abs(f - k * mains_hz) <= 1.0
        mains = p[:, lines].sum(axis=1) / total
        mains_rms = np.sqrt(p[:, lines].sum(axis=1) * float(f[1] - f[0]))
    low = p[:, f < 20.0].sum(axis=1)
    motion = low / total
    df = float(f[1] - f[0]) if f.size > 1 else 1.0
    motion_rms = np.sqrt(low * df)  # Welch densities integrate to power
    k = cond.shape[1] // n_win
    win_rms = np.sqrt((cond[:, : k * n_win] ** 2).reshape(cond.shape[0], k, n_win).mean(axis=2))
    out = []
    quiet_loud = np.percentile(win_rms, [10, 90], axis=1)  # one call: the same values as per row
    for ch in range(raw.shape[0]):
        flat = bool(raw[ch].std() < FLAT_UV)
        noise = float(quiet_loud[0, ch])
        loud = float(quiet_loud[1, ch])
        step = adc.lsb_uV if adc is not None else _grid_step(raw[ch])
        loud_lsb = loud / step if step else None
        gain = f" (the device states gain {adc.gain:g})" if adc is not None else ""
        snr = 20 * np.log10(loud / noise) if noise > 0 and loud > 2 * noise else None
        sat_frac = float(sat[ch].mean())
        poor, fair = [], []
        if flat:
            poor.append("flat signal: electrode off or no contact")
        elif loud_lsb is not None and loud_lsb < QUANTISED_POOR_LSB:
            poor.append(f"only quantisation noise ({loud_lsb:.2f} ADC steps RMS): front end dead, electrode "
                        "off, or gain too low for the ADC")
        elif loud > IMPLAUSIBLE_HIGH_UV:
            poor.append(f"implausible amplitude {loud / 1000:.1f} mV RMS for surface EMG: wrong gain{gain}?")
        elif noise < IMPLAUSIBLE_LOW_UV and (loud_lsb is None or noise / step >= QUANTISED_POOR_LSB):
            poor.append(f"implausibly quiet rest {noise:.2f} µV RMS, below any electrode's noise: "
                        f"wrong gain{gain}?")
        checks = [(sat_frac, SATURATION_FAIR, SATURATION_POOR, "saturated samples")]
        if mains_rms[ch] > MAINS_RMS_FLOOR_UV:
            checks.append((float(mains[ch]), MAINS_RATIO_FAIR, MAINS_RATIO_POOR, "mains interference"))
        if motion_rms[ch] > MOTION_RMS_FLOOR_UV:
            checks.append((float(motion[ch]), MOTION_RATIO_FAIR, MOTION_RATIO_POOR, "motion artefact"))
        for value, lo, hi, what in checks:
            if value > hi:
                poor.append(f"{what} {100 * value:.1f} %")
            elif value > lo:
                fair.append(f"{what} {100 * value:.1f} %")
        if snr is not None and snr < SNR_POOR_DB:
            poor.append(f"low SNR {snr:.1f} dB")
        elif snr is not None and snr < SNR_FAIR_DB:
            fair.append(f"low SNR {snr:.1f} dB")
        grade = "poor" if poor else ("fair" if fair else "good")
        out.append(ChannelQuality(ch, grade, tuple(poor + fair), flat, sat_frac, float(mains[ch]),
                                  float(motion[ch]), noise, snr, float(motion_rms[ch]), loud, loud_lsb))
    return tuple(out)
