"""Turn decoded blocks into gap-exact sample streams on one timeline.

Pure logic: no I/O, no threads, no clocks. The live acquisition and the offline
reader (:func:`glutescope.recording.load`) feed the same objects, so a recording
loads into exactly what was seen live.

- :class:`StreamAssembler` places the samples of one stream (EMG or IMU) by their
  stream index, in any arrival order, and knows exactly which ranges are missing.
- :class:`DeviceClock` unwraps the wearable's 30-bit microsecond clock and maps it
  to host time, drift included.
- :class:`SessionAssembler` routes every frame of a connection to the two
  assemblers and the clock, and starts new segments when the wearable restarts.
"""

from __future__ import annotations

import bisect
import math
from array import array
from dataclasses import dataclass, field

import numpy as np

from glutescope.protocol import (
    DEVICE_CLOCK_MODULUS_US,
    DeviceInfo,
    EmgBlock,
    Event,
    Frame,
    ImuBlock,
    Opcode,
    Response,
    Status,
)

__all__ = ["Gap", "IndexRuns", "Segment", "StreamAssembler", "DeviceClock", "SessionAssembler"]

_SEQ_MODULUS = 1 << 32
# A sequence number this far behind the newest one is not a late frame but a wearable
# that booted again (seq counts from 0 at boot).
_SEQ_REBOOT_BACKSTEP = 4096


@dataclass(frozen=True)
class Gap:
    """A run of samples that never arrived."""

    first_sample: int
    """Stream index of the first missing sample."""
    n_samples: int
    """How many consecutive samples are missing."""


class IndexRuns:
    """A sorted set of stream indices held as arithmetic runs (first, step, count).

    The live blocks of a stream start every block length for hours (20 samples at
    2 kHz): a day's millions of block starts are then a few runs, where an array
    of them held 8 bytes each. Built by `extend` in increasing order, read back by
    `between`.
    """

    def __init__(self) -> None:
        self._runs = array("q")  # first, step, count of each run closed so far
        self._first = self._step = self._last = None
        self._count = 0
        self._read: tuple[np.ndarray, np.ndarray] | None = None  # runs and their last values, as last read

    def extend(self, values) -> None:
        """Add ``values``, increasing, each above every value added before (else ValueError)."""
        self._read = None
        for v in np.asarray(values, dtype=np.int64).tolist():
            if self._last is not None and v <= self._last:
                raise ValueError(f"IndexRuns takes increasing indices: {v} after {self._last}")
            if self._first is None:
                self._first, self._count = v, 1
            elif self._count == 1:
                self._step, self._count = v - self._first, 2
            elif v - self._last == self._step:
                self._count += 1
            else:
                self._close()
                self._first, self._count = v, 1
            self._last = v

    def _close(self) -> None:
        if self._count == 1:
            self._runs.extend((self._first, 1, 1))
        elif self._count:
            self._runs.extend((self._first, self._step, self._count))
        self._first = self._step = None
        self._count = 0

    def _all_runs(self) -> np.ndarray:
        """(n_runs, 3) first, step, count; built once per change: `between` is asked
        once per window, and an irregular stream has a run per block."""
        if self._read is None:
            runs = np.frombuffer(self._runs, dtype=np.int64).reshape(-1, 3).copy() if len(self._runs) \
                else np.zeros((0, 3), np.int64)
            if self._count:
                step = self._step if self._count > 1 else 1
                runs = np.vstack([runs, [[self._first, step, self._count]]])
            self._read = (runs, runs[:, 0] + runs[:, 1] * (runs[:, 2] - 1))
        return self._read[0]

    @property
    def n_runs(self) -> int:
        """Runs held (what the set costs: 24 bytes each)."""
        return len(self._runs) // 3 + (1 if self._count else 0)

    def __len__(self) -> int:
        return int(self._all_runs()[:, 2].sum())

    def between(self, lo: int, hi: int) -> np.ndarray:
        """The indices in [lo, hi), sorted, int64."""
        runs = self._all_runs()
        if not runs.size or hi <= lo:
            return np.zeros(0, np.int64)
        last = self._read[1]
        r0 = int(np.searchsorted(last, lo, side="left"))
        r1 = int(np.searchsorted(runs[:, 0], hi, side="left"))
        parts = []
        for first, step, count in runs[r0:r1].tolist():
            k0 = max(0, -(-(lo - first) // step))
            k1 = min(count, -(-(hi - first) // step))
            if k1 > k0:
                parts.append(first + step * np.arange(k0, k1, dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class Segment:
    """One stretch of a stream from a START (or restart) on, as assembled so far."""

    index: int
    """Segment number within the stream: 0 for the first START, then 1, 2, ..."""
    channel_mask: int
    """EMG: ADC inputs of the rows (bit i = ADC i); IMU: 0."""
    samples: np.ndarray
    """Samples as received (uint16 ADC words for EMG, int16 LSB for IMU), shape
    (n_channels, n_samples) up to the highest index received; 0 inside gaps."""
    gaps: tuple[Gap, ...]
    """Missing ranges within ``samples``, in index order."""
    anchors: np.ndarray
    """int64, shape (2, n_blocks): stream index of each live block's first sample (row 0)
    and its unwrapped device time in µs (row 1); empty when no times were given."""
    n_duplicates: int
    """Blocks whose samples had all arrived already (ignored)."""
    n_conflicts: int
    """Duplicates whose samples differed from the ones kept (a wearable fault)."""
    n_backfilled: int
    """Samples that arrived in BACKFILL blocks and filled a gap."""
    samples_start: int = 0
    """Stream index of ``samples[:, 0]``: 0 unless the assembler keeps only a recent
    window (live, see `StreamAssembler`), where older samples are on disk only."""
    n_late: int = 0
    """Samples that arrived for indices no longer held (see `StreamAssembler.take`):
    outside ``gaps`` but never in ``samples``; 0 when everything is held."""
    block_starts: "IndexRuns | None" = None
    """When set, the first stream index of every live block, sorted, and ``anchors``
    holds only the first anchor (`glutescope.chunked.load_summary`: a day's anchors
    were 6 MB an hour); None: ``anchors`` holds them all."""

    @property
    def n_samples(self) -> int:
        """Samples in the segment (received plus missing), from index 0, held or not."""
        return self.samples_start + int(self.samples.shape[1])

    @property
    def n_missing(self) -> int:
        """Total samples in ``gaps``."""
        return sum(g.n_samples for g in self.gaps)

    def valid_mask(self) -> np.ndarray:
        """Boolean array, shape (n_samples,), False inside gaps."""
        mask = np.ones(self.n_samples, dtype=bool)
        for g in self.gaps:
            mask[g.first_sample : g.first_sample + g.n_samples] = False
        return mask

    def valid_runs(self) -> list[tuple[int, int]]:
        """[start, end) of each run of samples outside the gaps, in order (what
        `valid_mask` says, without an array of the segment's length)."""
        runs, pos = [], 0
        for g in self.gaps:
            if g.first_sample > pos:
                runs.append((pos, g.first_sample))
            pos = max(pos, g.first_sample + g.n_samples)
        if pos < self.n_samples:
            runs.append((pos, self.n_samples))
        return runs


class _SegmentStore:
    """Chunked sample storage plus the set of received index intervals."""

    def __init__(self, index: int, n_channels: int, dtype: np.dtype, channel_mask: int, chunk: int,
                 retain: int | None = None):
        self.index = index
        self.n_channels = n_channels
        self.dtype = dtype
        self.channel_mask = channel_mask
        self.chunk = chunk
        self.retain = retain
        self.chunks: dict[int, np.ndarray] = {}
        # Disjoint, non-touching [start, end) intervals of received samples, sorted.
        # Kept whole even when samples are not: a gap costs two ints, whatever its age.
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.anchors = _Anchors()
        self.n_duplicates = 0
        self.n_conflicts = 0
        self.n_backfilled = 0
        self.horizon = 0  # samples below this index are no longer held (retain only)
        self.n_late = 0  # samples received below the horizon: marked received, not held

    @property
    def end(self) -> int:
        return self.ends[-1] if self.ends else 0

    def trim(self) -> None:
        """Drop the chunks (and anchors) wholly older than ``retain`` samples before the end."""
        if self.retain is None:
            return
        horizon = (max(self.end - self.retain, 0) // self.chunk) * self.chunk
        if horizon <= self.horizon:
            return
        for ci in [ci for ci in self.chunks if (ci + 1) * self.chunk <= horizon]:
            del self.chunks[ci]
        self.anchors.drop_before(horizon)
        self.horizon = horizon

    def release(self, index: int) -> None:
        """Stop holding samples below ``index`` exactly (a reader has passed them on)."""
        if index <= self.horizon:
            return
        for ci in [ci for ci in self.chunks if (ci + 1) * self.chunk <= index]:
            del self.chunks[ci]
        self.anchors.drop_below(index)
        self.horizon = index

    def missing_in(self, a: int, b: int) -> list[tuple[int, int]]:
        pieces = []
        cursor = a
        j = bisect.bisect_right(self.ends, a)
        while j < len(self.starts) and self.starts[j] < b:
            if self.starts[j] > cursor:
                pieces.append((cursor, self.starts[j]))
            cursor = max(cursor, self.ends[j])
            j += 1
        if cursor < b:
            pieces.append((cursor, b))
        return pieces

    def write(self, a: int, data: np.ndarray) -> None:
        n = data.shape[1]
        b = a + n
        if a < self.horizon:  # too old to hold: the recording on disk has it
            self.n_late += min(self.horizon, b) - a
            data = data[:, min(self.horizon - a, data.shape[1]):]
            a = self.horizon
        else:
            ci, off = divmod(a, self.chunk)
            if off + n <= self.chunk:  # the usual block: inside one chunk, no slicing
                arr = self.chunks.get(ci)
                if arr is None:
                    arr = self.chunks[ci] = np.zeros((self.n_channels, self.chunk), dtype=self.dtype)
                arr[:, off : off + n] = data
                return
        pos = a
        while pos < b:
            ci, off = divmod(pos, self.chunk)
            n = min(self.chunk - off, b - pos)
            arr = self.chunks.get(ci)
            if arr is None:
                arr = self.chunks[ci] = np.zeros((self.n_channels, self.chunk), dtype=self.dtype)
            arr[:, off : off + n] = data[:, pos - a : pos - a + n]
            pos += n

    def read(self, a: int, b: int) -> np.ndarray:
        out = np.zeros((self.n_channels, b - a), dtype=self.dtype)
        pos = a
        while pos < b:
            ci, off = divmod(pos, self.chunk)
            n = min(self.chunk - off, b - pos)
            arr = self.chunks.get(ci)
            if arr is not None:
                out[:, pos - a : pos - a + n] = arr[:, off : off + n]
            pos += n
        return out

    def mark(self, a: int, b: int) -> None:
        # Merge [a, b) with every interval it overlaps or touches.
        i = bisect.bisect_left(self.ends, a)
        j = bisect.bisect_right(self.starts, b)
        if i < j:
            a = min(a, self.starts[i])
            b = max(b, self.ends[j - 1])
        self.starts[i:j] = [a]
        self.ends[i:j] = [b]

    def gaps(self) -> tuple[Gap, ...]:
        out = []
        cursor = 0
        for s, e in zip(self.starts, self.ends):
            if s > cursor:
                out.append(Gap(cursor, s - cursor))
            cursor = e
        return tuple(out)

    def snapshot(self) -> Segment:
        start = min(self.horizon, self.end)
        samples = self.read(start, self.end)
        samples.flags.writeable = False
        return Segment(
            index=self.index,
            channel_mask=self.channel_mask,
            samples=samples,
            gaps=self.gaps(),
            anchors=self.anchors.array(),
            n_duplicates=self.n_duplicates,
            n_conflicts=self.n_conflicts,
            n_backfilled=self.n_backfilled,
            samples_start=start,
            n_late=self.n_late,
        )


class _Anchors:
    """(stream index, device time in µs) of each live block, in int64 arrays that grow by
    doubling: 16 bytes an anchor, where two lists of Python ints took about 70."""

    def __init__(self) -> None:
        self._data = np.empty((2, 256), dtype=np.int64)
        self._start = 0
        self._n = 0

    def append(self, index: int, t_us: int) -> None:
        if self._start + self._n == self._data.shape[1]:
            if self._start > self._data.shape[1] // 2:  # mostly dropped: compact in place
                self._data[:, : self._n] = self._data[:, self._start : self._start + self._n]
            else:
                grown = np.empty((2, 2 * self._data.shape[1]), dtype=np.int64)
                grown[:, : self._n] = self._data[:, self._start : self._start + self._n]
                self._data = grown
            self._start = 0
        k = self._start + self._n
        self._data[0, k] = index
        self._data[1, k] = t_us
        self._n += 1

    def drop_before(self, index: int) -> None:
        held = self._data[0, self._start : self._start + self._n]
        k = int(np.searchsorted(held, index, side="left")) if self._n else 0
        self._start += k
        self._n -= k

    def array(self) -> np.ndarray:
        return self._data[:, self._start : self._start + self._n].copy()

    def between(self, a: int, b: int) -> np.ndarray:
        """The anchors whose stream index is in [a, b), in arrival order (a copy)."""
        held = self._data[:, self._start : self._start + self._n]
        return held[:, (held[0] >= a) & (held[0] < b)].copy()

    def drop_below(self, index: int) -> None:
        """Drop every anchor below ``index``, sorted or not (late live blocks are not)."""
        held = self._data[:, self._start : self._start + self._n]
        keep = held[:, held[0] >= index]
        self._data[:, : keep.shape[1]] = keep
        self._start, self._n = 0, keep.shape[1]


class StreamAssembler:
    """Place the blocks of one stream by stream index, in any arrival order.

    Live blocks, late blocks and BACKFILL blocks are written where their indices
    say; a block whose samples have all arrived already is a duplicate (counted,
    ignored, and checked for equality); the ranges not yet received are reported as
    exact :class:`Gap` s. Samples live in fixed-size chunks allocated on first use,
    so a long session never copies what it already holds.

    A START (or a wearable restart) makes the indices begin again at 0: the caller
    says so with :meth:`new_segment` (:class:`SessionAssembler` does it from the
    frames), and earlier segments stay available unchanged.

    A live session need not hold what the recording on disk already has: with
    ``retain_samples`` only the last that many samples (rounded out to whole chunks)
    are kept, enough to merge backfill and check duplicates, while gaps stay exact
    for the whole segment and memory stays flat however long it runs. Snapshots then
    hold the retained tail only (:attr:`Segment.samples_start`).

    Parameters
    ----------
    chunk_samples : int
        Samples per storage chunk.
    retain_samples : int, optional
        Keep only this many of the newest samples of a segment (None: keep all, as the
        offline reader does).
    """

    def __init__(self, *, chunk_samples: int = 8192, retain_samples: int | None = None) -> None:
        if chunk_samples < 1:
            raise ValueError(f"chunk_samples must be >= 1, got {chunk_samples}")
        if retain_samples is not None and retain_samples < 1:
            raise ValueError(f"retain_samples must be >= 1 or None, got {retain_samples}")
        self._chunk = int(chunk_samples)
        self.retain_samples = retain_samples
        self._done: list[Segment] = []
        self._n_closed = 0
        self._cur: _SegmentStore | None = None
        self._segment_pending = False
        self.n_corrupt = 0
        """Corrupt frames reported by the caller through :meth:`count_corrupt`."""
        self.n_blocks = 0
        """Blocks passed to :meth:`add`."""

    def add(self, block: EmgBlock | ImuBlock, *, t_device_us: int | None = None) -> int:
        """Place a block.

        Parameters
        ----------
        block : EmgBlock or ImuBlock
            A decoded block of this stream.
        t_device_us : int, optional
            The block's unwrapped device time in µs (see :class:`DeviceClock`); kept
            as a timing anchor for live blocks.

        Returns
        -------
        int
            Samples newly placed (0 for a duplicate or an empty block).
        """
        if not isinstance(block, (EmgBlock, ImuBlock)):
            raise TypeError(f"block must be an EmgBlock or ImuBlock, got {type(block).__name__}")
        self.n_blocks += 1
        data = block.samples
        mask = block.channel_mask if isinstance(block, EmgBlock) else 0
        cur = self._cur
        if (
            cur is None
            or self._segment_pending
            or cur.channel_mask != mask
            or cur.n_channels != data.shape[0]
            or cur.dtype != data.dtype
        ):
            self._open(data.shape[0], data.dtype, mask)
            cur = self._cur
            assert cur is not None
        n = data.shape[1]
        if n == 0:
            return 0
        a = block.first_sample
        b = a + n
        ends = cur.ends
        if not ends or a >= ends[-1]:
            # At or past the end of everything received: all of it is new, and the
            # interval list grows at its end (as missing_in and mark would find).
            cur.write(a, data)
            if ends and a == ends[-1]:
                ends[-1] = b
            else:
                cur.starts.append(a)
                ends.append(b)
            if block.backfill:
                cur.n_backfilled += n
            elif t_device_us is not None:
                cur.anchors.append(a, int(t_device_us))
            if cur.retain is not None:
                cur.trim()
            return n
        pieces = cur.missing_in(a, b)
        if not pieces:
            cur.n_duplicates += 1
            # Only what is still held can be compared; older duplicates are just counted.
            if a >= cur.horizon and not np.array_equal(cur.read(a, b), data):
                cur.n_conflicts += 1
            return 0
        placed = 0
        for pa, pb in pieces:
            cur.write(pa, data[:, pa - a : pb - a])
            placed += pb - pa
        cur.mark(a, b)
        if block.backfill:
            cur.n_backfilled += placed
        elif t_device_us is not None:
            cur.anchors.append(a, int(t_device_us))
        cur.trim()
        return placed

    def new_segment(self) -> None:
        """Begin a new segment: stream indices restart at 0 (a START or a reboot).

        The next block opens it, so calling this twice, or before any block, leaves
        no empty segment behind.
        """
        if self._cur is not None and self._cur.starts:
            self._segment_pending = True

    def count_corrupt(self, n_frames: int = 1) -> None:
        """Count frames that failed to decode (they cannot be placed)."""
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {n_frames}")
        self.n_corrupt += n_frames

    def set_retention(self, retain_samples: int | None) -> None:
        """Change ``retain_samples`` (see the class), for the current segment too."""
        if retain_samples is not None and retain_samples < 1:
            raise ValueError(f"retain_samples must be >= 1 or None, got {retain_samples}")
        self.retain_samples = retain_samples
        if self._cur is not None:
            self._cur.retain = retain_samples
            self._cur.trim()

    def take(self, a: int, b: int) -> tuple[np.ndarray, tuple[Gap, ...], np.ndarray]:
        """Samples, gaps and anchors of the current segment in [a, b), then stop holding
        everything below ``b`` (a reader that passes the stream on in chunks).

        Samples that arrive below ``b`` afterwards are counted in :attr:`n_late` and
        otherwise ignored; duplicates of them are counted but not compared.

        Returns
        -------
        samples : numpy.ndarray
            (n_channels, b - a), 0 inside gaps.
        gaps : tuple of Gap
            Missing ranges within [a, b), stream indices.
        anchors : numpy.ndarray
            int64 (2, k): the live blocks' anchors with a stream index in [a, b).
        """
        cur = self._cur
        if cur is None or not a <= b or a < cur.horizon:
            raise ValueError(f"take needs a held range of the current segment, got [{a}, {b})")
        samples = cur.read(a, b)
        gaps = tuple(Gap(s, e - s) for s, e in cur.missing_in(a, b))
        anchors = cur.anchors.between(a, b)
        cur.release(b)
        return samples, gaps, anchors

    @property
    def n_late(self) -> int:
        """Samples of the current segment that arrived after :meth:`take` had passed their
        index (not held, not in any snapshot's samples; their range is not a gap)."""
        return self._cur.n_late if self._cur is not None else 0

    @property
    def segment_index(self) -> int:
        """Number of the current segment (0 before any block)."""
        return self._cur.index if self._cur is not None else 0

    @property
    def channel_mask(self) -> int:
        """Channel mask of the current segment (0 before any block, and for the IMU)."""
        return self._cur.channel_mask if self._cur is not None else 0

    @property
    def horizon(self) -> int:
        """Lowest stream index of the current segment still held."""
        return self._cur.horizon if self._cur is not None else 0

    def pop_finished(self) -> list[Segment]:
        """The segments closed since the last call (their snapshots hold only what was
        not taken yet), forgotten here; :meth:`segments` lists only those not popped."""
        out, self._done = self._done, []
        return out

    def _open(self, n_channels: int, dtype: np.dtype, mask: int) -> None:
        if self._cur is not None and self._cur.starts:
            self._done.append(self._cur.snapshot())  # with retention: its newest samples only
            self._n_closed += 1
        index = self._n_closed
        self._cur = _SegmentStore(index, n_channels, np.dtype(dtype), mask, self._chunk, self.retain_samples)
        self._segment_pending = False

    @property
    def end_sample(self) -> int:
        """One past the highest stream index received in the current segment."""
        return self._cur.end if self._cur is not None else 0

    def gaps(self) -> tuple[Gap, ...]:
        """Missing ranges of the current segment below :attr:`end_sample`."""
        return self._cur.gaps() if self._cur is not None else ()

    def current(self) -> Segment | None:
        """Snapshot of the current segment (a copy), or None before any block."""
        if self._cur is None or not self._cur.starts:
            return None
        return self._cur.snapshot()

    def segments(self) -> list[Segment]:
        """Snapshots of every segment so far, oldest first."""
        cur = self.current()
        return self._done + ([cur] if cur is not None else [])


class DeviceClock:
    """Unwrap the wearable's clock and map it to host time, drift included.

    ``t_device_us`` counts modulo 2**30 µs (about 17.9 min). :meth:`unwrap` extends it
    to a monotonic 64-bit count by taking the nearest value to the newest one seen, so
    late (backfill) timestamps up to ±2**29 µs away unwrap correctly.

    Host receive times equal device time plus an offset, the crystal's drift and a
    transport delay that is never negative but jitters. The model
    ``t_host_ns = 1000 * t_device_us + c + k * (t_device_us - x0)`` is fitted to the
    minimum-delay envelope: the pair with the smallest ``t_host_ns - 1000 *
    t_device_us`` in each ``bin_s`` of device time over the last ``window_s``, by least
    squares with one pass that drops bins lying far above the line (congestion). This
    is the lower-envelope idea of convex-hull clock synchronisation (Moon, Skelly and
    Towsley, 1999) in a form cheap enough for every frame.

    Parameters
    ----------
    window_s : float
        Device time span of pairs kept for the fit.
    bin_s : float
        Width of the device time bins whose minimum-delay pair enters the fit.

    References
    ----------
    S. B. Moon, P. Skelly and D. Towsley, "Estimation and removal of clock skew from
    network delay measurements," Proc. IEEE INFOCOM, 1999.
    """

    def __init__(self, *, window_s: float = 300.0, bin_s: float = 2.0) -> None:
        if not bin_s > 0:
            raise ValueError(f"bin_s must be > 0, got {bin_s}")
        if not window_s >= 2 * bin_s:
            raise ValueError(f"window_s must be at least 2 * bin_s ({2 * bin_s} s), got {window_s}")
        self._bin_us = int(bin_s * 1e6)
        self._n_bins = int(window_s / bin_s)
        self._ref_us: int | None = None
        self._bins: dict[int, tuple[float, int]] = {}
        self._newest_bin: int | None = None  # max(self._bins), kept as bins come
        self._fit: tuple[float, float, float] | None = None
        self.n_pairs = 0
        """(device, host) pairs given to :meth:`add_pair` since the last reset."""

    def reset(self) -> None:
        """Forget everything: the wearable rebooted and its clock started again."""
        self._ref_us = None
        self._bins.clear()
        self._newest_bin = None
        self._fit = None
        self.n_pairs = 0

    def unwrap(self, t_device_us: int) -> int:
        """Extend a 30-bit device time to the unwrapped µs count.

        Parameters
        ----------
        t_device_us : int
            Device time modulo 2**30 µs, as in every frame header.

        Returns
        -------
        int
            Unwrapped device time in µs (the first value seen is taken as is).
        """
        t = int(t_device_us)
        if not 0 <= t < DEVICE_CLOCK_MODULUS_US:
            raise ValueError(f"t_device_us must be in 0 to 2**30 - 1, got {t}")
        if self._ref_us is None:
            self._ref_us = t
            return t
        ref = self._ref_us
        d = (t - ref) % DEVICE_CLOCK_MODULUS_US
        if d >= DEVICE_CLOCK_MODULUS_US // 2:
            d -= DEVICE_CLOCK_MODULUS_US
        u = ref + d
        if u > ref:
            self._ref_us = u
        return u

    def add_pair(self, t_device_us: int, t_host_ns: int) -> int:
        """Record that device time ``t_device_us`` was seen on the host at ``t_host_ns``.

        Parameters
        ----------
        t_device_us : int
            Device time modulo 2**30 µs of something sent at once (the end of a live
            block, a STATUS, a RESPONSE).
        t_host_ns : int
            Host receive time in ns.

        Returns
        -------
        int
            The unwrapped device time.
        """
        u = self.unwrap(t_device_us)
        y = float(t_host_ns) - 1000.0 * u
        b = u // self._bin_us
        bins = self._bins
        old = bins.get(b)
        if old is None or y < old[0]:
            bins[b] = (y, u)
            self._fit = None
        # Bins are only added here and dropped below the newest: a running maximum is
        # max(bins) (which, over a whole recording's bins, cost more than the rest).
        newest = self._newest_bin
        if newest is None or b > newest:
            newest = self._newest_bin = b
        if len(bins) > self._n_bins:
            for k in [k for k in bins if k <= newest - self._n_bins]:
                del bins[k]
            self._fit = None
        self.n_pairs += 1
        return u

    def _model(self) -> tuple[float, float, float]:
        if self._fit is not None:
            return self._fit
        if not self._bins:
            raise ValueError("DeviceClock has no (device, host) pairs yet: call add_pair first")
        ys = np.array([v[0] for v in self._bins.values()])
        xs = np.array([v[1] for v in self._bins.values()], dtype=np.float64)
        x0 = float(xs.mean())
        xc = xs - x0
        if len(xs) < 3 or np.ptp(xs) == 0:
            fit = (float(ys.min()), 0.0, x0)
        else:
            k, c = np.polyfit(xc, ys, 1)
            resid = ys - (c + k * xc)
            mad = float(np.median(np.abs(resid - np.median(resid))))
            keep = resid <= np.median(resid) + 3.0 * max(mad, 1.0)
            if keep.sum() >= 3 and not keep.all():
                k, c = np.polyfit(xc[keep], ys[keep], 1)
                resid = ys[keep] - (c + k * xc[keep])
            # Shift the line down onto the envelope: the least delayed bin defines it.
            c += float(resid.min())
            fit = (float(c), float(k), x0)
        self._fit = fit
        return fit

    @property
    def drift_ppm(self) -> float:
        """Estimated rate of the device clock relative to the host's, in ppm (positive:
        the host clock runs faster than the device clock says)."""
        return self._model()[1] * 1e3

    def to_host_ns(self, t_device_us: float | np.ndarray) -> float | np.ndarray:
        """Map unwrapped device time (µs) to host time (ns) with the current fit.

        Parameters
        ----------
        t_device_us : float or ndarray
            Unwrapped device time in µs (from :meth:`unwrap`).

        Returns
        -------
        float or ndarray
            Host time in ns, float64, excluding the transport delay.
        """
        c, k, x0 = self._model()
        t = np.asarray(t_device_us, dtype=np.float64)
        out = 1000.0 * t + c + k * (t - x0)
        return float(out) if out.ndim == 0 else out


@dataclass
class SessionAssembler:
    """Route every frame of a connection to the right place.

    EMG and IMU blocks go to their :class:`StreamAssembler`; live blocks and
    STATUS/RESPONSE frames feed the :class:`DeviceClock`; INFO, STATUS and EVENT
    frames are kept. Restarts begin new segments: a RESPONSE OK to START; a sequence
    number far behind the newest (the wearable booted again, its clock reset too);
    or a live block, newer by sequence number, whose stream index went backwards
    (a START whose RESPONSE was lost).
    """

    emg: StreamAssembler = field(default_factory=StreamAssembler)
    """EMG samples, uint16 ADC words, rows in ascending ADC input order."""
    imu: StreamAssembler = field(default_factory=StreamAssembler)
    """IMU samples, int16 LSB, rows ax, ay, az, gx, gy, gz."""
    clock: DeviceClock = field(default_factory=DeviceClock)
    """Device-to-host time mapping."""
    info: DeviceInfo | None = None
    """Latest INFO frame."""
    status: Status | None = None
    """Latest STATUS frame."""
    events: list[Event] = field(default_factory=list)
    """EVENT frames in arrival order."""
    responses: list[Response] = field(default_factory=list)
    """RESPONSE frames in arrival order."""
    n_frames: int = 0
    """Frames added (decoded ones)."""
    n_corrupt: int = 0
    """Frames that failed to decode, as reported by :meth:`add_corrupt`."""
    n_seq_skips: int = 0
    """Sequence numbers skipped: frames the wearable sent that never arrived (a late
    frame arriving afterwards does not lower it)."""
    n_restarts: int = 0
    """Restarts detected from the frames (START answered, reboot, index reset)."""
    retain_s: float | None = None
    """Live sessions: seconds of the newest samples each stream holds (from the first
    INFO on, when the rates are known); None holds everything, as a recording's reader
    needs. Gaps, counters and segments are kept whole either way."""
    _last_seq: int | None = None
    _last_live: dict = field(default_factory=dict)

    def add_corrupt(self, n_frames: int = 1) -> None:
        """Count frames that failed to decode."""
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {n_frames}")
        self.n_corrupt += n_frames

    def add_frame(self, frame: Frame, t_host_ns: int | None = None) -> None:
        """Take one decoded frame.

        Parameters
        ----------
        frame : Frame
            From :func:`glutescope.protocol.decode_frame`.
        t_host_ns : int, optional
            Host receive time in ns; without it the clock is not fed.
        """
        self.n_frames += 1
        self._track_seq(frame.seq)
        if isinstance(frame, (EmgBlock, ImuBlock)):
            self._add_block(frame, t_host_ns)
            return
        u = self.clock.unwrap(frame.t_device_us)
        if isinstance(frame, Response):
            self.responses.append(frame)
            if frame.opcode == Opcode.START and frame.ok:
                self._restart(reboot=False)
        elif isinstance(frame, Status):
            self.status = frame
        elif isinstance(frame, Event):
            self.events.append(frame)
        elif isinstance(frame, DeviceInfo):
            self.info = frame
            if self.retain_s is not None:
                self.emg.set_retention(max(1, math.ceil(self.retain_s * frame.emg_fs_hz)))
                self.imu.set_retention(max(1, math.ceil(self.retain_s * max(frame.imu_fs_hz, 1))))
        if t_host_ns is not None and isinstance(frame, (Response, Status)):
            self.clock.add_pair(u % DEVICE_CLOCK_MODULUS_US, t_host_ns)

    def _track_seq(self, seq: int) -> None:
        last = self._last_seq
        if last is None:
            self._last_seq = seq
            return
        d = (seq - last) % _SEQ_MODULUS
        if d == 0:
            return
        if d < _SEQ_MODULUS // 2:
            self.n_seq_skips += d - 1
            self._last_seq = seq
        elif _SEQ_MODULUS - d > _SEQ_REBOOT_BACKSTEP:
            self._last_seq = seq
            self._restart(reboot=True)

    def _restart(self, *, reboot: bool) -> None:
        self.n_restarts += 1
        self.emg.new_segment()
        self.imu.new_segment()
        self._last_live.clear()
        if reboot:
            self.clock.reset()

    def _add_block(self, block: EmgBlock | ImuBlock, t_host_ns: int | None) -> None:
        kind = "emg" if isinstance(block, EmgBlock) else "imu"
        target = self.emg if kind == "emg" else self.imu
        if not block.backfill:
            last = self._last_live.get(kind)
            if last is not None:
                last_seq, last_first = last
                newer = 0 < (block.seq - last_seq) % _SEQ_MODULUS < _SEQ_MODULUS // 2
                if newer and block.first_sample < last_first:
                    self.n_restarts += 1
                    target.new_segment()
            if last is None or 0 < (block.seq - last[0]) % _SEQ_MODULUS < _SEQ_MODULUS // 2:
                self._last_live[kind] = (block.seq, block.first_sample)
        u = self.clock.unwrap(block.t_device_us)
        target.add(block, t_device_us=u)
        if t_host_ns is None or block.backfill or self.info is None:
            return
        fs_hz = self.info.emg_fs_hz if kind == "emg" else self.info.imu_fs_hz
        if fs_hz > 0:
            # The frame leaves right after its last sample: pair the host time with the
            # end of the block so blocks of any length share one delay floor.
            end_us = u + round(block.n_samples * 1e6 / fs_hz)
            self.clock.add_pair(end_us % DEVICE_CLOCK_MODULUS_US, t_host_ns)
