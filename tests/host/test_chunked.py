"""The chunked reader gives what `load` gives, sample by sample, in bounded memory."""
from __future__ import annotations

import numpy as np
import pytest

import wirepack_v1 as pack
from glutescope.recording import format as recording_format, reader as recording_reader
from glutescope.protocol import decode_frame
from glutescope.chunked import Chunk, ChunkedRecording, SegmentEnd
from glutescope.recording import RecordingReader, RecordingWriter, RecordSource, load
from glutescope.stream import Gap

FS, IFS, BLOCK, IBLOCK = 2000, 104, 40, 4
WINDOW_S = 4.0  # the test packer's INFO says backfill_window_ms = 4000
T0 = 1_000_000_000_000


def _write(path, rng, *, backfill=None):
    """Two segments of 2-ch EMG + IMU with lost blocks, backfill, duplicates, a conflict,
    blocks out of order and a corrupt frame. Returns the EMG truth of segment 0."""
    n_blocks = 1500  # 30 s
    truth = rng.integers(0, 4096, size=(2, n_blocks * BLOCK)).astype(np.uint16)
    imu_truth = rng.integers(-200, 200, size=(6, int(n_blocks * BLOCK / FS * IFS) + IBLOCK)).astype(np.int16)
    imu_truth[2] += 8197  # 1 g on z at 0.122 mg/LSB: a sensor lying still
    seq = iter(range(1, 1 << 30))
    t = [T0]

    def put(frame):
        t[0] += 1_000_000
        w.append(frame, t_host_ns=t[0], source=RecordSource.BLE_NOTIFY)

    sent = {}

    def emg(i, backfill=False, words=None, seq_no=None):
        a = i * BLOCK
        return pack.emg(truth[:, a:a + BLOCK] if words is None else words, first_sample=a, backfill=backfill,
                        seq=next(seq) if seq_no is None else seq_no, t_device_us=(a * 500) % (1 << 30))

    # 100-101 backfilled 2 s later; ``backfill`` = (block, after which k-th block) one more
    lost = {100, 101, 700, 1200}
    order = list(range(n_blocks))
    order[300], order[301] = order[301], order[300]  # one live block overtakes another
    with RecordingWriter(path, subject="S01") as w:
        put(pack.info(seq=0))
        put(pack.response(1, 1, 0, seq=next(seq)))
        j = 0
        for k, i in enumerate(order):
            while j * IBLOCK / IFS < i * BLOCK / FS and (j + 1) * IBLOCK <= imu_truth.shape[1]:
                if j not in (50, 51):  # an IMU dropout
                    put(pack.imu(imu_truth[:, j * IBLOCK:(j + 1) * IBLOCK], first_sample=j * IBLOCK,
                                 seq=next(seq), t_device_us=(j * IBLOCK * 1_000_000 // IFS) % (1 << 30)))
                j += 1
            if i == 301:  # sent after 300 (its seq says so), received before it
                sent[300], sent[301] = emg(300), emg(301)
            if i not in lost:
                sent[i] = sent.get(i) or emg(i)
                put(sent[i])
            if k == 200:
                put(emg(100, backfill=True))
                put(emg(101, backfill=True))
            if k == 400:
                put(sent[390])  # received twice
                seq391 = decode_frame(sent[391]).seq  # and a corrupted copy with a good CRC
                put(emg(391, words=truth[:, 391 * BLOCK:392 * BLOCK] ^ 1, seq_no=seq391))
            if k == 500:
                put(b"\x01\x02junk")
            if backfill is not None and k == backfill[1]:
                put(emg(backfill[0], backfill=True))
        put(pack.response(1, 2, 0, seq=next(seq)))  # START again: segment 1
        for i in range(60):
            put(pack.emg(truth[:, i * BLOCK:(i + 1) * BLOCK] // 2, first_sample=i * BLOCK, seq=next(seq),
                         t_device_us=(i * BLOCK * 500) % (1 << 30)))
    return truth


def _collect(items, stream):
    """Per segment: concatenated samples, merged gaps, anchors, SegmentEnd."""
    out = {}
    for it in items:
        if it.stream != stream:
            continue
        d = out.setdefault(it.segment, {"parts": [], "gaps": [], "anchors": [], "end": None, "next": 0})
        if isinstance(it, SegmentEnd):
            d["end"] = it
            continue
        assert it.first_sample == d["next"], "chunks of a segment come in order, without overlap"
        d["next"] = it.end_sample
        d["parts"].append(it.samples)
        d["anchors"].append(it.anchors)
        for g in it.gaps:
            if d["gaps"] and d["gaps"][-1].first_sample + d["gaps"][-1].n_samples == g.first_sample:
                last = d["gaps"].pop()
                g = Gap(last.first_sample, last.n_samples + g.n_samples)
            d["gaps"].append(g)
    return out


def _sorted_anchors(a):
    return a[:, np.lexsort((a[1], a[0]))]


def _assert_same(rec, got, segments, late=None):
    assert sorted(got) == [s.index for s in segments]
    for seg in segments:
        d = got[seg.index]
        samples = np.hstack(d["parts"])
        expected = seg.samples.copy()
        gaps = list(seg.gaps)
        if late is not None and seg.index == 0:
            expected[:, late[0]:late[1]] = 0
            gaps = sorted(gaps + [Gap(late[0], late[1] - late[0])], key=lambda g: g.first_sample)
        assert samples.dtype == seg.samples.dtype
        np.testing.assert_array_equal(samples, expected)
        assert tuple(d["gaps"]) == tuple(gaps)
        np.testing.assert_array_equal(_sorted_anchors(np.hstack(d["anchors"])), _sorted_anchors(seg.anchors))
        end = d["end"]
        assert (end.n_samples, end.n_backfilled) == (seg.n_samples, seg.n_backfilled)
        assert (end.n_duplicates, end.n_conflicts) == (seg.n_duplicates, seg.n_conflicts)


@pytest.mark.parametrize("chunk_s", [0.5, 4.0, 1000.0])
def test_chunks_put_together_equal_load_sample_by_sample(tmp_path, chunk_s):
    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(1), backfill=(1200, 1300))  # 2 s after: within the window
    rec = load(path)
    assert len(rec.emg) == 2 and rec.emg[0].n_backfilled == 3 * BLOCK and rec.emg[0].n_conflicts == 1
    assert rec.emg[0].gaps == (Gap(700 * BLOCK, BLOCK),) and rec.imu[0].gaps == (Gap(50 * IBLOCK, 2 * IBLOCK),)
    cr = ChunkedRecording(path, chunk_s=chunk_s)
    items = list(cr)
    size = round(chunk_s * FS)
    assert all(it.samples.shape[1] <= size for it in items if isinstance(it, Chunk) and it.stream == "emg")
    _assert_same(rec, _collect(items, "emg"), rec.emg)
    _assert_same(rec, _collect(items, "imu"), rec.imu)
    assert all(it.n_late == 0 for it in items if isinstance(it, SegmentEnd))
    assert cr.n_corrupt_frames == rec.n_corrupt_frames == 1
    assert cr.session.n_seq_skips == rec.n_seq_skips and cr.reader.n_records == rec.n_records
    assert cr.device_info == rec.device_info


def test_backfill_later_than_the_window_stays_a_gap_and_is_counted(tmp_path):
    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(2), backfill=(700, 700 + int((WINDOW_S + 6.0) * FS / BLOCK)))
    rec = load(path)
    items = list(ChunkedRecording(path, chunk_s=1.0, margin_s=1.0))
    late = (700 * BLOCK, 701 * BLOCK)
    _assert_same(rec, _collect(items, "emg"), rec.emg, late=late)
    ends = [it for it in items if isinstance(it, SegmentEnd) and it.stream == "emg"]
    assert [e.n_late for e in ends] == [BLOCK, 0]


def test_memory_held_stays_within_the_hold_plus_one_chunk(tmp_path):
    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(3))
    cr = ChunkedRecording(path, chunk_s=1.0, margin_s=1.0)
    held = []
    for it in cr:
        asm = cr.session.emg
        held.append(asm.end_sample - asm.horizon)
    bound = (WINDOW_S + 1.0) * FS + 1.0 * FS + BLOCK
    assert max(held) <= bound and max(held) > 0.8 * bound  # bounded, and the hold is used


def test_bad_arguments_name_themselves(tmp_path):
    path = tmp_path / "s.glutes"
    with RecordingWriter(path):
        pass
    with pytest.raises(ValueError, match="chunk_s"):
        ChunkedRecording(path, chunk_s=0)
    with pytest.raises(ValueError, match="margin_s"):
        ChunkedRecording(path, margin_s=-1)


def test_reading_the_log_in_tiny_pieces_finds_the_same_records_and_damage(tmp_path, monkeypatch):
    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(4))
    # Records the fast check must read as the careful one does: commands (bit 7), a
    # source this version does not know (an int), an empty frame, the largest time.
    log = path / "frames.log"
    data = bytearray(log.read_bytes())
    data += recording_format._encode_record(pack.event(3, 4), T0 + 1, int(RecordSource.USB_SERIAL))
    data += recording_format._encode_record(b"\x05\x01", T0 + 2, 0x80 | int(RecordSource.BLE_NOTIFY))
    data += recording_format._encode_record(pack.status(), 7, 0x0B)
    data += recording_format._encode_record(b"", (1 << 64) - 1, 0x84)
    data[5000:5010] = b"\xc7\x5e" * 5  # damage that looks like record starts
    data[200_000] ^= 0xFF
    log.write_bytes(bytes(data) + b"\xc7\x5e\x10\x00")  # and a torn tail
    want, n_corrupt, skipped, torn, valid_end = _whole_file_reference(log.read_bytes())
    assert n_corrupt == 2 and torn == 4
    for piece in (1, 7919, 1 << 20):  # the window's edges fall inside records and damage
        monkeypatch.setattr(recording_reader, "_READ_BYTES", piece)
        r = RecordingReader(path)
        assert list(r) == want  # offsets, frames, host times, sources, directions
        assert (r.n_corrupt, r.n_skipped_bytes, r.torn_tail_bytes, r.valid_end) == (
            n_corrupt, skipped, torn, valid_end)


def _whole_file_reference(buf):
    """The log's records as a reader holding the whole file finds them with the careful
    record check (`_try_record`, which the reader's fast check must agree with): at each
    position the record there if it checks out, else the next offset where one does."""
    out, pos, n_corrupt, skipped = [], 0, 0, 0
    while pos < len(buf):
        rec = recording_format._try_record(buf, pos)
        if rec is None:
            nxt = next((q for q in range(pos + 1, len(buf)) if recording_format._try_record(buf, q) is not None), -1)
            if nxt < 0:
                return out, n_corrupt, skipped, len(buf) - pos, pos
            n_corrupt, skipped, pos = n_corrupt + 1, skipped + nxt - pos, nxt
            continue
        out.append(rec)
        pos += recording_format._OVERHEAD + len(rec.frame)
    return out, n_corrupt, skipped, 0, pos


def _same_analysis(x, y):
    np.testing.assert_array_equal(x.envelope_max_uV, y.envelope_max_uV)
    np.testing.assert_array_equal(x.envelope_mean_uV, y.envelope_mean_uV)
    if x.pelvis_mean_deg is None:
        assert y.pelvis_mean_deg is None
    else:
        np.testing.assert_array_equal(x.pelvis_mean_deg, y.pelvis_mean_deg)
    assert x.n_samples == y.n_samples and x.reps == y.reps
    assert [(c.start_s, c.duration_s, c.mean_uV) for c in x.stats.contractions] == \
        [(c.start_s, c.duration_s, c.mean_uV) for c in y.stats.contractions]
    assert x.quality_history == y.quality_history and x.quality == y.quality


def test_summary_has_the_counts_of_load_and_analysis_reads_its_emg_again_in_chunks(tmp_path):
    from glutescope.analysis import analyse, segment_words
    from glutescope.chunked import load_summary
    from glutescope.commands.info import describe

    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(5), backfill=(1200, 1300))
    full, summary = load(path), load_summary(path)
    assert all(s.samples.shape[1] == 0 for s in (*summary.emg, *summary.imu))  # no samples held
    assert describe(summary) == describe(full)
    for i, (x, y) in enumerate(zip(full.imu, summary.imu)):  # read again, both streams in one pass
        read = segment_words(summary, i)
        np.testing.assert_array_equal(read["imu"](0, 7), x.samples[:, :7])
        np.testing.assert_array_equal(read["emg"](0, 100), full.emg[i].samples[:, :100])
        np.testing.assert_array_equal(read["imu"](7, y.n_samples), x.samples[:, 7:])
        np.testing.assert_array_equal(read["emg"](100, full.emg[i].n_samples), full.emg[i].samples[:, 100:])
    a_full, a_sum = analyse(full), analyse(summary)
    assert len(a_full) == len(a_sum) == 2
    for x, y in zip(a_full, a_sum):
        _same_analysis(x, y)


def test_a_body_session_analyses_the_same_from_the_summary(tmp_path):
    from body_recordings import write_body_recording
    from glutescope.analysis import analyse
    from glutescope.chunked import load_summary
    from glutesignal.simulation import simulate

    body = simulate("bridges", seed=3, emg_fs_hz=1000.0, duration_s=40.0)
    path = write_body_recording(tmp_path / "b.glutes", body, subject="S02", start_time="2026-01-05T10:00:00+00:00")
    (x,), (y,) = analyse(load(path)), analyse(load_summary(path))
    assert x.reps, "the body model's bridges are found"
    _same_analysis(x, y)


def test_an_info_after_the_blocks_releases_both_streams_at_once(tmp_path):
    """Before the first INFO the rates are unknown and nothing is passed on; the INFO
    itself (no block of either stream) lets both streams' held chunks out at that
    record, and the chunks still equal `load`."""
    rng = np.random.default_rng(6)
    path = tmp_path / "late-info.glutes"
    truth = rng.integers(0, 4096, size=(2, 30 * FS)).astype(np.uint16)
    imu = rng.integers(-200, 200, size=(6, 30 * IFS)).astype(np.int16)
    seq, t = iter(range(1, 1 << 20)), [T0]
    with RecordingWriter(path, subject="S01") as w:
        def put(frame):
            t[0] += 1_000_000
            w.append(frame, t_host_ns=t[0], source=RecordSource.BLE_NOTIFY)
        j = 0
        for i in range(truth.shape[1] // BLOCK):
            a = i * BLOCK
            if i == 20 * FS // BLOCK:
                put(pack.info(seq=next(seq)))
            put(pack.emg(truth[:, a:a + BLOCK], first_sample=a, seq=next(seq), t_device_us=(a * 500) % (1 << 30)))
            while (j + 1) * IBLOCK <= imu.shape[1] and j * IBLOCK / IFS < a / FS:
                put(pack.imu(imu[:, j * IBLOCK:(j + 1) * IBLOCK], first_sample=j * IBLOCK, seq=next(seq),
                             t_device_us=(j * IBLOCK * 1_000_000 // IFS) % (1 << 30)))
                j += 1
    rec = load(path)
    cr = ChunkedRecording(path, chunk_s=1.0)
    first_at, items = {}, []
    for it in cr:
        items.append(it)
        first_at.setdefault(it.stream, cr.reader.n_records)
    info_record = next(k for k, r in enumerate(RecordingReader(path), 1)
                       if not r.host_to_device and isinstance(decode_frame(r.frame), type(rec.device_info)))
    assert first_at == {"emg": info_record, "imu": info_record}
    _assert_same(rec, _collect(items, "emg"), rec.emg)
    _assert_same(rec, _collect(items, "imu"), rec.imu)


def test_index_runs_give_back_every_index_in_any_range():
    from glutescope.stream import IndexRuns

    rng = np.random.default_rng(8)
    # Block starts every 20 samples, with lost blocks, odd-length blocks and isolated ones.
    steps = rng.choice([20, 20, 20, 20, 20, 40, 7, 1, 333], size=5000)
    values = np.cumsum(steps) + 11
    runs = IndexRuns()
    added = 0
    for part in np.array_split(values, 37):  # as the chunks come, read back in between
        runs.extend(part)
        added += part.size
        np.testing.assert_array_equal(runs.between(0, 10**9), values[:added])
    assert len(runs) == values.size
    assert runs.n_runs < values.size // 2
    for lo, hi in [(0, 10**9), (0, 0), (values[5], values[5] + 1), (values[5] + 1, values[9]), *rng.integers(0, values[-1] + 50, size=(200, 2))]:
        lo, hi = int(lo), int(hi)
        np.testing.assert_array_equal(runs.between(lo, hi), values[(values >= lo) & (values < hi)])
    with pytest.raises(ValueError, match="increasing"):
        runs.extend([values[-1]])


def test_the_summary_keeps_every_block_start_but_one_anchor(tmp_path):
    from glutescope.chunked import load_summary

    path = tmp_path / "s.glutes"
    _write(path, np.random.default_rng(5), backfill=(1200, 1300))
    full, summary = load(path), load_summary(path)
    for x, y in zip(full.emg, summary.emg):
        starts = np.unique(x.anchors[0])
        np.testing.assert_array_equal(y.block_starts.between(0, x.n_samples + 1), starts)
        np.testing.assert_array_equal(y.anchors, x.anchors[:, :1])
        assert y.block_starts.n_runs <= 12  # 40-sample blocks but for the few lost, resent or reordered


def test_columns_join_parts_in_order_whatever_the_block_size(monkeypatch):
    from glutescope import chunked

    rng = np.random.default_rng(3)
    parts = [rng.integers(-32768, 32767, (6, int(m)), dtype=np.int16) for m in rng.integers(0, 50, 200)]
    for block_bytes in (1, 100, 1 << 30):
        monkeypatch.setattr(chunked._Columns, "BLOCK_BYTES", block_bytes)
        cols = chunked._Columns(6, np.int16)
        for p in parts:
            cols.append(p)
        np.testing.assert_array_equal(cols.result(), np.hstack(parts))
    with pytest.raises(ValueError, match="6 rows"):
        chunked._Columns(6, np.int16).append(np.zeros((2, 3), np.int16))
