"""A software Bluetooth LE radio: two bumble stacks joined by an in-memory link.

The wearable side (the *peripheral*) and the host side (the *central*) are each a full
bumble host stack (HCI, L2CAP, ATT/GATT, GAP) over bumble's virtual controller; the
controllers exchange link-layer PDUs through a `bumble.link.LocalLink`. Everything runs
in the caller's asyncio loop, in one process.

What is simulated and what is not
---------------------------------
Real: HCI commands and events, ACL flow control between host and controller, L2CAP,
ATT (MTU exchange, reads, writes, write commands, notifications), GATT discovery,
advertising and scan-response data as bytes on the air.

Not modelled by bumble's virtual controller: connection intervals, PHY timing, radio
loss. Packets are delivered as fast as the event loop runs, so a sender must apply its
own back-pressure (see `glutescope.virtual.ble_shim`) and latency figures measured here
are CPU figures, not air-time figures. `VirtualRadio.drop_link` stands in for the one
radio failure that matters to the protocol: the link going away (supervision timeout).

Two gaps of the virtual controller are closed here, in `_ScanningController`:

* it answers every scan, passive ones too, with a copy of the *advertising* data
  instead of the advertiser's scan-response data, so a name carried in the scan
  response (as a 31-byte legacy advertisement with a 128-bit service UUID requires)
  would never be seen;
* it never completes a cancelled connection attempt: here ``LE Create Connection
  Cancel`` clears the attempt and reports it failed, as a real controller does, and
  `cancel_pending_connection` clears it in the controller directly.
"""
from __future__ import annotations

import asyncio
from typing import Optional

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = ["VirtualRadio", "new_controller", "DEFAULT_PERIPHERAL_ADDRESS", "DEFAULT_CENTRAL_ADDRESS"]

#: Random static address of the virtual wearable (two top bits set, Core Vol 6 Part B 1.3.2.1).
DEFAULT_PERIPHERAL_ADDRESS = "E4:5A:1C:00:3F:2A"
#: Random static address of the host's adapter.
DEFAULT_CENTRAL_ADDRESS = "F0:5A:1C:00:00:01"

# LE data length extension: 251-byte link-layer payloads carry a 244-byte notification
# (4 L2CAP + 3 ATT header bytes) in one packet, as with ATT MTU 247 on real controllers.
_LE_ACL_DATA_PACKET_LENGTH = 251

_EXT_REPORT = hci.HCI_LE_Extended_Advertising_Report_Event
_PASSIVE_SCAN = 0
_LEGACY_CONNECTABLE_SCANNABLE = (
    _EXT_REPORT.EventType.CONNECTABLE_ADVERTISING
    | _EXT_REPORT.EventType.SCANNABLE_ADVERTISING
    | _EXT_REPORT.EventType.LEGACY_ADVERTISING_PDU_USED
)


class _ScanningController(Controller):
    """bumble's virtual controller, answering active scans with the real scan response."""

    #: Event-loop time until which this controller hears nothing on the air (advertising
    #: and connection requests); None: it always hears. Set by `VirtualRadio.out_of_range`.
    deaf_until: Optional[float] = None

    def on_ll_advertising_pdu(self, packet) -> None:  # type: ignore[no-untyped-def]
        if self.deaf_until is not None:
            if asyncio.get_running_loop().time() < self.deaf_until:
                return  # out of range: the PDU never reaches this antenna
            self.deaf_until = None
        super().on_ll_advertising_pdu(packet)

    def on_advertising_pdu(self, pdu) -> None:  # type: ignore[no-untyped-def]
        scanning = self.le_scan_enable
        # The base class still handles periodic sync and pending connections; only its
        # scan reports are replaced.
        self.le_scan_enable = False
        try:
            super().on_advertising_pdu(pdu)
        finally:
            self.le_scan_enable = scanning
        if scanning:
            self._report_advertisement(pdu.advertiser_address, bytes(pdu.data))

    def on_hci_le_set_extended_scan_parameters_command(self, command):  # type: ignore[no-untyped-def]
        # The base class forgets whether the scan is active; only an active scan gets
        # scan responses.
        self.le_scan_type = command.scan_types[0] if command.scan_types else _PASSIVE_SCAN
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    def on_hci_le_create_connection_cancel_command(self, command):  # type: ignore[no-untyped-def]
        # The base class acknowledges the cancel but keeps the attempt armed. A real
        # controller drops it and reports the attempt as failed with Unknown Connection
        # Identifier (Core Vol 4 Part E 7.8.13), which is what a host waits for.
        pending = self.pending_le_connection
        self.pending_le_connection = None
        result = super().on_hci_le_create_connection_cancel_command(command)
        if pending is not None:
            # After the Command Complete that the caller sends once this returns.
            asyncio.get_running_loop().call_soon(
                self.send_hci_packet,
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                ),
            )
        return result

    def _report_advertisement(self, address: hci.Address, adv_data: bytes) -> None:
        event_type = _LEGACY_CONNECTABLE_SCANNABLE
        self._send_report(address, event_type, adv_data)
        if self.le_scan_type != _PASSIVE_SCAN:
            scan_response = self._scan_response_of(address)
            self._send_report(address, event_type | _EXT_REPORT.EventType.SCAN_RESPONSE, scan_response)

    def _send_report(self, address: hci.Address, event_type: int, data: bytes) -> None:
        report = _EXT_REPORT.Report(
            event_type=event_type,
            address_type=address.address_type,
            address=address,
            primary_phy=hci.Phy.LE_1M,
            secondary_phy=0,
            advertising_sid=0,
            tx_power=_EXT_REPORT.TX_POWER_INFORMATION_NOT_AVAILABLE,
            rssi=-50,
            periodic_advertising_interval=0,
            direct_address_type=0,
            direct_address=hci.Address.ANY,
            data=data,
        )
        self.send_hci_packet(_EXT_REPORT([report]))

    def _scan_response_of(self, address: hci.Address) -> bytes:
        advertiser = self.link.find_le_controller(address)
        if advertiser is None:
            return b""
        legacy = advertiser.le_legacy_advertiser
        if legacy.enabled and legacy.address == address:
            return bytes(legacy.scan_response_data)
        for advertising_set in advertiser.advertising_sets.values():
            if advertising_set.enabled and advertising_set.address == address:
                return bytes(advertising_set.scan_response_data)
        return b""


def new_controller(name: str, link: LocalLink, host_source=None, host_sink=None) -> Controller:
    """A virtual controller on ``link`` with LE data length extension (251-byte payloads).

    ``host_source`` / ``host_sink`` are the HCI transport to its host (bumble's
    transport source and sink); without them the caller attaches a host in memory.
    """
    controller = _ScanningController(name, host_source=host_source, host_sink=host_sink, link=link)
    controller.le_acl_data_packet_length = _LE_ACL_DATA_PACKET_LENGTH
    controller.supported_max_tx_octets = _LE_ACL_DATA_PACKET_LENGTH
    controller.supported_max_rx_octets = _LE_ACL_DATA_PACKET_LENGTH
    controller.suggested_max_tx_octets = _LE_ACL_DATA_PACKET_LENGTH
    return controller


class VirtualRadio:
    """Two Bluetooth LE stacks on one in-memory link: the wearable's and the host's.

    Use as an async context manager, or call `open` and `close` (``close`` is safe to
    call twice). Must be opened inside the asyncio loop that will use it.

    Parameters
    ----------
    peripheral_address, central_address : str
        Random static addresses (``"XX:XX:XX:XX:XX:XX"``, most significant byte first,
        top two bits set). bumble's link routes packets by the sender's random address.

    Attributes
    ----------
    peripheral : bumble.device.Device
        The wearable's stack (GATT server, advertiser). Used by
        `glutescope.virtual.ble_shim`.
    central : bumble.device.Device
        The host's stack (scanner, GATT client). Used by
        `glutescope.transports.bumble_backend`.
    """

    def __init__(
        self,
        *,
        peripheral_address: str = DEFAULT_PERIPHERAL_ADDRESS,
        central_address: str = DEFAULT_CENTRAL_ADDRESS,
    ) -> None:
        self._addresses = {}
        for role, text in (("peripheral_address", peripheral_address), ("central_address", central_address)):
            self._addresses[role] = _random_static_address(role, text)
        if self._addresses["peripheral_address"] == self._addresses["central_address"]:
            raise ValueError(f"peripheral_address and central_address must differ, both are {peripheral_address}")
        self._link: Optional[LocalLink] = None
        self._controllers: list[_ScanningController] = []
        self._peripheral: Optional[Device] = None
        self._central: Optional[Device] = None

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> "VirtualRadio":
        await self.open()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        """Whether both stacks are powered on."""
        return self._peripheral is not None

    async def open(self) -> None:
        """Create the link and both controllers and power both stacks on."""
        if self.is_open:
            raise RuntimeError("VirtualRadio is already open")
        link = LocalLink()
        devices = []
        for name, role in (("wearable", "peripheral_address"), ("host", "central_address")):
            controller = new_controller(name, link)
            self._controllers.append(controller)
            device = Device(
                name=name,
                address=self._addresses[role],
                host=Host(controller, AsyncPipeSink(controller)),
            )
            devices.append(device)
        self._link = link
        try:
            for device in devices:
                await device.power_on()
        except BaseException:
            self._teardown()
            raise
        self._peripheral, self._central = devices

    async def close(self) -> None:
        """Stop advertising, drop any connection and release both stacks."""
        if self._link is None:
            return
        devices = [d for d in (self._peripheral, self._central) if d is not None]
        self.drop_link()
        for device in devices:
            await device.power_off()
        self._teardown()
        # Let the disconnection events already queued reach both hosts before the loop
        # can be closed under them.
        await asyncio.sleep(0)

    def _teardown(self) -> None:
        for controller in self._controllers:
            controller.le_legacy_advertiser.stop()
            for advertising_set in controller.advertising_sets.values():
                advertising_set.stop()
            controller.le_scan_enable = False
            controller.pending_le_connection = None
            if self._link is not None and controller in self._link.controllers:
                self._link.remove_controller(controller)
        self._controllers = []
        self._link = None
        self._peripheral = None
        self._central = None

    # -- the two stacks ------------------------------------------------------------

    @property
    def peripheral(self) -> Device:
        """The wearable's bumble device."""
        if self._peripheral is None:
            raise RuntimeError("VirtualRadio is not open: use 'async with VirtualRadio()' or await open()")
        return self._peripheral

    @property
    def central(self) -> Device:
        """The host's bumble device."""
        if self._central is None:
            raise RuntimeError("VirtualRadio is not open: use 'async with VirtualRadio()' or await open()")
        return self._central

    @property
    def peripheral_address(self) -> hci.Address:
        """The wearable's address, with its type."""
        return self._addresses["peripheral_address"]

    @property
    def central_address(self) -> hci.Address:
        """The host adapter's address, with its type."""
        return self._addresses["central_address"]

    # -- failures ------------------------------------------------------------------

    def drop_link(self) -> int:
        """Lose every connection as if the wearable went out of range.

        Both controllers report a supervision timeout (HCI reason 0x08) to their hosts,
        as real controllers do when the peer stops answering; neither host asked for
        it. The events arrive at the next turns of the event loop.

        Returns
        -------
        int
            How many connections were dropped (0 if none was up).
        """
        dropped = 0
        for controller in self._controllers:
            for connection in list(controller.le_connections.values()):
                controller.on_le_disconnected(connection, hci.HCI_CONNECTION_TIMEOUT_ERROR)
                dropped += 1
        # Each link has an end in both controllers.
        return dropped // 2 if dropped >= 2 else dropped

    def out_of_range(self, duration_s: float) -> int:
        """Lose every connection and keep the two sides apart for ``duration_s``.

        As `drop_link`, and then for ``duration_s`` seconds of event-loop time neither
        controller hears the other's advertising or connection requests, as when the
        wearable is carried out of range and back: a central scanning meanwhile finds
        nothing, and reconnects only after the time is up.

        Parameters
        ----------
        duration_s : float
            How long the two stay apart, in event-loop (host) seconds, >= 0.

        Returns
        -------
        int
            How many connections were dropped.
        """
        if not duration_s >= 0:
            raise ValueError(f"duration_s must be >= 0, got {duration_s!r}")
        until = asyncio.get_running_loop().time() + duration_s
        for controller in self._controllers:
            controller.deaf_until = until
        return self.drop_link()

    def cancel_pending_connection(self) -> None:
        """Forget the central's pending connection attempt.

        bumble's virtual controller never completes ``LE Create Connection Cancel``,
        so an attempt towards an absent device would otherwise stay armed and connect
        whenever that device advertised again.
        """
        if self._controllers:
            self._controllers[1].pending_le_connection = None


def _random_static_address(role: str, text: str) -> hci.Address:
    try:
        address = hci.Address(text, hci.Address.RANDOM_DEVICE_ADDRESS)
    except ValueError as exc:  # bumble's InvalidArgumentError is a ValueError
        raise ValueError(f"{role} must look like 'C0:11:22:33:44:55', got {text!r}") from exc
    if not address.is_static:
        raise ValueError(
            f"{role} must be a random static address (most significant byte 0xC0-0xFF), got {text!r}"
        )
    return address
