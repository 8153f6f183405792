"""Read a recording once, in bounded memory: its streams in chunks of a few seconds.

:func:`glutescope.recording.load` assembles every sample of a recording at once (about
41 MB per hour of 2 channels at 2 kHz). :class:`ChunkedRecording` feeds the same frames
through the same :class:`glutescope.stream.SessionAssembler` but passes each stream on
in :class:`Chunk` s as soon as nothing more can arrive for them, and forgets them.

When is a sample final? Live blocks can arrive out of order and BACKFILL blocks fill a
gap after the live data that follows it: the wearable answers a RESEND only from its
ring of the last ``backfill_window_ms`` (the INFO frame), so a backfill block lies at
most that far behind the newest sample the wearable had sent when it was asked. A
chunk is passed on once the stream has run ``backfill_window_ms`` plus ``margin_s``
past its end (``hold_s``). Anything that still arrives for a passed chunk (a
backfill delayed beyond that hold) is *not* in the chunks: those samples stay in the
chunk's gaps and are counted in :attr:`SegmentEnd.n_late`; :func:`load` would have
placed them. Duplicates of passed samples are counted but not compared for conflicts.
Within the hold, the chunks hold exactly what :func:`load` gives, sample by sample.

Before the first INFO frame the rates are unknown and nothing is passed on.
"""
from __future__ import annotations

import errno
import json
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import numpy as np

from glutescope.protocol import DeviceInfo, EmgBlock, FrameError, ImuBlock, decode_frame
from glutescope.recording import (
    FRAMES_FILE,
    META_FILE,
    Recording,
    RecordingError,
    RecordingReader,
)
from glutescope.recording.format import _check_recording_path, _error
from glutescope.stream import DeviceClock, Gap, IndexRuns, Segment, SessionAssembler, StreamAssembler

__all__ = ["Chunk", "SegmentEnd", "ChunkedRecording", "load_summary", "emg_chunks", "StreamFeed", "SegmentFeeds",
           "DEFAULT_CHUNK_S", "DEFAULT_MARGIN_S"]

DEFAULT_CHUNK_S = 4.0
"""Seconds of signal per chunk."""
DEFAULT_MARGIN_S = 5.0
"""Seconds held past the wearable's backfill window (transport and RESEND delay)."""


@dataclass(frozen=True, eq=False)
class Chunk:
    """A stretch of one segment of one stream, final: nothing of it is held any more."""

    stream: str
    """``"emg"`` or ``"imu"``."""
    segment: int
    """Segment number within the stream (as `glutescope.stream.Segment.index`)."""
    channel_mask: int
    """EMG: ADC inputs of the rows; IMU: 0."""
    first_sample: int
    """Stream index of ``samples[:, 0]``."""
    samples: np.ndarray
    """(n_channels, n) as received (uint16 ADC words, int16 IMU LSB), 0 inside gaps."""
    gaps: tuple[Gap, ...]
    """Missing ranges within the chunk, stream indices (a gap across chunks is cut)."""
    anchors: np.ndarray
    """int64 (2, k): (stream index, unwrapped device µs) of the live blocks starting in
    the chunk, in arrival order."""

    @property
    def end_sample(self) -> int:
        """One past the chunk's last stream index."""
        return self.first_sample + int(self.samples.shape[1])


@dataclass(frozen=True)
class SegmentEnd:
    """Yielded after the last chunk of a segment: its counters, complete."""

    stream: str
    segment: int
    n_samples: int
    """Samples of the segment, received plus missing."""
    n_duplicates: int
    n_conflicts: int
    """Conflicting duplicates among those still held when they came (see the module)."""
    n_backfilled: int
    """Samples received in BACKFILL blocks that filled a gap, the late ones included."""
    n_late: int
    """Samples that arrived after their chunk had been passed on: in no chunk, and
    not in its gaps either; :func:`glutescope.recording.load` has them."""


Item = Union[Chunk, SegmentEnd]


class ChunkedRecording:
    """One pass over a recording's log, yielding :class:`Chunk` s and :class:`SegmentEnd` s.

    Per stream, chunks come in index order, segment after segment; EMG and IMU chunks
    interleave as the frames did. After iterating, :attr:`session` holds the INFO,
    events, clock, counters of the whole log (its streams hold nothing), and
    :attr:`reader` the log's damage counters.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory.
    chunk_s : float
        Seconds of signal per chunk, > 0.
    margin_s : float
        Seconds held past the INFO's ``backfill_window_ms`` before a chunk is final, >= 0.
    """

    def __init__(self, path, *, chunk_s: float = DEFAULT_CHUNK_S, margin_s: float = DEFAULT_MARGIN_S) -> None:
        self.path = _check_recording_path(path)
        if not (isinstance(chunk_s, (int, float)) and math.isfinite(chunk_s) and chunk_s > 0):
            raise ValueError(f"chunk_s must be a finite number of seconds > 0, got {chunk_s!r}")
        if not (isinstance(margin_s, (int, float)) and math.isfinite(margin_s) and margin_s >= 0):
            raise ValueError(f"margin_s must be a finite number of seconds >= 0, got {margin_s!r}")
        if not (self.path / FRAMES_FILE).is_file():
            raise RecordingError(errno.ENOENT, f"no recording at {self.path}: {FRAMES_FILE} is missing")
        try:
            self.meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.meta = {}
        except OSError as exc:
            raise _error(exc, "read", self.path / META_FILE) from None
        except ValueError as exc:
            raise RecordingError(errno.EIO, f"cannot read {self.path / META_FILE}: {exc} (run recover first)") from None
        self.chunk_s = float(chunk_s)
        self.margin_s = float(margin_s)
        self.session = SessionAssembler(clock=DeviceClock(window_s=1e9, bin_s=2.0))
        self.reader = RecordingReader(self.path)
        self.n_corrupt_frames = 0
        """Records whose frame failed to decode."""
        self.n_seq_skips_at_damage = 0
        """Frames missing right after a damaged stretch of the log: lost on disk (as `load`)."""

    @property
    def device_info(self) -> DeviceInfo | None:
        """The last INFO frame read so far, else the one in ``meta.json``."""
        if self.session.info is not None:
            return self.session.info
        d = self.meta.get("device_info")
        return DeviceInfo.from_dict(d) if d else None

    def __iter__(self) -> Iterator[Item]:
        s = self.session
        cursors = {"emg": 0, "imu": 0}
        streams = (("emg", s.emg), ("imu", s.imu))
        info = s.info
        sizes = {kind: self._sizes(kind) for kind in cursors}
        seen_damage = 0
        for rec in self.reader:
            if rec.host_to_device:
                continue
            try:
                frame = decode_frame(rec.frame)
            except FrameError:
                self.n_corrupt_frames += 1
                s.add_corrupt()
                continue
            before = s.n_seq_skips
            s.add_frame(frame, rec.t_host_ns)
            if self.reader.n_corrupt != seen_damage:  # the first frame after a damaged stretch
                seen_damage = self.reader.n_corrupt
                self.n_seq_skips_at_damage += s.n_seq_skips - before
            # Only a block of a stream can close its segment or move its end, so only
            # that stream is looked at, unless a new INFO changed the chunk sizes.
            if isinstance(frame, EmgBlock):
                touched = streams[:1]
            elif isinstance(frame, ImuBlock):
                touched = streams[1:]
            else:
                touched = ()
            if s.info is not info:  # sizes per INFO, not per frame (millions of them)
                info = s.info
                sizes = {kind: self._sizes(kind) for kind in cursors}
                touched = streams
            for kind, asm in touched:
                for seg in asm.pop_finished():
                    yield from self._finish(kind, seg, cursors[kind])
                    cursors[kind] = 0
                size, hold = sizes[kind]
                if not size:
                    continue
                while asm.end_sample - cursors[kind] >= hold + size:
                    yield self._take(kind, asm, cursors[kind], cursors[kind] + size)
                    cursors[kind] += size
        for kind, asm in (("emg", s.emg), ("imu", s.imu)):
            for seg in asm.pop_finished():  # a segment can close only on a block: none left
                yield from self._finish(kind, seg, cursors[kind])
            cur = asm.current()
            if cur is not None:
                yield from self._finish(kind, cur, cursors[kind])

    def _sizes(self, kind: str) -> tuple[int, int]:
        """Samples per chunk and held back of a stream at the INFO's rates ((0, 0): unknown)."""
        fs = self._fs(kind)
        if not fs:
            return 0, 0
        return (max(1, round(self.chunk_s * fs)),
                math.ceil((self.session.info.backfill_window_ms / 1000.0 + self.margin_s) * fs))

    def _fs(self, kind: str) -> float:
        info = self.session.info
        if info is None:
            return 0.0
        return float(info.emg_fs_hz if kind == "emg" else info.imu_fs_hz)

    def _take(self, kind: str, asm: StreamAssembler, a: int, b: int) -> Chunk:
        samples, gaps, anchors = asm.take(a, b)
        samples.flags.writeable = False
        return Chunk(kind, asm.segment_index, asm.channel_mask, a, samples, gaps, anchors)

    def _finish(self, kind: str, seg: Segment, cursor: int) -> Iterator[Item]:
        """The rest of a closed (or the last) segment from ``cursor``, then its end."""
        size = max(1, round(self.chunk_s * (self._fs(kind) or 1.0)))
        end = seg.n_samples
        for a in range(cursor, end, size):
            b = min(a + size, end)
            samples = seg.samples[:, a - seg.samples_start : b - seg.samples_start]
            gaps = tuple(Gap(max(g.first_sample, a), min(g.first_sample + g.n_samples, b) - max(g.first_sample, a))
                         for g in seg.gaps if g.first_sample < b and g.first_sample + g.n_samples > a)
            anchors = seg.anchors[:, (seg.anchors[0] >= a) & (seg.anchors[0] < b)] if seg.anchors.size \
                else np.zeros((2, 0), dtype=np.int64)
            yield Chunk(kind, seg.index, seg.channel_mask, a, samples, gaps, anchors)
        yield SegmentEnd(kind, seg.index, end, seg.n_duplicates, seg.n_conflicts, seg.n_backfilled, seg.n_late)


_EMPTY_ROWS = {"emg": (0, np.uint16), "imu": (6, np.int16)}
"""Rows and words of a stream's segment that passed on no chunk."""


class _Columns:
    """Arrays of equal rows joined along their columns, as they come, into one.

    ``np.hstack`` of a day's small parts holds every part and the result at once (the
    IMU twice over). Here the parts are joined into blocks of about `BLOCK_BYTES` as
    they come, and the blocks into the result one by one, each freed once copied:
    blocks that large are mapped memory, given back to the system when freed."""

    BLOCK_BYTES = 1 << 19

    def __init__(self, n_rows: int, dtype) -> None:
        self.n_rows, self.dtype = n_rows, np.dtype(dtype)
        self._blocks: list[np.ndarray] = []
        self._parts: list[np.ndarray] = []
        self._part_cols = 0
        self.n_columns = 0

    def append(self, x: np.ndarray) -> None:
        if x.shape[0] != self.n_rows:
            raise ValueError(f"parts must have {self.n_rows} rows, got {x.shape[0]}")
        self._parts.append(x)
        self._part_cols += x.shape[1]
        self.n_columns += x.shape[1]
        if self._part_cols * self.n_rows * self.dtype.itemsize >= self.BLOCK_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            self._blocks.append(np.hstack(self._parts).astype(self.dtype, copy=False))
            self._parts, self._part_cols = [], 0

    def result(self) -> np.ndarray:
        """All columns in order (the parts are let go)."""
        self._flush()
        out = np.empty((self.n_rows, self.n_columns), dtype=self.dtype)
        pos = 0
        self._blocks.reverse()
        while self._blocks:
            b = self._blocks.pop()
            out[:, pos:pos + b.shape[1]] = b
            pos += b.shape[1]
            del b
        return out


def load_summary(path, *, chunk_s: float = DEFAULT_CHUNK_S, margin_s: float = DEFAULT_MARGIN_S) -> Recording:
    """A recording as :func:`glutescope.recording.load` gives it, without its samples.

    One pass over the log in bounded memory. The segments of both streams carry their
    exact gaps, anchors and counters but hold no samples (``samples`` has 0 columns and
    ``samples_start == n_samples``): read them again in chunks with
    `glutescope.analysis.segment_words` (the analysis and the exports do). The EMG's
    ``anchors`` hold the first anchor only and ``block_starts`` every live block's
    start; the IMU's hold every anchor (its samples' times, 1.5 MB an hour). Samples that came
    later than the hold (see the module) are inside ``gaps`` here, and ``n_late`` of
    the segment counts them.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory.
    chunk_s, margin_s : float
        As :class:`ChunkedRecording`.

    Returns
    -------
    glutescope.recording.Recording

    Raises
    ------
    RecordingError
        If there is no readable recording at ``path``.
    """
    cr = ChunkedRecording(path, chunk_s=chunk_s, margin_s=margin_s)
    acc: dict[tuple[str, int], dict] = {}
    for it in cr:
        d = acc.setdefault((it.stream, it.segment), {"gaps": [], "anchors": _Columns(2, np.int64), "first": None,
                                                     "mask": 0, "n_channels": 0, "dtype": None})
        if isinstance(it, SegmentEnd):
            d["end"] = it
            continue
        d["mask"], d["n_channels"], d["dtype"] = it.channel_mask, it.samples.shape[0], it.samples.dtype
        for g in it.gaps:  # join gaps cut at chunk edges
            if d["gaps"] and d["gaps"][-1].first_sample + d["gaps"][-1].n_samples == g.first_sample:
                g = Gap(d["gaps"][-1].first_sample, d["gaps"].pop().n_samples + g.n_samples)
            d["gaps"].append(g)
        if it.anchors.size and it.stream == "emg":
            # The first anchor (the segment's time) and the block starts as runs: the
            # EMG's anchors are 100 a second.
            if d["first"] is None:
                d["first"] = it.anchors[:, :1]
            d.setdefault("starts", IndexRuns()).extend(np.unique(it.anchors[0]))
        elif it.anchors.size:
            d["anchors"].append(it.anchors)
    streams: dict[str, list[Segment]] = {"emg": [], "imu": []}
    for (kind, index), d in sorted(acc.items()):
        end: SegmentEnd = d["end"]
        anchors = d["first"] if d["first"] is not None else d["anchors"].result()
        # No samples held: `glutescope.analysis.segment_words` reads them again in chunks.
        rows, dtype = (d["n_channels"], d["dtype"]) if d["dtype"] is not None else _EMPTY_ROWS[kind]
        samples, start = np.zeros((rows, 0), dtype=dtype), end.n_samples
        samples.flags.writeable = False
        streams[kind].append(Segment(index, d["mask"], samples, tuple(d["gaps"]), anchors, end.n_duplicates,
                                     end.n_conflicts, end.n_backfilled, samples_start=start, n_late=end.n_late,
                                     block_starts=d.get("starts")))
    return Recording(
        path=cr.path,
        meta=cr.meta,
        device_info=cr.device_info,
        emg=tuple(streams["emg"]),
        imu=tuple(streams["imu"]),
        events=tuple(cr.session.events),
        markers=tuple(cr.meta.get("markers", ())),
        clock=cr.session.clock,
        n_records=cr.reader.n_records,
        n_corrupt_records=cr.reader.n_corrupt,
        torn_tail_bytes=cr.reader.torn_tail_bytes,
        n_corrupt_frames=cr.n_corrupt_frames,
        n_seq_skips=cr.session.n_seq_skips,
        damaged_stretches=tuple(cr.reader.damaged),
        log_bytes=cr.reader.log_bytes,
        n_seq_skips_at_damage=cr.n_seq_skips_at_damage,
    )


def emg_chunks(path, segment: int, *, chunk_s: float = DEFAULT_CHUNK_S,
               margin_s: float = DEFAULT_MARGIN_S) -> Iterator[Chunk]:
    """The EMG chunks of one segment, in order (one pass over the log, bounded memory)."""
    for it in ChunkedRecording(path, chunk_s=chunk_s, margin_s=margin_s):
        if it.stream == "emg" and isinstance(it, Chunk) and it.segment == segment:
            yield it
        elif it.stream == "emg" and it.segment > segment:
            return


class StreamFeed:
    """The words of one segment of one stream read forward in any ranges, from its
    chunks: only the chunks overlapping the ranges still to come are held.

    Parameters
    ----------
    chunks : iterable of Chunk
        One segment's chunks of the stream, in order (from :func:`emg_chunks` or
        :class:`SegmentFeeds`).
    n_rows : int
        Rows (EMG channels, 6 for the IMU).
    dtype : numpy dtype
        Of the words: uint16 (EMG), int16 (IMU).
    """

    def __init__(self, chunks, n_rows: int, dtype=np.uint16) -> None:
        self._it = iter(chunks)
        self._held: list[Chunk] = []
        self._n_rows = n_rows
        self._dtype = np.dtype(dtype)

    def read(self, a: int, b: int) -> np.ndarray:
        """Words of [a, b), (n_rows, b - a), 0 in gaps; ``a`` never goes back."""
        while self._held and self._held[0].end_sample <= a:
            self._held.pop(0)
        if self._held and self._held[0].first_sample > a:
            raise ValueError(f"StreamFeed reads forward only: sample {a} is no longer held")
        while not self._held or self._held[-1].end_sample < b:
            nxt = next(self._it, None)
            if nxt is None:
                raise ValueError(f"StreamFeed: the segment ends before sample {b}")
            self._held.append(nxt)
        out = np.zeros((self._n_rows, b - a), dtype=self._dtype)
        for c in self._held:
            lo, hi = max(a, c.first_sample), min(b, c.end_sample)
            if lo < hi:
                out[:, lo - a:hi - a] = c.samples[:, lo - c.first_sample:hi - c.first_sample]
        return out


class SegmentFeeds:
    """Several streams of one segment read forward side by side, from one pass over the log.

    The chunks of a stream are queued until its feed asks for them, so the streams
    must be read at about the same pace (as the live interleave does): a stream
    read far behind the other holds everything between them.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` directory.
    segment : int
        Segment number (the same in every stream: one START begins one of each).
    rows : dict
        ``{stream: (n_rows, dtype)}`` of the streams to read.
    """

    def __init__(self, path, segment: int, rows: dict) -> None:
        self._items = iter(ChunkedRecording(path))
        self._segment = segment
        self._queues = {kind: deque() for kind in rows}
        self._ended = {kind: False for kind in rows}
        self.feeds = {kind: StreamFeed(self._chunks(kind), n, dtype) for kind, (n, dtype) in rows.items()}
        """``{stream: StreamFeed}``."""

    def _chunks(self, kind: str) -> Iterator[Chunk]:
        queue = self._queues[kind]
        while True:
            if queue:
                yield queue.popleft()
            elif self._ended[kind]:
                return
            else:
                self._pull()

    def _pull(self) -> None:
        it = next(self._items, None)
        if it is None:
            for kind in self._ended:
                self._ended[kind] = True
        elif it.stream in self._queues:
            if it.segment > self._segment or (isinstance(it, SegmentEnd) and it.segment == self._segment):
                self._ended[it.stream] = True
            elif isinstance(it, Chunk) and it.segment == self._segment:
                self._queues[it.stream].append(it)
