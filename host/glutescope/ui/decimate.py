"""Reduce a trace to what a plot can show: one (min, max) pair per pixel column.

A 10 s window of 2 kHz EMG is 20 000 points per channel, drawn into some 900 pixel
columns: every column shows a vertical stroke from the lowest to the highest sample
that falls into it, so drawing just those two per column gives the same picture (spikes
included, as pyqtgraph's "peak" downsampling) for ~1/10 of the points, computed once
per frame with two numpy reductions instead of per-curve inside the plot.
"""
from __future__ import annotations

import numpy as np


def column_count(n_samples: int, width_px: float) -> int:
    """Columns to reduce ``n_samples`` to for a plot ``width_px`` wide (at least 1).

    At most ``width_px`` columns of equal whole numbers of samples that leave out fewer
    than one column's worth at the oldest end, so the trace still reaches the left edge.
    """
    if n_samples < 1:
        return 1
    per = -(-n_samples // max(1, int(width_px)))  # ceil
    return max(1, n_samples // per)


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
