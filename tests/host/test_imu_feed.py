"""The IMU read forward with its pelvis angles tracked again: the live view's angles
(a live processor fed the blocks as they arrived), whatever the stretches read."""
import dataclasses

import numpy as np
import pytest

from body_recordings import ACC_G_PER_LSB, GYRO_DPS_PER_LSB, write_body_recording
from glutescope.chunked import load_summary
from glutescope.imu_feed import ImuFeed
from glutescope.recording import load
from glutesignal.simulation import simulate
from live_pelvis import live_pelvis_deg
from test_chunked import _write


def _read_in_stretches(feed, n, rng):
    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, 25)]))
    parts = [feed.read(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]
    return np.hstack([w for w, _ in parts]), np.hstack([p for _, p in parts])


@pytest.mark.parametrize("how", ["bridges", "a lost sample", "a dropout"])
def test_the_angles_are_the_analysis_angles_and_the_words_the_recording(tmp_path, how):
    rng = np.random.default_rng(11)
    if how == "a dropout":
        path = tmp_path / "d.glutes"
        _write(path, rng)
    else:
        body = simulate("bridges", seed=3, emg_fs_hz=1000.0, duration_s=40.0)
        if how == "a lost sample":  # the wearable's FIFO dropped it: all six words -32768
            acc, gyro = np.array(body.acc_g), np.array(body.gyro_dps)
            acc[:, 777], gyro[:, 777] = -32768 * ACC_G_PER_LSB, -32768 * GYRO_DPS_PER_LSB
            body = dataclasses.replace(body, acc_g=acc, gyro_dps=gyro)
        path = write_body_recording(tmp_path / "b.glutes", body, subject="S02",
                                    start_time="2026-01-05T10:00:00+00:00")
    full = load(path)
    expect = live_pelvis_deg(full)
    assert np.isnan(expect).any() == (how != "bridges")
    assert np.isfinite(expect).mean() > 0.95
    for rec in (full, load_summary(path)):
        for step in (4096, 37):
            words, angles = _read_in_stretches(ImuFeed(rec, 0, step_samples=step), rec.imu[0].n_samples, rng)
            np.testing.assert_array_equal(angles, expect)
            np.testing.assert_array_equal(words, full.imu[0].samples)


def test_reads_go_forward_and_past_the_end_is_nan(tmp_path):
    path = tmp_path / "d.glutes"
    _write(path, np.random.default_rng(2))
    rec = load(path)
    feed = ImuFeed(rec, 0, step_samples=100)
    n = rec.imu[0].n_samples
    words, angles = feed.read(n - 5, n + 5)
    assert np.isnan(angles[:, 5:]).all() and not words[:, 5:].any()
    with pytest.raises(ValueError, match="forward only"):
        feed.read(0, 10)
    with pytest.raises(ValueError, match="no IMU"):
        ImuFeed(rec, 5)
