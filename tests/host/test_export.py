"""Exports read back by readers independent of the writers: EDF+ written with edfio is
read with pyedflib (the C EDFlib), C3D written with the ``c3d`` package is read with
ezc3d, CSV with numpy."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest

from export_fixtures import EMG_SKIP, IMU_SKIP, SUBJECT, copy_with_gaps, record_demo, run_cli
from glutescope.analysis import analyse
from glutescope.export import export_c3d, export_csv, export_edf, imu_offset_s, start_datetime
from glutescope.exitcodes import ExitStatus
from glutescope.recording import load

pyedflib = pytest.importorskip("pyedflib")
ezc3d = pytest.importorskip("ezc3d")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    path = record_demo(base / "demo.glutes")
    gappy = copy_with_gaps(path, base / "gappy.glutes")
    out = {}
    for name, p in (("demo", path), ("gappy", gappy)):
        rec = load(p)
        out[name] = (rec, analyse(rec)[0])
    out["dir"] = base
    return out


def read_csv(path):
    """A CSV export read with numpy: the '#' header lines skipped, columns by name."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return np.genfromtxt(io.StringIO("\n".join(lines)), delimiter=",", names=True, dtype=None, encoding="utf-8")


def edf_of(session, name, tmp_path):
    rec, analysis = session[name]
    path = export_edf(rec, analysis, tmp_path / f"{name}.edf")
    return rec, analysis, pyedflib.EdfReader(str(path))


def emg_lead_samples(reader) -> int:
    """EMG samples of padding before the first recorded sample (from the BAD_no_data annotation)."""
    onsets, durations, texts = reader.readAnnotations()
    pads = [d for o, d, t in zip(onsets, durations, texts) if t == "BAD_no_data EMG: padding" and o == 0]
    return int(round(pads[0] * reader.getSampleFrequency(0))) if pads else 0


def test_edf_holds_every_emg_sample_losslessly_with_labels_rates_and_units(session, tmp_path):
    rec, analysis, f = edf_of(session, "demo", tmp_path)
    try:
        assert f.getSignalLabels() == ["EMG GMax L", "EMG GMax R", "Acc X", "Acc Y", "Acc Z", "Gyro X", "Gyro Y",
                                       "Gyro Z", "Pelvis tilt", "Pelvis obliq"]
        assert list(f.getSampleFrequencies()) == [2000.0] * 2 + [104.0] * 8
        assert [f.getPhysicalDimension(i) for i in (0, 2, 5, 8)] == ["uV", "g", "deg/s", "deg"]
        assert f.getPatientCode() == SUBJECT
        assert "glute_max_left" in f.getTransducer(0)
        lead = emg_lead_samples(f)
        ref = rec.emg_uV(0)
        for ch in range(2):
            # Digital values are the ADC codes - 2048: lossless.
            digital = f.readSignal(ch, digital=True)[lead:lead + ref.shape[1]]
            np.testing.assert_array_equal(digital, (rec.emg[0].samples[ch] & 0x0FFF).astype(int) - 2048)
            # In µV, within the header's rounding of the physical range: far below half a step.
            step_uV = (f.getPhysicalMaximum(ch) - f.getPhysicalMinimum(ch)) / (
                f.getDigitalMaximum(ch) - f.getDigitalMinimum(ch))
            np.testing.assert_allclose(f.readSignal(ch)[lead:lead + ref.shape[1]], ref[ch], rtol=0,
                                       atol=0.5 * step_uV)
            assert ref[ch].min() > f.getPhysicalMinimum(ch) and ref[ch].max() < f.getPhysicalMaximum(ch)
    finally:
        f.close()


def _sensor_rate_hz(rec):
    """The IMU's own rate on the wearable's clock, by a straight-line fit of its frames' anchors."""
    idx, t_us = rec.imu[0].anchors
    return 1e6 / np.polyfit(idx.astype(float), t_us.astype(float), 1)[0]


def test_edf_imu_is_held_on_the_emg_timeline_at_the_sensors_own_rate(session, tmp_path):
    # The virtual IMU's oscillator is 0.8 % fast, as a real one may be (+-1.5 %): written
    # back to back at the nominal 104 Hz its samples would end 0.4 s late in this
    # recording. The EDF holds, at each point of its 104 Hz grid, the sample in force then.
    rec, analysis, f = edf_of(session, "demo", tmp_path)
    try:
        onsets, durations, texts = f.readAnnotations()
        imu_pad = [d for o, d, t in zip(onsets, durations, texts) if t == "BAD_no_data IMU: padding" and o == 0]
        lead = int(round(imu_pad[0] * 104)) if imu_pad else 0
        raw = rec.imu[0].samples
        n = raw.shape[1]
        rate = _sensor_rate_hz(rec)
        assert rate / 104 - 1 == pytest.approx(0.008, abs=0.001)
        k = np.floor(np.arange(n) * rate / 104 + 1e-6).astype(int).clip(0, n - 1)
        for row in range(6):
            got = f.readSignal(2 + row, digital=True)[lead:lead + n]
            near = np.stack([raw[row][(k + d).clip(0, n - 1)] for d in (-1, 0, 1)])
            assert np.all((near == got).any(axis=0)), f"IMU row {row} is not held on the sensor's clock"
            assert not np.array_equal(got, raw[row])  # back to back would have been wrong
        # The IMU sits where the wearable's clock puts it relative to the EMG, to one IMU sample.
        emg_t0 = emg_lead_samples(f) / 2000.0
        assert abs(lead / 104.0 - (emg_t0 + imu_offset_s(rec, 0))) <= 0.5 / 104 + 1e-9
        tilt = f.readSignal(8)[lead:lead + n]
        held = analysis.pelvis_deg[0][np.stack([(k + d).clip(0, n - 1) for d in (-1, 0, 1)])]
        assert np.all((np.abs(held - tilt) <= 360 / 65535).any(axis=0))
        # The start is the whole second before the first sample of any signal: the IMU's
        # when it began before the EMG (then the EMG may start in the next second).
        start = f.getStartdatetime()
        first = start_datetime(rec, 0).replace(tzinfo=None)
        imu_lead = dt.timedelta(seconds=max(0.0, -imu_offset_s(rec, 0)))
        assert start <= first - imu_lead < start + dt.timedelta(seconds=1)
        assert first - start == pytest.approx(dt.timedelta(seconds=emg_t0), abs=dt.timedelta(milliseconds=1))
    finally:
        f.close()


def test_edf_annotations_name_the_reps_cues_and_scores(session, tmp_path):
    rec, analysis, f = edf_of(session, "demo", tmp_path)
    try:
        lead_s = emg_lead_samples(f) / 2000.0
        onsets, durations, texts = f.readAnnotations()
        notes = {t: (o, d) for o, d, t in zip(onsets, durations, texts)}
        first_rep = analysis.reps[0]
        rep1 = [t for t in texts if t.startswith("rep 1:")]
        assert len(rep1) == 1
        assert notes[rep1[0]][0] == pytest.approx(lead_s + first_rep.start_s, abs=1e-6)
        assert notes[rep1[0]][1] == pytest.approx(first_rep.duration_s, abs=1e-6)
        assert "cue squeeze right" in notes and "cue squeeze left" in notes
        scores = [t for t in texts if t.startswith("squeeze score ")]
        assert {t.split()[2] for t in scores} == {"right", "left"}
        assert not [t for t in texts if t.startswith("BAD_gap")]
    finally:
        f.close()


def test_edf_marks_each_gap_exactly_and_fills_it_with_zero(session, tmp_path):
    rec, analysis, f = edf_of(session, "gappy", tmp_path)
    try:
        lead = emg_lead_samples(f)
        onsets, durations, texts = f.readAnnotations()
        gaps = [(o, d) for o, d, t in zip(onsets, durations, texts) if t.startswith("BAD_gap EMG")]
        a, b = EMG_SKIP
        assert gaps == [(pytest.approx((lead + a) / 2000.0, abs=1e-6), pytest.approx((b - a) / 2000.0, abs=1e-6))]
        imu_gaps = [t for t in texts if t.startswith("BAD_gap IMU")]
        assert imu_gaps == [f"BAD_gap IMU: {IMU_SKIP[1] - IMU_SKIP[0]} samples missing"]
        x = f.readSignal(0, digital=True)
        ref = rec.emg[0].samples[0]
        assert np.all(x[lead + a:lead + b] == 0)
        np.testing.assert_array_equal(x[lead + b:lead + ref.size], (ref[b:] & 0x0FFF).astype(int) - 2048)
    finally:
        f.close()


def test_c3d_read_by_ezc3d_holds_the_emg_imu_units_and_events(session, tmp_path):
    rec, analysis = session["gappy"]
    path = export_c3d(rec, analysis, tmp_path / "gappy.c3d")
    c = ezc3d.c3d(str(path))
    analog = c["parameters"]["ANALOG"]
    assert analog["LABELS"]["value"][:4] == ["EMG GMax L", "EMG GMax R", "Acc X", "Acc Y"]
    assert analog["UNITS"]["value"][:3] == ["uV", "uV", "g"]
    assert analog["UNITS"]["value"][5:] == ["deg/s", "deg/s", "deg/s", "deg", "deg"]
    assert analog["RATE"]["value"][0] == 2000.0
    data = c["data"]["analogs"][0]
    ref = rec.emg_uV(0)
    n = ref.shape[1]
    # float32 in the file: equal to the recording within float32 rounding (|x| x 2^-24).
    np.testing.assert_allclose(data[:2, :n], ref, rtol=2.0 ** -23, atol=0, equal_nan=True)
    assert np.array_equal(np.isnan(data[0, :n]), np.isnan(ref[0]))
    assert np.all(np.isnan(data[0, EMG_SKIP[0]:EMG_SKIP[1]]))
    # The IMU is held at the EMG rate: each held value is one of the recorded readings.
    acc_x = rec.imu[0].samples[0] * rec.device_info.acc_g_per_lsb
    held = data[2, 4000:4100]
    assert np.min(np.abs(held[:, None] - acc_x[None, :]), axis=1).max() < 1e-6
    events = c["parameters"]["EVENT"]
    labels = events["LABELS"]["value"]
    times = np.asarray(events["TIMES"]["value"])
    assert events["USED"]["value"][0] == len(labels)
    k = labels.index("BAD_gap EMG: 400 samples missing")
    assert times[1, k] == pytest.approx(EMG_SKIP[0] / 2000.0, abs=1e-4)
    assert any(label.startswith("rep 1:") for label in labels)


def test_csv_round_trips_the_samples_gaps_reps_and_scores(session, tmp_path):
    rec, analysis = session["gappy"]
    files = export_csv(rec, analysis, tmp_path / "csv")
    assert [p.name for p in files] == ["emg.csv", "imu.csv", "gaps.csv", "reps.csv", "squeeze.csv",
                                       "annotations.csv"]
    emg = read_csv(tmp_path / "csv" / "emg.csv")
    assert emg.dtype.names == ("t_s", "glute_max_left_uV", "glute_max_right_uV")
    ref = rec.emg_uV(0)
    np.testing.assert_array_equal(emg["glute_max_left_uV"], ref[0])  # exact, NaN where missing
    np.testing.assert_array_equal(emg["t_s"], np.arange(ref.shape[1]) / 2000.0)
    header = (tmp_path / "csv" / "emg.csv").read_text().splitlines()[:6]
    assert any("nan: sample missing" in line for line in header)
    assert any(SUBJECT in line for line in header)
    imu = read_csv(tmp_path / "csv" / "imu.csv")
    assert imu.dtype.names[-2:] == ("tilt_deg", "obliquity_deg")
    assert np.all(np.isnan(imu["acc_x_g"][IMU_SKIP[0]:IMU_SKIP[1]]))
    assert imu["t_s"][0] == pytest.approx(imu_offset_s(rec, 0))
    # Every IMU sample, at its time on the EMG's clock: the sensor's own rate, not 104 Hz.
    n_imu = len(imu["t_s"])
    span_s = imu["t_s"][-1] - imu["t_s"][0]
    assert span_s == pytest.approx((n_imu - 1) / _sensor_rate_hz(rec), abs=2 / 104)
    assert abs(span_s - (n_imu - 1) / 104) > 0.3
    gaps = read_csv(tmp_path / "csv" / "gaps.csv")
    rows = {(str(g["stream"]), int(g["first_sample"]), int(g["n_samples"])) for g in np.atleast_1d(gaps)}
    assert rows == {("emg", EMG_SKIP[0], EMG_SKIP[1] - EMG_SKIP[0]), ("imu", IMU_SKIP[0], IMU_SKIP[1] - IMU_SKIP[0])}
    reps = read_csv(tmp_path / "csv" / "reps.csv")
    assert len(reps) == len(analysis.reps) >= 1
    np.testing.assert_array_equal(reps["si_pct"], [r.si_pct for r in analysis.reps])
    squeeze = read_csv(tmp_path / "csv" / "squeeze.csv")
    assert [str(s) for s in squeeze["side"]] == ["right", "left"]
    np.testing.assert_array_equal(squeeze["total"], [s.total for s in analysis.stats.squeeze_scores])
    assert [str(w) for w in squeeze["weaker"]] == ["no", "yes"]


def test_export_cli_refuses_an_existing_output_and_an_unreadable_recording(session, tmp_path):
    src = session["dir"] / "demo.glutes"
    out = tmp_path / "x.edf"
    assert run_cli("export", src, "--format", "edf", "-o", out)[0] == ExitStatus.OK
    status, _, err = run_cli("export", src, "--format", "edf", "-o", out)
    assert status == ExitStatus.IO_ERROR
    assert err.count("\n") == 1 and "exists already" in err and "--force" in err
    assert run_cli("export", src, "--format", "edf", "-o", out, "--force")[0] == ExitStatus.OK
    bad = tmp_path / "broken.glutes"
    bad.mkdir()
    status, _, err = run_cli("export", bad, "--format", "csv")
    assert status == ExitStatus.IO_ERROR and "frames.log" in err and err.count("\n") == 1
    status, _, err = run_cli("export", tmp_path / "missing.glutes", "--format", "c3d")
    assert status == ExitStatus.IO_ERROR and "does not exist" in err
