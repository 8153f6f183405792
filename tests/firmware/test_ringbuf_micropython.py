"""The ring's MicroPython path (a byte view made with uctypes) under a real MicroPython."""
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_ring_and_packer_under_micropython():
    node = shutil.which("node")
    assert node, "node is needed to run the MicroPython interpreter (make test installs it)"
    assert (HERE / "upy" / "node_modules").is_dir(), (
        "the MicroPython WebAssembly package is not installed: run `npm ci --prefix tests/firmware/upy`")
    result = subprocess.run(
        [node, "run.mjs", str(HERE.parents[1] / "firmware" / "glutefw"),
         str(HERE.parent / "vectors" / "protocol_v1.json"), str(HERE / "upy_ring_checks.py")],
        cwd=HERE / "upy", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ring ok under micropython" in result.stdout
