"""Throughput of the virtual BLE link across processes: device process -> relay -> host process.

The firmware's GATT server (glutefw.ble) runs in a child process on a `RemoteRadio`;
this process runs the relay and the host (bleak on the bumble backend). The child
sends 244-byte frames as fast as the firmware's ``send`` allows from the connection
on (until the host disconnects); the host counts them over a fixed window. Prints notifications/s and kB/s. bumble models no air time: these are CPU
figures of the software stack (the real radio carries ~60 such frames/s).

Then the whole virtual wearable (``glutescope.virtual.serve``) streams EMG at 2 kHz x 2
channels + IMU for a few seconds at several clock speeds, and the script prints how
much of the demanded sample rate arrived.

Run: ``PYTHONPATH=host:signal python benchmarks/remote_link.py [seconds]``
"""
from __future__ import annotations

import asyncio
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SERVICE = "5a1c0001-7d3e-4b8a-9f21-3c6e0b9d4a17"
STREAM_CHAR = "5a1c0002-7d3e-4b8a-9f21-3c6e0b9d4a17"


async def device(port: int) -> None:
    """Child: the firmware's GATT server on the relay's peripheral port; sends until disconnected."""
    sys.path.insert(0, str(ROOT / "firmware"))
    from glutescope.virtual import ble_shim, upy
    from glutescope.virtual.remote import RemoteRadio

    upy.install()
    ble_shim.install()  # before the firmware imports `bluetooth`
    from glutefw import ble as fw_ble
    from glutefw.cmdqueue import CommandQueue

    async with RemoteRadio(peripheral_port=port) as radio:
        ble = ble_shim.attach(radio)
        peripheral = fw_ble.BlePeripheral(ble, None, CommandQueue())
        peripheral.start(bytes(58), "bench", "bench", "0")
        frame = memoryview(bytearray(244))
        while not peripheral.connected or peripheral.payload_max < len(frame):
            await asyncio.sleep(0.01)
        while await peripheral.send(frame):
            pass
        ble_shim.detach()


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal"), env.get("PYTHONPATH", "")])
    return env


async def raw_link(seconds_s: float) -> float:
    from bleak import BleakClient, BleakScanner

    from glutescope.transports.bumble_backend import backends_for
    from glutescope.virtual.remote import RadioRelay, RemoteRadio

    async with RadioRelay() as relay, RemoteRadio(central_port=relay.central_port) as radio:
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--device", str(relay.peripheral_port), env=_env())
        try:
            scanner_cls, client_cls = backends_for(radio)
            found = await BleakScanner.find_device_by_filter(
                lambda _d, adv: SERVICE in adv.service_uuids, timeout=30, backend=scanner_cls)
            if found is None:
                raise SystemExit("the device process did not come up (see its error above)")
            async with BleakClient(found, backend=client_cls) as client:
                count = 0

                def on_frame(_char, _data):
                    nonlocal count
                    count += 1

                await client.start_notify(STREAM_CHAR, on_frame)
                await asyncio.sleep(1.0)  # settle
                start, t0 = count, time.perf_counter()
                await asyncio.sleep(seconds_s)
                rate = (count - start) / (time.perf_counter() - t0)
        finally:
            try:
                await asyncio.wait_for(child.wait(), 30)
            finally:
                if child.returncode is None:
                    child.kill()
                    await child.wait()
    return rate


async def wearable(speed: float, seconds_s: float) -> float:
    """Fraction of the demanded EMG samples that arrived at the host within the window."""
    from bleak import BleakClient, BleakScanner

    from glutescope import protocol
    from glutescope.transports.bumble_backend import backends_for
    from glutescope.virtual.remote import RemoteRadio

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "glutescope.virtual.serve", "--speed", str(speed),
        stdout=asyncio.subprocess.PIPE, env=_env())
    try:
        line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode()
        async with RemoteRadio(central_port=int(line.rsplit(":", 1)[1])) as radio:
            scanner_cls, client_cls = backends_for(radio)
            found = await BleakScanner.find_device_by_filter(
                lambda _d, adv: protocol.SERVICE_UUID in adv.service_uuids, timeout=30, backend=scanner_cls)
            async with BleakClient(found, backend=client_cls) as client:
                samples = 0

                def on_frame(_char, data):
                    nonlocal samples
                    frame = protocol.decode_frame(data)
                    if isinstance(frame, protocol.EmgBlock):
                        samples += frame.samples.shape[1]

                await client.start_notify(protocol.STREAM_CHAR_UUID, on_frame)
                await client.write_gatt_char(protocol.CONTROL_CHAR_UUID,
                                             protocol.encode_start(1, 2000, 0b011, 104), response=False)
                await asyncio.sleep(1.0)  # settle
                start = samples
                await asyncio.sleep(seconds_s)
                return (samples - start) / (2000 * speed * seconds_s)
    finally:
        child.terminate()
        await asyncio.wait_for(child.wait(), 30)


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--device":
        asyncio.run(device(int(argv[2])))
        return 0
    seconds_s = float(argv[1]) if len(argv) > 1 else 5.0
    rate = asyncio.run(raw_link(seconds_s))
    print(f"firmware GATT server across processes: {rate:8.0f} notifications/s "
          f"({rate * 244 / 1000:6.0f} kB/s) of 244 B over {seconds_s:g} s")
    for speed in (1.0, 4.0, 8.0):
        ratio = asyncio.run(wearable(speed, 4.0))
        print(f"virtual wearable, clock x{speed:g}: {100 * ratio:5.1f} % of the demanded EMG samples arrived")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
