"""bleak's public API over the bumble backend, against a GATT server written directly on
bumble (the wearable's own server is tested in tests/firmware/test_ble.py)."""
import asyncio
import contextlib
import struct

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakGATTProtocolError
from bumble import att, gatt, hci

from glutescope.transports.bumble_backend import backends_for
from glutescope.virtual.radio import VirtualRadio

SERVICE = "0b5e0001-0000-4000-8000-00000000a001"
NOTIFY_CHAR = "0b5e0002-0000-4000-8000-00000000a001"
WRITE_CMD_CHAR = "0b5e0003-0000-4000-8000-00000000a001"
LOCKED_CHAR = "0b5e0004-0000-4000-8000-00000000a001"
OTHER_SERVICE = "0b5e00ff-0000-4000-8000-00000000a001"
NAME = "bench-peripheral"
PERIPHERAL = "E4:5A:1C:00:3F:2A"


def run(coro, timeout_s=30.0):
    """Run one test coroutine; the timeout only keeps a hung link from hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def _ad(ad_type: int, value: bytes) -> bytes:
    return bytes([len(value) + 1, ad_type]) + value


class Bench:
    """A peripheral with one service: notify+read, write-without-response only, unreadable."""

    def __init__(self, radio: VirtualRadio):
        self.radio = radio
        self.written = []
        self.notify_char = gatt.Characteristic(
            NOTIFY_CHAR, gatt.Characteristic.Properties.NOTIFY | gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE, b"hello",
        )
        write_cmd = gatt.Characteristic(
            WRITE_CMD_CHAR, gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE, gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=lambda _conn, value: self.written.append(bytes(value))),
        )

        def refuse(_conn):
            raise att.ATT_Error(att.ATT_READ_NOT_PERMITTED_ERROR)

        locked = gatt.Characteristic(
            LOCKED_CHAR, gatt.Characteristic.Properties.READ, gatt.Characteristic.READABLE,
            gatt.CharacteristicValue(read=refuse),
        )
        radio.peripheral.add_service(gatt.Service(SERVICE, [self.notify_char, write_cmd, locked]))

    async def advertise(self):
        service_le = bytes(reversed(bytes.fromhex(SERVICE.replace("-", ""))))
        adv = _ad(0x01, b"\x06") + _ad(0x07, service_le)
        resp = _ad(0x09, NAME.encode()) + _ad(0xFF, struct.pack("<H", 0xFFFF) + b"\x2a")
        await self.radio.peripheral.start_advertising(
            advertising_data=adv, scan_response_data=resp, advertising_interval_min=20, advertising_interval_max=20
        )

    async def notify(self, value: bytes):
        await self.radio.peripheral.notify_subscribers(self.notify_char, value)


@contextlib.asynccontextmanager
async def bench():
    async with VirtualRadio() as radio:
        rig = Bench(radio)
        await rig.advertise()
        yield rig, *backends_for(radio)


async def find(scanner_cls):
    device = await BleakScanner.find_device_by_name(NAME, timeout=5.0, backend=scanner_cls)
    assert device is not None, "the bench peripheral was not found"
    return device


def test_scan_reports_advertising_and_scan_response_data():
    async def scenario():
        async with bench() as (_rig, scanner_cls, _client_cls):
            seen = await BleakScanner.discover(timeout=0.2, return_adv=True, backend=scanner_cls)
            assert list(seen) == [PERIPHERAL]
            device, adv = seen[PERIPHERAL]
            assert adv.local_name == NAME and device.name == NAME
            assert adv.service_uuids == [SERVICE]
            assert adv.manufacturer_data == {0xFFFF: b"\x2a"}
            assert isinstance(adv.rssi, int)
            # Connecting needs the address type, which a bare string does not carry.
            assert device.details == hci.Address(PERIPHERAL, hci.Address.RANDOM_DEVICE_ADDRESS)
            assert device.details.is_random

    run(scenario())


def test_scan_filtered_by_another_service_sees_nothing():
    async def scenario():
        async with bench() as (_rig, scanner_cls, _client_cls):
            seen = await BleakScanner.discover(timeout=0.2, service_uuids=[OTHER_SERVICE], backend=scanner_cls)
            assert seen == []

    run(scenario())


def test_passive_scan_sees_the_advertisement_but_not_the_scan_response():
    async def scenario():
        async with bench() as (_rig, scanner_cls, _client_cls):
            seen = await BleakScanner.discover(
                timeout=0.2, return_adv=True, scanning_mode="passive", backend=scanner_cls
            )
            _device, adv = seen[PERIPHERAL]
            assert adv.service_uuids == [SERVICE]
            assert adv.local_name is None

    run(scenario())


def test_connection_requests_mtu_247_and_maps_properties_to_bleak_names():
    async def scenario():
        async with bench() as (_rig, scanner_cls, client_cls):
            async with BleakClient(await find(scanner_cls), backend=client_cls) as client:
                assert client.is_connected
                assert client.mtu_size == 247
                service = client.services.get_service(SERVICE)
                props = {c.uuid: sorted(c.properties) for c in service.characteristics}
                assert props == {
                    NOTIFY_CHAR: ["notify", "read"],
                    WRITE_CMD_CHAR: ["write-without-response"],
                    LOCKED_CHAR: ["read"],
                }
                notify_char = service.get_characteristic(NOTIFY_CHAR)
                assert [d.uuid for d in notify_char.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
                assert notify_char.max_write_without_response_size == 244

    run(scenario())


def test_connect_by_address_string_without_a_prior_scan():
    async def scenario():
        async with bench() as (_rig, _scanner_cls, client_cls):
            async with BleakClient(PERIPHERAL, backend=client_cls) as client:
                assert await client.read_gatt_char(NOTIFY_CHAR) == bytearray(b"hello")

    run(scenario())


def test_reads_writes_and_notifications():
    async def scenario():
        async with bench() as (rig, scanner_cls, client_cls):
            async with BleakClient(await find(scanner_cls), backend=client_cls) as client:
                value = await client.read_gatt_char(NOTIFY_CHAR)
                assert value == b"hello" and type(value) is bytearray
                # response=None must pick write-without-response, the only write it has.
                await client.write_gatt_char(WRITE_CMD_CHAR, b"\x06\x01")
                await client.write_gatt_char(WRITE_CMD_CHAR, bytearray(b"\x07\x02"), response=False)
                received = asyncio.Queue()
                await client.start_notify(NOTIFY_CHAR, lambda _c, data: received.put_nowait(data))
                await rig.notify(b"\x00" * 244)
                data = await asyncio.wait_for(received.get(), 5)
                assert type(data) is bytearray and data == bytearray(244)
                await client.stop_notify(NOTIFY_CHAR)
                await rig.notify(b"late")
                await asyncio.sleep(0.05)
                assert received.empty()
                assert rig.written == [b"\x06\x01", b"\x07\x02"]

    run(scenario())


def test_att_error_becomes_bleak_gatt_protocol_error():
    async def scenario():
        async with bench() as (_rig, scanner_cls, client_cls):
            async with BleakClient(await find(scanner_cls), backend=client_cls) as client:
                with pytest.raises(BleakGATTProtocolError, match="Read Not Permitted"):
                    await client.read_gatt_char(LOCKED_CHAR)

    run(scenario())


def test_connecting_to_an_absent_device_times_out_and_leaves_the_radio_usable():
    async def scenario():
        async with bench() as (_rig, scanner_cls, client_cls):
            absent = hci.Address("C1:00:00:00:00:01", hci.Address.RANDOM_DEVICE_ADDRESS)
            ghost = BLEDevice(absent.to_string(False), "ghost", absent)
            with pytest.raises(asyncio.TimeoutError, match="no connection to C1:00:00:00:00:01 within 0.2 s"):
                await BleakClient(ghost, timeout=0.2, backend=client_cls).connect()
            async with BleakClient(await find(scanner_cls), backend=client_cls) as client:
                assert client.is_connected

    run(scenario())


def test_disconnected_callback_fires_on_link_loss_and_on_disconnect():
    async def scenario():
        async with bench() as (rig, scanner_cls, client_cls):
            calls = []
            client = BleakClient(await find(scanner_cls), disconnected_callback=calls.append, backend=client_cls)
            await client.connect()
            rig.radio.drop_link()
            for _ in range(100):
                if calls:
                    break
                await asyncio.sleep(0.01)
            assert calls == [client]
            assert not client.is_connected

            await rig.advertise()
            await client.connect()
            assert client.is_connected
            await client.disconnect()
            assert calls == [client, client]
            assert not client.is_connected
            await client.disconnect()  # a second disconnect is harmless

    run(scenario())


def test_one_pair_of_backend_classes_per_radio():
    async def scenario():
        async with VirtualRadio() as radio_a, VirtualRadio(
            peripheral_address="E4:00:00:00:00:02", central_address="F0:00:00:00:00:02"
        ) as radio_b:
            assert backends_for(radio_a) is backends_for(radio_a)
            assert backends_for(radio_a) != backends_for(radio_b)

    run(scenario())


def test_scanning_a_closed_radio_fails_clearly():
    async def scenario():
        radio = VirtualRadio()
        scanner_cls, _client_cls = backends_for(radio)
        with pytest.raises(RuntimeError, match="VirtualRadio is not open"):
            await BleakScanner(backend=scanner_cls).start()

    run(scenario())


def test_radio_rejects_a_non_static_address():
    with pytest.raises(ValueError, match="peripheral_address must be a random static address"):
        VirtualRadio(peripheral_address="12:34:56:78:9A:BC")


def test_radio_close_is_safe_twice_and_peripheral_is_unavailable_after():
    async def scenario():
        radio = VirtualRadio()
        await radio.open()
        assert radio.peripheral.random_address == radio.peripheral_address
        await radio.close()
        await radio.close()
        with pytest.raises(RuntimeError, match="VirtualRadio is not open"):
            radio.peripheral

    run(scenario())
