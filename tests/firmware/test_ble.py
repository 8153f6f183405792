"""The firmware's GATT server (glutefw/ble.py), unchanged, on the MicroPython ``bluetooth``
shim over bumble, reached by the host through bleak's public API and the bumble backend."""
import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from bleak import BleakClient, BleakScanner

from glutescope.transports.bumble_backend import backends_for
from glutescope.virtual import ble_shim
from glutescope.virtual.radio import VirtualRadio

ble_shim.install()  # the firmware does `import bluetooth`

from glutefw import ble as fw_ble  # noqa: E402  (after the shims)
from glutefw.cmdqueue import CommandQueue  # noqa: E402

SERVICE = "5a1c0001-7d3e-4b8a-9f21-3c6e0b9d4a17"
STREAM = "5a1c0002-7d3e-4b8a-9f21-3c6e0b9d4a17"
CONTROL = "5a1c0003-7d3e-4b8a-9f21-3c6e0b9d4a17"
INFO = "5a1c0004-7d3e-4b8a-9f21-3c6e0b9d4a17"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MANUFACTURER = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL = "00002a24-0000-1000-8000-00805f9b34fb"
FW_REVISION = "00002a26-0000-1000-8000-00805f9b34fb"

# The BLE layer carries the INFO frame opaquely; 58 bytes is its size with a 15-byte name.
INFO_BYTES = bytes((7 * i + 3) % 256 for i in range(58))
NAME = "glutescope-3F2A"  # the radio's default peripheral address ends in 3F:2A


def run(coro, timeout_s=60.0):
    """Run one test coroutine; the timeout only keeps a hung link from hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


@dataclass
class Rig:
    radio: VirtualRadio
    ble: ble_shim.BLE
    peripheral: fw_ble.BlePeripheral
    commands: CommandQueue
    scanner_cls: type
    client_cls: type

    async def find(self):
        device = await BleakScanner.find_device_by_filter(
            lambda d, adv: SERVICE in adv.service_uuids, timeout=5.0, backend=self.scanner_cls
        )
        assert device is not None, "the wearable was not found advertising"
        return device


@contextlib.asynccontextmanager
async def wearable(**shim_options):
    async with VirtualRadio() as radio:
        ble = ble_shim.attach(radio, **shim_options)
        commands = CommandQueue()
        peripheral = fw_ble.BlePeripheral(ble, None, commands)
        peripheral.start(INFO_BYTES, "glutescope project", "glutescope-pico2w", "0.1.0")
        scanner_cls, client_cls = backends_for(radio)
        try:
            yield Rig(radio, ble, peripheral, commands, scanner_cls, client_cls)
        finally:
            peripheral.stop()
            await ble.settle()
            ble_shim.detach()


def test_wearable_is_discovered_by_service_uuid_with_its_name():
    async def scenario():
        async with wearable() as rig:
            seen = await BleakScanner.discover(
                timeout=0.3, return_adv=True, service_uuids=[SERVICE], backend=rig.scanner_cls
            )
            assert list(seen) == ["E4:5A:1C:00:3F:2A"]
            device, adv = seen["E4:5A:1C:00:3F:2A"]
            assert adv.local_name == NAME
            assert device.name == NAME
            assert adv.service_uuids == [SERVICE]
            assert rig.peripheral.name == NAME

    run(scenario())


def test_connect_negotiates_mtu_247_for_244_byte_payloads():
    async def scenario():
        async with wearable() as rig:
            assert not rig.peripheral.connected
            assert rig.peripheral.payload_max == 20
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                assert client.mtu_size == 247
                assert rig.peripheral.connected
                assert rig.peripheral.payload_max == 244

    run(scenario())


def test_info_battery_and_device_information_are_readable():
    async def scenario():
        async with wearable() as rig:
            rig.peripheral.set_battery(87)
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                assert await client.read_gatt_char(INFO) == INFO_BYTES
                assert await client.read_gatt_char(BATTERY_LEVEL) == bytes([87])
                assert await client.read_gatt_char(MANUFACTURER) == b"glutescope project"
                assert await client.read_gatt_char(MODEL) == b"glutescope-pico2w"
                assert await client.read_gatt_char(FW_REVISION) == b"0.1.0"
                new_info = bytes(reversed(INFO_BYTES))
                rig.peripheral.set_info(new_info)
                assert await client.read_gatt_char(INFO) == new_info

    run(scenario())


def test_battery_level_is_notified_to_a_subscriber():
    async def scenario():
        async with wearable() as rig:
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                levels = asyncio.Queue()
                await client.start_notify(BATTERY_LEVEL, lambda _c, data: levels.put_nowait(bytes(data)))
                rig.peripheral.set_battery(42)
                assert await asyncio.wait_for(levels.get(), 5) == bytes([42])

    run(scenario())


def test_battery_level_out_of_range_is_refused():
    async def scenario():
        async with wearable() as rig:
            with pytest.raises(ValueError, match="battery pct must be 0-100, got 101"):
                rig.peripheral.set_battery(101)

    run(scenario())


def test_commands_reach_the_command_queue_whole_and_in_order():
    async def scenario():
        async with wearable() as rig:
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                start = bytes([0x01, 7, 0xD0, 0x07, 0b011, 0xD0, 0x00])  # START 2000 Hz, ch 0+1, IMU 208 Hz
                await client.write_gatt_char(CONTROL, start, response=True)
                await client.write_gatt_char(CONTROL, bytes([0x04, 8, 1, 2, 3, 4]), response=False)
                longest = bytes(range(64))  # more than the default 20-byte buffer
                await client.write_gatt_char(CONTROL, longest, response=False)
                received = []
                for _ in range(3):
                    buf, n = await asyncio.wait_for(rig.commands.get(), 5)
                    received.append((bytes(buf[:min(n, 16)]), n))
                # A slot keeps the first 16 bytes (no command is longer) and the true
                # length: the 64-byte write arrives whole, not cut to 20 bytes.
                assert received == [(start, 7), (bytes([0x04, 8, 1, 2, 3, 4]), 6), (longest[:16], 64)]

    run(scenario())


HEAP_FOR_40 = 40 * (244 + ble_shim.BTSTACK_NOTIFY_OVERHEAD_BYTES)


@pytest.mark.parametrize("stack", ble_shim.STACKS)
def test_2000_frames_of_244_bytes_arrive_in_order_without_loss_under_back_pressure(stack):
    """A sender far faster than the link: NimBLE refuses (ENOMEM), btstack's heap copy
    fails (MemoryError); either way send() waits, retries and loses nothing."""
    n_frames = 2000

    async def scenario():
        async with wearable(stack=stack, heap_budget_bytes=HEAP_FOR_40) as rig:
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                received = []
                done = asyncio.Event()

                def on_frame(_char, data):
                    received.append(data)
                    if len(received) == n_frames:
                        done.set()

                await client.start_notify(STREAM, on_frame)
                frame = bytearray(rig.peripheral.payload_max)
                view = memoryview(frame)
                for seq in range(n_frames):
                    frame[0:4] = seq.to_bytes(4, "little")
                    frame[-1] = seq % 251
                    assert await rig.peripheral.send(view)
                await asyncio.wait_for(done.wait(), 30)
                await asyncio.sleep(0.05)  # nothing extra may trail in
                assert len(received) == n_frames
                assert all(type(d) is bytearray and len(d) == 244 for d in received)
                assert [int.from_bytes(d[0:4], "little") for d in received] == list(range(n_frames))
                assert [d[-1] for d in received] == [s % 251 for s in range(n_frames)]
                # The sender outran the link, waited instead of losing frames, and the
                # radio queue (NimBLE) or the heap (btstack) never held more than its bound.
                if stack == "nimble":
                    assert rig.peripheral.notify_backoffs > 0
                    assert rig.peripheral.notify_memory_errors == 0
                    assert rig.ble.notify_queue_high_water == ble_shim.DEFAULT_NOTIFY_QUEUE_DEPTH
                else:
                    assert rig.peripheral.notify_backoffs == 0  # btstack never refuses
                    assert rig.peripheral.notify_memory_errors > 0
                    assert rig.peripheral.notify_memory_errors == rig.ble.memory_errors
                    assert rig.ble.heap_high_water_bytes <= HEAP_FOR_40

    run(scenario())


def test_send_without_a_connection_returns_false_at_once():
    async def scenario():
        async with wearable() as rig:
            assert await rig.peripheral.send(bytes(20)) is False
            assert rig.peripheral.notify_backoffs == 0

    run(scenario())


def test_a_frame_longer_than_the_payload_is_refused():
    async def scenario():
        async with wearable() as rig:
            async with BleakClient(await rig.find(), backend=rig.client_cls):
                with pytest.raises(ValueError, match="frame of 245 bytes exceeds the BLE payload of 244 bytes"):
                    await rig.peripheral.send(bytes(245))

    run(scenario())


def test_link_loss_fires_the_disconnected_callback_and_the_wearable_comes_back():
    async def scenario():
        async with wearable() as rig:
            lost = asyncio.Event()
            client = BleakClient(await rig.find(), disconnected_callback=lambda _c: lost.set(), backend=rig.client_cls)
            await client.connect()
            assert rig.radio.drop_link() == 1
            await asyncio.wait_for(lost.wait(), 5)
            assert not client.is_connected
            assert not rig.peripheral.connected
            assert rig.peripheral.payload_max == 20
            assert await rig.peripheral.send(bytes(20)) is False

            # It advertises again by itself, and a new connection streams.
            async with BleakClient(await rig.find(), backend=rig.client_cls) as again:
                frames = asyncio.Queue()
                await again.start_notify(STREAM, lambda _c, data: frames.put_nowait(bytes(data)))
                assert rig.peripheral.payload_max == 244
                assert await rig.peripheral.send(b"\x01" * 244)
                assert await asyncio.wait_for(frames.get(), 5) == b"\x01" * 244

    run(scenario())


def test_send_stops_with_false_when_the_link_drops_mid_stream():
    async def scenario():
        async with wearable() as rig:
            async with BleakClient(await rig.find(), backend=rig.client_cls) as client:
                await client.start_notify(STREAM, lambda _c, _d: None)
                results = []
                frame = bytes(244)
                for i in range(200):
                    if i == 100:
                        rig.radio.drop_link()
                        await asyncio.sleep(0.01)  # the disconnection events arrive
                    results.append(await rig.peripheral.send(frame))
                assert results == [True] * 100 + [False] * 100

    run(scenario())


def test_stop_ends_the_connection_and_advertising():
    async def scenario():
        async with wearable() as rig:
            lost = asyncio.Event()
            client = BleakClient(await rig.find(), disconnected_callback=lambda _c: lost.set(), backend=rig.client_cls)
            await client.connect()
            rig.peripheral.stop()
            await asyncio.wait_for(lost.wait(), 5)
            await rig.ble.settle()
            seen = await BleakScanner.discover(timeout=0.3, service_uuids=[SERVICE], backend=rig.scanner_cls)
            assert seen == []

    run(scenario())


def test_a_name_too_long_for_the_scan_response_is_refused():
    async def scenario():
        async with VirtualRadio() as radio:
            ble = ble_shim.attach(radio)
            try:
                with pytest.raises(ValueError, match="name must be at most 24 bytes of UTF-8, got 25"):
                    fw_ble.BlePeripheral(ble, "x" * 25, CommandQueue())
            finally:
                ble_shim.detach()

    run(scenario())
