"""What the three exports share: the session's annotations, its start, labels, the
IMU's axes, and reading the recording a chunk at a time (see `glutescope.export`).

The exports read the EMG and the IMU forward through
`glutescope.analysis.segment_words`: from memory for a recording
`glutescope.recording.load` assembled, else (a `glutescope.chunked.load_summary`
recording, as ``glutescope export`` opens it) from the log again in chunks of
seconds, so an export's memory does not grow with the recording's length. What needs the whole segment (reps, cues, the ADC-flagged runs)
comes from its analysis."""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from glutescope.analysis import SegmentAnalysis, imu_times_s
from glutescope.imu_feed import ImuFeed
from glutescope.imu_timeline import ImuTimeline
from glutescope.guide import describe_score
from glutescope.mounting import recorded_mount, rotation
from glutescope.recording import Recording
from glutescope.units import codes_to_uV


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
    return ImuTimeline(rec, segment).first_s


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
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_gap EMG: {b - a} samples missing", "BAD_gap EMG"))
    for a, b in analysis.adc_flagged:
        out.append(Annotation(a / fs, (b - a) / fs, f"BAD_adc_error EMG: {b - a} samples flagged by the ADC",
                              "BAD_adc_error EMG"))
    if ifs and seg < len(rec.imu):
        imu, timeline = rec.imu[seg], ImuTimeline(rec, seg)
        for a, b in _missing_runs(imu.n_samples, imu.gaps):
            out.append(Annotation(float(timeline.times_s(a)), (b - a) / ifs, f"BAD_gap IMU: {b - a} samples missing",
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



def _valid_in(gaps, a: int, b: int) -> np.ndarray:
    """Which samples of [a, b) of a stream are not in one of its ``gaps``."""
    ok = np.ones(b - a, bool)
    for g in gaps:
        lo, hi = max(a, g.first_sample), min(b, g.first_sample + g.n_samples)
        if lo < hi:
            ok[lo - a:hi - a] = False
    return ok


def _imu_on_grid(timeline: ImuTimeline, fs_hz: float, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the IMU sample in force at each point ``j / fs_hz`` (j in [j0, j1)) of a
    grid from the first EMG sample, and whether there is one (not before the first
    sample, not more than one nominal period after the last)."""
    t = np.arange(j0, j1) / fs_hz
    k = timeline.held(t)
    ok = k >= 0
    if timeline.n_samples:
        ok &= t < timeline.last_s + 1.0 / fs_hz
    return k.clip(0, max(0, timeline.n_samples - 1)), ok


def _emg_uV(rec: Recording, segment: int, words, a: int, b: int) -> np.ndarray:
    """EMG samples [a, b) in µV, NaN where missing, flagged by the ADC or past the end;
    ``words`` reads the segment's words forward (`glutescope.analysis.emg_words`)."""
    emg = rec.emg[segment]
    out = np.full((emg.samples.shape[0], b - a), np.nan)
    e = min(b, emg.n_samples)
    if e > a:
        w = words(a, e)
        uV = codes_to_uV(w, rec.device_info)
        uV[((w & _ADC_ERROR_BIT) != 0) | ~_valid_in(emg.gaps, a, e)[None, :]] = np.nan
        out[:, :e - a] = uV
    return out


def _imu_at(feed: ImuFeed, gaps, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of IMU samples ``k`` (non-decreasing from call to call, as an export walks its
    grid): the words (6, len(k)), whether each is in the recording, and the pelvis
    tilt and obliquity (2, len(k)), degrees, tracked again as the live view did
    (`glutescope.imu_feed`)."""
    if not k.size:
        return np.zeros((6, 0), np.int16), np.zeros(0, bool), np.zeros((2, 0), np.float32)
    lo, hi = int(k.min()), int(k.max()) + 1
    words, angles = feed.read(lo, hi)
    return words[:, k - lo], _valid_in(gaps, lo, hi)[k - lo], angles[:2, k - lo]
