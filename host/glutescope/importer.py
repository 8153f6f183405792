"""Recordings from other systems: C3D, EDF+/BDF and CSV EMG turned into a glutescope recording.

A physiotherapist's own system (a motion lab's C3D, an EDF+ or BDF from an EMG
amplifier, a CSV) becomes a ``.glutes`` recording that ``info``, ``replay``, ``report``
and ``history`` read like any other, and that never pretends it came from the
wearable:

- every record of its log has the source `RecordSource.IMPORTED`, its INFO names the
  device ``imported-<format>`` with firmware 0.0.0, and ``meta.json`` holds
  ``"imported"``: format, file name, each channel's label, unit and muscle (and whether
  the muscle was guessed from the label or given), the scaling, the channels left out;
- the EMG is stored as the wearable's own 12-bit words (protocol v1 EMG blocks), so
  one pipeline reads both. The scale is chosen per file so its largest excursion
  stays 250 codes inside the rails (no false saturation), after each channel's
  median is removed (the DC offset the wearable's front end removes too). This is
  lossy: the resolution (µV per code) is stated in ``meta.json`` and by the command.
  A missing stretch (NaN in the file) becomes an exact gap where whole 20 ms blocks
  are missing, and samples flagged as ADC errors around it, as the wearable marks the
  samples it lost;
- any rate that is a whole number of Hz (INFO carries an integer rate), any channel
  count in the file: of the channels that map to a muscle of `glutescope.muscles`
  (at most one per muscle and side), the first four in `CHANNEL_NAMES` order (the
  glutes first) are kept, as many as a protocol v1 EMG block carries; the others are
  listed as left out, with why. There is no IMU, so no pelvis angles.

The file's own subject field is not copied (it may hold a real name): the pseudonym
is given with the import.
"""
from __future__ import annotations

import csv
import datetime as _dt
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from glutescope.muscles import CHANNEL_NAMES, guess_channel_name

__all__ = ["FORMATS", "ImportFileError", "ForeignEmg", "ImportSummary", "read_foreign", "channel_map", "write_imported"]

FORMATS = ("c3d", "edf", "bdf", "csv")
_UNITS_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
                "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3, "v": 1e6, "volt": 1e6, "volts": 1e6}
_RAIL_MARGIN_CODES = 250
_BLOCK_S = 0.02  # EMG samples per frame: 20 ms, as the wearable's blocks
_MAX_BLOCK = 255  # n_samples is a u8 in protocol v1
_MAX_CHANNELS = 4  # EMG channels an EMG block of protocol v1 carries (firmware/PROTOCOL.md)
_VREF_MV = 3300
_IMPORT_NAME = "imported-{}"


class ImportFileError(ValueError):
    """The file cannot be imported; the message says why, in one line."""


@dataclass(frozen=True, eq=False)
class ForeignEmg:
    """EMG as another system's file holds it, in µV."""

    format: str
    """One of `FORMATS`."""
    fs_hz: float
    """Sampling rate of the channels read, Hz."""
    labels: tuple[str, ...]
    """Label of each channel as the file names it."""
    units: tuple[str, ...]
    """Unit of each channel as the file names it ("" when it names none)."""
    mapping: tuple[tuple[str, Optional[str], str], ...]
    """Per channel of ``labels``: (label, muscle or None, how it was found), `channel_map`."""
    emg_uV: np.ndarray
    """The channels with a muscle in ``mapping``, in file order, in µV,
    (n_kept, n_samples), float64; NaN where a sample is missing. Only these are decoded."""
    start_time: Optional[str]
    """Start of the session, ISO 8601, when the file states it."""
    events: tuple[tuple[float, str], ...] = ()
    """(onset, s from the first sample; text) of the file's annotations or events."""
    skipped: tuple[str, ...] = ()
    """Channels of the file not read (not a voltage, or at another rate), with why."""


def _to_uV(unit: str, label: str, given: Optional[str]) -> float:
    u = (given or unit or "").strip().lower().replace(" ", "")
    if u not in _UNITS_TO_UV:
        if not u:
            raise ImportFileError(f"channel {label!r} states no unit: give it with --unit uV, mV or V")
        raise ImportFileError(f"channel {label!r} is in {unit!r}, not a voltage (uV, mV or V); "
                           "give --unit if the file mislabels it")
    return _UNITS_TO_UV[u]


def _kept(mapping) -> list[int]:
    return [i for i, (_, m, _) in enumerate(mapping) if m]


def _c3d_events(reader, fs_hz: float) -> tuple[tuple[float, str], ...]:
    """The EVENT group's (time, label): TIMES are (minutes, seconds) pairs from the trial's
    start (C3D.org, "EVENT group"); frame 1 is at 0 s, so a later first frame is taken off."""
    try:
        used = int(reader.get("EVENT:USED").int16_value)
        labels = [str(t).strip() for t in reader.get("EVENT:LABELS").string_array]
        times = np.frombuffer(reader.get("EVENT:TIMES").bytes, dtype="<f4").reshape(-1, 2)
    except (AttributeError, KeyError, TypeError, ValueError):
        return ()
    offset_s = (reader.first_frame - 1) / float(reader.point_rate) if reader.point_rate else 0.0
    return tuple((float(m * 60.0 + s_) - offset_s, lab) for (m, s_), lab in zip(times[:used], labels[:used]) if lab)


def _read_c3d(path: Path, unit: Optional[str], given) -> ForeignEmg:
    import c3d

    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reader warns about files without points
            reader = c3d.Reader(fh)
            labels = tuple(str(s).strip() for s in reader.analog_labels)
            fs = float(reader.analog_rate)
            try:
                units = tuple(str(s).strip() for s in reader.get("ANALOG:UNITS").string_array)
            except (AttributeError, KeyError, TypeError, ValueError):
                units = ()
            units = tuple(units[i] if i < len(units) else "" for i in range(len(labels)))
            if not labels:
                raise ImportFileError(f"{path.name} holds no analog channels: no EMG to import")
            mapping = channel_map(labels, given)
            keep = _kept(mapping)
            scale = np.array([_to_uV(units[i], labels[i], unit) for i in keep])
            # Only the kept rows of each frame, into one array sized from the header: a long
            # 16-channel file is never held whole, nor twice.
            per = int(reader.analog_per_frame)
            data = np.empty((len(keep), max(0, reader.last_frame - reader.first_frame + 1) * per))
            n = 0
            for _, _, analog in reader.read_frames():
                if analog.shape[0] != len(labels):
                    raise ImportFileError(f"{path.name}: {analog.shape[0]} analog channels but {len(labels)} labels")
                if n + analog.shape[1] > data.shape[1]:
                    data = np.concatenate([data, np.empty((len(keep), analog.shape[1]))], axis=1)
                data[:, n:n + analog.shape[1]] = analog[keep]
                n += analog.shape[1]
            events = _c3d_events(reader, fs)
    except (OSError, ValueError, KeyError, IndexError, struct.error, AssertionError) as exc:
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"{path.name} is not a readable C3D file ({str(exc) or type(exc).__name__})") from None
    if not n:
        raise ImportFileError(f"{path.name} holds no analog samples: no EMG to import")
    data = data[:, :n]
    data *= scale[:, None]
    return ForeignEmg("c3d", fs, labels, units, tuple(mapping), data, None, events)


def _read_edf(path: Path, fmt: str, unit: Optional[str], given) -> ForeignEmg:
    import edfio

    try:
        edf = edfio.read_bdf(path) if fmt == "bdf" else edfio.read_edf(path)
    except (OSError, ValueError, UnicodeDecodeError, struct.error, IndexError) as exc:
        raise ImportFileError(f"{path.name} is not a readable {fmt.upper()} file "
                           f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    volt = [s for s in edf.signals
            if (unit or s.physical_dimension).strip().lower().replace(" ", "") in _UNITS_TO_UV]
    skipped = [f"{s.label.strip()} (unit {s.physical_dimension.strip() or 'none'}: not a voltage)"
               for s in edf.signals if s not in volt]
    if not volt:
        raise ImportFileError(f"{path.name} holds no signal in uV, mV or V: no EMG to import")
    rates = [float(s.sampling_frequency) for s in volt]
    fs = max(set(rates), key=rates.count)
    skipped += [f"{s.label.strip()} ({r:g} Hz, not {fs:g} Hz)" for s, r in zip(volt, rates) if r != fs]
    volt = [s for s, r in zip(volt, rates) if r == fs]
    labels = tuple(s.label.strip() for s in volt)
    units = tuple(s.physical_dimension.strip() for s in volt)
    mapping = channel_map(labels, given)
    # Only the kept signals are decoded (edfio decodes a signal's samples on access).
    data = np.vstack([np.asarray(volt[i].data, dtype=np.float64) * _to_uV(units[i], labels[i], unit)
                      for i in _kept(mapping)])
    try:
        start = _dt.datetime.combine(edf.startdate, edf.starttime).isoformat(timespec="milliseconds")
    except (edfio.AnonymizedDateError, AttributeError, TypeError, ValueError):  # "X": anonymised
        start = None
    events = tuple((float(a.onset), str(a.text)) for a in getattr(edf, "annotations", ()) if str(a.text).strip())
    return ForeignEmg(fmt, fs, labels, units, tuple(mapping), data, start, events, tuple(skipped))


_TIME_COLUMNS = ("t_s", "time_s", "time", "t", "seconds")


def _read_csv(path: Path, unit: Optional[str], fs_hz: Optional[float], given) -> ForeignEmg:
    import re

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            # Leading "#" lines are comments (glutescope's own CSV export writes a header so).
            rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(f"{path.name} is not a readable CSV file ({exc})") from None
    if len(rows) < 3:
        raise ImportFileError(f"{path.name} needs a header row and samples: it has {len(rows)} rows")
    header = [h.strip() for h in rows[0]]
    try:
        values = np.array([[float(v) if v.strip() else np.nan for v in r] for r in rows[1:] if r], dtype=np.float64)
    except ValueError as exc:
        raise ImportFileError(f"{path.name}: a sample is not a number ({exc})") from None
    if values.ndim != 2 or values.shape[1] != len(header):
        raise ImportFileError(f"{path.name}: every row must have the header's {len(header)} columns")
    t_col = next((i for i, h in enumerate(header) if h.lower() in _TIME_COLUMNS), None)
    if fs_hz is None:
        if t_col is None:
            raise ImportFileError(f"{path.name} has no time column ({', '.join(_TIME_COLUMNS)}): give --rate")
        dt = np.diff(values[:, t_col])
        step = float(np.median(dt))
        if not step > 0 or np.max(np.abs(dt - step)) > 0.01 * step:
            raise ImportFileError(f"{path.name}: the time column is not evenly spaced; give --rate")
        fs_hz = 1.0 / step
    labels, units, columns = [], [], []
    for i, h in enumerate(header):
        if i == t_col:
            continue
        m = re.fullmatch(r"(.*?)[\s_]*(?:\((\w+)\)|\[(\w+)\]|_(uV|µV|mV|V))", h)
        name, u = (m.group(1), next(g for g in m.groups()[1:] if g)) if m else (h, "")
        labels.append(name.strip())
        units.append(u)
        columns.append(i)
    if not labels:
        raise ImportFileError(f"{path.name} holds only a time column: no EMG to import")
    mapping = channel_map(labels, given)
    data = np.vstack([values[:, columns[k]] * _to_uV(units[k], labels[k], unit) for k in _kept(mapping)])
    return ForeignEmg("csv", float(fs_hz), tuple(labels), tuple(units), tuple(mapping), data, None)


def read_foreign(path, *, fmt: Optional[str] = None, unit: Optional[str] = None,
                 fs_hz: Optional[float] = None, given_map: Mapping[str, str] | None = None) -> ForeignEmg:
    """Read the EMG of a C3D, EDF+/BDF or CSV file.

    Parameters
    ----------
    path : path
        The file.
    fmt : str, optional
        One of `FORMATS`; default from the suffix.
    unit : str, optional
        Unit of every channel ("uV", "mV", "V") when the file states none or a wrong one.
    fs_hz : float, optional
        CSV only: the rate, when the file has no time column.
    given_map : mapping of str to str, optional
        Label -> muscle (or "-") given by the user; other labels are guessed
        (`channel_map`). Only the channels kept are decoded.

    Returns
    -------
    ForeignEmg

    Raises
    ------
    ImportFileError
        One line: unreadable, no EMG, unknown unit or format.
    """
    p = Path(path)
    fmt = (fmt or p.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ImportFileError(f"format must be one of {', '.join(FORMATS)}; {p.name} has suffix {p.suffix!r} "
                           "(give --format)")
    if not p.is_file():
        raise ImportFileError(f"no file at {p}")
    if fmt == "c3d":
        out = _read_c3d(p, unit, given_map)
    elif fmt in ("edf", "bdf"):
        out = _read_edf(p, fmt, unit, given_map)
    else:
        out = _read_csv(p, unit, fs_hz, given_map)
    if out.emg_uV.shape[1] < 2 or not np.isfinite(out.emg_uV).any():
        raise ImportFileError(f"{p.name} holds no EMG samples")
    return out


def channel_map(labels: Sequence[str], given: Mapping[str, str] | None = None) -> list[tuple[str, Optional[str], str]]:
    """(label, muscle or None, "given"/"guessed"/"not a muscle") for each channel.

    ``given`` maps a label to a `CHANNEL_NAMES` entry, or to "-" to leave it out; the
    other labels are guessed (`glutescope.muscles.guess_channel_name`).

    Raises
    ------
    ImportFileError
        A given label is not in the file, a muscle is not known, or two channels map to
        the same muscle.
    """
    given = dict(given or {})
    unknown = [k for k in given if k not in labels]
    if unknown:
        raise ImportFileError(f"--map names {', '.join(map(repr, unknown))}, not a channel of the file "
                           f"(channels: {', '.join(labels)})")
    out = []
    for label in labels:
        if label in given:
            muscle = given[label]
            if muscle == "-":
                out.append((label, None, "left out (given)"))
                continue
            if muscle not in CHANNEL_NAMES:
                raise ImportFileError(f"--map {label}={muscle}: muscle must be one of {', '.join(CHANNEL_NAMES)} or -")
            out.append((label, muscle, "given"))
        else:
            guess = guess_channel_name(label)
            out.append((label, guess, "guessed from the label" if guess else "not a muscle glutescope scores"))
    used = [m for _, m, _ in out if m]
    twice = sorted({m for m in used if used.count(m) > 1})
    if twice:
        which = "; ".join(f"{m}: {', '.join(lab for lab, mm, _ in out if mm == m)}" for m in twice)
        raise ImportFileError(f"two channels map to one muscle ({which}); give the map with --map LABEL=MUSCLE")
    if not used:
        raise ImportFileError(f"no channel's label names a muscle ({', '.join(labels)}); "
                           f"give the map with --map LABEL=MUSCLE ({', '.join(CHANNEL_NAMES)})")
    # The glutes first (CHANNEL_NAMES order), as many as an EMG block carries.
    mapped = sorted((CHANNEL_NAMES.index(m), i) for i, (_, m, _) in enumerate(out) if m)
    keep = {i for _, i in mapped[:_MAX_CHANNELS]}
    return [(lab, m, how) if m is None or i in keep else
            (lab, None, f"{m}, left out: a recording holds {_MAX_CHANNELS} EMG channels, the glutes first")
            for i, (lab, m, how) in enumerate(out)]


def _frame(ftype: int, payload: bytes, seq: int, t_device_us: int) -> bytes:
    """A protocol v1 frame (firmware/PROTOCOL.md): header, payload, CRC-32."""
    body = struct.pack("<BBHII", 1, ftype, len(payload), seq, t_device_us) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _info_frame(fmt: str, mask: int, fs_hz: int, gain: float, seq: int) -> bytes:
    name = _IMPORT_NAME.format(fmt).encode("utf-8")
    payload = struct.pack("<BBBBBBHHHfffHB", 1, 0, 0, 0, mask, mask, fs_hz, 0, _VREF_MV, gain,
                          1.0, 1.0, 0, len(name)) + name
    return _frame(6, payload, seq, 0)


def _emg_frame(words: np.ndarray, first_sample: int, mask: int, seq: int, t_device_us: int) -> bytes:
    flags = 2 if np.any(words & 0x8000) else 0
    payload = struct.pack("<IBBBB", first_sample, words.shape[0], words.shape[1], mask, flags)
    return _frame(1, payload + np.ascontiguousarray(words.T).astype("<u2").tobytes(), seq, t_device_us)


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote."""

    path: Path
    """The recording."""
    channels: tuple[tuple[str, Optional[str], str], ...]
    """Each channel of the file: (label, muscle or None, how the muscle was found)."""
    fs_hz: int
    """EMG rate, Hz."""
    n_samples: int
    """Samples per channel."""
    uV_per_code: float
    """Resolution of the stored words, µV."""


def write_imported(emg: ForeignEmg, out, *, source_name: str, subject: Optional[str] = None,
                   exercise: Optional[str] = None) -> ImportSummary:
    """Write ``emg`` as a recording at ``out`` (a ``.glutes`` directory that must not exist).

    Parameters
    ----------
    emg : ForeignEmg
        With its channels' muscles (`read_foreign`).
    out : path
    source_name : str
        The file's name, noted in ``meta.json``.
    subject : str, optional
        The person's pseudonym.
    exercise : str, optional
        What was performed, if known.

    Returns
    -------
    ImportSummary
    """
    from glutescope.recording import RecordingWriter, RecordSource

    fs = float(emg.fs_hz)
    if not (fs > 0 and abs(fs - round(fs)) < 1e-6 and round(fs) <= 0xFFFF):
        raise ImportFileError(f"the EMG rate must be a whole number of Hz up to 65535 to be stored, got {fs:g} Hz")
    mapping = emg.mapping
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel has no median
        offset = np.nanmedian(emg.emg_uV, axis=1)
    offset = np.where(np.isfinite(offset), offset, 0.0)
    x = emg.emg_uV - offset[:, None]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channel: no peak
        peak = float(np.nanmax([np.nanmax(x, axis=1), -np.nanmin(x, axis=1)]))  # no |x| copy
    peak = peak if np.isfinite(peak) else 0.0
    uV_per_code = max(peak / (2048 - _RAIL_MARGIN_CODES), 1e-3)
    gain = _VREF_MV / 4096.0 * 1000.0 / uV_per_code
    uV_per_code = _VREF_MV / 4096.0 * 1000.0 / float(np.float32(gain))  # as the INFO's float32 states it
    missing = ~np.isfinite(x)
    # In place: one working copy of the signal, however long.
    x[missing] = 0.0
    x /= uV_per_code
    np.rint(x, out=x)
    x += 2048
    np.clip(x, 0, 4095, out=x)
    words = x.astype(np.uint16)
    del x
    words[missing] |= 0x8000
    n_ch, n = words.shape
    mask = (1 << n_ch) - 1
    ifs = int(round(fs))
    block = max(1, min(_MAX_BLOCK, int(round(ifs * _BLOCK_S))))
    import time

    t0_ns = time.time_ns()  # the import's own clock; the session's date is start_time
    origin = {
        "format": emg.format, "file": source_name, "fs_hz": fs,
        "channels": [{"label": lab, "unit": emg.units[i], "muscle": m, "muscle_from": how}
                     for i, (lab, m, how) in enumerate(mapping)],
        "skipped": list(emg.skipped),
        "uV_per_code": uV_per_code, "offset_removed_uV": [float(v) for v in offset],
        "note": "imported from another system's file; not recorded by a glutescope wearable",
    }
    names = [m for _, m, _ in mapping if m]
    from glutescope import protocol

    info = _info_frame(emg.format, mask, ifs, float(np.float32(gain)), 0)
    with RecordingWriter(out, subject=subject, clock_ns=lambda: t0_ns) as w:
        w.set_imported(origin, start_time=emg.start_time)
        w.append(info, t0_ns, source=RecordSource.IMPORTED)
        w.set_device_info(protocol.decode_frame(info), channel_names=names)
        if exercise is not None:
            w.set_session_plan(exercise=exercise)
        seq = 1
        for a in range(0, n, block):
            if missing[:, a:a + block].all():
                # Nothing of it in the file: leave the block out, so the recording holds an
                # exact gap there (sample indices jump, sequence numbers do not: the link lost nothing).
                continue
            t_us = int(round(a * 1e6 / fs))
            w.append(_emg_frame(words[:, a:a + block], a, mask, seq, t_us % (1 << 30)), t0_ns + t_us * 1000,
                     source=RecordSource.IMPORTED)
            seq += 1
        for onset_s, text in emg.events:
            k = int(round(onset_s * fs))
            if 0 <= k < n:
                w.add_marker(text[:200], t_host_ns=t0_ns + int(round(k * 1e9 / fs)), emg_sample=k)
    return ImportSummary(Path(out), tuple(mapping), ifs, n, uV_per_code)
