"""The end-to-end layer catches a broken GATT flow in the firmware.

The same firmware tree runs twice on the virtual wearable: as it is, the host
configures it and streams; with one planted fault in the GATT server (frames notified
on the info characteristic instead of the stream), the host fails to start it with a
clear error instead of silently showing nothing.
"""
import asyncio
import shutil

import pytest

from glutescope.acquisition import Acquisition, NoAnswer
from glutescope.transports.virtual import VirtualTransport
from glutescope.virtual.wearable import firmware_dir

pytestmark = pytest.mark.slow


def firmware_copy(tmp_path, old=None, new=None):
    tree = tmp_path / "firmware"
    shutil.copytree(firmware_dir() / "glutefw", tree / "glutefw")
    if old is not None:
        ble = tree / "glutefw" / "ble.py"
        source = ble.read_text()
        assert old in source, "the fault to plant no longer matches ble.py"
        ble.write_text(source.replace(old, new, 1))
    return tree


async def start_streaming(tree):
    acq = Acquisition(VirtualTransport(exercise="rest", speed=4.0, firmware=tree))
    try:
        await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=104)
        while acq.emg.end_sample < 2000:
            await asyncio.sleep(0.05)
        return acq.emg.end_sample
    finally:
        await acq.close()


def test_the_unmodified_copy_streams(tmp_path):
    assert asyncio.run(start_streaming(firmware_copy(tmp_path))) >= 2000


def test_frames_notified_on_the_wrong_characteristic_fail_the_start(tmp_path):
    tree = firmware_copy(tmp_path, "gatts_notify(conn_handle, self._h_stream, frame)",
                         "gatts_notify(conn_handle, self._h_info, frame)")
    with pytest.raises(NoAnswer, match="did not answer GET_INFO"):
        asyncio.run(start_streaming(tree))
