"""MicroPython's ``bluetooth`` module, implemented on the virtual radio's peripheral stack.

The wearable firmware imports ``bluetooth`` and drives the GATT server through
MicroPython's low-level IRQ API. On the desktop this module stands in for it: install
it as ``sys.modules["bluetooth"]`` (see `install`), `attach` it to an open
`glutescope.virtual.radio.VirtualRadio`, and the unmodified firmware serves real GATT
over bumble to a real GATT client.

What follows MicroPython 1.29 exactly
------------------------------------
By default the shim follows the ``bluetooth`` module on **btstack**, the stack of the
Pico W and Pico 2 W port, as seen with a real MicroPython 1.29 + btstack binary (see
`attach` for NimBLE, the other stack):

* ``BLE()`` is a singleton; ``gatts_register_services`` returns the value handles, one
  tuple per service, characteristics and their descriptors in definition order; a
  CCCD is added to every notify/indicate characteristic.
* IRQ events carry MicroPython's numbers and tuples. Memoryviews passed to the handler
  are valid only during the call: afterwards they are released (or, if the handler
  kept a slice of one, their bytes are wiped), as the stack reuses its buffer.
* A remote write is cut to the value's buffer, 20 bytes unless ``gatts_set_buffer``
  enlarged it; a local ``gatts_write`` grows the buffer to fit.
* ``gatts_notify`` sends whether or not the central subscribed, cut to ATT_MTU - 3.
* ``config(mtu=...)`` only sets the MTU offered when the *central* starts the exchange;
  ``config('mtu')`` reads it back, 1017 (btstack's ``l2cap_max_le_mtu``) before any is set.
* ``gap_advertise(interval_us, adv_data=None, *, resp_data=None, connectable=True)``:
  ``resp_data`` and ``connectable`` are keyword-only, as in ``extmod/modbluetooth.c``.
* ``_IRQ_GATTS_READ_REQUEST`` (4) comes before every remote read of a readable value;
  a handler result other than ``None`` or 0 refuses the read.
* ``_IRQ_CENTRAL_DISCONNECT`` carries ``(conn_handle, 255, memoryview(bytes(6)))``:
  btstack does not report the peer's address on disconnect.
* Calls on an inactive radio raise ``OSError(ENODEV)``; on an unknown connection
  ``OSError(ENOTCONN)``.

Back-pressure
-------------
bumble queues notifications without limit and drains them as fast as the CPU allows;
the two real stacks differ:

* **btstack** (default) never refuses a notification: ``gatts_notify`` returns ``None``
  and copies the payload to the GC heap (about 318 B for a 244-byte payload, i.e. the
  payload plus `BTSTACK_NOTIFY_OVERHEAD_BYTES`) until the radio sends it. The shim counts
  those bytes until bumble's controller completes the packet; they lower
  ``gc.mem_free()`` (`glutescope.virtual.upy`), and a notification that would take the
  queued bytes past ``heap_budget_bytes`` raises ``MemoryError``, as the failed heap
  allocation does on the board.
* **NimBLE** (``stack="nimble"``) holds at most ``notify_queue_depth`` notifications in
  flight and raises ``OSError(ENOMEM)`` beyond that; its disconnect event carries the
  peer's address and ``config('mtu')`` starts at 23.

Firmware must pace itself either way: never produce faster than the link drains.

Not implemented: the GATT client and central roles, L2CAP channels, pairing, and
indications (``gatts_indicate``).
"""
from __future__ import annotations

import asyncio
import collections
import errno
import logging
import struct
import sys
from typing import Any, Callable, Optional

from bumble import gatt, hci
from bumble.att import ATT_CID, ATT_Error, AttributeValue, ErrorCode
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
    "DEFAULT_HEAP_BUDGET_BYTES",
    "BTSTACK_NOTIFY_OVERHEAD_BYTES",
    "STACKS",
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
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27

#: The Bluetooth stacks the shim can follow.
STACKS = ("btstack", "nimble")

#: NimBLE: notifications allowed in flight before ``gatts_notify`` raises ENOMEM.
DEFAULT_NOTIFY_QUEUE_DEPTH = 12

#: btstack: heap the queued notifications may take before ``MemoryError``; the free
#: heap ``gc.mem_free()`` reports on CPython (`glutescope.virtual.upy.HEAP_FREE_BYTES`).
DEFAULT_HEAP_BUDGET_BYTES = 200_000

#: btstack: heap taken per queued notification beyond its payload (318 B measured for a
#: 244-byte payload on MicroPython 1.29 + btstack: 3000 queued took ~955 kB).
BTSTACK_NOTIFY_OVERHEAD_BYTES = 74

_BTSTACK_PREFERRED_MTU = 1017  # l2cap_max_le_mtu(): HCI_ACL_PAYLOAD_SIZE 1021 - 4

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


def attach(
    radio,
    *,
    stack: str = "btstack",
    notify_queue_depth: int = DEFAULT_NOTIFY_QUEUE_DEPTH,
    heap_budget_bytes: int = DEFAULT_HEAP_BUDGET_BYTES,
) -> "BLE":
    """Bind ``BLE()`` to ``radio``'s peripheral stack and return the singleton.

    Parameters
    ----------
    radio : glutescope.virtual.radio.VirtualRadio
        An open radio; its ``peripheral`` device becomes the firmware's radio.
    stack : {"btstack", "nimble"}
        Which real stack to follow (module docstring, "Back-pressure").
    notify_queue_depth : int
        NimBLE: notifications allowed in flight before ``gatts_notify`` raises
        ``OSError(ENOMEM)``; at least 1.
    heap_budget_bytes : int
        btstack: heap the queued notifications may take before ``gatts_notify`` raises
        ``MemoryError``; at least 1.
    """
    global _attached
    if stack not in STACKS:
        raise ValueError(f"stack must be one of {', '.join(STACKS)}, got {stack!r}")
    if not isinstance(notify_queue_depth, int) or notify_queue_depth < 1:
        raise ValueError(f"notify_queue_depth must be an int >= 1, got {notify_queue_depth!r}")
    if not isinstance(heap_budget_bytes, int) or heap_budget_bytes < 1:
        raise ValueError(f"heap_budget_bytes must be an int >= 1, got {heap_budget_bytes!r}")
    device = radio.peripheral  # raises if the radio is not open
    detach()
    ble = object.__new__(BLE)
    ble._bind(device, stack, notify_queue_depth, heap_budget_bytes)
    _attached = ble
    from glutescope.virtual import upy

    upy.add_heap_user(ble._heap_in_use)
    return ble


def detach() -> None:
    """Unbind ``BLE()`` from its radio (safe to call when nothing is attached)."""
    global _attached
    ble, _attached = _attached, None
    if ble is not None:
        from glutescope.virtual import upy

        upy.remove_heap_user(ble._heap_in_use)
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
    stack: str
    """The real stack followed: "btstack" or "nimble" (shim-only)."""
    notify_queue_high_water: int
    """Most notifications ever in flight at once (shim-only, for tests and benchmarks)."""
    heap_high_water_bytes: int
    """btstack: most heap ever held by queued notifications (shim-only)."""
    notifications: int
    """Notifications accepted by ``gatts_notify`` so far (shim-only)."""
    memory_errors: int
    """btstack: notifications refused with MemoryError (shim-only)."""

    def __new__(cls) -> "BLE":
        if _attached is None:
            raise OSError(
                errno.ENODEV,
                "no virtual radio attached: call glutescope.virtual.ble_shim.attach(radio) first",
            )
        return _attached

    # -- binding to a radio (shim-only) ----------------------------------------------

    def _bind(self, device, stack: str, notify_queue_depth: int, heap_budget_bytes: int) -> None:
        self._device = device
        self.stack = stack
        self._depth = notify_queue_depth
        self._heap_budget = heap_budget_bytes
        # btstack's heap copies: (bumble's packet count once queued, bytes), oldest first.
        self._held: collections.deque[tuple[int, int, int]] = collections.deque()
        self._held_bytes = 0
        self.heap_high_water_bytes = 0
        self.memory_errors = 0
        self.notifications = 0
        self._preferred_mtu = _BTSTACK_PREFERRED_MTU if stack == "btstack" else _DEFAULT_MTU
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
        device.gatt_server.max_mtu = min(self._preferred_mtu, _MAX_MTU)
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
                return self._preferred_mtu
            raise ValueError(f"unknown config parameter {name!r}; this shim knows mac, gap_name, mtu")
        for name, value in values.items():
            if name == "gap_name":
                name_bytes = value.encode() if isinstance(value, str) else bytes(value)
                self._gap_name_characteristic().value = name_bytes
                self._device.name = name_bytes.decode("utf-8", "replace")
            elif name == "mtu":
                if not isinstance(value, int) or not _DEFAULT_MTU <= value <= _MAX_MTU:
                    raise ValueError(f"mtu must be an int in {_DEFAULT_MTU}..{_MAX_MTU}, got {value!r}")
                self._preferred_mtu = value
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
        *,
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

        btstack: never refuses; the copy waits on the heap until sent, and raises
        ``MemoryError`` if the heap budget cannot hold it. NimBLE: raises
        ``OSError(ENOMEM)`` when ``notify_queue_depth`` notifications are already in
        flight: wait and retry.
        """
        self._raise_deferred()
        self._require_active()
        connection = self._connections.get(conn_handle)
        if connection is None:
            raise OSError(errno.ENOTCONN, f"no connection with handle {conn_handle}")
        payload = self._value(value_handle).data if data is None else data
        queue = self._device.host.get_data_packet_queue(conn_handle)
        in_flight = queue.pending if queue is not None else 0
        limit = connection.att_mtu - 3
        body = bytes(payload[:limit])
        if self.stack == "nimble":
            if in_flight >= self._depth:
                raise OSError(errno.ENOMEM, "notification queue full")
        else:
            cost = len(body) + BTSTACK_NOTIFY_OVERHEAD_BYTES
            if self._heap_in_use() + cost > self._heap_budget:
                self.memory_errors += 1
                raise MemoryError(f"memory allocation failed, allocating {cost} bytes")
        pdu = _PACK_NOTIFY_HEADER(_ATT_HANDLE_VALUE_NOTIFICATION, value_handle) + body
        self._device.send_l2cap_pdu(conn_handle, ATT_CID, pdu)
        self.notifications += 1
        if self.stack == "btstack":
            queue = self._device.host.get_data_packet_queue(conn_handle)
            self._held.append((conn_handle, queue.queued if queue is not None else 0, cost))
            self._held_bytes += cost
            if self._held_bytes > self.heap_high_water_bytes:
                self.heap_high_water_bytes = self._held_bytes
        if in_flight + 1 > self.notify_queue_high_water:
            self.notify_queue_high_water = in_flight + 1

    def _heap_in_use(self) -> int:
        """btstack: bytes of the heap held by notifications not yet sent (shim-only)."""
        host = self._device.host
        while self._held:
            conn_handle, index, cost = self._held[0]
            queue = host.get_data_packet_queue(conn_handle) if conn_handle in self._connections else None
            # On disconnect btstack frees what it still held.
            if queue is not None and queue.completed < index:
                break
            self._held.popleft()
            self._held_bytes -= cost
        return self._held_bytes

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
        if self.stack == "btstack":  # btstack reports no address on disconnect
            self._irq_with_addr(_IRQ_CENTRAL_DISCONNECT, connection.handle, 255, bytes(6))
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

    def _remote_read(self, connection: Connection, value_handle: int) -> bytes:
        value = self._values.get(value_handle)
        if value is None:
            return b""
        result = self._irq(_IRQ_GATTS_READ_REQUEST, (connection.handle, value_handle))
        if result is not None and result != 0:
            raise ATT_Error(ErrorCode.READ_NOT_PERMITTED, value_handle)
        return bytes(value.data)

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

    def _irq(self, event: int, data: tuple) -> Any:
        handler = self._handler
        if handler is None:
            return None
        try:
            return handler(event, data)
        except Exception as exc:  # surfaced at the next API call, never lost
            _log.error("BLE IRQ handler raised on event %d", event, exc_info=exc)
            if self._deferred is None:
                self._deferred = RuntimeError(f"the BLE IRQ handler raised on event {event}: {exc!r}")
                self._deferred.__cause__ = exc
            return None

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
            read=lambda connection: self._remote_read(connection, attribute.handle),
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
