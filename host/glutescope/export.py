"""Exports of a recording: EDF+, C3D and CSV, from the recording and its live analysis.

Every export holds one segment (one START) of a recording: segment 0 in the file named,
later segments (after a restart of the wearable) beside it with ``-seg<k>`` before the
suffix. Times are seconds from the segment's first EMG sample unless stated.

How each format shows what the recording does not hold (gaps, samples the ADC
flagged): EDF+ has no "missing" value, so those samples hold 0 (filler) and an
annotation starting ``BAD_`` covers each run exactly (MNE's convention: annotations
starting "BAD" are rejected by epoching and most analyses); C3D analog data is stored
as floats, so they hold NaN and an event marks each run's start; CSV holds NaN, and
``gaps.csv`` lists the runs. The IMU starts a few ms apart from the EMG on the
wearable's clock: CSV gives each stream its exact times; EDF+ and C3D place the IMU
on the EMG's timeline to the nearest IMU sample.
"""
from __future__ import annotations

import csv
import datetime as _dt
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from glutescope.analysis import SegmentAnalysis, imu_times_s
from glutescope.guide import describe_score
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.protocol import imu_to_si
from glutescope.recording import Recording

__all__ = ["FORMATS", "Annotation", "session_annotations", "imu_offset_s", "imu_times_s", "segment_path",
           "export_edf", "export_c3d", "export_csv", "edf_label"]

FORMATS = ("edf", "c3d", "csv")
EDF_RECORD_S = 1.0
"""EDF data record duration, s: every supported rate (EMG 500-2000 Hz, IMU 104/208 Hz) is
a whole number of samples per second."""
C3D_POINT_RATE_HZ = 100.0
"""C3D frame (point) rate, Hz; the EMG is the analog rate, a whole multiple of it."""
PELVIS_RANGE_DEG = 180.0
"""Physical range of the pelvis angles in EDF+, +/- degrees (16-bit step 0.0055 deg)."""
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
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_gap EMG: {b - a} samples missing"))
    valid = emg.valid_mask()
    flagged = np.any((emg.samples & _ADC_ERROR_BIT) != 0, axis=0) & valid
    for a, b in _runs(flagged):
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_adc_error EMG: {b - a} samples flagged by the ADC"))
    if ifs and seg < len(rec.imu):
        imu, t_imu = rec.imu[seg], imu_times_s(rec, seg)
        for a, b in _missing_runs(imu.n_samples, imu.gaps):
            out.append(Annotation(float(t_imu[a]), (b - a) / ifs, f"BAD_gap IMU: {b - a} samples missing"))
    for e in rec.events:
        if 0 <= e.emg_sample <= emg.n_samples:
            out.append(Annotation(e.emg_sample / fs, 0.0, f"event {e.code}"))
    for m in rec.markers:
        if m.get("emg_sample") is not None:
            out.append(Annotation(int(m["emg_sample"]) / fs, 0.0, f"marker {m.get('label', '')}"))
    scores = {s.side: s for s in analysis.stats.squeeze_scores}
    for cue in analysis.plan.squeeze_cues:
        if cue.start_s * fs >= emg.n_samples:
            continue
        what = f"squeeze {cue.side}" if cue.name == "squeeze" else "relax"
        out.append(Annotation(cue.start_s, cue.end_s - cue.start_s, f"cue {what}"))
        if cue.name == "squeeze" and cue.side in scores:
            out.append(Annotation(cue.start_s, cue.end_s - cue.start_s,
                                  f"squeeze score {describe_score(scores[cue.side])}"))
    for r in analysis.reps:
        out.append(Annotation(r.start_s, r.duration_s,
                              f"rep {r.index}: left {r.mean_uV[0]:.1f} uV, right {r.mean_uV[1]:.1f} uV, "
                              f"SI {r.si_pct:+.1f} %"))
    return sorted(out, key=lambda x: (x.onset_s, x.text))


# -------------------------------------------------------------------- shared arrays


@dataclass(frozen=True)
class _Streams:
    """One segment's samples in physical units, NaN where missing or flagged."""

    emg_uV: np.ndarray
    acc_g: Optional[np.ndarray]
    gyro_dps: Optional[np.ndarray]
    imu_raw: Optional[np.ndarray]
    """int16 LSB, (6, n), with the gaps' rows meaningless (see imu_valid)."""
    imu_valid: Optional[np.ndarray]


def _streams(rec: Recording, analysis: SegmentAnalysis) -> _Streams:
    seg = analysis.segment
    emg_uV = rec.emg_uV(seg)
    if not analysis.imu_fs_hz or seg >= len(rec.imu):
        return _Streams(emg_uV, None, None, None, None)
    imu = rec.imu[seg]
    acc_g, gyro_dps = to_body_axes(*imu_to_si(imu.samples, rec.device_info), recorded_mount(rec.meta))
    acc_g, gyro_dps = np.array(acc_g), np.array(gyro_dps)  # writable: gaps become NaN below
    valid = imu.valid_mask()
    acc_g[:, ~valid] = np.nan
    gyro_dps[:, ~valid] = np.nan
    return _Streams(emg_uV, acc_g, gyro_dps, imu.samples, valid)


def _pelvis(analysis: SegmentAnalysis, n_imu: int) -> np.ndarray:
    p = analysis.pelvis_deg
    out = np.full((2, n_imu), np.nan)
    if p is not None:
        out[:, : p.shape[1]] = p[:2, :n_imu]
    return out


# -------------------------------------------------------------------- CSV


def export_csv(rec: Recording, analysis: SegmentAnalysis, directory: Path,
               progress: Optional[Progress] = None) -> list[Path]:
    """Write the segment as CSV files in ``directory`` (created; must not hold them yet).

    Files: ``emg.csv`` (``t_s`` and one column per muscle, µV), ``imu.csv`` (``t_s``,
    ``acc_{x,y,z}_g``, ``gyro_{x,y,z}_dps``, ``tilt_deg``, ``obliquity_deg``; IMU times on
    the EMG's clock), ``gaps.csv`` (every missing or ADC-flagged run of either stream),
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
    streams = _streams(rec, analysis)
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    head = _csv_header(rec, analysis)
    written = []

    path = directory / "emg.csv"
    names = [f"{n}_uV" for n in analysis.channel_names]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + f"# EMG at {fs:g} Hz, raw (unfiltered) at the electrodes, uV; t_s = sample / {fs:g}\n"
                 "# nan: sample missing from the recording or flagged by the ADC (see gaps.csv)\n")
        w = csv.writer(fh)
        w.writerow(["t_s", *names])
        n = streams.emg_uV.shape[1]
        step = 20000
        for a in range(0, n, step):
            b = min(n, a + step)
            t = np.arange(a, b) / fs
            w.writerows(zip(t.tolist(), *streams.emg_uV[:, a:b].tolist()))
            if progress is not None:
                progress.update(b - a)
    written.append(path)

    if streams.acc_g is not None:
        path = directory / "imu.csv"
        t = imu_times_s(rec, analysis.segment)
        n_imu = streams.acc_g.shape[1]
        pelvis = _pelvis(analysis, n_imu)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            fh.write(head + f"# IMU at {ifs:g} Hz nominal; t_s of each sample on the EMG's clock, from the "
                     "wearable's timestamps (the sensor's own rate, which differs from the nominal one)\n"
                     "# acc in g and gyro in deg/s in the sensor frame (x forward, y left, z up standing); "
                     "tilt (anterior +) and obliquity (left hip higher +) in degrees, as shown live\n"
                     "# nan: sample missing from the recording (see gaps.csv)\n")
            w = csv.writer(fh)
            w.writerow(["t_s", "acc_x_g", "acc_y_g", "acc_z_g", "gyro_x_dps", "gyro_y_dps", "gyro_z_dps",
                        "tilt_deg", "obliquity_deg"])
            w.writerows(zip(t.tolist(), *streams.acc_g.tolist(), *streams.gyro_dps.tolist(), *pelvis.tolist()))
        written.append(path)

    path = directory / "gaps.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# runs of samples not in the recording (gap) or flagged by the ADC (adc_error); "
                 "first_sample and n_samples in the stream's own samples, start_s on the EMG's clock\n")
        w = csv.writer(fh)
        w.writerow(["stream", "kind", "first_sample", "n_samples", "start_s", "duration_s"])
        emg = rec.emg[analysis.segment]
        rows = [("emg", "gap", a, b - a, a / fs, (b - a) / fs) for a, b in _missing_runs(emg.n_samples, emg.gaps)]
        flagged = np.any((emg.samples & _ADC_ERROR_BIT) != 0, axis=0) & emg.valid_mask()
        rows += [("emg", "adc_error", a, b - a, a / fs, (b - a) / fs) for a, b in _runs(flagged)]
        if streams.acc_g is not None:
            imu, t_imu = rec.imu[analysis.segment], imu_times_s(rec, analysis.segment)
            rows += [("imu", "gap", a, b - a, float(t_imu[a]), (b - a) / ifs)
                     for a, b in _missing_runs(imu.n_samples, imu.gaps)]
        w.writerows(sorted(rows, key=lambda r: (r[4], r[0])))
    written.append(path)

    path = directory / "reps.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# contractions of both glutes as the live view found them (envelope = 100 ms RMS of the "
                 "conditioned EMG, uV); SI = (R - L) / (0.5 (R + L)) x 100 of the means, right louder +; "
                 "hip drop = largest change of pelvic obliquity from the rep's start, deg\n")
        w = csv.writer(fh)
        w.writerow(["rep", "start_s", "duration_s", "mean_left_uV", "mean_right_uV", "peak_left_uV",
                    "peak_right_uV", "si_pct", "working_side", "hip_drop_deg"])
        for r in analysis.reps:
            w.writerow([r.index, r.start_s, r.duration_s, r.mean_uV[0], r.mean_uV[1], r.peak_uV[0], r.peak_uV[1],
                        r.si_pct, r.working_side, "" if r.hip_drop_deg is None else r.hip_drop_deg])
    written.append(path)

    path = directory / "squeeze.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# squeeze test, per side: total = mean of the five parts, each 0-100 (docs/scores.md); "
                 "peak in uV above baseline, t90 and relax in s, hold_cv and overflow as fractions, "
                 "motion in deg\n")
        w = csv.writer(fh)
        w.writerow(["side", "total", "strength", "speed", "steadiness", "relaxation", "isolation", "peak_uV",
                    "t90_s", "hold_cv", "relax_s", "overflow", "motion_deg", "weaker"])
        weaker = analysis.stats.weaker_squeeze_side
        for s in analysis.stats.squeeze_scores:
            w.writerow([s.side, s.total, s.strength, s.speed, s.steadiness, s.relaxation, s.isolation, s.peak,
                        s.t90_s, s.hold_cv, s.relax_s, s.overflow, "" if s.motion_deg is None else s.motion_deg,
                        "yes" if s.side == weaker else "no"])
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


def _place(x: np.ndarray, lead: int, n_total: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``x`` (n,) at sample ``lead`` of an all-filler (0) row of ``n_total``; NaN -> 0.

    Returns the row and the [start, end) runs of filler that are not data.
    """
    row = np.zeros(n_total)
    end = min(n_total, lead + x.size)
    row[lead:end] = np.nan_to_num(x[: end - lead], nan=0.0)
    filler = [(0, lead)] if lead else []
    if end < n_total:
        filler.append((end, n_total))
    return row, filler


def export_edf(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None) -> Path:
    """Write the segment as an EDF+C file (edfio).

    Signals: each EMG channel in µV at the EMG rate, with the ADC's range as physical
    range and the ADC code - 2048 as digital value (lossless, nothing clips); the IMU at
    its rate: acceleration in g and angular rate in deg/s (raw readings as digital
    values, lossless), pelvis tilt and obliquity in degrees (+/- 180, 16 bit).
    Annotations: see `session_annotations`; gaps, ADC-flagged samples and the padding
    to whole data records are ``BAD_`` annotations over samples that hold 0.

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
    import edfio

    info = rec.device_info
    meta = rec.meta or {}
    streams = _streams(rec, analysis)
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    n_emg = streams.emg_uV.shape[1]
    off = imu_offset_s(rec, analysis.segment) if streams.acc_g is not None else 0.0
    # Both streams on one timeline from the whole second before the earlier first
    # sample: readers (EDFlib among them) reject or ignore sub-second start times
    # written as edfio writes them, and a whole-second start needs no TAL offset.
    first = start_datetime(rec, analysis.segment) + _dt.timedelta(seconds=min(off, 0.0))
    start = first.replace(microsecond=0)
    lead_s = (first - start).total_seconds()
    emg_lead = int(round((lead_s - min(off, 0.0)) * fs))
    imu_lead = int(round((lead_s + max(off, 0.0)) * ifs)) if ifs else 0
    t_shift_s = emg_lead / fs
    span_s = (emg_lead + n_emg) / fs
    if streams.acc_g is not None:
        span_s = max(span_s, (imu_lead + streams.acc_g.shape[1]) / ifs)
    n_records = max(1, math.ceil(span_s / EDF_RECORD_S - 1e-9))
    total_s = n_records * EDF_RECORD_S
    n_emg_total = int(round(total_s * fs))
    annotations = [edfio.EdfAnnotation(round(a.onset_s + t_shift_s, 6), round(a.duration_s, 6) or None, a.text)
                   for a in session_annotations(rec, analysis)]
    signals = []
    prange, drange = _emg_ranges(rec)
    filler_emg = []
    for ch, name in enumerate(analysis.channel_names):
        row, filler_emg = _place(streams.emg_uV[ch], emg_lead, n_emg_total)
        signals.append(edfio.EdfSignal(row, fs, label=edf_label(name), transducer_type=f"sEMG electrodes, {name}",
                                       physical_dimension="uV", physical_range=prange, digital_range=drange,
                                       prefiltering="none (raw at the electrodes)"))
        if progress is not None:
            progress.update(n_emg // max(1, len(analysis.channel_names)))
    for a, b in filler_emg:
        annotations.append(edfio.EdfAnnotation(round(a / fs, 6), round((b - a) / fs, 6), "BAD_no_data EMG: padding"))
    if streams.acc_g is not None:
        n_imu_total = int(round(total_s * ifs))
        n_imu = streams.acc_g.shape[1]
        # EDF holds the IMU at its nominal rate: the sample in force at each point of that
        # grid on the EMG's clock, so the sensor's own rate never drifts against the EMG.
        k = _imu_held(imu_times_s(rec, analysis.segment), off + np.arange(n_imu) / ifs).clip(0, n_imu - 1)
        pelvis = _pelvis(analysis, n_imu)[:, k]
        raw = np.where(streams.imu_valid, streams.imu_raw, 0).astype(float)[:, k]
        rows = [("Acc X", "g", raw[0], info.acc_g_per_lsb), ("Acc Y", "g", raw[1], info.acc_g_per_lsb),
                ("Acc Z", "g", raw[2], info.acc_g_per_lsb), ("Gyro X", "deg/s", raw[3], info.gyro_dps_per_lsb),
                ("Gyro Y", "deg/s", raw[4], info.gyro_dps_per_lsb), ("Gyro Z", "deg/s", raw[5], info.gyro_dps_per_lsb)]
        filler_imu = []
        for label, unit, lsb, scale in rows:
            row, filler_imu = _place(lsb * scale, imu_lead, n_imu_total)
            p, d = _lsb_ranges(scale)
            signals.append(edfio.EdfSignal(row, ifs, label=label, transducer_type="pelvis IMU, sensor frame "
                                           "x forward y left z up", physical_dimension=unit,
                                           physical_range=p, digital_range=d))
        for label, k in (("Pelvis tilt", 0), ("Pelvis obliq", 1)):
            row, _ = _place(pelvis[k], imu_lead, n_imu_total)
            signals.append(edfio.EdfSignal(np.clip(row, -PELVIS_RANGE_DEG, PELVIS_RANGE_DEG), ifs, label=label,
                                           transducer_type="from the pelvis IMU, as shown live "
                                           + ("(anterior +)" if k == 0 else "(left hip higher +)"),
                                           physical_dimension="deg",
                                           physical_range=(-PELVIS_RANGE_DEG, PELVIS_RANGE_DEG)))
        for a, b in filler_imu:
            annotations.append(edfio.EdfAnnotation(round(a / ifs, 6), round((b - a) / ifs, 6),
                                                   "BAD_no_data IMU: padding"))
    subject = str(meta.get("subject") or "X").replace(" ", "_")
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code=subject),
        recording=edfio.Recording(startdate=start.date(),
                                  equipment_code=(info.name if info else "glutescope").replace(" ", "_")),
        starttime=start.time().replace(tzinfo=None),
        data_record_duration=EDF_RECORD_S,
        annotations=sorted(annotations, key=lambda a: a.onset),
    )
    path = Path(path)
    edf.write(path)
    if progress is not None:
        progress.update(n_emg - len(analysis.channel_names) * (n_emg // max(1, len(analysis.channel_names))))
    return path


# -------------------------------------------------------------------- C3D


def export_c3d(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None) -> Path:
    """Write the segment as a C3D file (the ``c3d`` package): analog channels, events.

    Analog channels, float32 at the EMG rate (C3D has one analog rate): each EMG channel
    in µV, then (with an IMU) acceleration in g, angular rate in deg/s and pelvis tilt
    and obliquity in degrees, each IMU sample held until the next (the description says
    so; the IMU at its own rate is in the EDF+ and CSV exports). No 3D points; frames at
    `C3D_POINT_RATE_HZ`. Missing or ADC-flagged samples are NaN. Events
    (``EVENT:LABELS/TIMES/CONTEXTS``): the annotations of `session_annotations` that
    are instants or starts (gaps, cues, reps, events, markers).

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
    import c3d

    streams = _streams(rec, analysis)
    fs, ifs = analysis.emg_fs_hz, analysis.imu_fs_hz
    per_frame = int(round(fs / C3D_POINT_RATE_HZ))
    n = streams.emg_uV.shape[1]
    n_frames = math.ceil(n / per_frame)
    n_total = n_frames * per_frame
    labels = [edf_label(name) for name in analysis.channel_names]
    units = ["uV"] * len(labels)
    descriptions = [f"raw sEMG at the electrodes, {name}" for name in analysis.channel_names]
    rows = [np.pad(streams.emg_uV, ((0, 0), (0, n_total - n)), constant_values=np.nan)]
    if streams.acc_g is not None:
        # The IMU sample in force at each EMG sample (held), NaN before the first.
        k = _imu_held(imu_times_s(rec, analysis.segment), np.arange(n_total) / fs)
        ok = (k >= 0) & (k < streams.acc_g.shape[1])
        pelvis = _pelvis(analysis, streams.acc_g.shape[1])
        imu = np.vstack([streams.acc_g, streams.gyro_dps, pelvis])
        held = np.full((imu.shape[0], n_total), np.nan)
        held[:, ok] = imu[:, k[ok]]
        rows.append(held)
        labels += ["Acc X", "Acc Y", "Acc Z", "Gyro X", "Gyro Y", "Gyro Z", "Pelvis tilt", "Pelvis obliq"]
        units += ["g"] * 3 + ["deg/s"] * 3 + ["deg"] * 2
        descriptions += [f"pelvis IMU at {ifs:g} Hz, held"] * 6 + [f"from the IMU at {ifs:g} Hz, held"] * 2
    analog = np.vstack(rows).astype(np.float32)
    writer = c3d.Writer(point_rate=C3D_POINT_RATE_HZ, analog_rate=fs, point_scale=-1.0)
    no_points = np.zeros((0, 5), np.float32)
    frames = []
    for f in range(n_frames):
        frames.append((no_points, analog[:, f * per_frame:(f + 1) * per_frame]))
    writer.add_frames(frames)
    writer.set_analog_labels(labels)
    writer.set_analog_scales([1.0] * len(labels))
    writer.set_analog_offsets([0] * len(labels))
    group = writer.analog_group
    group.add_str("UNITS", "Analog units", *_packed(units))
    group.add_str("DESCRIPTIONS", "Analog descriptions", *_packed(descriptions))
    events = [a for a in session_annotations(rec, analysis)]
    if events:
        ev = writer.add_group(writer.numeric_key_next, "EVENT", "Events")
        texts = [a.text for a in events]
        ev.add("USED", "Number of events", 2, "<H", len(events))
        ev.add_str("LABELS", "Event labels", *_packed([t[:32] for t in texts]))
        ev.add_str("DESCRIPTIONS", "Event descriptions", *_packed(texts))
        ev.add_str("CONTEXTS", "Event contexts", *_packed(["General"] * len(events)))
        times = np.array([[0.0, a.onset_s] for a in events], dtype=np.float32)
        ev.add_param("TIMES", desc="Event times (minutes, seconds)", bytes_per_element=4,
                     bytes=times.tobytes(), dimensions=[2, len(events)])
    meta = rec.meta or {}
    subject = writer.add_group(writer.numeric_key_next, "SUBJECTS", "Subject")
    subject.add_str("NAMES", "Subject pseudonym", *_packed([str(meta.get("subject") or "")]))
    with open(path, "wb") as fh, warnings.catch_warnings():
        # The writer warns that an analog-only file has no points: that is by design here.
        warnings.filterwarnings("ignore", message="No point data found", category=UserWarning)
        writer.write(fh)
    if progress is not None:
        progress.update(n)
    return Path(path)


def _packed(texts: list[str]) -> tuple[str, int, int]:
    """C3D string array: the texts padded to one width, the width, the count."""
    width = max(1, max((len(t) for t in texts), default=1))
    return "".join(t.ljust(width) for t in texts), width, len(texts)
