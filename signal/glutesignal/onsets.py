"""Muscle onset/offset detection: Bonato's double-threshold detector, streaming.

First threshold: each sample's energy ``e`` (the squared conditioned EMG, or its
Teager-Kaiser energy) is compared with ``h`` times the mean energy at rest. Second
threshold: the muscle is "on" while at least ``r0`` of the last ``m`` samples are above
the first. Then runs shorter than ``min_on_s`` are dropped and gaps shorter than
``min_off_s`` bridged, as Bonato et al. require a minimum burst duration.

The onset is placed at the first above-threshold sample of the window that switched the
detector on that follows the last quiet run (5 % of the window) in it; the offset at the start of the
first quiet run in the window that switched it off.

References
----------
.. [1] Bonato P, D'Alessio T, Knaflitz M. A statistical method for the measurement of
   muscle activation intervals from surface myoelectric signal during gait. IEEE Trans
   Biomed Eng 45(3):287-299, 1998.
.. [2] Li X, Aruin A. Muscle activity onset time detection using Teager-Kaiser energy
   operator. Conf Proc IEEE EMBS 7:7549-7552, 2005.
.. [3] Solnik S, Rider P, Steinweg K, DeVita P, Hortobagyi T. Teager-Kaiser energy
   operator signal conditioning improves EMG onset detection. Eur J Appl Physiol
   110(3):489-498, 2010.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = ["Burst", "OnsetDetector", "OnsetEvent", "detect_bursts", "estimate_noise_power"]

DEFAULT_H = 6.0
"""First threshold, multiples of the mean resting energy (per-sample false-alarm ~1.4 %
for Gaussian noise with the squared signal)."""
DEFAULT_WINDOW_S = 0.05
"""Second-threshold window ``m``, s (50 ms)."""
DEFAULT_MIN_FRACTION = 0.2
"""Second threshold ``r0 / m``: fraction of the window above the first threshold."""
DEFAULT_MIN_ON_S = 0.1
"""Shortest burst kept, s."""
DEFAULT_MIN_OFF_S = 0.15
"""Shortest gap kept between bursts, s (shorter gaps are bridged)."""


@dataclass(frozen=True)
class OnsetEvent:
    """A confirmed change of a channel's state."""

    channel: int
    """Channel (row) index."""
    kind: str
    """"on" (onset) or "off" (offset)."""
    sample: int
    """Sample index of the onset/offset in the stream (from 0 at the first sample)."""
    t_s: float
    """``sample / fs_hz``, s."""


@dataclass(frozen=True)
class Burst:
    """One activation interval of one channel."""

    channel: int
    """Channel (row) index."""
    on_s: float
    """Onset time, s."""
    off_s: float | None
    """Offset time, s; None when the recording ends during the burst."""


def _energy_tkeo(x: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Teager-Kaiser energy of samples (prev[:,1], x[:, :-1]...) delayed by one sample."""
    ext = np.concatenate([prev, x], axis=1)  # prev holds the last two samples
    return ext[:, 1:-1] ** 2 - ext[:, :-2] * ext[:, 2:]


class OnsetDetector:
    """Streaming double-threshold onset detector (Bonato et al. 1998).

    Parameters
    ----------
    fs_hz : float
        Sampling rate, Hz.
    n_channels : int
        Channels (rows) of every block.
    noise_power : array_like, shape (n_channels,), or None
        Mean resting energy per channel (µV^2, in the units of the chosen energy), e.g.
        from :func:`estimate_noise_power` on a rest recording. None: learn it from the
        first ``baseline_s`` seconds of the stream (the subject must be at rest then; no
        events are reported during that time).
    baseline_s : float
        Length of the learning period when ``noise_power`` is None, s.
    tkeo : bool
        Use the Teager-Kaiser energy ``x[n]^2 - x[n-1] x[n+1]`` instead of ``x[n]^2``
        (Li & Aruin 2005 [2], Solnik et al. 2010 [3]); adds one sample of delay, which
        the reported sample indices already compensate.
    h : float
        First threshold in multiples of the mean resting energy.
    window_s, min_fraction : float
        Second threshold: at least ``min_fraction`` of the last ``window_s`` seconds above
        the first threshold.
    min_on_s, min_off_s : float
        Shortest burst and shortest gap kept, s.

    Notes
    -----
    Events are reported once confirmed, i.e. up to ``min_on_s`` (onsets) or
    ``min_off_s`` (offsets) plus ``window_s`` after they happened, with their true
    sample index. State: the last ``m`` above-threshold flags, the last two samples,
    the baseline accumulators and a small per-channel state machine.
    """

    def __init__(self, fs_hz: float, n_channels: int, *, noise_power=None, baseline_s: float = 1.0,
                 tkeo: bool = False, h: float = DEFAULT_H, window_s: float = DEFAULT_WINDOW_S,
                 min_fraction: float = DEFAULT_MIN_FRACTION, min_on_s: float = DEFAULT_MIN_ON_S,
                 min_off_s: float = DEFAULT_MIN_OFF_S) -> None:
        self.fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
        self.n_channels = _validate.count("n_channels", n_channels, 1)
        self.h = _validate.positive("h", h)
        self.tkeo = bool(tkeo)
        self.m = max(1, int(round(_validate.positive("window_s", window_s, " (s)") * self.fs_hz)))
        if not 0 < float(min_fraction) <= 1:
            raise ValueError(f"min_fraction must be in (0, 1]; got {min_fraction!r}")
        self.r0 = max(1, int(np.ceil(float(min_fraction) * self.m)))
        self.min_on = int(round(float(min_on_s) * self.fs_hz))
        self.min_off = int(round(float(min_off_s) * self.fs_hz))
        if min_on_s < 0 or min_off_s < 0:
            raise ValueError(f"min_on_s and min_off_s must be >= 0 s; got {min_on_s!r}, {min_off_s!r}")
        if noise_power is None:
            self.n_baseline = max(1, int(round(_validate.positive("baseline_s", baseline_s, " (s)") * self.fs_hz)))
            self._fixed_noise = None
        else:
            p = np.asarray(noise_power, dtype=float).reshape(-1)
            if p.shape != (self.n_channels,) or not np.all(np.isfinite(p)) or np.any(p <= 0):
                raise ValueError(f"noise_power must be {self.n_channels} positive finite values (µV^2); got {noise_power!r}")
            self.n_baseline = 0
            self._fixed_noise = p
        self.reset()

    def reset(self) -> None:
        """Forget the past (and any learnt baseline unless ``noise_power`` was given)."""
        self.n_seen = 0  # samples of energy produced so far
        self.primed = False  # TKEO: whether the first sample has been seen
        self.prev = np.zeros((self.n_channels, 2))
        self.flags = np.zeros((self.n_channels, self.m), dtype=bool)  # last m flags, oldest first
        self.count = np.zeros(self.n_channels, dtype=np.int64)
        self.baseline_sum = np.zeros(self.n_channels)
        self.noise_power = None if self._fixed_noise is None else self._fixed_noise.copy()
        self.raw_on = np.zeros(self.n_channels, dtype=bool)
        # Debouncer per channel: confirmed state, and the candidate change (sample) if any.
        self.state_on = [False] * self.n_channels
        self.candidate: list[int | None] = [None] * self.n_channels

    def process(self, block_uV) -> list[OnsetEvent]:
        """Feed one block of conditioned EMG; return the events confirmed by it.

        Parameters
        ----------
        block_uV : array_like, shape (n_channels, n_samples)
            Conditioned EMG, µV (see :mod:`glutesignal.conditioning`).

        Returns
        -------
        list of OnsetEvent
            In time order per channel.
        """
        x = _validate.signal_2d("block_uV", block_uV, self.n_channels, allow_empty=True)
        if x.shape[1] == 0:
            return []
        if self.tkeo:
            # First call: the first sample has no predecessor; its energy is x0^2.
            if not self.primed:
                self.prev = np.stack([x[:, 0], x[:, 0]], axis=1)
                self.primed = True
            e = _energy_tkeo(x, self.prev)
            self.prev = np.concatenate([self.prev, x], axis=1)[:, -2:]
            delay = 1
        else:
            e = x * x
            delay = 0
        start = self.n_seen
        self.n_seen += e.shape[1]
        # Baseline learning.
        if self.noise_power is None:
            take = min(self.n_baseline - start, e.shape[1])
            self.baseline_sum += e[:, :take].sum(axis=1)
            if start + take >= self.n_baseline:
                self.noise_power = np.maximum(self.baseline_sum / self.n_baseline, 1e-12)
            e = e[:, take:]
            start += take
            if e.shape[1] == 0:
                return []
        above = e > self.h * self.noise_power[:, None]
        ext = np.concatenate([self.flags, above], axis=1)  # (c, m + b)
        csum = np.cumsum(ext, axis=1)
        b = above.shape[1]
        # Count of the m flags ending at each new sample.
        counts = csum[:, self.m:] - csum[:, :b]  # flags in the m-window ending at each new sample
        on = counts >= self.r0
        events: list[OnsetEvent] = []
        for ch in range(self.n_channels):
            prev_on = self.raw_on[ch]
            changes = np.flatnonzero(np.diff(np.concatenate([[prev_on], on[ch]]).astype(np.int8)))
            for k in changes:
                ext_k = k + self.m  # index in ext of the sample that changed the state
                window = ext[ch, ext_k - self.m + 1:ext_k + 1]
                if on[ch, k]:
                    first = self._burst_start(window)
                    sample = start + k - (self.m - 1) + first
                else:
                    sample = start + k - (self.m - 1) + self._burst_end(window)
                events.extend(self._debounce(ch, bool(on[ch, k]), sample - delay, start + k - delay))
            self.raw_on[ch] = on[ch, -1] if b else prev_on
            events.extend(self._confirm(ch, start + b - 1 - delay))
        self.flags = ext[:, -self.m:].copy()
        self.count = counts[:, -1]
        return events

    def _burst_start(self, window: np.ndarray) -> int:
        """Index in ``window`` of the first flag after the last quiet run.

        A noise sample above the first threshold just before the burst would otherwise
        pull the onset early; inside a burst, runs of ``gap`` quiet samples are rare.
        """
        gap = self._gap()
        # Length of the quiet run ending at each position.
        idx = np.arange(window.size)
        last_true = np.maximum.accumulate(np.where(window, idx, -1))
        run = idx - last_true
        ends = np.flatnonzero(~window & (run >= gap))
        after = ends[-1] + 1 if ends.size else 0
        trues = np.flatnonzero(window[after:])
        return int(after + trues[0]) if trues.size else int(np.argmax(window))

    def _gap(self) -> int:
        return max(3, self.m // 20)

    def _burst_end(self, window: np.ndarray) -> int:
        """Index in ``window`` of the first sample of the first quiet run (the offset)."""
        gap = self._gap()
        quiet = (~window).astype(np.int64)
        if quiet.size < gap:
            return int(window.size)
        # Quiet runs of at least ``gap``: windows of ``gap`` samples that are all quiet.
        csum = np.concatenate([[0], np.cumsum(quiet)])
        full = np.flatnonzero(csum[gap:] - csum[:-gap] == gap)
        return int(full[0]) if full.size else int(window.size)

    def _debounce(self, ch: int, raw_on: bool, sample: int, now: int) -> list[OnsetEvent]:
        out = self._confirm(ch, now)
        if raw_on == self.state_on[ch]:
            self.candidate[ch] = None  # a short excursion ended: drop it
        else:
            self.candidate[ch] = sample
        return out

    def _confirm(self, ch: int, now: int) -> list[OnsetEvent]:
        cand = self.candidate[ch]
        if cand is None:
            return []
        need = self.min_off if self.state_on[ch] else self.min_on
        if now - cand >= need:
            self.state_on[ch] = not self.state_on[ch]
            self.candidate[ch] = None
            kind = "on" if self.state_on[ch] else "off"
            return [OnsetEvent(ch, kind, int(cand), cand / self.fs_hz)]
        return []


def estimate_noise_power(emg_uV, fs_hz: float, *, tkeo: bool = False, window_s: float = 0.1,
                         percentile: float = 10.0) -> np.ndarray:
    """Resting energy per channel from a recording that may contain activity.

    The energy is averaged over windows of ``window_s`` and the ``percentile``-th
    percentile of those means is taken: the quietest tenth of the recording stands for
    rest (a practical stand-in for a separate rest trial).

    Parameters
    ----------
    emg_uV : array_like, shape (n_channels, n_samples)
        Conditioned EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    tkeo : bool
        Energy as the detector will use it.
    window_s : float
        Averaging window, s.
    percentile : float
        Percentile of the window means, 0-100.

    Returns
    -------
    ndarray, shape (n_channels,)
        Mean resting energy, µV^2.
    """
    x = _validate.signal_2d("emg_uV", emg_uV)
    fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
    n = max(1, int(round(_validate.positive("window_s", window_s, " (s)") * fs_hz)))
    if x.shape[1] < 3 or x.shape[1] < n:
        raise ValueError(f"emg_uV must hold at least one window of {n} samples; got shape {x.shape}")
    e = x[:, 1:-1] ** 2 - x[:, :-2] * x[:, 2:] if tkeo else x * x
    k = e.shape[1] // n
    means = e[:, : k * n].reshape(e.shape[0], k, n).mean(axis=2)
    return np.maximum(np.percentile(means, percentile, axis=1), 1e-12)


def detect_bursts(emg_uV, fs_hz: float, **kwargs) -> tuple[Burst, ...]:
    """Activation intervals of a whole recording (the streaming detector, fed once).

    Parameters
    ----------
    emg_uV : array_like, shape (n_channels, n_samples)
        Conditioned EMG, µV.
    fs_hz : float
        Sampling rate, Hz.
    **kwargs
        Passed to :class:`OnsetDetector` (``noise_power``, ``tkeo``, ``h`` ...).

    Returns
    -------
    tuple of Burst
        Sorted by channel, then onset.
    """
    x = _validate.signal_2d("emg_uV", emg_uV)
    det = OnsetDetector(fs_hz, x.shape[0], **kwargs)
    events = det.process(x)
    bursts: list[Burst] = []
    open_on: dict[int, float] = {}
    for ev in events:
        if ev.kind == "on":
            open_on[ev.channel] = ev.t_s
        elif ev.channel in open_on:
            bursts.append(Burst(ev.channel, open_on.pop(ev.channel), ev.t_s))
    for ch, on in open_on.items():
        bursts.append(Burst(ch, on, None))
    return tuple(sorted(bursts, key=lambda b: (b.channel, b.on_s)))
