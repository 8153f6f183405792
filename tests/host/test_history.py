"""Session history: one person's body-model sessions through ``glutescope history``.

The left glute of P-HIST improves session by session (the body model's ``left_scale``
0.55 -> 0.95, true SI ~ +58 -> +5 %): the printed SIs must follow the body's truth
toward symmetry, the smallest detectable change must be printed from the repeat
sessions, and a planted session with the right side weaker must be flagged. The ICC
is checked against the values Shrout & Fleiss (1979) published for their example.
"""
from __future__ import annotations

import math
import re
import shutil
import stat

import numpy as np
import pytest

from body_recordings import write_body_recording
from export_fixtures import run_cli
from glutescope.analysis import analyse
from glutescope.exitcodes import ExitStatus
from glutescope.history import HISTORY_FILE, MIN_SESSIONS, History, SessionRow, icc, reliability, trend
from glutescope.recording import load
from glutesignal.simulation import simulate

PERSON = "P-HIST"
LEFT_SCALES = (0.55, 0.65, 0.75, 0.85, 0.95)
DATES = tuple(f"2026-11-{d:02d}T09:30:00.000+01:00" for d in (2, 9, 16, 23, 30))


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    truth = []
    for i, (scale, date) in enumerate(zip(LEFT_SCALES, DATES)):
        body = simulate("bridges", seed=40 + i, left_scale=scale)
        write_body_recording(folder / f"visit{i + 1}.glutes", body, subject=PERSON, start_time=date)
        truth.append(body.true_symmetry_index_pct)
    # Another person's session in the same folder is not theirs.
    write_body_recording(folder / "other.glutes", simulate("bridges", seed=99, left_scale=1.3),
                         subject="P-OTHER", start_time="2026-11-05T10:00:00.000+01:00")
    return folder, truth


def table_rows(out: str) -> list[list[str]]:
    """The session lines of the printed table: date first, split at 2+ spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if re.match(r"\s+2026-\d\d-\d\d ", line)]


def printed_si(rows) -> list[float]:
    return [float(r[3].split()[0]) for r in rows]


def test_icc_equals_the_published_values_of_shrout_and_fleiss():
    # Shrout & Fleiss 1979, Table 2 (6 targets x 4 judges): ICC(2,1) = .29, ICC(3,1) = .71.
    y = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    icc31, icc21 = icc(y)
    assert icc31 == pytest.approx(0.71, abs=0.005) and icc21 == pytest.approx(0.29, abs=0.005)
    with pytest.raises(ValueError, match="at least 2"):
        icc([[1.0, 2.0]])


def row(si_reps, *, normalised=False, start="2026-01-01"):
    si = float(np.mean(si_reps))
    side = "right" if si > 10 else "left" if si < -10 else "none"
    return SessionRow("x", 0, "P", start, "bridges", "wearable", len(si_reps), si, None, None, normalised, side,
                      tuple(si_reps), None, None, None, None, None, None, None, "good/good")


def test_the_sem_is_the_rep_to_rep_error_whatever_the_person_does_between_sessions():
    # Sessions 20 % apart (a real change) with rep-to-rep noise of SD 5 %: the SEM is
    # the noise (Weir 2005: SD x sqrt(1 - ICC) ~ sqrt(MSE)), and SDC = 1.96 sqrt(2) SEM.
    rng = np.random.default_rng(3)
    rows = [row(tuple(40.0 - 20.0 * s + rng.normal(0, 5.0, 12))) for s in range(6)]
    rel = reliability(rows)
    assert rel.sem_pct == pytest.approx(5.0, rel=0.2)
    assert rel.sdc_pct == pytest.approx(1.96 * math.sqrt(2) * rel.sem_pct)
    assert rel.sem_pct == pytest.approx(rel.sd_pct * math.sqrt(1 - rel.icc_2_1))


def test_below_the_minimum_there_is_no_number_and_no_better():
    rows = [row((30.0, 32.0, 28.0)), row((5.0, 6.0, 4.0))]
    assert MIN_SESSIONS > len(rows)
    rel = reliability(rows)
    assert rel.sdc_pct is None and "not enough sessions to estimate" in rel.reason
    assert [s.verdict for s in trend(rows, rel.sdc_pct)] == ["first", "no SDC yet"]
    # Sessions with too few reps do not count toward the minimum.
    assert not reliability([row((30.0, 31.0))] * 5).estimated
    with pytest.raises(ValueError, match="not the same measurement"):
        reliability([row((1.0, 2.0, 3.0)), row((1.0, 2.0, 3.0), normalised=True)] * 2)


@pytest.mark.slow
def test_history_shows_the_left_glute_closing_in_with_its_smallest_detectable_change(sessions, tmp_path):
    folder, truth = sessions
    status, out, err = run_cli("history", PERSON, "--recordings", folder, "--plot", tmp_path / "trend.png")
    assert status == ExitStatus.OK, err
    assert err == ""
    rows = table_rows(out)
    assert len(rows) == len(LEFT_SCALES)  # P-OTHER's session is not among them
    si = printed_si(rows)
    # Each session's printed SI is the body's truth, and they move toward symmetry.
    assert si == pytest.approx(truth, abs=4.0)
    assert all(b < a for a, b in zip(si, si[1:]))
    assert [r[4] for r in rows[:4]] == ["(left)"] * 4
    assert {r[1] for r in rows} == {"wearable"}  # uncalibrated: the channel reading lower
    assert "FLIP" not in out
    sdc = re.search(r"Smallest detectable change of SI: ([\d.]+) % points .*ICC\(2,1\) ([\d.-]+), "
                    r"ICC\(3,1\) ([\d.-]+); 5 sessions x 10 reps", out)
    assert sdc, out
    # The printed SDC is the one the database's rows give, computed from the same analysis.
    with History(folder / HISTORY_FILE) as h:
        stored = h.sessions(PERSON)
    assert float(sdc.group(1)) == pytest.approx(reliability(stored).sdc_pct, abs=0.05)
    first = load(folder / "visit1.glutes")
    assert stored[0].si_pct == analyse(first)[0].stats.si_pct
    for r in stored:  # the reps the reliability reads are the ones the session's SI averages
        assert len(r.rep_si_pct) == r.n_reps and np.mean(r.rep_si_pct) == pytest.approx(r.si_pct, abs=1e-9)
    # 58 -> 5 % is beyond the SDC; a 13 % step between neighbours is not.
    assert "First to latest" in out and "closer to symmetry, beyond the smallest detectable change" in out
    assert "within noise" in out
    png = tmp_path / "trend.png"
    assert png.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(png.stat().st_mode) == 0o600
    status, _, err = run_cli("history", PERSON, "--recordings", folder, "--plot", png)
    assert status == ExitStatus.IO_ERROR and "--force" in err and err.count("\n") == 1
    assert stat.S_IMODE((folder / HISTORY_FILE).stat().st_mode) == 0o600


@pytest.mark.slow
def test_a_planted_session_with_the_right_side_weaker_is_flagged(sessions, tmp_path):
    folder, _ = sessions
    copy = tmp_path / "recs"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(HISTORY_FILE))
    write_body_recording(copy / "visit6.glutes", simulate("bridges", seed=50, left_scale=1.35), subject=PERSON,
                         start_time="2026-12-07T09:30:00.000+01:00")
    status, out, err = run_cli("history", PERSON, "--recordings", copy)
    assert status == ExitStatus.OK, err
    rows = table_rows(out)
    assert [("FLIP" in r[-1]) for r in rows] == [False] * 5 + [True]
    assert rows[-1][4] == "(right)" and "beyond the SDC" in rows[-1][-1]
    assert "The weaker side changed 1 time between sessions" in out


@pytest.mark.slow
def test_an_unreadable_recording_gets_one_line_and_the_others_still_index(sessions, tmp_path):
    folder, _ = sessions
    copy = tmp_path / "recs"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(HISTORY_FILE, "visit4.glutes", "visit5.glutes"))
    broken = copy / "broken.glutes"
    shutil.copytree(folder / "visit4.glutes", broken)
    (broken / "meta.json").write_text('{"subject": "P-HIST", "start_')  # torn by a crash
    flipped = copy / "flipped.glutes"  # a bit flipped on disk: indexed, and said to be damaged
    shutil.copytree(folder / "visit5.glutes", flipped)
    log = bytearray((flipped / "frames.log").read_bytes())
    log[len(log) // 2] ^= 0x10
    (flipped / "frames.log").write_bytes(bytes(log))
    status, out, err = run_cli("history", PERSON, "--recordings", copy)
    assert status == ExitStatus.OK
    assert err.count("\n") == 1 and "broken.glutes not indexed" in err and "Traceback" not in err
    rows = table_rows(out)
    assert len(rows) == 4
    assert ["DAMAGED recording: 1 damaged stretch of the log skipped" in r[-1] for r in rows] == [False] * 3 + [True]
    assert "4 sessions x 10 reps" in out  # the SDC from those that could be read
    status, out, err = run_cli("history", PERSON, "--recordings", copy)  # remembered, said again
    assert err.count("\n") == 1 and "broken.glutes" in err


@pytest.mark.slow
def test_the_database_is_a_cache_rebuilt_from_the_recordings(sessions, tmp_path):
    folder, _ = sessions
    copy = tmp_path / "recs"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(HISTORY_FILE, "visit3.glutes", "visit4.glutes",
                                                                "visit5.glutes", "other.glutes"))
    db_dir = tmp_path / "db"
    with History(db_dir / HISTORY_FILE) as h:
        assert h.index(copy).n_analysed == 2
        assert h.index(copy).n_cached == 2
        before = h.sessions(PERSON)
        # A recording changed on disk is analysed again; one removed leaves the history.
        meta = copy / "visit1.glutes" / "meta.json"
        meta.write_text(meta.read_text().replace(PERSON, "P-RENAMED"))
        shutil.rmtree(copy / "visit2.glutes")
        report = h.index(copy)
        assert (report.n_analysed, report.n_removed) == (1, 1)
        assert h.sessions(PERSON) == [] and len(h.sessions("P-RENAMED")) == 1
        # A rebuild recomputes every row, and gives the same figures.
        assert h.index(copy, rebuild=True).n_analysed == 1
        assert h.sessions("P-RENAMED")[0].si_pct == before[0].si_pct
    assert stat.S_IMODE((db_dir / HISTORY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(db_dir.stat().st_mode) == 0o700
    status, out, _ = run_cli("history", "--recordings", copy, "--db-dir", db_dir, "--rebuild")
    assert status == ExitStatus.OK and out.startswith("P-RENAMED: 1 recording,")
    assert not (copy / HISTORY_FILE).exists()
    status, _, err = run_cli("history", "NOBODY", "--recordings", copy, "--db-dir", db_dir)
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1


@pytest.mark.slow
def test_calibrated_sessions_show_pct_mvc_squeeze_scores_and_name_the_weaker_glute(tmp_path):
    # The same body (seed) with electrodes that read the right 40 % louder in one visit
    # and the left 30 % louder in the next: the calibrated SI follows the muscles (left
    # 30 % weaker both times), not the electrodes.
    truth = []
    for i, gain in enumerate(((1.0, 1.4), (1.3, 1.0))):
        body = simulate("calibrated_demo", seed=1, left_scale=0.7, electrode_gain=gain)
        write_body_recording(tmp_path / f"cal{i}.glutes", body, subject="P-CAL", start_time=DATES[i], cued=True)
        truth.append(body.true_symmetry_index_pct)
    status, out, err = run_cli("history", "P-CAL", "--recordings", tmp_path)
    assert status == ExitStatus.OK, err
    assert "calibrated_demo - SI of each side's rise above rest in % of its calibration reference" in out
    rows = table_rows(out)
    assert len(rows) == 2
    # Within the calibration's own precision (tests/host/test_calibration.py: up to ~6 points).
    si = printed_si(rows)
    assert si == pytest.approx(truth, abs=6.0)
    assert si[1] == pytest.approx(si[0], abs=2.0)  # a µV SI would move by ~70 points
    assert [r[4] for r in rows] == ["left", "left"]  # a muscle finding: no parentheses
    for r in rows:
        mvc_left, mvc_right = map(float, r[5].split("/"))
        assert mvc_left / mvc_right == pytest.approx(0.7, abs=0.1)  # the body's left_scale
        squeeze_left, squeeze_right = map(float, r[6].split("/"))
        assert squeeze_left < squeeze_right  # the squeeze test's weaker side is the left
    assert "FLIP" not in out
    assert "not enough sessions to estimate: 2 with 3+ reps, 3 needed" in out
    with History(tmp_path / HISTORY_FILE) as h:
        for r in h.sessions("P-CAL"):
            assert len(r.rep_si_pct) == r.n_reps and np.mean(r.rep_si_pct) == pytest.approx(r.si_pct, abs=1e-9)


def test_a_folder_without_recordings_is_said_so_and_gets_no_database(tmp_path):
    status, out, _ = run_cli("history", "--recordings", tmp_path)
    assert status == ExitStatus.OK and out == f"No recordings under {tmp_path}.\n"
    status, _, err = run_cli("history", "P-1", "--recordings", tmp_path)
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1
    status, _, err = run_cli("history", "--recordings", tmp_path / "nope")
    assert status == ExitStatus.IO_ERROR and err.count("\n") == 1
    status, _, err = run_cli("history", "--recordings", tmp_path, "--plot", tmp_path / "t.png")
    assert status == ExitStatus.USAGE and "PSEUDONYM" in err
    assert list(tmp_path.iterdir()) == []
