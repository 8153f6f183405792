"""What the analysis keeps of a segment in bounded memory gives what the whole would:
each rep's hip drop, measured as the reps come from the obliquity of the last minutes,
is the definition over the whole session's live pelvis angles; the traces for drawing
get wider bins, not more of them."""
import numpy as np
import pytest

from body_recordings import write_body_recording
from glutescope import analysis
from glutescope.analysis import analyse_segment
from glutescope.chunked import load_summary
from glutescope.imu_timeline import ImuTimeline
from glutescope.recording import load
from glutesignal.scores import bridge_reps
from glutesignal.simulation import simulate
from live_pelvis import live_pelvis_deg


class _Span:
    def __init__(self, start_s, end_s):
        self.start_s, self.end_s = start_s, end_s


def _drop_over_the_session(rec, pelvis, rep, fs, ifs):
    """`bridge_reps`'s hip drop of one rep, on a grid of the IMU's nominal rate from a
    whole sample before it, each point the IMU sample in force (the IMU's own clock)."""
    n = pelvis.shape[1]
    j0 = max(int(round(rep.start_s * ifs)) - 1, 0)
    j1 = min(int(round((rep.start_s + rep.duration_s) * ifs)) + 2, n)
    every = ImuTimeline(rec, 0).all_times_s()
    k = np.searchsorted(every, np.arange(j0, max(j0, j1)) / ifs + 1e-9, side="right") - 1
    obl = np.where(k >= 0, pelvis[1, k.clip(0)], np.nan)
    t0 = j0 / ifs
    end = rep.start_s + rep.duration_s
    drop = bridge_reps(np.zeros((2, int(round((end - t0) * fs)) + 2)), fs, [_Span(rep.start_s - t0, end - t0)],
                       obliquity_deg=obl, imu_fs_hz=ifs)[0].hip_drop_deg
    return drop if drop is not None and np.isfinite(drop) else None


@pytest.fixture(scope="module")
def single_leg(tmp_path_factory):
    body = simulate("single_leg_bridges", seed=4, emg_fs_hz=1000.0)
    return write_body_recording(tmp_path_factory.mktemp("hd") / "s.glutes", body, subject="S03",
                                start_time="2026-01-05T10:00:00+00:00", exercise="single_leg_bridges")


def test_each_reps_hip_drop_is_the_whole_sessions(single_leg):
    full = load(single_leg)
    pelvis = live_pelvis_deg(full)
    fs, ifs = float(full.device_info.emg_fs_hz), float(full.device_info.imu_fs_hz)
    for rec in (full, load_summary(single_leg)):
        reps = analyse_segment(rec, 0).reps
        assert len(reps) >= 8
        drops = [r.hip_drop_deg for r in reps]
        assert sum(abs(d) > 0.5 for d in drops if d is not None) >= 4, "single-leg bridges drop the hip"
        assert drops == [_drop_over_the_session(full, pelvis, r, fs, ifs) for r in reps]


def test_the_obliquity_held_is_what_limits_the_hip_drop(single_leg, monkeypatch):
    reps = analyse_segment(load(single_leg), 0).reps
    monkeypatch.setattr(analysis, "HIP_DROP_HOLD_S", 30.0)  # a rep and its report's delay fit
    assert [r.hip_drop_deg for r in analyse_segment(load(single_leg), 0).reps] == [r.hip_drop_deg for r in reps]
    monkeypatch.setattr(analysis, "HIP_DROP_HOLD_S", 0.5)  # shorter than every rep
    assert all(r.hip_drop_deg is None for r in analyse_segment(load(single_leg), 0).reps)


def test_a_long_segments_traces_have_wider_bins_not_more(single_leg, monkeypatch):
    """However long the segment, the drawn traces hold at most MAX_TRACE_BINS bins: the
    envelope's maxima and the pelvis means of whole multiples of the fine bins."""
    fine = analyse_segment(load(single_leg), 0)
    monkeypatch.setattr(analysis, "MAX_TRACE_BINS", 100)
    coarse = analyse_segment(load(single_leg), 0)
    assert fine.envelope_max_uV.shape[1] > 100 and coarse.envelope_max_uV.shape[1] <= 100
    m = round(coarse.envelope_max_bin_s / fine.envelope_max_bin_s)
    assert m >= 2 and coarse.envelope_max_bin_s == pytest.approx(m * analysis.ENVELOPE_BIN_S)
    n = coarse.envelope_max_uV.shape[1]
    padded = np.full((fine.envelope_max_uV.shape[0], n * m), np.nan, np.float32)
    padded[:, :fine.envelope_max_uV.shape[1]] = fine.envelope_max_uV
    np.testing.assert_array_equal(coarse.envelope_max_uV, np.nanmax(padded.reshape(-1, n, m), axis=2))
    assert coarse.pelvis_mean_deg.shape[1] <= 100
    mp = round(coarse.pelvis_mean_bin_s / fine.pelvis_mean_bin_s)
    full_bins = fine.pelvis_mean_deg[:, :coarse.pelvis_mean_deg.shape[1] * mp - mp]  # the last may be short
    means = full_bins.reshape(2, -1, mp).mean(axis=2)
    np.testing.assert_allclose(coarse.pelvis_mean_deg[:, :means.shape[1]], means, atol=1e-4)
    assert coarse.reps == fine.reps  # only the drawing is coarser
