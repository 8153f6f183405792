"""The mains frequency travels with the recording: a 60 Hz session recorded without
``--mains`` is found to be 60 Hz, stored, and notched at 60 Hz in its report."""
import json
import re
import signal
import subprocess
import sys

import pytest

from export_fixtures import run_cli
from glutescope.analysis import analyse
from glutescope.exitcodes import ExitStatus
from glutescope.mains import MainsFinder, recorded_mains_hz
from glutescope.recording import load
from glutesignal.simulation import simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded_at_60_hz(tmp_path_factory):
    """A session of a virtual wearable humming at 60 Hz in another process, recorded
    with ``glutescope record`` given no ``--mains``."""
    out = tmp_path_factory.mktemp("mains") / "us.glutes"
    with subprocess.Popen([sys.executable, "-m", "glutescope", "virtual", "--exercise", "bridges", "--speed", "4",
                           "--mains", "60"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        try:
            port = re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline())
            assert port, "no ready line from the virtual wearable"
            record = subprocess.run(
                [sys.executable, "-m", "glutescope", "record", str(out), "--virtual-port", port.group(1),
                 "--duration", "10"], capture_output=True, text=True, timeout=180)
            assert record.returncode == 0, record.stderr
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    return out


def test_the_recording_stores_the_detected_60_hz(recorded_at_60_hz):
    meta = json.loads((recorded_at_60_hz / "meta.json").read_text())
    assert meta["mains_hz"] == 60.0 and meta["mains_source"] == "detected"


def test_its_report_is_notched_at_60_hz(recorded_at_60_hz):
    pypdf = pytest.importorskip("pypdf")
    (analysis,) = analyse(load(recorded_at_60_hz))
    assert analysis.stats.mains_hz == 60.0
    assert 60.0 in analysis.stats.notch_hz and all(f % 60.0 == 0 for f in analysis.stats.notch_hz)
    pdf = recorded_at_60_hz.with_name("us.pdf")
    status, _, err = run_cli("report", recorded_at_60_hz, "-o", pdf)
    assert status == ExitStatus.OK, err
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    assert "Mains: 60 Hz (detected in the signal when recorded); notched at 60" in text


def test_the_stored_frequency_wins_over_a_search_and_a_given_one_over_both(recorded_at_60_hz, tmp_path):
    rec = load(recorded_at_60_hz)
    assert recorded_mains_hz(rec.meta) == 60.0
    (given,) = analyse(rec, mains_hz=50.0)
    assert given.stats.mains_hz == 50.0 and given.mains_source == "given for this analysis"
    assert all(f % 50.0 == 0 for f in given.stats.notch_hz)  # only 50 Hz lines (if any) searched


def test_the_finder_restarts_its_stretch_at_a_gap():
    s = simulate("rest", seed=1, duration_s=12.0, mains_hz=60.0)
    finder = MainsFinder(s.emg_fs_hz, 2)
    n = int(3 * s.emg_fs_hz)
    assert not finder.push(0, s.emg_uV[:, :n])
    assert not finder.push(n + 100, s.emg_uV[:, n + 100:2 * n])  # a gap: 3 s + 3 s is not 4 s gap-free
    assert not finder.searched
    assert finder.push(2 * n, s.emg_uV[:, 2 * n:4 * n]) and finder.mains_hz == 60.0


def test_recorded_mains_ignores_what_is_not_a_mains_frequency():
    assert recorded_mains_hz({}) is None and recorded_mains_hz(None) is None
    assert recorded_mains_hz({"mains_hz": None}) is None and recorded_mains_hz({"mains_hz": "x"}) is None
    assert recorded_mains_hz({"mains_hz": 55}) is None and recorded_mains_hz({"mains_hz": 50}) == 50.0


def test_record_imports_the_mains_search_before_the_stream_starts(tmp_path):
    # Importing it (and scipy) once the stream ran stalled the loop for 1-2 s: the virtual
    # wearable's IMU FIFO overflowed and seconds of IMU vanished without a gap, shifting
    # every pelvis angle against the EMG. Checked in a fresh interpreter (in this one
    # scipy is imported already) at the moment the transport is made, before any frame.
    probe = (
        "import sys, glutescope.session as s\n"
        "def refuse(options):\n"
        "    print('mains imported' if 'glutescope.mains' in sys.modules else 'mains not imported')\n"
        "    raise SystemExit(0)\n"
        "s.make_transport = refuse\n"
        "from glutescope.cli import main\n"
        f"main(['record', {str(tmp_path / 'r.glutes')!r}, '--duration', '1'])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "mains imported", (done.stdout, done.stderr)
