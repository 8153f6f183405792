"""The PDF report: a valid A4 PDF that says who, which side is louder and each squeeze
score, with the scores the live pipeline computes on the same recording."""
from __future__ import annotations

import numpy as np
import pytest

from export_fixtures import SUBJECT, record_demo, run_cli
from glutescope.analysis import analyse, exercise_plan
from glutescope.exitcodes import ExitStatus
from glutescope.live import LiveProcessor
from glutescope.units import codes_to_uV, imu_to_si
from glutescope.recording import load
from glutescope.report import DISCLAIMER, symmetry_sentence

pypdf = pytest.importorskip("pypdf")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return record_demo(tmp_path_factory.mktemp("report") / "demo.glutes")


@pytest.fixture(scope="module")
def report(recording):
    pdf = recording.with_name("demo-report.pdf")
    status, out, err = run_cli("report", recording, "-o", pdf)
    assert status == ExitStatus.OK, err
    reader = pypdf.PdfReader(pdf)
    text = "\n".join(page.extract_text() for page in reader.pages)
    return pdf, reader, " ".join(text.split())


def replay_live(rec, block: int):
    """The live processor fed the recording in fixed blocks (not the live ones), the IMU
    interleaved by time, as the live session would have been fed by a wearable sending
    other block sizes."""
    info = rec.device_info
    plan = exercise_plan(rec)
    proc = LiveProcessor(("glute_max_left", "glute_max_right"), info.emg_fs_hz, info.imu_fs_hz,
                         squeeze_cues=plan.squeeze_cues, single_leg=plan.single_leg)
    emg = codes_to_uV(rec.emg[0].samples, info)
    acc_g, gyro_dps = imu_to_si(rec.imu[0].samples, info)
    j, imu_block = 0, 7
    for a in range(0, emg.shape[1], block):
        b = min(a + block, emg.shape[1])
        while j < acc_g.shape[1] and j / info.imu_fs_hz < b / info.emg_fs_hz:
            proc.push_imu(j, acc_g[:, j:j + imu_block], gyro_dps[:, j:j + imu_block])
            j += imu_block
        proc.push_emg(a, emg[:, a:b])
    return proc.state.stats


def test_report_is_a_valid_a4_pdf_of_two_pages(report):
    pdf, reader, text = report
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert len(reader.pages) == 2
    for page in reader.pages:
        w_pt, h_pt = float(page.mediabox.width), float(page.mediabox.height)
        assert w_pt == pytest.approx(595.4, abs=1) and h_pt == pytest.approx(841.7, abs=1)


def test_report_names_the_subject_the_louder_side_and_every_squeeze_score(report, recording):
    _, _, text = report
    (analysis,) = analyse(load(recording))
    stats = analysis.stats
    assert f"Subject: {SUBJECT}" in text
    assert stats.louder_side == "right"  # the body model's left glute is 30 % weaker
    assert " ".join(symmetry_sentence(analysis).split()) in text
    # Not calibrated: an amplitude ratio of the electrodes, never a louder glute.
    assert not stats.si_normalised
    assert "amplitude ratio, not normalised - depends on electrodes" in text
    assert "the right channel reads" in text and "Not a muscle finding" in text
    assert "glute is louder" not in text and "louder glute" not in text
    assert [s.side for s in stats.squeeze_scores] == ["right", "left"]
    for s in stats.squeeze_scores:
        assert f"{s.side} {s.total:.0f}/100" in text
        parts = f"{s.side} {s.total:.0f} {s.strength:.0f} {s.speed:.0f} {s.steadiness:.0f} {s.relaxation:.0f} " \
                f"{s.isolation:.0f}"
        assert parts in text
    assert f"The {stats.weaker_squeeze_side} side is weaker" in text
    assert stats.weaker_squeeze_side == "left"
    assert " ".join(DISCLAIMER.split()) in text
    for word in ("Signal quality", "How to read this", "Symmetry index (SI)", "Squeeze score", "Hip drop"):
        assert word in text


@pytest.mark.parametrize("block", [17, 100])
def test_report_scores_equal_the_live_pipeline_on_the_same_recording(recording, block):
    rec = load(recording)
    (analysis,) = analyse(rec)
    live = replay_live(rec, block)
    assert analysis.stats.n_reps == live.n_reps == 5  # the 5 bridges; the 3 squeezes are not reps
    assert analysis.stats.cued_contractions == live.cued_contractions >= 2  # the last may be cut by the end
    assert analysis.stats.si_pct == pytest.approx(live.si_pct, abs=1e-9)
    assert analysis.stats.ci_low_pct == pytest.approx(live.ci_low_pct, abs=1e-9)
    np.testing.assert_allclose([c.mean_uV + c.peak_uV for c in analysis.stats.contractions],
                               [c.mean_uV + c.peak_uV for c in live.contractions], rtol=0, atol=1e-9)
    assert len(live.squeeze_scores) == 2
    for mine, theirs in zip(analysis.stats.squeeze_scores, live.squeeze_scores):
        assert mine.side == theirs.side
        assert mine.total == pytest.approx(theirs.total, abs=1e-9)
        assert mine.isolation == pytest.approx(theirs.isolation, abs=1e-9)
    assert [r.si_pct for r in analysis.reps] == pytest.approx(
        [(c.mean_uV[1] - c.mean_uV[0]) / (0.5 * sum(c.mean_uV)) * 100 for c in live.contractions], abs=1e-9)


def test_report_cli_refuses_an_existing_pdf_and_an_unreadable_recording(report, recording, tmp_path):
    pdf, _, _ = report
    status, _, err = run_cli("report", recording, "-o", pdf)
    assert status == ExitStatus.IO_ERROR and "exists already" in err and err.count("\n") == 1
    status, _, err = run_cli("report", tmp_path / "none.glutes")
    assert status == ExitStatus.IO_ERROR and "does not exist" in err
    status, _, err = run_cli("report", recording, "-o", tmp_path / "report.png")
    assert status == ExitStatus.USAGE and ".pdf" in err
