"""The IMU's times on the EMG's clock, asked a stretch at a time, against hand-computed
times and against a binary search over every sample's time."""
from types import SimpleNamespace

import numpy as np
import pytest

from glutescope.imu_timeline import ImuTimeline


def _rec(emg_anchors, imu_anchors, n_imu, imu_fs_hz=100.0):
    info = SimpleNamespace(emg_fs_hz=2000.0, imu_fs_hz=imu_fs_hz)
    emg = SimpleNamespace(anchors=np.asarray(emg_anchors, dtype=np.int64).reshape(2, -1))
    imu = SimpleNamespace(anchors=np.asarray(imu_anchors, dtype=np.int64).reshape(2, -1), n_samples=n_imu)
    return SimpleNamespace(device_info=info, emg=[emg], imu=[imu])


def test_times_follow_the_anchors_not_the_nominal_rate():
    # EMG sample 2000 at device 2 s: the segment starts at device 1 s. The IMU's anchors
    # say 100 samples took 1 s, then 100 more took 0.99 s (its own oscillator).
    rec = _rec([[2000], [2_000_000]], [[0, 100, 200], [1_010_000, 2_010_000, 3_000_000]], 300)
    tl = ImuTimeline(rec, 0)
    np.testing.assert_allclose(tl.times_s([0, 50, 100, 150, 200, 250]),
                               [0.01, 0.51, 1.01, 1.505, 2.0, 2.495], atol=1e-12)
    assert tl.first_s == pytest.approx(0.01) and tl.last_s == pytest.approx(2.0 + 99 * 0.0099)
    # before the first anchor at the first two anchors' rate
    assert tl.times_s(-10) == pytest.approx(-0.09)


def test_nominal_rate_without_anchors_and_nothing_without_imu():
    tl = ImuTimeline(_rec([[0], [0]], np.zeros((2, 0)), 50), 0)
    np.testing.assert_allclose(tl.all_times_s(), np.arange(50) / 100.0)
    none = ImuTimeline(SimpleNamespace(device_info=None, emg=[], imu=[]), 0)
    assert none.n_samples == 0 and none.all_times_s().size == 0
    assert none.held([0.0, 5.0]).tolist() == [-1, -1]


@pytest.mark.parametrize("seed", range(6))
def test_held_is_the_binary_search_over_every_time(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    idx = np.unique(np.concatenate([[3], rng.choice(np.arange(4, n - 3), 300, replace=False)]))
    if seed % 2:  # frames the wearable stamped with jitter, and the last anchor inside
        t_us = 500_000 + idx * 9615.0 + rng.normal(0, 800, idx.size).cumsum() * 0.01
    else:
        t_us = 500_000 + idx * 9615.0
    rec = _rec([[100], [550_000]], [idx, np.round(t_us)], n, imu_fs_hz=104.0)
    tl = ImuTimeline(rec, 0)
    every = tl.all_times_s()
    assert np.all(np.diff(every) > 0)
    t = np.concatenate([rng.uniform(every[0] - 1, every[-1] + 1, 4000), every, every - 1e-9, every + 2e-9,
                        [every[0] - 1e-3, every[-1] + 10]])
    expect = np.searchsorted(every, t + 1e-9, side="right") - 1
    np.testing.assert_array_equal(tl.held(t), expect)
    # a stretch's times are the same numbers as the whole array's
    np.testing.assert_array_equal(tl.times_s(np.arange(1234, 2345)), every[1234:2345])
