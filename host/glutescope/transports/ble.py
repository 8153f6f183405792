"""Bluetooth LE transport, written only against bleak's public API.

The same code reaches a real wearable (bleak's platform backend) and the virtual one
(``backend=`` the bumble backend classes), so the path tested end to end is the path
a user runs.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Optional

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from glutescope import protocol
from glutescope.transports.base import DeviceNotFound, NoAdapter, Transport, TransportError


@dataclass(frozen=True)
class FoundWearable:
    """A wearable seen in a scan."""

    name: str
    """Advertised name, e.g. ``glutescope-3F2A``."""
    address: str
    """Platform address (MAC on Linux/Windows, UUID on macOS)."""
    rssi_dBm: int
    """Received signal strength of the advertisement."""
    battery_pct: Optional[int] = None
    """Battery level from the scan response's Battery service data; None if not sent."""


_BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"


def _battery_of(adv) -> Optional[int]:
    data = (adv.service_data or {}).get(_BATTERY_SERVICE_UUID)
    if data and len(data) >= 1 and data[0] <= 100:
        return int(data[0])
    return None  # absent, or 255: the wearable has not measured it yet


def _is_wearable(device, adv) -> bool:
    uuids = [u.lower() for u in (adv.service_uuids or [])]
    return protocol.SERVICE_UUID in uuids


async def scan(timeout_s: float = 5.0, scanner_backend=None) -> list[FoundWearable]:
    """List the glutescope wearables advertising in range, strongest first."""
    kwargs = {} if scanner_backend is None else {"backend": scanner_backend}
    try:
        seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except (BleakError, OSError) as exc:
        raise NoAdapter(f"cannot scan for Bluetooth devices: {exc}") from exc
    found = [
        FoundWearable(dev.name or adv.local_name or "?", dev.address, adv.rssi, _battery_of(adv))
        for dev, adv in seen.values()
        if _is_wearable(dev, adv)
    ]
    return sorted(found, key=lambda w: -w.rssi_dBm)


class BleTransport(Transport):
    """Frames from the stream characteristic; commands to the control characteristic.

    Parameters
    ----------
    name_or_address : str or None
        Which wearable; ``None`` takes the first glutescope wearable found.
    scan_timeout_s : float
        How long to look for it before giving up with `DeviceNotFound`.
    scanner_backend, client_backend : type or None
        bleak backend classes; ``None`` uses the platform's Bluetooth.
    """

    record_source = 1  # RecordSource.BLE_NOTIFY

    def __init__(
        self,
        name_or_address: Optional[str] = None,
        *,
        scan_timeout_s: float = 10.0,
        scanner_backend=None,
        client_backend=None,
    ) -> None:
        super().__init__()
        self._wanted = name_or_address
        self._scan_timeout_s = scan_timeout_s
        self._scanner_kwargs = {} if scanner_backend is None else {"backend": scanner_backend}
        self._client_kwargs = {} if client_backend is None else {"backend": client_backend}
        self._client: Optional[BleakClient] = None
        self._closing = False
        self.description = f"BLE {name_or_address or 'glutescope'}"
        self.mtu = 23
        self.info_bytes: bytes = b""

    def _matches(self, device, adv) -> bool:
        if not _is_wearable(device, adv):
            return False
        if self._wanted is None:
            return True
        wanted = self._wanted.lower()
        return wanted in ((device.name or "").lower(), device.address.lower())

    async def connect(self) -> None:
        self._closing = False
        try:
            device = await BleakScanner.find_device_by_filter(
                self._matches, timeout=self._scan_timeout_s, **self._scanner_kwargs
            )
        except (BleakError, OSError) as exc:
            raise NoAdapter(f"cannot scan for Bluetooth devices: {exc}") from exc
        if device is None:
            who = f"'{self._wanted}'" if self._wanted else "a glutescope wearable"
            raise DeviceNotFound(f"{who} did not answer within {self._scan_timeout_s:g} s")
        client = BleakClient(device, disconnected_callback=self._on_disconnected, **self._client_kwargs)
        try:
            await client.connect()
            self.mtu = client.mtu_size
            self.info_bytes = bytes(await client.read_gatt_char(protocol.INFO_CHAR_UUID))
            await client.start_notify(protocol.STREAM_CHAR_UUID, lambda _c, data: self._deliver(data))
        except (BleakError, OSError, asyncio.TimeoutError) as exc:
            await _quiet_disconnect(client)
            raise TransportError(f"could not connect to {device.name or device.address}: {exc}") from exc
        self._client = client
        self.description = f"BLE {device.name or device.address}"

    def _on_disconnected(self, _client) -> None:
        self._client = None
        if not self._closing:
            self._lost()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def send_command(self, command: bytes) -> None:
        if self._client is None:
            raise TransportError("not connected to the wearable")
        try:
            await self._client.write_gatt_char(protocol.CONTROL_CHAR_UUID, command, response=False)
        except (BleakError, OSError) as exc:
            raise TransportError(f"command not sent: {exc}") from exc

    async def close(self) -> None:
        self._closing = True
        client, self._client = self._client, None
        if client is not None:
            await _quiet_disconnect(client)


async def _quiet_disconnect(client: BleakClient) -> None:
    try:
        await client.disconnect()
    except (BleakError, OSError, asyncio.TimeoutError):
        pass  # the link is already gone; nothing left to release
