"""A recording damaged on disk is told apart from one that lost frames on the link:
``info`` says where, ``export`` and ``report`` refuse it unless ``--allow-damaged``."""
from __future__ import annotations

import json
import shutil

import pytest

from export_fixtures import copy_with_gaps, record_demo, run_cli
from glutescope.damage import inspect_damage, is_damaged
from glutescope.exitcodes import ExitStatus
from glutescope.recording import RecordingReader, load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    base = tmp_path_factory.mktemp("damage")
    good = record_demo(base / "good.glutes", duration_s=12.0)
    records = list(RecordingReader(good))
    log = (good / "frames.log").read_bytes()
    out = {"good": good, "records": records, "dir": base}

    # One bit flipped inside the frame of a record in the middle of the log.
    victim = records[len(records) // 2]
    flipped = base / "flipped.glutes"
    shutil.copytree(good, flipped)
    data = bytearray(log)
    data[victim.offset + 20] ^= 0x10
    (flipped / "frames.log").write_bytes(bytes(data))
    out["flipped"], out["victim"] = flipped, victim

    # Cut after a whole record (nothing torn: only meta.json's length tells) ...
    cut = records[-5].offset
    truncated = base / "truncated.glutes"
    shutil.copytree(good, truncated)
    (truncated / "frames.log").write_bytes(log[:cut])
    out["truncated"], out["cut"] = truncated, cut
    # ... and in the middle of one (a torn last record).
    torn = base / "torn.glutes"
    shutil.copytree(good, torn)
    (torn / "frames.log").write_bytes(log[:records[-3].offset + 7])
    out["torn"], out["torn_at"] = torn, records[-3].offset

    out["lossy"] = copy_with_gaps(good, base / "lossy.glutes")  # frames lost on the link only
    return out


def test_a_flipped_bit_is_damage_on_disk_at_its_record_and_not_a_link_loss(recordings):
    rec = load(recordings["flipped"])
    damage = inspect_damage(rec)
    victim = recordings["victim"]
    assert is_damaged(rec)
    assert [(d.kind, d.offset) for d in damage.disk] == [("crc", victim.offset)]
    assert damage.frames_lost_on_disk == 1 and damage.frames_lost_on_link == 0
    status, out, err = run_cli("info", recordings["flipped"])
    assert status == ExitStatus.OK, err
    assert f"failing their CRC at byte {victim.offset} of frames.log; 1 frame lost there" in out
    assert "on link    0 frames lost" in out
    assert "DAMAGED on disk" in out and "closed cleanly" not in out
    d = json.loads(run_cli("info", recordings["flipped"], "--json")[1])
    assert d["damage"]["damaged_on_disk"] and d["damage"]["disk"][0]["offset"] == victim.offset


def test_truncation_is_found_at_a_record_boundary_and_inside_a_record(recordings):
    rec = load(recordings["truncated"])
    assert rec.torn_tail_bytes == 0  # every record left checks out: only the length tells
    damage = inspect_damage(rec)
    assert [(d.kind, d.offset) for d in damage.disk] == [("truncated", recordings["cut"])]
    status, out, _ = run_cli("info", recordings["truncated"])
    assert f"frames.log truncated: it ends at byte {recordings['cut']}" in out and "closed cleanly" not in out
    damage = inspect_damage(load(recordings["torn"]))
    kinds = {d.kind: d.offset for d in damage.disk}
    assert kinds["torn_tail"] == recordings["torn_at"] and "truncated" in kinds
    status, out, _ = run_cli("info", recordings["torn"])
    assert f"torn last record of 7 bytes at byte {recordings['torn_at']}" in out and "closed cleanly" not in out


def test_frames_lost_on_the_link_are_not_damage(recordings):
    rec = load(recordings["lossy"])
    damage = inspect_damage(rec)
    assert not is_damaged(rec) and damage.frames_lost_on_link > 0 and damage.frames_lost_on_disk == 0
    status, out, _ = run_cli("info", recordings["lossy"])
    assert f"on link    {damage.frames_lost_on_link} frames lost" in out
    assert "on disk    damage: none" in out and "state      closed cleanly" in out


@pytest.mark.parametrize("name", ["flipped", "truncated", "torn"])
def test_export_refuses_a_damaged_recording_unless_allowed(recordings, tmp_path, name):
    src = recordings[name]
    out = tmp_path / f"{name}.edf"
    status, stdout, err = run_cli("export", src, "--format", "edf", "-o", out)
    assert status == ExitStatus.DAMAGED == 7
    assert err.count("\n") == 1 and "damaged on disk" in err and "--allow-damaged" in err
    assert not out.exists()
    status, stdout, err = run_cli("export", src, "--format", "edf", "-o", out, "--allow-damaged")
    assert status == ExitStatus.OK, err
    assert "warning" in err and "damaged on disk" in err and out.is_file()


def test_export_of_a_sound_recording_says_nothing_of_damage(recordings, tmp_path):
    for name in ("good", "lossy"):
        status, _, err = run_cli("export", recordings[name], "--format", "csv", "-o", tmp_path / f"{name}-csv")
        assert status == ExitStatus.OK and "damaged" not in err, err


def test_report_refuses_a_damaged_recording(recordings, tmp_path):
    out = tmp_path / "r.pdf"
    status, _, err = run_cli("report", recordings["flipped"], "-o", out)
    assert status == ExitStatus.DAMAGED, err
    assert "damaged on disk" in err and not out.exists()
    # Asked to, it reports on what is readable, with the damage named in one warning line.
    status, _, err = run_cli("report", recordings["flipped"], "-o", out, "--allow-damaged")
    assert status == ExitStatus.OK and out.exists(), err
    assert "damaged on disk" in err
