"""Check, before Qt starts, that the system libraries its window plugin needs are there.

PySide6's wheels bring Qt itself but not the X11/Wayland client libraries of the system.
When one is missing, Qt prints a hint only in debug mode and aborts the interpreter
(SIGABRT, exit 134) before glutescope can say anything: a fresh Debian desktop lacks
``libxcb-cursor0``, ``libxcb-icccm4`` and ``libxcb-keysyms1``. So the live window first
asks the dynamic loader (``ldd``, part of glibc) what the platform plugin Qt will load
cannot find, and turns the answer into the one install line for the user's system.

Only Linux needs this: the macOS and Windows wheels carry everything the window needs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

# Fedora names the xcb-util libraries by their source package, not by soname.
_FEDORA_PACKAGES = {
    "libxcb-cursor.so.0": "xcb-util-cursor",
    "libxcb-icccm.so.4": "xcb-util-wm",
    "libxcb-keysyms.so.1": "xcb-util-keysyms",
    "libxcb-image.so.0": "xcb-util-image",
    "libxcb-render-util.so.0": "xcb-util-renderutil",
    "libxcb-util.so.1": "xcb-util",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11",
    "libEGL.so.1": "libglvnd-egl",
    "libGL.so.1": "libglvnd-glx",
    "libOpenGL.so.0": "libglvnd-opengl",
    "libfontconfig.so.1": "fontconfig",
    "libdbus-1.so.3": "dbus-libs",
    "libX11-xcb.so.1": "libX11-xcb",
    "libwayland-client.so.0": "libwayland-client",
    "libwayland-cursor.so.0": "libwayland-cursor",
    "libwayland-egl.so.1": "libwayland-egl",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)
_SONAME = re.compile(r"^(lib.+)\.so\.(\d+)$")


@dataclass(frozen=True)
class MissingLibraries:
    """What the window's platform plugin cannot load, and how to install it."""

    plugin: str
    """Qt platform plugin that was checked, e.g. ``xcb``."""
    sonames: tuple[str, ...]
    """Shared libraries the dynamic loader cannot find, e.g. ``libxcb-cursor.so.0``."""

    @property
    def debian_packages(self) -> tuple[str, ...]:
        """Debian/Ubuntu package names, by the Debian policy's soname rule (8.1)."""
        return tuple(dict.fromkeys(debian_package(s) for s in self.sonames))

    @property
    def fedora_packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_FEDORA_PACKAGES.get(s, f"'*/{s}'") for s in self.sonames))

    def message(self) -> str:
        """One line: what is missing and the install command for Debian/Ubuntu and Fedora."""
        return (f"the window cannot open: Qt's {self.plugin} plugin needs {', '.join(self.sonames)}; "
                f"install with `sudo apt-get install {' '.join(self.debian_packages)}` (Debian/Ubuntu) "
                f"or `sudo dnf install {' '.join(self.fedora_packages)}` (Fedora), "
                f"or run without a window: --headless")


def debian_package(soname: str) -> str:
    """Debian's package name for a shared library: ``libfoo.so.3`` -> ``libfoo3``.

    Debian policy 8.1: the soname's name and major version, lower case, with a hyphen
    between them when the name ends in a digit (``libdbus-1.so.3`` -> ``libdbus-1-3``).
    """
    match = _SONAME.match(soname)
    if match is None:
        return soname
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def platform_plugin(environ: Mapping[str, str]) -> str:
    """The platform plugin Qt will load for this environment (``xcb``, ``wayland``, ...)."""
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"):
        return "wayland"
    return "xcb"


def _plugin_path(plugin: str) -> Optional[Path]:
    try:
        import PySide6
    except ImportError:
        return None
    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / f"libq{plugin}.so"
    return path if path.is_file() else None


def missing_libraries(environ: Mapping[str, str] = os.environ,
                      ldd: Optional[str] = None) -> Optional[MissingLibraries]:
    """What the platform plugin for ``environ`` cannot load, or None if nothing is missing.

    Returns None too where it cannot be known (not Linux, no ``ldd``, no plugin file):
    then Qt itself has the last word.
    """
    if not sys.platform.startswith("linux"):
        return None
    plugin = platform_plugin(environ)
    path = _plugin_path(plugin)
    ldd = ldd or shutil.which("ldd")
    if path is None or ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20,
                             env={**environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sonames = tuple(dict.fromkeys(_NOT_FOUND.findall(out)))
    return MissingLibraries(plugin, sonames) if sonames else None
