"""The C3D export: analog channels and events (`glutescope.export.c3dfile`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from glutescope.analysis import SegmentAnalysis, segment_words
from glutescope.export.common import (C3D_POINT_RATE_HZ, C3D_TEXT_CHARS, Progress, _emg_uV, _imu_at,
                                     edf_label, imu_frame, imu_labels, session_annotations)
from glutescope.imu_feed import ImuFeed
from glutescope.imu_timeline import ImuTimeline
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.recording import Recording
from glutescope.units import imu_to_si


C3D_MAX_ENTRIES = 255
"""Entries of one C3D array parameter (its dimensions are bytes)."""
C3D_CHUNK_SAMPLES = 20_000
"""EMG samples per chunk of frames written (10 s at 2 kHz)."""


def export_c3d(rec: Recording, analysis: SegmentAnalysis, path: Path,
               progress: Optional[Progress] = None, on_note: Optional[Callable[[str], None]] = None) -> Path:
    """Write the segment as a C3D file (`glutescope.export.c3dfile`): analog channels, events.

    Analog channels, float32 at the EMG rate (C3D has one analog rate): each EMG channel
    in µV, then (with an IMU) acceleration in g and angular rate in deg/s in body axes
    (`imu_frame`), and pelvis tilt and obliquity in degrees, each IMU sample held until
    the next (the description says so; the IMU at its own rate is in the EDF+ and CSV
    exports). No 3D points; frames at `C3D_POINT_RATE_HZ`, or slower for a session too
    long for C3D's 65535 frames (`glutescope.export.c3dfile.frame_rate_for`), the first at
    t = 0 (the first EMG sample). Missing or ADC-flagged samples are NaN. Events: the
    onset of each annotation of `session_annotations` (gaps, cues, scores, reps, device
    events, markers), with a short ``EVENT:LABELS`` entry, the whole text in
    ``EVENT:DESCRIPTIONS``, the side in ``EVENT:CONTEXTS`` and ``EVENT:TIMES`` as (whole
    minutes, seconds); durations are in the EDF+ and CSV exports. Written 10 s at a
    time.

    All parameters must fit in C3D's 255 blocks of 512 bytes (~130 kB, about 4,000
    events with their labels; a day of reps is more). When the events do not fit, their
    descriptions are left out first; when they still do not fit, the gaps, device events,
    markers, cues and scores are kept, then the reps in time order as far as they go,
    and ``on_note`` is told in one line.

    Parameters
    ----------
    rec : Recording
    analysis : SegmentAnalysis
    path : pathlib.Path
        The ``.c3d`` file to write (replaced if it exists).
    progress : tqdm-like, optional
        ``update(n)`` with EMG samples written.
    on_note : callable, optional
        Called with one line when events had to be left out or shortened to fit.

    Returns
    -------
    pathlib.Path
    """
    from glutescope.export.c3dfile import MAX_PARAMETER_BLOCKS, C3dAnalogFile, C3dParam, frame_rate_for

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
    meta = rec.meta or {}
    subjects = ("SUBJECTS", "Subject", [C3dParam("NAMES", [str(meta.get("subject") or " ")], "Subject pseudonym")])

    def c3d_file(events: list, with_text: bool) -> C3dAnalogFile:
        groups = [("EVENT", "Events", _event_params(events, with_text))] if events else []
        return C3dAnalogFile(path, analog_rate_hz=fs, frame_rate_hz=rate, n_frames=n_frames, labels=labels,
                             units=units, descriptions=descriptions, groups=[*groups, subjects])

    events = session_annotations(rec, analysis)
    writer, kept, with_text = _fit_events(events, c3d_file)
    if on_note is not None and (len(kept) < len(events) or not with_text):
        on_note(f"{Path(path).name}: C3D parameters are limited to {MAX_PARAMETER_BLOCKS * 512 // 1024} kB, so it "
                f"holds {len(kept)} of the session's {len(events)} events"
                + ("" if with_text else " without their descriptions")
                + (f" ({_what_was_kept(kept, events)})" if len(kept) < len(events) else "")
                + "; the EDF+ and CSV exports hold them all")
    if has_imu:
        timeline = ImuTimeline(rec, seg)
        imu = rec.imu[seg]
        mount = recorded_mount(meta)
        info = rec.device_info
    chunk = max(per_frame, C3D_CHUNK_SAMPLES // per_frame * per_frame)
    read = segment_words(rec, seg, ("emg", "imu") if has_imu else ("emg",))
    words = read["emg"]
    feed = ImuFeed(rec, seg, read["imu"]) if has_imu else None
    with writer:
        for a in range(0, n_frames * per_frame, chunk):
            b = min(n_frames * per_frame, a + chunk)
            rows = [_emg_uV(rec, seg, words, a, b)]
            if has_imu:
                k = timeline.held(np.arange(a, b) / fs)
                ok = (k >= 0) & (k < imu.n_samples)
                kk = k.clip(0, imu.n_samples - 1)
                raw, valid, pelvis = _imu_at(feed, imu.gaps, kk)
                acc_g, gyro_dps = to_body_axes(*imu_to_si(raw, info), mount)
                held = np.vstack([acc_g, gyro_dps, pelvis])
                held[:, ~(ok & valid)] = np.nan
                rows.append(held)
            writer.write_frames(np.vstack(rows))
            if progress is not None:
                progress.update(max(0, min(b, n) - a))
    return Path(path)


def _event_params(events: list, with_text: bool) -> list:
    """The EVENT group's parameters for ``events`` (with or without DESCRIPTIONS).

    A string array's count is one byte, and one parameter at most 32767 bytes: past 255
    events (fewer when descriptions are long), LABELS2, DESCRIPTIONS2, ... continue the
    list, as POINT:LABELS2 does for points (c3d.org, "Additional POINT parameters");
    EVENT:USED counts them all.
    """
    from glutescope.export.c3dfile import MAX_PARAMETER_BYTES, C3dParam

    texts = [_c3d_text(a.text) for a in events] if with_text else []
    per = C3D_MAX_ENTRIES
    if texts:
        # 255 descriptions of 255 bytes would pass one parameter's 32767 bytes: fewer per part.
        width = max(len(t.encode("utf-8")) for t in texts)
        per = min(per, (MAX_PARAMETER_BYTES - 300) // max(1, width))
    params = [C3dParam("USED", len(events), "Number of events")]
    for i in range(0, len(events), per):
        part = events[i:i + per]
        k = "" if i == 0 else str(i // per + 1)
        times = np.array([_c3d_time(a.onset_s) for a in part], dtype=np.float32)
        params.append(C3dParam(f"LABELS{k}", [a.short for a in part], "Event labels"))
        if with_text:
            params.append(C3dParam(f"DESCRIPTIONS{k}", texts[i:i + per], "Event descriptions"))
        params += [C3dParam(f"CONTEXTS{k}", [a.side.capitalize() or "General" for a in part], "Event contexts"),
                   C3dParam(f"TIMES{k}", times.ravel(), "Event times (minutes, seconds)", dims=(2, len(part)))]
    return params


def _fit_events(events: list, c3d_file: Callable) -> tuple:
    """The writer holding as many of ``events`` as C3D's parameter section allows, the
    events kept (in time order) and whether their descriptions are in.

    Whole with descriptions; else whole without; else a prefix of the events in the
    order of `_keep_first` (the most kept that fit, found by bisection: the section only
    grows with more events).
    """
    from glutescope.export.c3dfile import MAX_PARAMETER_BLOCKS

    for with_text in (True, False):
        writer = c3d_file(events, with_text)
        if writer.parameter_blocks() <= MAX_PARAMETER_BLOCKS:
            return writer, events, with_text
    ranked = sorted(events, key=_keep_first)
    lo, hi = 0, len(ranked)  # lo events fit, hi do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fits = c3d_file(sorted(ranked[:mid], key=lambda a: a.onset_s), False).parameter_blocks() <= MAX_PARAMETER_BLOCKS
        lo, hi = (mid, hi) if fits else (lo, mid)
    kept = sorted(ranked[:lo], key=lambda a: a.onset_s)
    return c3d_file(kept, False), kept, False


def _what_was_kept(kept: list, events: list) -> str:
    """Where a cut list of events stops, in words: the last one kept in `_keep_first` order."""
    if not kept:
        return "none"
    last = max(kept, key=_keep_first)
    if _keep_first(last)[0]:
        return f"all but reps, and the reps up to minute {last.onset_s / 60:.0f}"
    return f"gaps, device events, markers and cues up to minute {last.onset_s / 60:.0f}, no reps"


def _keep_first(a) -> tuple:
    """Sort key: what says where the data are incomplete or what was asked (gaps, ADC
    flags, device events, markers, cues and scores) before the reps, each in time order."""
    return (a.short.startswith("rep "), a.onset_s)


def _c3d_time(t_s: float) -> tuple[float, float]:
    """An EVENT:TIMES pair: whole minutes, and the seconds after them. Both are float32;
    keeping the minutes apart keeps the seconds to about 4 µs (float32 of an hour in
    seconds would step 0.24 ms, half an EMG sample at 2 kHz)."""
    minutes = math.floor(t_s / 60.0)
    return float(minutes), t_s - 60.0 * minutes


def _c3d_text(text: str) -> str:
    """``text`` as a C3D string can hold it (`C3D_TEXT_CHARS`; an ellipsis when cut)."""
    return text if len(text) <= C3D_TEXT_CHARS else text[:C3D_TEXT_CHARS - 3] + "..."
