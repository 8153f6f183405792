"""The analysis feeds the live processor long blocks (`analysis.FAST_BLOCK_S`) for speed;
its results must be those of feeding the live blocks one by one, as the live view did.

A body-model session run through a guided protocol, written as a wearable's frames with
lost blocks (some resent later as BACKFILL, some never), an IMU dropout and a run of
ADC-flagged samples, is analysed both ways and every result is compared exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

import wirepack_v1 as pack
from body_recordings import ACC_G_PER_LSB, EMG_GAIN, GYRO_DPS_PER_LSB, T0_NS, VREF_MV, uV_to_codes
from glutescope import protocol as wire
from glutescope.analysis import analyse_segment, exercise_plan
from glutescope.protocols import get
from glutescope.protocols.runner import runner_for
from glutescope.recording import RecordingWriter, RecordSource, load
from glutesignal.simulation import simulate

BLOCK = 20  # 10 ms at 2 kHz, as the firmware sends
IMU_BLOCK = 4


def _write(path, name: str, seed: int):
    """The protocol's body-model session as a wearable's frames, with losses and backfill."""
    proto = get(name)
    body = simulate(proto.body_exercise, seed=seed)
    runner = runner_for(proto, body)
    fs, ifs = int(body.emg_fs_hz), int(body.imu_fs_hz)
    codes = uV_to_codes(np.asarray(body.emg_uV))
    flagged = slice(int(7.3 * fs), int(7.3 * fs) + 7)  # the ADC flagged a few conversions
    codes[:, flagged] |= 0x8000
    imu = np.vstack([np.asarray(body.acc_g) / ACC_G_PER_LSB, np.asarray(body.gyro_dps) / GYRO_DPS_PER_LSB])
    imu = np.clip(np.rint(imu), -32768, 32767).astype(np.int16)
    # 5 s of the opening rest again after the script, so the stream runs past the
    # protocol's settling time and its results are made.
    codes = np.hstack([codes, codes[:, : 5 * fs]])
    imu = np.hstack([imu, imu[:, : 5 * ifs]])
    n_blocks = codes.shape[1] // BLOCK
    rng = np.random.default_rng(seed)
    # Blocks lost on the link and resent 0.6 s later (BACKFILL); a block and a 0.3 s
    # dropout that never come back (inside the squeeze test's last squeeze).
    resent = {int(b): int(b) + 60 for b in rng.choice(np.arange(300, n_blocks - 100), size=10, replace=False)}
    lost = set(resent) | {270} | set(range(2400, 2430))
    lost_imu = set(range(300, 312))
    seq = iter(range(1, 1 << 30))
    info = pack.info(channel_mask=3, emg_fs_hz=fs, imu_fs_hz=ifs, vref_mV=VREF_MV, emg_gain=EMG_GAIN,
                     acc_g_per_lsb=ACC_G_PER_LSB, gyro_dps_per_lsb=GYRO_DPS_PER_LSB, seq=0)

    def emg(i, backfill=False):
        a = i * BLOCK
        return pack.emg(codes[:, a:a + BLOCK], first_sample=a, backfill=backfill, seq=next(seq),
                        t_device_us=(a * 500) % (1 << 30))

    with RecordingWriter(path, subject="S01") as w:
        def put(frame, t_ns):
            w.append(frame, t_ns, source=RecordSource.BLE_NOTIFY)

        put(pack.response(wire.Opcode.START, 1, 0, seq=next(seq)), T0_NS)
        put(info, T0_NS)
        w.set_device_info(wire.decode_frame(info), channel_names=body.channels)
        w.set_session_plan(exercise=proto.body_exercise)
        w.set_protocol(runner.to_record())
        j = 0
        for i in range(n_blocks):
            t_ns = T0_NS + i * BLOCK * 500_000 + 5_000_000
            while j + IMU_BLOCK <= imu.shape[1] and j / ifs < (i + 1) * BLOCK / fs:
                if j // IMU_BLOCK not in lost_imu:
                    put(pack.imu(imu[:, j:j + IMU_BLOCK], first_sample=j, seq=next(seq),
                                 t_device_us=int(round(j * 1e6 / ifs)) % (1 << 30)), t_ns)
                j += IMU_BLOCK
            if i not in lost:
                put(emg(i), t_ns)
            for b, after in resent.items():
                if after == i:
                    put(emg(b, backfill=True), t_ns)
    return path


def _same(x, y, where=""):
    """Exactly equal, recursing into dataclasses, tuples, dicts and arrays (NaN equal to NaN)."""
    import dataclasses

    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        np.testing.assert_array_equal(x, y, err_msg=where)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        assert type(x) is type(y), where
        for f in dataclasses.fields(x):
            _same(getattr(x, f.name), getattr(y, f.name), f"{where}.{f.name}")
    elif isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for k in x:
            _same(x[k], y[k], f"{where}[{k!r}]")
    elif isinstance(x, (tuple, list)):
        assert len(x) == len(y), f"{where}: {len(x)} != {len(y)}"
        for k, (a, b) in enumerate(zip(x, y)):
            _same(a, b, f"{where}[{k}]")
    elif isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        pass
    else:
        assert x == y, f"{where}: {x!r} != {y!r}"


def _same_results(live, fast):
    """Every result of two analyses of a segment, exactly."""
    for name in ("reps", "stats", "quality", "quality_history", "envelope_max_uV", "envelope_mean_uV",
                 "pelvis_mean_deg", "sitting", "fatigue", "adc_flagged"):  # stats: SI, squeeze scores, calibration, contractions
        _same(getattr(live, name), getattr(fast, name), name)
    _same(live.protocol_results.to_event(), fast.protocol_results.to_event(), "protocol_results")


@pytest.mark.parametrize("name, seed", [("squeeze_test", 3), ("recruitment", 4), ("calibration", 5)])
def test_long_blocks_give_the_results_of_the_live_blocks(tmp_path, name, seed):
    rec = load(_write(tmp_path / f"{name}.glutes", name, seed))
    emg = rec.emg[0]
    assert emg.gaps and emg.n_backfilled > 0 and rec.imu[0].gaps  # what the comparison is about
    plan = exercise_plan(rec)
    live = analyse_segment(rec, 0, plan=plan, block_s=0)
    fast = analyse_segment(rec, 0, plan=plan)  # the default: long blocks
    # The session has something to compare: reps or scores, quality gradings, results.
    assert live.protocol_results is not None and live.quality_history
    assert live.reps or live.stats.squeeze_scores or live.stats.calibration is not None
    assert live.adc_flagged == ((int(7.3 * 2000), int(7.3 * 2000) + 7),)
    _same_results(live, fast)



def test_the_summary_read_in_short_windows_gives_the_results_of_the_live_blocks(tmp_path, monkeypatch):
    """A day's analysis holds the live blocks a window at a time, and the summary reader
    keeps their starts as runs: neither may change a result. Windows of 997 samples put
    a window's end near every decision and grading of the session."""
    from glutescope import analysis
    from glutescope.chunked import load_summary

    path = _write(tmp_path / "s.glutes", "squeeze_test", 3)
    rec = load(path)
    live = analyse_segment(rec, 0, plan=exercise_plan(rec), block_s=0)
    monkeypatch.setattr(analysis, "BLOCK_WINDOW_SAMPLES", 997)
    summary = load_summary(path)
    assert summary.emg[0].block_starts.n_runs < 40  # 10 ms blocks but for the lost and resent ones
    fast = analyse_segment(summary, 0, plan=exercise_plan(summary))
    _same_results(live, fast)
