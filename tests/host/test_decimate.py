"""Per-column decimation for drawing gives the same extremes as every sample."""
import numpy as np
import pytest

from glutescope.ui.decimate import ColumnTracker, column_layout, max_columns, minmax_columns


def test_each_column_holds_the_extremes_of_its_samples():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((4, 20_000)).astype(np.float32)
    y[2, 12_345] = 50.0  # one spike: it must survive decimation
    cols, _ = column_layout(y.shape[1], 913)
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


@pytest.mark.parametrize("n_samples, width_px", [(20_000, 913), (20_000, 304.3), (20_000, 20_000), (7, 913),
                                                 (1, 1), (0, 913), (60_000, 0)])
def test_the_columns_fill_the_width_and_reach_the_left_edge(n_samples, width_px):
    n_columns, per = column_layout(n_samples, width_px)
    assert n_columns >= 1 and per >= 1
    if n_samples:
        assert n_columns <= max(1, int(width_px)) and n_columns * per <= n_samples
        assert n_samples - n_columns * per < per  # fewer than a column left out at the oldest end


def test_a_gap_breaks_only_its_column():
    y = np.ones((1, 1000))
    y[0, 500] = np.nan
    _, values = minmax_columns(y, 10)
    assert np.isnan(values[0, 10:12]).all() and np.isfinite(np.delete(values[0], [10, 11])).all()


def test_bad_column_counts_name_the_limit():
    with pytest.raises(ValueError, match=r"n_columns must be between 1 and n_samples \(5\), got 6"):
        minmax_columns(np.zeros((1, 5)), 6)


def brute_force(stream, end, n_columns, per, with_min):
    """The tracker's picture recomputed from the whole stream, one column at a time."""
    c_end = end // per
    xs, rows = [], []
    for c in range(c_end - n_columns, c_end + 1):
        lo, hi = c * per, min((c + 1) * per, end)
        if c < 0 or hi <= lo:
            col = np.full((stream.shape[0], 1), np.nan)
        else:
            col = stream[:, lo:hi]
        with np.errstate(all="ignore"):
            parts = ([col.min(axis=1)] if with_min else []) + [col.max(axis=1)]
        for part in parts:
            xs.append(c * per - (end - 1))
            rows.append(part)
    return np.array(xs), np.stack(rows, axis=1)


@pytest.mark.parametrize("with_min", [True, False])
def test_the_tracker_matches_a_brute_force_min_max_after_every_write(with_min):
    from glutescope.ringbuffer import RingBuffer

    rng = np.random.default_rng(7)
    stream = rng.standard_normal((3, 9000)).astype(np.float32)
    stream[1, 4321] = 40.0  # a spike must survive
    stream[:, 6000:6100] = np.nan  # a gap breaks its columns
    buffer = RingBuffer(3, 3000)
    tracker = ColumnTracker(3, n_columns=97, per=23, with_min=with_min)
    end = 0
    while end < stream.shape[1]:
        n = int(rng.integers(1, 90))
        if rng.random() < 0.02:
            n = 2600  # the UI stalled: most of the window arrives at once
        block = stream[:, end:end + n]
        if np.isnan(block).all():
            buffer.write_gap(block.shape[1])
        else:
            buffer.write(block)
        end += block.shape[1]
        x, values = tracker.update(buffer)
        want_x, want = brute_force(stream, end, 97, 23, with_min)
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(values, want)
    assert np.nanmax(values) < 40.0  # the spike has scrolled out of the window by now


def test_samples_the_buffer_no_longer_holds_are_a_gap_not_stale_columns():
    from glutescope.ringbuffer import RingBuffer

    buffer = RingBuffer(1, 50)  # holds half the 100 samples the 10 columns span
    tracker = ColumnTracker(1, n_columns=10, per=10)
    for _ in range(4):  # 100 fives, each read before the next arrives
        buffer.write(np.full((1, 25), 5.0))
        tracker.update(buffer)
    buffer.write(np.arange(70, dtype=np.float32)[None])  # 70 new: only the last 50 held
    _, values = tracker.update(buffer)
    # Columns 7-9 were read before the writer lapped the reader; 10-11 (samples 100-119)
    # were overwritten unread: a gap, not the old fives nor anything made up.
    np.testing.assert_array_equal(values[0, :6], 5.0)
    assert np.isnan(values[0, 6:10]).all()
    np.testing.assert_array_equal(values[0, 10:20:2], np.arange(20, 70, 10))
    np.testing.assert_array_equal(values[0, 11:20:2], np.arange(29, 70, 10))
    assert np.isnan(values[0, 20:]).all()  # the newest column has no sample yet
