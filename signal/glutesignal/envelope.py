"""sEMG amplitude envelopes: moving RMS and linear envelope, streaming and offline.

Both work on conditioned EMG (see :mod:`glutesignal.conditioning`) of shape
``(n_channels, n_samples)``, cost O(block) per call, and give the same output block by
block as for the whole recording (the moving RMS up to floating-point rounding of a
running sum carried in the same order, i.e. bit-identical in practice; the linear
envelope bit-identical, being an IIR filter).

References
----------
.. [1] Merletti R, Di Torino P. Standards for reporting EMG data. J Electromyogr
   Kinesiol 9(1):III-IV, 1999 (RMS / average rectified value, window 50-250 ms).
.. [2] De Luca CJ. The use of surface electromyography in biomechanics. J Appl
   Biomech 13:135-163, 1997 (RMS as amplitude estimator; windows 100-200 ms).
.. [3] Winter DA. Biomechanics and Motor Control of Human Movement, 4th ed. Wiley, 2009,
   ch. 10 (linear envelope: full-wave rectification and a 2nd-order low-pass at 3-10 Hz).
.. [4] Clancy EA, Morin EL, Merletti R. Sampling, noise-reduction and amplitude
   estimation issues in surface electromyography. J Electromyogr Kinesiol 12:1-16, 2002.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as _sig

from . import _validate

__all__ = [
    "EnvelopeDesign",
    "LinearEnvelope",
    "MovingRMS",
    "linear_envelope",
    "moving_rms",
]

DEFAULT_WINDOW_S = 0.1
"""Moving RMS window, s (within the 50-250 ms range of ISEK [1], De Luca [2])."""
DEFAULT_CUTOFF_HZ = 6.0
"""Linear-envelope low-pass cutoff, Hz (Winter [3]: 3-10 Hz; 6 Hz follows a bridge rep)."""
DEFAULT_LP_ORDER = 2
"""Linear-envelope Butterworth order (Winter [3])."""


@dataclass(frozen=True)
class EnvelopeDesign:
    """What an envelope estimator does and how late it is."""

    kind: str
    """"moving_rms" or "linear_envelope"."""
    fs_hz: float
    """Sampling rate, Hz."""
    window_s: float | None
    """Moving RMS window actually used (whole samples), s; None for the linear envelope."""
    cutoff_hz: float | None
    """Low-pass cutoff of the linear envelope, Hz; None for the moving RMS."""
    order: int | None
    """Butterworth order of the linear envelope low-pass; None for the moving RMS."""
    group_delay_s: float
    """Delay of the envelope behind the true amplitude, s: (N - 1) / 2 samples for the
    moving RMS, the low-pass group delay at 0 Hz for the linear envelope."""


class MovingRMS:
    """Streaming moving RMS over the last ``window_s`` seconds (causal).

    Output sample ``k`` is ``sqrt(mean(x[k-N+1 .. k] ** 2))`` with ``N =
    round(window_s * fs_hz)``; before ``N`` samples have arrived the missing ones count
    as zeros, so the envelope rises from 0 at the start of a recording.

    State (explicit): ``ring`` (squares of the last N samples, ``(n_channels, N)``),
    ``pos`` (index of the oldest), ``sum_sq`` (running sum, ``(n_channels,)``).
    Each call costs O(n_samples), whatever ``window_s``.

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    n_channels : int
        Channels (rows) of every block.
    window_s : float
        Window length, s (default 0.1; ISEK 50-250 ms [1]).
    """

    def __init__(self, fs_hz: float, n_channels: int, window_s: float = DEFAULT_WINDOW_S) -> None:
        fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
        window_s = _validate.positive("window_s", window_s, " (s)")
        self.n_channels = _validate.count("n_channels", n_channels, 1)
        self.n_window = int(round(window_s * fs_hz))
        if self.n_window < 1:
            raise ValueError(f"window_s {window_s:g} s is shorter than one sample at fs_hz={fs_hz:g}")
        self.design = EnvelopeDesign("moving_rms", fs_hz, self.n_window / fs_hz, None, None,
                                     (self.n_window - 1) / 2.0 / fs_hz)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next block starts a recording."""
        self.ring = np.zeros((self.n_channels, self.n_window))
        self.pos = 0
        self.sum_sq = np.zeros(self.n_channels)

    def process(self, block_uV) -> np.ndarray:
        """Envelope of one block.

        Parameters
        ----------
        block_uV : array_like, shape (n_channels, n_samples)
            Conditioned EMG, µV.

        Returns
        -------
        ndarray, shape (n_channels, n_samples)
            Moving RMS, µV.
        """
        x = _validate.signal_2d("block_uV", block_uV, self.n_channels, allow_empty=True)
        b = x.shape[1]
        if b == 0:
            return x.copy()
        n = self.n_window
        sq = x * x
        # Squares leaving the window: from the ring for the first min(b, N) samples,
        # then from this block itself.
        leaving = np.empty_like(sq)
        k = min(b, n)
        # Ring positions pos .. pos+k-1 (mod N) are at most two slices; slicing them
        # costs a fraction of a modular fancy index on 10-20 ms blocks.
        head = min(k, n - self.pos)
        leaving[:, :head] = self.ring[:, self.pos:self.pos + head]
        leaving[:, head:k] = self.ring[:, :k - head]
        if b > n:
            leaving[:, n:] = sq[:, : b - n]
        # A running sum carried sample by sample in the same order whatever the block
        # size (add.accumulate is sequential), so block and whole results agree.
        steps = np.empty((self.n_channels, b + 1))
        steps[:, 0] = self.sum_sq
        steps[:, 1:] = sq - leaving
        running = np.add.accumulate(steps, axis=1)[:, 1:]
        self.sum_sq = running[:, -1].copy()
        # Update the ring with the newest min(b, N) squares.
        if b >= n:
            self.ring[:] = sq[:, b - n:]
            self.pos = 0
        else:
            head = min(b, n - self.pos)
            self.ring[:, self.pos:self.pos + head] = sq[:, :head]
            self.ring[:, :b - head] = sq[:, head:]
            self.pos = (self.pos + b) % n
        # Cancellation can leave a tiny negative sum after a loud burst.
        return np.sqrt(np.maximum(running, 0.0) / n)


class LinearEnvelope:
    """Streaming linear envelope: full-wave rectification then a Butterworth low-pass.

    State (explicit): ``zi`` (``(n_sections, n_channels, 2)``), starting at rest (zeros).

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    n_channels : int
        Channels (rows) of every block.
    cutoff_hz : float
        Low-pass -3 dB cutoff, Hz (default 6; Winter [3] uses 3-10 Hz).
    order : int
        Butterworth order (default 2).

    Notes
    -----
    The output is the low-passed rectified signal, i.e. an average rectified value
    (ARV) estimate in µV; for Gaussian sEMG the ARV is sqrt(2/pi) ~ 0.80 of the RMS [4].
    """

    def __init__(self, fs_hz: float, n_channels: int, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
                 order: int = DEFAULT_LP_ORDER) -> None:
        fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
        cutoff_hz = _validate.positive("cutoff_hz", cutoff_hz, " (Hz)")
        order = _validate.count("order", order, 1)
        self.n_channels = _validate.count("n_channels", n_channels, 1)
        if cutoff_hz >= fs_hz / 2:
            raise ValueError(f"cutoff_hz {cutoff_hz:g} Hz must be below Nyquist ({fs_hz / 2:g} Hz) for fs_hz={fs_hz:g}")
        self.sos = _sig.butter(order, cutoff_hz, btype="lowpass", output="sos", fs=fs_hz)
        b, a = _sig.sos2tf(self.sos)
        # Group delay near 0 Hz (the delay of a slow envelope), converted to seconds.
        _, gd = _sig.group_delay((b, a), w=[cutoff_hz / 100.0], fs=fs_hz)
        self.design = EnvelopeDesign("linear_envelope", fs_hz, None, cutoff_hz, order, float(gd[0]) / fs_hz)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next block starts a recording."""
        self.zi = np.zeros((self.sos.shape[0], self.n_channels, 2))

    def process(self, block_uV) -> np.ndarray:
        """Envelope of one block.

        Parameters
        ----------
        block_uV : array_like, shape (n_channels, n_samples)
            Conditioned EMG, µV.

        Returns
        -------
        ndarray, shape (n_channels, n_samples)
            Linear envelope, µV.
        """
        x = _validate.signal_2d("block_uV", block_uV, self.n_channels, allow_empty=True)
        if x.shape[1] == 0:
            return x.copy()
        y, self.zi = _sig.sosfilt(self.sos, np.abs(x), axis=-1, zi=self.zi)
        return y


def moving_rms(emg_uV, fs_hz: float, window_s: float = DEFAULT_WINDOW_S) -> np.ndarray:
    """Moving RMS of a whole recording; equals :class:`MovingRMS` fed block by block.

    Parameters
    ----------
    emg_uV : array_like, shape (n_channels, n_samples)
        Conditioned EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    window_s : float
        Window, s (default 0.1).

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        Envelope, µV; delayed by ``(N - 1) / 2`` samples (see :class:`EnvelopeDesign`).
    """
    x = _validate.signal_2d("emg_uV", emg_uV)
    return MovingRMS(fs_hz, x.shape[0], window_s).process(x)


def linear_envelope(emg_uV, fs_hz: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
                    order: int = DEFAULT_LP_ORDER) -> np.ndarray:
    """Linear envelope of a whole recording; equals :class:`LinearEnvelope` block by block.

    Parameters
    ----------
    emg_uV : array_like, shape (n_channels, n_samples)
        Conditioned EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    cutoff_hz : float
        Low-pass cutoff, Hz (default 6).
    order : int
        Butterworth order (default 2).

    Returns
    -------
    ndarray, shape (n_channels, n_samples)
        Envelope (average rectified value), µV.
    """
    x = _validate.signal_2d("emg_uV", emg_uV)
    return LinearEnvelope(fs_hz, x.shape[0], cutoff_hz, order).process(x)
