"""``--lsl``: what needs no outlet here, and the real outlet/inlet checks in a network of their own.

liblsl 1.18 binds its data ports (16572 and up) to every interface whatever
``lsl_api.cfg`` says, so the checks that open outlets (`lsl_network.py`: a real pylsl
inlet reads the streams `demo`, `record` and `replay` publish) run in a fresh network
namespace that has only the loopback interface, brought up here. Nothing outside the
machine can reach them, and they see no other run's streams.
"""
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import run_cli

from glutescope.lsl import config_text

ROOT = Path(__file__).resolve().parents[2]
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def _enter_loopback_only_network():
    """In the child, before exec: a new network namespace (as root, or in a new user
    namespace otherwise), with ``lo`` up and nothing else."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = _CLONE_NEWNET if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET
    if libc.unshare(flags) != 0:
        os._exit(97)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0) + bytes(22)
        cur = struct.unpack("16sh", fcntl.ioctl(s, _SIOCGIFFLAGS, req)[:18])[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", cur | _IFF_UP) + bytes(22))


@pytest.mark.slow
def test_real_lsl_inlets_read_the_published_streams_in_a_loopback_only_network():
    env = dict(os.environ, GLUTESCOPE_LOOPBACK_ONLY="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "host" / "lsl_network.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
                          preexec_fn=_enter_loopback_only_network)
    assert proc.returncode != 97, "could not create a network namespace (unshare CLONE_NEWNET refused)"
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout and "skipped" not in proc.stdout


def test_lsl_without_pylsl_is_one_line_and_exit_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "pylsl", None)  # import pylsl raises ImportError
    monkeypatch.delenv("LSLAPICFG", raising=False)
    status, _, err = run_cli("demo", "--lsl", "--duration", "1")
    assert status == 2
    assert err.count("\n") == 1 and "install glutescope[lsl]" in err
    assert "LSLAPICFG" not in os.environ  # nothing configured for a run that did not start


def test_lsl_scope_without_lsl_is_a_usage_error():
    status, _, err = run_cli("demo", "--lsl-scope", "machine", "--duration", "1")
    assert status == 2 and "--lsl-scope needs --lsl" in err


def test_machine_scope_config_keeps_liblsl_on_loopback():
    text = config_text("machine")
    assert "ResolveScope = machine" in text
    assert "IPv6 = disable" in text
    assert "ListenAddress = 127.0.0.1" in text
    assert "ResolveScope = link" in config_text("link")
    with pytest.raises(ValueError, match="scope must be one of machine, link, site"):
        config_text("global")


def test_a_chosen_scope_keeps_the_users_other_lsl_settings():
    from glutescope.lsl import merged_config_text

    user = "[lab]\nSessionID = lab7\nKnownPeers = {10.0.0.2}\n[multicast]\nResolveScope = site\n; ResolveScope = x\n"
    text = merged_config_text("machine", user)
    assert "SessionID = lab7" in text and "KnownPeers = {10.0.0.2}" in text
    assert "ResolveScope = site" not in text
    # liblsl throws the whole file away on a repeated key
    keys = [line.split("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith(";")]
    assert keys.count("ResolveScope") == 1
