"""The virtual radio split across processes: the wearable in one, the host in another.

The "air" is a relay owning one `bumble.link.LocalLink` with two virtual controllers,
the wearable's and the host's, each served as an HCI transport over TCP on the loopback
interface (bumble's H4 framing over a stream socket, the same bytes as ``tcp-server:``)::

    wearable process                 relay                       host process
    bumble Device  --HCI/TCP-->  controller ~ LocalLink ~ controller  <--HCI/TCP--  bumble Device
    (RemoteRadio, peripheral)                                        (RemoteRadio, central)

Each side opens a `RemoteRadio` on its port. A `RemoteRadio` stands in for
`glutescope.virtual.radio.VirtualRadio` wherever one side is used:
``ble_shim.attach(radio)`` needs its ``peripheral``, ``backends_for(radio)`` its
``central``.

One TCP connection is one power cycle of that controller: a client connecting gets a
fresh controller, and a client going away (its process ended or was killed) takes its
controller off the link, so the other side sees a supervision timeout, as when a real
wearable's battery dies. Only loopback addresses are accepted: the virtual link carries
no security and is not meant to leave the machine.

Like the in-process radio, this models no air-time; the TCP hops add CPU, not timing.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import sys
from typing import Any, Optional, Sequence

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import StreamPacketSource, TransportLostError

from glutescope.virtual.radio import DEFAULT_CENTRAL_ADDRESS, DEFAULT_PERIPHERAL_ADDRESS, new_controller

__all__ = ["RadioRelay", "RemoteRadio", "LOOPBACK", "stop_on_signals", "main"]

#: The only interface the relay listens on by default.
LOOPBACK = "127.0.0.1"
_ROLES = ("peripheral", "central")


def _require_loopback(host: str) -> str:
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError(f"host must be a loopback address such as {LOOPBACK!r}, got {host!r}")
    return host


def _require_port(name: str, port: int, *, allow_zero: bool) -> int:
    low = 0 if allow_zero else 1
    if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= 65535:
        raise ValueError(f"{name} must be an int in {low}..65535, got {port!r}")
    return port


class _ControllerSocket(StreamPacketSource):
    """One HCI client connection: its bytes feed a controller made for it."""

    def __init__(self, relay: "RadioRelay", role: str) -> None:
        super().__init__()
        self._relay = relay
        self._role = role
        self._transport: Optional[asyncio.Transport] = None

    # bumble TransportSink: what the controller sends to its host.
    def on_packet(self, packet: bytes) -> None:
        if self._transport is not None:
            self._transport.write(packet)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        if not self._relay._attach(self._role, self):
            transport.close()  # one host per controller, as with a real HCI port
            return
        self._transport = transport

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._transport is not None:
            self._transport = None
            self._relay._detach(self._role, self)
        self.on_transport_lost()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RadioRelay:
    """The air between a wearable process and a host process (see the module docstring).

    Use as an async context manager, or call `open` and `close` (``close`` is safe to
    call twice). Must be opened in the asyncio loop that will serve it.

    Parameters
    ----------
    host : str
        Loopback address to listen on.
    peripheral_port, central_port : int
        TCP ports for the wearable's and the host's controller; 0 lets the OS choose a
        free one (read the choice from `peripheral_port` / `central_port` once open).
    """

    def __init__(self, *, host: str = LOOPBACK, peripheral_port: int = 0, central_port: int = 0) -> None:
        self._host = _require_loopback(host)
        self._wanted_ports = {
            "peripheral": _require_port("peripheral_port", peripheral_port, allow_zero=True),
            "central": _require_port("central_port", central_port, allow_zero=True),
        }
        self._link: Optional[LocalLink] = None
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._controllers: dict[str, Controller] = {}
        self._sockets: dict[str, _ControllerSocket] = {}

    async def __aenter__(self) -> "RadioRelay":
        await self.open()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        return self._link is not None

    async def open(self) -> None:
        """Listen for the two HCI clients."""
        if self.is_open:
            raise RuntimeError("RadioRelay is already open")
        self._link = LocalLink()
        loop = asyncio.get_running_loop()
        try:
            for role in _ROLES:
                self._servers[role] = await loop.create_server(
                    lambda role=role: _ControllerSocket(self, role), self._host, self._wanted_ports[role]
                )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, cut both clients and take both controllers off the link."""
        for server in self._servers.values():
            server.close()
        for socket in list(self._sockets.values()):
            socket.close()
        for role in list(self._controllers):
            self._power_loss(role)
        for server in self._servers.values():
            await server.wait_closed()
        self._servers = {}
        self._sockets = {}
        self._link = None

    def port(self, role: str) -> int:
        """The TCP port the ``role`` (``"peripheral"`` or ``"central"``) controller listens on."""
        if role not in _ROLES:
            raise ValueError(f"role must be one of {_ROLES}, got {role!r}")
        server = self._servers.get(role)
        if server is None:
            raise RuntimeError("RadioRelay is not open: use 'async with RadioRelay()' or await open()")
        return server.sockets[0].getsockname()[1]

    @property
    def peripheral_port(self) -> int:
        """Port of the wearable's controller."""
        return self.port("peripheral")

    @property
    def central_port(self) -> int:
        """Port of the host's controller."""
        return self.port("central")

    @property
    def host(self) -> str:
        return self._host

    # -- one controller per client connection ---------------------------------------

    def _attach(self, role: str, socket: _ControllerSocket) -> bool:
        if self._link is None or role in self._sockets:
            return False
        self._sockets[role] = socket
        name = "wearable" if role == "peripheral" else "host"
        self._controllers[role] = new_controller(name, self._link, host_source=socket, host_sink=socket)
        return True

    def _detach(self, role: str, socket: _ControllerSocket) -> None:
        if self._sockets.get(role) is socket:
            del self._sockets[role]
            self._power_loss(role)

    def _power_loss(self, role: str) -> None:
        """Take ``role``'s controller off the air; its peers see a supervision timeout."""
        controller = self._controllers.pop(role, None)
        if controller is None:
            return
        controller.le_legacy_advertiser.stop()
        for advertising_set in controller.advertising_sets.values():
            advertising_set.stop()
        controller.le_scan_enable = False
        controller.pending_le_connection = None
        link = controller.link
        for connection in list(controller.le_connections.values()):
            peer = link.find_le_controller(connection.peer_address)
            if peer is None:
                continue
            peer_end = peer.le_connections.get(connection.self_address)
            if peer_end is not None:
                peer.on_le_disconnected(peer_end, hci.HCI_CONNECTION_TIMEOUT_ERROR)
        controller.le_connections.clear()
        if controller in link.controllers:
            link.remove_controller(controller)


class RemoteRadio:
    """One side of the virtual radio, its controller reached over TCP (see `RadioRelay`).

    A drop-in for `glutescope.virtual.radio.VirtualRadio` for the side it opens:
    ``ble_shim.attach`` uses `peripheral`, ``bumble_backend.backends_for`` uses
    `central`. Use as an async context manager, or `open` / `close` (safe twice).

    Parameters
    ----------
    peripheral_port, central_port : int, optional
        The relay's port for the side(s) to open in this process; at least one.
    host : str
        The relay's loopback address.
    peripheral_address, central_address : str
        Random static addresses, as for `VirtualRadio`.
    """

    def __init__(
        self,
        *,
        peripheral_port: Optional[int] = None,
        central_port: Optional[int] = None,
        host: str = LOOPBACK,
        peripheral_address: str = DEFAULT_PERIPHERAL_ADDRESS,
        central_address: str = DEFAULT_CENTRAL_ADDRESS,
    ) -> None:
        if peripheral_port is None and central_port is None:
            raise ValueError("RemoteRadio needs peripheral_port or central_port (or both), got neither")
        self._host = _require_loopback(host)
        self._ports: dict[str, int] = {}
        self._addresses: dict[str, hci.Address] = {}
        for role, port, text in (
            ("peripheral", peripheral_port, peripheral_address),
            ("central", central_port, central_address),
        ):
            if port is not None:
                self._ports[role] = _require_port(f"{role}_port", port, allow_zero=False)
                self._addresses[role] = _random_static_address(f"{role}_address", text)
        self._devices: dict[str, Device] = {}
        self._transports: dict[str, Any] = {}  # role -> bumble Transport

    async def __aenter__(self) -> "RemoteRadio":
        await self.open()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        return bool(self._devices)

    async def open(self) -> None:
        """Connect to the relay and power each requested side on."""
        if self.is_open:
            raise RuntimeError("RemoteRadio is already open")
        devices = {}
        try:
            for role, port in self._ports.items():
                spec = f"tcp-client:{self._host}:{port}"
                try:
                    transport = await open_transport(spec)
                except OSError as exc:
                    raise ConnectionError(f"no virtual radio relay at {self._host}:{port} ({exc})") from exc
                self._transports[role] = transport
                name = "wearable" if role == "peripheral" else "host"
                device = Device.with_hci(name, self._addresses[role], transport.source, transport.sink)
                try:
                    await device.power_on()
                except TransportLostError as exc:
                    raise ConnectionError(
                        f"the relay at {self._host}:{port} dropped the connection: its {role} controller "
                        "already has a host, or the relay stopped") from exc
                devices[role] = device
        except BaseException:
            await self._close_transports()
            raise
        self._devices = devices

    async def close(self) -> None:
        """Power off and disconnect from the relay (the relay takes the controller off the air)."""
        devices, self._devices = self._devices, {}
        for role, device in devices.items():
            # Once the relay is gone no command would ever be answered: just let go.
            if not self._transports[role].source.terminated.done():
                await device.power_off()
        await self._close_transports()

    async def _close_transports(self) -> None:
        transports, self._transports = self._transports, {}
        for transport in transports.values():
            await transport.close()

    @property
    def relay_lost(self) -> bool:
        """Whether the relay closed this radio's connection (it stopped or was killed)."""
        return any(t.source.terminated.done() for t in self._transports.values())

    def _device(self, role: str) -> Device:
        device = self._devices.get(role)
        if device is None:
            if role not in self._ports:
                raise RuntimeError(f"this RemoteRadio has no {role} side: give {role}_port to open one")
            raise RuntimeError("RemoteRadio is not open: use 'async with RemoteRadio(...)' or await open()")
        return device

    @property
    def peripheral(self) -> Device:
        """The wearable's bumble device (if this process holds the peripheral side)."""
        return self._device("peripheral")

    @property
    def central(self) -> Device:
        """The host's bumble device (if this process holds the central side)."""
        return self._device("central")

    @property
    def peripheral_address(self) -> hci.Address:
        return self._addresses["peripheral"]

    @property
    def central_address(self) -> hci.Address:
        return self._addresses["central"]


def _random_static_address(role: str, text: str) -> hci.Address:
    from glutescope.virtual.radio import _random_static_address as check

    return check(role, text)


# -- a standalone relay ---------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glutescope.virtual.remote",
        description="Run the virtual radio's relay: the wearable and the host connect to it over loopback TCP.",
    )
    parser.add_argument("--peripheral-port", type=int, default=0, help="port for the wearable (0: any free)")
    parser.add_argument("--central-port", type=int, default=0, help="port for the host (0: any free)")
    return parser


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event):
    """Set ``stop`` on SIGTERM or SIGINT while inside (in the running loop's main thread)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve a relay until SIGTERM/SIGINT; prints its two ports on one line when ready."""
    args = _parser().parse_args(argv)

    async def serve() -> None:
        with stop_on_signals(asyncio.Event()) as stop:
            async with RadioRelay(peripheral_port=args.peripheral_port, central_port=args.central_port) as relay:
                print(f"relay ready: peripheral {relay.host}:{relay.peripheral_port} "
                      f"central {relay.host}:{relay.central_port}", flush=True)
                await stop.wait()

    try:
        asyncio.run(serve())
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
