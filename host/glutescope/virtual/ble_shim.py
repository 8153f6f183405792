"""MicroPython's ``bluetooth`` module, implemented on the virtual radio's peripheral stack.

The wearable firmware imports ``bluetooth`` and drives the GATT server through
MicroPython's low-level IRQ API. On the desktop this module stands in for it: install
it as ``sys.modules["bluetooth"]`` (see `install`), `attach` it to an open
`glutescope.virtual.radio.VirtualRadio`, and the unmodified firmware serves real GATT
over bumble to a real GATT client.

What follows MicroPython (NimBLE port, 1.2x) exactly
----------------------------------------------------
* ``BLE()`` is a singleton; ``gatts_register_services`` returns the value handles, one
  tuple per service, characteristics and their descriptors in definition order; a
  CCCD is added to every notify/indicate characteristic.
* IRQ events carry MicroPython's numbers and tuples. Memoryviews passed to the handler
  are valid only during the call: afterwards they are released (or, if the handler
  kept a slice of one, their bytes are wiped), as the stack reuses its buffer.
* A remote write is cut to the value's buffer, 20 bytes unless ``gatts_set_buffer``
  enlarged it; a local ``gatts_write`` grows the buffer to fit.
* ``gatts_notify`` sends whether or not the central subscribed, cut to ATT_MTU - 3.
* ``config(mtu=...)`` only sets the MTU offered when the *central* starts the exchange.
* Calls on an inactive radio raise ``OSError(ENODEV)``; on an unknown connection
  ``OSError(ENOTCONN)``.

Back-pressure
-------------
bumble queues notifications without limit, whereas a real stack holds only a few
packets per connection event in its controller buffers. The shim keeps at most
``notify_queue_depth`` notifications in flight (queued to the controller and not yet
completed, about two connection events at six packets each) and raises
``OSError(ENOMEM)`` beyond that, as NimBLE does when its ACL buffers are exhausted.
btstack, the stack of the Pico W and Pico 2 W port, behaves differently: it never
refuses a notification but copies it to the heap until the radio can send it, so a
sender that outruns the link grows the heap instead of seeing an error. Firmware must
therefore pace itself either way: retry after ENOMEM, and never produce faster than the
link drains.

Not implemented: the GATT client and central roles, L2CAP channels, pairing, and
indications (``gatts_indicate``).
"""
from __future__ import annotations

import asyncio
import errno
import logging
import struct
import sys
from typing import Any, Callable, Optional

from bumble import gatt, hci
from bumble.att import ATT_CID, AttributeValue
from bumble.core import UUID as _BumbleUUID
from bumble.device import AdvertisingType, Connection

__all__ = [
    "BLE",
    "UUID",
    "FLAG_READ",
    "FLAG_WRITE_NO_RESPONSE",
    "FLAG_WRITE",
    "FLAG_NOTIFY",
    "FLAG_INDICATE",
    "attach",
    "detach",
    "install",
    "DEFAULT_NOTIFY_QUEUE_DEPTH",
]

_log = logging.getLogger(__name__)

# Characteristic and descriptor flags (MicroPython documents these values; they are the
# GATT characteristic property bits).
FLAG_BROADCAST = 0x0001
FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020
FLAG_AUTHENTICATED_SIGNED_WRITE = 0x0040

# IRQ event numbers used by the peripheral role.
_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27

#: Notifications allowed in flight before ``gatts_notify`` raises ENOMEM.
DEFAULT_NOTIFY_QUEUE_DEPTH = 12

_DEFAULT_VALUE_BYTES = 20  # MicroPython's default attribute buffer
_DEFAULT_MTU = 23  # ATT_MTU before any exchange (Core Vol 3 Part F 3.2.8)
_MAX_MTU = 517
_MAX_LEGACY_ADV_BYTES = 31
_ATT_HANDLE_VALUE_NOTIFICATION = 0x1B
_PACK_NOTIFY_HEADER = struct.Struct("<BH").pack

_attached: Optional["BLE"] = None


def install() -> None:
    """Make ``import bluetooth`` return this module (for firmware running on CPython)."""
    sys.modules["bluetooth"] = sys.modules[__name__]


def attach(radio, *, notify_queue_depth: int = DEFAULT_NOTIFY_QUEUE_DEPTH) -> "BLE":
    """Bind ``BLE()`` to ``radio``'s peripheral stack and return the singleton.

    Parameters
    ----------
    radio : glutescope.virtual.radio.VirtualRadio
        An open radio; its ``peripheral`` device becomes the firmware's radio.
    notify_queue_depth : int
        Notifications allowed in flight before ``gatts_notify`` raises
        ``OSError(ENOMEM)``; at least 1.
    """
    global _attached
    if not isinstance(notify_queue_depth, int) or notify_queue_depth < 1:
        raise ValueError(f"notify_queue_depth must be an int >= 1, got {notify_queue_depth!r}")
    device = radio.peripheral  # raises if the radio is not open
    detach()
    ble = object.__new__(BLE)
    ble._bind(device, notify_queue_depth)
    _attached = ble
    return ble


def detach() -> None:
    """Unbind ``BLE()`` from its radio (safe to call when nothing is attached)."""
    global _attached
    ble, _attached = _attached, None
    if ble is not None:
        ble._unbind()


class UUID:
    """A 16-bit or 128-bit Bluetooth UUID, as MicroPython's ``bluetooth.UUID``.

    Parameters
    ----------
    value : int, str or bytes-like
        A 16-bit integer (``0x180F``), a 128-bit string
        (``"5a1c0001-7d3e-4b8a-9f21-3c6e0b9d4a17"``), or 2 or 16 bytes little-endian.
    """

    __slots__ = ("_le",)

    def __init__(self, value: Any) -> None:
        if isinstance(value, UUID):
            self._le = value._le
        elif isinstance(value, int):
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"a 16-bit UUID must be 0..0xFFFF, got {value:#x}")
            self._le = value.to_bytes(2, "little")
        elif isinstance(value, str):
            hex_digits = value.replace("-", "")
            if len(hex_digits) != 32 or len(value) not in (32, 36):
                raise ValueError(f"a 128-bit UUID string needs 32 hex digits, got {value!r}")
            self._le = bytes.fromhex(hex_digits)[::-1]
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if len(data) not in (2, 16):
                raise ValueError(f"a UUID from bytes needs 2 or 16 bytes, got {len(data)}")
            self._le = data
        else:
            raise TypeError(f"UUID needs an int, str or bytes, got {type(value).__name__}")

    def __bytes__(self) -> bytes:
        return self._le

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UUID) and other._le == self._le

    def __hash__(self) -> int:
        return hash(self._le)

    def __repr__(self) -> str:
        if len(self._le) == 2:
            return f"UUID(0x{int.from_bytes(self._le, 'little'):04x})"
        h = self._le[::-1].hex()
        return f"UUID('{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}')"

    def _to_bumble(self) -> _BumbleUUID:
        return _BumbleUUID.from_bytes(self._le)


class _Value:
    """A local attribute value: MicroPython's per-handle buffer."""

    __slots__ = ("data", "capacity", "append")

    def __init__(self) -> None:
        self.data = bytearray()
        self.capacity = _DEFAULT_VALUE_BYTES
        self.append = False


class BLE:
    """MicroPython's ``bluetooth.BLE`` (peripheral role) on the attached virtual radio.

    ``BLE()`` returns the singleton bound by `attach`.
    """

    # Set by _bind; declared for readers.
    _device: Any
    notify_queue_high_water: int
    """Most notifications ever in flight at once (shim-only, for tests and benchmarks)."""

    def __new__(cls) -> "BLE":
        if _attached is None:
            raise OSError(
                errno.ENODEV,
                "no virtual radio attached: call glutescope.virtual.ble_shim.attach(radio) first",
            )
        return _attached

    # -- binding to a radio (shim-only) ----------------------------------------------

    def _bind(self, device, notify_queue_depth: int) -> None:
        self._device = device
        self._depth = notify_queue_depth
        self._active = False
        self._handler: Optional[Callable[[int, tuple], None]] = None
        self._values: dict[int, _Value] = {}
        self._services: list[gatt.Service] = []
        self._first_own_attribute = len(device.gatt_server.attributes)
        self._connections: dict[int, Connection] = {}
        self._advertising = False
        self._adv_data = b""
        self._resp_data = b""
        self._last_op: Optional[asyncio.Task] = None
        self._deferred: Optional[BaseException] = None
        self.notify_queue_high_water = 0
        device.gatt_server.max_mtu = _DEFAULT_MTU
        device.on(device.EVENT_CONNECTION, self._on_connection)

    def _unbind(self) -> None:
        self._device.remove_listener(self._device.EVENT_CONNECTION, self._on_connection)
        if self._last_op is not None and not self._last_op.done():
            self._last_op.cancel()
        self._active = False
        self._handler = None

    # -- MicroPython API ---------------------------------------------------------------

    def active(self, state: Optional[bool] = None) -> bool:
        """Return whether the radio is on; turn it on or off first if ``state`` is given."""
        self._raise_deferred()
        if state is None:
            return self._active
        if state and not self._active:
            self._active = True
        elif not state and self._active:
            self._stop_everything()
            self._active = False
        return self._active

    def config(self, *names: str, **values: Any) -> Any:
        """Query one parameter (``config('mac')``) or set some (``config(mtu=247)``).

        Supported: ``mac`` (read: ``(addr_type, addr)``, address most significant byte
        first), ``gap_name`` (bytes when read; str or bytes to set), ``mtu`` (the MTU
        offered in an exchange the central starts; 23-517).
        """
        self._raise_deferred()
        self._require_active()
        if names and values:
            raise TypeError("config() takes either one parameter name or keyword arguments, not both")
        if names:
            if len(names) != 1:
                raise TypeError(f"config() queries one parameter at a time, got {len(names)}")
            name = names[0]
            if name == "mac":
                address = self._device.random_address
                return (int(address.address_type), bytes(reversed(bytes(address))))
            if name == "gap_name":
                return self._gap_name_characteristic().value
            if name == "mtu":
                return self._device.gatt_server.max_mtu
            raise ValueError(f"unknown config parameter {name!r}; this shim knows mac, gap_name, mtu")
        for name, value in values.items():
            if name == "gap_name":
                name_bytes = value.encode() if isinstance(value, str) else bytes(value)
                self._gap_name_characteristic().value = name_bytes
                self._device.name = name_bytes.decode("utf-8", "replace")
            elif name == "mtu":
                if not isinstance(value, int) or not _DEFAULT_MTU <= value <= _MAX_MTU:
                    raise ValueError(f"mtu must be an int in {_DEFAULT_MTU}..{_MAX_MTU}, got {value!r}")
                self._device.gatt_server.max_mtu = value
            else:
                raise ValueError(f"unknown or read-only config parameter {name!r}; this shim sets gap_name, mtu")
        return None

    def irq(self, handler: Optional[Callable[[int, tuple], None]]) -> None:
        """Register the event handler ``handler(event, data)`` (``None`` removes it)."""
        self._raise_deferred()
        if handler is not None and not callable(handler):
            raise TypeError(f"irq handler must be callable or None, got {type(handler).__name__}")
        self._handler = handler

    def gap_advertise(
        self,
        interval_us: Optional[int],
        adv_data: Any = None,
        resp_data: Any = None,
        connectable: bool = True,
    ) -> None:
        """Start advertising every ``interval_us`` microseconds, or stop (``None``).

        ``adv_data``/``resp_data`` of ``None`` reuse the previous payloads; each is at
        most 31 bytes (legacy advertising).
        """
        self._raise_deferred()
        self._require_active()
        if interval_us is None:
            self._advertising = False
            self._submit(self._device.stop_advertising)
            return
        if not isinstance(interval_us, int) or interval_us <= 0:
            raise ValueError(f"interval_us must be a positive int or None, got {interval_us!r}")
        if adv_data is not None:
            self._adv_data = _legacy_payload("adv_data", adv_data)
        if resp_data is not None:
            self._resp_data = _legacy_payload("resp_data", resp_data)
        if connectable:
            kind = AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE
        elif self._resp_data:
            kind = AdvertisingType.UNDIRECTED_SCANNABLE
        else:
            kind = AdvertisingType.UNDIRECTED
        # The controller counts in 0.625 ms slots.
        interval_ms = max(1, round(interval_us / 625)) * 0.625
        adv, resp = self._adv_data, self._resp_data
        self._advertising = True

        async def start() -> None:
            await self._device.start_advertising(
                advertising_type=kind,
                advertising_data=adv,
                scan_response_data=resp,
                advertising_interval_min=interval_ms,
                advertising_interval_max=interval_ms,
            )

        self._submit(start)

    def gap_disconnect(self, conn_handle: int) -> bool:
        """Disconnect ``conn_handle``; ``False`` if it was not connected."""
        self._raise_deferred()
        self._require_active()
        connection = self._connections.get(conn_handle)
        if connection is None:
            return False
        self._submit(connection.disconnect)
        return True

    def gatts_register_services(self, services_definition) -> tuple:
        """Register services, replacing earlier ones; return their value handles.

        ``services_definition`` is ``((uuid, ((uuid, flags), (uuid, flags,
        ((uuid, flags), ...)), ...)), ...)``. Returns one tuple per service with the
        handles of its characteristics and descriptors in definition order.
        """
        self._raise_deferred()
        self._require_active()
        if self._advertising:
            raise OSError(errno.EBUSY, "stop advertising before registering services")
        self._remove_own_services()
        built = [self._build_service(i, s) for i, s in enumerate(services_definition)]
        handles = []
        for service, attributes in built:
            self._device.gatt_server.add_service(service)
            self._services.append(service)
            service_handles = []
            for attribute in attributes:
                self._values[attribute.handle] = _Value()
                service_handles.append(attribute.handle)
            handles.append(tuple(service_handles))
        return tuple(handles)

    def gatts_read(self, value_handle: int) -> bytes:
        """The local value of ``value_handle`` (an appending buffer is emptied)."""
        self._raise_deferred()
        value = self._value(value_handle)
        data = bytes(value.data)
        if value.append:
            value.data = bytearray()
        return data

    def gatts_write(self, value_handle: int, data, send_update: bool = False) -> None:
        """Set the local value; with ``send_update``, notify subscribed centrals."""
        self._raise_deferred()
        value = self._value(value_handle)
        value.data = bytearray(data)
        value.capacity = max(value.capacity, len(value.data))
        if send_update:
            self._notify_subscribers(value_handle, bytes(value.data))

    def gatts_notify(self, conn_handle: int, value_handle: int, data=None) -> None:
        """Send a notification of ``data`` (or the local value) to ``conn_handle``.

        Raises ``OSError(ENOMEM)`` when ``notify_queue_depth`` notifications are
        already in flight: wait and retry.
        """
        self._raise_deferred()
        self._require_active()
        connection = self._connections.get(conn_handle)
        if connection is None:
            raise OSError(errno.ENOTCONN, f"no connection with handle {conn_handle}")
        payload = self._value(value_handle).data if data is None else data
        queue = self._device.host.get_data_packet_queue(conn_handle)
        in_flight = queue.pending if queue is not None else 0
        if in_flight >= self._depth:
            raise OSError(errno.ENOMEM, "notification queue full")
        limit = connection.att_mtu - 3
        pdu = _PACK_NOTIFY_HEADER(_ATT_HANDLE_VALUE_NOTIFICATION, value_handle) + bytes(payload[:limit])
        self._device.send_l2cap_pdu(conn_handle, ATT_CID, pdu)
        if in_flight + 1 > self.notify_queue_high_water:
            self.notify_queue_high_water = in_flight + 1

    def gatts_set_buffer(self, value_handle: int, length: int, append: bool = False) -> None:
        """Size (and empty) the buffer remote writes go to; ``append`` keeps writes until read."""
        self._raise_deferred()
        if not isinstance(length, int) or length < 0:
            raise ValueError(f"buffer length must be an int >= 0, got {length!r}")
        value = self._value(value_handle)
        value.capacity = length
        value.append = bool(append)
        value.data = bytearray()  # MicroPython empties a resized buffer

    # -- stack events -> IRQs ----------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL or not self._active:
            return
        handle = connection.handle
        self._connections[handle] = connection
        self._advertising = False  # the controller stops advertising on connection
        peer = connection.peer_address
        addr_type, addr = int(peer.address_type), bytes(reversed(bytes(peer)))
        connection.on(connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection))
        connection.on(connection.EVENT_CONNECTION_ATT_MTU_UPDATE, lambda: self._on_mtu(connection))
        connection.on(connection.EVENT_CONNECTION_PARAMETERS_UPDATE, lambda: self._on_parameters(connection))
        self._irq_with_addr(_IRQ_CENTRAL_CONNECT, handle, addr_type, addr)

    def _on_disconnection(self, connection: Connection) -> None:
        if self._connections.pop(connection.handle, None) is None:
            return
        peer = connection.peer_address
        self._irq_with_addr(
            _IRQ_CENTRAL_DISCONNECT, connection.handle, int(peer.address_type), bytes(reversed(bytes(peer)))
        )

    def _on_mtu(self, connection: Connection) -> None:
        if connection.handle in self._connections:
            self._irq(_IRQ_MTU_EXCHANGED, (connection.handle, connection.att_mtu))

    def _on_parameters(self, connection: Connection) -> None:
        if connection.handle not in self._connections:
            return
        parameters = connection.parameters
        self._irq(
            _IRQ_CONNECTION_UPDATE,
            (
                connection.handle,
                round(parameters.connection_interval / 1.25),  # 1.25 ms units
                parameters.peripheral_latency,
                round(parameters.supervision_timeout / 10),  # 10 ms units
                0,
            ),
        )

    def _remote_write(self, connection: Connection, value_handle: int, data: bytes) -> None:
        value = self._values.get(value_handle)
        if value is None:
            return
        if value.append:
            room = value.capacity - len(value.data)
            value.data.extend(data[: max(room, 0)])
        else:
            value.data = bytearray(data[: value.capacity])
        self._irq(_IRQ_GATTS_WRITE, (connection.handle, value_handle))

    def _remote_read(self, value_handle: int) -> bytes:
        value = self._values.get(value_handle)
        return b"" if value is None else bytes(value.data)

    def _irq_with_addr(self, event: int, conn_handle: int, addr_type: int, addr: bytes) -> None:
        backing = bytearray(addr)
        view = memoryview(backing)
        try:
            self._irq(event, (conn_handle, addr_type, view))
        finally:
            # The stack reuses this buffer: a view kept past the call must not show
            # the old address.
            backing[:] = bytes(len(backing))
            try:
                view.release()
            except BufferError:
                pass  # the handler kept a slice; it now reads zeros, as on hardware

    def _irq(self, event: int, data: tuple) -> None:
        handler = self._handler
        if handler is None:
            return
        try:
            handler(event, data)
        except Exception as exc:  # surfaced at the next API call, never lost
            _log.error("BLE IRQ handler raised on event %d", event, exc_info=exc)
            if self._deferred is None:
                self._deferred = RuntimeError(f"the BLE IRQ handler raised on event {event}: {exc!r}")
                self._deferred.__cause__ = exc

    # -- helpers -----------------------------------------------------------------------

    def _build_service(self, index: int, definition) -> tuple[gatt.Service, list]:
        try:
            service_uuid, characteristic_defs = definition
        except (TypeError, ValueError):
            raise ValueError(
                f"service {index} must be (UUID, ((UUID, flags), ...)), got {definition!r}"
            ) from None
        characteristics, attributes = [], []
        for j, definition_c in enumerate(characteristic_defs):
            if not isinstance(definition_c, tuple) or len(definition_c) not in (2, 3):
                raise ValueError(
                    f"characteristic {j} of service {index} must be (UUID, flags[, descriptors]), got {definition_c!r}"
                )
            uuid, flags = definition_c[0], definition_c[1]
            descriptor_defs = definition_c[2] if len(definition_c) == 3 else ()
            descriptors = [self._make_descriptor(d_uuid, d_flags) for d_uuid, d_flags in descriptor_defs]
            characteristic = gatt.Characteristic(
                _as_uuid(uuid)._to_bumble(),
                gatt.Characteristic.Properties(flags & 0xFF),
                _permissions(flags),
                descriptors=descriptors,
            )
            characteristic.value = self._attribute_value(characteristic)
            characteristics.append(characteristic)
            attributes.append(characteristic)
            attributes.extend(descriptors)
        service = gatt.Service(_as_uuid(service_uuid)._to_bumble(), characteristics)
        return service, attributes

    def _make_descriptor(self, uuid, flags: int) -> gatt.Descriptor:
        descriptor = gatt.Descriptor(_as_uuid(uuid)._to_bumble(), _permissions(flags))
        descriptor.value = self._attribute_value(descriptor)
        return descriptor

    def _attribute_value(self, attribute) -> AttributeValue:
        return AttributeValue(
            read=lambda connection: self._remote_read(attribute.handle),
            write=lambda connection, data: self._remote_write(connection, attribute.handle, data),
        )

    def _remove_own_services(self) -> None:
        server = self._device.gatt_server
        if not self._services:
            return
        for service in self._services:
            server.services.remove(service)
        for attribute in server.attributes[self._first_own_attribute :]:
            server.attributes_by_handle.pop(attribute.handle, None)
        del server.attributes[self._first_own_attribute :]
        self._services = []
        self._values = {}

    def _notify_subscribers(self, value_handle: int, data: bytes) -> None:
        subscribers = self._device.gatt_server.subscribers
        for handle, connection in list(self._connections.items()):
            cccd = subscribers.get(connection, {}).get(value_handle)
            if cccd and cccd[0] & 0x01:
                pdu = _PACK_NOTIFY_HEADER(_ATT_HANDLE_VALUE_NOTIFICATION, value_handle)
                self._device.send_l2cap_pdu(handle, ATT_CID, pdu + data[: connection.att_mtu - 3])

    def _gap_name_characteristic(self):
        for service in self._device.gatt_server.services:
            characteristic = getattr(service, "device_name_characteristic", None)
            if characteristic is not None:
                return characteristic
        raise OSError(errno.ENOENT, "the stack has no GAP service")

    def _value(self, value_handle: int) -> _Value:
        value = self._values.get(value_handle)
        if value is None:
            raise ValueError(f"no registered characteristic or descriptor with value handle {value_handle!r}")
        return value

    def _stop_everything(self) -> None:
        self._advertising = False
        self._submit(self._device.stop_advertising)
        for connection in list(self._connections.values()):
            self._submit(connection.disconnect)

    def _submit(self, operation: Callable[[], Any]) -> None:
        """Run ``operation()`` (a coroutine function) after the previous one, in order."""
        previous = self._last_op

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await operation()
            except Exception as exc:  # surfaced at the next API call, never lost
                if self._deferred is None:
                    self._deferred = OSError(errno.EIO, f"radio operation failed: {exc!r}")
                    self._deferred.__cause__ = exc

        self._last_op = asyncio.get_running_loop().create_task(run())

    async def settle(self) -> None:
        """Wait until every radio operation submitted so far has run (shim-only).

        ``gap_advertise``, ``gap_disconnect`` and ``active(False)`` return at once, as on
        the board; their effect follows at the next turns of the event loop.
        """
        while self._last_op is not None and not self._last_op.done():
            await asyncio.wait([self._last_op])
        self._raise_deferred()

    def _raise_deferred(self) -> None:
        error, self._deferred = self._deferred, None
        if error is not None:
            raise error

    def _require_active(self) -> None:
        if not self._active:
            raise OSError(errno.ENODEV, "BLE is not active: call BLE().active(True) first")


def _as_uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _permissions(flags: int) -> gatt.Attribute.Permissions:
    permissions = gatt.Attribute.Permissions(0)
    if flags & FLAG_READ:
        permissions |= gatt.Attribute.READABLE
    if flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE | FLAG_AUTHENTICATED_SIGNED_WRITE):
        permissions |= gatt.Attribute.WRITEABLE
    return permissions


def _legacy_payload(name: str, data) -> bytes:
    payload = bytes(data)
    if len(payload) > _MAX_LEGACY_ADV_BYTES:
        raise OSError(
            errno.EINVAL, f"{name} is {len(payload)} bytes; legacy advertising allows {_MAX_LEGACY_ADV_BYTES}"
        )
    return payload
