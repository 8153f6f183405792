"""Without the MicroPython-with-btstack binary the layer skips, saying how to get it."""
import os
import subprocess
import sys
from pathlib import Path

from realstack_harness import HOW_TO_GET_IT, find_binary

ROOT = Path(__file__).resolve().parents[2]


def test_no_binary_is_found_where_there_is_none(tmp_path):
    not_executable = tmp_path / "micropython"
    not_executable.write_text("")
    assert find_binary([None, tmp_path / "absent", not_executable]) is None
    not_executable.chmod(0o755)
    assert find_binary([None, tmp_path / "absent", not_executable]) == not_executable


def test_the_skip_says_how_to_get_the_binary():
    assert "make micropython-btstack" in HOW_TO_GET_IT
    assert "GLUTESCOPE_MICROPYTHON" in HOW_TO_GET_IT


def test_a_run_without_the_binary_reports_the_skip_and_its_reason(tmp_path):
    # A conftest that finds nothing, in a copy of this folder's harness: pytest must say
    # so in its header and in the skip reason, not pass silently.
    probe = tmp_path / "test_needs_binary.py"
    probe.write_text("def test_uses_it(micropython_binary):\n    pass\n")
    conftest = (Path(__file__).parent / "conftest.py").read_text()
    (tmp_path / "conftest.py").write_text(
        "import realstack_harness\nrealstack_harness.binary_candidates = lambda: []\n" + conftest)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).parent), str(ROOT / "host"), str(ROOT / "signal")]))
    done = subprocess.run([sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "real-MicroPython layer: SKIPPED, no binary" in done.stdout
    assert "1 skipped" in done.stdout and "make micropython-btstack" in done.stdout, done.stdout
