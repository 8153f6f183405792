"""Firmware tests run the MicroPython firmware's own modules on CPython.

The ``micropython`` module and MicroPython-only attributes come from
``glutescope.virtual.upy``; they are added before any firmware module is imported.
"""
import json
import pathlib
import sys

import pytest

from glutescope.virtual import upy

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
VECTORS = ROOT / "tests" / "vectors" / "protocol_v1.json"

upy.install()
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))


@pytest.fixture(autouse=True)
def _micropython_names():
    # A test that powers a virtual wearable down uninstalls the shims: put them back.
    upy.install()
    yield


@pytest.fixture(scope="session")
def vectors():
    return json.loads(VECTORS.read_text(encoding="utf-8"))
