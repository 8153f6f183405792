"""sEMG conditioning: band-pass and mains notch, streaming and offline.

Defaults follow the ISEK and SENIAM recommendations for surface EMG: a 20-450 Hz
band (the sEMG carries almost all its power there; below 20 Hz lies motion artefact
and baseline wander, above 450-500 Hz mostly noise) and notches at the mains lines the
caller asks for (the app asks only for those found in the signal,
:func:`glutesignal.quality.detect_mains`).

All filters are causal IIR filters in second-order sections, run as scipy does
(``y, zf = sosfilt(sos, x, zi=zi)``), so feeding a signal block by block gives
bit-identical output to processing it whole.

References
----------
.. [1] Merletti R. Standards for reporting EMG data. J Electromyogr Kinesiol 9(1):III-IV,
   1999 (ISEK standards; band-pass 10/20-400/500 Hz).
.. [2] Stegeman DF, Hermens HJ. Standards for surface electromyography: the European
   project SENIAM, 1999 (high-pass ~10-20 Hz, low-pass ~500 Hz).
.. [3] De Luca CJ, Gilmore LD, Kuznetsov M, Roy SH. Filtering the surface EMG signal:
   movement artifact and baseline noise contamination. J Biomech 43:1573-1579, 2010
   (recommends a 20 Hz high-pass corner with a 12 dB/octave, i.e. 2nd-order, slope;
   this module uses 24 dB/octave, see ``DEFAULT_ORDER``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as _sig

from . import _validate

try:  # the in-place core of scipy.signal.sosfilt; see Conditioner.process for why
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_in_place
except ImportError:  # another scipy layout: the public function, same numbers
    _sosfilt_in_place = None

__all__ = [
    "Conditioner",
    "ConditionerDesign",
    "condition",
    "default_high_hz",
    "design_bandpass",
    "design_conditioner",
    "design_notch",
]

DEFAULT_LOW_HZ = 20.0
"""High-pass corner, Hz (De Luca et al. 2010 [3])."""
DEFAULT_HIGH_HZ = 450.0
"""Low-pass corner, Hz (ISEK [1]; SENIAM [2])."""
DEFAULT_ORDER = 4
"""Butterworth order of each of the high-pass and low-pass edges: 24 dB/octave, steeper
than the 12 dB/octave De Luca et al. [3] recommend, on purpose. Glutes under a moving
pelvis carry large 1-10 Hz motion artefact, which the 4th order attenuates twice as much
in dB (-48 vs -24 dB at 5 Hz), and its flatter pass band keeps more EMG just above the
corner (-0.2 vs -0.8 dB at 30 Hz); the extra phase distortion near 20 Hz changes the
waveform, not the RMS amplitude the scores use."""
DEFAULT_HARMONICS = (1, 2, 3, 4, 5, 6, 7, 8)
"""Multiples of the mains frequency notched (those below the band's upper edge)."""
DEFAULT_Q = 30.0
"""Notch quality factor: -3 dB width = f0 / Q (1.7 Hz at 50 Hz)."""


def default_high_hz(fs_hz: float) -> float:
    """Upper band edge for ``fs_hz``: 450 Hz, or 0.9 x Nyquist when that is lower.

    A digital low-pass cannot undo aliasing: at 500 Hz sampling the analog front end
    (MyoWare class, content to ~500 Hz, no anti-alias filter below 250 Hz) has already
    folded the 250-500 Hz EMG into the band. Amplitudes at 500 Hz are not comparable with
    those at >= 1 kHz (SENIAM, ISEK ask for >= 1 kHz).

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.

    Returns
    -------
    float
        The low-pass corner in Hz (e.g. 225 Hz at 500 Hz sampling).
    """
    fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
    return min(DEFAULT_HIGH_HZ, 0.45 * fs_hz)


def _check_band(fs_hz: float, low_hz: float, high_hz: float) -> None:
    nyq = fs_hz / 2.0
    if high_hz >= nyq:
        raise ValueError(
            f"high_hz {high_hz:g} Hz must be below Nyquist ({nyq:g} Hz) for fs_hz={fs_hz:g}"
            f" (use glutesignal.conditioning.default_high_hz(fs_hz) = {min(DEFAULT_HIGH_HZ, 0.45 * fs_hz):g} Hz)")
    if low_hz >= high_hz:
        raise ValueError(f"low_hz {low_hz:g} Hz must be below high_hz ({high_hz:g} Hz)")


def design_bandpass(fs_hz: float, low_hz: float = DEFAULT_LOW_HZ, high_hz: float = DEFAULT_HIGH_HZ,
                    order: int = DEFAULT_ORDER) -> np.ndarray:
    """Butterworth band-pass for sEMG, as second-order sections.

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    low_hz, high_hz : float
        -3 dB corners, Hz; ``0 < low_hz < high_hz < fs_hz / 2``. Defaults 20 and 450 Hz
        (ISEK [1], SENIAM [2], De Luca et al. 2010 [3]).
    order : int
        Butterworth order of each edge (the band-pass has ``2 * order`` poles). Default 4:
        24 dB/octave edges (see ``DEFAULT_ORDER`` for why not De Luca et al.'s 12).

    Returns
    -------
    ndarray, shape (order, 6)
        Second-order sections for :func:`scipy.signal.sosfilt`.

    Raises
    ------
    ValueError
        When a corner is out of range, naming it, the allowed range and the value.
    """
    fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
    low_hz = _validate.positive("low_hz", low_hz, " (Hz)")
    high_hz = _validate.positive("high_hz", high_hz, " (Hz)")
    order = _validate.count("order", order, 1)
    _check_band(fs_hz, low_hz, high_hz)
    return _sig.butter(order, [low_hz, high_hz], btype="bandpass", output="sos", fs=fs_hz)


def design_notch(fs_hz: float, mains_hz: float = 50.0, harmonics: tuple[int, ...] = DEFAULT_HARMONICS,
                 q: float = DEFAULT_Q, max_hz: float | None = None) -> np.ndarray:
    """Cascade of second-order IIR notches at the mains frequency and harmonics.

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    mains_hz : float
        Mains frequency, Hz (50 or 60 in practice).
    harmonics : tuple of int
        Multiples of ``mains_hz`` to notch (1 = the fundamental). Multiples at or above
        ``max_hz`` (default: 0.98 x Nyquist) are skipped: the band-pass already removes them.
    q : float
        Quality factor of each notch; -3 dB width = frequency / q.
    max_hz : float or None
        Highest frequency notched, Hz; None for 0.98 x Nyquist.

    Returns
    -------
    ndarray, shape (n_notches, 6)
        Second-order sections (one per notch); ``(0, 6)`` when no harmonic is in range.

    Notes
    -----
    Each notch is :func:`scipy.signal.iirnotch`, a biquad with zeros on the unit circle
    at the notched frequency: infinite attenuation there, unity gain far from it.
    """
    fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
    mains_hz = _validate.positive("mains_hz", mains_hz, " (Hz)")
    q = _validate.positive("q", q)
    nyq = fs_hz / 2.0
    if mains_hz >= nyq:
        raise ValueError(f"mains_hz {mains_hz:g} Hz must be below Nyquist ({nyq:g} Hz) for fs_hz={fs_hz:g}")
    limit = 0.98 * nyq if max_hz is None else min(float(max_hz), 0.98 * nyq)
    harmonics = tuple(harmonics)
    for k in harmonics:
        _validate.count("harmonics entries", k, 1)
    sections = []
    for k in sorted(set(harmonics)):
        f0 = k * mains_hz
        if f0 >= limit:
            continue
        b, a = _sig.iirnotch(f0, q, fs=fs_hz)
        sections.append(np.concatenate([b, a]))
    return np.array(sections, dtype=float).reshape(-1, 6)


@dataclass(frozen=True)
class ConditionerDesign:
    """What a :class:`Conditioner` does, for reports and for the UI."""

    fs_hz: float
    """Sampling rate, Hz."""
    low_hz: float
    """Band-pass lower -3 dB corner, Hz."""
    high_hz: float
    """Band-pass upper -3 dB corner, Hz."""
    order: int
    """Butterworth order of each band edge."""
    mains_hz: float | None
    """Mains frequency notched, Hz (None: no notch)."""
    notch_hz: tuple[float, ...]
    """Frequencies actually notched, Hz."""
    q: float
    """Notch quality factor."""
    sos: np.ndarray
    """The whole cascade (band-pass then notches), second-order sections ``(n_sections, 6)``."""


def design_conditioner(fs_hz: float, *, low_hz: float = DEFAULT_LOW_HZ, high_hz: float = DEFAULT_HIGH_HZ,
                       order: int = DEFAULT_ORDER, mains_hz: float | None = 50.0,
                       harmonics: tuple[int, ...] = DEFAULT_HARMONICS, q: float = DEFAULT_Q) -> ConditionerDesign:
    """Design the band-pass + notch cascade; see :func:`design_bandpass`, :func:`design_notch`.

    Harmonics at or above ``high_hz`` are not notched (the band-pass removes them).
    """
    bp = design_bandpass(fs_hz, low_hz, high_hz, order)
    if mains_hz is None:
        notch = np.zeros((0, 6))
        notch_hz: tuple[float, ...] = ()
    else:
        notch = design_notch(fs_hz, mains_hz, harmonics, q, max_hz=float(high_hz))
        notch_hz = tuple(float(k * mains_hz) for k in sorted(set(harmonics))
                         if k * mains_hz < min(float(high_hz), 0.98 * fs_hz / 2))
    sos = np.vstack([bp, notch])
    sos.setflags(write=False)
    return ConditionerDesign(float(fs_hz), float(low_hz), float(high_hz), int(order),
                             None if mains_hz is None else float(mains_hz), notch_hz, float(q), sos)


class Conditioner:
    """Streaming band-pass + notch for ``(n_channels, n_samples)`` blocks.

    Feeding a recording block by block gives exactly (bit for bit) the output of
    :func:`condition` on the whole recording. The filter state is explicit: ``zi``
    (``(n_sections, n_channels, 2)``), ``None`` until the first sample arrives.

    The state is initialised on the first sample to the filter's steady state for a
    constant input equal to that sample (:func:`scipy.signal.sosfilt_zi`), so a DC
    offset at the electrodes does not ring through the high-pass at the start.

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    n_channels : int
        Number of channels (rows) of every block.
    low_hz, high_hz, order, mains_hz, harmonics, q
        As in :func:`design_conditioner`.

    Examples
    --------
    >>> cond = Conditioner(2000.0, 2)
    >>> y = cond.process(block_uV)  # doctest: +SKIP
    """

    def __init__(self, fs_hz: float, n_channels: int, *, low_hz: float = DEFAULT_LOW_HZ,
                 high_hz: float = DEFAULT_HIGH_HZ, order: int = DEFAULT_ORDER, mains_hz: float | None = 50.0,
                 harmonics: tuple[int, ...] = DEFAULT_HARMONICS, q: float = DEFAULT_Q) -> None:
        self.n_channels = _validate.count("n_channels", n_channels, 1)
        self.design = design_conditioner(fs_hz, low_hz=low_hz, high_hz=high_hz, order=order,
                                         mains_hz=mains_hz, harmonics=harmonics, q=q)
        self._sos = np.array(self.design.sos)  # writable copy: scipy's sosfilt refuses read-only sos
        self._zi_unit = _sig.sosfilt_zi(self._sos)  # (n_sections, 2), per unit step
        self._zi_rows: np.ndarray | None = None  # (n_channels, n_sections, 2), C order

    @property
    def zi(self) -> np.ndarray | None:
        """Filter state, ``(n_sections, n_channels, 2)`` as :func:`scipy.signal.sosfilt` takes it."""
        return None if self._zi_rows is None else np.moveaxis(self._zi_rows, 1, 0)

    @zi.setter
    def zi(self, value) -> None:
        self._zi_rows = None if value is None else np.ascontiguousarray(np.moveaxis(
            np.asarray(value, dtype=float), 0, 1))

    def reset(self) -> None:
        """Forget the state: the next block is treated as the start of a recording."""
        self.zi = None

    def process(self, block_uV) -> np.ndarray:
        """Filter one block.

        Parameters
        ----------
        block_uV : array_like, shape (n_channels, n_samples)
            Raw EMG, µV. ``n_samples`` may be 0.

        Returns
        -------
        ndarray, shape (n_channels, n_samples)
            Conditioned EMG, µV.
        """
        x = _validate.signal_2d("block_uV", block_uV, self.n_channels, allow_empty=True)
        if x.shape[1] == 0:
            return x.copy()
        if self._zi_rows is None:
            self.zi = self._zi_unit[:, None, :] * x[None, :, 0, None]
        if _sosfilt_in_place is None:
            y, self.zi = _sig.sosfilt(self._sos, x, axis=-1, zi=self.zi)
            return y
        # The live pipeline filters 10-20 ms blocks, where the public sosfilt spent ~90 %
        # of its time checking and transposing its arguments (moveaxis, copies of sos and
        # zi). Its core is called here as sosfilt itself calls it, on a C-ordered copy of
        # the block and the state kept in the core's layout: the same recursion on the
        # same numbers (tests/signal/test_inner_loops.py checks it against sosfilt).
        y = np.array(x, dtype=float, order="C")
        _sosfilt_in_place(self._sos, y, self._zi_rows)
        return y


def condition(emg_uV, fs_hz: float, *, low_hz: float = DEFAULT_LOW_HZ, high_hz: float = DEFAULT_HIGH_HZ,
              order: int = DEFAULT_ORDER, mains_hz: float | None = 50.0,
              harmonics: tuple[int, ...] = DEFAULT_HARMONICS, q: float = DEFAULT_Q) -> np.ndarray:
    """Band-pass and notch a whole recording (causal; equals the streaming output).

    Parameters
    ----------
    emg_uV : array_like, shape (n_channels, n_samples)
        Raw EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    low_hz, high_hz, order, mains_hz, harmonics, q
        As in :func:`design_conditioner` (defaults: 20-450 Hz 4th-order Butterworth,
        notches at 50 Hz and harmonics below 450 Hz, Q = 30).

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        Conditioned EMG, µV.
    """
    x = _validate.signal_2d("emg_uV", emg_uV)
    cond = Conditioner(fs_hz, x.shape[0], low_hz=low_hz, high_hz=high_hz, order=order, mains_hz=mains_hz,
                       harmonics=harmonics, q=q)
    return cond.process(x)
