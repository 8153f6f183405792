"""A recording of a person who tensed during "relax": scores become reasons, and the
report and every export still work (the old pipeline raised on it, live and offline)."""
from __future__ import annotations

import csv

import pytest

from export_fixtures import run_cli
from glutescope.analysis import analyse
from glutescope.exitcodes import ExitStatus
from glutescope.recording import load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tensed(tmp_path_factory):
    path = tmp_path_factory.mktemp("tensed") / "tensed.glutes"
    status, _, err = run_cli("record", path, "--duration", 31, "--speed", 10, "--exercise", "tensed_relax",
                             "--seed", 1)
    assert status == ExitStatus.OK, err
    return path


def test_the_analysis_gives_reasons_not_scores(tensed):
    (analysis,) = analyse(load(tensed))
    scores = analysis.stats.squeeze_scores
    assert [s.side for s in scores] == ["right", "left"]
    assert all(not s.detected and "no more active during the squeeze" in s.reason for s in scores)
    assert analysis.stats.weaker_squeeze_side is None and analysis.stats.n_reps == 0


def test_report_and_exports_of_it_work(tensed, tmp_path):
    status, _, err = run_cli("report", tensed, "-o", tmp_path / "r.pdf")
    assert status == ExitStatus.OK, err
    for fmt, out in (("csv", tmp_path / "csv"), ("edf", tmp_path / "t.edf"), ("c3d", tmp_path / "t.c3d")):
        status, _, err = run_cli("export", tensed, "--format", fmt, "-o", out)
        assert status == ExitStatus.OK, (fmt, err)
    with open(tmp_path / "csv" / "squeeze.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert [r["total"] for r in rows] == ["", ""]
    assert all("no contraction detected" in r["not_scored_reason"] for r in rows)
