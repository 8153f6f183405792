"""Left/right balance, contraction by contraction, streaming.

The live readout and the report both come from `BalanceTracker`: fed block by block
(live) or in one block (offline), it finds the same contractions and gives the same
per-contraction amplitudes, so a score in a report equals the one shown live.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .onsets import (MIN_DURATION_S, MIN_REST_UV, OFF_FACTOR, ON_FACTOR, REST_MEMORY_S, REST_STRETCH_S,
                     WARMUP_S, Activation, ContractionDetector)

__all__ = ["BalanceTracker", "Contraction", "OFF_FACTOR", "ON_FACTOR", "working_side_pairs"]

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
    """Contractions of both sides, found on the summed left+right envelope.

    The detection is :class:`glutesignal.onsets.ContractionDetector` (the app's one
    contraction detector): a double threshold at ``on_factor`` / ``off_factor`` times a
    rest level that is found (the mean envelope of the quietest half second of inactive
    signal) or given from a relax cue, never assumed. This class adds the left/right
    view: each contraction with its per-side mean and peak envelope.

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
    rest_rise_per_s : float or None
        Ignored; kept so callers that passed it keep working (the rest level is now the
        quietest stretch within ``rest_memory_s``, not a slowly rising minimum).
    warmup_s : float
        Samples ignored at the start and after a gap while the envelope's window fills, s.
    rest_stretch_s, rest_memory_s : float
        See :class:`glutesignal.onsets.ContractionDetector`.
    rest_uV : float or None
        Known rest level of the summed envelope (e.g. from a relax cue), µV.

    References
    ----------
    Bonato P, D'Alessio T, Knaflitz M (1998). A statistical method for the measurement
    of muscle activation intervals from surface myoelectric signal during gait.
    IEEE Trans Biomed Eng 45(3):287-299.
    """

    def __init__(self, fs_hz: float, *, on_factor: float = ON_FACTOR, off_factor: float = OFF_FACTOR,
                 min_rest_uV: float = MIN_REST_UV, min_duration_s: float = MIN_DURATION_S,
                 rest_rise_per_s: float | None = None, warmup_s: float = WARMUP_S,
                 rest_stretch_s: float = REST_STRETCH_S, rest_memory_s: float = REST_MEMORY_S,
                 rest_uV: float | None = None) -> None:
        if not fs_hz > 0:
            raise ValueError(f"fs_hz must be positive, got {fs_hz}")
        self.detector = ContractionDetector(
            fs_hz, 2, on_factor=on_factor, off_factor=off_factor, min_rest_uV=min_rest_uV,
            min_duration_s=min_duration_s, rest_stretch_s=rest_stretch_s, rest_memory_s=rest_memory_s,
            warmup_s=warmup_s, rest_uV=rest_uV)
        self.fs_hz = self.detector.fs_hz
        self.on_factor = self.detector.on_factor
        self.off_factor = self.detector.off_factor
        self.min_rest_uV = self.detector.min_rest_uV
        self.min_samples = self.detector.min_samples
        self.warmup_samples = self.detector.warmup_samples
        self.contractions: list[Contraction] = []

    def reset(self) -> None:
        """Forget the rest level, the contraction in progress and the contractions found."""
        self.detector.reset()
        self.contractions = []

    @property
    def rest_uV(self) -> float:
        """Rest level of the summed envelope in use, µV (inf until found)."""
        return self.detector.rest_uV

    @property
    def n_fed(self) -> int:
        """Samples accounted for so far (fed or lost in gaps)."""
        return self.detector.n_fed

    def set_rest(self, rest_uV: float | None) -> None:
        """Use a known rest level of the summed envelope from now on (µV); None: find it."""
        self.detector.set_rest(rest_uV)

    def gap(self, n_samples: int) -> None:
        """Account for ``n_samples`` that never arrived (a link loss).

        Times stay on the stream clock; a contraction cut by the gap is dropped (its
        mean would describe only part of it); the rest level is kept, and the samples
        right after the gap are not judged while the restarted envelope's window fills.
        """
        self.detector.gap(n_samples)

    def process(self, envelope_uV: np.ndarray) -> list[Contraction]:
        """Feed a block of left/right envelopes, shape (2, n); return contractions that ended in it."""
        env = np.asarray(envelope_uV, dtype=float)
        if env.ndim != 2 or env.shape[0] != 2:
            raise ValueError(f"envelope_uV must be shaped (2, n_samples) as (left, right), got {env.shape}")
        if not np.all(np.isfinite(env)):
            raise ValueError("envelope_uV contains NaN or inf")
        ended = [_contraction(a) for a in self.detector.process(env)]
        self.contractions.extend(ended)
        return ended


def _contraction(a: Activation) -> Contraction:
    return Contraction(start_s=a.start_s, end_s=a.end_s, mean_uV=(a.mean_uV[0], a.mean_uV[1]),
                       peak_uV=(a.peak_uV[0], a.peak_uV[1]))


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
