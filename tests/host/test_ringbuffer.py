"""The one ring buffer between acquisition and its readers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from glutescope.ringbuffer import RingBuffer


def _ramp(start, n, n_channels=2):
    idx = np.arange(start, start + n, dtype=np.float32)
    return np.vstack([idx + 1000 * c for c in range(n_channels)])


def test_since_returns_every_sample_across_the_wrap():
    rb = RingBuffer(2, 100)
    cursor = 0
    got = []
    rng = np.random.default_rng(0)
    written = 0
    for _ in range(200):
        n = int(rng.integers(0, 40))
        rb.write(_ramp(written, n))
        written += n
        start, data = rb.since(cursor)
        assert start == cursor
        got.append(data)
        cursor = start + data.shape[1]
    np.testing.assert_array_equal(np.hstack(got), _ramp(0, written))
    assert rb.write_index == written


def test_a_lapped_reader_is_told_how_much_it_lost():
    rb = RingBuffer(1, 10)
    rb.write(_ramp(0, 25, 1))
    start, data = rb.since(3)
    assert start == 15  # samples 3..14 were overwritten
    np.testing.assert_array_equal(data, _ramp(15, 10, 1))


def test_latest_is_a_copy_of_the_newest_samples():
    rb = RingBuffer(2, 8)
    rb.write(_ramp(0, 5))
    np.testing.assert_array_equal(rb.latest(3), _ramp(2, 3))
    np.testing.assert_array_equal(rb.latest(50), _ramp(0, 5))
    view = rb.latest(2)
    view[:] = -1
    np.testing.assert_array_equal(rb.latest(2), _ramp(3, 2))
    assert rb.latest(0).shape == (2, 0)


def test_block_longer_than_capacity_keeps_its_tail():
    rb = RingBuffer(2, 4)
    rb.write(_ramp(0, 11))
    assert rb.write_index == 11
    np.testing.assert_array_equal(rb.since(0)[1], _ramp(7, 4))
    assert rb.since(0)[0] == 7


def test_bad_input_is_refused_with_the_shape():
    rb = RingBuffer(2, 4)
    with pytest.raises(ValueError, match=r"block must have shape \(2, n_samples\), got \(3, 5\)"):
        rb.write(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        RingBuffer(1, 0)


def test_concurrent_reader_never_sees_torn_or_wrong_samples():
    rb = RingBuffer(1, 64)
    n_blocks, block = 3000, 16
    errors = []
    done = threading.Event()

    def reader():
        cursor = 0
        while not done.is_set() or cursor < rb.write_index:
            start, data = rb.since(cursor)
            # Each sample equals its own index: any torn copy would show.
            if data.size and not np.array_equal(data[0], np.arange(start, start + data.shape[1], dtype=np.float32)):
                errors.append((start, data[0, :4]))
                return
            cursor = start + data.shape[1]

    t = threading.Thread(target=reader)
    t.start()
    for i in range(n_blocks):
        rb.write(np.arange(i * block, (i + 1) * block, dtype=np.float32)[None, :])
    done.set()
    t.join()
    assert errors == []


def test_a_gap_keeps_indices_aligned_and_costs_at_most_the_capacity():
    from glutescope.ringbuffer import RingBuffer

    ring = RingBuffer(2, 100)
    ring.write(np.ones((2, 30)))
    ring.write_gap(1_000_000)
    ring.write(np.full((2, 10), 2.0))
    assert ring.write_index == 30 + 1_000_000 + 10
    start, data = ring.since(ring.write_index - 20)
    assert start == ring.write_index - 20
    assert np.isnan(data[:, :10]).all() and (data[:, 10:] == 2.0).all()
