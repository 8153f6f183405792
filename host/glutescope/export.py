"""Exports of a recording: EDF+, C3D and CSV, from the recording and its live analysis.

Every export holds one segment (one START) of a recording: segment 0 in the file named,
later segments (after a restart of the wearable) beside it with ``-seg<k>`` before the
suffix.

One time base in all three: t = 0 is the segment's first EMG sample, and an event
(rep, cue, gap) is at the same number of seconds in the EDF+ annotations, the C3D
events and the CSV files. EDF+ carries the sub-second part of that first sample's
wall-clock time in the first data record's time-keeping annotation (EDF+ spec, 2.2.4:
"+0.528"), so nothing is padded in front of the signals; only the end is filled to
whole data records.

How each format shows what the recording does not hold (gaps, samples the ADC
flagged): EDF+ has no "missing" value, so those samples hold 0 (filler) and an
annotation starting ``BAD_`` covers each run exactly (MNE's convention: annotations
starting "BAD" are rejected by epoching and most analyses); C3D analog data is stored
as floats, so they hold NaN and an event marks each run's start; CSV holds NaN, and
``gaps.csv`` lists the runs. The IMU starts a few ms apart from the EMG on the
wearable's clock: CSV gives each stream its exact times; EDF+ and C3D place the IMU
on the EMG's timeline to the nearest IMU sample.

The IMU is exported in body axes (x forward, y left, z up standing), turned from the
sensor's own axes by the mount the recording names (`glutescope.mounting`), and every
label says so ("Acc X body"); the raw sensor axes stay in the recording.

Event labels: EDF+ and CSV hold each annotation's whole text. C3D labels are by
convention short (c3d.org, "The EVENT group": labels are typically up to 32 characters
and the longer text belongs in ``EVENT:DESCRIPTIONS``; a character parameter's
dimension is one byte, so at most 255): the label is a short name ("rep 3",
"BAD_gap EMG"), the description is the whole text and the context says the side
("Left", "Right", "General").
"""
from __future__ import annotations

import csv
import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from glutescope.analysis import SegmentAnalysis, imu_times_s
from glutescope.guide import describe_score
from glutescope.mounting import recorded_mount, rotation, to_body_axes
from glutescope.protocol import codes_to_uV, imu_to_si
from glutescope.recording import Recording

__all__ = ["FORMATS", "Annotation", "session_annotations", "imu_offset_s", "imu_times_s", "segment_path",
           "export_edf", "export_c3d", "export_csv", "edf_label", "imu_labels", "C3D_LABEL_CHARS"]

FORMATS = ("edf", "c3d", "csv")
EDF_RECORD_S = 1.0
"""EDF data record duration, s: every supported rate (EMG 500-2000 Hz, IMU 104/208 Hz) is
a whole number of samples per second."""
C3D_POINT_RATE_HZ = 100.0
"""C3D frame (point) rate, Hz; the EMG is the analog rate, a whole multiple of it."""
PELVIS_RANGE_DEG = 180.0
"""Physical range of the pelvis angles in EDF+, +/- degrees (16-bit step 0.0055 deg)."""
C3D_LABEL_CHARS = 32
"""Longest C3D event label written (the convention; the whole text is the description)."""
C3D_TEXT_CHARS = 255
"""Longest C3D string: a character parameter's dimension is one byte."""
_ADC_ERROR_BIT = 0x8000
_MUSCLE_SHORT = {"glute_max": "GMax", "glute_med": "GMed", "hamstring": "Ham", "lumbar_erector": "LumbEr"}
_SIDE_SHORT = {"left": "L", "right": "R"}


class Progress(Protocol):
    """What the exporters report progress to (a ``tqdm`` bar does)."""

    def update(self, n: int = 1) -> object: ...


@dataclass(frozen=True)
class Annotation:
    """Something that happened over a stretch of the session."""

    onset_s: float
    """Start, s from the segment's first EMG sample."""
    duration_s: float
    """Length, s (0 for an instant)."""
    text: str
    """What, in words (ASCII)."""
    label: str = ""
    """A short name of what (at most `C3D_LABEL_CHARS`), e.g. "rep 3"; the text's start when empty."""
    side: str = ""
    """"left" or "right" when it concerns one side, else empty."""

    @property
    def short(self) -> str:
        """The label, or the text cut to `C3D_LABEL_CHARS` when no label was given."""
        return (self.label or self.text)[:C3D_LABEL_CHARS]


def segment_path(path: Path, segment: int) -> Path:
    """``path`` for segment 0, ``<stem>-seg<k><suffix>`` beside it for segment k."""
    path = Path(path)
    return path if segment == 0 else path.with_name(f"{path.stem}-seg{segment}{path.suffix}")


def edf_label(name: str) -> str:
    """EDF+ signal label (at most 16 characters) of an EMG channel: "EMG GMax L"."""
    for muscle, short in _MUSCLE_SHORT.items():
        for side, s in _SIDE_SHORT.items():
            if name == f"{muscle}_{side}":
                return f"EMG {short} {s}"
    return f"EMG {name}"[:16]


IMU_AXES = ("X", "Y", "Z")
CSV_IMU_COLUMNS = tuple([f"acc_{a.lower()}_body_g" for a in IMU_AXES] + [f"gyro_{a.lower()}_body_dps" for a in IMU_AXES])


def imu_labels() -> tuple[str, ...]:
    """Labels of the six IMU signals, in body axes: "Acc X body" ... "Gyro Z body"."""
    return tuple(f"{q} {a} body" for q in ("Acc", "Gyro") for a in IMU_AXES)


def imu_frame(meta: dict) -> str:
    """In words (at most 64 characters, for EDF's 80-character transducer field), which
    axes the exported IMU is in and how they came from the sensor's."""
    mount = recorded_mount(meta)
    how = "sensor axes as is" if not np.any(rotation(mount) != np.eye(3)) else "turned from sensor axes"
    return f"body axes x fwd y left z up; {how} (mount {mount})"


def _body_lsb(raw: np.ndarray, mount: str) -> Optional[np.ndarray]:
    """Raw int16 readings (6, n) turned into body axes, still in LSB, when the mount's
    rotation only permutes and negates axes (then nothing is lost but -32768, which
    negated saturates at +32767); None for any other rotation."""
    r = rotation(mount)
    if not np.all(np.isin(r, (-1.0, 0.0, 1.0))) or not np.all(np.abs(r).sum(axis=1) == 1):
        return None
    ri = r.astype(np.int64)
    raw = raw.astype(np.int64)
    out = np.vstack([ri @ raw[:3], ri @ raw[3:6]])
    return out.clip(-32768, 32767)


def imu_offset_s(rec: Recording, segment: int) -> float:
    """Time of the first IMU sample minus that of the first EMG sample, s, on the
    wearable's clock (the anchors of each stream); 0 when either has no anchor."""
    t = imu_times_s(rec, segment)
    return float(t[0]) if t.size else 0.0


def _imu_held(t_imu_s: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """Index of the IMU sample in force at each time ``t_s`` (-1 before the first)."""
    return np.searchsorted(t_imu_s, t_s + 1e-9, side="right") - 1


def start_datetime(rec: Recording, segment: int) -> _dt.datetime:
    """Wall-clock time of the segment's first EMG sample (local time of the recording).

    From ``meta.json``'s start time, moved by the host time at which the device
    clock says the first sample was converted; the start time itself when that
    cannot be told.
    """
    meta = rec.meta or {}
    try:
        start = _dt.datetime.fromisoformat(meta["start_time"])
    except (KeyError, TypeError, ValueError):
        start = _dt.datetime.fromtimestamp(0, tz=_dt.timezone.utc)
    emg = rec.emg[segment]
    info = rec.device_info
    try:
        t0_us = emg.anchors[1, 0] - emg.anchors[0, 0] * 1e6 / info.emg_fs_hz
        delta_ns = float(rec.clock.to_host_ns(t0_us)) - int(meta["start_time_ns"])
    except (IndexError, KeyError, TypeError, ValueError, AttributeError):
        return start
    if not math.isfinite(delta_ns) or abs(delta_ns) > 86400e9:
        return start
    return start + _dt.timedelta(microseconds=delta_ns / 1e3)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _flagged_runs(emg, chunk: int = 1 << 20) -> list[tuple[int, int]]:
    """[start, end) of each run of samples the ADC flagged (bit 15 on any channel),
    outside gaps, found a chunk at a time."""
    out: list[tuple[int, int]] = []
    for a in range(0, emg.n_samples, chunk):
        b = min(emg.n_samples, a + chunk)
        flagged = np.any((emg.samples[:, a:b] & _ADC_ERROR_BIT) != 0, axis=0) & _valid_in(emg.gaps, a, b)
        for x, y in _runs(flagged):
            if out and out[-1][1] == a + x:  # a run across the chunk boundary
                out[-1] = (out[-1][0], a + y)
            else:
                out.append((a + x, a + y))
    return out


def _missing_runs(n: int, gaps) -> list[tuple[int, int]]:
    return [(g.first_sample, min(g.first_sample + g.n_samples, n)) for g in gaps]


def session_annotations(rec: Recording, analysis: SegmentAnalysis) -> list[Annotation]:
    """Everything worth a mark on the session's timeline, in time order.

    Gaps of each stream and samples the ADC flagged (``BAD_...``), device events and
    host markers, the squeeze test's cues and its score per side, and each rep with
    its left/right means and symmetry index.
    """
    seg = analysis.segment
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    emg = rec.emg[seg]
    out: list[Annotation] = []
    for a, b in _missing_runs(emg.n_samples, emg.gaps):
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_gap EMG: {b - a} samples missing", "BAD_gap EMG"))
    for a, b in _flagged_runs(emg):
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_adc_error EMG: {b - a} samples flagged by the ADC",
                              "BAD_adc_error EMG"))
    if ifs and seg < len(rec.imu):
        imu, t_imu = rec.imu[seg], imu_times_s(rec, seg)
        for a, b in _missing_runs(imu.n_samples, imu.gaps):
            out.append(Annotation(float(t_imu[a]), (b - a) / ifs, f"BAD_gap IMU: {b - a} samples missing",
                                  "BAD_gap IMU"))
    for e in rec.events:
        if 0 <= e.emg_sample <= emg.n_samples:
            out.append(Annotation(e.emg_sample / fs, 0.0, f"event {e.code}", f"event {e.code}"))
    for m in rec.markers:
        if m.get("emg_sample") is not None:
            out.append(Annotation(int(m["emg_sample"]) / fs, 0.0, f"marker {m.get('label', '')}", "marker"))
    scores = {s.side: s for s in analysis.stats.squeeze_scores}
    for cue in analysis.plan.squeeze_cues:
        if cue.start_s * fs >= emg.n_samples:
            continue
        what = f"{cue.name} {cue.side}" if cue.name in ("squeeze", "reference") else "relax"
        side = cue.side if cue.side in _SIDE_SHORT and cue.name in ("squeeze", "reference") else ""
        out.append(Annotation(cue.start_s, cue.end_s - cue.start_s, f"cue {what}", f"cue {what}", side))
        if cue.name == "squeeze" and cue.side in scores:
            out.append(Annotation(cue.start_s, cue.end_s - cue.start_s,
                                  f"squeeze score {describe_score(scores[cue.side])}",
                                  f"squeeze score {cue.side}", side))
    for r in analysis.reps:
        out.append(Annotation(r.start_s, r.duration_s,
                              f"rep {r.index}: left {r.mean_uV[0]:.1f} uV, right {r.mean_uV[1]:.1f} uV, "
                              f"SI {r.si_pct:+.1f} %", f"rep {r.index}"))
    return sorted(out, key=lambda x: (x.onset_s, x.text))


# -------------------------------------------------------------------- CSV


def export_csv(rec: Recording, analysis: SegmentAnalysis, directory: Path,
               progress: Optional[Progress] = None) -> list[Path]:
    """Write the segment as CSV files in ``directory`` (created; must not hold them yet).

    Files: ``emg.csv`` (``t_s`` and one column per muscle, µV), ``imu.csv`` (``t_s``,
    ``acc_{x,y,z}_body_g``, ``gyro_{x,y,z}_body_dps`` in body axes (`imu_frame`),
    ``tilt_deg``, ``obliquity_deg``; IMU times on the EMG's clock), ``gaps.csv`` (every missing or ADC-flagged run of either stream),
    ``reps.csv``, ``squeeze.csv`` and ``annotations.csv``. Missing samples are ``nan``
    (say so in each file's ``#`` header lines). Numbers are written in full (Python's
    shortest round-trip form), so the µV read back are the recording's exactly.

    Parameters
    ----------
    rec : Recording
    analysis : SegmentAnalysis
        From `glutescope.analysis.analyse_segment` of the same recording.
    directory : pathlib.Path
        Where to write.
    progress : tqdm-like, optional
        ``update(n)`` with EMG samples written.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    seg = analysis.segment
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    has_imu = bool(ifs) and seg < len(rec.imu) and rec.imu[seg].n_samples > 0
    head = _csv_header(rec, analysis)
    written = []

    path = directory / "emg.csv"
    names = [f"{n}_uV" for n in analysis.channel_names]
    emg = rec.emg[seg]
    # Every sample is one of 4096 ADC codes: their µV, as Python writes them (shortest
    # round trip), are looked up, not formatted again for each of millions of samples.
    text = np.array([repr(float(v)) for v in codes_to_uV(np.arange(4096), rec.device_info)] + ["nan"], object)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + f"# EMG at {fs:g} Hz, raw (unfiltered) at the electrodes, uV; t_s = sample / {fs:g}\n"
                 "# nan: sample missing from the recording or flagged by the ADC (see gaps.csv)\n")
        fh.write(",".join(["t_s", *names]) + "\r\n")
        n = emg.n_samples
        for a in range(0, n, CSV_CHUNK_SAMPLES):
            b = min(n, a + CSV_CHUNK_SAMPLES)
            words = emg.samples[:, a:b]
            idx = (words & 0x0FFF).astype(np.intp)
            idx[((words & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, b)[None, :]] = 4096
            cols = [map(repr, (np.arange(a, b) / fs).tolist()), *(text[i].tolist() for i in idx)]
            fh.write("\r\n".join(map(",".join, zip(*cols))) + "\r\n")
            if progress is not None:
                progress.update(b - a)
    written.append(path)

    if has_imu:
        path = directory / "imu.csv"
        t = imu_times_s(rec, seg)
        imu = rec.imu[seg]
        valid = imu.valid_mask()
        mount = recorded_mount(rec.meta)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            fh.write(head + f"# IMU at {ifs:g} Hz nominal; t_s of each sample on the EMG's clock, from the "
                     "wearable's timestamps (the sensor's own rate, which differs from the nominal one)\n"
                     f"# acc in g and gyro in deg/s in {imu_frame(rec.meta)}; "
                     "tilt (anterior +) and obliquity (left hip higher +) in degrees, as shown live\n"
                     "# nan: sample missing from the recording (see gaps.csv)\n")
            w = csv.writer(fh)
            w.writerow(["t_s", *CSV_IMU_COLUMNS, "tilt_deg", "obliquity_deg"])
            step = CSV_CHUNK_SAMPLES // 10
            for a in range(0, imu.n_samples, step):
                b = min(imu.n_samples, a + step)
                acc_g, gyro_dps = to_body_axes(*imu_to_si(imu.samples[:, a:b], rec.device_info), mount)
                rows = np.vstack([acc_g, gyro_dps])
                rows[:, ~valid[a:b]] = np.nan
                pelvis = _pelvis_at(analysis, np.arange(a, b))
                w.writerows(zip(t[a:b].tolist(), *rows.tolist(), *pelvis.tolist()))
        written.append(path)

    path = directory / "gaps.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# runs of samples not in the recording (gap) or flagged by the ADC (adc_error); "
                 "first_sample and n_samples in the stream's own samples, start_s on the EMG's clock\n")
        w = csv.writer(fh)
        w.writerow(["stream", "kind", "first_sample", "n_samples", "start_s", "duration_s"])
        rows = [("emg", "gap", a, b - a, a / fs, (b - a) / fs) for a, b in _missing_runs(emg.n_samples, emg.gaps)]
        rows += [("emg", "adc_error", a, b - a, a / fs, (b - a) / fs) for a, b in _flagged_runs(emg)]
        if has_imu:
            imu, t_imu = rec.imu[analysis.segment], imu_times_s(rec, analysis.segment)
            rows += [("imu", "gap", a, b - a, float(t_imu[a]), (b - a) / ifs)
                     for a, b in _missing_runs(imu.n_samples, imu.gaps)]
        w.writerows(sorted(rows, key=lambda r: (r[4], r[0])))
    written.append(path)

    path = directory / "reps.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# contractions of both glutes as the live view found them (envelope = 100 ms RMS of the "
                 "conditioned EMG, uV); squeezes and calibration holds are not reps; SI = (R - L) / (0.5 (R + L)) x 100 "
                 "of the means in uV, right higher + (an amplitude ratio, not normalised: depends on electrodes); "
                 "hip drop = largest change of pelvic obliquity from the rep's start, deg; calibrated sessions "
                 "only: each side's mean above rest in % of its reference and their SI (si_normalised_pct)\n")
        w = csv.writer(fh)
        w.writerow(["rep", "start_s", "duration_s", "mean_left_uV", "mean_right_uV", "peak_left_uV",
                    "peak_right_uV", "si_pct", "working_side", "hip_drop_deg", "mean_left_pct_ref",
                    "mean_right_pct_ref", "si_normalised_pct"])
        for r in analysis.reps:
            pct = r.mean_pct_ref or ("", "")
            w.writerow([r.index, r.start_s, r.duration_s, r.mean_uV[0], r.mean_uV[1], r.peak_uV[0], r.peak_uV[1],
                        r.si_pct, r.working_side, "" if r.hip_drop_deg is None else r.hip_drop_deg, pct[0], pct[1],
                        "" if r.si_normalised_pct is None else r.si_normalised_pct])
    written.append(path)

    path = directory / "squeeze.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# squeeze test, per side: total = mean of the five parts, each 0-100 (docs/scores.md); "
                 "peak in uV above baseline, amplitude = peak with the rest removed in quadrature (what strength "
                 "compares), t90 and relax in s, hold_cv and overflow as fractions, motion in deg; empty cells: "
                 "no score (see not_scored_reason) or a measure that could not be taken\n")
        w = csv.writer(fh)
        w.writerow(["side", "total", "strength", "speed", "steadiness", "relaxation", "isolation", "peak_uV",
                    "amplitude_uV", "t90_s", "hold_cv", "relax_s", "overflow", "motion_deg", "weaker",
                    "not_scored_reason"])
        weaker = analysis.stats.weaker_squeeze_side

        def cell(v):
            return "" if v is None else v  # a measure that could not be taken, or no score

        for s in analysis.stats.squeeze_scores:
            w.writerow([s.side] + [cell(v) for v in (s.total, s.strength, s.speed, s.steadiness, s.relaxation,
                                                     s.isolation, s.peak, s.amplitude, s.t90_s, s.hold_cv, s.relax_s,
                                                     s.overflow, s.motion_deg)]
                       + ["yes" if s.side == weaker else "no", s.reason])
    written.append(path)

    path = directory / "annotations.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# the session's timeline: gaps, events, cues, scores and reps, s on the EMG's clock\n")
        w = csv.writer(fh)
        w.writerow(["onset_s", "duration_s", "text"])
        w.writerows((a.onset_s, a.duration_s, a.text) for a in session_annotations(rec, analysis))
    written.append(path)
    return written


def _csv_header(rec: Recording, analysis: SegmentAnalysis) -> str:
    meta = rec.meta or {}
    info = rec.device_info
    return (f"# glutescope export of {rec.path.name}, segment {analysis.segment}\n"
            f"# subject {meta.get('subject') or 'not given'}; first EMG sample at "
            f"{start_datetime(rec, analysis.segment).isoformat(timespec='milliseconds')}\n"
            f"# device {info.name if info else 'unknown'}; a training and assessment aid, not a medical device\n")


# -------------------------------------------------------------------- EDF+


def _emg_ranges(rec: Recording) -> tuple[tuple[float, float], tuple[int, int]]:
    """Physical and digital ranges that make each EDF digital value the ADC code - 2048."""
    info = rec.device_info
    uV_per_code = info.vref_mV / 4096.0 * 1000.0 / info.emg_gain
    return (-2048 * uV_per_code, 2047 * uV_per_code), (-2048, 2047)


def _lsb_ranges(scale: float) -> tuple[tuple[float, float], tuple[int, int]]:
    """Ranges that make each EDF digital value the IMU's raw int16 reading."""
    return (-32768 * scale, 32767 * scale), (-32768, 32767)


def _valid_in(gaps, a: int, b: int) -> np.ndarray:
    """Which samples of [a, b) of a stream are not in one of its ``gaps``."""
    ok = np.ones(b - a, bool)
    for g in gaps:
        lo, hi = max(a, g.first_sample), min(b, g.first_sample + g.n_samples)
        if lo < hi:
            ok[lo - a:hi - a] = False
    return ok


def _emg_digital(rec: Recording, segment: int, a: int, b: int) -> np.ndarray:
    """EMG samples [a, b) of every channel as ADC code - 2048 (int16), 0 where missing
    or flagged by the ADC; past the end of the stream 0 too."""
    emg = rec.emg[segment]
    n = emg.n_samples
    out = np.zeros((emg.samples.shape[0], b - a), np.int16)
    e = min(b, n)
    if e > a:
        words = emg.samples[:, a:e]
        d = (words & 0x0FFF).astype(np.int16) - 2048
        bad = ((words & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, e)[None, :]
        d[bad] = 0
        out[:, :e - a] = d
    return out


def _imu_on_grid(t_imu_s: np.ndarray, fs_hz: float, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the IMU sample in force at each point ``j / fs_hz`` (j in [j0, j1)) of a
    grid from the first EMG sample, and whether there is one (not before the first
    sample, not more than one nominal period after the last)."""
    t = np.arange(j0, j1) / fs_hz
    k = _imu_held(t_imu_s, t)
    ok = k >= 0
    if t_imu_s.size:
        ok &= t < t_imu_s[-1] + 1.0 / fs_hz
    return k.clip(0, max(0, t_imu_s.size - 1)), ok


CSV_CHUNK_SAMPLES = 20_000
"""EMG rows formatted at a time (10 s at 2 kHz)."""
EDF_CHUNK_RECORDS = 10
"""Data records written at a time (memory per chunk: 10 s of signal)."""


def export_edf(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None) -> Path:
    """Write the segment as an EDF+C file (`glutescope.edfwrite`), 10 s at a time.

    The file starts at the segment's first EMG sample: the header's start time is its
    whole second and each data record's time-keeping annotation adds the fraction
    (EDF+ 2.2.4), so signal sample 0 and annotation onsets are on the time base of
    the CSV and C3D exports.

    Signals: each EMG channel in µV at the EMG rate, with the ADC's range as physical
    range and the ADC code - 2048 as digital value (lossless, nothing clips); the IMU at
    its nominal rate on the EMG's clock, in body axes (`imu_frame`): acceleration in g
    and angular rate in deg/s (raw readings, permuted into body axes, as digital values:
    lossless), pelvis tilt and obliquity in degrees (+/- 180, 16 bit).
    Annotations: see `session_annotations`; gaps, ADC-flagged samples and the filler
    (after the end, and IMU grid points before its first sample) are ``BAD_``
    annotations over samples that hold 0.

    EDF+D (discontinuous records) was not used: its records must be whole, and the EMG
    and IMU gaps fall anywhere and independently of each other, so it could not hold
    them exactly either; EDF+C with exact annotations can.

    Parameters
    ----------
    rec : Recording
    analysis : SegmentAnalysis
    path : pathlib.Path
        The ``.edf`` file to write (replaced if it exists).
    progress : tqdm-like, optional
        ``update(n)`` with EMG samples written.

    Returns
    -------
    pathlib.Path
    """
    from glutescope.edfwrite import EdfNote, EdfPlusWriter, EdfSignalSpec, to_digital

    info = rec.device_info
    meta = rec.meta or {}
    seg = analysis.segment
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    n_emg = rec.emg[seg].n_samples
    has_imu = bool(ifs) and seg < len(rec.imu) and rec.imu[seg].n_samples > 0
    n_records = max(1, math.ceil(n_emg / fs / EDF_RECORD_S - 1e-9))
    spr = int(round(fs * EDF_RECORD_S))
    n_emg_total = n_records * spr
    notes = [EdfNote(a.onset_s, a.duration_s, a.text) for a in session_annotations(rec, analysis)]
    if n_emg < n_emg_total:
        notes.append(EdfNote(n_emg / fs, (n_emg_total - n_emg) / fs, "BAD_no_data EMG: padding to whole data records"))
    prange, drange = _emg_ranges(rec)
    specs = [EdfSignalSpec(edf_label(name), "uV", *prange, *drange, spr, transducer=f"sEMG electrodes, {name}",
                           prefiltering="none (raw at the electrodes)") for name in analysis.channel_names]
    n_ch = len(specs)
    if has_imu:
        ispr = int(round(ifs * EDF_RECORD_S))
        t_imu = imu_times_s(rec, seg)
        imu = rec.imu[seg]
        imu_valid = imu.valid_mask()
        mount = recorded_mount(meta)
        frame = imu_frame(meta)
        permuted = _body_lsb(imu.samples[:, :1], mount) is not None
        scales = [info.acc_g_per_lsb] * 3 + [info.gyro_dps_per_lsb] * 3
        units = ["g"] * 3 + ["deg/s"] * 3
        for label, unit, scale in zip(imu_labels(), units, scales):
            if permuted:
                (p0, p1), (d0, d1) = _lsb_ranges(scale)
            else:  # a rotation that mixes axes: 16-bit steps over the largest reach
                reach = math.sqrt(3.0) * 32768 * scale
                (p0, p1), (d0, d1) = (-reach, reach), (-32768, 32767)
            specs.append(EdfSignalSpec(label, unit, p0, p1, d0, d1, ispr, transducer=f"IMU, {frame}"))
        for label, sign in (("Pelvis tilt", "(anterior +)"), ("Pelvis obliq", "(left hip higher +)")):
            specs.append(EdfSignalSpec(label, "deg", -PELVIS_RANGE_DEG, PELVIS_RANGE_DEG, -32768, 32767, ispr,
                                       transducer=f"from the pelvis IMU, as shown live {sign}"))
        _, ok_all = _imu_on_grid(t_imu, ifs, 0, n_records * ispr)
        for a, b in _runs(~ok_all):
            what = "before the IMU's first sample" if a == 0 else "after the IMU's last sample"
            notes.append(EdfNote(a / ifs, (b - a) / ifs, f"BAD_no_data IMU: {what}"))
        pelvis_deg = analysis.pelvis_deg
    subject = str(meta.get("subject") or "X")
    writer = EdfPlusWriter(path, specs, start=start_datetime(rec, seg).replace(tzinfo=None), n_records=n_records,
                           record_s=EDF_RECORD_S, notes=sorted(notes, key=lambda x: x.onset_s),
                           patient_code=subject, equipment=info.name if info else "glutescope")
    with writer:
        for r0 in range(0, n_records, EDF_CHUNK_RECORDS):
            r1 = min(n_records, r0 + EDF_CHUNK_RECORDS)
            data = list(_emg_digital(rec, seg, r0 * spr, r1 * spr))
            if has_imu:
                k, ok = _imu_on_grid(t_imu, ifs, r0 * ispr, r1 * ispr)
                ok &= imu_valid[k]
                raw = imu.samples[:, k]
                lsb = _body_lsb(raw, mount)
                if lsb is None:
                    acc, gyro = to_body_axes(*imu_to_si(raw, info), mount)
                    lsb = np.vstack([to_digital(v, specs[n_ch + i]) for i, v in enumerate((*acc, *gyro))])
                data += list(np.where(ok, lsb, 0).astype(np.int16))
                for i in range(2):
                    deg = pelvis_deg[i, k] if pelvis_deg is not None else np.full(k.size, np.nan)
                    data.append(to_digital(np.where(ok, deg, np.nan), specs[n_ch + 6 + i]))
            writer.write_records(data)
            if progress is not None:
                progress.update(max(0, min(n_emg, r1 * spr) - r0 * spr))
    return Path(path)


# -------------------------------------------------------------------- C3D


C3D_CHUNK_SAMPLES = 20_000
"""EMG samples per chunk of frames written (10 s at 2 kHz)."""


def export_c3d(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None) -> Path:
    """Write the segment as a C3D file (`glutescope.c3dwrite`): analog channels, events.

    Analog channels, float32 at the EMG rate (C3D has one analog rate): each EMG channel
    in µV, then (with an IMU) acceleration in g and angular rate in deg/s in body axes
    (`imu_frame`), and pelvis tilt and obliquity in degrees, each IMU sample held until
    the next (the description says so; the IMU at its own rate is in the EDF+ and CSV
    exports). No 3D points; frames at `C3D_POINT_RATE_HZ`, or slower for a session too
    long for C3D's 65535 frames (`glutescope.c3dwrite.frame_rate_for`), the first at
    t = 0 (the first EMG sample). Missing or ADC-flagged samples are NaN. Events: the
    onset of each annotation of `session_annotations` (gaps, cues, scores, reps, device
    events, markers), with a short ``EVENT:LABELS`` entry, the whole text in
    ``EVENT:DESCRIPTIONS``, the side in ``EVENT:CONTEXTS`` and ``EVENT:TIMES`` as (whole
    minutes, seconds); durations are in the EDF+ and CSV exports. Written 10 s at a
    time.

    Parameters
    ----------
    rec : Recording
    analysis : SegmentAnalysis
    path : pathlib.Path
        The ``.c3d`` file to write (replaced if it exists).
    progress : tqdm-like, optional
        ``update(n)`` with EMG samples written.

    Returns
    -------
    pathlib.Path
    """
    from glutescope.c3dwrite import C3dAnalogFile, C3dParam, frame_rate_for

    seg = analysis.segment
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    n = rec.emg[seg].n_samples
    has_imu = bool(ifs) and seg < len(rec.imu) and rec.imu[seg].n_samples > 0
    labels = [edf_label(name) for name in analysis.channel_names]
    units = ["uV"] * len(labels)
    descriptions = [f"raw sEMG at the electrodes, {name}" for name in analysis.channel_names]
    if has_imu:
        labels += [*imu_labels(), "Pelvis tilt", "Pelvis obliq"]
        units += ["g"] * 3 + ["deg/s"] * 3 + ["deg"] * 2
        descriptions += ([f"pelvis IMU at {ifs:g} Hz, held; {imu_frame(rec.meta)}"] * 6
                         + [f"from the IMU at {ifs:g} Hz, held; " + ("anterior +", "left hip higher +")[j]
                            for j in range(2)])
    rate = frame_rate_for(fs, n, len(labels))
    rate = min(rate, C3D_POINT_RATE_HZ)
    per_frame = int(round(fs / rate))
    n_frames = max(1, math.ceil(n / per_frame))
    groups = []
    events = session_annotations(rec, analysis)
    if events:
        times = np.array([_c3d_time(a.onset_s) for a in events], dtype=np.float32)
        groups.append(("EVENT", "Events", [
            C3dParam("USED", len(events), "Number of events"),
            C3dParam("LABELS", [a.short for a in events], "Event labels"),
            C3dParam("DESCRIPTIONS", [_c3d_text(a.text) for a in events], "Event descriptions"),
            C3dParam("CONTEXTS", [a.side.capitalize() or "General" for a in events], "Event contexts"),
            C3dParam("TIMES", times.ravel(), "Event times (minutes, seconds)", dims=(2, len(events))),
        ]))
    meta = rec.meta or {}
    groups.append(("SUBJECTS", "Subject", [C3dParam("NAMES", [str(meta.get("subject") or " ")],
                                                    "Subject pseudonym")]))
    if has_imu:
        t_imu = imu_times_s(rec, seg)
        imu = rec.imu[seg]
        imu_valid = imu.valid_mask()
        mount = recorded_mount(meta)
        info = rec.device_info
    writer = C3dAnalogFile(path, analog_rate_hz=fs, frame_rate_hz=rate, n_frames=n_frames, labels=labels,
                           units=units, descriptions=descriptions, groups=groups)
    chunk = max(per_frame, C3D_CHUNK_SAMPLES // per_frame * per_frame)
    with writer:
        for a in range(0, n_frames * per_frame, chunk):
            b = min(n_frames * per_frame, a + chunk)
            rows = [_emg_uV(rec, seg, a, b)]
            if has_imu:
                k = _imu_held(t_imu, np.arange(a, b) / fs)
                ok = (k >= 0) & (k < imu.n_samples)
                kk = k.clip(0, imu.n_samples - 1)
                acc_g, gyro_dps = to_body_axes(*imu_to_si(imu.samples[:, kk], info), mount)
                held = np.vstack([acc_g, gyro_dps, _pelvis_at(analysis, kk)])
                held[:, ~(ok & imu_valid[kk])] = np.nan
                rows.append(held)
            writer.write_frames(np.vstack(rows))
            if progress is not None:
                progress.update(max(0, min(b, n) - a))
    return Path(path)


def _emg_uV(rec: Recording, segment: int, a: int, b: int) -> np.ndarray:
    """EMG samples [a, b) in µV, NaN where missing, flagged by the ADC or past the end."""
    emg = rec.emg[segment]
    out = np.full((emg.samples.shape[0], b - a), np.nan)
    e = min(b, emg.n_samples)
    if e > a:
        words = emg.samples[:, a:e]
        uV = codes_to_uV(words, rec.device_info)
        uV[((words & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, e)[None, :]] = np.nan
        out[:, :e - a] = uV
    return out


def _pelvis_at(analysis: SegmentAnalysis, k: np.ndarray) -> np.ndarray:
    """Pelvis tilt and obliquity (2, len(k)) at IMU samples ``k``, deg (NaN without)."""
    p = analysis.pelvis_deg
    if p is None:
        return np.full((2, k.size), np.nan)
    return p[:2, k.clip(0, p.shape[1] - 1)]


def _c3d_time(t_s: float) -> tuple[float, float]:
    """An EVENT:TIMES pair: whole minutes, and the seconds after them. Both are float32;
    keeping the minutes apart keeps the seconds to about 4 µs (float32 of an hour in
    seconds would step 0.24 ms, half an EMG sample at 2 kHz)."""
    minutes = math.floor(t_s / 60.0)
    return float(minutes), t_s - 60.0 * minutes


def _c3d_text(text: str) -> str:
    """``text`` as a C3D string can hold it (`C3D_TEXT_CHARS`; an ellipsis when cut)."""
    return text if len(text) <= C3D_TEXT_CHARS else text[:C3D_TEXT_CHARS - 3] + "..."
