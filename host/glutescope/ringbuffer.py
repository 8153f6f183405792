"""One preallocated ring buffer between acquisition and everyone else.

The acquisition writes each block once; the UI peeks at the latest samples
(:meth:`RingBuffer.latest`), and consumers that must see every sample (a recorder
of processed data, a scorer) read on from where they stopped (:meth:`RingBuffer.since`).
The write index grows for ever, so a reader knows exactly which samples it got and
whether the writer lapped it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RingBuffer"]


class RingBuffer:
    """Fixed-size multichannel ring of float32 samples with a monotonic write index.

    One writer, any number of readers, also from other threads: the writer announces
    the range it is about to overwrite before copying and publishes the new write
    index after, and readers drop whatever the writer may have touched while they
    copied. No lock, no reallocation, no shifting.

    Parameters
    ----------
    n_channels : int
        Rows of every block written.
    capacity : int
        Samples per channel kept.
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {n_channels}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._data = np.zeros((n_channels, capacity), dtype=np.float32)
        self._capacity = int(capacity)
        self._write_index = 0
        # Highest index the writer may be touching; readers trust only slots older
        # than `_claimed - capacity`.
        self._claimed = 0

    @property
    def n_channels(self) -> int:
        """Rows of the buffer."""
        return int(self._data.shape[0])

    @property
    def capacity(self) -> int:
        """Samples per channel kept."""
        return self._capacity

    @property
    def write_index(self) -> int:
        """Samples written since creation (the index of the next sample)."""
        return self._write_index

    def write(self, block: np.ndarray) -> None:
        """Append a block.

        Parameters
        ----------
        block : array_like, shape (n_channels, n_samples)
            Converted to float32. A block longer than the capacity advances the index
            by its full length and keeps only its last ``capacity`` samples.
        """
        a = np.asarray(block)
        if a.ndim != 2 or a.shape[0] != self.n_channels:
            raise ValueError(
                f"block must have shape ({self.n_channels}, n_samples), got {a.shape}"
            )
        n = a.shape[1]
        if n == 0:
            return
        w = self._write_index
        self._claimed = w + n
        if n > self._capacity:
            a = a[:, n - self._capacity :]
        start = (w + n - a.shape[1]) % self._capacity
        first = min(a.shape[1], self._capacity - start)
        self._data[:, start : start + first] = a[:, :first]
        if first < a.shape[1]:
            self._data[:, : a.shape[1] - first] = a[:, first:]
        self._write_index = w + n

    def write_gap(self, n_samples: int) -> None:
        """Mark ``n_samples`` missing samples (NaN), keeping indices aligned with the stream.

        Only the last ``capacity`` of them are stored, so a long gap costs no more memory
        than a short one.
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        kept = min(n_samples, self._capacity)
        self._write_index += n_samples - kept
        self.write(np.full((self.n_channels, kept), np.nan, dtype=np.float32))

    def _copy(self, start: int, end: int) -> np.ndarray:
        n = end - start
        out = np.empty((self.n_channels, n), dtype=np.float32)
        s = start % self._capacity
        first = min(n, self._capacity - s)
        out[:, :first] = self._data[:, s : s + first]
        if first < n:
            out[:, first:] = self._data[:, : n - first]
        return out

    def since(self, index: int) -> tuple[int, np.ndarray]:
        """Every sample from ``index`` on that is still held.

        Parameters
        ----------
        index : int
            Stream index of the first sample wanted, usually the end of the previous
            read.

        Returns
        -------
        start_index : int
            Index of the first sample returned; greater than ``index`` when the writer
            overwrote samples before they were read (the reader lost
            ``start_index - index`` samples).
        data : numpy.ndarray, shape (n_channels, n), float32
            A copy; ``start_index + n`` is the index to pass next time.
        """
        if index < 0:
            raise ValueError(f"index must be >= 0, got {index}")
        end = self._write_index
        start = min(max(index, end - self._capacity), end)
        data = self._copy(start, end)
        # Slots the writer claimed while we copied may hold newer samples: drop them.
        safe = self._claimed - self._capacity
        if safe > start:
            cut = min(safe, end) - start
            return start + cut, data[:, cut:]
        return start, data

    def latest(self, n_samples: int) -> np.ndarray:
        """Copy of the newest ``n_samples`` (fewer if fewer are held).

        Parameters
        ----------
        n_samples : int
            How many samples per channel, >= 0.

        Returns
        -------
        numpy.ndarray, shape (n_channels, min(n_samples, held)), float32
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        end = self._write_index
        return self.since(max(0, end - n_samples))[1]
