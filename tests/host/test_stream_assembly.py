"""Stream assembly: exact arrays and exact gaps from blocks in any order, and the
device clock."""

from __future__ import annotations

import numpy as np
import pytest

import wirepack_v1 as pack
from glutescope.protocol import DEVICE_CLOCK_MODULUS_US, decode_frame
from glutescope.stream import DeviceClock, Gap, SessionAssembler, StreamAssembler


def _emg_blocks(truth, block, *, seq0=0):
    """Cut (n_channels, n) words into decoded EMG blocks of `block` samples."""
    out = []
    for k, a in enumerate(range(0, truth.shape[1], block)):
        out.append(decode_frame(pack.emg(truth[:, a : a + block], first_sample=a, seq=seq0 + k)))
    return out


def _truth(rng, n, n_channels=2):
    return rng.integers(0, 4096, size=(n_channels, n)).astype(np.uint16)


def test_shuffled_duplicated_blocks_with_holes_give_exact_arrays_and_gaps():
    rng = np.random.default_rng(7)
    truth = _truth(rng, 10_000)
    blocks = _emg_blocks(truth, 37)
    lost = {3, 4, 50, 200, len(blocks) - 2}
    kept = [b for i, b in enumerate(blocks) if i not in lost]
    arrivals = kept + [kept[i] for i in rng.choice(len(kept), 40, replace=False)]
    rng.shuffle(arrivals)
    asm = StreamAssembler(chunk_samples=1000)  # blocks straddle chunks
    placed = sum(asm.add(b) for b in arrivals)
    seg = asm.current()
    assert placed == sum(b.n_samples for b in kept)
    assert seg.n_duplicates == 40 and seg.n_conflicts == 0
    expected_gaps = (Gap(3 * 37, 2 * 37), Gap(50 * 37, 37), Gap(200 * 37, 37), Gap((len(blocks) - 2) * 37, 37))
    assert seg.gaps == expected_gaps
    assert seg.n_samples == truth.shape[1]  # the last block arrived
    mask = seg.valid_mask()
    np.testing.assert_array_equal(seg.samples[:, mask], truth[:, mask])
    assert np.all(seg.samples[:, ~mask] == 0)
    assert seg.n_missing == 5 * 37


def test_backfill_fills_the_gap_exactly_even_with_other_block_sizes():
    rng = np.random.default_rng(8)
    truth = _truth(rng, 1000, n_channels=3)
    blocks = _emg_blocks(truth, 40)
    asm = StreamAssembler()
    for i, b in enumerate(blocks):
        if i not in (5, 6, 7):
            asm.add(b)
    assert asm.gaps() == (Gap(200, 120),)
    # The wearable resends 190..339 in blocks of 50: overlaps on both sides.
    for a in range(190, 340, 50):
        bf = decode_frame(pack.emg(truth[:, a : a + 50], first_sample=a, backfill=True, seq=999))
        asm.add(bf)
    seg = asm.current()
    assert seg.gaps == ()
    assert seg.n_backfilled == 120
    np.testing.assert_array_equal(seg.samples, truth)


def test_leading_gap_and_conflicting_duplicate_are_reported():
    asm = StreamAssembler()
    words = np.array([[1, 2, 3]], dtype=np.uint16)
    asm.add(decode_frame(pack.emg(words, first_sample=10)))
    assert asm.gaps() == (Gap(0, 10),)
    assert asm.add(decode_frame(pack.emg(words + 1, first_sample=10))) == 0
    seg = asm.current()
    assert (seg.n_duplicates, seg.n_conflicts) == (1, 1)
    np.testing.assert_array_equal(seg.samples[:, 10:], words)  # the first arrival is kept


def test_new_segment_keeps_the_old_one_and_restarts_indices():
    rng = np.random.default_rng(9)
    a, b = _truth(rng, 300), _truth(rng, 120, n_channels=1)
    asm = StreamAssembler()
    for blk in _emg_blocks(a, 50):
        asm.add(blk)
    asm.new_segment()
    asm.new_segment()  # twice: still one new segment
    for blk in _emg_blocks(b, 40):
        asm.add(decode_frame(pack.emg(blk.samples[:1], first_sample=blk.first_sample, channel_mask=0b100)))
    segs = asm.segments()
    assert [s.index for s in segs] == [0, 1]
    np.testing.assert_array_equal(segs[0].samples, a)
    np.testing.assert_array_equal(segs[1].samples, b)
    assert segs[1].channel_mask == 0b100
    asm.count_corrupt(3)
    assert asm.n_corrupt == 3


def test_session_detects_start_ack_and_lost_start_ack_restarts():
    rng = np.random.default_rng(10)
    s = SessionAssembler()
    first, second, third = _truth(rng, 200), _truth(rng, 100), _truth(rng, 80)
    seq = 0
    for blk in _emg_blocks(first, 50, seq0=seq):
        s.add_frame(blk)
    seq = 10
    s.add_frame(decode_frame(pack.response(1, 5, 0, seq=seq)))  # START answered OK
    for blk in _emg_blocks(second, 50, seq0=seq + 1):
        s.add_frame(blk)
    # A START whose RESPONSE was lost: the live index goes back to 0 at a newer seq.
    for blk in _emg_blocks(third, 40, seq0=seq + 20):
        s.add_frame(blk)
    segs = s.emg.segments()
    assert len(segs) == 3 and s.n_restarts == 2
    for seg, truth in zip(segs, (first, second, third)):
        np.testing.assert_array_equal(seg.samples, truth)
        assert seg.gaps == ()
    assert s.n_seq_skips == (10 - 4) + (20 - 3)


def test_session_detects_reboot_by_sequence_number_and_resets_the_clock():
    rng = np.random.default_rng(11)
    s = SessionAssembler()
    for blk in _emg_blocks(_truth(rng, 100), 50, seq0=50_000):
        s.add_frame(blk, t_host_ns=1)
    s.add_frame(decode_frame(pack.status(seq=50_010, t_device_us=900_000_000)), t_host_ns=10**9)
    s.add_frame(decode_frame(pack.info(seq=0, t_device_us=5)))
    assert s.n_restarts == 1 and s.clock.n_pairs == 0
    assert s.clock.unwrap(10) == 10  # a fresh clock
    # A late frame only slightly older is not a reboot.
    s.add_frame(decode_frame(pack.event(1, 2, seq=1)))
    s.add_frame(decode_frame(pack.event(1, 3, seq=0)))
    assert s.n_restarts == 1


def test_imu_blocks_assemble_with_int16_rows():
    rng = np.random.default_rng(12)
    truth = rng.integers(-32768, 32768, size=(6, 104)).astype(np.int16)
    s = SessionAssembler()
    for k, a in enumerate(range(0, 104, 10)):
        if k != 2:
            s.add_frame(decode_frame(pack.imu(truth[:, a : a + 10], first_sample=a, seq=k)))
    seg = s.imu.current()
    assert seg.samples.dtype == np.int16 and seg.gaps == (Gap(20, 10),)
    keep = seg.valid_mask()
    np.testing.assert_array_equal(seg.samples[:, keep], truth[:, keep])


# ----------------------------------------------------------------- device clock


def test_unwrap_crosses_the_2_pow_30_wrap_both_ways():
    clock = DeviceClock()
    m = DEVICE_CLOCK_MODULUS_US
    assert clock.unwrap(m - 1000) == m - 1000
    assert clock.unwrap(500) == m + 500  # forward over the wrap
    assert clock.unwrap(m - 2000) == m - 2000  # a late (backfill) time from before it
    assert clock.unwrap(500 + m // 2 - 1) == m + 500 + m // 2 - 1
    assert clock.unwrap(5) == 2 * m + 5  # second wrap
    with pytest.raises(ValueError, match="t_device_us must be in 0 to 2\\*\\*30 - 1, got 1073741824"):
        clock.unwrap(m)


@pytest.mark.parametrize("drift_ppm", [50.0, -50.0])
def test_clock_estimates_drift_within_tolerance_despite_jitter(drift_ppm):
    rng = np.random.default_rng(13)
    clock = DeviceClock(window_s=300.0, bin_s=2.0)
    m = DEVICE_CLOCK_MODULUS_US
    t0_us = m - 60_000_000  # start a minute before the wrap
    period_us = 20_000  # a frame every 20 ms, for 400 s
    host0_ns = 1_700_000_000_000_000_000
    dev_us = t0_us + np.arange(0, 400_000_000, period_us)
    # Transport delay: 3 ms floor, exponential jitter, and congested bursts up to 150 ms.
    delay_ns = 3e6 + rng.exponential(8e6, dev_us.size)
    burst = rng.random(dev_us.size) < 0.02
    delay_ns[burst] += rng.uniform(20e6, 150e6, burst.sum())
    host_ns = host0_ns + (dev_us - t0_us) * 1000.0 * (1 + drift_ppm * 1e-6) + delay_ns
    for d, h in zip(dev_us, host_ns):
        clock.add_pair(int(d) % m, int(h))
    assert clock.drift_ppm == pytest.approx(drift_ppm, abs=1.0)
    # Mapping a device time lands within a few ms of its true (zero-delay) host time.
    u = clock.unwrap(int(dev_us[-1]) % m)
    assert u == int(dev_us[-1])  # unwrapped across the wrap
    true_ns = host0_ns + (u - t0_us) * 1000.0 * (1 + drift_ppm * 1e-6) + 3e6
    assert abs(clock.to_host_ns(u) - true_ns) < 0.5e6


def test_clock_without_pairs_says_so():
    with pytest.raises(ValueError, match="no \\(device, host\\) pairs yet"):
        DeviceClock().drift_ppm


# -- live retention: flat memory however long the session runs -----------------------


def _held_bytes(asm: StreamAssembler) -> int:
    cur = asm._cur
    return sum(a.nbytes for a in cur.chunks.values())


def test_retention_keeps_memory_flat_and_gaps_exact_over_a_long_stream():
    rng = np.random.default_rng(11)
    retain, chunk, block = 5_000, 1_000, 40
    asm = StreamAssembler(chunk_samples=chunk, retain_samples=retain)
    truth = _truth(rng, 200_000)
    lost = set(range(100, 110)) | {2000, 4000}  # blocks that never arrive, early and late
    held = []
    for k, a in enumerate(range(0, truth.shape[1], block)):
        if k not in lost:
            asm.add(decode_frame(pack.emg(truth[:, a : a + block], first_sample=a, seq=k)), t_device_us=k * 20_000)
        held.append(_held_bytes(asm))
    # Never more than the retained window rounded out to whole chunks, plus the chunk being filled.
    limit = (retain // chunk + 2) * chunk * 2 * truth.dtype.itemsize
    assert max(held) <= limit
    seg = asm.current()
    assert seg.n_samples == truth.shape[1]
    assert seg.gaps == (Gap(100 * block, 10 * block), Gap(2000 * block, block), Gap(4000 * block, block))
    # What is held is the newest part, exactly.
    assert truth.shape[1] - seg.samples_start >= retain
    np.testing.assert_array_equal(seg.samples, truth[:, seg.samples_start:])
    # Anchors of live blocks are kept for the held part only, as int64 pairs.
    assert seg.anchors.shape[0] == 2 and seg.anchors[0, 0] >= seg.samples_start


def test_retention_still_places_backfill_and_checks_duplicates_inside_the_window():
    rng = np.random.default_rng(12)
    asm = StreamAssembler(chunk_samples=500, retain_samples=2_000)
    truth = _truth(rng, 10_000)
    blocks = _emg_blocks(truth, 50)
    for i, b in enumerate(blocks):
        if i != 180:  # samples 9000-9049 are lost live
            asm.add(b)
    late = decode_frame(pack.emg(truth[:, 9000:9050], first_sample=9000, seq=999, backfill=True))
    assert asm.add(late) == 50
    forged = truth[:, 9500:9550].copy()
    forged[0, 0] ^= 1
    asm.add(decode_frame(pack.emg(forged, first_sample=9500, seq=1000)))  # a duplicate that differs
    # A duplicate older than the window cannot be compared; it is only counted.
    asm.add(decode_frame(pack.emg(truth[:, 0:50] ^ 1, first_sample=0, seq=1001)))
    seg = asm.current()
    assert seg.gaps == () and seg.n_backfilled == 50
    assert seg.n_duplicates == 2 and seg.n_conflicts == 1
    np.testing.assert_array_equal(seg.samples, truth[:, seg.samples_start:])


def test_a_session_holds_the_retained_seconds_once_the_rates_are_known():
    session = SessionAssembler(retain_s=2.0)
    info = decode_frame(pack.info(emg_fs_hz=1000, imu_fs_hz=104))
    session.add_frame(info)
    assert session.emg.retain_samples == 2000 and session.imu.retain_samples == 208


def _block(words, a, *, backfill=False):
    from glutescope.protocol import EmgBlock

    w = np.ascontiguousarray(words, dtype=np.uint16)
    w.flags.writeable = False
    return EmgBlock(seq=0, t_device_us=0, first_sample=a, channel_mask=0b11, backfill=backfill,
                    adc_error=False, samples=w)


@pytest.mark.parametrize("chunk_samples", [1, 7, 64, 8192])
def test_blocks_at_past_and_before_the_end_agree_with_a_sample_by_sample_model(chunk_samples):
    """Appending at the end (the usual case) and everything else (touching, past the end,
    overlapping, inside gaps, duplicates, conflicts, backfill), across chunk edges, give
    what a model that keeps each index's first arrival gives."""
    rng = np.random.default_rng(chunk_samples)
    truth = _truth(rng, 40_000)
    asm = StreamAssembler(chunk_samples=chunk_samples)
    got = np.zeros_like(truth)
    have = np.zeros(truth.shape[1], dtype=bool)
    n_dup = n_conf = n_back = 0
    anchors = []
    end = 0
    for k in range(2000):
        n = int(rng.integers(1, 40))
        r = rng.random()
        if r < 0.6:
            a = end  # right at the end
        elif r < 0.7:
            a = end + int(rng.integers(1, 30))  # past it: a gap
        else:
            a = int(rng.integers(0, max(end, 1)))  # before it: overlap, backfill or duplicate
        a = min(a, truth.shape[1] - n)
        words = truth[:, a:a + n].copy()
        if r > 0.95:
            words[0, 0] ^= 1  # a conflicting copy (or, where new, what arrives first)
        backfill = r > 0.8
        new = ~have[a:a + n]
        placed = asm.add(_block(words, a, backfill=backfill), t_device_us=1000 * k)
        assert placed == int(new.sum())
        if not new.any():
            n_dup += 1
            n_conf += not np.array_equal(got[:, a:a + n], words)
        else:
            got[:, a:a + n][:, new] = words[:, new]
            have[a:a + n] |= new
            if backfill:
                n_back += int(new.sum())
            else:
                anchors.append((a, 1000 * k))
        end = max(end, a + n)
    seg = asm.current()
    np.testing.assert_array_equal(seg.samples, got[:, :end])
    missing = np.flatnonzero(~have[:end])
    runs = np.split(missing, np.flatnonzero(np.diff(missing) != 1) + 1) if missing.size else []
    assert seg.gaps == tuple(Gap(int(g[0]), len(g)) for g in runs)
    assert (seg.n_duplicates, seg.n_conflicts, seg.n_backfilled) == (n_dup, n_conf, n_back)
    assert n_dup > 20 and n_conf > 0 and n_back > 0 and len(seg.gaps) > 5  # every case is met
    np.testing.assert_array_equal(seg.anchors, np.array(anchors, dtype=np.int64).T)


def test_clock_bins_follow_the_newest_bin_with_late_and_out_of_order_pairs():
    """The fit window follows the newest bin ever seen, whatever order the pairs come in
    (late pairs of old bins, a reset): the same as a clock given only the pairs that
    the window keeps, in device-time order."""
    rng = np.random.default_rng(5)
    bin_us, n_bins = 2_000_000, 5
    pairs = []
    for k in range(400):
        t = int(k * 250_000 + rng.integers(0, 200_000))
        if rng.random() < 0.2:
            t = max(0, t - int(rng.integers(1, 9)) * bin_us)  # a late pair, inside the window or behind it
        pairs.append((t, 1000 * t + 5_000_000 + int(rng.integers(0, 3_000_000))))
    clock = DeviceClock(window_s=n_bins * 2.0, bin_s=2.0)
    clock.add_pair(123, 456)
    clock.reset()  # forgets the bins, the newest one included
    kept: dict[int, tuple[int, int]] = {}
    newest = None
    x = np.linspace(0, pairs[-1][0], 7)
    n_late_checked = 0
    for t, h in pairs:
        clock.add_pair(t, h)
        b = t // bin_us
        if b not in kept or h - 1000 * t < kept[b][1] - 1000 * kept[b][0]:
            kept[b] = (t, h)
        late = newest is not None and b < newest
        newest = b if newest is None else max(newest, b)
        if len(kept) > n_bins:
            kept = {k: v for k, v in kept.items() if k > newest - n_bins}
        if len(kept) >= 3:  # after every pair: a late one must not move the window back
            fresh = DeviceClock(window_s=n_bins * 2.0, bin_s=2.0)
            for k in sorted(kept):
                fresh.add_pair(*kept[k])
            np.testing.assert_array_equal(clock.to_host_ns(x), fresh.to_host_ns(x))
            n_late_checked += late
    assert n_late_checked > 30
