"""MicroPython ``bluetooth`` semantics of the shim, observed from a real GATT client."""
import asyncio
import contextlib
import errno

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError

from glutescope.transports.bumble_backend import backends_for
from glutescope.virtual import ble_shim
from glutescope.virtual.radio import VirtualRadio

SERVICE = ble_shim.UUID("0b5e1001-0000-4000-8000-00000000b001")
CHAR = ble_shim.UUID("0b5e1002-0000-4000-8000-00000000b001")
DESCRIPTOR = ble_shim.UUID(0x2901)
CHAR_STR = "0b5e1002-0000-4000-8000-00000000b001"
NAME = b"shim-test"
ADV = bytes([2, 0x01, 0x06, 1 + len(NAME), 0x09]) + NAME


def run(coro, timeout_s=30.0):
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


@contextlib.asynccontextmanager
async def shim(mtu=247, depth=ble_shim.DEFAULT_NOTIFY_QUEUE_DEPTH, stack="btstack",
               heap_budget_bytes=ble_shim.DEFAULT_HEAP_BUDGET_BYTES):
    async with VirtualRadio() as radio:
        ble = ble_shim.attach(radio, stack=stack, notify_queue_depth=depth,
                              heap_budget_bytes=heap_budget_bytes)
        events = []
        ble.active(True)
        ble.config(mtu=mtu)
        ble.irq(lambda event, data: events.append((event, tuple(bytes(x) if isinstance(x, memoryview) else x for x in data))))
        ((h_char, h_desc),) = ble.gatts_register_services(
            ((SERVICE, ((CHAR, ble_shim.FLAG_READ | ble_shim.FLAG_WRITE | ble_shim.FLAG_NOTIFY,
                         ((DESCRIPTOR, ble_shim.FLAG_READ),)),)),)
        )
        ble.gap_advertise(20_000, ADV)
        try:
            yield radio, ble, events, h_char, h_desc
        finally:
            ble.active(False)
            await ble.settle()
            ble_shim.detach()


async def connect(radio):
    scanner_cls, client_cls = backends_for(radio)
    device = await BleakScanner.find_device_by_name(NAME.decode(), timeout=5.0, backend=scanner_cls)
    assert device is not None
    client = BleakClient(device, backend=client_cls)
    await client.connect()
    return client


def test_ble_is_a_singleton_bound_by_attach():
    async def scenario():
        async with shim() as (_radio, ble, *_):
            assert ble_shim.BLE() is ble
        with pytest.raises(OSError, match="no virtual radio attached"):
            ble_shim.BLE()

    run(scenario())


def test_handles_are_the_att_handles_the_client_sees():
    async def scenario():
        async with shim() as (radio, _ble, _events, h_char, h_desc):
            client = await connect(radio)
            char = client.services.get_characteristic(CHAR_STR)
            assert char.handle == h_char
            assert h_desc in [d.handle for d in char.descriptors]
            await client.disconnect()

    run(scenario())


@pytest.mark.parametrize("stack", ble_shim.STACKS)
def test_irq_events_carry_micropython_numbers_and_tuples(stack):
    async def scenario():
        async with shim(stack=stack) as (radio, ble, events, h_char, _h_desc):
            client = await connect(radio)
            await client.write_gatt_char(CHAR_STR, b"\x01\x02", response=True)
            assert await client.read_gatt_char(CHAR_STR) == b"\x01\x02"
            await client.disconnect()
            await asyncio.sleep(0.01)
            central = bytes(reversed(bytes(radio.central_address)))
            conn_handle = events[0][1][0]
            # btstack reports no address on disconnect (seen with MicroPython 1.29 + btstack)
            gone = (conn_handle, 255, bytes(6)) if stack == "btstack" else (conn_handle, 1, central)
            assert events == [
                (1, (conn_handle, 1, central)),  # _IRQ_CENTRAL_CONNECT, random address
                (21, (conn_handle, 247)),  # _IRQ_MTU_EXCHANGED
                (3, (conn_handle, h_char)),  # _IRQ_GATTS_WRITE
                (4, (conn_handle, h_char)),  # _IRQ_GATTS_READ_REQUEST, before the read
                (2, gone),  # _IRQ_CENTRAL_DISCONNECT
            ]
            assert ble.config("mac") == (1, bytes(reversed(bytes(radio.peripheral_address))))

    run(scenario())


def test_irq_memoryviews_are_invalid_after_the_handler_returns():
    async def scenario():
        async with shim() as (radio, ble, _events, _h, _d):
            kept = []
            ble.irq(lambda event, data: kept.append(data[2]) if event == 1 else None)
            client = await connect(radio)
            with pytest.raises(ValueError, match="released memoryview"):
                bytes(kept[0])
            await client.disconnect()

    run(scenario())


def test_remote_writes_are_cut_to_the_buffer_size():
    async def scenario():
        async with shim() as (radio, ble, _events, h_char, _h_desc):
            client = await connect(radio)
            await client.write_gatt_char(CHAR_STR, bytes(range(40)), response=True)
            assert ble.gatts_read(h_char) == bytes(range(20))  # MicroPython's default buffer
            ble.gatts_set_buffer(h_char, 64)
            await client.write_gatt_char(CHAR_STR, bytes(range(40)), response=True)
            assert ble.gatts_read(h_char) == bytes(range(40))
            ble.gatts_set_buffer(h_char, 8, True)  # append mode: kept until read
            await client.write_gatt_char(CHAR_STR, b"abc", response=True)
            await client.write_gatt_char(CHAR_STR, b"defghij", response=True)
            assert ble.gatts_read(h_char) == b"abcdefgh"
            assert ble.gatts_read(h_char) == b""
            await client.disconnect()

    run(scenario())


def test_local_values_are_read_remotely():
    async def scenario():
        async with shim() as (radio, ble, _events, h_char, h_desc):
            ble.gatts_write(h_char, b"x" * 100)  # a local write grows the buffer
            ble.gatts_write(h_desc, b"level")
            client = await connect(radio)
            assert await client.read_gatt_char(CHAR_STR) == b"x" * 100
            assert await client.read_gatt_descriptor(h_desc) == b"level"
            await client.disconnect()

    run(scenario())


def test_nimble_notifications_are_cut_to_mtu_minus_3_and_refused_when_the_queue_is_full():
    async def scenario():
        async with shim(mtu=100, depth=4, stack="nimble") as (radio, ble, events, h_char, _h_desc):
            client = await connect(radio)
            got = []
            await client.start_notify(CHAR_STR, lambda _c, data: got.append(bytes(data)))
            conn_handle = events[0][1][0]
            for i in range(4):
                ble.gatts_notify(conn_handle, h_char, bytes([i]) * 200)
            with pytest.raises(OSError) as refused:
                ble.gatts_notify(conn_handle, h_char, b"one too many")
            assert refused.value.errno == errno.ENOMEM
            for _ in range(50):
                await asyncio.sleep(0)
            ble.gatts_notify(conn_handle, h_char, b"after drain")
            await asyncio.sleep(0.02)
            assert got == [bytes([i]) * 97 for i in range(4)] + [b"after drain"]
            assert ble.notify_queue_high_water == 4
            with pytest.raises(OSError) as no_conn:
                ble.gatts_notify(conn_handle + 7, h_char, b"x")
            assert no_conn.value.errno == errno.ENOTCONN
            await client.disconnect()

    run(scenario())


def test_bad_calls_fail_like_micropython():
    async def scenario():
        async with shim() as (_radio, ble, _events, h_char, _h_desc):
            with pytest.raises(OSError, match="adv_data is 32 bytes; legacy advertising allows 31"):
                ble.gap_advertise(100_000, bytes(32))
            with pytest.raises(OSError, match="stop advertising before registering services") as busy:
                ble.gatts_register_services(((SERVICE, ((CHAR, ble_shim.FLAG_READ),)),))
            assert busy.value.errno == errno.EBUSY
            with pytest.raises(ValueError, match="no registered characteristic or descriptor with value handle 999"):
                ble.gatts_read(999)
            with pytest.raises(ValueError, match="mtu must be an int in 23..517, got 600"):
                ble.config(mtu=600)
            ble.active(False)
            with pytest.raises(OSError, match="BLE is not active") as inactive:
                ble.gatts_notify(0, h_char, b"x")
            assert inactive.value.errno == errno.ENODEV

    run(scenario())


def test_an_irq_handler_error_surfaces_at_the_next_call():
    async def scenario():
        async with shim() as (radio, ble, _events, h_char, _h_desc):
            def broken(event, data):
                raise KeyError("no such state")

            ble.irq(broken)
            client = await connect(radio)
            with pytest.raises(RuntimeError, match="the BLE IRQ handler raised on event 1"):
                ble.gatts_read(h_char)
            ble.irq(None)
            await client.disconnect()

    run(scenario())


def test_uuid_forms():
    assert bytes(ble_shim.UUID(0x180F)) == b"\x0f\x18"
    assert bytes(SERVICE)[::-1].hex() == "0b5e100100004000800000000000b001"
    assert ble_shim.UUID(bytes(SERVICE)) == SERVICE
    assert repr(ble_shim.UUID(0x2A19)) == "UUID(0x2a19)"
    with pytest.raises(ValueError, match="a 16-bit UUID must be 0..0xFFFF, got 0x10000"):
        ble_shim.UUID(0x10000)


def test_btstack_never_refuses_but_holds_each_notification_on_the_heap_until_sent():
    import gc

    from glutescope.virtual import upy

    upy.install()

    async def scenario():
        budget = 20 * (244 + ble_shim.BTSTACK_NOTIFY_OVERHEAD_BYTES)
        async with shim(heap_budget_bytes=budget) as (radio, ble, events, h_char, _h_desc):
            client = await connect(radio)
            got = []
            await client.start_notify(CHAR_STR, lambda _c, data: got.append(bytes(data)))
            conn_handle = events[0][1][0]
            free0 = gc.mem_free()
            for i in range(20):  # far past NimBLE's 12: btstack takes every one
                assert ble.gatts_notify(conn_handle, h_char, bytes([i]) * 244) is None
            assert free0 - gc.mem_free() == budget  # 318 B each, as measured on btstack
            with pytest.raises(MemoryError):
                ble.gatts_notify(conn_handle, h_char, b"x")  # the heap copy cannot be made
            assert ble.memory_errors == 1
            for _ in range(200):
                await asyncio.sleep(0)
                if len(got) == 20:
                    break
            assert got == [bytes([i]) * 244 for i in range(20)]
            assert gc.mem_free() == free0  # sent: the copies are freed
            assert ble.heap_high_water_bytes == budget
            await client.disconnect()

    run(scenario())


def test_btstack_config_mtu_and_keyword_only_advertising():
    async def scenario():
        async with VirtualRadio() as radio:
            ble = ble_shim.attach(radio)
            try:
                ble.active(True)
                assert ble.config("mtu") == 1017  # btstack's l2cap_max_le_mtu, before any is set
                ble.config(mtu=247)
                assert ble.config("mtu") == 247
                with pytest.raises(TypeError):
                    ble.gap_advertise(100_000, ADV, b"\x02\x0a\x00")  # resp_data positionally
                ble.gap_advertise(100_000, ADV, resp_data=b"\x02\x0a\x00")
            finally:
                ble.active(False)
                await ble.settle()
                ble_shim.detach()

    run(scenario())


def test_a_read_request_refused_by_the_handler_fails_the_remote_read():
    async def scenario():
        async with shim() as (radio, ble, _events, h_char, _h_desc):
            ble.gatts_write(h_char, b"secret")
            ble.irq(lambda event, data: 1 if event == 4 else None)
            client = await connect(radio)
            with pytest.raises(BleakGATTProtocolError, match="Read Not Permitted"):
                await client.read_gatt_char(CHAR_STR)
            await client.disconnect()

    run(scenario())
