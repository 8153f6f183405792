"""Transports: one small interface (``Transport``), interchangeable backends.

Backends are imported lazily so that, like bleak's platform backends, an optional
dependency is only needed when its transport is used.
"""
from __future__ import annotations

import enum
import importlib

from glutescope.transports.base import (
    DeviceNotFound,
    NoAdapter,
    ReceivedFrame,
    Transport,
    TransportError,
)

__all__ = [
    "DeviceNotFound",
    "NoAdapter",
    "ReceivedFrame",
    "Transport",
    "TransportError",
    "TransportKind",
    "transport_class",
]


class TransportKind(enum.Enum):
    """Where frames come from."""

    BLE = "glutescope.transports.ble:BleTransport"
    SERIAL = "glutescope.transports.serial:SerialTransport"
    VIRTUAL = "glutescope.transports.virtual:VirtualTransport"
    REMOTE_VIRTUAL = "glutescope.transports.virtual:RemoteVirtualTransport"
    REPLAY = "glutescope.transports.replay:ReplayTransport"


def transport_class(kind: TransportKind) -> type[Transport]:
    """The class implementing ``kind``, imported on first use."""
    module, _, name = kind.value.partition(":")
    return getattr(importlib.import_module(module), name)
