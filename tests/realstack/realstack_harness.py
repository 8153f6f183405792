"""The firmware on the real MicroPython binary with btstack, and the host's own BLE stack.

What runs, and where:

- The firmware process: MicroPython's unix port built with btstack over an H4 UART
  (``../shared/tools/micropython-btstack``, see its README), running the repository's
  unmodified ``firmware/main.py`` with a 2 MiB heap like the board's. Only the hardware is
  stood in for, by small MicroPython modules placed first on ``MICROPYPATH``
  (``tests/realstack/upy``: ``machine``, ``rp2`` and the ADC/DMA/IMU model ``board``).
- Its HCI UART is a pty (``MICROPYBTUART``) with bumble's virtual controller on the other
  end, answering the two commands btstack sends that bumble does not know (the Zephyr
  vendor command 0xFC09 "Read Static Addresses", so the wearable has a fixed random
  static address and so a fixed name, and HCI_LE_Encrypt).
- That controller is joined by bumble's ``LocalLink`` to a second controller carrying the
  host's bumble ``Device``, reached through the project's bleak backend
  (``glutescope.transports.bumble_backend``) by ``glutescope.transports.ble.BleTransport``:
  the host's own transport, decoder and stream assembly.

Everything is in memory or on a pty; nothing listens on a network. The process is killed
whatever happens (``close`` is safe to call twice, and runs on failures too).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import struct
import tempfile
from pathlib import Path
from typing import Optional

from bumble import hci
from bumble.crypto import e as aes_e
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink
from bumble.transport.pty import open_pty_transport

from glutescope.transports.ble import BleTransport
from glutescope.transports.bumble_backend import backends_for
from glutescope.virtual.radio import DEFAULT_CENTRAL_ADDRESS, _ScanningController, new_controller

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
STANDINS_DIR = Path(__file__).resolve().parent / "upy"
SHARED_BINARY = ROOT.parent / "shared" / "tools" / "micropython-btstack" / "micropython"
HEAP = "2M"  # the Pico 2 W's MicroPython heap is about this size

#: The static random address the controller offers through 0xFC09 (MSB first). This
#: btstack build takes its own random static address all the same, so the wearable's
#: address and name change at every boot: `wearable_name` reads them off the controller.
WEARABLE_ADDRESS = "E4:5A:1C:00:3F:2A"

_VENDOR_READ_STATIC_ADDRESSES = 0xFC09
_BOOT_TIMEOUT_S = 10.0

HOW_TO_GET_IT = (
    "the real-MicroPython layer needs MicroPython's unix port built with btstack: "
    "set GLUTESCOPE_MICROPYTHON to such a binary, or run `make micropython-btstack` "
    "(builds it from MicroPython's source at the pinned commit into build/), "
    f"or place it at {SHARED_BINARY}"
)


def binary_candidates() -> list:
    """Where the binary is looked for, in order: $GLUTESCOPE_MICROPYTHON, ../shared, build/."""
    return [os.environ.get("GLUTESCOPE_MICROPYTHON"), SHARED_BINARY,
            ROOT / "build" / "micropython-btstack" / "micropython"]


def find_binary(candidates=None) -> Optional[Path]:
    """The first executable file of ``candidates`` (default `binary_candidates`), or None."""
    for candidate in binary_candidates() if candidates is None else candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


class FirmwareExited(AssertionError):
    """The MicroPython process ended (or never advertised); carries its stderr."""


class _BtstackController(_ScanningController):
    """bumble's controller, plus the two commands btstack needs that bumble lacks."""

    def on_packet(self, packet: bytes) -> None:
        # Raw HCI from btstack: bumble cannot even parse 0xFC09 (it knows another layout).
        if len(packet) >= 4 and packet[0] == hci.HCI_COMMAND_PACKET:
            op = packet[1] | packet[2] << 8
            params = bytes(packet[4:4 + packet[3]])
            if op == _VENDOR_READ_STATIC_ADDRESSES:
                address = bytes(hci.Address(WEARABLE_ADDRESS, hci.Address.RANDOM_DEVICE_ADDRESS))
                # status 0, one address, then its 16-byte identity root (zero: none)
                self._complete(op, bytes((0, 1)) + address + bytes(16))
                return
            if op == hci.HCI_LE_ENCRYPT_COMMAND:
                key, plaintext = params[:16], params[16:32]
                self._complete(op, bytes((0,)) + aes_e(key, plaintext))
                return
        super().on_packet(packet)

    def _complete(self, op: int, return_parameters: bytes) -> None:
        body = struct.pack("<BH", 1, op) + return_parameters
        packet = bytes((hci.HCI_EVENT_PACKET, hci.HCI_COMMAND_COMPLETE_EVENT, len(body))) + body
        asyncio.get_running_loop().call_soon(self.host.on_packet, packet)


class RealStack:
    """One firmware process on the real binary, its controller, and the host's stack.

    Parameters
    ----------
    binary : Path
        MicroPython unix port with btstack (`find_binary`).
    firmware : Path
        Firmware tree holding ``main.py`` and ``glutefw/`` (a copy, for planted faults).
    trace_irq : bool
        Record every event the firmware's bluetooth IRQ handler receives (`irq_trace`).
    imu_odr_error_ppm : int
        How fast the stand-in IMU's own clock runs (ppm).
    probe : bool
        Load the stand-in that reports the firmware's heap and task delays (`probes`).
    bootsel : bool
        BOOTSEL is held from power-up on.

    Use as an async context manager. ``central`` is the host's bumble device, so
    `backends_for` gives the bleak backend classes; `transport` builds the host's
    `BleTransport` on them.
    """

    def __init__(self, binary: Path, firmware: Path = FIRMWARE_DIR, *, trace_irq: bool = False,
                 imu_odr_error_ppm: int = 0, probe: bool = False, bootsel: bool = False) -> None:
        self.binary = Path(binary)
        self.firmware = Path(firmware)
        self.trace_irq = trace_irq
        self.imu_odr_error_ppm = int(imu_odr_error_ppm)
        self.probe = probe
        self.bootsel = bootsel
        self.usb_tail = b""  # the last bytes written to stdout (USB frames, the REPL's text)
        self.stderr_lines: list[str] = []
        self.probes: list[tuple[float, dict]] = []  # (loop time received, PROBE figures)
        self.usb_bytes = 0  # bench-mode frames written to stdout while no central was there
        self._tmp: Optional[str] = None
        self._pty = None
        self._link: Optional[LocalLink] = None
        self._controllers: list = []
        self._central: Optional[Device] = None
        self.proc: Optional[asyncio.subprocess.Process] = None
        self._readers: list[asyncio.Task] = []
        self._advertising = None

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> "RealStack":
        try:
            await self.open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def open(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="glutescope-realstack-")
        pty_path = os.path.join(self._tmp, "hci-uart")
        self._pty = await open_pty_transport(pty_path)
        link = LocalLink()
        self._link = link
        wearable = _BtstackController("wearable", host_source=self._pty.source, host_sink=self._pty.sink,
                                      link=link)
        for c in (wearable,):
            c.le_acl_data_packet_length = 251
            c.supported_max_tx_octets = c.supported_max_rx_octets = c.suggested_max_tx_octets = 251
        host_controller = new_controller("host", link)
        self._controllers = [wearable, host_controller]
        self._wearable_controller = wearable
        self._central = Device(name="host", address=hci.Address(DEFAULT_CENTRAL_ADDRESS),
                               host=Host(host_controller, AsyncPipeSink(host_controller)))
        await self._central.power_on()
        await self._start_process(os.path.realpath(pty_path))

    async def _start_process(self, pty_path: str) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self._tmp,
            "MICROPYBTUART": pty_path,
            # stand-ins first, then the firmware tree, then the frozen asyncio
            "MICROPYPATH": os.pathsep.join([str(STANDINS_DIR), str(self.firmware), ".frozen"]),
            "GLUTESCOPE_IMU_ODR_ERROR_PPM": str(self.imu_odr_error_ppm),
        }
        if self.trace_irq:
            env["GLUTESCOPE_TRACE_IRQ"] = "1"
        if self.probe:
            env["GLUTESCOPE_PROBE"] = "1"
        if self.bootsel:
            env["GLUTESCOPE_BOOTSEL"] = "1"
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary), "-X", f"heapsize={HEAP}", str(STANDINS_DIR / "boot_main.py"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=self._tmp, env=env, start_new_session=True)
        self._readers = [asyncio.create_task(self._read_stdout(self.proc.stdout)),
                         asyncio.create_task(self._read_stderr(self.proc.stderr))]

    # The readers are handed their stream: close() drops self.proc while they drain.
    async def _read_stdout(self, stdout: asyncio.StreamReader) -> None:
        while True:
            chunk = await stdout.read(65536)
            if not chunk:
                return
            self.usb_bytes += len(chunk)
            self.usb_tail = (self.usb_tail + chunk)[-4096:]

    async def _read_stderr(self, stderr: asyncio.StreamReader) -> None:
        while True:
            line = await stderr.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\n")
            self.stderr_lines.append(text)
            if text.startswith("PROBE "):
                fields = dict(kv.split("=", 1) for kv in text[6:].split())
                self.probes.append((asyncio.get_running_loop().time(), {k: int(v) for k, v in fields.items()}))

    async def close(self) -> None:
        """Kill the firmware, release both controllers and the pty; safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 5.0)
        for task in self._readers:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 2.0)
        self._readers = []
        if self._central is not None:
            central, self._central = self._central, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(central.power_off(), 2.0)
        for controller in self._controllers:
            controller.le_legacy_advertiser.stop()
            controller.le_scan_enable = False
            controller.pending_le_connection = None
            if self._link is not None and controller in self._link.controllers:
                self._link.remove_controller(controller)
        self._controllers = []
        if self._pty is not None:
            pty_, self._pty = self._pty, None
            with contextlib.suppress(OSError):
                await pty_.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        await asyncio.sleep(0)

    # -- what the host uses --------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._central is not None

    @property
    def central(self) -> Device:
        """The host's bumble device (what `backends_for` drives)."""
        if self._central is None:
            raise RuntimeError("RealStack is not open")
        return self._central

    def transport(self, scan_timeout_s: float = 10.0) -> BleTransport:
        """The host's own BLE transport, through bleak, on this link."""
        scanner, client = backends_for(self)
        return BleTransport(None, scan_timeout_s=scan_timeout_s, scanner_backend=scanner,
                            client_backend=client)

    def drop_link(self) -> int:
        """Lose the connection as if out of range (supervision timeout on both sides)."""
        dropped = 0
        for controller in self._controllers:
            for connection in list(controller.le_connections.values()):
                controller.on_le_disconnected(connection, hci.HCI_CONNECTION_TIMEOUT_ERROR)
                dropped += 1
        return dropped // 2 if dropped >= 2 else dropped

    def cancel_pending_connection(self) -> None:
        if len(self._controllers) > 1:
            self._controllers[1].pending_le_connection = None

    # -- what the firmware did -----------------------------------------------------------
    @property
    def advertising(self) -> bool:
        """Whether the wearable's controller is advertising (btstack enabled it)."""
        return self._wearable_controller.is_advertising if self._controllers else False

    @property
    def address(self) -> hci.Address:
        """The random address the wearable advertises from."""
        return self._wearable_controller.le_legacy_advertiser.address

    @property
    def wearable_name(self) -> str:
        """The name the firmware must advertise: glutescope- and its address's last two bytes."""
        a = bytes(self.address)  # least significant byte first
        return "glutescope-%02X%02X" % (a[1], a[0])

    @property
    def advertising_data(self) -> bytes:
        return bytes(self._wearable_controller.le_legacy_advertiser.advertising_data)

    @property
    def scan_response_data(self) -> bytes:
        return bytes(self._wearable_controller.le_legacy_advertiser.scan_response_data)

    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def exited(self) -> Optional[int]:
        return None if self.proc is None else self.proc.returncode

    async def wait_advertising(self, timeout_s: float = _BOOT_TIMEOUT_S) -> None:
        """Wait until the firmware advertises; raise `FirmwareExited` with its stderr if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.advertising:
            if self.proc is not None and self.proc.returncode is not None:
                await self._drain_output()
                raise FirmwareExited(
                    f"the firmware exited with status {self.proc.returncode} before advertising:\n"
                    + self.stderr())
            if loop.time() > deadline:
                raise FirmwareExited(f"the firmware did not advertise within {timeout_s} s:\n" + self.stderr())
            await asyncio.sleep(0.01)

    async def _drain_output(self) -> None:
        # The process is gone: its last stderr lines are still in the pipe.
        for task in self._readers:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 2.0)

    async def type_on_usb(self, data: bytes) -> None:
        """Write ``data`` to the firmware's stdin (the USB serial link of the board)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def wait_exit(self, timeout_s: float) -> int:
        """Wait for the firmware process to end; its exit status."""
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        await self._drain_output()
        return code

    def irq_trace(self) -> list[tuple]:
        """The IRQ events the firmware's handler received: (event, normalised data...).

        Integers as received, buffers as ``"bN"`` (their length); see `registered_handles`.
        """
        out = []
        for line in self.stderr_lines:
            if line.startswith("IRQ "):
                out.append(tuple(_field(x) for x in line[4:].split(",")))
        return out

    def registered_handles(self) -> list[int]:
        """The value handles ``gatts_register_services`` returned, flat, in order."""
        for line in self.stderr_lines:
            if line.startswith("HANDLES "):
                return [int(x) for x in line[8:].split(",")]
        return []

    def faults(self) -> list[str]:
        """What the stand-in hardware saw the firmware do that silicon would not survive."""
        return [line[6:] for line in self.stderr_lines if line.startswith("FAULT ")]


def _field(text: str):
    return int(text) if text.lstrip("-").isdigit() else text


def firmware_copy(tmp_path: Path, replacements=()) -> Path:
    """The firmware tree copied to ``tmp_path``, each (file, old, new) planted once.

    Fails if ``old`` is not in the file, so a planted fault cannot silently stop matching.
    """
    tree = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, tree, ignore=shutil.ignore_patterns("__pycache__", "typings"))
    for name, old, new in replacements:
        path = tree / "glutefw" / name if name != "main.py" else tree / name
        source = path.read_text()
        assert old in source, f"the fault to plant no longer matches {name}: {old!r}"
        path.write_text(source.replace(old, new, 1))
    return tree
