"""Exports and reports are as private as the recording they come from (0600 / 0700)."""
from __future__ import annotations

import os
import stat

import pytest

from export_fixtures import record_demo, run_cli
from glutescope.exitcodes import ExitStatus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return record_demo(tmp_path_factory.mktemp("private") / "s.glutes", duration_s=12.0)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # a usual desktop umask: files would be 0644 by default
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("fmt, name", [("edf", "out.edf"), ("c3d", "out.c3d"), ("csv", "out-csv")])
def test_every_export_is_readable_by_its_owner_only(recording, tmp_path, open_umask, fmt, name):
    out = tmp_path / name
    status, _, err = run_cli("export", recording, "--format", fmt, "-o", out)
    assert status == ExitStatus.OK, err
    paths = [out] + (sorted(out.iterdir()) if out.is_dir() else [])
    for path in paths:
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_the_report_replacing_a_world_readable_file_is_private(recording, tmp_path, open_umask):
    out = tmp_path / "r.pdf"
    out.write_bytes(b"old")
    os.chmod(out, 0o644)
    status, _, err = run_cli("report", recording, "-o", out, "--force")
    assert status == ExitStatus.OK, err
    assert _mode(out) == 0o600 and out.read_bytes().startswith(b"%PDF")
