"""A bleak backend on bumble: host code reaches the virtual wearable through bleak's API.

bleak's public ``BleakScanner`` and ``BleakClient`` take ``backend=`` classes. This
module builds a scanner class and a client class bound to one
`glutescope.virtual.radio.VirtualRadio`, sharing its central bumble device::

    scanner_cls, client_cls = backends_for(radio)
    device = await BleakScanner.find_device_by_name("glutescope-3F2A", backend=scanner_cls)
    async with BleakClient(device, backend=client_cls) as client:
        ...

so the code under test is the code that runs against real adapters.

Behaviour chosen to match bleak's platform backends:

* Scanning is active by default, so the scan response (the wearable's name) is seen;
  ``BLEDevice.details`` is bumble's ``Address`` with its type; the key and address are
  ``"XX:XX:XX:XX:XX:XX"``.
* ``connect`` stops scanning while it connects (resumed afterwards for scanners still
  running), requests ATT MTU 247 as bleak's real backends do, then discovers services,
  characteristics and descriptors. It gives up after ``timeout`` seconds with
  ``asyncio.TimeoutError``.
* Characteristic properties use bleak's names (``"write-without-response"``);
  notification callbacks receive a ``bytearray``; ATT errors become
  ``bleak.exc.BleakGATTProtocolError``.
* The disconnected callback runs on every disconnection, asked for or not, as with
  BlueZ.

This leans on bleak internals (service collection and attribute constructors,
``AdvertisementData``): keep ``bleak`` pinned to 3.1.x.
"""
from __future__ import annotations

import asyncio
import logging
import uuid as _uuid
import weakref
from typing import Any, Callable, Optional

from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, hci
from bumble.core import AdvertisingData
from bumble.core import UUID as BumbleUUID
from bumble.device import Advertisement, Connection, Device, Peer

__all__ = ["backends_for", "REQUESTED_MTU"]

_log = logging.getLogger(__name__)
# A wearable goes on notifying until STOP reaches it; bumble's client warns for each
# notification that arrives after the host unsubscribed, which says nothing to a user.
logging.getLogger("bumble.gatt_client").setLevel(logging.ERROR)

#: ATT MTU the client asks for after connecting (PROTOCOL.md: 244-byte notifications).
REQUESTED_MTU = 247
_DEFAULT_MTU = 23
# How long a controller may take to answer LE Create Connection Cancel with the outcome.
_CANCEL_ANSWER_TIMEOUT_S = 2.0

_UUID_LIST_TYPES = (
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA_TYPES = (
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID,
)

_backends: "weakref.WeakKeyDictionary[Any, tuple[type, type]]" = weakref.WeakKeyDictionary()


def backends_for(radio) -> tuple[type[BaseBleakScanner], type[BaseBleakClient]]:
    """The bleak scanner and client backend classes bound to ``radio``'s central device.

    Parameters
    ----------
    radio : glutescope.virtual.radio.VirtualRadio
        The radio whose ``central`` device scans and connects (opened before use).

    Returns
    -------
    tuple of type
        ``(scanner_class, client_class)``, for ``BleakScanner(backend=...)`` and
        ``BleakClient(..., backend=...)``. The same pair is returned for the same radio.
    """
    pair = _backends.get(radio)
    if pair is None:
        central = _Central(radio)
        scanner = type("BumbleScanner", (BumbleScanner,), {"_central": central})
        client = type("BumbleClient", (BumbleClient,), {"_central": central})
        pair = (scanner, client)
        _backends[radio] = pair
    return pair


def _bleak_uuid(uuid: BumbleUUID) -> str:
    """bumble UUID -> bleak's form: 128-bit, lower case, with dashes."""
    return str(_uuid.UUID(bytes=bytes(reversed(uuid.to_bytes(force_128=True)))))


class _Central:
    """State shared by every scanner and client of one radio: who wants scanning."""

    def __init__(self, radio) -> None:
        self.radio = radio
        self.scanners: dict[object, bool] = {}  # running scanner -> wants active scanning
        self.connecting = 0
        self.attempt_pending = False  # an LE Create Connection the controller may still hold
        self._lock = asyncio.Lock()
        self.connect_lock = asyncio.Lock()

    @property
    def device(self) -> Device:
        return self.radio.central

    async def cancel_attempt(self) -> None:
        """Withdraw the connection attempt the controller still holds, if any.

        The controller answers LE Create Connection Cancel with a failed connection
        complete (Core Vol 4 Part E 7.8.13), or with the connection if it came up just
        then, which is dropped. Waiting for that answer keeps it from failing the next
        attempt instead.
        """
        if not self.attempt_pending:
            return
        self.attempt_pending = False
        device = self.device
        outcome: asyncio.Future[Optional[Connection]] = asyncio.get_running_loop().create_future()

        def on_connection(connection: Connection) -> None:
            if not outcome.done():
                outcome.set_result(connection)

        def on_failure(_error: Exception) -> None:
            if not outcome.done():
                outcome.set_result(None)

        device.on(device.EVENT_CONNECTION, on_connection)
        device.on(device.EVENT_CONNECTION_FAILURE, on_failure)
        try:
            await device.send_command(hci.HCI_LE_Create_Connection_Cancel_Command())
            connection = await asyncio.wait_for(outcome, _CANCEL_ANSWER_TIMEOUT_S)
        except asyncio.TimeoutError:
            return  # no answer: nothing was pending after all
        finally:
            device.remove_listener(device.EVENT_CONNECTION, on_connection)
            device.remove_listener(device.EVENT_CONNECTION_FAILURE, on_failure)
        if connection is not None:
            try:
                await connection.disconnect()
            except (hci.HCI_Error, hci.HCI_StatusError):
                pass  # already gone

    async def update_scanning(self) -> None:
        """Scan iff a scanner runs and no connection is being made (bumble needs both)."""
        async with self._lock:
            device = self.device
            want = bool(self.scanners) and self.connecting == 0
            active = any(self.scanners.values())
            if device.is_scanning and (not want or active == device.scanning_is_passive):
                await device.stop_scanning()
            if want and not device.is_scanning:
                await device.start_scanning(active=active, filter_duplicates=False)


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on the radio's central bumble device (see `backends_for`)."""

    _central: _Central

    def __init__(
        self,
        detection_callback: Optional[AdvertisementDataCallback],
        service_uuids: Optional[list[str]],
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if scanning_mode not in ("active", "passive"):
            raise BleakError(f"scanning_mode must be 'active' or 'passive', got {scanning_mode!r}")
        self._active = scanning_mode == "active"
        self._listening = False

    async def start(self) -> None:
        self.seen_devices = {}
        device = self._central.device
        if not self._listening:
            device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = True
        self._central.scanners[self] = self._active
        await self._central.update_scanning()

    async def stop(self) -> None:
        if self._listening:
            device = self._central.device
            device.remove_listener(device.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = False
        if self._central.scanners.pop(self, None) is not None and self._central.radio.is_open:
            await self._central.update_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        names = data.get_all(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get_all(
            AdvertisingData.Type.SHORTENED_LOCAL_NAME
        )
        local_name = names[0] if names else None
        service_uuids = [
            _bleak_uuid(u) for kind in _UUID_LIST_TYPES for uuids in data.get_all(kind) for u in uuids
        ]
        if not self.is_allowed_uuid(service_uuids):
            return
        manufacturer_data = {
            company: bytes(payload)
            for company, payload in data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA)
        }
        service_data = {
            _bleak_uuid(u): bytes(payload) for kind in _SERVICE_DATA_TYPES for u, payload in data.get_all(kind)
        }
        tx_levels = data.get_all(AdvertisingData.Type.TX_POWER_LEVEL)
        tx_power = (tx_levels[0] - 256 if tx_levels[0] > 127 else tx_levels[0]) if tx_levels else None
        adv = AdvertisementData(
            local_name=local_name,
            manufacturer_data=manufacturer_data,
            service_data=service_data,
            service_uuids=service_uuids,
            tx_power=tx_power,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = advertisement.address
        key = address.to_string(with_type_qualifier=False)
        previous = self.seen_devices.get(key)
        name = local_name if local_name is not None else (previous[0].name if previous else None)
        device = self.create_or_update_device(key, key, name, address, adv)
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend on the radio's central bumble device (see `backends_for`)."""

    _central: _Central

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Optional[Callable[[], None]],
        timeout: float,
        services: Optional[set[str]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._peer_address: Optional[hci.Address] = None
        self._name: Optional[str] = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name
            if isinstance(address_or_ble_device.details, hci.Address):
                self._peer_address = address_or_ble_device.details
        self._wanted_services = services
        self._connection: Optional[Connection] = None
        self._peer: Optional[Peer] = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    # -- connection ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else _DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            raise BleakError("pairing is not supported on the virtual link")
        if self._connection is not None:
            return
        try:
            await asyncio.wait_for(self._connect_and_discover(), self._timeout)
        except asyncio.TimeoutError:
            await self._central.cancel_attempt()
            await self._abandon()
            raise asyncio.TimeoutError(f"no connection to {self.address} within {self._timeout:g} s") from None
        except BaseException:
            await self._abandon()
            raise

    async def _connect_and_discover(self) -> None:
        central = self._central
        peer_address = self._peer_address or await self._find_address()
        async with central.connect_lock:
            central.connecting += 1
            try:
                await central.update_scanning()
                central.attempt_pending = True
                try:
                    connection = await central.device.connect_le(peer_address, timeout=None)
                except asyncio.CancelledError:
                    raise  # the attempt may still be armed: connect() cancels it
                except BaseException:
                    central.attempt_pending = False  # the controller reported the failure
                    raise
                central.attempt_pending = False
            finally:
                central.connecting -= 1
            await central.update_scanning()
        self._peer_address = peer_address
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        self._peer = peer
        await peer.request_mtu(REQUESTED_MTU)
        self.services = await self._discover(peer)

    async def _find_address(self) -> hci.Address:
        """Learn the address type of a bare address string by hearing it advertise."""
        found: asyncio.Future[hci.Address] = asyncio.get_running_loop().create_future()
        wanted = self.address.upper()

        def on_advertisement(advertisement: Advertisement) -> None:
            if advertisement.address.to_string(False) == wanted and not found.done():
                found.set_result(advertisement.address)

        device = self._central.device
        device.on(device.EVENT_ADVERTISEMENT, on_advertisement)
        token = object()
        self._central.scanners[token] = False
        try:
            await self._central.update_scanning()
            return await found
        finally:
            device.remove_listener(device.EVENT_ADVERTISEMENT, on_advertisement)
            self._central.scanners.pop(token, None)
            await self._central.update_scanning()

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        wanted = None
        if self._wanted_services:
            wanted = [BumbleUUID(u) for u in self._wanted_services]
        await peer.discover_services(wanted or ())
        collection = BleakGATTServiceCollection()
        mtu = self.mtu_size
        for service_proxy in peer.services:
            await peer.discover_characteristics(service=service_proxy)
            service = BleakGATTService(service_proxy, service_proxy.handle, _bleak_uuid(service_proxy.uuid))
            collection.add_service(service)
            for characteristic_proxy in service_proxy.characteristics:
                await peer.discover_descriptors(characteristic=characteristic_proxy)
                properties = [
                    name for bit, name in CHARACTERISTIC_PROPERTIES.items() if characteristic_proxy.properties & bit
                ]
                characteristic = BleakGATTCharacteristic(
                    characteristic_proxy,
                    characteristic_proxy.handle,
                    _bleak_uuid(characteristic_proxy.uuid),
                    properties,
                    lambda: self.mtu_size - 3 if self._connection is not None else mtu - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor_proxy in characteristic_proxy.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor_proxy, descriptor_proxy.handle, _bleak_uuid(descriptor_proxy.type), characteristic
                        )
                    )
        return collection

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            # Returns once the controller reports the disconnection.
            await connection.disconnect()
        except (hci.HCI_Error, hci.HCI_StatusError):
            pass  # the link went away on its own meanwhile
        if self._connection is connection:
            self._forget()

    async def _abandon(self) -> None:
        if self._connection is not None:
            try:
                await self.disconnect()
            finally:
                self._forget()

    def _on_disconnection(self, reason: int) -> None:
        self._forget()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _forget(self) -> None:
        self._connection = None
        self._peer = None
        self._subscriptions = {}

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported on the virtual link")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported on the virtual link")

    # -- GATT --------------------------------------------------------------------------

    def _require_connection(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require_connection()
        return bytearray(await _att_call(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require_connection()
        return bytearray(await _att_call(descriptor.obj.read_value()))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data, response: bool) -> None:
        self._require_connection()
        await _att_call(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        self._require_connection()
        await _att_call(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_connection()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        previous = self._subscriptions.pop(characteristic.handle, None)
        if previous is not None:
            await _att_call(peer.unsubscribe(characteristic.obj, previous))
        self._subscriptions[characteristic.handle] = on_value
        await _att_call(peer.subscribe(characteristic.obj, on_value, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_connection()
        subscriber = self._subscriptions.pop(characteristic.handle, None)
        if subscriber is not None:
            await _att_call(peer.unsubscribe(characteristic.obj, subscriber))


async def _att_call(awaitable):
    try:
        return await awaitable
    except att.ATT_Error as exc:
        raise BleakGATTProtocolError(exc.error_code) from exc
