"""The EDF+ and C3D writers against independent readers, on hand-made known answers."""
from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from glutescope.export.c3dfile import C3dAnalogFile, C3dParam, frame_rate_for
from glutescope.export.edfplus import EdfNote, EdfPlusWriter, EdfSignalSpec

pyedflib = pytest.importorskip("pyedflib")
ezc3d = pytest.importorskip("ezc3d")

START = dt.datetime(2026, 3, 4, 10, 0, 5, 878558)  # a fraction whose sums a float prints badly


def _edf(path, n_records=20):
    x = np.arange(n_records * 100) % 200 - 100  # a saw, digital = physical here
    spec = EdfSignalSpec("Saw", "uV", -32768, 32767, -32768, 32767, 100, transducer="test")
    notes = [EdfNote(1.25, 0.5, "rep 1"), EdfNote(17.0005, 0, "late one")]
    with EdfPlusWriter(path, [spec], start=START, n_records=n_records, notes=notes, patient_code="P 1") as w:
        for r in range(0, n_records, 3):  # chunks of 3 records, the last one short
            w.write_records([x[r * 100:min(n_records, r + 3) * 100]])
    return x


def test_edf_keeps_the_fraction_of_its_start_in_exact_time_keeping_annotations(tmp_path):
    path = tmp_path / "x.edf"
    x = _edf(path)
    raw = path.read_bytes()
    # Every record's time-keeping TAL is an exact decimal: "+16.878558", never the
    # binary float's "+16.878557999999998" (EDFlib refuses such a file).
    for r in (0, 1, 16, 19):
        assert f"+{r}.878558\x14\x14\x00".encode() in raw
    assert b"+2.128558\x150.5\x14rep 1\x14\x00" in raw  # onset 1.25 s after the first sample
    f = pyedflib.EdfReader(str(path))
    try:
        np.testing.assert_array_equal(f.readSignal(0, digital=True), x)
        onsets, durations, texts = f.readAnnotations()
        assert list(texts) == ["rep 1", "late one"]
        np.testing.assert_allclose(onsets, [1.25, 17.0005], atol=1e-9)  # from the first sample
        assert f.starttime_subsecond == 8785580  # units of 100 ns
        assert f.getPatientCode() == "P 1" and f.datarecords_in_file == 20  # EDFlib shows "_" as a space
    finally:
        f.close()


def test_edf_writer_refuses_the_wrong_number_of_samples_or_records(tmp_path):
    spec = EdfSignalSpec("S", "uV", -1, 1, -32768, 32767, 10)
    w = EdfPlusWriter(tmp_path / "y.edf", [spec], start=START, n_records=2).open()
    with pytest.raises(ValueError, match="is not 1 records of 10"):
        w.write_records([np.zeros(15)])
    w.write_records([np.zeros(10)])
    with pytest.raises(ValueError, match="1 records written, 2 announced"):
        w.close()


def test_c3d_frames_stream_in_chunks_and_read_back_exactly(tmp_path):
    path = tmp_path / "x.c3d"
    rng = np.random.default_rng(1)
    data = rng.normal(size=(3, 2000 * 3)).astype(np.float32)
    data[1, 10:20] = np.nan
    texts = ["rep 1: a description longer than thirty-two characters", "cue squeeze left"]
    events = [("EVENT", "Events", [
        C3dParam("USED", 2, "events"), C3dParam("LABELS", ["rep 1", "cue squeeze left"]),
        C3dParam("DESCRIPTIONS", texts), C3dParam("CONTEXTS", ["General", "Left"]),
        C3dParam("TIMES", np.array([[0.0, 1.5], [1.0, 2.25]], np.float32).ravel(), dims=(2, 2))])]
    with C3dAnalogFile(path, analog_rate_hz=2000, frame_rate_hz=100, n_frames=300, labels=["A", "B", "C"],
                       units=["uV", "g", "deg"], descriptions=["a", "b", "c"], groups=events) as w:
        for a in range(0, 6000, 1000):
            w.write_frames(data[:, a:a + 1000])
    c = ezc3d.c3d(str(path))
    np.testing.assert_array_equal(c["data"]["analogs"][0], data)
    p = c["parameters"]
    assert p["ANALOG"]["LABELS"]["value"] == ["A", "B", "C"] and p["ANALOG"]["UNITS"]["value"] == ["uV", "g", "deg"]
    assert p["EVENT"]["DESCRIPTIONS"]["value"] == texts and p["EVENT"]["CONTEXTS"]["value"] == ["General", "Left"]
    np.testing.assert_array_equal(np.asarray(p["EVENT"]["TIMES"]["value"]), [[0.0, 1.0], [1.5, 2.25]])
    import c3d

    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No point data found", category=UserWarning)
        r = c3d.Reader(fh)
        got = np.hstack([analog for _, _, analog in r.read_frames()])
        assert (r.first_frame, r.last_frame, r.analog_rate, r.point_rate) == (1, 300, 2000.0, 100.0)
    np.testing.assert_array_equal(got, data)


def test_c3d_frame_rate_drops_only_when_the_session_would_pass_65535_frames():
    assert frame_rate_for(2000, 56 * 2000, 12) == 100.0
    assert frame_rate_for(2000, 3600 * 2000, 12) == 10.0  # 100 Hz: 360000 frames
    assert frame_rate_for(2000, 8 * 3600 * 2000, 12) == 2.0
    assert frame_rate_for(1000, 600 * 1000, 4) == 100.0
    with pytest.raises(ValueError, match="do not fit"):
        frame_rate_for(2000, 40 * 3600 * 2000, 12)


def test_c3d_with_more_than_32767_frames_reads_back_whole(tmp_path):
    # POINT:FRAMES is a 16-bit word: above 32767 readers must take it unsigned.
    path = tmp_path / "long.c3d"
    data = (np.arange(80_000, dtype=np.float32) % 1000)[None, :]
    with C3dAnalogFile(path, analog_rate_hz=20, frame_rate_hz=10, n_frames=40_000, labels=["A"], units=["uV"],
                       descriptions=["a"]) as w:
        w.write_frames(data)
    c = ezc3d.c3d(str(path))
    assert c["parameters"]["POINT"]["FRAMES"]["value"][0] == 40_000
    np.testing.assert_array_equal(c["data"]["analogs"][0], data)


@pytest.mark.parametrize("fs", [500.0, 1000.0, 1500.0, 2000.0])
def test_csv_times_are_written_as_python_writes_them_whatever_the_rate(fs):
    # The CSV's t_s column is built in numpy for speed; it must be the text Python's
    # repr gives (the shortest that reads back as the same float), to the last sample
    # of a day, rates that divide a second exactly and 1500 Hz alike.
    from glutescope.export.csvfiles import _time_text

    for a, b in ((0, 3 * int(fs) + 7), (int(8 * 3600 * fs) - 1001, int(8 * 3600 * fs) + 999)):
        text = _time_text(a, b, fs)
        got = [bytes(row[row != 0]).decode("ascii") for row in text]
        assert got == [repr(j / fs) for j in range(a, b)]
        assert all(float(t) == j / fs for t, j in zip(got, range(a, b)))


def test_c3d_writer_refuses_parameters_past_255_blocks_before_creating_the_file(tmp_path):
    # The header gives the parameter section's length in one byte of 512-byte blocks.
    path = tmp_path / "big.c3d"
    names = [("x" * 100) for _ in range(255)]
    groups = [("EVENT", "Events", [C3dParam(f"LABELS{k or ''}", names) for k in range(6)])]
    w = C3dAnalogFile(path, analog_rate_hz=2000, frame_rate_hz=100, n_frames=1, labels=["A"], units=["uV"],
                      descriptions=["a"], groups=groups)
    assert w.parameter_blocks() > 255
    with pytest.raises(ValueError, match="255"):
        w.open()
    assert not path.exists()


def test_c3d_parameter_past_32767_bytes_is_refused_with_its_name():
    # Its offset to the next parameter is a signed 16-bit count.
    with pytest.raises(ValueError, match="DESCRIPTIONS.*32767"):
        C3dParam("DESCRIPTIONS", ["y" * 200] * 255).encode(1)
