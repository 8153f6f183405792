"""The shim's ``bluetooth`` follows the real one: the same scenario, the same IRQ trace.

One central script (connect, MTU exchange, read the info characteristic, two control
writes, disconnect) runs against the firmware's own ``BlePeripheral`` twice: on
``glutescope.virtual.ble_shim`` (CPython), and in a real MicroPython 1.29 + btstack
binary (../shared/tools/micropython-btstack) whose HCI UART is a pty with a bumble
controller on it. Both traces of IRQ events the firmware's handler received are reduced
to names (connection handle, the central's address, characteristic handles) and must
be equal, so the shim cannot drift from the real module unseen.
"""
import asyncio
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT.parent / "shared" / "tools" / "micropython-btstack" / "micropython"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BINARY.exists(), reason=(
        f"no MicroPython + btstack binary at {BINARY}: build it as "
        "shared/tools/micropython-btstack/README.md says to compare the shim with the real module")),
]

INFO = bytes(28)

# The firmware side, in MicroPython: the firmware's BlePeripheral with its IRQ handler
# wrapped to print each event before handling it.
FIRMWARE_SIDE = r'''
import asyncio, bluetooth
from glutefw.ble import BlePeripheral
from glutefw.cmdqueue import CommandQueue

def fmt(x):
    if isinstance(x, int):
        return str(x)
    return bytes(x).hex()

p = BlePeripheral(bluetooth.BLE(), "glutescope-TRACE", CommandQueue())
print("MTU0", bluetooth.BLE().config("mtu"))
handler = p._irq
def logged(event, data):
    print("IRQ", event, " ".join(fmt(x) for x in data))
    return handler(event, data)
p._irq = logged
p.start(bytes(28), "m", "model", "0")
print("HANDLES", p._h_stream, p._h_control, p._h_info, p._h_battery)
print("MTU", bluetooth.BLE().config("mtu"))

async def main():
    await asyncio.sleep_ms(8000)
asyncio.run(main())
'''


def _fmt(x):
    return str(x) if isinstance(x, int) else bytes(x).hex()


async def _central_script(central, address) -> None:
    from bumble.device import Peer

    connection = await asyncio.wait_for(central.connect(address), 10)
    peer = Peer(connection)
    await peer.request_mtu(247)
    await peer.discover_services()
    for service in peer.services:
        await service.discover_characteristics()
    chars = {str(c.uuid).lower()[:8]: c for s in peer.services for c in s.characteristics}
    await peer.read_value(chars["5a1c0004"])  # info
    await peer.write_value(chars["5a1c0003"], b"\x06\x01", with_response=True)
    await peer.write_value(chars["5a1c0003"], b"\x07\x02", with_response=False)
    await asyncio.sleep(0.2)
    await connection.disconnect()
    await asyncio.sleep(0.3)


def _normalise(lines, handles, central_address):
    """``IRQ event a b c`` lines -> tuples with names for handles and the central's address."""
    stream, control, info, battery = handles
    names = {stream: "stream", control: "control", info: "info", battery: "battery"}
    peer = bytes(reversed(bytes(central_address))).hex()
    out = []
    for line in lines:
        event, *data = line.split()[1:]
        event = int(event)
        fields = []
        for i, x in enumerate(data):
            if i == 0:
                fields.append("conn")
            elif x == peer:
                fields.append("central")
            elif event in (3, 4) and i == 1:
                fields.append(names.get(int(x), x))
            else:
                fields.append(x)
        out.append((event, *fields))
    return out


def _shim_trace():
    from glutescope.virtual import ble_shim, upy
    from glutescope.virtual.radio import VirtualRadio

    upy.install()
    import sys

    sys.path.insert(0, str(ROOT / "firmware"))
    ble_shim.install()
    from glutefw.ble import BlePeripheral
    from glutefw.cmdqueue import CommandQueue

    async def run():
        async with VirtualRadio() as radio:
            ble = ble_shim.attach(radio)
            lines = []
            p = BlePeripheral(ble, "glutescope-TRACE", CommandQueue())
            mtu0 = ble.config("mtu")
            handler = p._irq

            def logged(event, data):
                lines.append("IRQ %d %s" % (event, " ".join(_fmt(x) for x in data)))
                return handler(event, data)

            p._irq = logged
            p.start(INFO, "m", "model", "0")
            mtu = ble.config("mtu")
            handles = (p._h_stream, p._h_control, p._h_info, p._h_battery)
            try:
                await _central_script(radio.central, radio.peripheral_address)
            finally:
                p.stop()
                await ble.settle()
                ble_shim.detach()
            return _normalise(lines, handles, radio.central_address), (mtu0, mtu)

    return asyncio.run(run())


def _btstack_trace(tmp_path):
    from bumble.controller import Controller
    from bumble.crypto import e as aes_e
    from bumble.device import Device
    from bumble.hci import Address
    from bumble.link import LocalLink
    from bumble.transport.pty import open_pty_transport

    class BtstackController(Controller):
        # bumble lacks two HCI commands btstack sends at start (tools README).
        def on_packet(self, packet):
            if packet[0] == 0x01:
                opcode = packet[1] | packet[2] << 8
                if opcode == 0xFC09:
                    return self._complete(opcode, b"\x01")
                if opcode == 0x2017:
                    return self._complete(opcode, b"\x00" + aes_e(bytes(packet[4:20]), bytes(packet[20:36])))
            super().on_packet(packet)

        def _complete(self, opcode, params):
            body = bytes([1, opcode & 0xFF, opcode >> 8]) + params
            self.host.on_packet(bytes([0x04, 0x0E, len(body)]) + body)

    class HostSide:
        sink = None

        def set_packet_sink(self, sink):
            self.sink = sink

        def on_packet(self, packet):
            if self.sink is not None:
                self.sink.on_packet(packet)

    central_address = Address("F0:F1:F2:F3:F4:F5")

    async def run():
        link = LocalLink()
        pty_path = tmp_path / "hci"
        transport = await open_pty_transport(str(pty_path))
        BtstackController("firmware", host_source=transport.source, host_sink=transport.sink, link=link)
        host_side = HostSide()
        central_controller = Controller("central", host_source=None, host_sink=host_side, link=link)
        central = Device.with_hci("central", central_address, host_side, central_controller)
        await central.power_on()
        script = tmp_path / "firmware_side.py"
        script.write_text(FIRMWARE_SIDE, encoding="utf-8")
        env = dict(os.environ, MICROPYBTUART=str(pty_path), MICROPYPATH=f"{ROOT / 'firmware'}:.frozen")
        proc = await asyncio.create_subprocess_exec(
            str(BINARY), "-X", "heapsize=2M", str(script), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        lines = []

        async def read():
            async for raw in proc.stdout:
                lines.append(raw.decode(errors="replace").rstrip())

        reader = asyncio.create_task(read())
        try:
            found = asyncio.get_running_loop().create_future()
            central.on("advertisement", lambda adv: found.done() or found.set_result(adv.address))
            await central.start_scanning()
            address = await asyncio.wait_for(found, 10)
            await central.stop_scanning()
            await _central_script(central, address)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            reader.cancel()
            await transport.close()
        handles = tuple(int(x) for x in next(l for l in lines if l.startswith("HANDLES")).split()[1:])
        mtu0 = int(next(l for l in lines if l.startswith("MTU0")).split()[1])
        mtu = int(next(l for l in lines if l.startswith("MTU ")).split()[1])
        irqs = [l for l in lines if l.startswith("IRQ ")]
        return _normalise(irqs, handles, central_address), (mtu0, mtu)

    return asyncio.run(asyncio.wait_for(run(), 60))


def test_the_shim_and_real_btstack_give_the_firmware_the_same_irq_trace(tmp_path):
    real, real_mtu = _btstack_trace(tmp_path)
    shim, shim_mtu = _shim_trace()
    assert real == shim, f"real btstack:\n{real}\nshim:\n{shim}"
    # What the trace holds, as seen on the real module (tools README): connect, MTU
    # exchange, a read request before the read, the writes, a disconnect without address.
    assert [e[0] for e in real] == [1, 21, 4, 3, 3, 2]
    assert real[-1] == (2, "conn", "255", "000000000000")
    # config('mtu'): btstack's 1017 before the firmware sets its 247, then what it set.
    assert real_mtu == shim_mtu == (1017, 247)
