"""Bluetooth LE peripheral: the glutescope GATT server (firmware/PROTOCOL.md, "BLE GATT").

Written against MicroPython's low-level ``bluetooth.BLE`` IRQ API so that the same file
runs on the Pico 2 W (btstack) and on the desktop's virtual radio.

Services: glutescope (stream notify, control write / write-without-response, info
read), Battery (0x180F, level read + notify), Device Information (0x180A: manufacturer,
model, firmware revision).

The IRQ handler only copies data and sets state; advertising again after a disconnect
happens in ``_advertise_task``. Several control writes can arrive back to back before
any task runs; each goes to the command queue, which answers the excess ``BUSY``.

``send`` sends one frame per notification. btstack (the Pico W port's stack) never
refuses one: it copies it to the heap, and a failed copy raises ``MemoryError``, which
``send`` collects, waits out and retries. NimBLE refuses with ``OSError(ENOMEM)``
while its queue is full, which ``send`` waits out too. Neither stack tells the sender
how fast the link drains, so the caller paces itself (``glutefw.flow``).
"""
import asyncio
import errno
import gc

import bluetooth
from micropython import const

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)

_FLAG_READ = const(0x0002)
_FLAG_WRITE_NO_RESPONSE = const(0x0004)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)

_ADV_TYPE_FLAGS = const(0x01)
_ADV_TYPE_UUID128_COMPLETE = const(0x07)
_ADV_TYPE_NAME_COMPLETE = const(0x09)
_ADV_TYPE_SERVICE_DATA_16 = const(0x16)
_BATTERY_SERVICE_LE = b"\x0f\x18"  # 0x180F, little-endian as in service data
_BATTERY_UNKNOWN = const(255)
_BATTERY_AD_BYTES = const(5)  # length, type, UUID16, percent
_ADV_FLAGS_LE_GENERAL_NO_BREDR = const(0x06)
_ADV_MAX_BYTES = const(31)
_ADV_INTERVAL_US = const(100000)  # fast enough for a quick reconnect

_MTU_PREFERRED = const(247)  # 244-byte notifications (PROTOCOL.md)
_MTU_DEFAULT = const(23)
_ATT_HEADER_BYTES = const(3)
_CONTROL_BUFFER_BYTES = const(64)  # longest command, PROTOCOL.md "BLE GATT"
_NOTIFY_BACKOFF_MS = const(1)
_MEMORY_BACKOFF_MS = const(5)  # btstack's queue drains a notification every ~1-2 ms
_NO_CONNECTION = const(-1)

_ENOMEM = errno.ENOMEM
_ENOTCONN = errno.ENOTCONN

_SERVICE_UUID = bluetooth.UUID("5a1c0001-7d3e-4b8a-9f21-3c6e0b9d4a17")
_STREAM_UUID = bluetooth.UUID("5a1c0002-7d3e-4b8a-9f21-3c6e0b9d4a17")
_CONTROL_UUID = bluetooth.UUID("5a1c0003-7d3e-4b8a-9f21-3c6e0b9d4a17")
_INFO_UUID = bluetooth.UUID("5a1c0004-7d3e-4b8a-9f21-3c6e0b9d4a17")

_SERVICES = (
    (
        _SERVICE_UUID,
        (
            (_STREAM_UUID, _FLAG_NOTIFY),
            (_CONTROL_UUID, _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE),
            (_INFO_UUID, _FLAG_READ),
        ),
    ),
    (
        bluetooth.UUID(0x180F),  # Battery
        ((bluetooth.UUID(0x2A19), _FLAG_READ | _FLAG_NOTIFY),),  # Battery Level
    ),
    (
        bluetooth.UUID(0x180A),  # Device Information
        (
            (bluetooth.UUID(0x2A29), _FLAG_READ),  # Manufacturer Name String
            (bluetooth.UUID(0x2A24), _FLAG_READ),  # Model Number String
            (bluetooth.UUID(0x2A26), _FLAG_READ),  # Firmware Revision String
        ),
    ),
)

try:
    _sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython's asyncio

    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


def _adv_field(ad_type, value):
    return bytes((len(value) + 1, ad_type)) + value


def default_name(ble):
    """``glutescope-XXXX``: XXXX are the last two bytes of the radio's address in hex."""
    ble.active(True)
    mac = ble.config("mac")[1]
    return "glutescope-%02X%02X" % (mac[4], mac[5])


class BlePeripheral:
    """The wearable's GATT server and advertiser.

    ``ble`` is ``bluetooth.BLE()``; ``name`` the advertised name (``None``:
    `default_name`); ``commands`` a ``glutefw.cmdqueue.CommandQueue`` that receives
    every value written to the control characteristic.
    """

    def __init__(self, ble, name, commands):
        self._ble = ble
        self._commands = commands
        ble.active(True)
        if name is None:
            name = default_name(ble)
        name_bytes = name.encode()
        # The scan response carries the name and the battery level (Battery service
        # data), so a scan can show both without connecting.
        self._name_field = _adv_field(_ADV_TYPE_NAME_COMPLETE, name_bytes)
        if len(self._name_field) + _BATTERY_AD_BYTES > _ADV_MAX_BYTES:
            raise ValueError(
                "name must be at most %d bytes of UTF-8, got %d"
                % (_ADV_MAX_BYTES - 2 - _BATTERY_AD_BYTES, len(name_bytes))
            )
        self._resp_data = self._scan_response(_BATTERY_UNKNOWN)
        self._adv_data = _adv_field(_ADV_TYPE_FLAGS, bytes((_ADV_FLAGS_LE_GENERAL_NO_BREDR,))) + _adv_field(
            _ADV_TYPE_UUID128_COMPLETE, bytes(_SERVICE_UUID)
        )
        self.name = name
        self.notify_backoffs = 0  # times send() waited for a full radio queue (NimBLE ENOMEM)
        self.notify_memory_errors = 0  # times a notification's heap copy failed (btstack)
        self._conn_handle = _NO_CONNECTION
        self._mtu = _MTU_DEFAULT
        self._battery = bytearray(1)
        self._h_stream = self._h_control = self._h_info = self._h_battery = 0
        self._running = False
        self._disconnected = asyncio.ThreadSafeFlag()
        self._advertise_job = None

    @property
    def connected(self):
        """Whether a central is connected."""
        return self._conn_handle != _NO_CONNECTION

    @property
    def payload_max(self):
        """Bytes one notification carries: ATT_MTU - 3 (20 before the MTU exchange)."""
        return self._mtu - _ATT_HEADER_BYTES

    def start(self, info_bytes, manufacturer, model, fw_revision):
        """Register the services, set their values and advertise.

        ``info_bytes`` is an INFO frame (the info characteristic's value); the other
        three are strings for the Device Information service.
        """
        ble = self._ble
        ble.config(gap_name=self.name, mtu=_MTU_PREFERRED)
        ble.irq(self._irq)
        ble.gap_advertise(None)  # services cannot be registered while advertising
        handles = ble.gatts_register_services(_SERVICES)
        self._h_stream, self._h_control, self._h_info = handles[0]
        self._h_battery = handles[1][0]
        h_manufacturer, h_model, h_fw_revision = handles[2]
        # Commands are up to 64 bytes; without this a remote write is cut to 20.
        ble.gatts_set_buffer(self._h_control, _CONTROL_BUFFER_BYTES)
        ble.gatts_write(self._h_info, info_bytes)
        ble.gatts_write(h_manufacturer, manufacturer.encode())
        ble.gatts_write(h_model, model.encode())
        ble.gatts_write(h_fw_revision, fw_revision.encode())
        ble.gatts_write(self._h_battery, self._battery)
        self._running = True
        self._advertise()
        self._advertise_job = asyncio.create_task(self._advertise_task())

    def stop(self):
        """Stop advertising and drop the connection."""
        self._running = False
        if self._advertise_job is not None:
            self._advertise_job.cancel()
            self._advertise_job = None
        self._ble.gap_advertise(None)
        if self._conn_handle != _NO_CONNECTION:
            self._ble.gap_disconnect(self._conn_handle)

    def set_info(self, info_bytes):
        """Replace the info characteristic's value (an INFO frame)."""
        self._ble.gatts_write(self._h_info, info_bytes)

    def set_battery(self, pct):
        """Set the battery level (0-100 %), notify a subscribed central, advertise it."""
        if not 0 <= pct <= 100:
            raise ValueError("battery pct must be 0-100, got %r" % (pct,))
        changed = self._battery[0] != pct
        self._battery[0] = pct
        self._ble.gatts_write(self._h_battery, self._battery, True)
        if changed:
            self._resp_data = self._scan_response(pct)  # rare: allocation is fine here
            if self._running and self._conn_handle == _NO_CONNECTION:
                self._advertise()

    def _scan_response(self, pct):
        return self._name_field + _adv_field(_ADV_TYPE_SERVICE_DATA_16, _BATTERY_SERVICE_LE + bytes((pct,)))

    async def send(self, frame):
        """Send ``frame`` in one notification; ``False`` if no central is connected.

        Waits while the radio's queue is full (NimBLE's ``ENOMEM``), counting each
        wait in ``notify_backoffs``, and after a ``MemoryError`` (btstack copies each
        notification to the heap), counting it in ``notify_memory_errors``: collects,
        waits for the queue to drain and tries again, as long as the central is
        connected. A frame longer than `payload_max` raises ``ValueError``: it would be
        cut short on the air. Pacing is the caller's (``glutefw.flow``).
        """
        if self._conn_handle == _NO_CONNECTION:
            return False
        if len(frame) > self._mtu - _ATT_HEADER_BYTES:
            raise ValueError(
                "frame of %d bytes exceeds the BLE payload of %d bytes" % (len(frame), self._mtu - _ATT_HEADER_BYTES)
            )
        while True:
            conn_handle = self._conn_handle
            if conn_handle == _NO_CONNECTION:
                return False
            try:
                self._ble.gatts_notify(conn_handle, self._h_stream, frame)
                return True
            except OSError as exc:
                if exc.args[0] == _ENOTCONN:
                    return False
                if exc.args[0] != _ENOMEM:
                    raise
                self.notify_backoffs += 1
                backoff_ms = _NOTIFY_BACKOFF_MS
            except MemoryError:
                self.notify_memory_errors += 1
                gc.collect()
                backoff_ms = _MEMORY_BACKOFF_MS
            await _sleep_ms(backoff_ms)

    def _advertise(self):
        # resp_data is keyword-only in the real module (extmod/modbluetooth.c).
        self._ble.gap_advertise(_ADV_INTERVAL_US, self._adv_data, resp_data=self._resp_data)

    async def _advertise_task(self):
        while self._running:
            await self._disconnected.wait()
            if self._running and self._conn_handle == _NO_CONNECTION:
                self._advertise()

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self._conn_handle = data[0]
            self._mtu = _MTU_DEFAULT
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if data[0] == self._conn_handle:
                self._conn_handle = _NO_CONNECTION
                self._mtu = _MTU_DEFAULT
            self._disconnected.set()
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self._h_control:
                self._commands.put(self._ble.gatts_read(self._h_control))
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self._conn_handle:
                self._mtu = data[1]
