"""Per-column decimation for drawing gives the same extremes as every sample."""
import numpy as np
import pytest

from glutescope.ui.decimate import column_count, max_columns, minmax_columns


def test_each_column_holds_the_extremes_of_its_samples():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((4, 20_000)).astype(np.float32)
    y[2, 12_345] = 50.0  # one spike: it must survive decimation
    cols = column_count(y.shape[1], 913)
    index, values = minmax_columns(y, cols)
    per = y.shape[1] // cols
    assert cols <= 913 and y.shape[1] - per * cols < per  # reaches the left edge
    start = y.shape[1] - per * cols
    blocks = y[:, start:].reshape(4, cols, per)
    np.testing.assert_array_equal(values[:, 0::2], blocks.min(axis=2))
    np.testing.assert_array_equal(values[:, 1::2], blocks.max(axis=2))
    assert values.max() == 50.0 and np.array_equal(index[0::2], index[1::2])
    env_index, env = max_columns(y, cols)
    np.testing.assert_array_equal(env, blocks.max(axis=2))
    np.testing.assert_array_equal(env_index, index[0::2])


def test_a_gap_breaks_only_its_column():
    y = np.ones((1, 1000))
    y[0, 500] = np.nan
    _, values = minmax_columns(y, 10)
    assert np.isnan(values[0, 10:12]).all() and np.isfinite(np.delete(values[0], [10, 11])).all()


def test_bad_column_counts_name_the_limit():
    with pytest.raises(ValueError, match=r"n_columns must be between 1 and n_samples \(5\), got 6"):
        minmax_columns(np.zeros((1, 5)), 6)
