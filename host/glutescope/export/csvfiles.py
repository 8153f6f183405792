"""The CSV export: one file per stream, plus gaps, reps, squeeze scores and annotations."""
from __future__ import annotations

import contextlib
import csv
import math
from pathlib import Path
from typing import Optional

import numpy as np

from glutescope.analysis import SegmentAnalysis, segment_words
from glutescope.export.common import (_ADC_ERROR_BIT, CSV_IMU_COLUMNS, Progress, _missing_runs,
                                     _valid_in, imu_frame, session_annotations, start_datetime)
from glutescope.imu_feed import ImuFeed
from glutescope.imu_timeline import ImuTimeline
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.recording import Recording
from glutescope.units import codes_to_uV, imu_to_si

CSV_CHUNK_SAMPLES = 20_000
"""EMG rows formatted at a time (10 s at 2 kHz)."""


def _padded(texts: list[str]) -> np.ndarray:
    """ASCII ``texts`` as rows of a uint8 matrix, right-padded with 0 (no character is 0)."""
    width = max(len(t) for t in texts)
    return np.frombuffer(b"".join(t.encode("ascii").ljust(width, b"\0") for t in texts),
                         np.uint8).reshape(len(texts), width)


def _time_text(a: int, b: int, fs: float) -> np.ndarray:
    """``repr(j / fs)`` for j in [a, b) as rows of a 0-padded uint8 matrix.

    When ``fs`` divides 10**6 (500, 1000, 2000 Hz) every time is a decimal of at most
    6 places, and ``repr`` of the float nearest it is that decimal: the whole seconds,
    then the fraction of sample ``j % fs`` within its second, as ``repr`` writes
    ``(j % fs) / fs`` (".0005"; ".0" for none); both are looked up. For other rates
    (1500 Hz) each time is formatted by Python. Either way ``float(text) == j / fs``.
    """
    if b <= a or fs != int(fs) or 10**6 % int(fs) or b / fs >= 1e9:
        return _padded([repr(j / fs) for j in range(a, b)] or [""])
    f = int(fs)
    fraction = _padded_cached(f)
    j = np.arange(a, b, dtype=np.int64)
    first = a // f
    seconds = _padded([str(k) for k in range(first, (b - 1) // f + 1)])
    return np.hstack([seconds[j // f - first], fraction[j % f]])


_FRACTIONS: dict[int, np.ndarray] = {}


def _padded_cached(f: int) -> np.ndarray:
    """".0", then ``repr(r / f)`` without its leading "0" for r in 1 .. f - 1 (padded)."""
    if f not in _FRACTIONS:
        _FRACTIONS[f] = _padded([".0"] + [repr(r / f)[1:] for r in range(1, f)])
    return _FRACTIONS[f]


def _rows_bytes(columns: list[np.ndarray]) -> bytes:
    """CSV rows of 0-padded uint8 text columns (each (n_rows, width)): comma-separated,
    CRLF-terminated, the padding dropped. One gather and one mask over the chunk, not
    a Python join per row (7.2 million rows an hour of 2 kHz EMG)."""
    n = columns[0].shape[0]
    sep = np.full((n, 1), ord(","), np.uint8)
    end = np.tile(np.frombuffer(b"\r\n", np.uint8), (n, 1))
    parts = []
    for k, c in enumerate(columns):
        if k:
            parts.append(sep)
        parts.append(c)
    parts.append(end)
    table = np.hstack(parts)
    return table[table != 0].tobytes()




class _ImuRows:
    """imu.csv's rows, written in time order up to a time as the EMG's are."""

    def __init__(self, rec: Recording, seg: int, feed: ImuFeed, writer) -> None:
        self._timeline, self._imu, self._feed, self._w = ImuTimeline(rec, seg), rec.imu[seg], feed, writer
        self._info, self._mount = rec.device_info, recorded_mount(rec.meta)
        self._next = 0
        writer.writerow(["t_s", *CSV_IMU_COLUMNS, "tilt_deg", "obliquity_deg"])

    def write_until(self, t_s: float) -> None:
        """Every sample not yet written taken at or before ``t_s`` (all of them for inf)."""
        n = self._imu.n_samples
        end = n if math.isinf(t_s) else int(np.clip(self._timeline.held(t_s) + 1, self._next, n))
        for a in range(self._next, end, CSV_CHUNK_SAMPLES // 10):
            b = min(end, a + CSV_CHUNK_SAMPLES // 10)
            words, angles = self._feed.read(a, b)
            acc_g, gyro_dps = to_body_axes(*imu_to_si(words, self._info), self._mount)
            rows = np.vstack([acc_g, gyro_dps])
            rows[:, ~_valid_in(self._imu.gaps, a, b)] = np.nan
            self._w.writerows(zip(self._timeline.times_s(np.arange(a, b)).tolist(), *rows.tolist(),
                                  *angles[:2].tolist()))
        self._next = end


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

    names = [f"{n}_uV" for n in analysis.channel_names]
    emg = rec.emg[seg]
    # Every sample is one of 4096 ADC codes: their µV, as Python writes them (shortest
    # round trip), are looked up, not formatted again for each of millions of samples.
    text = _padded([repr(float(v)) for v in codes_to_uV(np.arange(4096), rec.device_info)] + ["nan"])
    # Both files in one pass over the recording: the IMU's rows are written as far as
    # the EMG's have got, so neither stream waits long in memory for the other.
    read = segment_words(rec, seg, ("emg", "imu") if has_imu else ("emg",))
    with contextlib.ExitStack() as files:
        fh = files.enter_context(open(directory / "emg.csv", "w", newline="", encoding="utf-8"))
        written.append(directory / "emg.csv")
        fh.write(head + f"# EMG at {fs:g} Hz, raw (unfiltered) at the electrodes, uV; t_s = sample / {fs:g}\n"
                 "# nan: sample missing from the recording or flagged by the ADC (see gaps.csv)\n")
        fh.write(",".join(["t_s", *names]) + "\r\n")
        imu_rows = None
        if has_imu:
            ih = files.enter_context(open(directory / "imu.csv", "w", newline="", encoding="utf-8"))
            written.append(directory / "imu.csv")
            ih.write(head + f"# IMU at {ifs:g} Hz nominal; t_s of each sample on the EMG's clock, from the "
                     "wearable's timestamps (the sensor's own rate, which differs from the nominal one)\n"
                     f"# acc in g and gyro in deg/s in {imu_frame(rec.meta)}; "
                     "tilt (anterior +) and obliquity (left hip higher +) in degrees, as shown live\n"
                     "# nan: sample missing from the recording (see gaps.csv)\n")
            imu_rows = _ImuRows(rec, seg, ImuFeed(rec, seg, read["imu"]), csv.writer(ih))
        n = emg.n_samples
        for a in range(0, n, CSV_CHUNK_SAMPLES):
            b = min(n, a + CSV_CHUNK_SAMPLES)
            words = read["emg"](a, b)
            idx = (words & 0x0FFF).astype(np.intp)
            idx[((words & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, b)[None, :]] = 4096
            fh.flush()
            fh.buffer.write(_rows_bytes([_time_text(a, b, fs), *(text[i] for i in idx)]))
            if imu_rows is not None:
                imu_rows.write_until(b / fs)
            if progress is not None:
                progress.update(b - a)
        if imu_rows is not None:
            imu_rows.write_until(math.inf)

    path = directory / "gaps.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(head + "# runs of samples not in the recording (gap) or flagged by the ADC (adc_error); "
                 "first_sample and n_samples in the stream's own samples, start_s on the EMG's clock\n")
        w = csv.writer(fh)
        w.writerow(["stream", "kind", "first_sample", "n_samples", "start_s", "duration_s"])
        rows = [("emg", "gap", a, b - a, a / fs, (b - a) / fs) for a, b in _missing_runs(emg.n_samples, emg.gaps)]
        rows += [("emg", "adc_error", a, b - a, a / fs, (b - a) / fs) for a, b in analysis.adc_flagged]
        if has_imu:
            imu, timeline = rec.imu[analysis.segment], ImuTimeline(rec, analysis.segment)
            rows += [("imu", "gap", a, b - a, float(timeline.times_s(a)), (b - a) / ifs)
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


