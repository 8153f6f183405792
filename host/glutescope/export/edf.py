"""The EDF+ export, written record by record (`glutescope.export.edfplus`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

from glutescope.analysis import SegmentAnalysis, segment_words
from glutescope.export.common import (_ADC_ERROR_BIT, EDF_RECORD_S, PELVIS_RANGE_DEG, Progress, _body_lsb,
                                     _imu_at, _imu_on_grid, _runs, _valid_in, edf_label, imu_frame, imu_labels,
                                     session_annotations, start_datetime)
from glutescope.imu_feed import ImuFeed
from glutescope.imu_timeline import ImuTimeline
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.recording import Recording
from glutescope.units import imu_to_si



def _emg_ranges(rec: Recording) -> tuple[tuple[float, float], tuple[int, int]]:
    """Physical and digital ranges that make each EDF digital value the ADC code - 2048."""
    info = rec.device_info
    uV_per_code = info.vref_mV / 4096.0 * 1000.0 / info.emg_gain
    return (-2048 * uV_per_code, 2047 * uV_per_code), (-2048, 2047)


def _lsb_ranges(scale: float) -> tuple[tuple[float, float], tuple[int, int]]:
    """Ranges that make each EDF digital value the IMU's raw int16 reading."""
    return (-32768 * scale, 32767 * scale), (-32768, 32767)


def _emg_digital(rec: Recording, segment: int, words, a: int, b: int) -> np.ndarray:
    """EMG samples [a, b) of every channel as ADC code - 2048 (int16), 0 where missing
    or flagged by the ADC; past the end of the stream 0 too. ``words`` reads the
    segment's words forward (`glutescope.analysis.emg_words`)."""
    emg = rec.emg[segment]
    n = emg.n_samples
    out = np.zeros((emg.samples.shape[0], b - a), np.int16)
    e = min(b, n)
    if e > a:
        w = words(a, e)
        d = (w & 0x0FFF).astype(np.int16) - 2048
        bad = ((w & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, e)[None, :]
        d[bad] = 0
        out[:, :e - a] = d
    return out


EDF_CHUNK_RECORDS = 10
"""Data records written at a time (memory per chunk: 10 s of signal)."""


def export_edf(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None) -> Path:
    """Write the segment as an EDF+C file (`glutescope.export.edfplus`), 10 s at a time.

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
    from glutescope.export.edfplus import EdfNote, EdfPlusWriter, EdfSignalSpec, to_digital

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
        timeline = ImuTimeline(rec, seg)
        imu = rec.imu[seg]
        mount = recorded_mount(meta)
        frame = imu_frame(meta)
        permuted = _body_lsb(np.zeros((6, 1), np.int16), mount) is not None
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
        # Grid points without an IMU sample lie only before its first and after its last
        # sample: look there, not over the whole session.
        n_grid = n_records * ispr
        head_end = min(n_grid, max(0, math.ceil(timeline.first_s * ifs) + 2))
        tail_start = max(head_end, min(n_grid, math.floor((timeline.last_s + 1.0 / ifs) * ifs) - 2))
        for j0, j1 in ((0, head_end), (tail_start, n_grid)):
            _, ok = _imu_on_grid(timeline, ifs, j0, j1)
            for a, b in _runs(~ok):
                what = "before the IMU's first sample" if j0 + a == 0 else "after the IMU's last sample"
                notes.append(EdfNote((j0 + a) / ifs, (b - a) / ifs, f"BAD_no_data IMU: {what}"))
    subject = str(meta.get("subject") or "X")
    writer = EdfPlusWriter(path, specs, start=start_datetime(rec, seg).replace(tzinfo=None), n_records=n_records,
                           record_s=EDF_RECORD_S, notes=sorted(notes, key=lambda x: x.onset_s),
                           patient_code=subject, equipment=info.name if info else "glutescope")
    read = segment_words(rec, seg, ("emg", "imu") if has_imu else ("emg",))
    words = read["emg"]
    feed = ImuFeed(rec, seg, read["imu"]) if has_imu else None
    with writer:
        for r0 in range(0, n_records, EDF_CHUNK_RECORDS):
            r1 = min(n_records, r0 + EDF_CHUNK_RECORDS)
            data = list(_emg_digital(rec, seg, words, r0 * spr, r1 * spr))
            if has_imu:
                k, ok = _imu_on_grid(timeline, ifs, r0 * ispr, r1 * ispr)
                raw, valid, pelvis = _imu_at(feed, imu.gaps, k)
                ok &= valid
                lsb = _body_lsb(raw, mount)
                if lsb is None:
                    acc, gyro = to_body_axes(*imu_to_si(raw, info), mount)
                    lsb = np.vstack([to_digital(v, specs[n_ch + i]) for i, v in enumerate((*acc, *gyro))])
                data += list(np.where(ok, lsb, 0).astype(np.int16))
                for i in range(2):
                    data.append(to_digital(np.where(ok, pelvis[i], np.nan), specs[n_ch + 6 + i]))
            writer.write_records(data)
            if progress is not None:
                progress.update(max(0, min(n_emg, r1 * spr) - r0 * spr))
    return Path(path)


