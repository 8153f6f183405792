"""An EDF+C file written record by record, so a recording of any length streams through.

The format is Kemp and Olivan's "European data format 'plus' (EDF+)", Clin.
Neurophysiol. 114 (2003) 1755-1761 (edfplus.info/specs/edfplus.html): a 256-byte header,
256 bytes per signal, then data records of little-endian int16 samples, each record
holding ``samples_per_record`` samples of every signal in turn and an "EDF Annotations"
signal of time-stamped annotation lists (TALs).

Time: the header holds the start to the second; the first TAL of every record (its
time-keeping TAL) gives the record's start in seconds from that second, so a start with
a fraction of a second (2.2.4: "+0.528") needs no padding in front of the signals.
Every onset is written as an exact decimal (never a binary float's digits: EDFlib
rejects a time-keeping TAL such as "+16.878557999999998").
"""
from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["EdfSignalSpec", "EdfNote", "EdfPlusWriter", "to_digital"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_US = Decimal("0.000001")


@dataclass(frozen=True)
class EdfSignalSpec:
    """One ordinary signal of the file."""

    label: str
    """At most 16 characters, e.g. "EMG GMax L"."""
    unit: str
    """Physical dimension, at most 8 characters, e.g. "uV"."""
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    samples_per_record: int
    """Samples of this signal in one data record."""
    transducer: str = ""
    """At most 80 characters."""
    prefiltering: str = ""
    """At most 80 characters."""


@dataclass(frozen=True)
class EdfNote:
    """One annotation."""

    onset_s: float
    """Seconds from the file's start (its first sample), may be negative."""
    duration_s: float
    """Seconds; 0 for an instant (written without a duration)."""
    text: str
    """UTF-8 text (control characters are replaced by spaces)."""


def to_digital(physical: np.ndarray, spec: EdfSignalSpec) -> np.ndarray:
    """The digital values (int16) a reader turns back into ``physical`` by the header's
    linear map, rounded and clipped to the digital range; NaN -> 0."""
    x = np.asarray(physical, dtype=np.float64)
    gain = (spec.digital_max - spec.digital_min) / (spec.physical_max - spec.physical_min)
    d = np.rint((np.nan_to_num(x, nan=0.0) - spec.physical_min) * gain + spec.digital_min)
    d = np.where(np.isnan(x), 0, d)
    return np.clip(d, spec.digital_min, spec.digital_max).astype(np.int16)


def _field(text: str, width: int, name: str) -> bytes:
    b = "".join(c if 32 <= ord(c) < 127 else "_" for c in str(text)).encode("ascii")
    if len(b) > width:
        raise ValueError(f"EDF header field {name} must be at most {width} characters, got {len(b)}: {text!r}")
    return b.ljust(width)


def _number(x: float, width: int = 8) -> str:
    """``x`` in at most ``width`` characters, with as many decimals as fit."""
    if float(x).is_integer() and len(str(int(x))) <= width:
        return str(int(x))
    for decimals in range(width, -1, -1):
        s = f"{x:.{decimals}f}"
        if len(s) <= width:
            return s
    raise ValueError(f"EDF header number {x!r} does not fit in {width} characters")


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(_US)


def _plain(d: Decimal, signed: bool) -> str:
    s = format(d.normalize(), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if signed and not s.startswith("-"):
        s = "+" + s
    return s


def _clean(text: str) -> str:
    return "".join(" " if ord(c) < 32 else c for c in text)


class EdfPlusWriter:
    """Write an EDF+C file: the header when opened, then data records in any chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file (replaced if it exists; created 0600).
    signals : sequence of EdfSignalSpec
        The ordinary signals, in order; the annotation signal is added last.
    start : datetime.datetime
        Time of the first sample (to the microsecond; local wall-clock time).
    n_records : int
        Data records that will be written, >= 1.
    record_s : float
        Duration of a data record, s (a whole number of ms).
    notes : sequence of EdfNote
        Every annotation, known before the data: each is written in the record its
        onset falls in (the first or last record when outside).
    patient_code, equipment : str
        EDF+ patient code and equipment (spaces become "_").
    """

    def __init__(self, path: str | os.PathLike, signals: Sequence[EdfSignalSpec], *, start: _dt.datetime,
                 n_records: int, record_s: float = 1.0, notes: Sequence[EdfNote] = (),
                 patient_code: str = "X", equipment: str = "X") -> None:
        if n_records < 1:
            raise ValueError(f"n_records must be >= 1, got {n_records}")
        if not record_s > 0:
            raise ValueError(f"record_s must be > 0, got {record_s}")
        self.path = Path(path)
        self.signals = tuple(signals)
        self.n_records = int(n_records)
        self.record_s = float(record_s)
        self._record = _decimal(record_s)
        self._offset = Decimal(start.microsecond) * _US
        self._start = start.replace(microsecond=0)
        per_record: dict[int, list[str]] = {}
        for n in notes:
            onset = _decimal(n.onset_s) + self._offset
            r = min(self.n_records - 1, max(0, math.floor(n.onset_s / self.record_s)))
            tal = _plain(onset, True)
            if n.duration_s > 0:
                tal += "\x15" + _plain(_decimal(n.duration_s), False)
            per_record.setdefault(r, []).append(tal + "\x14" + _clean(n.text) + "\x14\x00")
        self._notes = per_record
        longest_keep = len(self._keeping(self.n_records - 1))
        longest = max([longest_keep] + [len(self._keeping(r)) + sum(len(t.encode()) for t in tals)
                                        for r, tals in per_record.items()])
        self._ann_bytes = 2 * math.ceil(longest / 2)
        self._written = 0
        self._fh = None
        self._patient = patient_code
        self._equipment = equipment

    def _keeping(self, r: int) -> str:
        return _plain(self._record * r + self._offset, True) + "\x14\x14\x00"

    def _header(self) -> bytes:
        ns = len(self.signals) + 1
        st = self._start
        patient = f"{self._patient.replace(' ', '_') or 'X'} X X X"
        recording = (f"Startdate {st.day:02d}-{_MONTHS[st.month - 1]}-{st.year:04d} X X "
                     f"{self._equipment.replace(' ', '_') or 'X'}")
        head = (b"0".ljust(8) + _field(patient, 80, "patient") + _field(recording, 80, "recording")
                + _field(f"{st.day:02d}.{st.month:02d}.{st.year % 100:02d}", 8, "startdate")
                + _field(f"{st.hour:02d}.{st.minute:02d}.{st.second:02d}", 8, "starttime")
                + _field(str(256 * (ns + 1)), 8, "header bytes") + _field("EDF+C", 44, "reserved")
                + _field(str(self.n_records), 8, "records") + _field(_number(self.record_s), 8, "duration")
                + _field(str(ns), 4, "signals"))
        ann = EdfSignalSpec("EDF Annotations", "", -32768, 32767, -32768, 32767, self._ann_bytes // 2)
        specs = [*self.signals, ann]
        cols = [
            [_field(s.label, 16, "label") for s in specs],
            [_field(s.transducer, 80, "transducer") for s in specs],
            [_field(s.unit, 8, "physical dimension") for s in specs],
            [_field(_number(s.physical_min), 8, "physical minimum") for s in specs],
            [_field(_number(s.physical_max), 8, "physical maximum") for s in specs],
            [_field(str(s.digital_min), 8, "digital minimum") for s in specs],
            [_field(str(s.digital_max), 8, "digital maximum") for s in specs],
            [_field(s.prefiltering, 80, "prefiltering") for s in specs],
            [_field(str(s.samples_per_record), 8, "samples per record") for s in specs],
            [b" " * 32 for _ in specs],
        ]
        out = head + b"".join(b"".join(c) for c in cols)
        assert len(out) == 256 * (ns + 1)
        return out

    def open(self) -> "EdfPlusWriter":
        """Create the file and write the header."""
        header = self._header()
        if self.path.is_file() or self.path.is_symlink():
            self.path.unlink()  # a new inode: the mode below, not the old file's
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(header)
        return self

    def write_records(self, data: Sequence[np.ndarray]) -> None:
        """Append whole data records: ``data[i]`` holds signal i's digital values (int16)
        for them, a whole number of records, the same number for every signal."""
        if self._fh is None:
            raise ValueError("write_records: the writer is not open")
        if len(data) != len(self.signals):
            raise ValueError(f"data must hold {len(self.signals)} signals, got {len(data)}")
        spr0 = self.signals[0].samples_per_record
        n = int(np.asarray(data[0]).size) // spr0
        parts = []
        for d, s in zip(data, self.signals):
            d = np.asarray(d)
            if d.size != n * s.samples_per_record:
                raise ValueError(f"signal {s.label!r}: {d.size} samples is not {n} records of "
                                 f"{s.samples_per_record}")
            parts.append(d.astype("<i2", copy=False).reshape(n, s.samples_per_record))
        if self._written + n > self.n_records:
            raise ValueError(f"more records than the {self.n_records} announced")
        ann = np.zeros((n, self._ann_bytes), np.uint8)
        for i in range(n):
            r = self._written + i
            b = (self._keeping(r) + "".join(self._notes.get(r, ()))).encode("utf-8")
            ann[i, :len(b)] = np.frombuffer(b, np.uint8)
        parts.append(ann.view("<i2"))
        self._fh.write(np.hstack(parts).tobytes())
        self._written += n

    def close(self) -> None:
        """Close the file; raise if fewer records were written than announced."""
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        fh.close()
        if self._written != self.n_records:
            raise ValueError(f"{self._written} records written, {self.n_records} announced")

    def __enter__(self) -> "EdfPlusWriter":
        return self.open()

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._fh is not None:
            self._fh.close()
            self._fh = None
