"""Exports read back by readers independent of the writers: EDF+ written with edfio is
read with pyedflib (the C EDFlib) and MNE, C3D written with the ``c3d`` package is read
with ezc3d and the ``c3d`` package's own reader, CSV with numpy and pandas."""
from __future__ import annotations

import datetime as dt
import io
import warnings

import numpy as np
import pytest

from export_fixtures import EMG_SKIP, IMU_SKIP, SUBJECT, copy_with_gaps, record_demo, run_cli
from live_pelvis import live_pelvis_deg
from glutescope.analysis import analyse
from glutescope.export import (C3D_LABEL_CHARS, export_c3d, export_csv, export_edf, imu_offset_s,
                               session_annotations, start_datetime)
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
    # The same body model and seed, the breakout strapped on upright and flat.
    upright = record_demo(base / "upright.glutes", duration_s=12.0)
    flat = record_demo(base / "flat.glutes", duration_s=12.0, imu_mount="flat")
    out = {}
    for name, p in (("demo", path), ("gappy", gappy), ("upright", upright), ("flat", flat)):
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


def edf_start(reader) -> dt.datetime:
    """Start of an EDF+ file to the microsecond: the header's second plus the first data
    record's time-keeping offset (EDFlib reports it in units of 100 ns; pyedflib 0.1.42's
    getStartdatetime divides it by 100, not 10, so it is read here)."""
    whole = reader.getStartdatetime().replace(microsecond=0)
    return whole + dt.timedelta(microseconds=reader.starttime_subsecond / 10)


def test_edf_holds_every_emg_sample_losslessly_with_labels_rates_and_units(session, tmp_path):
    rec, analysis, f = edf_of(session, "demo", tmp_path)
    try:
        assert f.getSignalLabels() == ["EMG GMax L", "EMG GMax R", "Acc X body", "Acc Y body", "Acc Z body",
                                       "Gyro X body", "Gyro Y body", "Gyro Z body", "Pelvis tilt", "Pelvis obliq"]
        assert list(f.getSampleFrequencies()) == [2000.0] * 2 + [104.0] * 8
        assert [f.getPhysicalDimension(i) for i in (0, 2, 5, 8)] == ["uV", "g", "deg/s", "deg"]
        assert f.getPatientCode() == SUBJECT
        assert "glute_max_left" in f.getTransducer(0)
        lead = 0  # sample 0 of the file is the first EMG sample: nothing padded in front
        ref = rec.emg_uV(0)
        for ch in range(2):
            # Digital values are the ADC codes - 2048: lossless.
            # (A busy machine may cost the virtual link a frame: its gap holds filler 0.)
            digital = f.readSignal(ch, digital=True)[lead:lead + ref.shape[1]]
            ok = ~np.isnan(ref[ch])
            np.testing.assert_array_equal(digital[ok], (rec.emg[0].samples[ch][ok] & 0x0FFF).astype(int) - 2048)
            assert np.all(digital[~ok] == 0)
            # In µV, within the header's rounding of the physical range: far below half a step.
            step_uV = (f.getPhysicalMaximum(ch) - f.getPhysicalMinimum(ch)) / (
                f.getDigitalMaximum(ch) - f.getDigitalMinimum(ch))
            np.testing.assert_allclose(f.readSignal(ch)[lead:lead + ref.shape[1]][ok], ref[ch][ok], rtol=0,
                                       atol=0.5 * step_uV)
            assert np.nanmin(ref[ch]) > f.getPhysicalMinimum(ch) and np.nanmax(ref[ch]) < f.getPhysicalMaximum(ch)
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
        raw = rec.imu[0].samples
        n = raw.shape[1]
        rate = _sensor_rate_hz(rec)
        assert rate / 104 - 1 == pytest.approx(0.008, abs=0.001)
        # The IMU's grid starts at the first EMG sample; its first sample is where the
        # wearable's clock puts it relative to the EMG, to one IMU sample.
        off = imu_offset_s(rec, 0)
        lead = max(0, int(np.ceil(off * 104 - 1e-9)))
        onsets, durations, texts = f.readAnnotations()
        if lead:
            assert (0.0, "BAD_no_data IMU: before the IMU's first sample") in [
                (o, t) for o, t in zip(onsets, texts)]
        m = int((n - 2) * 104 / rate) - lead - 2  # grid points with a sample in force
        k = np.floor((np.arange(m) + lead - off * 104) * rate / 104 + 1e-6).astype(int).clip(0, n - 1)
        for row in range(6):
            got = f.readSignal(2 + row, digital=True)[lead:lead + m]
            near = np.stack([raw[row][(k + d).clip(0, n - 1)] for d in (-1, 0, 1)])
            assert np.all((near == got).any(axis=0)), f"IMU row {row} is not held on the sensor's clock"
            assert not np.array_equal(got, raw[row][:m])  # back to back would have been wrong
        tilt = f.readSignal(8)[lead:lead + m]
        held = live_pelvis_deg(rec)[0][np.stack([(k + d).clip(0, n - 1) for d in (-1, 0, 1)])]
        assert np.all((np.abs(held - tilt) <= 360 / 65535).any(axis=0))
        # The file starts at the first EMG sample, to the microsecond.
        first = start_datetime(rec, 0).replace(tzinfo=None)
        assert edf_start(f) == pytest.approx(first, abs=dt.timedelta(microseconds=1))
    finally:
        f.close()


def test_edf_annotations_name_the_reps_cues_and_scores(session, tmp_path):
    rec, analysis, f = edf_of(session, "demo", tmp_path)
    try:
        lead_s = 0.0
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
        lead = 0
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
    assert analog["LABELS"]["value"][:4] == ["EMG GMax L", "EMG GMax R", "Acc X body", "Acc Y body"]
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
    k = labels.index("BAD_gap EMG")
    assert events["DESCRIPTIONS"]["value"][k] == "BAD_gap EMG: 400 samples missing"
    assert 60 * times[0, k] + times[1, k] == pytest.approx(EMG_SKIP[0] / 2000.0, abs=1e-5)
    assert "rep 1" in labels


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
    assert imu.dtype.names == ("t_s", "acc_x_body_g", "acc_y_body_g", "acc_z_body_g", "gyro_x_body_dps",
                               "gyro_y_body_dps", "gyro_z_body_dps", "tilt_deg", "obliquity_deg")
    assert np.all(np.isnan(imu["acc_x_body_g"][IMU_SKIP[0]:IMU_SKIP[1]]))
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


def _c3d_reader(fh):
    """The ``c3d`` package's reader, which warns that a file without 3D points has none:
    these exports are analog only by design."""
    import c3d

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No point data found", category=UserWarning)
        return c3d.Reader(fh)


def _exports(session, name, tmp_path):
    rec, analysis = session[name]
    edf = export_edf(rec, analysis, tmp_path / f"{name}.edf")
    c3d_path = export_c3d(rec, analysis, tmp_path / f"{name}.c3d")
    export_csv(rec, analysis, tmp_path / f"{name}-csv")
    return rec, analysis, edf, c3d_path, tmp_path / f"{name}-csv"


def test_every_reader_puts_every_event_at_the_same_time_with_its_whole_text(session, tmp_path):
    # One time base: t = 0 is the first EMG sample in all three formats. (The EDF+ once
    # started at the whole second before it and put every event 0.5 s late, say.)
    mne = pytest.importorskip("mne")
    pd = pytest.importorskip("pandas")

    rec, analysis, edf, c3d_path, csv_dir = _exports(session, "gappy", tmp_path)
    truth = session_annotations(rec, analysis)
    assert len(truth) > 10 and any(len(a.text) > C3D_LABEL_CHARS for a in truth)

    f = pyedflib.EdfReader(str(edf))
    try:
        on, dur, txt = f.readAnnotations()
        start = edf_start(f)
    finally:
        f.close()
    edf_notes = [(o, t) for o, t in zip(on, txt) if not t.startswith("BAD_no_data")]
    raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
    mne_notes = [(a["onset"], a["description"]) for a in raw.annotations
                 if not a["description"].startswith("BAD_no_data")]
    csv_notes = pd.read_csv(csv_dir / "annotations.csv", comment="#", float_precision="round_trip")
    ez = ezc3d.c3d(str(c3d_path))["parameters"]["EVENT"]
    ez_t = np.asarray(ez["TIMES"]["value"], float)
    with open(c3d_path, "rb") as fh:
        group = _c3d_reader(fh).get("EVENT")
        c3_t = np.asarray(group.get("TIMES").float_array, float).reshape(-1, 2).T
        c3_labels = [x.strip() for x in group.get("LABELS").string_array]
        c3_desc = [x.strip() for x in group.get("DESCRIPTIONS").string_array]

    assert len(edf_notes) == len(mne_notes) == len(csv_notes) == ez["USED"]["value"][0] == len(c3_desc) == len(truth)
    for i, a in enumerate(sorted(truth, key=lambda x: (round(x.onset_s, 6), x.text))):
        assert edf_notes[i] == (pytest.approx(a.onset_s, abs=1e-6), a.text)
        assert mne_notes[i] == (pytest.approx(a.onset_s, abs=1e-6), a.text)
    for i, a in enumerate(truth):
        assert (csv_notes["onset_s"][i], csv_notes["text"][i]) == (a.onset_s, a.text)
        for t, labels, desc in ((ez_t, ez["LABELS"]["value"], ez["DESCRIPTIONS"]["value"]),
                                (c3_t, c3_labels, c3_desc)):
            assert 60 * t[0, i] + t[1, i] == pytest.approx(a.onset_s, abs=1e-5)
            assert desc[i] == a.text and len(labels[i]) <= C3D_LABEL_CHARS and a.text.startswith(labels[i][:3])
    # The wall-clock start: the first EMG sample in the EDF+ header and in the CSV header.
    first = start_datetime(rec, 0)
    assert start == pytest.approx(first.replace(tzinfo=None), abs=dt.timedelta(microseconds=1))
    assert f"first EMG sample at {first.isoformat(timespec='milliseconds')}" in (csv_dir / "emg.csv").read_text()


def test_every_reader_reads_the_same_emg_sample_at_the_same_time(session, tmp_path):
    mne = pytest.importorskip("mne")
    pd = pytest.importorskip("pandas")

    rec, analysis, edf, c3d_path, csv_dir = _exports(session, "gappy", tmp_path)
    ref = rec.emg_uV(0)
    n = ref.shape[1]
    valid = ~np.isnan(ref)
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    assert raw.ch_names[:2] == ["EMG GMax L", "EMG GMax R"]
    mne_uV = raw.get_data(picks=[0, 1])[:, :n] * 1e6
    np.testing.assert_array_equal(raw.times[:n], np.arange(n) / 2000.0)
    step_uV = (rec.device_info.vref_mV / 4096 * 1000 / rec.device_info.emg_gain)
    assert np.abs(mne_uV - ref)[valid].max() < 0.01 * step_uV
    assert np.abs(mne_uV[~valid]).max() < 0.01 * step_uV  # filler 0, under a BAD_ annotation
    table = pd.read_csv(csv_dir / "emg.csv", comment="#", float_precision="round_trip")
    np.testing.assert_array_equal(table["t_s"], np.arange(n) / 2000.0)
    np.testing.assert_array_equal(table[["glute_max_left_uV", "glute_max_right_uV"]].to_numpy().T, ref)
    ez = ezc3d.c3d(str(c3d_path))["data"]["analogs"][0][:2, :n]
    with open(c3d_path, "rb") as fh:
        reader = _c3d_reader(fh)
        c3 = np.hstack([a for _, _, a in reader.read_frames()])[:2, :n]
        assert reader.first_frame == 1 and reader.analog_rate == 2000.0
    for got in (ez, c3):
        np.testing.assert_allclose(got, ref, rtol=2.0 ** -23, atol=0, equal_nan=True)


def test_imu_is_in_body_axes_under_body_labels_for_either_mount(session, tmp_path):
    # The same body moved the same way with the breakout upright and flat: the sensor
    # saw different axes (flat: its x up the spine), the exports must show the same
    # body axes. (The EDF+ once held the flat sensor's raw axes under body labels.)
    out = {}
    for name in ("upright", "flat"):
        rec, analysis, edf, c3d_path, csv_dir = _exports(session, name, tmp_path)
        f = pyedflib.EdfReader(str(edf))
        try:
            on, dur, txt = f.readAnnotations()
            filler = np.zeros(f.getNSamples()[2], bool)
            for o, d, t in zip(on, dur, txt):
                if t.startswith("BAD_no_data IMU"):
                    filler[int(round(o * 104)):int(round((o + d) * 104))] = True
            edf_rows = np.stack([f.readSignal(2 + i) for i in range(6)])[:, ~filler]
            csv = read_csv(csv_dir / "imu.csv")
            out[name] = dict(raw_mean=rec.imu[0].samples[:3].mean(axis=1) * rec.device_info.acc_g_per_lsb,
                             labels=f.getSignalLabels()[2:8], transducer=f.getTransducer(2),
                             edf_mean=edf_rows.mean(axis=1),
                             c3d_mean=np.nanmean(ezc3d.c3d(str(c3d_path))["data"]["analogs"][0][2:8], axis=1),
                             csv=np.stack([csv[c] for c in csv.dtype.names[1:7]]),
                             header=(csv_dir / "imu.csv").read_text().splitlines()[4])
        finally:
            f.close()
    up, flat = out["upright"], out["flat"]
    assert up["labels"] == flat["labels"] == ["Acc X body", "Acc Y body", "Acc Z body", "Gyro X body",
                                              "Gyro Y body", "Gyro Z body"]
    assert "mount flat" in flat["transducer"] and "mount upright" in up["transducer"]
    assert "body axes" in flat["header"] and "mount flat" in flat["header"]
    # The sensor's own readings differ by about 1 g (gravity on another of its axes) ...
    assert np.abs(up["raw_mean"] - flat["raw_mean"]).max() > 0.5
    # ... every body axis agrees sample by sample in the CSV (within a step of either
    # sensor), and the EDF+ and C3D of each recording hold the axes its CSV holds (the
    # same session's means: a raw axis would be off by about 1 g).
    info = session["flat"][0].device_info
    n = min(up["csv"].shape[1], flat["csv"].shape[1])
    np.testing.assert_allclose(flat["csv"][:3, :n], up["csv"][:3, :n], atol=1.01 * info.acc_g_per_lsb)
    np.testing.assert_allclose(flat["csv"][3:, :n], up["csv"][3:, :n], atol=1.01 * info.gyro_dps_per_lsb)
    for mount in (up, flat):
        csv_mean = np.nanmean(mount["csv"], axis=1)
        for key in ("edf_mean", "c3d_mean"):
            np.testing.assert_allclose(mount[key][:3], csv_mean[:3], atol=0.01)  # g
            np.testing.assert_allclose(mount[key][3:], csv_mean[3:], atol=0.5)  # deg/s


def test_exports_read_in_chunks_equal_those_of_the_whole_recording(session, tmp_path):
    # `glutescope export` opens the recording with load_summary (no EMG in memory) and
    # the exports read it again chunk by chunk: the files must be byte for byte those
    # made from the recording loaded whole, gaps and all.
    from glutescope.chunked import load_summary

    whole, analysis = session["gappy"]
    rec = load_summary(whole.path)
    assert rec.emg[0].samples.shape[1] == 0  # nothing of the EMG held
    streamed = analyse(rec)[0]
    assert streamed.reps == analysis.reps and streamed.adc_flagged == analysis.adc_flagged
    for name, fn in (("edf", export_edf), ("c3d", export_c3d)):
        a = fn(whole, analysis, tmp_path / f"whole.{name}").read_bytes()
        b = fn(rec, streamed, tmp_path / f"chunks.{name}").read_bytes()
        assert a == b, name
    written = export_csv(whole, analysis, tmp_path / "whole-csv")
    export_csv(rec, streamed, tmp_path / "chunks-csv")
    for p in written:
        assert p.read_bytes() == (tmp_path / "chunks-csv" / p.name).read_bytes(), p.name


def test_c3d_of_more_events_than_its_parameters_hold_keeps_the_gaps_and_says_what_it_left_out(session, tmp_path):
    """C3D's parameter section is at most 255 blocks of 512 bytes: a long day of markers
    and reps does not fit. The file is still written and readable, with the gaps first,
    and the one-line note says how many events it holds."""
    import dataclasses

    rec, analysis = session["gappy"]
    n_emg = rec.emg[0].n_samples
    many = tuple({"emg_sample": int(k), "label": f"set {i}"}
                 for i, k in enumerate(np.linspace(0, n_emg - 1, 6000).astype(int)))
    crowded = dataclasses.replace(rec, markers=many)
    notes = []
    path = export_c3d(crowded, analysis, tmp_path / "crowded.c3d", on_note=notes.append)
    c = ezc3d.c3d(str(path))
    events = c["parameters"]["EVENT"]
    labels = [v for key in sorted(k for k in events if k.startswith("LABELS")) for v in events[key]["value"]]
    used = events["USED"]["value"][0]
    assert 1000 < used < 6000 + len(analysis.reps) and used == len(labels)
    assert "BAD_gap EMG" in labels and "BAD_gap IMU" in labels
    assert "DESCRIPTIONS" not in events  # left out first, before any event
    assert len(notes) == 1 and f"holds {used} of the session's" in notes[0] and "no reps" in notes[0]
    assert "EDF+ and CSV" in notes[0]
    # The EMG is whole whatever the events.
    np.testing.assert_allclose(c["data"]["analogs"][0][:2, :n_emg], rec.emg_uV(0), rtol=2.0 ** -23, atol=0,
                               equal_nan=True)
    # The same session with its few events keeps them all, with descriptions, and says nothing.
    quiet = []
    c = ezc3d.c3d(str(export_c3d(rec, analysis, tmp_path / "plain.c3d", on_note=quiet.append)))
    assert quiet == [] and "DESCRIPTIONS" in c["parameters"]["EVENT"]


def test_c3d_of_hundreds_of_long_descriptions_splits_them_into_parts_ezc3d_reads(session, tmp_path):
    # 255 descriptions of 200 bytes would be one 51 kB parameter, past its int16 offset.
    import dataclasses

    rec, analysis = session["demo"]
    many = tuple({"emg_sample": 100 * i, "label": f"note {i} " + "z" * 190} for i in range(400))
    path = export_c3d(dataclasses.replace(rec, markers=many), analysis, tmp_path / "long.c3d")
    events = ezc3d.c3d(str(path))["parameters"]["EVENT"]
    texts = [v for key in sorted((k for k in events if k.startswith("DESCRIPTIONS")), key=lambda k: int(k[12:] or 1))
             for v in events[key]["value"]]
    assert events["USED"]["value"][0] == len(texts) == 400 + len(session_annotations(rec, analysis))
    assert sum(t.startswith("marker note") for t in texts) == 400
