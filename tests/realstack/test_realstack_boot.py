"""The unmodified firmware on the real MicroPython + btstack: boot, advertising, GATT, MTU.

Each check is shown to catch a planted fault: the positional ``resp_data`` that once
killed the boot on btstack (hidden by our own shim), a missing characteristic property,
and a smaller preferred MTU.
"""
import asyncio
import uuid

import pytest
from bleak import BleakClient, BleakScanner

from glutescope import protocol
from glutescope.transports.bumble_backend import backends_for
from realstack_checks import EXPECTED_GATT, ad_structures, assert_gatt_layout, gatt_layout
from realstack_harness import FirmwareExited, RealStack, firmware_copy

pytestmark = pytest.mark.slow

_ADV_FLAGS = 0x01
_ADV_UUID128_COMPLETE = 0x07
_ADV_NAME_COMPLETE = 0x09
_ADV_SERVICE_DATA_16 = 0x16
_VSYS_BATTERY_PCT = 66  # the stand-in's VSYS of 3.9 V on the firmware's 3.3-4.2 V scale


async def _boot(binary, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, **kwargs) as stack:
        await stack.wait_advertising()
        return stack.advertising_data, stack.scan_response_data, stack.wearable_name


def test_boots_and_advertises_the_service_name_and_battery(micropython_binary):
    adv, scan, name = asyncio.run(_boot(micropython_binary))
    fields = ad_structures(adv)
    service_le = uuid.UUID(protocol.SERVICE_UUID).bytes[::-1]
    assert fields == [(_ADV_FLAGS, b"\x06"), (_ADV_UUID128_COMPLETE, service_le)], fields
    assert ad_structures(scan) == [(_ADV_NAME_COMPLETE, name.encode()),
                                   (_ADV_SERVICE_DATA_16, b"\x0f\x18" + bytes((_VSYS_BATTERY_PCT,)))]


def test_positional_resp_data_is_reported_as_the_boot_failure(micropython_binary, tmp_path):
    tree = firmware_copy(tmp_path, [("ble.py", "self._adv_data, resp_data=self._resp_data)",
                                     "self._adv_data, self._resp_data)")])
    with pytest.raises(FirmwareExited) as failure:
        asyncio.run(_boot(micropython_binary, tree))
    text = str(failure.value)
    assert "before advertising" in text
    assert "TypeError: extra positional arguments given" in text
    assert "_advertise" in text  # the traceback names the line that did it


async def _gatt(binary, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, **kwargs) as stack:
        await stack.wait_advertising()
        scanner, client_cls = backends_for(stack)
        device = await BleakScanner.find_device_by_filter(
            lambda d, adv: protocol.SERVICE_UUID in [u.lower() for u in adv.service_uuids], timeout=10,
            backend=scanner)
        assert device is not None, "the wearable was not found by its service UUID"
        client = BleakClient(device, backend=client_cls)
        await client.connect()
        try:
            values = {}
            for char in (0x2A29, 0x2A24, 0x2A26, 0x2A19):
                values[char] = bytes(await client.read_gatt_char(f"0000{char:04x}-0000-1000-8000-00805f9b34fb"))
            info = protocol.decode_frame(bytes(await client.read_gatt_char(protocol.INFO_CHAR_UUID)))
            return gatt_layout(client.services), client.mtu_size, values, info
        finally:
            await client.disconnect()


def test_gatt_layout_values_and_mtu_are_those_of_the_protocol(micropython_binary):
    layout, mtu, values, info = asyncio.run(_gatt(micropython_binary))
    assert_gatt_layout(layout)
    assert mtu == 247
    assert values[0x2A29] == b"glutescope"
    assert values[0x2A24].startswith(b"glutescope wearable")
    assert values[0x2A26] == b"0.1.0"
    assert values[0x2A19] == bytes((_VSYS_BATTERY_PCT,))
    assert isinstance(info, protocol.DeviceInfo) and info.name.startswith("glutescope-")


def test_the_layout_check_catches_a_missing_write_without_response(micropython_binary, tmp_path):
    tree = firmware_copy(tmp_path, [("ble.py", "(_CONTROL_UUID, _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE)",
                                     "(_CONTROL_UUID, _FLAG_WRITE)")])
    layout, _, _, _ = asyncio.run(_gatt(micropython_binary, tree))
    with pytest.raises(AssertionError, match="write-without-response"):
        assert_gatt_layout(layout)
    assert protocol.CONTROL_CHAR_UUID in EXPECTED_GATT[protocol.SERVICE_UUID]


def test_the_mtu_check_catches_a_smaller_preferred_mtu(micropython_binary, tmp_path):
    tree = firmware_copy(tmp_path, [("ble.py", "_MTU_PREFERRED = const(247)", "_MTU_PREFERRED = const(185)")])
    _, mtu, _, _ = asyncio.run(_gatt(micropython_binary, tree))
    assert mtu == 185  # and so the test above, asserting 247, fails on it
