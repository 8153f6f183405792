"""Ring index arithmetic: absolute indices, wrap-around, oldest/holds, time anchors."""
import struct

from hypothesis import given, settings, strategies as st

from glutefw.ringbuf import Ring


def _codes(first, n, width):
    return [(first + i) * 10 + c for i in range(n) for c in range(width)]


def _write(ring, first, n):
    vals = _codes(first, n, ring.width)
    ring.write(memoryview(struct.pack("<%dH" % len(vals), *vals)), n)


def test_empty_ring():
    r = Ring("H", 12)
    r.reset(3, 2000)
    assert (r.capacity, r.head, r.oldest) == (4, 0, 0)
    assert r.holds(0, 0) and not r.holds(0, 1)


def test_write_across_the_end_and_read_back_exact_values():
    r = Ring("H", 12)
    r.reset(3, 2000)  # 4 samples of 3 values
    _write(r, 0, 3)
    _write(r, 3, 3)  # wraps: sample 4 and 5 overwrite 0 and 1
    assert (r.head, r.oldest) == (6, 2)
    assert not r.holds(1, 1) and r.holds(2, 4) and not r.holds(2, 5)
    dst = bytearray(24)
    n = r.read_into(memoryview(dst), 2, 4)
    assert list(struct.unpack("<12H", dst[:n])) == _codes(2, 4, 3)


def test_capacity_rounds_down_to_whole_samples():
    r = Ring("H", 10)
    r.reset(3, 1000)
    assert r.capacity == 3
    for k in range(0, 12, 2):
        _write(r, k, 2)
    dst = bytearray(18)
    r.read_into(memoryview(dst), r.oldest, 3)
    assert list(struct.unpack("<9H", dst)) == _codes(9, 3, 3)


@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 4), cap=st.integers(1, 9),
       chunks=st.lists(st.integers(0, 12), max_size=20))
def test_any_write_pattern_keeps_the_newest_capacity_samples(width, cap, chunks):
    r = Ring("H", cap * width)
    r.reset(width, 1000)
    k = 0
    for n in chunks:
        n = min(n, cap)
        _write(r, k, n)
        k += n
    assert r.head == k and r.oldest == max(0, k - cap)
    held = k - r.oldest
    dst = bytearray(2 * width * held)
    r.read_into(memoryview(dst), r.oldest, held)
    assert list(struct.unpack("<%dH" % (width * held), dst)) == _codes(r.oldest, held, width)


def test_skip_marks_lost_samples_with_the_fill_value():
    r = Ring("H", 8)
    r.reset(2, 1000)
    _write(r, 0, 3)
    r.skip(2, 0x8000)
    assert r.head == 5
    assert r.any_bits(3, 2, 0x8000) and not r.any_bits(1, 2, 0x8000)
    dst = bytearray(8)
    r.read_into(memoryview(dst), 3, 2)
    assert struct.unpack("<4H", dst) == (0x8000,) * 4


def test_imu_ring_holds_signed_values():
    r = Ring("h", 12)
    r.reset(6, 104)
    raw = struct.pack("<6h", -32768, 32767, -1, 0, 1, -2)
    r.write(memoryview(raw), 1)
    assert list(r.values[:6]) == [-32768, 32767, -1, 0, 1, -2]


def test_time_of_uses_nearest_anchor_and_nominal_rate():
    r = Ring("H", 300, n_anchors=4)
    r.reset(1, 1500)
    r.mark_time(0, 1000)
    r.mark_time(30, 1000 + 20_000)
    assert r.time_of(0) == 1000
    assert r.time_of(1) == 1000 + 666  # floor(1e6 / 1500)
    assert r.time_of(29) == 1000 + 19_333
    assert r.time_of(45) == 21_000 + 10_000
    assert r.time_of(30 + 1500 * 3) == 21_000 + 3_000_000


def test_time_of_wraps_like_ticks_us():
    r = Ring("H", 100)
    r.reset(1, 2000)
    r.mark_time(10, 2**30 - 100)
    assert r.time_of(10) == 2**30 - 100
    assert r.time_of(11) == 2**30 - 100 + 500 - 2**30


def test_time_of_before_the_oldest_kept_anchor_extrapolates_backwards():
    r = Ring("H", 100, n_anchors=2)
    r.reset(1, 1000)
    for k in range(5):
        r.mark_time(k * 10, 5000 + k * 10_000)
    assert r.time_of(25) == 5000 + 25_000  # anchors 30, 40 kept; 25 is before both
