"""The live processor shows what the offline chain computes, block by block."""
import numpy as np
import pytest
from scipy import signal as sps

from glutescope.guide import Cue
from glutescope.live import LiveProcessor
from glutesignal.balance import BalanceTracker
from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import moving_rms
from glutesignal.symmetry import symmetry_over_reps

NAMES = ("glute_max_left", "glute_max_right")


@pytest.fixture(scope="module")
def bridges():
    return simulate("bridges", seed=5, duration_s=30.0)


def feed(processor, emg_uV, block):
    for start in range(0, emg_uV.shape[1], block):
        processor.push_emg(start, emg_uV[:, start:start + block])


@pytest.fixture(scope="module")
def bridges_whole(bridges):
    """The live processor fed the whole session in one block."""
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    live.push_emg(0, bridges.emg_uV)
    return live


@pytest.mark.parametrize("block", [37, 40])
def test_live_in_blocks_equals_live_whole_and_the_offline_chain(bridges, bridges_whole, block):
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    feed(live, bridges.emg_uV, block)
    whole = bridges_whole
    # The notches change at fixed stream samples, so the block size changes nothing.
    assert live.notch_hz == whole.notch_hz
    np.testing.assert_allclose(live.state.envelope.latest(20000), whole.state.envelope.latest(20000),
                               rtol=1e-9, atol=1e-9)
    stats = live.state.stats
    assert stats.contractions == whole.state.stats.contractions
    assert stats.si_pct == pytest.approx(whole.state.stats.si_pct, abs=1e-9)

    # The offline chain with the same notches gives the same reps after the first check.
    env = moving_rms(condition(bridges.emg_uV, bridges.emg_fs_hz, mains_hz=live.mains_hz,
                               harmonics=tuple(round(f / live.mains_hz) for f in live.notch_hz)),
                     bridges.emg_fs_hz, window_s=0.1)
    tracker = BalanceTracker(bridges.emg_fs_hz)
    tracker.process(env)
    offline = symmetry_over_reps([c.mean_uV[0] for c in tracker.contractions],
                                 [c.mean_uV[1] for c in tracker.contractions])
    assert stats.n_reps == offline.n_reps == 5
    assert stats.si_pct == pytest.approx(offline.si_pct, abs=0.5)
    assert stats.louder_side == "right"
    # The UI's rings hold the latest samples of the same envelope.
    np.testing.assert_allclose(live.state.envelope.latest(1000), env[:, -1000:], rtol=1e-5, atol=1e-3)


def test_a_gap_is_counted_shown_as_a_break_and_processing_resumes(bridges):
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    emg = bridges.emg_uV[:, :20000]
    live.push_emg(0, emg[:, :8000])
    live.push_emg(9000, emg[:, 9000:20000])  # 1000 samples never arrived
    live.push_emg(5000, emg[:, 5000:6000])  # a late block: ignored by the live view
    live.update_link(type("C", (), {"frames": 3, "corrupt_frames": 0, "lost_frames": 1})(), None, None)
    assert live.state.stats.missing_samples == 1000
    assert live.state.stats.samples == 20000
    shown = live.state.envelope.latest(11000 + 1000)
    assert np.isnan(shown[:, :1000]).all() and np.isfinite(shown[:, 1000:]).all()


def test_signal_quality_is_graded_once_there_is_enough_signal(bridges):
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    feed(live, bridges.emg_uV[:, : int(12 * bridges.emg_fs_hz)], 40)
    live.update_quality()
    grades = [q.grade for q in live.state.stats.quality]
    assert grades == ["good", "good"]
    assert live.state.stats.quality_warning(NAMES) == ""


def test_a_detached_electrode_is_flagged_beside_the_score(bridges):
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    emg = np.array(bridges.emg_uV[:, : int(12 * bridges.emg_fs_hz)])
    emg[0] = 0.0  # left electrode off: a flat line
    feed(live, emg, 40)
    live.update_quality()
    left, right = live.state.stats.quality
    assert left.grade == "poor" and right.grade == "good"
    assert live.state.stats.quality_warning(NAMES).startswith("check electrodes: glute max left")


def feed_with_imu(processor, session, block=40):
    ratio = session.emg_fs_hz / session.imu_fs_hz
    imu_next = 0
    for start in range(0, session.emg_uV.shape[1], block):
        imu_end = int((start + block) / ratio)
        if imu_end > imu_next:  # IMU blocks arrive interleaved with EMG blocks, as over the link
            processor.push_imu(imu_next, session.acc_g[:, imu_next:imu_end], session.gyro_dps[:, imu_next:imu_end])
            imu_next = imu_end
        processor.push_emg(start, session.emg_uV[:, start:start + block])


def _rep_cues(session):
    return tuple(Cue(r.start_s, r.end_s, r.kind, r.side) for r in session.reps)


@pytest.mark.parametrize("source", ["cues", "imu"])
def test_single_leg_bridges_compare_the_working_glute_of_each_leg(source):
    session = simulate("single_leg_bridges", seed=0)
    if source == "cues":
        live = LiveProcessor(NAMES, session.emg_fs_hz, 0.0, single_leg=True, rep_cues=_rep_cues(session))
        feed(live, session.emg_uV, 40)
    else:
        live = LiveProcessor(NAMES, session.emg_fs_hz, session.imu_fs_hz, single_leg=True)
        feed_with_imu(live, session)
    stats = live.state.stats
    assert stats.rep_sides == tuple(r.side for r in session.reps)
    assert stats.n_reps == 5  # five left-leg reps paired with five right-leg reps
    # Uncalibrated: the ratio is shown, but names no muscle when inside the band, and
    # the right side (the stronger, in truth) reads higher.
    assert stats.si_pct > 0 and not stats.si_normalised
    assert abs(stats.si_pct - session.true_symmetry_index_pct) <= 5.0


def test_a_very_weak_left_glute_is_not_relabelled_a_right_leg_rep():
    # Left glute at 10 % strength: in its own reps it reads below the extended right
    # leg's glute. Taking the working side from the EMG (the old working_side_pairs)
    # relabels those reps as right-leg reps and hides the weakness.
    session = simulate("single_leg_bridges", seed=0, left_scale=0.1)
    live = LiveProcessor(NAMES, session.emg_fs_hz, 0.0, single_leg=True, rep_cues=_rep_cues(session))
    feed(live, session.emg_uV, 40)
    stats = live.state.stats
    assert stats.rep_sides.count("left") == 5 and stats.n_reps == 5
    assert stats.si_pct > 100.0  # the right glute of right-leg reps far above the left of left-leg reps
    assert abs(stats.si_pct - session.true_symmetry_index_pct) <= 15.0
    # The old rule (working side = louder channel) would have lost left-leg reps.
    louder = ["left" if c.mean_uV[0] >= c.mean_uV[1] else "right" for c in stats.contractions]
    assert louder.count("left") < 5


def test_reps_after_a_link_gap_are_still_found_on_the_stream_clock(bridges):
    live = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    fs = int(bridges.emg_fs_hz)
    lost = (int(6.5 * fs), int(6.7 * fs))  # 0.2 s between rep 1 and rep 2 never arrives
    for start in range(0, bridges.emg_uV.shape[1], 40):
        if lost[0] <= start < lost[1]:
            continue
        live.push_emg(start, bridges.emg_uV[:, start:start + 40])
    stats = live.state.stats
    assert live.missing_samples == lost[1] - lost[0]
    assert stats.n_reps == len(bridges.reps) == 5
    assert abs(stats.contractions[1].start_s - bridges.reps[1].start_s) < 0.6



def test_samples_the_wearable_lost_are_a_gap_not_a_full_scale_spike(bridges):
    # The firmware sends samples its DMA overwrote as code 0 with the error bit (0x8000);
    # codes_to_uV gives NaN there. Inside a block they must act as a gap the link lost,
    # not as -2048 codes (a spike the envelope would count as a rep).
    from glutescope import units

    fs = int(bridges.emg_fs_hz)
    lost = (int(6.5 * fs), int(6.7 * fs))
    info = type("Info", (), {"vref_mV": 3300, "emg_gain": 1000.0})()
    codes = np.round(bridges.emg_uV / (3300 / 4096 * 1000 / 1000.0)).astype(np.int64) + 2048
    codes[:, lost[0]:lost[1]] = 0x8000
    flagged = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    feed(flagged, units.codes_to_uV(codes, info), 40)
    skipped = LiveProcessor(NAMES, bridges.emg_fs_hz, bridges.imu_fs_hz)
    for start in range(0, codes.shape[1], 40):
        block = units.codes_to_uV(codes[:, start:start + 40], info)
        keep = np.isfinite(block).all(axis=0)
        if keep.all():
            skipped.push_emg(start, block)
        elif keep.any():  # the block straddling an edge of the lost run: its valid part
            k = np.flatnonzero(keep)
            skipped.push_emg(start + k[0], block[:, k[0]:k[-1] + 1])
    assert flagged.missing_samples == lost[1] - lost[0] == skipped.missing_samples
    assert flagged.state.stats.n_reps == skipped.state.stats.n_reps == len(bridges.reps)
    np.testing.assert_allclose(flagged.state.envelope.latest(20000), skipped.state.envelope.latest(20000),
                               equal_nan=True)

@pytest.mark.parametrize("fs_hz", [500.0, 1000.0, 1500.0])
def test_every_supported_rate_runs_live(fs_hz):
    session = simulate("bridges", seed=5, duration_s=20.0, emg_fs_hz=fs_hz)
    live = LiveProcessor(NAMES, fs_hz, session.imu_fs_hz)
    feed(live, session.emg_uV, 40)
    assert live.state.stats.n_reps == 3 and live.state.stats.louder_side == "right"


def test_a_bridge_rep_must_move_the_pelvis_when_the_imu_is_worn():
    session = simulate("bridges", seed=5, duration_s=30.0)
    moving = LiveProcessor(NAMES, session.emg_fs_hz, session.imu_fs_hz, reps_move_pelvis=True)
    feed_with_imu(moving, session)
    assert moving.state.stats.n_reps == 5 and moving.state.stats.still_contractions == 0
    # The same EMG with a pelvis that never moves (a squeeze lying still): no bridge reps.
    still = LiveProcessor(NAMES, session.emg_fs_hz, session.imu_fs_hz, reps_move_pelvis=True)
    flat = simulate("rest", seed=5, duration_s=30.0)
    ratio = session.emg_fs_hz / session.imu_fs_hz
    j = 0
    for a in range(0, session.emg_uV.shape[1], 40):
        k = int((a + 40) / ratio)
        if k > j:
            still.push_imu(j, flat.acc_g[:, j:k], flat.gyro_dps[:, j:k])
            j = k
        still.push_emg(a, session.emg_uV[:, a:a + 40])
    assert still.state.stats.n_reps == 0 and still.state.stats.still_contractions == 5
    assert "5 contractions without a bridge movement" in still.state.stats.report(NAMES)
def _line_power(x, fs_hz, f0):
    f, p = sps.welch(x, fs=fs_hz, nperseg=int(2 * fs_hz), axis=-1)
    return p[:, np.abs(f - f0) <= 1.0].sum()


def test_a_recording_without_hum_is_not_notched_and_keeps_its_power():
    s = simulate("bridges", seed=3, duration_s=20.0, mains_hz=None)
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)
    feed(live, s.emg_uV, 40)
    assert live.notch_hz == () and live.mains_hz is None
    shown = live.state.emg.latest(s.emg_uV.shape[1])
    band_only = condition(s.emg_uV, s.emg_fs_hz, mains_hz=None)
    np.testing.assert_allclose(shown, band_only, rtol=1e-6, atol=1e-4)  # the ring holds float32
    # The fixed 50 Hz notch set this replaces would have taken a share of the EMG itself.
    fixed = condition(s.emg_uV, s.emg_fs_hz, mains_hz=50.0)
    assert np.mean(fixed ** 2) < 0.97 * np.mean(band_only ** 2)


@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_the_mains_frequency_is_found_when_not_given_and_its_hum_removed(mains_hz):
    s = simulate("bridges", seed=4, duration_s=20.0, mains_hz=mains_hz)
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)  # mains not given
    feed(live, s.emg_uV, 40)
    assert live.mains_hz == mains_hz and live.state.stats.mains_hz == mains_hz
    assert mains_hz in live.notch_hz and live.state.stats.notch_hz == live.notch_hz
    late = slice(int(4 * s.emg_fs_hz), None)  # after the first check
    shown = live.state.emg.latest(s.emg_uV.shape[1])[:, late]
    band_only = condition(s.emg_uV, s.emg_fs_hz, mains_hz=None)[:, late]
    assert _line_power(shown, s.emg_fs_hz, mains_hz) < 0.1 * _line_power(band_only, s.emg_fs_hz, mains_hz)


def test_quality_checks_the_signal_against_the_gain_the_device_states():
    from glutesignal.quality import AdcScale

    s = simulate("rest", seed=2, duration_s=12.0, mains_hz=None)
    # The front end's real gain is 1000 but INFO says 20000: every µV is 20 x too small.
    stated = AdcScale.from_device(vref_mV=3300, emg_gain=20000.0)
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz, adc=stated)
    feed(live, s.emg_uV / 20.0, 40)
    live.update_quality()
    assert [q.grade for q in live.state.stats.quality] == ["poor", "poor"]
    assert "implausibly quiet rest" in live.state.stats.quality_warning(NAMES)
    assert "states gain 20000" in live.state.stats.quality_warning(NAMES)
    # With the gain it really has, the same person at rest is fine.
    right = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz, adc=AdcScale.from_device(3300, 1000.0))
    feed(right, s.emg_uV, 40)
    right.update_quality()
    assert all(q.grade != "poor" for q in right.state.stats.quality)


def test_an_imu_gap_mid_rep_keeps_the_tilt_reference():
    s = simulate("bridges", seed=0, duration_s=40.0)
    rep = s.reps[2]
    t = s.t_imu_s()
    g0 = int(np.searchsorted(t, rep.start_s + 0.6 * (rep.end_s - rep.start_s)))
    g1 = g0 + 30  # ~0.3 s of IMU never arrived
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)
    for a in list(range(0, g0, 4)) + list(range(g1, g1 + 60, 4)):
        b = min(a + 4, g0) if a < g0 else a + 4
        live.push_imu(a, s.acc_g[:, a:b], s.gyro_dps[:, a:b])
    tilt = live.state.pelvis.latest(60)[0]
    assert s.tilt_deg[g1] < -15.0
    # After the gap tilt still reads the bridge (it was re-zeroed to it before).
    np.testing.assert_allclose(tilt, s.tilt_deg[g1:g1 + 60], atol=1.0)



def test_imu_samples_the_wearable_lost_are_a_hole_in_place():
    # Samples the sensor's full FIFO dropped arrive as -32768 on every axis (NaN after
    # imu_to_si) inside a block: the pelvis view must break there and resume on the
    # stream's own samples, as after a lost frame, never read -4 g as a posture.
    from glutescope import protocol, units

    s = simulate("bridges", seed=0, duration_s=40.0)
    info = type("Info", (), {"acc_g_per_lsb": 0.000122, "gyro_dps_per_lsb": 0.0175})()
    raw = np.vstack([np.rint(s.acc_g / 0.000122), np.rint(s.gyro_dps / 0.0175)]).clip(-32767, 32767)
    rep = s.reps[2]
    g0 = int(np.searchsorted(s.t_imu_s(), rep.start_s + 0.6 * (rep.end_s - rep.start_s)))
    raw[:, g0:g0 + 30] = protocol.IMU_LOST_SAMPLE
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)
    n = g0 + 90
    for a in range(0, n, 8):
        live.push_imu(a, *units.imu_to_si(raw[:, a:min(a + 8, n)].astype(np.int16), info))
    shown = live.state.pelvis.latest(90)
    assert np.isnan(shown[:, :30]).all() and np.isfinite(shown[:, 30:]).all()
    np.testing.assert_allclose(shown[0, 30:], s.tilt_deg[g0 + 30:n], atol=1.0)

def test_the_session_summary_says_which_mains_lines_were_notched():
    s = simulate("bridges", seed=4, duration_s=8.0, mains_hz=60.0)
    live = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)
    feed(live, s.emg_uV, 40)
    live.update_link(type("C", (), {"frames": 1, "corrupt_frames": 0, "lost_frames": 0})(), None, None)
    assert "glutescope: mains 60 Hz; notched at 60" in live.state.stats.report(NAMES)
    clean = LiveProcessor(NAMES, s.emg_fs_hz, s.imu_fs_hz)
    feed(clean, simulate("bridges", seed=4, duration_s=8.0, mains_hz=None).emg_uV, 40)
    clean.update_link(type("C", (), {"frames": 1, "corrupt_frames": 0, "lost_frames": 0})(), None, None)
    assert "no mains line found in the signal; not notched" in clean.state.stats.report(NAMES)
