"""Sample counts and exact gaps of a stream (EMG or IMU), as ``info`` and ``record`` print them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

MAX_GAPS_LISTED = 20  # the text view lists this many gaps; --json lists them all


@dataclass(frozen=True)
class GapSummary:
    """One run of samples that never arrived."""

    segment: int
    """Segment (one per START) the gap is in."""
    first_sample: int
    """Stream index of the first missing sample within the segment."""
    n_samples: int
    """Consecutive samples missing."""
    t_s: Optional[float]
    """Time of the first missing sample from the segment's start, s (None without a rate)."""


@dataclass(frozen=True)
class StreamSummary:
    """Sample counts of one stream (EMG or IMU) over all its segments."""

    fs_hz: Optional[float]
    """Sampling rate, Hz (None when the recording holds no device info)."""
    n_channels: int
    """Rows per sample."""
    n_samples: int
    """Samples per channel from each segment's start to its last sample, missing ones included."""
    n_missing: int
    """Samples per channel inside gaps."""
    n_segments: int
    """Segments (one per START or restart of the wearable)."""
    gaps: tuple[GapSummary, ...]
    """Every gap, in order."""

    @property
    def n_received(self) -> int:
        """Samples per channel actually in the recording."""
        return self.n_samples - self.n_missing

    @property
    def duration_s(self) -> Optional[float]:
        """Span of the samples at the sampling rate, s."""
        return self.n_samples / self.fs_hz if self.fs_hz else None


def stream_summary(segments: Sequence, fs_hz: Optional[float]) -> StreamSummary:
    """Summarise ``glutescope.stream.Segment`` s of one stream.

    Parameters
    ----------
    segments : sequence of Segment
        Oldest first.
    fs_hz : float or None
        Sampling rate of the stream, Hz; None or 0 when unknown.
    """
    fs = float(fs_hz) if fs_hz else None
    gaps = tuple(
        GapSummary(seg.index, g.first_sample, g.n_samples, g.first_sample / fs if fs else None)
        for seg in segments for g in seg.gaps
    )
    return StreamSummary(
        fs_hz=fs,
        n_channels=int(segments[0].samples.shape[0]) if segments else 0,
        n_samples=sum(seg.n_samples for seg in segments),
        n_missing=sum(seg.n_missing for seg in segments),
        n_segments=len(segments),
        gaps=gaps,
    )


def stream_lines(label: str, s: StreamSummary, *, unit_channels: str = "channel") -> list[str]:
    """Text lines for one stream: counts, then the gaps (the first `MAX_GAPS_LISTED`)."""
    rate = f" at {s.fs_hz:g} Hz" if s.fs_hz else ""
    dur = f" ({s.duration_s:.3f} s)" if s.duration_s is not None else ""
    segs = f" in {s.n_segments} segments" if s.n_segments > 1 else ""
    head = (f"{label:<10} {s.n_received} samples per {unit_channels}{rate}{dur}{segs}; "
            f"{s.n_missing} missing in {len(s.gaps)} gaps")
    lines = [head]
    for g in s.gaps[:MAX_GAPS_LISTED]:
        at = f" ({g.t_s:.3f} s)" if g.t_s is not None else ""
        seg = f"segment {g.segment}, " if s.n_segments > 1 else ""
        lines.append(f"{'':<10}   gap: {seg}samples {g.first_sample}-{g.first_sample + g.n_samples - 1}{at}, "
                     f"{g.n_samples} missing")
    if len(s.gaps) > MAX_GAPS_LISTED:
        lines.append(f"{'':<10}   ... {len(s.gaps) - MAX_GAPS_LISTED} more gaps (see --json)")
    return lines
