"""Measurements a protocol takes from the live rings, each by a `glutesignal` function.

Every number here is computed by the signal core (`glutesignal.scores.bridge_reps`,
`glutesignal.stance.hold_pelvis`, `glutesignal.onsets.detect_bursts`) from the same
rings the live view draws, at a fixed point of the stream clock, so a recording
analysed again (`glutescope.analysis`) yields the same figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from glutesignal.onsets import detect_bursts
from glutesignal.scores import bridge_reps
from glutesignal.sitting import SIT_TILT_DEG  # noqa: F401  (the desk's threshold, importable here as before)
from glutesignal.stance import hold_pelvis

ONSET_BASELINE_S = 1.5
"""EMG before a rep searched with it for the onsets (the detector's 1 s baseline and margin), s."""
SYNERGISTS = ("hamstring", "lumbar_erector")


@dataclass(frozen=True)
class _Interval:
    start_s: float
    end_s: float


def _window(ring, rate_hz: float, start_s: float, end_s: float) -> Optional[np.ndarray]:
    """The ring's samples over [start_s, end_s) on the stream clock; None if not all held or a gap."""
    a, b = int(round(start_s * rate_hz)), int(round(end_s * rate_hz))
    if a < 0 or b <= a:
        return None
    first, data = ring.since(a)
    if first > a or data.shape[1] < b - a:
        return None
    seg = np.asarray(data[:, :b - a], dtype=float)
    return seg if np.all(np.isfinite(seg)) else None


def synergist_row(names) -> Optional[int]:
    """Row of the first hamstring or lumbar-erector channel, if one is worn."""
    for i, name in enumerate(names):
        if name.rsplit("_", 1)[0] in SYNERGISTS:
            return i
    return None


def rep_figures(proc, contraction, side: str) -> dict:
    """Time under tension and, with the IMU, hip drop and wobble of one rep.

    ``side``: "both", or the working leg of a single-leg rep. Hip drop for a single-leg
    rep is towards the unsupported side (`glutesignal.stance.hold_pelvis`); for a
    two-legged rep it is `glutesignal.scores.bridge_reps`' largest obliquity change.
    """
    state = proc.state
    fs = state.emg_fs_hz
    out: dict = {"start_s": round(contraction.start_s, 4), "side": side}
    env = _window(state.envelope, fs, contraction.start_s, contraction.end_s)
    pel = None
    if state.pelvis is not None and state.imu_fs_hz > 0:
        pel = _window(state.pelvis, state.imu_fs_hz, contraction.start_s, contraction.end_s)
    if env is not None and proc.sides is not None:
        rep = bridge_reps(env, fs, [_Interval(0.0, env.shape[1] / fs)], channel_left=proc.sides[0],
                          channel_right=proc.sides[1])[0]
        out["time_under_tension_s"] = round(rep.time_under_tension_s, 3)
    if pel is not None and pel.shape[1] >= 4:
        if side in ("left", "right"):
            # The hold of the rep: where the working glute is above half its peak (the lift
            # and the lowering left out), against the obliquity at the rep's start.
            a, b = 0, pel.shape[1]
            if env is not None and proc.sides is not None:
                row = env[proc.sides[0] if side == "left" else proc.sides[1]]
                above = np.flatnonzero(row > 0.5 * row.max())
                if above.size:
                    ifs = state.imu_fs_hz
                    a = int(round(above[0] / fs * ifs))
                    b = max(a + 4, int(round(above[-1] / fs * ifs)))
            if b <= pel.shape[1]:
                hold = hold_pelvis(pel[1, a:b], pel[0, a:b], side, reference_deg=float(pel[1, 0]))
                out["hip_drop_deg"] = round(hold.hip_drop_deg, 2)
                out["wobble_deg"] = round(hold.wobble_deg, 2)
        elif env is not None:
            rep = bridge_reps(env, fs, [_Interval(0.0, env.shape[1] / fs)], channel_left=proc.sides[0],
                              channel_right=proc.sides[1], obliquity_deg=pel[1], imu_fs_hz=state.imu_fs_hz)[0]
            out["hip_drop_deg"] = round(rep.hip_drop_deg, 2)
    return out


def hold_figures(proc, start_s: float, end_s: float, side: str) -> dict:
    """Hip drop, wobble and each glute's mean envelope over a held step (single-leg stance)."""
    state = proc.state
    out: dict = {"start_s": round(start_s, 4), "side": side}
    env = _window(state.envelope, state.emg_fs_hz, start_s, end_s)
    if env is not None:
        out["mean_uV"] = [round(float(v), 3) for v in env.mean(axis=1)]
    if state.pelvis is not None and state.imu_fs_hz > 0 and side in ("left", "right"):
        pel = _window(state.pelvis, state.imu_fs_hz, start_s, end_s)
        if pel is not None and pel.shape[1] >= 4:
            hold = hold_pelvis(pel[1], pel[0], side)
            out["hip_drop_deg"] = round(hold.hip_drop_deg, 2)
            out["wobble_deg"] = round(hold.wobble_deg, 2)
    return out


def recruitment_figures(proc, contraction, side: str) -> dict:
    """Glute-to-synergist amplitude ratio and firing order over one single-leg rep.

    The ratio is of the working glute's mean envelope to the synergist's (µV/µV: two
    different muscles under two electrodes, so a rough sign of who does the work, not a
    normalised share). The firing order ``synergist_lead_ms`` is the glute's onset minus
    the synergist's, ms (positive: the synergist fires first), from `glutesignal.onsets.detect_bursts` on the
    conditioned EMG from `ONSET_BASELINE_S` before the rep.
    """
    state = proc.state
    fs = state.emg_fs_hz
    out: dict = {"start_s": round(contraction.start_s, 4), "side": side}
    syn = synergist_row(state.channel_names)
    if syn is None or proc.sides is None or side not in ("left", "right"):
        return out
    glute = proc.sides[0] if side == "left" else proc.sides[1]
    env = _window(state.envelope, fs, contraction.start_s, contraction.end_s)
    if env is not None and env[syn].mean() > 0:
        out["ratio"] = round(float(env[glute].mean() / env[syn].mean()), 3)
    emg = _window(state.emg, fs, contraction.start_s - ONSET_BASELINE_S, contraction.end_s)
    if emg is not None:
        t0 = contraction.start_s - ONSET_BASELINE_S
        onsets = {}
        for row, burst in zip((glute, syn), (detect_bursts(emg[[glute]], fs), detect_bursts(emg[[syn]], fs))):
            found = [b.on_s for b in burst if b.on_s >= 1.0]  # after the detector's baseline
            if found:
                onsets[row] = t0 + found[0]
        if glute in onsets and syn in onsets:
            out["glute_onset_s"] = round(onsets[glute], 4)
            out["synergist_lead_ms"] = round(1000.0 * (onsets[glute] - onsets[syn]), 1)
    return out
