"""The window says which system libraries to install instead of letting Qt abort."""
from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from glutescope.ui.qtlibs import MissingLibraries, debian_package, missing_libraries, platform_plugin

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a fresh Debian 12/13 desktop lacks for Qt 6's xcb plugin.
FRESH_DEBIAN_MISSING = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")


@pytest.mark.parametrize("soname, package", [
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libEGL.so.1", "libegl1"),
])
def test_debian_package_names_follow_the_soname_rule(soname, package):
    assert debian_package(soname) == package


def test_the_plugin_is_the_one_qt_would_load():
    assert platform_plugin({"DISPLAY": ":0"}) == "xcb"
    assert platform_plugin({"WAYLAND_DISPLAY": "wayland-0"}) == "wayland"
    assert platform_plugin({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}) == "offscreen"
    assert platform_plugin({"QT_QPA_PLATFORM": "xcb;wayland"}) == "xcb"


def test_nothing_is_missing_for_the_offscreen_plugin_the_tests_run_on():
    assert missing_libraries({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_the_message_is_one_line_with_the_install_commands():
    text = MissingLibraries("xcb", FRESH_DEBIAN_MISSING).message()
    assert "\n" not in text
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in text


def _library_dir() -> Path:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("libxcb.so.1 "):
            return Path(line.split("=>")[1].strip()).resolve().parent
    pytest.skip("libxcb.so.1 is not installed: no X11 client libraries to hide")


def test_a_desktop_without_the_xcb_libraries_gets_the_install_line_not_a_core_dump(tmp_path):
    """On this machine's own libraries, with the three hidden as on a fresh Debian desktop.

    The libraries are hidden by whiteouts in an overlay mounted in a private mount
    namespace, so the dynamic loader really cannot find them, for this child only.
    """
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding system libraries needs root and unshare(1) for a private mount namespace")
    libdir = _library_dir()
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    for soname in FRESH_DEBIAN_MISSING:
        for path in [libdir / soname, *libdir.glob(soname + ".*")]:
            whiteout = upper / path.name
            if not whiteout.exists():
                os.mknod(whiteout, 0o600 | stat.S_IFCHR, os.makedev(0, 0))  # overlayfs whiteout
    demo = [sys.executable, "-m", "glutescope", "demo", "--duration", "1"]
    script = (f"mount -t overlay overlay -o lowerdir={libdir},upperdir={upper},workdir={work} {libdir}"
              f" || exit 99; exec {shlex.join(demo)}")
    # A display that does not exist: the check must answer before Qt tries to reach it.
    env = {**os.environ, "DISPLAY": ":97", "PYTHONPATH": f"{REPO_ROOT / 'host'}:{REPO_ROOT / 'signal'}"}
    env.pop("QT_QPA_PLATFORM", None)
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                         timeout=120, env=env)
    if out.returncode == 99:
        pytest.skip(f"cannot mount an overlay here: {out.stderr.strip()}")
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("glutescope: error: the window cannot open")
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in out.stderr
