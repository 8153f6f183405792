"""The recording is the truth: round trip, crash recovery, file modes, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import wirepack_v1 as pack
from unprivileged import run_child
from glutescope.protocol import decode_frame
from glutescope.recording import (
    Record,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    RecordSource,
    load,
    recover,
)
from glutescope.stream import Gap

HOST_DIR = Path(__file__).resolve().parents[2] / "host"
TESTS_DIR = Path(__file__).resolve().parent
BLOCK = 20  # EMG samples per block in these tests


def _emg_frame(i: int) -> bytes:
    """Block i of a 2-channel ramp: sample k holds (k % 4096, (3 k) % 4096)."""
    k = np.arange(i * BLOCK, (i + 1) * BLOCK)
    words = np.vstack([k % 4096, (3 * k) % 4096])
    return pack.emg(words, first_sample=i * BLOCK, seq=i + 2, t_device_us=(i * BLOCK * 500) % (1 << 30))


def _truth(n_blocks: int) -> np.ndarray:
    k = np.arange(n_blocks * BLOCK)
    return np.vstack([k % 4096, (3 * k) % 4096]).astype(np.uint16)


def _write(path: Path, n_blocks: int, *, close: bool = True, skip=()) -> tuple[RecordingWriter, list[bytes]]:
    t0 = 1_000_000_000_000
    w = RecordingWriter(path, subject="S01", channel_map={0: "gluteus maximus left", 1: "gluteus maximus right"},
                        electrode_placement="SENIAM gluteus maximus, 20 mm IED")
    w.open()
    frames = [pack.info(seq=0), pack.response(1, 1, 0, seq=1)]
    frames += [_emg_frame(i) for i in range(n_blocks) if i not in skip]
    for j, f in enumerate(frames):
        w.append(f, t_host_ns=t0 + j * 10_000_000, source=RecordSource.BLE_NOTIFY)
    if close:
        w.close()
    return w, frames


def test_round_trip_gives_back_every_record_and_the_exact_streams(tmp_path):
    path = tmp_path / "bridge.glutes"
    w, frames = _write(path, 30, close=False, skip={7})
    bad = np.array([[0x8000 | 5, 6], [7, 8]], dtype=np.uint16)  # a conversion error on row 0
    w.append(pack.emg(bad, first_sample=30 * BLOCK, seq=39))
    w.append(pack.imu(np.arange(60).reshape(6, 10), first_sample=0, seq=40), source=RecordSource.BLE_NOTIFY)
    w.append(pack.event(258, 100, seq=41))
    w.append(b"\x01\x02junk")  # a corrupt frame as received is kept too
    w.append(bytes.fromhex("0101"), host_to_device=True)  # a command sent
    w.add_marker("cue: squeeze right", emg_sample=120)
    w.close()
    w.close()  # twice is fine

    records = list(RecordingReader(path))
    assert [r.frame for r in records[: len(frames)]] == frames
    assert all(isinstance(r, Record) for r in records)
    assert records[0].source == RecordSource.BLE_NOTIFY and records[0].t_host_ns == 1_000_000_000_000
    assert records[-1].host_to_device and not records[0].host_to_device

    rec = load(path)
    assert rec.n_records == len(frames) + 5 and rec.n_corrupt_frames == 1 and rec.n_corrupt_records == 0
    (emg,) = rec.emg
    assert emg.gaps == (Gap(7 * BLOCK, BLOCK),)
    truth = np.hstack([_truth(30), bad])
    keep = emg.valid_mask()
    np.testing.assert_array_equal(emg.samples[:, keep], truth[:, keep])
    uV = rec.emg_uV()
    assert np.isnan(uV[:, 7 * BLOCK : 8 * BLOCK]).all() and np.isnan(uV[0, 30 * BLOCK])
    assert np.isnan(uV).sum() == 2 * BLOCK + 1
    np.testing.assert_array_equal(rec.imu[0].samples, np.arange(60).reshape(6, 10))
    assert [(e.code, e.emg_sample) for e in rec.events] == [(258, 100)]
    assert rec.device_info == decode_frame(pack.info(seq=0))
    assert rec.markers[0]["label"] == "cue: squeeze right" and rec.markers[0]["emg_sample"] == 120

    meta = json.loads((path / "meta.json").read_text())
    assert meta["closed"] is True and meta["subject"] == "S01"
    assert meta["channel_map"] == {"0": "gluteus maximus left", "1": "gluteus maximus right"}
    for key in ("start_time", "end_time"):
        assert dt.datetime.fromisoformat(meta[key]).tzinfo is not None
    assert meta["software"]["glutescope"]


def test_files_are_private(tmp_path):
    path = tmp_path / "private.glutes"
    old = os.umask(0)  # even with a permissive umask
    try:
        _write(path, 3)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for name in ("frames.log", "meta.json"):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600


def test_device_info_and_channel_names_go_to_meta(tmp_path):
    path = tmp_path / "m.glutes"
    with RecordingWriter(path) as w:
        info = decode_frame(pack.info(channel_mask=0b101))
        w.set_device_info(info, channel_names=["gluteus maximus left", "gluteus medius left"])
        with pytest.raises(ValueError, match="channel_names must give one non-empty name per channel of mask 0x05"):
            w.set_device_info(info, channel_names=["only one"])
    meta = json.loads((path / "meta.json").read_text())
    assert meta["channel_map"] == {"0": "gluteus maximus left", "2": "gluteus medius left"}
    assert meta["device_info"]["name"] == "glutescope-0001" and meta["subject"] is None


def test_bad_paths_and_states_give_one_clear_line(tmp_path):
    with pytest.raises(ValueError, match=r"path must name a '<name>.glutes' directory, got .*plain"):
        RecordingWriter(tmp_path / "plain")
    path = tmp_path / "a.glutes"
    _write(path, 1)
    with pytest.raises(RecordingError, match="it exists already"):
        RecordingWriter(path).open()
    w = RecordingWriter(tmp_path / "b.glutes")
    with pytest.raises(RecordingError, match="is not open"):
        w.append(b"x")
    with pytest.raises(RecordingError, match="no recording at .*missing.glutes"):
        load(tmp_path / "missing.glutes")


def _crash(path: Path) -> None:
    """Make a closed recording look like one whose writer died."""
    meta = json.loads((path / "meta.json").read_text())
    meta["closed"], meta["end_time"] = False, None
    (path / "meta.json").write_text(json.dumps(meta))


def test_truncation_at_any_offset_recovers_every_complete_record(tmp_path):
    src = tmp_path / "src.glutes"
    _, frames = _write(src, 40)
    log = (src / "frames.log").read_bytes()
    ends = np.cumsum([19 + len(f) for f in frames])  # record = 15 + frame + 4
    assert ends[-1] == len(log)
    rng = np.random.default_rng(5)
    for offset in [0, 1, 14, int(ends[0]), int(ends[0]) + 1, *rng.integers(1, len(log), 25)]:
        case = tmp_path / f"cut{offset}.glutes"
        shutil.copytree(src, case)
        os.truncate(case / "frames.log", offset)
        _crash(case)
        n_complete = int(np.searchsorted(ends, offset, side="right"))
        report = recover(case)
        assert report.n_records == n_complete
        assert report.truncated_bytes == offset - (int(ends[n_complete - 1]) if n_complete else 0)
        assert not report.was_closed and report.changed
        assert (case / "frames.log").stat().st_size == offset - report.truncated_bytes
        again = recover(case)  # idempotent
        assert (again.truncated_bytes, again.was_closed, again.changed) == (0, True, False)
        rec = load(case)
        assert rec.torn_tail_bytes == 0 and rec.meta["closed"] is True
        n_blocks = max(0, n_complete - 2)
        if n_blocks:
            (emg,) = rec.emg
            np.testing.assert_array_equal(emg.samples, _truth(n_blocks))
            assert emg.gaps == ()
        else:
            assert rec.emg == ()


def test_a_corrupted_record_costs_only_itself(tmp_path):
    path = tmp_path / "c.glutes"
    _, frames = _write(path, 20)
    ends = np.cumsum([19 + len(f) for f in frames])
    data = bytearray((path / "frames.log").read_bytes())
    k = 9  # the record holding EMG block 7
    data[int(ends[k - 1]) + 30] ^= 0x40
    data[int(ends[k - 1])] = 0  # its magic too: resync must search
    (path / "frames.log").write_bytes(bytes(data))
    reader = RecordingReader(path)
    assert len(list(reader)) == len(frames) - 1
    assert (reader.n_corrupt, reader.n_skipped_bytes, reader.torn_tail_bytes) == (1, 19 + len(frames[k]), 0)
    report = recover(path)
    assert report.n_corrupt == 1 and report.truncated_bytes == 0
    (emg,) = load(path).emg
    assert emg.gaps == (Gap(7 * BLOCK, BLOCK),)


def test_a_torn_partial_record_is_truncated_exactly(tmp_path):
    path = tmp_path / "t.glutes"
    _, frames = _write(path, 5)
    size = (path / "frames.log").stat().st_size
    from glutescope.recording.format import _encode_record  # the writer's own encoder, half written

    torn = _encode_record(_emg_frame(5), 123, 1)[:40]
    with open(path / "frames.log", "ab") as f:
        f.write(torn)
    _crash(path)
    report = recover(path)
    assert (report.n_records, report.truncated_bytes) == (len(frames), 40)
    assert (path / "frames.log").stat().st_size == size


def test_recover_rebuilds_a_missing_meta(tmp_path):
    path = tmp_path / "r.glutes"
    _write(path, 4)
    (path / "meta.json").unlink()
    (path / "meta.json.tmp").write_text("{\"half")
    report = recover(path)
    assert report.meta_rebuilt and not (path / "meta.json.tmp").exists()
    rec = load(path)
    assert rec.meta["closed"] is True and rec.meta["device_info"]["name"] == "glutescope-0001"
    assert stat.S_IMODE((path / "meta.json").stat().st_mode) == 0o600
    assert not recover(path).changed


def test_records_reach_the_disk_without_explicit_flush(tmp_path):
    w = RecordingWriter(tmp_path / "f.glutes", flush_interval_s=0.05)
    w.open()
    try:
        for i in range(50):
            w.append(_emg_frame(i))
        deadline = time.monotonic() + 20.0
        while w.n_records_durable < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.n_records_durable == 50
        assert len(list(RecordingReader(tmp_path / "f.glutes"))) == 50
    finally:
        w.close()


_KILL_CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{host!r}, {tests!r}]
    from test_recording import _emg_frame
    from glutescope.recording import RecordingWriter, RecordSource
    w = RecordingWriter(sys.argv[1], subject="S01")
    w.open()
    last = -1
    i = 0
    while True:
        w.append(_emg_frame(i), source=RecordSource.USB_SERIAL)
        i += 1
        d = w.n_records_durable
        if d != last:
            print(d, flush=True)
            last = d
        time.sleep(0.001)
    """
)


def test_writer_killed_with_sigkill_loses_only_unflushed_records(tmp_path):
    path = tmp_path / "killed.glutes"
    code = _KILL_CHILD.format(host=str(HOST_DIR), tests=str(TESTS_DIR))
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    durable = []
    deadline = time.monotonic() + 60.0
    rng = np.random.default_rng(6)
    try:
        # Let it flush a few times, then kill it at a random moment between flushes.
        while len([d for d in durable if d > 0]) < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], 1.0)
            if ready:
                line = child.stdout.readline()
                assert line, "the writer exited early"
                durable.append(int(line))
        time.sleep(float(rng.uniform(0.0, 0.45)))
    finally:
        child.send_signal(signal.SIGKILL)
        rest = child.communicate(timeout=30)[0]
    durable += [int(x) for x in rest.split()]
    assert child.returncode == -signal.SIGKILL
    assert len([d for d in durable if d > 0]) >= 3
    flushed = max(durable)
    report = recover(path)
    assert report.n_records >= flushed and report.n_corrupt == 0
    rec = load(path)
    (emg,) = rec.emg
    # A contiguous prefix of what was written, nothing missing, nothing altered.
    assert emg.gaps == () and emg.n_samples == report.n_records * BLOCK
    np.testing.assert_array_equal(emg.samples, _truth(report.n_records))
    assert stat.S_IMODE((path / "frames.log").stat().st_mode) == 0o600


_RO_CHILD = """
from glutescope.recording import RecordingWriter, RecordingError
try:
    RecordingWriter(sys.argv[1]).open()
except RecordingError as exc:
    print(exc.errno, exc)
    sys.exit(3)
"""


def test_read_only_directory_gives_recording_error():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        ro = Path(tmp) / "ro"
        ro.mkdir(mode=0o555)
        os.chmod(ro, 0o555)
        out = run_child(_RO_CHILD, ro / "s.glutes")
        assert out.returncode == 3, out.stderr
        errno_text, message = out.stdout.strip().split(" ", 1)
        assert int(errno_text) == 13
        assert message == f"cannot create recording {ro / 's.glutes'}: Permission denied (EACCES)"


_FULL_CHILD = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{host!r}]
    from glutescope.recording import RecordingWriter, RecordingError
    w = RecordingWriter(sys.argv[1])
    w.open()
    try:
        for i in range(10_000):
            w.append(bytes(200))
            if i % 100 == 0:
                w.flush()
    except RecordingError as exc:
        print(exc.errno, exc)
        sys.exit(3)
    """
)


def test_disk_full_gives_recording_error():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small private tmpfs")
    with tempfile.TemporaryDirectory() as tmp:
        code = _FULL_CHILD.format(host=str(HOST_DIR))
        script = Path(tmp) / "child.py"
        script.write_text(code)
        mnt = Path(tmp) / "mnt"
        mnt.mkdir()
        # A private mount namespace: the 64 KiB file system vanishes with the child.
        cmd = ["unshare", "-m", "sh", "-c",
               'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$1/s.glutes"', "sh",
               str(mnt), sys.executable, str(script)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if "mount" in out.stderr and out.returncode not in (3, 0):
            pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
        assert out.returncode == 3, out.stderr
        errno_text, message = out.stdout.strip().split(" ", 1)
        assert int(errno_text) == 28
        assert "No space left on device (ENOSPC)" in message and "\n" not in message
