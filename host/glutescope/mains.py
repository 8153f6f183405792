"""The local mains frequency of a session: found in the signal, stored with the recording.

The live processor finds and notches the mains lines itself (`glutescope.live`); this
module serves the headless recorder, which keeps no processing chain, and the
commands that read a recording back: what frequency ``meta.json`` stores, and which to
use when the user gives none.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from glutesignal.quality import detect_mains

__all__ = ["MainsFinder", "recorded_mains_hz", "SEARCH_S"]

SEARCH_S = 4.0
"""Gap-free raw EMG searched at a time, s (as the live processor's `MAINS_SEARCH_S`)."""


class MainsFinder:
    """Search the raw EMG stream for the mains frequency, 4 s at a time, until found.

    Parameters
    ----------
    emg_fs_hz : float
        EMG rate, Hz.
    n_channels : int
        EMG rows.
    """

    def __init__(self, emg_fs_hz: float, n_channels: int) -> None:
        self.fs_hz = float(emg_fs_hz)
        self.n_need = int(round(SEARCH_S * self.fs_hz))
        self._buf = np.zeros((int(n_channels), self.n_need))
        self._n = 0
        self._next = None  # stream index the buffered run continues at
        self.mains_hz: Optional[float] = None
        """50.0 or 60.0 once found; None before (or if the signal carries no mains line)."""
        self.searched = False
        """True once at least one full stretch was searched."""

    @property
    def found(self) -> bool:
        return self.mains_hz is not None

    def push(self, first_sample: int, emg_uV: np.ndarray) -> bool:
        """Add one block (µV, (n_channels, n)); True when this block completed the search."""
        if self.found:
            return False
        x = np.asarray(emg_uV, dtype=float)
        if self._next is not None and first_sample != self._next:
            self._n = 0  # a gap (or a resent block): start the stretch again
        self._next = first_sample + x.shape[1]
        pos = 0
        while pos < x.shape[1]:
            take = min(self.n_need - self._n, x.shape[1] - pos)
            self._buf[:, self._n:self._n + take] = x[:, pos:pos + take]
            self._n += take
            pos += take
            if self._n == self.n_need:
                self._n = 0
                self.searched = True
                if np.all(np.isfinite(self._buf)):
                    self.mains_hz = detect_mains(self._buf, self.fs_hz).mains_hz
                if self.found:
                    return True
        return False


def recorded_mains_hz(meta: Optional[dict]) -> Optional[float]:
    """The mains frequency ``meta.json`` stores (50.0/60.0), or None when it stores none.

    None covers both a recording made before the frequency was stored and one whose
    signal carried no mains line; either way the analysis then searches the signal.
    """
    value = (meta or {}).get("mains_hz")
    try:
        hz = float(value)
    except (TypeError, ValueError):
        return None
    return hz if hz in (50.0, 60.0) else None
