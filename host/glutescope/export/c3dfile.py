"""A C3D file of analog channels written a chunk of frames at a time.

The layout is the C3D.org reference's ("The C3D File Format User Guide", Motion
Lab Systems, 2008; c3d.org/HTML/Documents): a 512-byte header block, parameter blocks
(groups and parameters, Intel byte order, processor 84), then the frames. With no 3D
points and a negative POINT:SCALE the data are float32: each frame holds
``analog_per_frame`` samples of every analog channel, sample by sample. So the frames
can be streamed: the header and parameters depend only on the counts, known first.

Limits kept here: POINT:FRAMES and the header's last frame are 16-bit, so a file holds
at most 65535 frames (pick the frame rate to fit, `frame_rate_for`); a string
parameter's width and count are one byte each (at most 255), and one parameter is at
most 32767 bytes (`MAX_PARAMETER_BYTES`: the offset to the next is int16); the parameter section's
length in 512-byte blocks is one byte too, so all parameters together fit in 255
blocks (`MAX_PARAMETER_BLOCKS`, ~130 kB; `C3dAnalogFile.parameter_blocks` says what a
file needs, and a file that needs more is refused before it is created).
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["C3dAnalogFile", "C3dParam", "frame_rate_for", "MAX_FRAMES", "MAX_PARAMETER_BLOCKS",
           "MAX_PARAMETER_BYTES"]

MAX_FRAMES = 65535
MAX_PARAMETER_BLOCKS = 255
"""The parameter section's length is one byte of its header, in 512-byte blocks, and
readers read that many blocks."""
MAX_PARAMETER_BYTES = 32767
"""One parameter, from its offset field on: the offset is a signed 16-bit count."""
_PROCESSOR_INTEL = 84
_FRAME_RATES_HZ = (100, 50, 25, 20, 10, 5, 4, 2, 1)


def frame_rate_for(analog_rate_hz: float, n_samples: int, n_channels: int) -> float:
    """The highest of 100, 50, ... 1 Hz that divides the analog rate, keeps the frames
    within `MAX_FRAMES` and a frame's analog words within 16 bits."""
    for r in _FRAME_RATES_HZ:
        per = analog_rate_hz / r
        if per != int(per):
            continue
        if math.ceil(n_samples / per) <= MAX_FRAMES and per * n_channels <= 65535:
            return float(r)
    raise ValueError(f"{n_samples} samples at {analog_rate_hz:g} Hz do not fit in {MAX_FRAMES} C3D frames")


@dataclass(frozen=True)
class C3dParam:
    """One parameter: ints (int16), floats (float32) or strings, with a description."""

    name: str
    value: object
    """int, float, str, or a sequence of one of them."""
    desc: str = ""
    dims: tuple[int, ...] = field(default=())
    """Dimensions for numbers when not a plain list (e.g. (2, n) for EVENT:TIMES)."""

    def encode(self, group_id: int) -> bytes:
        v = self.value
        if isinstance(v, str) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], str)):
            texts = [v] if isinstance(v, str) else list(v)
            raw = [t.encode("utf-8") for t in texts]
            width = max(1, max(len(b) for b in raw))
            if width > 255 or len(raw) > 255:
                raise ValueError(f"C3D parameter {self.name}: strings up to 255 bytes and 255 entries, "
                                 f"got {width} and {len(raw)}")
            kind, dims = -1, ([width] if isinstance(v, str) else [width, len(raw)])
            data = b"".join(b.ljust(width) for b in raw)
        else:
            arr = np.asarray(v)
            if arr.dtype.kind == "f":
                kind, data = 4, arr.astype("<f4").tobytes(order="F")
            else:
                kind, data = 2, arr.astype("<i2").tobytes(order="F")
            dims = list(self.dims) if self.dims else ([] if arr.ndim == 0 else list(arr.shape))
        name = self.name.encode("ascii")
        desc = self.desc.encode("utf-8")[:255]
        body = (struct.pack("<bB", kind, len(dims)) + bytes(dims) + data + struct.pack("B", len(desc)) + desc)
        if 2 + len(body) > MAX_PARAMETER_BYTES:
            raise ValueError(f"C3D parameter {self.name}: {2 + len(body)} bytes, and the offset to the next "
                             f"parameter is a signed 16-bit count (at most {MAX_PARAMETER_BYTES})")
        return struct.pack("<bb", len(name), group_id) + name + struct.pack("<h", 2 + len(body)) + body


def _group(group_id: int, name: str, desc: str, params: Sequence[C3dParam]) -> bytes:
    n = name.encode("ascii")
    d = desc.encode("utf-8")
    head = struct.pack("<bb", len(n), -group_id) + n + struct.pack("<h", 3 + len(d)) + struct.pack("B", len(d)) + d
    return head + b"".join(p.encode(group_id) for p in params)


class C3dAnalogFile:
    """Write an analog-only C3D file: header and parameters at open, then frames.

    Parameters
    ----------
    path : str or os.PathLike
        The file (replaced if it exists; created 0600).
    analog_rate_hz : float
        Analog sample rate, Hz.
    frame_rate_hz : float
        Frame (point) rate, Hz; the analog rate must be a whole multiple of it.
    n_frames : int
        Frames that will be written (1 to `MAX_FRAMES`).
    labels, units, descriptions : sequence of str
        One per analog channel.
    groups : sequence of (name, description, list of C3dParam)
        More groups (EVENT, SUBJECTS, ...).
    """

    def __init__(self, path: str | os.PathLike, *, analog_rate_hz: float, frame_rate_hz: float, n_frames: int,
                 labels: Sequence[str], units: Sequence[str], descriptions: Sequence[str],
                 groups: Sequence[tuple[str, str, list]] = ()) -> None:
        per = analog_rate_hz / frame_rate_hz
        if per != int(per) or per < 1:
            raise ValueError(f"analog_rate_hz must be a whole multiple of frame_rate_hz, got {analog_rate_hz} "
                             f"and {frame_rate_hz}")
        if not 1 <= n_frames <= MAX_FRAMES:
            raise ValueError(f"n_frames must be in 1-{MAX_FRAMES}, got {n_frames}")
        if not len(labels) == len(units) == len(descriptions) >= 1:
            raise ValueError("labels, units and descriptions must give one entry per channel (at least one)")
        self.path = Path(path)
        self.per_frame = int(per)
        self.n_channels = len(labels)
        self.n_frames = int(n_frames)
        self._written = 0
        self._fh = None
        n = self.n_channels
        base = [
            ("POINT", "3D points (none)", [
                C3dParam("USED", 0, "Number of points"),
                C3dParam("FRAMES", n_frames if n_frames < 32768 else n_frames - 65536, "Number of frames"),
                C3dParam("DATA_START", 0, "First block of the data"),
                C3dParam("SCALE", -1.0, "Negative: data are float32"),
                C3dParam("RATE", float(frame_rate_hz), "Frame rate, Hz"),
                C3dParam("UNITS", "mm", "Point units"),
            ]),
            ("ANALOG", "Analog channels", [
                C3dParam("USED", n, "Analog channels"),
                C3dParam("RATE", float(analog_rate_hz), "Analog samples per second"),
                C3dParam("GEN_SCALE", 1.0, "General scale"),
                C3dParam("SCALE", np.ones(n, np.float32), "Scale of each channel"),
                C3dParam("OFFSET", np.zeros(n, np.int16), "Offset of each channel"),
                C3dParam("LABELS", list(labels), "Channel labels"),
                C3dParam("DESCRIPTIONS", list(descriptions), "Channel descriptions"),
                C3dParam("UNITS", list(units), "Channel units"),
            ]),
            ("TRIAL", "Trial", [
                C3dParam("ACTUAL_START_FIELD", np.array([1, 0], np.int16), "First frame (low, high word)"),
                C3dParam("ACTUAL_END_FIELD", np.array(_words(n_frames), np.int16), "Last frame (low, high word)"),
            ]),
        ]
        self._base = base
        self._groups = [*base, *groups]
        self._frame_rate = float(frame_rate_hz)

    def _parameters(self, data_block: int) -> bytes:
        out = []
        for gid, (name, desc, params) in enumerate(self._groups, start=1):
            if name == "POINT":
                params = [C3dParam("DATA_START", data_block, p.desc) if p.name == "DATA_START" else p for p in params]
            out.append(_group(gid, name, desc, params))
        return b"".join(out)

    def parameter_blocks(self) -> int:
        """512-byte blocks the parameter section needs (at most `MAX_PARAMETER_BLOCKS`
        can be written)."""
        return math.ceil((4 + len(self._parameters(0))) / 512)

    def open(self) -> "C3dAnalogFile":
        """Create the file and write the header and parameter blocks; ValueError (and no
        file) when the parameters need more than `MAX_PARAMETER_BLOCKS`."""
        blocks = self.parameter_blocks()
        if blocks > MAX_PARAMETER_BLOCKS:
            raise ValueError(f"the C3D parameters need {blocks} blocks of 512 bytes; the format holds "
                             f"{MAX_PARAMETER_BLOCKS}")
        data_block = 2 + blocks
        params = self._parameters(data_block)
        section = (struct.pack("BBBB", 1, 0x50, blocks, _PROCESSOR_INTEL) + params).ljust(512 * blocks, b"\0")
        last = min(self.n_frames, 65535)
        header = struct.pack("<BBHHHHHfHHf274sHHH164s44s", 2, 0x50, 0, self.n_channels * self.per_frame, 1, last,
                             0, -1.0, data_block, self.per_frame, self._frame_rate, b"", 0x3039, 0, 0, b"", b"")
        if self.path.is_file() or self.path.is_symlink():
            self.path.unlink()  # a new inode: the mode below, not the old file's
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(header + section)
        return self

    def write_frames(self, analog: np.ndarray) -> None:
        """Append whole frames: ``analog`` is (n_channels, k * per_frame), in the units
        the labels name (NaN allowed)."""
        a = np.asarray(analog)
        if a.ndim != 2 or a.shape[0] != self.n_channels or a.shape[1] % self.per_frame:
            raise ValueError(f"analog must be ({self.n_channels}, a multiple of {self.per_frame}), got {a.shape}")
        k = a.shape[1] // self.per_frame
        if self._written + k > self.n_frames:
            raise ValueError(f"more frames than the {self.n_frames} announced")
        self._fh.write(np.ascontiguousarray(a.T, dtype="<f4").tobytes())
        self._written += k

    def close(self) -> None:
        """Pad the last block and close; raise if fewer frames were written than announced."""
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        extra = fh.tell() % 512
        if extra:
            fh.write(b"\0" * (512 - extra))
        fh.close()
        if self._written != self.n_frames:
            raise ValueError(f"{self._written} frames written, {self.n_frames} announced")

    def __enter__(self) -> "C3dAnalogFile":
        return self.open()

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._fh is not None:
            self._fh.close()
            self._fh = None


def _words(n: int) -> list[int]:
    """A 32-bit count as two int16 words (low, high), as the TRIAL fields hold it."""
    lo, hi = n & 0xFFFF, n >> 16
    return [lo - 65536 if lo >= 32768 else lo, hi]
