"""Run a child Python process that file permissions apply to, wherever the checkout lives.

Root ignores file permissions, so a permission test run as root must give that power up.
Becoming ``nobody`` would do, but nobody cannot import the project (nor the interpreter's
own library) from a checkout under a home directory others cannot read (mode 0700). So a
root child keeps its uid and drops only the two capabilities that bypass permission checks,
``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` (capabilities(7)): it still reads the files
it owns, such as the checkout, and is refused whatever mode bits refuse to their owner —
or everything, for files owned by another user. A non-root child needs nothing dropped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOBODY_UID = 65534

# The child's preamble: the checkout on sys.path, then the capabilities dropped with
# capset(2) through libc before anything else runs.
_PREAMBLE = textwrap.dedent(
    """
    import ctypes, os, sys
    sys.path[:0] = [{host!r}, {signal!r}, {tests!r}]
    if os.geteuid() == 0:
        _LINUX_CAPABILITY_VERSION_3 = 0x20080522
        _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2

        class _Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        class _Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]

        _libc = ctypes.CDLL(None, use_errno=True)
        _header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
        _data = (_Data * 2)()
        if _libc.capget(ctypes.byref(_header), _data) != 0:
            sys.exit("capget failed: errno %d" % ctypes.get_errno())
        _drop = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
        _data[0].effective &= _drop
        _data[0].permitted &= _drop
        if _libc.capset(ctypes.byref(_header), _data) != 0:
            sys.exit("capset failed: errno %d" % ctypes.get_errno())
    """
)


def child_code(body: str) -> str:
    """Python source for ``python -c``: the preamble that drops the override, then ``body``."""
    return _PREAMBLE.format(host=str(REPO_ROOT / "host"), signal=str(REPO_ROOT / "signal"),
                            tests=str(REPO_ROOT / "tests" / "host")) + textwrap.dedent(body)


def run_child(body: str, *argv, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    """Run ``body`` in a child to which file permissions apply; text output captured."""
    return subprocess.run([sys.executable, "-c", child_code(body), *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def give_away(path: Path) -> None:
    """Make ``path`` (and what is below it) belong to nobody, keeping its modes.

    Files of another user are what the owner bits of the private files protect; as root the
    child could otherwise read its own recording whatever its mode.
    """
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), NOBODY_UID, NOBODY_UID)
    os.chown(path, NOBODY_UID, NOBODY_UID)
