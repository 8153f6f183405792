"""The recording commands as a user meets them: info, recover, record's refusals and
errors, and the replay transport, on recordings written here with known contents.

The end-to-end runs against the virtual wearable (record, SIGKILL, replay) are in
tests/e2e/test_record_recover.py.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import wirepack_v1 as pack
from unprivileged import give_away, run_child
from glutescope import protocol
from glutescope.acquisition import Acquisition
from glutescope.cli import Environment, main
from glutescope.exitcodes import ExitStatus
from glutescope.recording import FRAMES_FILE, RecordingReader, RecordingWriter, RecordSource, load
from glutescope.transports import TransportError
from glutescope.transports.replay import ReplayTransport

HOST_DIR = Path(__file__).resolve().parents[2] / "host"
SIGNAL_DIR = Path(__file__).resolve().parents[2] / "signal"
BLOCK = 20  # EMG samples per block
IMU_BLOCK = 4  # IMU samples per block
T0_NS = 5_000_000_000
FRAME_SPACING_NS = 10_000_000  # 10 ms between frames, as a 2 kHz stream of 20-sample blocks


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ={"QT_QPA_PLATFORM": "offscreen"})
    status = main([str(a) for a in argv], env)
    return status, out.getvalue(), err.getvalue()


def emg_words(first: int, n: int) -> np.ndarray:
    k = np.arange(first, first + n)
    return np.vstack([k % 4096, (7 * k + 3) % 4096]).astype(np.uint16)


def stream_frames(n_blocks: int, *, skip=(), with_event_at=None, info_after_blocks=0) -> list[tuple[bytes, bool]]:
    """What a session's log holds: (bytes, host_to_device), commands included.

    GET_INFO -> idle INFO; START -> RESPONSE; GET_INFO -> streaming INFO (after
    ``info_after_blocks`` blocks, as when the stream outruns the answer); EMG blocks
    (minus ``skip``) with an IMU block every 5th and a STATUS every 10th.
    """
    seq = iter(range(1_000_000))
    frames = [
        (protocol.encode_get_info(1), True),
        (pack.info(channel_mask=0, seq=next(seq)), False),
        (protocol.encode_start(2, 2000, 3, 104), True),
        (pack.response(protocol.Opcode.START, 2, 0, seq=next(seq)), False),
        (protocol.encode_get_info(3), True),
    ]
    streaming_info = (pack.info(channel_mask=3, seq=next(seq)), False)
    if not info_after_blocks:
        frames.append(streaming_info)
    for i in range(n_blocks):
        if info_after_blocks and i == info_after_blocks:
            frames.append(streaming_info)
        s = next(seq)
        if i not in skip:
            frames.append((pack.emg(emg_words(i * BLOCK, BLOCK), first_sample=i * BLOCK, seq=s,
                                    t_device_us=i * BLOCK * 500), False))
        if i % 5 == 4:
            j = i // 5
            still = np.zeros((6, IMU_BLOCK), dtype=np.int16)
            still[2] = 8197  # lying still: 1 g on z at 0.122 mg/LSB
            still[3] = j  # a gyro LSB that tells the blocks apart
            frames.append((pack.imu(still, first_sample=j * IMU_BLOCK, seq=next(seq)), False))
        if i % 10 == 9:
            frames.append((pack.status(battery_pct=77, seq=next(seq)), False))
        if with_event_at is not None and i == with_event_at:
            frames.append((pack.event(42, i * BLOCK, seq=next(seq)), False))
    return frames


def write_recording(path: Path, n_blocks: int, *, close: bool = True, **kwargs) -> list[tuple[bytes, bool]]:
    frames = stream_frames(n_blocks, **kwargs)
    w = RecordingWriter(path, subject="S07", channel_map={0: "glute_max_left", 1: "glute_max_right"})
    w.open()
    for j, (data, to_device) in enumerate(frames):
        w.append(data, T0_NS + j * FRAME_SPACING_NS, source=RecordSource.BLE_NOTIFY, host_to_device=to_device)
    if close:
        w.close()
    else:
        w.flush()  # on disk, but never closed: as if the writer had died
    return frames


# -- info ----------------------------------------------------------------------------


def test_info_reports_samples_and_every_gap_exactly(tmp_path):
    path = tmp_path / "s1.glutes"
    write_recording(path, 100, skip={7, 8, 50}, with_event_at=30)
    status, out, err = run_cli("info", path)
    assert status == ExitStatus.OK, err
    assert "subject    S07" in out
    assert "ADC0 glute_max_left, ADC1 glute_max_right" in out
    # 100 blocks of 20 = 2000 samples at 2 kHz; blocks 7, 8 and 50 never arrived.
    assert "EMG        1940 samples per channel at 2000 Hz (1.000 s); 60 missing in 2 gaps" in out
    assert "gap: samples 140-179 (0.070 s), 40 missing" in out
    assert "gap: samples 1000-1019 (0.500 s), 20 missing" in out
    assert "IMU        80 samples per axis at 104 Hz" in out
    assert "on link    3 frames lost, 0 arrived corrupt" in out and "on disk    damage: none" in out
    assert "code 42 at sample 600" in out
    assert "state      closed cleanly" in out


def test_info_json_parses_and_agrees_with_the_loaded_recording(tmp_path):
    path = tmp_path / "s2.glutes"
    write_recording(path, 60, skip={10})
    status, out, _ = run_cli("info", path, "--json")
    assert status == ExitStatus.OK
    d = json.loads(out)
    rec = load(path)
    (seg,) = rec.emg
    assert d["emg"]["n_samples"] == seg.n_samples == 1200
    assert d["emg"]["n_missing"] == 20 and d["emg"]["n_received"] == 1180
    assert d["emg"]["gaps"] == [{"segment": 0, "first_sample": 200, "n_samples": 20, "t_s": 0.1}]
    assert d["duration_s"] == pytest.approx(0.6)
    assert d["device"]["name"] == "glutescope-0001" and d["device"]["channel_mask"] == 3
    assert d["subject"] == "S07"
    assert d["needs_recover"] is False and d["closed"] is True
    assert d["corrupt_frames"] == 0 and d["torn_tail_bytes"] == 0


def test_info_says_when_a_recording_needs_recover_and_recover_fixes_it_once(tmp_path):
    path = tmp_path / "s3.glutes"
    write_recording(path, 40, close=False)
    with open(path / FRAMES_FILE, "ab") as f:
        f.write(b"\xc7\x5e\x10\x00")  # a record torn by the crash
    status, out, _ = run_cli("info", path)
    assert status == ExitStatus.OK
    assert "needs `glutescope recover" in out and "4 bytes of torn tail" in out and "not closed" in out

    status, out, _ = run_cli("recover", path)
    assert status == ExitStatus.OK
    n_records = len(stream_frames(40))
    assert out == (f"glutescope: recovered {path}: kept {n_records} records, "
                   "truncated 4 bytes of torn tail, marked it closed\n")
    _, out, _ = run_cli("info", path, "--json")
    d = json.loads(out)
    assert d["needs_recover"] is False and d["recovered"]["truncated_bytes"] == 4

    before = {p.name: p.read_bytes() for p in path.iterdir()}
    status, out, _ = run_cli("recover", path)
    assert status == ExitStatus.OK and "nothing to recover" in out
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


def test_recover_after_truncation_at_random_offsets_keeps_every_complete_record(tmp_path):
    original = tmp_path / "whole.glutes"
    frames = write_recording(original, 80)
    log = (original / FRAMES_FILE).read_bytes()
    ends = [r.offset + 15 + len(r.frame) + 4 for r in RecordingReader(original)]
    rng = np.random.default_rng(20240605)
    for k, cut in enumerate(rng.integers(1, len(log), 12)):
        path = tmp_path / f"cut{k}.glutes"
        shutil.copytree(original, path)
        (path / FRAMES_FILE).write_bytes(log[:cut])
        kept = sum(1 for e in ends if e <= cut)
        status, out, _ = run_cli("recover", path)
        assert status == ExitStatus.OK
        torn = int(cut) - (ends[kept - 1] if kept else 0)
        assert f"kept {kept} records" in out
        assert (f"truncated {torn} bytes" in out) if torn else ("nothing to recover" in out)
        assert (path / FRAMES_FILE).stat().st_size == (ends[kept - 1] if kept else 0)
        # What is left is exactly the first `kept` records, decoded to the same samples.
        received = [f for f, to_device in frames[:kept] if not to_device]
        n_emg = sum(1 for f in received if f[1] == protocol.FrameType.EMG)
        rec = load(path)
        got = rec.emg[0].samples if rec.emg else np.zeros((2, 0), np.uint16)
        np.testing.assert_array_equal(got, emg_words(0, n_emg * BLOCK))
        assert rec.torn_tail_bytes == 0


# -- errors: one line, documented status -----------------------------------------------


@pytest.mark.parametrize("command", ["info", "recover", "replay"])
def test_a_missing_recording_is_one_line_and_status_5(tmp_path, command):
    status, out, err = run_cli(command, tmp_path / "absent.glutes")
    assert status == ExitStatus.IO_ERROR == 5
    assert err == f"glutescope: error: no recording at {tmp_path / 'absent.glutes'}: it does not exist\n"


@pytest.mark.parametrize("command", ["info", "recover", "replay"])
def test_a_directory_that_is_not_a_recording_is_one_line_and_status_5(tmp_path, command):
    plain = tmp_path / "photos"
    plain.mkdir()
    status, _, err = run_cli(command, plain)
    assert status == ExitStatus.IO_ERROR
    assert err == f"glutescope: error: {plain} is not a recording (a recording is a <name>.glutes directory)\n"
    empty = tmp_path / "empty.glutes"
    empty.mkdir()
    status, _, err = run_cli(command, empty)
    assert status == ExitStatus.IO_ERROR
    assert err == f"glutescope: error: {empty} is not a recording: it holds no frames.log\n"


def test_record_refuses_to_overwrite_a_recording_and_leaves_it_untouched(tmp_path):
    path = tmp_path / "keep.glutes"
    write_recording(path, 10)
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    status, out, err = run_cli("record", path, "--duration", "1")
    assert status == ExitStatus.IO_ERROR
    assert err == (f"glutescope: error: {path} exists already (a recording); "
                   "pick a new name or pass --force to replace it\n")
    assert out == ""
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before


def test_record_force_never_removes_something_that_is_not_a_recording(tmp_path):
    path = tmp_path / "notes.glutes"
    path.mkdir()
    (path / "thesis.txt").write_text("years of work")
    status, _, err = run_cli("record", path, "--force", "--duration", "1")
    assert status == ExitStatus.IO_ERROR
    assert err == f"glutescope: error: {path} exists and is not a recording; not replacing it, even with --force\n"
    assert (path / "thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("argv, fragment", [
    (("out.glutes", "--duration", "0"), "--duration must be positive, got 0"),
    (("out.glutes", "--speed", "-1"), "--speed must be positive, got -1"),
    (("out.glutes", "--channels", "a,,b"), "--channels must be comma-separated muscle names"),
    (("out.glutes", "--channels", "a,a"), "--channels names must be distinct"),
    (("out.glutes", "--subject", " "), "--subject must be a non-empty pseudonym"),
    (("out.txt",), "OUTPUT must end in .glutes, got 'out.txt'"),
])
def test_record_bad_arguments_are_one_line_and_usage_status(tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli("record", *argv)
    assert status == ExitStatus.USAGE
    assert err.count("\n") == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_record_from_a_missing_serial_port_is_device_not_found_and_leaves_nothing(tmp_path):
    path = tmp_path / "bench.glutes"
    status, out, err = run_cli("record", path, "--serial", "/dev/ttyNOPE", "--duration", "1")
    assert status == ExitStatus.DEVICE_NOT_FOUND == 3
    assert err.splitlines()[-1] == "glutescope: error: serial port /dev/ttyNOPE does not exist"
    assert err.startswith("Safety: USB serial is for the bench.")
    assert out == f"nothing was received; no recording was left at {path}\n"
    assert not path.exists()


def test_record_from_bluetooth_without_an_adapter_is_one_line(tmp_path):
    status, _, err = run_cli("record", tmp_path / "ble.glutes", "--device", "glutescope-FFFF", "--duration", "1")
    # No adapter on a build machine (4); an adapter with no such wearable in range on a laptop (3).
    assert status in (ExitStatus.NO_ADAPTER, ExitStatus.DEVICE_NOT_FOUND)
    assert err.count("\n") == 1 and err.startswith("glutescope: error: ")
    assert not (tmp_path / "ble.glutes").exists()


_RUN_CLI = """
from glutescope.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_without_permission_override(*argv) -> subprocess.CompletedProcess:
    return run_child(_RUN_CLI, *argv)


def test_record_into_a_directory_without_write_permission_is_one_line_and_status_5():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        locked = Path(tmp) / "locked"
        locked.mkdir(mode=0o555)
        os.chmod(locked, 0o555)
        out = _run_without_permission_override("record", locked / "s.glutes", "--duration", "1")
        assert out.returncode == ExitStatus.IO_ERROR, out.stderr
        assert out.stderr == (f"glutescope: error: cannot create recording {locked / 's.glutes'}: "
                              "Permission denied (EACCES)\n")
        assert not (locked / "s.glutes").exists()


def test_info_on_a_recording_that_cannot_be_read_is_one_line_and_status_5():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        path = Path(tmp) / "private.glutes"
        write_recording(path, 5)  # the writer makes it 0700 / 0600: nobody else may read it
        os.chmod(path, 0o755)  # ... even with the directory open, the files stay private
        give_away(path)  # ... to a user who is not their owner
        out = _run_without_permission_override("info", path)
        assert out.returncode == ExitStatus.IO_ERROR, out.stderr
        assert out.stderr.count("\n") == 1
        assert "Permission denied (EACCES)" in out.stderr and str(path) in out.stderr


# -- the replay transport and the passive acquisition --------------------------------


def test_replay_delivers_the_received_frames_in_order_then_reports_the_end(tmp_path):
    path = tmp_path / "r.glutes"
    frames = write_recording(path, 30)
    received = [f for f, to_device in frames if not to_device]

    async def play():
        transport = ReplayTransport(path, speed=0)
        ended = []
        transport.on_disconnect = lambda: ended.append(transport.n_delivered)
        await transport.connect()
        await transport.send_command(protocol.encode_get_info(9))  # accepted, ignored
        got = []
        while len(got) < len(received):
            got.append((await transport.frames.get()).data)
        while not ended:
            await asyncio.sleep(0)
        with pytest.raises(TransportError, match="the replay of r.glutes has ended"):
            await transport.reconnect()
        assert transport.finished and not transport.connected
        await transport.close()
        await transport.close()  # safe twice
        return got, ended

    got, ended = asyncio.run(play())
    assert got == received  # commands the host sent are not played back
    assert ended == [len(received)]


def test_replay_keeps_the_recorded_spacing(tmp_path):
    path = tmp_path / "slow.glutes"
    w = RecordingWriter(path)
    w.open()
    for j in range(3):
        w.append(pack.status(seq=j), T0_NS + j * 3_000_000_000)  # 3 s apart
    w.close()

    async def play():
        transport = ReplayTransport(path, speed=1.0)
        await transport.connect()
        for _ in range(5):
            await asyncio.sleep(0)
        first = transport.frames.qsize()
        await transport.close()
        return first

    # The first frame is due at once, the next one 3 s later: only one is out yet.
    assert asyncio.run(play()) == 1


@pytest.mark.parametrize("speed", [-1.0, float("nan")])
def test_replay_speed_is_validated(tmp_path, speed):
    with pytest.raises(ValueError, match="speed must be > 0, or 0 / inf for as fast as possible, got"):
        ReplayTransport(tmp_path / "x.glutes", speed=speed)


def test_passive_acquisition_of_a_replay_rebuilds_the_recording_and_sends_nothing(tmp_path):
    path = tmp_path / "orig.glutes"
    write_recording(path, 50, skip={20})
    copy = tmp_path / "copy.glutes"

    async def replay():
        writer = RecordingWriter(copy)
        writer.open()
        acq = Acquisition(ReplayTransport(path, speed=float("inf")), recorder=writer, reconnect_timeout_s=0)
        info = await acq.open_passive(timeout_s=5)
        while not acq.transport.finished:
            await asyncio.sleep(0.01)
        await acq.close()
        writer.close()
        return acq, info

    acq, info = asyncio.run(replay())
    assert info.channel_mask == 3  # the streaming INFO, not the idle one before START
    emg = acq.emg.current()
    original = load(path).emg[0]
    np.testing.assert_array_equal(emg.samples, original.samples)
    assert emg.gaps == original.gaps and len(emg.gaps) == 1
    # Re-recorded: the same frames, and no command was sent to the recording.
    records = list(RecordingReader(copy))
    assert not any(r.host_to_device for r in records)
    assert [r.frame for r in records] == [r.frame for r in RecordingReader(path) if not r.host_to_device]


def test_passive_open_without_a_streaming_info_fails_in_one_line(tmp_path):
    path = tmp_path / "idle.glutes"
    w = RecordingWriter(path)
    w.open()
    w.append(pack.info(channel_mask=0), T0_NS)
    w.close()

    async def attempt():
        acq = Acquisition(ReplayTransport(path, speed=0), reconnect_timeout_s=0)
        try:
            await acq.open_passive(timeout_s=0.5)
        finally:
            await acq.close()

    with pytest.raises(TransportError, match="replay of idle.glutes carried no device info of a running "
                                             "configuration within 0.5 s"):
        asyncio.run(attempt())


def test_live_session_replays_a_recording_to_the_same_sample_count(tmp_path):
    from glutescope.session import LiveSession, SessionOptions

    path = tmp_path / "live.glutes"
    write_recording(path, 200, skip={100}, info_after_blocks=3)
    session = LiveSession(SessionOptions(replay_path=path, speed=0))
    session.start()
    try:
        for _ in range(2000):
            if session.finished:
                break
            time.sleep(0.01)
    finally:
        session.stop()
    assert session.finished and not session.failed
    stats = session.state.stats
    # Every block reached the live view, those before the streaming INFO included;
    # the one that never arrived is counted missing.
    assert stats.samples == 200 * BLOCK and stats.missing_samples == BLOCK
    assert session.state.channel_names == ("glute_max_left", "glute_max_right")


def test_help_lists_the_recording_commands(capsys):
    status, _, _ = run_cli("--help")
    assert status == 0
    text = capsys.readouterr().out
    for command in ("record", "info", "recover", "replay"):
        assert command in text


def test_replay_of_a_recording_without_frames_is_one_line_and_status_5(tmp_path):
    path = tmp_path / "empty.glutes"
    RecordingWriter(path).open().close()
    status, out, err = run_cli("replay", path, "--headless")
    assert status == ExitStatus.IO_ERROR
    assert err == f"glutescope: error: {path} holds no frames to replay\n" and out == ""
