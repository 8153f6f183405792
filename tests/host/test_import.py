"""``glutescope import``: a motion lab's C3D, an EDF+ and a CSV become recordings that
``info``, ``report`` and ``history`` read, marked as imported; a bad file gets one line.

The files are written here by the ``c3d`` and ``edfio`` packages (the readers other
labs' software uses), from body-model sessions whose true SI is known.
"""
from __future__ import annotations

import datetime as dt
import json
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from export_fixtures import run_cli
from glutescope.exitcodes import ExitStatus
from glutescope.history import HISTORY_FILE, History
from glutescope.muscles import guess_channel_name
from glutescope.recording import RecordingReader, RecordSource, load
from glutesignal.simulation import simulate

LAB_LABELS = ("L GMAX", "R GMAX", "L GMED", "R GMED", "L BF", "R BF", "L ES", "R ES",
              "L VL", "R VL", "L RF", "R RF", "L TA", "R TA", "L GAS", "R GAS")
BODY_CHANNELS = ("glute_max_left", "glute_max_right", "glute_med_left", "glute_med_right",
                 "hamstring_left", "hamstring_right", "lumbar_erector_left", "lumbar_erector_right")


@pytest.mark.parametrize("label, expected", [
    ("L GMAX", "glute_max_left"), ("Glut_Max_R", "glute_max_right"), ("EMG RGMED", "glute_med_right"),
    ("Left Gluteus Maximus", "glute_max_left"), ("BF_L", "hamstring_left"), ("GlutMaxL", "glute_max_left"),
    ("Erector spinae L3 left", "lumbar_erector_left"), ("EMG2 L GMED", "glute_med_left"),
    ("EMG1", None), ("GMAX", None), ("L VL", None), ("L R GMAX", None)])
def test_a_muscle_is_guessed_only_when_the_label_names_muscle_and_side(label, expected):
    assert guess_channel_name(label) == expected


def write_lab_c3d(path, body, noise_uV=20.0):
    """16 analog channels in volts at 1020 Hz (60 Hz points, 17 analog samples per frame)."""
    import c3d

    rng = np.random.default_rng(0)
    emg_V = np.vstack([body.emg_uV, rng.normal(0, noise_uV, (8, body.emg_uV.shape[1]))]) * 1e-6
    per = 17
    n = emg_V.shape[1] // per * per
    w = c3d.Writer(point_rate=60.0, analog_rate=1020.0, point_scale=-1.0)
    w.add_frames([(np.zeros((0, 5), np.float32), emg_V[:, k:k + per].astype(np.float32)) for k in range(0, n, per)])
    w.set_analog_labels(list(LAB_LABELS))
    w.set_analog_scales([1.0] * 16)
    w.set_analog_offsets([0] * 16)
    w.analog_group.add_str("UNITS", "Analog units", "V" * 16, 1, 16)
    ev = w.add_group(w.numeric_key_next, "EVENT", "Events")  # as a motion lab marks a trial
    labels = ("Foot Strike", "Bridge start")
    ev.add("USED", "Number of events", 2, "<H", len(labels))
    ev.add_str("LABELS", "Event labels", "".join(t.ljust(12) for t in labels), 12, len(labels))
    times = np.array([[0.0, 2.5], [1.0, 0.25]], dtype=np.float32)  # (minutes, seconds)
    ev.add_param("TIMES", desc="Event times", bytes_per_element=4, bytes=times.tobytes(), dimensions=[2, 2])
    with open(path, "wb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no points: an analog-only file, as an EMG lab writes
        w.write(fh)
    return emg_V[:, :n].astype(np.float32).astype(np.float64) * 1e6


@pytest.mark.slow
def test_an_imported_c3d_of_16_channels_at_1020_hz_gives_a_report_and_a_history_row(tmp_path):
    body = simulate("bridges", seed=3, emg_fs_hz=1020.0, channels=BODY_CHANNELS, left_scale=0.7, mains_hz=None)
    written_uV = write_lab_c3d(tmp_path / "lab.c3d", body)
    status, out, err = run_cli("import", tmp_path / "lab.c3d", "--subject", "P-LAB")
    assert status == ExitStatus.OK, err
    assert "'L GMAX' -> glute_max_left (guessed from the label)" in out
    assert "'L BF' -> - (hamstring_left, left out" in out and "'L VL' -> - (not a muscle" in out
    rec_path = tmp_path / "lab.glutes"
    rec = load(rec_path)
    assert rec.device_info.emg_fs_hz == 1020 and rec.device_info.name == "imported-c3d"
    assert rec.meta["imported"]["format"] == "c3d" and rec.meta["subject"] == "P-LAB"
    assert {r.source for r in RecordingReader(rec_path)} == {RecordSource.IMPORTED}  # never "a wearable"
    # The lab's events at their samples (the second, at 60.25 s, is past the 57.5 s of EMG).
    assert [(m["label"], m["emg_sample"]) for m in rec.meta["markers"]] == [("Foot Strike", 2550)]
    # Every sample is the file's, within half a step of the 12-bit words, after the median.
    step = rec.meta["imported"]["uV_per_code"]
    got = rec.emg_uV(0)
    want = written_uV[:4] - np.median(written_uV[:4], axis=1, keepdims=True)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 0.5 * step + 1e-6 and step < 1.0
    status, out, err = run_cli("info", rec_path)
    assert status == ExitStatus.OK and "imported-c3d" in out and "1020 Hz" in out
    status, _, err = run_cli("report", rec_path)
    assert status == ExitStatus.OK, err
    pdf = rec_path.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and stat.S_IMODE(pdf.stat().st_mode) == 0o600
    status, out, err = run_cli("history", "P-LAB", "--recordings", tmp_path)
    assert status == ExitStatus.OK, err
    with History(tmp_path / HISTORY_FILE) as h:
        (row,) = h.sessions("P-LAB")
    assert row.origin == "imported (c3d)" and row.n_reps == 10
    assert row.si_pct == pytest.approx(body.true_symmetry_index_pct, abs=4.0)
    assert "imported (c3d)" in out


@pytest.mark.slow
def test_an_imported_edf_keeps_its_rate_date_and_annotations_and_gives_a_history_row(tmp_path):
    import edfio

    body = simulate("bridges", seed=5, emg_fs_hz=2048.0, left_scale=0.8, mains_hz=None, duration_s=57.0)
    signals = [edfio.EdfSignal(body.emg_uV[i], 2048, label=label, physical_dimension="uV",
                               physical_range=(-3000.0, 3000.0))
               for i, label in enumerate(("EMG Glute max L", "EMG Glute max R"))]
    signals.append(edfio.EdfSignal(np.zeros(body.emg_uV.shape[1] // 32), 64, label="Temp", physical_dimension="degC",
                                   physical_range=(-10.0, 50.0)))
    start = dt.datetime(2026, 10, 14, 8, 15, 0)
    edf = edfio.Edf(signals, recording=edfio.Recording(startdate=start.date()), starttime=start.time(),
                    annotations=[edfio.EdfAnnotation(5.0, None, "bridges start")])
    edf.write(tmp_path / "amp.edf")
    status, out, err = run_cli("import", tmp_path / "amp.edf", "--subject", "P-EDF", "-o", tmp_path / "amp.glutes")
    assert status == ExitStatus.OK, err
    assert "not read: Temp (unit degC: not a voltage)" in out
    meta = json.loads((tmp_path / "amp.glutes" / "meta.json").read_text())
    assert meta["start_time"].startswith("2026-10-14T08:15:00") and meta["start_time_source"] == "the imported file"
    assert [(m["label"], m["emg_sample"]) for m in meta["markers"]] == [("bridges start", 5 * 2048)]
    status, out, err = run_cli("history", "P-EDF", "--recordings", tmp_path)
    assert status == ExitStatus.OK, err
    with History(tmp_path / HISTORY_FILE) as h:
        (row,) = h.sessions("P-EDF")
    assert row.origin == "imported (edf)" and row.start_time.startswith("2026-10-14")
    assert row.si_pct == pytest.approx(body.true_symmetry_index_pct, abs=4.0)
    status, _, err = run_cli("report", tmp_path / "amp.glutes")
    assert status == ExitStatus.OK, err


def test_a_csv_in_millivolts_with_a_time_column_and_a_given_map(tmp_path):
    fs = 1000.0
    t = np.arange(3000) / fs
    left, right = 0.05 * np.sin(2 * np.pi * 80 * t), 0.1 * np.sin(2 * np.pi * 90 * t)
    lines = ["time_s,EMG1 (mV),EMG2 (mV)"] + [f"{a:.4f},{b:.6f},{c:.6f}" for a, b, c in zip(t, left, right)]
    (tmp_path / "x.csv").write_text("\n".join(lines) + "\n")
    # "EMG1" names no muscle: nothing to import until the map is given.
    status, _, err = run_cli("import", tmp_path / "x.csv")
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1 and "--map" in err
    status, out, err = run_cli("import", tmp_path / "x.csv", "--map", "EMG1=glute_max_left,EMG2=glute_max_right")
    assert status == ExitStatus.OK, err
    assert "'EMG1' -> glute_max_left (given)" in out
    rec = load(tmp_path / "x.glutes")
    assert rec.device_info.emg_fs_hz == 1000
    got = rec.emg_uV(0)
    assert np.max(np.abs(got[1] - 1e3 * right)) <= 0.5 * rec.meta["imported"]["uV_per_code"] + 1e-6


@pytest.mark.parametrize("name, content, says", [
    ("bad.c3d", b"\x00" * 700, "not a readable C3D"),
    ("bad.edf", b"0       not an edf header", "not a readable EDF"),
    ("bad.csv", b"time_s,L GMAX (uV)\n0,1\n0.001,x\n", "not a number"),
    ("bad.wav", b"RIFF", "format must be one of"),
])
def test_a_bad_import_file_gets_one_line_and_exit_5(tmp_path, name, content, says):
    (tmp_path / name).write_bytes(content)
    status, out, err = run_cli("import", tmp_path / name, "--subject", "P-X")
    assert status == ExitStatus.IO_ERROR
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    assert not any(tmp_path.glob("*.glutes"))


def test_an_imported_bdf_keeps_its_24_bit_samples_within_the_stated_resolution(tmp_path):
    import edfio

    fs = 2048
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.05, (2, 4 * fs))  # mV
    signals = [edfio.BdfSignal(x[i], fs, label=label, physical_dimension="mV", physical_range=(-1.0, 1.0))
               for i, label in enumerate(("Glut_Max_L", "Glut_Max_R"))]
    edfio.Bdf(signals).write(tmp_path / "amp.bdf")
    status, out, err = run_cli("import", tmp_path / "amp.bdf", "--subject", "P-BDF")
    assert status == ExitStatus.OK, err
    rec = load(tmp_path / "amp.glutes")
    assert rec.meta["imported"]["format"] == "bdf" and rec.meta["start_time_source"] == "time of import"
    read = np.vstack([s.data for s in edfio.read_bdf(tmp_path / "amp.bdf").signals]) * 1e3
    want = read - np.median(read, axis=1, keepdims=True)
    assert np.max(np.abs(rec.emg_uV(0) - want)) <= 0.5 * rec.meta["imported"]["uV_per_code"] + 1e-6


def test_a_real_recording_imports_with_its_quantisation_far_below_its_signal(tmp_path):
    # Real treadmill-walking EMG of the right leg (tests/data/real-emg, Santuz et al. 2020):
    # its labels (ME, MA, ST) are the source's own abbreviations, so nothing is guessed
    # until the map is given.
    src = Path(__file__).resolve().parents[1] / "data" / "real-emg" / "walking_13muscles_1khz.csv"
    status, _, err = run_cli("import", src, "-o", tmp_path / "walk.glutes", "--unit", "uV")
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1 and "no channel's label names a muscle" in err
    status, out, err = run_cli("import", src, "-o", tmp_path / "walk.glutes", "--unit", "uV", "--subject", "P-WALK",
                               "--map", "ME=glute_med_right,MA=glute_max_right,ST=hamstring_right")
    assert status == ExitStatus.OK, err
    table = np.loadtxt(src, delimiter=",", skiprows=1)
    original = table[:, [1, 2, 7]].T  # ME, MA, ST
    rec = load(tmp_path / "walk.glutes")
    assert rec.device_info.emg_fs_hz == 1000
    step = rec.meta["imported"]["uV_per_code"]
    error = rec.emg_uV(0) - (original - np.median(original, axis=1, keepdims=True))
    assert np.max(np.abs(error)) <= 0.5 * step + 1e-6
    # Uniform rounding: RMS step/sqrt(12), under 1 % of each muscle's own RMS.
    assert np.sqrt(np.mean(error ** 2)) == pytest.approx(step / np.sqrt(12), rel=0.1)
    assert np.all(np.sqrt(np.mean(error ** 2, axis=1)) < 0.01 * np.std(original, axis=1))
    status, out, err = run_cli("info", tmp_path / "walk.glutes")
    assert status == ExitStatus.OK and "glute_med_right, ADC1 glute_max_right, ADC2 hamstring_right" in out


def test_glutescope_s_own_csv_export_imports_back_with_its_channels_and_samples(tmp_path):
    from body_recordings import write_body_recording

    body = simulate("rest", seed=2, duration_s=6.0)
    src = write_body_recording(tmp_path / "rest.glutes", body, subject="P-RT", start_time="2026-11-02T10:00:00+00:00")
    status, _, err = run_cli("export", src, "--format", "csv", "-o", tmp_path / "rest-csv")
    assert status == ExitStatus.OK, err
    status, out, err = run_cli("import", tmp_path / "rest-csv" / "emg.csv", "-o", tmp_path / "back.glutes")
    assert status == ExitStatus.OK, err
    assert "'glute_max_left' -> glute_max_left (guessed from the label)" in out
    back, orig = load(tmp_path / "back.glutes"), load(src).emg_uV(0)
    error = back.emg_uV(0) - (orig - np.median(orig, axis=1, keepdims=True))
    assert np.max(np.abs(error)) <= 0.5 * back.meta["imported"]["uV_per_code"] + 1e-6


def test_missing_samples_become_an_exact_gap_and_a_fractional_rate_is_refused(tmp_path):
    fs = 1000
    t = np.arange(4000) / fs
    x = 50.0 * np.sin(2 * np.pi * 70 * t)
    gap = (1000, 1500)  # 25 whole 20-sample blocks missing in the file
    left_only = (3000, 3010)  # one channel missing: flagged samples, as the wearable flags them

    def cell(i, v, lost):
        return "" if lost[0] <= i < lost[1] else f"{v:.4f}"

    cells = [f"{a:.3f},{cell(i, v, gap) if i < 2000 else cell(i, v, left_only)},{cell(i, v, gap)}"
             for i, (a, v) in enumerate(zip(t, x))]
    (tmp_path / "g.csv").write_text("\n".join(["t_s,L GMAX (uV),R GMAX (uV)"] + cells) + "\n")
    status, _, err = run_cli("import", tmp_path / "g.csv")
    assert status == ExitStatus.OK, err
    rec = load(tmp_path / "g.glutes")
    (g,) = rec.emg[0].gaps
    assert (g.first_sample, g.n_samples) == (gap[0], gap[1] - gap[0])
    emg = rec.emg_uV(0)
    assert np.flatnonzero(np.isnan(emg[0])).tolist() == list(range(*gap)) + list(range(*left_only))
    assert np.flatnonzero(np.isnan(emg[1])).tolist() == list(range(*gap))
    assert rec.n_seq_skips == 0  # not blamed on a radio link
    status, out, _ = run_cli("info", tmp_path / "g.glutes")
    assert "500 missing in 1 gaps" in out
    odd = "\n".join(["t_s,L GMAX (uV)"] + [f"{k / 999.5:.7f},1.0" for k in range(100)]) + "\n"
    (tmp_path / "odd.csv").write_text(odd)
    status, _, err = run_cli("import", tmp_path / "odd.csv")
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1 and "whole number of Hz" in err


@pytest.mark.slow
def test_the_import_and_history_benchmark_prints_its_figures():
    import os
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "host"), str(root / "signal")]))
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "import_history.py"), "--minutes", "0.2",
                           "--sessions", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    num = r"\d+(?:\.\d+)?"
    assert re.search(rf"^import: C3D 0.2 min x 16 ch x 2000 Hz .* 4 channels kept: {num} s, peak traced memory "
                     rf"{num} MB", done.stdout, re.M), done.stdout
    assert re.search(rf"^history: 1 sessions .* in {num} s .* from the cache in {num} ms \(1 cached\)$",
                     done.stdout, re.M), done.stdout
