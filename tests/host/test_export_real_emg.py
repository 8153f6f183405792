"""A real recording exported: gluteus medius and maximus of a treadmill walk (Santuz et
al. 2020, tests/data/real-emg), written into the recording format at its own 1 kHz with
the data set's published touchdowns as markers. Every reader finds every sample, and
each touchdown at the data set's own time, in all three formats."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import wirepack_v1 as pack
from glutescope import protocol
from glutescope.analysis import analyse
from glutescope.export import export_c3d, export_csv, export_edf
from glutescope.recording import RecordingWriter, RecordSource, load

pyedflib = pytest.importorskip("pyedflib")
ezc3d = pytest.importorskip("ezc3d")

DATA = Path(__file__).resolve().parents[1] / "data" / "real-emg"
FS = 1000
VREF_MV, GAIN = 3300, 1000.0
BLOCK = 10


def _real():
    with open(DATA / "walking_13muscles_1khz.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([float(r["time"]) for r in rows])
    uV = np.array([[float(r["ME"]) for r in rows], [float(r["MA"]) for r in rows]])
    with open(DATA / "walking_13muscles_gait_cycles.csv", newline="") as fh:
        touchdowns = [float(r["V1"]) for r in csv.DictReader(fh)]
    return t, uV, touchdowns


def _write_walk(path, marks):
    """The walk as a recording at 1 kHz, with a host marker at each (sample, label)."""
    t, uV, _ = _real()
    codes = np.clip(np.rint(uV * GAIN / 1000 * 4096 / VREF_MV) + 2048, 0, 4095).astype(np.uint16)
    n = codes.shape[1] // BLOCK * BLOCK
    t0 = 1_780_000_000 * 10**9
    with RecordingWriter(path, subject="SANTUZ-ID0012", channel_map={0: "glute_med_right", 1: "glute_max_right"},
                         clock_ns=lambda: t0) as w:
        def put(frame, k, to_device=False):
            w.append(frame, t0 + k * 1_000_000, source=RecordSource.USB_SERIAL, host_to_device=to_device)

        put(protocol.encode_start(1, FS, 3, 104), 0, True)
        put(pack.response(protocol.Opcode.START, 1, 0, seq=0), 0)
        put(pack.info(channel_mask=3, emg_fs_hz=FS, vref_mV=VREF_MV, emg_gain=GAIN, seq=1), 0)
        for i, a in enumerate(range(0, n, BLOCK)):
            put(pack.emg(codes[:, a:a + BLOCK], first_sample=a, seq=2 + i, t_device_us=a * 1000), a + 5)
        for k, label in marks:
            w.add_marker(label, t_host_ns=t0 + k * 1_000_000, emg_sample=k)
    return codes[:, :n]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    t, _, touchdowns = _real()
    # The touchdowns (V1), on the recording's samples: sample k is at t[k] in the data set.
    marks = [int(np.argmin(np.abs(t - v))) for v in touchdowns]
    path = tmp_path_factory.mktemp("real") / "walk.glutes"
    codes = _write_walk(path, [(k, "touchdown") for k in marks])
    rec = load(path)
    return rec, analyse(rec)[0], codes, [(k, v - t[0]) for k, v in zip(marks, touchdowns)]


def test_every_reader_finds_every_real_sample_and_each_touchdown_at_its_time(walk, tmp_path):
    rec, analysis, codes, touchdowns = walk
    assert rec.device_info.emg_fs_hz == FS and not rec.imu and len(touchdowns) >= 4
    ref_uV = (codes.astype(float) - 2048) * VREF_MV / 4096 * 1000 / GAIN
    edf = export_edf(rec, analysis, tmp_path / "w.edf")
    c3d_path = export_c3d(rec, analysis, tmp_path / "w.c3d")
    export_csv(rec, analysis, tmp_path / "w-csv")

    f = pyedflib.EdfReader(str(edf))
    try:
        assert f.getSignalLabels() == ["EMG GMed R", "EMG GMax R"]
        for ch in range(2):
            np.testing.assert_array_equal(f.readSignal(ch, digital=True)[:codes.shape[1]], codes[ch].astype(int) - 2048)
        on, _, txt = f.readAnnotations()
        edf_marks = [o for o, x in zip(on, txt) if x == "marker touchdown"]
    finally:
        f.close()
    c = ezc3d.c3d(str(c3d_path))
    np.testing.assert_allclose(c["data"]["analogs"][0][:, :codes.shape[1]], ref_uV, rtol=2.0 ** -23)
    ev = c["parameters"]["EVENT"]
    times = np.asarray(ev["TIMES"]["value"])
    c3d_marks = [60 * times[0, i] + times[1, i] for i, x in enumerate(ev["DESCRIPTIONS"]["value"])
                 if x == "marker touchdown"]
    with open(tmp_path / "w-csv" / "annotations.csv", newline="") as fh:
        csv_marks = [float(r["onset_s"]) for r in csv.DictReader(line for line in fh if not line.startswith("#"))
                     if r["text"] == "marker touchdown"]
    with open(tmp_path / "w-csv" / "emg.csv", newline="") as fh:
        table = np.array([[float(x) for x in r] for r in csv.reader(line for line in fh if not line.startswith("#"))
                          if r[0] != "t_s"])
    np.testing.assert_array_equal(table[:, 1:].T, ref_uV)
    for got in (edf_marks, c3d_marks, csv_marks):
        # At the data set's own touchdown times (1 ms samples), from its first sample.
        np.testing.assert_allclose(got, [s for _, s in touchdowns], atol=0.5 / FS)
        np.testing.assert_allclose(got, [k / FS for k, _ in touchdowns], atol=1e-5)


def test_c3d_keeps_more_than_255_events_in_continued_parameters(tmp_path):
    # A long session has hundreds of reps; a C3D array parameter holds 255 entries.
    marks = [(10 + 20 * i, f"m{i}") for i in range(300)]
    _write_walk(tmp_path / "many.glutes", marks)
    rec = load(tmp_path / "many.glutes")
    path = export_c3d(rec, analyse(rec)[0], tmp_path / "many.c3d")
    ev = ezc3d.c3d(str(path))["parameters"]["EVENT"]
    assert ev["USED"]["value"][0] >= 300
    descriptions = ev["DESCRIPTIONS"]["value"] + ev["DESCRIPTIONS2"]["value"]
    times = np.hstack([np.asarray(ev["TIMES"]["value"]), np.asarray(ev["TIMES2"]["value"])])
    assert len(ev["LABELS"]["value"]) == 255 and len(descriptions) == ev["USED"]["value"][0]
    got = {d: 60 * times[0, i] + times[1, i] for i, d in enumerate(descriptions) if d.startswith("marker m")}
    assert got == {f"marker {label}": pytest.approx(k / FS, abs=1e-5) for k, label in marks}
