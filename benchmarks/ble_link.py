"""Throughput of the virtual BLE link: firmware GATT server -> bumble -> bleak.

Sends 244-byte frames as fast as the firmware's ``send`` allows, for several notify
queue depths, and prints notifications/s, kB/s, back-offs and the largest number of
notifications in flight. bumble models no air time: these are CPU figures of the
software stack, an upper bound for the demo, not a prediction for the radio.

Run: ``PYTHONPATH=host:signal python benchmarks/ble_link.py [n_frames]``
"""
from __future__ import annotations

import asyncio
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


async def measure(n_frames: int, depth: int) -> tuple[float, int, int]:
    from bleak import BleakClient, BleakScanner

    from glutefw import ble as fw_ble
    from glutefw.cmdqueue import CommandQueue
    from glutescope.transports.bumble_backend import backends_for
    from glutescope.virtual import ble_shim
    from glutescope.virtual.radio import VirtualRadio

    async with VirtualRadio() as radio:
        # The queue depth is NimBLE's notion: btstack (the shim's default) never refuses.
        ble = ble_shim.attach(radio, stack="nimble", notify_queue_depth=depth)
        peripheral = fw_ble.BlePeripheral(ble, None, CommandQueue())
        peripheral.start(bytes(58), "bench", "bench", "0")
        scanner_cls, client_cls = backends_for(radio)
        device = await BleakScanner.find_device_by_name(peripheral.name, timeout=5, backend=scanner_cls)
        async with BleakClient(device, backend=client_cls) as client:
            done = asyncio.Event()
            count = 0

            def on_frame(_char, _data):
                nonlocal count
                count += 1
                if count == n_frames:
                    done.set()

            await client.start_notify("5a1c0002-7d3e-4b8a-9f21-3c6e0b9d4a17", on_frame)
            frame = memoryview(bytearray(peripheral.payload_max))
            t0 = time.perf_counter()
            for _ in range(n_frames):
                await peripheral.send(frame)
            await done.wait()
            elapsed_s = time.perf_counter() - t0
        peripheral.stop()
        await ble.settle()
        ble_shim.detach()
        return n_frames / elapsed_s, peripheral.notify_backoffs, ble.notify_queue_high_water


def main(argv: list[str]) -> int:
    n_frames = int(argv[1]) if len(argv) > 1 else 10000
    sys.path.insert(0, str(ROOT / "firmware"))
    from glutescope.virtual import ble_shim, upy

    upy.install()
    ble_shim.install()
    print(f"virtual BLE link (NimBLE model), {n_frames} notifications of 244 bytes, "
          "firmware send() -> bleak callback")
    print(f"{'queue depth':>12} {'notif/s':>10} {'kB/s':>8} {'backoffs':>9} {'max in flight':>14}")
    for depth in (4, 12, 64):
        rate, backoffs, high_water = asyncio.run(measure(n_frames, depth))
        print(f"{depth:>12} {rate:>10.0f} {rate * 244 / 1000:>8.0f} {backoffs:>9} {high_water:>14}")
    print("needed by 3 ch x 2 kHz EMG + IMU: about 60 notif/s (15 kB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
