"""Device and host in two processes: `glutescope virtual` served, `glutescope record` reaching it."""
import json
import re
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_record_from_a_virtual_wearable_running_in_another_process(tmp_path):
    with subprocess.Popen([sys.executable, "-m", "glutescope", "virtual", "--exercise", "bridges", "--speed", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        try:
            ready = server.stdout.readline()
            port = re.search(r"127\.0\.0\.1:(\d+)", ready)
            assert port, f"no ready line from the virtual wearable: {ready!r}"
            out = tmp_path / "s.glutes"
            record = subprocess.run(
                [sys.executable, "-m", "glutescope", "record", str(out), "--virtual-port", port.group(1),
                 "--duration", "2"], capture_output=True, text=True, timeout=120)
            assert record.returncode == 0, record.stderr
        finally:
            server.send_signal(signal.SIGTERM)
            status = server.wait(timeout=20)
    assert status == 0  # the served wearable powers off cleanly on SIGTERM
    info = subprocess.run([sys.executable, "-m", "glutescope", "info", str(out), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    # It stops with the frame that completes 2 s, and keeps the frames already on their
    # way (none is dropped): one frame more on an idle machine, a few more on a busy one.
    assert 4000 <= summary["emg"]["n_samples"] < 4000 + 1000 and summary["emg"]["gaps"] == []
    assert summary["lost_frames"] == 0 and summary["corrupt_frames"] == 0


def test_a_missing_virtual_server_is_a_one_line_error():
    result = subprocess.run([sys.executable, "-m", "glutescope", "record", "/tmp/never.glutes",
                             "--virtual-port", "9", "--duration", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 4  # NO_ADAPTER: nothing to reach
    assert result.stderr.count("\n") == 1 and "glutescope virtual" in result.stderr
