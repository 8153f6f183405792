"""The firmware's pure modules under a real MicroPython interpreter.

CPython accepts code MicroPython rejects (and the other way round), so the packer,
COBS and command parser are also run by MicroPython itself (its WebAssembly port,
under node) against the same golden vectors as the host decoder.
"""
import json
import shutil
import subprocess
from pathlib import Path


HERE = Path(__file__).parent
RUNNER_DIR = HERE / "upy"
FIRMWARE_PKG = HERE.parents[1] / "firmware" / "glutefw"
VECTORS = HERE.parent / "vectors" / "protocol_v1.json"


def run_micropython(pkg_dir: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is needed to run the MicroPython interpreter (make test installs it)"
    assert (RUNNER_DIR / "node_modules").is_dir(), (
        "the MicroPython WebAssembly package is not installed: run `npm ci --prefix tests/firmware/upy`")
    return subprocess.run([node, "run.mjs", str(pkg_dir), str(VECTORS), "upy_checks.py"],
                          cwd=RUNNER_DIR, capture_output=True, text=True, timeout=120)


def planted_copy(tmp_path: Path, module: str, old: str, new: str) -> Path:
    pkg = tmp_path / "glutefw"
    shutil.copytree(FIRMWARE_PKG, pkg)
    source = (pkg / module).read_text()
    assert old in source, f"the fault to plant no longer matches {module}"
    (pkg / module).write_text(source.replace(old, new, 1))
    return pkg


def test_pure_firmware_modules_pass_every_golden_vector_in_micropython():
    result = run_micropython(FIRMWARE_PKG)
    assert result.returncode == 0, result.stderr
    vectors = json.loads(VECTORS.read_text())
    n = len(vectors["frames"]) + len(vectors["commands"])
    assert f"checked {n} vectors" in result.stdout
    assert result.stdout.startswith("micropython 1.")


def test_a_packer_bug_fails_under_micropython(tmp_path):
    # CRC over the wrong span: every frame's last four bytes change.
    pkg = planted_copy(tmp_path, "frames.py", "crc32(self.mv[:n])", "crc32(self.mv[1:n])")
    result = run_micropython(pkg)
    assert result.returncode != 0
    assert "frame vector" in result.stderr


def test_syntax_that_only_cpython_accepts_fails_under_micropython(tmp_path):
    # Positional-only parameters are valid CPython 3.8+ but not MicroPython.
    pkg = planted_copy(tmp_path, "cobs.py", "def max_encoded_len(n):", "def max_encoded_len(n, /):")
    result = run_micropython(pkg)
    assert result.returncode != 0
    assert "SyntaxError" in result.stderr
