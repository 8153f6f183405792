"""Muscle activity detection, streaming: the app's contraction detector and a
sample-precise onset detector.

:class:`ContractionDetector` (at the end of this module) is what the app runs, live and
in reports: a double threshold on the RMS envelope relative to a rest level found in the
signal, giving contraction intervals and their amplitudes (docs/scores.md, "Contractions
and onsets"). The rest of this module, :class:`OnsetDetector` / :func:`detect_bursts`, is
a library tool for offline onset studies that the app does not use; it assumes the first
``baseline_s`` to be rest unless ``noise_power`` is given.

Onset detector: Bonato's double-threshold detector, TKEO-conditioned, with a
maximum-likelihood estimate of the change time.

Detection. Each sample's energy ``e`` (the Teager-Kaiser energy of the conditioned EMG
[2], [3], or its square) is compared with ``h`` times the mean energy at rest (first
threshold). The muscle is "on" while at least ``r0`` of the last ``m`` samples are above
it (second threshold) [1]. Runs shorter than ``min_on_s`` are dropped and gaps shorter
than ``min_off_s`` bridged, as Bonato et al. require a minimum burst duration.

Timing. The double threshold says *that* the muscle switched on, but the sample that
tripped it is late at low SNR and early when a noise sample happens to cross first.
Each confirmed change is therefore re-timed by the maximum-likelihood change point of a
Gaussian variance change (the estimator of the AGLR detectors compared by Staude et al.
[4]): over ``refine_s`` before to at most ``refine_s`` after the detected sample, the split that best explains the squared signal as two
segments of different variance, rising for an onset and falling for an offset. The
window ends before the change can be confirmed, so the live and offline results are
equal and the confirmation delay is unchanged.

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
.. [4] Staude G, Flachenecker C, Daumer M, Wolf W. Onset detection in surface
   electromyographic signals: a systematic comparison of methods. EURASIP J Appl Signal
   Process 2001(2):67-81, 2001.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate

__all__ = ["Activation", "Burst", "ContractionDetector", "OnsetDetector", "OnsetEvent", "detect_bursts",
           "estimate_noise_power"]

DEFAULT_TKEO = True
"""Detect on the Teager-Kaiser energy (Solnik et al. 2010 [3]): fewer misses at 3 dB SNR
on the synthetic-burst benchmark than the squared signal, same timing at 10-20 dB."""
DEFAULT_H = 4.0
"""First threshold, multiples of the mean resting energy. Low on its own (a noise sample
crosses it often); the second threshold over a 100 ms window keeps false alarms away
(none in 7.5 min of two-channel body-model rest at 3, 10 and 20 dB) and lets most 3 dB
bursts through (benchmarks/signal_accuracy.py); 3 merges the bursts of a real gluteal
walking recording across low swing-phase activity."""
DEFAULT_WINDOW_S = 0.1
"""Second-threshold window ``m``, s (100 ms)."""
DEFAULT_MIN_FRACTION = 0.15
"""Second threshold ``r0 / m``: fraction of the window above the first threshold."""
DEFAULT_MIN_ON_S = 0.1
"""Shortest burst kept, s."""
DEFAULT_MIN_OFF_S = 0.15
"""Shortest gap kept between bursts, s (shorter gaps are bridged)."""
DEFAULT_REFINE_S = 0.15
"""Look-back (and at most look-ahead) of the change-time estimate, s."""
_MIN_SEGMENT_S = 0.005
"""Shortest segment on either side of an estimated change point, s."""


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
    refine_s : float or None
        Look-back of the maximum-likelihood change-time estimate, s; its look-ahead is
        ``refine_s`` too, shortened to the confirmation delay (see Notes) when that is
        shorter.
        None: report the double threshold's own sample.

    Notes
    -----
    Events are reported once confirmed, with their estimated sample index: an onset
    ``min_on_s + (1 - min_fraction) window_s`` after the detected sample (its raw "on"
    outlasts a burst by up to that much of the window), an offset ``min_off_s`` after it;
    both up to ``window_s`` after they happened. State: the last ``m`` above-threshold flags, the last few hundred
    milliseconds of input (for the change-time estimate), the baseline accumulators and a
    small per-channel state machine.
    """

    def __init__(self, fs_hz: float, n_channels: int, *, noise_power=None, baseline_s: float = 1.0,
                 tkeo: bool = DEFAULT_TKEO, h: float = DEFAULT_H, window_s: float = DEFAULT_WINDOW_S,
                 min_fraction: float = DEFAULT_MIN_FRACTION, min_on_s: float = DEFAULT_MIN_ON_S,
                 min_off_s: float = DEFAULT_MIN_OFF_S, refine_s: float | None = DEFAULT_REFINE_S) -> None:
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
        if refine_s is None:
            self.refine_before = 0
        else:
            self.refine_before = int(round(_validate.positive("refine_s", refine_s, " (s) or None") * self.fs_hz))
        # A burst's raw "on" outlasts it by up to m - r0 samples (the window still holds
        # enough of its flags), so an onset is confirmed only when the raw state has held
        # that much longer than min_on: a 20 ms spike then never makes a burst.
        self.need_on = self.min_on + self.m - self.r0
        self.need_off = self.min_off
        self.refine_after_on = min(self.refine_before, self.need_on)
        self.refine_after_off = min(self.refine_before, self.need_off)
        self.min_segment = max(3, int(round(_MIN_SEGMENT_S * self.fs_hz)))
        # Input kept for re-timing: a change is confirmed at most max(min_on, min_off)
        # after its sample, which lies at most m before the block that detected it.
        self.n_history = self.refine_before + max(self.need_on, self.need_off, self.m) + 4 if self.refine_before else 0
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
        self.last_event = [-1] * self.n_channels  # sample of each channel's last reported event
        self.history = np.zeros((self.n_channels, 0))  # the last n_history input samples
        self.n_in = 0  # input samples seen

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
        if self.n_history:
            self._x = np.concatenate([self.history, x], axis=1)
            self._x_start = self.n_in - self.history.shape[1]
            self.history = self._x[:, -self.n_history:].copy()
        self.n_in += x.shape[1]
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
        need = self.need_off if self.state_on[ch] else self.need_on
        if now - cand >= need:
            self.state_on[ch] = not self.state_on[ch]
            self.candidate[ch] = None
            rising = self.state_on[ch]
            sample = self._refine(ch, cand, rising) if self.refine_before else cand
            self.last_event[ch] = sample
            return [OnsetEvent(ch, "on" if rising else "off", int(sample), sample / self.fs_hz)]
        return []

    def _refine(self, ch: int, cand: int, rising: bool) -> int:
        """Maximum-likelihood time of the variance change near ``cand`` (Staude et al. [4]).

        Splits ``x[a:b]`` at ``j`` into two zero-mean Gaussian segments with their own
        variance; the log-likelihood is ``-(j-a)/2 log v1 - (b-j)/2 log v2`` with each
        ``v`` its segment's mean square. Only splits where the variance rises (onset) or
        falls (offset) count; the estimate never precedes the channel's previous event.
        """
        after = self.refine_after_on if rising else self.refine_after_off
        a = max(cand - self.refine_before, self.last_event[ch] + 1, self._x_start, 0)
        b = min(cand + after, self._x_start + self._x.shape[1])
        n = b - a
        ms = self.min_segment
        if n < 2 * ms:
            return cand
        e = self._x[ch, a - self._x_start:b - self._x_start] ** 2
        csum = np.concatenate([[0.0], np.cumsum(e)])
        j = np.arange(ms, n - ms + 1)
        v1 = csum[j] / j + 1e-30
        v2 = (csum[n] - csum[j]) / (n - j) + 1e-30
        loglik = -0.5 * (j * np.log(v1) + (n - j) * np.log(v2))
        ok = v2 > v1 if rising else v2 < v1
        if not np.any(ok):
            return cand
        return int(a + j[ok][np.argmax(loglik[ok])])


def estimate_noise_power(emg_uV, fs_hz: float, *, tkeo: bool = DEFAULT_TKEO, window_s: float = 0.1,
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


# --------------------------------------------------------------------------------------
# The app's contraction detector: double threshold on the RMS envelope, rest found.
# --------------------------------------------------------------------------------------

ON_FACTOR = 2.5
"""Onset threshold of :class:`ContractionDetector`, multiples of the rest level (the mean
envelope of the quietest stretch). On the real treadmill recording (gluteus maximus and
medius, tests/data/real-emg) the stance bursts reach 15-50 x rest and the swing-phase
envelope stays under 2 x; in body-model rest at 6-30 dB SNR the 100 ms RMS of noise
never reaches 1.5 x its mean, while a 10 dB contraction lifts it to ~3.3 x."""
OFF_FACTOR = 1.6
"""Offset threshold, multiples of the rest level; the onset is also dated back to the
last sample below it, so a contraction is the whole excursion above ``OFF_FACTOR`` x rest
that reaches ``ON_FACTOR`` x rest."""
MIN_DURATION_S = 0.2
"""Shortest contraction kept, s. Gait bursts of the gluteus maximus last 0.3-0.5 s at
these thresholds (real recording); twitches and motion spikes are shorter."""
REST_STRETCH_S = 0.5
"""Length of the stretch whose mean envelope stands for rest, s."""
REST_MEMORY_S = 30.0
"""Inactive signal over which the quietest stretch is searched, s."""
MIN_REST_UV = 3.0
"""Floor of the rest level, µV, so a perfectly clean channel does not trigger on tiny
fluctuations."""
WARMUP_S = 0.3
"""Samples not judged after the start and after each gap while the envelope's window
fills, s."""


@dataclass(frozen=True)
class Activation:
    """One contraction found on the envelopes by :class:`ContractionDetector`."""

    start: int
    """First sample of the contraction (stream index)."""
    end: int
    """Sample at which the envelope fell below the offset threshold (stream index)."""
    start_s: float
    """``start / fs_hz``, s."""
    end_s: float
    """``end / fs_hz``, s."""
    mean_uV: tuple[float, ...]
    """Mean envelope of each row over ``[start, end)``, µV."""
    peak_uV: tuple[float, ...]
    """Peak envelope of each row over ``[start, end)``, µV."""
    rest_uV: float
    """Rest level (summed rows) the thresholds were relative to at the onset, µV."""


class ContractionDetector:
    """Streaming double-threshold contraction detector on RMS envelopes, rest found.

    This is the detector the app runs (live, replay and report): the rows of an
    envelope block (e.g. left and right gluteus maximus) are summed, and a contraction
    is an excursion of that sum above ``off_factor`` x the rest level that reaches
    ``on_factor`` x the rest level and lasts at least ``min_duration_s``. Its onset is
    the last sample below the offset threshold before the onset threshold was crossed
    (the envelope had started to rise there), its offset the first sample back below
    the offset threshold. Per row the mean and peak envelope over the contraction are
    kept.

    The rest level is *found*, never assumed: it is the mean of the summed envelope over
    the quietest ``rest_stretch_s`` stretch of inactive signal within the last
    ``rest_memory_s`` of inactive signal (a robust noise-floor estimate: the mean of 0.5 s
    of 100 ms RMS values barely fluctuates, unlike the running minimum of single values).
    Nothing is judged until one such stretch has been seen. When the protocol provides a
    rest period (a relax cue), its level can be given instead (``rest_uV`` or
    :meth:`set_rest`).

    Parameters
    ----------
    fs_hz : float
        Sampling rate of the envelopes, Hz.
    n_rows : int
        Rows of every envelope block.
    on_factor, off_factor : float
        Thresholds in multiples of the rest level, ``on_factor > off_factor > 1``.
    min_rest_uV : float
        Floor of the rest level, µV.
    min_duration_s : float
        Shortest contraction kept, s.
    rest_stretch_s, rest_memory_s : float
        Length of the quiet stretch and the inactive signal searched for it, s.
    warmup_s : float
        Samples not judged at the start and after a gap, s.
    rest_uV : float or None
        A known rest level of the summed rows (from a relax cue), µV; None: find it.

    Notes
    -----
    Double-threshold detection after Bonato et al. (1998) [1]_ in its simplest form, on
    the moving-RMS envelope instead of the raw samples: the app needs contraction
    intervals of reps and squeezes (0.3-10 s) and their amplitudes, not millisecond
    onsets. The thresholds are checked on a real treadmill recording of the gluteus
    maximus and medius against its gait events (benchmarks/signal_accuracy.py,
    tests/signal/test_real_emg.py) as well as on the body model. Feeding a signal block
    by block gives exactly the result of feeding it whole.

    References
    ----------
    .. [1] Bonato P, D'Alessio T, Knaflitz M. A statistical method for the measurement of
       muscle activation intervals from surface myoelectric signal during gait. IEEE
       Trans Biomed Eng 45(3):287-299, 1998.
    .. [2] Hodges PW, Bui BH. A comparison of computer-based methods for the
       determination of onset of muscle contraction using electromyography.
       Electroencephalogr Clin Neurophysiol 101(6):511-519, 1996 (threshold on a
       smoothed envelope relative to a baseline level).
    """

    def __init__(self, fs_hz: float, n_rows: int = 1, *, on_factor: float = ON_FACTOR,
                 off_factor: float = OFF_FACTOR, min_rest_uV: float = MIN_REST_UV,
                 min_duration_s: float = MIN_DURATION_S, rest_stretch_s: float = REST_STRETCH_S,
                 rest_memory_s: float = REST_MEMORY_S, warmup_s: float = WARMUP_S,
                 rest_uV: float | None = None) -> None:
        self.fs_hz = _validate.positive("fs_hz", fs_hz, " (Hz)")
        self.n_rows = _validate.count("n_rows", n_rows, 1)
        if not on_factor > off_factor > 1.0:
            raise ValueError(
                f"need on_factor > off_factor > 1, got on_factor={on_factor}, off_factor={off_factor}")
        self.on_factor = float(on_factor)
        self.off_factor = float(off_factor)
        self.min_rest_uV = _validate.positive("min_rest_uV", min_rest_uV, " (µV)")
        self.min_samples = max(1, int(round(_validate.positive("min_duration_s", min_duration_s, " (s)")
                                            * self.fs_hz)))
        # The quiet stretch is searched as runs of whole 0.1 s chunks of inactive signal.
        self.chunk = max(1, int(round(0.1 * self.fs_hz)))
        stretch = _validate.positive("rest_stretch_s", rest_stretch_s, " (s)")
        self.stretch_chunks = max(1, int(round(stretch * self.fs_hz / self.chunk)))
        memory = _validate.positive("rest_memory_s", rest_memory_s, " (s)")
        if memory < stretch:
            raise ValueError(f"rest_memory_s must be >= rest_stretch_s ({stretch:g} s); got {memory:g}")
        self.memory_chunks = max(self.stretch_chunks, int(round(memory * self.fs_hz / self.chunk)))
        if warmup_s < 0:
            raise ValueError(f"warmup_s must be >= 0 s; got {warmup_s!r}")
        self.warmup_samples = int(round(float(warmup_s) * self.fs_hz))
        self._given_rest = None if rest_uV is None else _validate.positive("rest_uV", rest_uV, " (µV)")
        self.reset()

    # -- state -----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: rest level (unless given), contraction in progress, found ones."""
        self.n_fed = 0
        self.contractions: list[Activation] = []
        self._stretches: list[float] = []  # mean of each recent quiet stretch, oldest first
        self._found_rest = np.inf
        self._restart(0)

    def _restart(self, quiet_until: int) -> None:
        self._active = False
        self._start = 0
        self._onset_rest = np.inf
        self._sum = [0.0] * self.n_rows  # per row over the excursion, Python floats (see process)
        self._peak = [0.0] * self.n_rows
        self._count = 0
        self._quiet_until = quiet_until
        self._chunk_means: list[float] = []  # consecutive whole inactive chunks, newest last
        self._chunk_id = -1  # chunk being accumulated
        self._last_chunk_id = -2  # last whole chunk appended to the run
        self._chunk_sum = 0.0
        self._chunk_n = 0

    @property
    def rest_uV(self) -> float:
        """Rest level of the summed rows in use, µV (inf until found)."""
        if self._given_rest is not None:
            return self._given_rest
        return self._found_rest

    @property
    def rest_found(self) -> bool:
        """True once a rest level is known (given, or a quiet stretch was seen)."""
        return np.isfinite(self.rest_uV)

    def set_rest(self, rest_uV: float | None) -> None:
        """Use ``rest_uV`` (µV, summed rows, e.g. measured during a relax cue) as the rest
        level from now on; None goes back to finding it."""
        self._given_rest = None if rest_uV is None else _validate.positive("rest_uV", rest_uV, " (µV)")

    def gap(self, n_samples: int) -> None:
        """Account for ``n_samples`` that never arrived (a link loss).

        Times stay on the stream clock; a contraction cut by the gap is dropped (its
        mean would describe only part of it); the rest level is kept, and the samples
        right after the gap are not judged while the restarted envelope's window fills.
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if n_samples == 0:
            return
        self.n_fed += int(n_samples)
        self._restart(self.n_fed + self.warmup_samples)

    # -- processing ------------------------------------------------------------------
    def process(self, envelope_uV) -> list[Activation]:
        """Feed one block of envelopes; return the contractions that ended in it.

        Parameters
        ----------
        envelope_uV : array_like, shape (n_rows, n_samples)
            RMS envelopes, µV.

        Returns
        -------
        list of Activation
            In time order.
        """
        env = _validate.signal_2d("envelope_uV", envelope_uV, self.n_rows, allow_empty=True)
        total = env.sum(axis=0)
        ended: list[Activation] = []
        first = max(0, self._quiet_until - self.n_fed)
        # The state machine of the class docstring, stepped from one change of state to
        # the next instead of sample by sample: between changes every sample does the
        # same thing, and the rest level can only change where an inactive 0.1 s chunk
        # ends, so each step is a few numpy calls over a run of samples. Sums are
        # running sums taken in sample order (np.cumsum is sequential), so the results
        # equal those of the per-sample rule to the bit (tests/signal/test_inner_loops.py).
        end, chunk = total.size, self.chunk
        j = first
        while j < end:
            n = self.n_fed + j
            given = self._given_rest
            rest = max(self._found_rest if given is None else given, self.min_rest_uV)
            off = self.off_factor * rest
            if self._active:
                below = np.flatnonzero(total[j:] < off)
                stop = end if below.size == 0 else j + int(below[0])
                self._accumulate(env, j, stop)
                if stop < end:
                    self._active = False
                    if self._count >= self.min_samples:
                        ended.append(self._activation(self.n_fed + stop))
                    self._count = 0
                j = stop + 1
                continue
            # Inactive: up to the end of the chunk holding sample n, where the rest level
            # may change (it applies from the sample after that chunk's last).
            stop = min(end, j + chunk - n % chunk)
            x = total[j:stop]
            if given is None and self._found_rest == np.inf:
                self._track_rest_run(x, n)
                if self._found_rest != np.inf:
                    self._count = 0  # (the chunk's last sample judged against an infinite rest)
                j = stop
                continue
            onset = np.flatnonzero(x > self.on_factor * rest)
            if onset.size:
                stop = j + int(onset[0]) + 1  # the sample that starts the contraction is the last tracked
                x = x[:stop - j]
            self._track_rest_run(x, n)
            below = np.flatnonzero(x < off)
            if below.size:
                self._count = 0
                j_exc = j + int(below[-1]) + 1  # the excursion (if any) starts after the last sample below
            else:
                j_exc = j
            if j_exc < stop:
                if self._count == 0:
                    self._start = self.n_fed + j_exc
                    self._sum = [0.0] * self.n_rows
                    self._peak = [0.0] * self.n_rows
                self._accumulate(env, j_exc, stop)
            if onset.size:
                self._active = True
                self._onset_rest = rest
                self._drop_chunk()
            j = stop
        self.n_fed += total.size
        self.contractions.extend(ended)
        return ended

    def _accumulate(self, env: np.ndarray, a: int, b: int) -> None:
        """Add samples [a, b) of the block to each row's running sum and peak, in order."""
        if b <= a:
            return
        seg = env[:, a:b]
        sums = np.cumsum(np.concatenate([np.array(self._sum)[:, None], seg], axis=1), axis=1)[:, -1]
        peaks = seg.max(axis=1)
        self._sum = sums.tolist()
        self._peak = [p if p > q else q for p, q in zip(peaks.tolist(), self._peak)]
        self._count += b - a

    def _track_rest_run(self, x: np.ndarray, n: int) -> None:
        """`_track_rest` of consecutive samples ``x`` from stream index ``n``, all in one chunk."""
        if x.size == 0:
            return
        chunk_id = n // self.chunk
        if chunk_id != self._chunk_id:
            self._chunk_id = chunk_id
            self._chunk_sum = 0.0
            self._chunk_n = 0
        self._chunk_sum = float(np.cumsum(np.concatenate([[self._chunk_sum], x]))[-1])
        self._chunk_n += x.size
        if self._chunk_n < self.chunk:
            return
        self._complete_chunk(chunk_id)

    def _activation(self, end: int) -> Activation:
        return Activation(self._start, end, self._start / self.fs_hz, end / self.fs_hz,
                          tuple(v / self._count for v in self._sum), tuple(self._peak),
                          float(self._onset_rest))

    def _drop_chunk(self) -> None:
        # A contraction interrupts the run of quiet chunks.
        self._chunk_means.clear()
        self._chunk_n = 0

    def _track_rest(self, x: float, n: int) -> None:
        """Accumulate inactive signal in whole 0.1 s chunks aligned on the stream index;
        each run of ``stretch_chunks`` consecutive whole chunks is a candidate quiet stretch."""
        chunk_id = n // self.chunk
        if chunk_id != self._chunk_id:
            self._chunk_id = chunk_id
            self._chunk_sum = 0.0
            self._chunk_n = 0
        self._chunk_sum += x
        self._chunk_n += 1
        if self._chunk_n < self.chunk:
            return
        self._complete_chunk(chunk_id)

    def _complete_chunk(self, chunk_id: int) -> None:
        """A whole inactive chunk ended: extend the run of quiet chunks; a run of
        ``stretch_chunks`` is a candidate quiet stretch."""
        if chunk_id != self._last_chunk_id + 1:
            self._chunk_means.clear()  # not consecutive with the run: a new run begins
        self._last_chunk_id = chunk_id
        self._chunk_means.append(self._chunk_sum / self.chunk)
        self._chunk_n = 0
        if len(self._chunk_means) > self.stretch_chunks:
            del self._chunk_means[0]
        if len(self._chunk_means) == self.stretch_chunks:
            self._stretches.append(float(np.mean(self._chunk_means)))
            if len(self._stretches) > self.memory_chunks:
                del self._stretches[0]
            self._found_rest = min(self._stretches)
