"""Left/right balance, contraction by contraction, streaming.

The live readout and the report both come from `BalanceTracker`: fed block by block
(live) or in one block (offline), it finds the same contractions and gives the same
per-contraction amplitudes, so a score in a report equals the one shown live.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ON_FACTOR = 2.5
"""Default onset threshold, multiples of the rest level. The envelope is an RMS, so at the
body model's 10 dB SNR a contraction lifts it only to ~3.3 x the noise floor: 4 x missed
most single-leg bridges and squeezes there. 2.5 x still finds no contraction in
body-model rest at 6-30 dB (tests/signal/test_balance.py)."""
OFF_FACTOR = 1.8
"""Default offset threshold, multiples of the rest level."""


@dataclass(frozen=True)
class Contraction:
    """One contraction of both sides, found on the envelopes."""

    start_s: float
    """Onset, seconds from the first sample fed."""
    end_s: float
    """Offset, seconds."""
    mean_uV: tuple[float, float]
    """Mean envelope of (left, right) between onset and offset, µV."""
    peak_uV: tuple[float, float]
    """Peak envelope of (left, right), µV."""

    @property
    def duration_s(self) -> float:
        """Time under tension, seconds."""
        return self.end_s - self.start_s


class BalanceTracker:
    """Segment contractions on the summed left+right envelope with hysteresis.

    A contraction starts when the summed envelope rises above ``on_factor`` times the
    rest level and ends when it falls below ``off_factor`` times it; contractions
    shorter than ``min_duration_s`` are ignored (twitches, motion artefacts). The rest
    level is the slowly tracked minimum of the summed envelope (a running estimate of
    the noise floor), so no calibration is needed. Double-threshold detection follows
    Bonato et al. (1998) in spirit, on the envelope rather than the raw signal.

    Parameters
    ----------
    fs_hz : float
        Sampling rate of the envelopes, Hz.
    on_factor, off_factor : float
        Thresholds as multiples of the rest level (on > off > 1).
    min_rest_uV : float
        Floor of the rest level, µV, so a perfectly clean channel does not trigger on
        tiny fluctuations.
    min_duration_s : float
        Shortest contraction kept, seconds.
    rest_rise_per_s : float
        How fast the rest level may rise, fraction per second.
    warmup_s : float
        Samples ignored at the start while the envelope's window fills, seconds.

    References
    ----------
    Bonato P, D'Alessio T, Knaflitz M (1998). A statistical method for the measurement
    of muscle activation intervals from surface myoelectric signal during gait.
    IEEE Trans Biomed Eng 45(3):287-299.
    """

    def __init__(self, fs_hz: float, *, on_factor: float = ON_FACTOR, off_factor: float = OFF_FACTOR,
                 min_rest_uV: float = 3.0, min_duration_s: float = 0.5,
                 rest_rise_per_s: float = 0.05, warmup_s: float = 0.3) -> None:
        if not fs_hz > 0:
            raise ValueError(f"fs_hz must be positive, got {fs_hz}")
        if not on_factor > off_factor > 1.0:
            raise ValueError(
                f"need on_factor > off_factor > 1, got on_factor={on_factor}, off_factor={off_factor}")
        self.fs_hz = float(fs_hz)
        self.on_factor = on_factor
        self.off_factor = off_factor
        self.min_rest_uV = min_rest_uV
        self.min_samples = int(round(min_duration_s * fs_hz))
        # The envelope's window is still filling at the start: its low values are not rest.
        self.warmup_samples = int(round(warmup_s * fs_hz))
        # The rest level follows drops at once and rises only slowly (5 %/s), so it
        # tracks the noise floor and is not dragged up by a long hold.
        self._rise_per_sample = (1.0 + rest_rise_per_s) ** (1.0 / fs_hz)
        self.reset()

    def reset(self) -> None:
        """Forget the rest level, the contraction in progress and the contractions found."""
        self.rest_uV = np.inf
        self.n_fed = 0
        self.contractions: list[Contraction] = []
        self._active = False
        self._start = 0
        self._sum = np.zeros(2)
        self._peak = np.zeros(2)
        self._count = 0
        self._quiet_until = self.warmup_samples  # sample index before which nothing is judged

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
        self._active = False
        self.n_fed += int(n_samples)
        self._quiet_until = self.n_fed + self.warmup_samples

    def process(self, envelope_uV: np.ndarray) -> list[Contraction]:
        """Feed a block of left/right envelopes, shape (2, n); return contractions that ended in it."""
        env = np.asarray(envelope_uV, dtype=float)
        if env.ndim != 2 or env.shape[0] != 2:
            raise ValueError(f"envelope_uV must be shaped (2, n_samples) as (left, right), got {env.shape}")
        if not np.all(np.isfinite(env)):
            raise ValueError("envelope_uV contains NaN or inf")
        total = env.sum(axis=0)
        ended: list[Contraction] = []
        # Per-sample state machine; the envelope is already smooth and this runs on
        # ~20-50 samples per call, so the loop is cheap relative to the filters.
        rest = self.rest_uV
        rise = self._rise_per_sample
        for i in range(max(0, self._quiet_until - self.n_fed), total.size):
            x = total[i]
            if not self._active:
                rest = x if x < rest else rest * rise
                level = max(rest, self.min_rest_uV)
                if x > self.on_factor * level:
                    self._active = True
                    self._start = self.n_fed + i
                    self._sum[:] = 0.0
                    self._peak[:] = 0.0
                    self._count = 0
            else:
                level = max(rest, self.min_rest_uV)
                if x < self.off_factor * level:
                    self._active = False
                    done = self._finish(self.n_fed + i)
                    if done is not None:
                        ended.append(done)
                    continue
                self._sum += env[:, i]
                np.maximum(self._peak, env[:, i], out=self._peak)
                self._count += 1
        self.rest_uV = rest
        self.n_fed += total.size
        self.contractions.extend(ended)
        return ended

    def _finish(self, end: int):
        if self._count < self.min_samples:
            return None
        mean = self._sum / self._count
        return Contraction(
            start_s=self._start / self.fs_hz, end_s=end / self.fs_hz,
            mean_uV=(float(mean[0]), float(mean[1])),
            peak_uV=(float(self._peak[0]), float(self._peak[1])),
        )


def working_side_pairs(amplitudes, sides) -> tuple[list[float], list[float]]:
    """Pair single-leg reps by working side, for a symmetry index of one-legged exercises.

    In a single-leg bridge (or stance) the glute of the supporting leg works and the
    other rests, so comparing the two within a rep says nothing: the working glute of
    left-leg reps is compared with that of right-leg reps, the i-th left with the i-th
    right, as in the usual left-then-right (or alternating) protocol.

    The working side must come from outside the amplitudes compared (the protocol's cue,
    or the hip drop the pelvis IMU sees). Taking it from the louder channel, as this
    function once did, relabels exactly the reps where the working glute is weakest: a
    left-leg rep whose weak left glute reads below the resting right becomes a
    "right-leg" rep, and the asymmetry it should show disappears.

    Parameters
    ----------
    amplitudes : sequence of (float, float)
        Per rep, the (left, right) amplitude (µV, or % of each side's reference).
    sides : sequence of str
        Per rep, the supporting leg: "left", "right", or anything else ("unknown") to
        leave the rep out.

    Returns
    -------
    left, right : list of float
        Amplitude of the working glute in paired left-leg and right-leg reps; equal
        lengths (unpaired reps are left out), possibly empty.

    Raises
    ------
    ValueError
        When ``amplitudes`` and ``sides`` differ in length.
    """
    amplitudes, sides = list(amplitudes), list(sides)
    if len(amplitudes) != len(sides):
        raise ValueError(f"amplitudes and sides must have one entry per rep; got {len(amplitudes)} and {len(sides)}")
    left = [float(a[0]) for a, side in zip(amplitudes, sides) if side == "left"]
    right = [float(a[1]) for a, side in zip(amplitudes, sides) if side == "right"]
    n = min(len(left), len(right))
    return left[:n], right[:n]
