"""Validation helpers shared by the public functions of glutesignal (private)."""

from __future__ import annotations

import numpy as np


def positive(name: str, value, unit: str = "") -> float:
    """``value`` as a float, or a ValueError naming ``name`` when not finite and > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number{unit}; got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number{unit}; got {value!r}")
    return v


def count(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def signal_2d(name: str, x, n_channels: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """A finite float array of shape ``(n_channels, n_samples)``.

    1-D input is refused rather than guessed, so a transposed or flattened array is
    caught at the boundary instead of being filtered along the wrong axis.
    """
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n_channels, n_samples); got shape {a.shape}")
    if n_channels is not None and a.shape[0] != n_channels:
        raise ValueError(f"{name} must have {n_channels} channels (rows); got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} must have at least one channel; got shape {a.shape}")
    if a.shape[1] == 0 and not allow_empty:
        raise ValueError(f"{name} must hold at least one sample; got shape {a.shape}")
    a = a.astype(float, copy=False)
    if not np.isfinite(a).all():  # the method: np.all's dispatch costs more on small blocks
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name} must be finite; got {a[tuple(bad)]} at channel {bad[0]}, sample {bad[1]}")
    return a
