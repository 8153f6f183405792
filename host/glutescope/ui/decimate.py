"""Reduce a trace to what a plot can show: one (min, max) pair per pixel column.

A 10 s window of 2 kHz EMG is 20 000 points per channel, drawn into some 900 pixel
columns: every column shows a vertical stroke from the lowest to the highest sample
that falls into it, so drawing just those two per column gives the same picture (spikes
included, as pyqtgraph's "peak" downsampling) for ~1/10 of the points, computed once
per frame with two numpy reductions instead of per-curve inside the plot.
"""
from __future__ import annotations

import numpy as np


def column_layout(n_samples: int, width_px: float) -> tuple[int, int]:
    """Columns, and samples per column, to reduce ``n_samples`` to for a plot
    ``width_px`` wide (each at least 1).

    At most ``width_px`` columns of equal whole numbers of samples that leave out fewer
    than one column's worth at the oldest end, so the trace still reaches the left edge.
    """
    if n_samples < 1:
        return 1, 1
    per = -(-n_samples // max(1, int(width_px)))  # ceil
    return max(1, n_samples // per), per


def minmax_columns(y: np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column extremes of the newest samples of ``y``.

    Parameters
    ----------
    y : ndarray, shape (n_channels, n_samples)
        The trace, oldest sample first. NaN (a gap) makes its column NaN, so the curve
        breaks there as it would at full resolution.
    n_columns : int
        Columns wanted; each holds ``n_samples // n_columns`` samples, and the oldest
        ``n_samples % n_columns`` samples (at the left edge) are left out.

    Returns
    -------
    index : ndarray, shape (2 * n_columns,)
        Sample index (into ``y``) of each output point: the first sample of its column
        twice, so a column's min and max draw as one vertical stroke.
    values : ndarray, shape (n_channels, 2 * n_columns)
        Min then max of each column, interleaved.
    """
    n_channels, n = y.shape
    if not 1 <= n_columns <= max(n, 1):
        raise ValueError(f"n_columns must be between 1 and n_samples ({n}), got {n_columns}")
    per = n // n_columns
    start = n - per * n_columns
    cols = y[:, start:].reshape(n_channels, n_columns, per)
    values = np.empty((n_channels, n_columns, 2), dtype=y.dtype)
    np.minimum.reduce(cols, axis=2, out=values[:, :, 0])
    np.maximum.reduce(cols, axis=2, out=values[:, :, 1])
    index = np.repeat(start + per * np.arange(n_columns), 2)
    return index, values.reshape(n_channels, 2 * n_columns)


def max_columns(y: np.ndarray, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column maximum of the newest samples of ``y`` (for smooth envelopes).

    Same columns as `minmax_columns`; returns ``(index, values)`` with one point per
    column, ``values`` of shape (n_channels, n_columns).
    """
    n_channels, n = y.shape
    if not 1 <= n_columns <= max(n, 1):
        raise ValueError(f"n_columns must be between 1 and n_samples ({n}), got {n_columns}")
    per = n // n_columns
    start = n - per * n_columns
    values = np.maximum.reduce(y[:, start:].reshape(n_channels, n_columns, per), axis=2)
    return start + per * np.arange(n_columns), values


class ColumnTracker:
    """Per-column extremes of a ring buffer's newest samples, kept up to date from only
    the samples written since the previous call.

    Columns are fixed in stream time (column ``c`` holds samples ``c * per`` to
    ``(c + 1) * per - 1``), so a column, once complete, never changes and is reduced
    once; each frame reduces only the few new columns (a 60 Hz redraw of 2 kHz data
    sees ~33 new samples) and the newest, still filling column. Columns before the
    first sample, and samples the writer overwrote before they were read, are NaN:
    the curve breaks there instead of inventing a trace.

    Parameters
    ----------
    n_channels : int
        Rows of the buffer.
    n_columns : int
        Complete columns shown (the newest, partial one comes on top).
    per : int
        Samples per column, >= 1.
    with_min : bool
        True: a (min, max) pair per column, drawn as one vertical stroke (raw traces);
        False: the max alone (a smooth envelope).
    """

    def __init__(self, n_channels: int, n_columns: int, per: int, with_min: bool = True) -> None:
        if n_columns < 1:
            raise ValueError(f"n_columns must be >= 1, got {n_columns}")
        if per < 1:
            raise ValueError(f"per must be >= 1, got {per}")
        self.n_columns = int(n_columns)
        self.per = int(per)
        self.with_min = bool(with_min)
        self._k = 2 if with_min else 1  # points per column
        self._ring = np.full((n_channels, self.n_columns, self._k), np.nan, dtype=np.float32)
        self._next = None  # first column not yet complete (reduced into the ring)
        self._steps = np.repeat(np.arange(self.n_columns + 1) * self.per, self._k)
        self.x = np.empty((self.n_columns + 1) * self._k)
        self.values = np.empty((n_channels, (self.n_columns + 1) * self._k), dtype=np.float32)

    def update(self, buffer) -> tuple[np.ndarray, np.ndarray]:
        """Bring the columns up to the buffer's newest sample.

        Parameters
        ----------
        buffer : glutescope.ringbuffer.RingBuffer
            The buffer to follow (the same one on every call).

        Returns
        -------
        x : ndarray, shape ((n_columns + 1) * k,)
            Each point's first sample, in samples relative to the newest sample (<= 0;
            the still empty newest column, if any, at +1). k = 2 with ``with_min``, else 1.
        values : ndarray, shape (n_channels, (n_columns + 1) * k)
            Oldest column first; per column min then max (or the max alone). Both arrays
            are this tracker's own and are overwritten by the next call.
        """
        n, per, k = self.n_columns, self.per, self._k
        end = buffer.write_index
        c_end = end // per  # columns complete by now
        c0 = c_end - n  # oldest column shown
        if self._next is None or self._next < c0:
            self._next = c0  # first call, or further behind than the window: start afresh
        start, data = buffer.since(max(0, self._next * per))
        end = start + data.shape[1]
        c_end = end // per
        c0 = c_end - n
        first = -(-start // per)  # first column whose every sample was read
        for c in range(max(self._next, c0), min(first, c_end)):
            self._ring[:, c % n] = np.nan  # lost to the writer, or before the stream began
        lo = max(first, c0)
        if c_end > lo:
            cols = data[:, lo * per - start:c_end * per - start].reshape(data.shape[0], c_end - lo, per)
            for c_from in range(lo, c_end, n):  # at most one lap of the ring per pass
                c_to = min(c_end, c_from + n)
                block = cols[:, c_from - lo:c_to - lo]
                self._store(c_from, c_to, block)
        self._next = max(self._next, c_end)
        # Oldest first: the ring from c0's slot on, then the newest, partial column.
        p = c0 % n
        flat = self._ring.reshape(self._ring.shape[0], n * k)
        self.values[:, :(n - p) * k] = flat[:, p * k:]
        self.values[:, (n - p) * k:n * k] = flat[:, :p * k]
        tail = data[:, max(0, c_end * per - start):]
        if tail.shape[1]:
            if self.with_min:
                np.minimum.reduce(tail, axis=1, out=self.values[:, n * k])
            np.maximum.reduce(tail, axis=1, out=self.values[:, n * k + k - 1])
        else:
            self.values[:, n * k:] = np.nan
        np.add(self._steps, c0 * per - (end - 1), out=self.x)
        return self.x, self.values

    def _store(self, c_from: int, c_to: int, block: np.ndarray) -> None:
        """Reduce whole columns ``c_from``..``c_to - 1`` (at most n_columns) into the ring."""
        n = self.n_columns
        for a, b in ((c_from, min(c_to, (c_from // n + 1) * n)), ((c_from // n + 1) * n, c_to)):
            if b <= a:
                continue
            part = block[:, a - c_from:b - c_from]
            slots = self._ring[:, a % n:a % n + (b - a)]
            if self.with_min:
                np.minimum.reduce(part, axis=2, out=slots[:, :, 0])
            np.maximum.reduce(part, axis=2, out=slots[:, :, self._k - 1])
