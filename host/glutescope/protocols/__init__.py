"""Protocols as data, one small module each, and the one runner that steps through them.

Adding a protocol is one module here with a ``PROTOCOL`` (`glutescope.protocols.base.Protocol`)
and its name in `NAMES`.
"""
from __future__ import annotations

import importlib

from glutescope.protocols.base import Protocol

NAMES = ("bridges", "single_leg_bridges", "squeeze_test", "medius", "recruitment", "desk", "calibration")
"""The protocols ``glutescope live --protocol`` knows."""


def get(name: str) -> Protocol:
    """The protocol called ``name``; ValueError naming the known ones."""
    if name not in NAMES:
        raise ValueError(f"protocol must be one of {', '.join(NAMES)}; got {name!r}")
    return importlib.import_module(f"glutescope.protocols.{name}").PROTOCOL
