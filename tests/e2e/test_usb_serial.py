"""Bench mode end to end: the firmware's USB link, a real tty, pyserial, the decoder.

The virtual wearable runs its firmware with the USB serial link on a pseudo-terminal;
the host opens it with pyserial as it would open /dev/ttyACM0, configures it with
COBS+CRC commands and records every sample the body produced.
"""
import asyncio

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports import DeviceNotFound
from glutescope.transports.serial import SerialTransport
from glutescope.virtual.wearable import VirtualWearable

pytestmark = pytest.mark.slow


def test_usb_bench_link_streams_every_sample_and_answers_commands():
    async def run():
        async with VirtualWearable.started(exercise="bridges", seed=3, speed=4.0, usb=True) as wearable:
            transport = SerialTransport(wearable.serial_port)
            acq = Acquisition(transport)
            info = await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=104)
            while acq.emg.end_sample < 8000:
                await asyncio.sleep(0.05)
            truth = wearable.true_emg_codes(0, 8000)
            await acq.close()
            return info, acq, truth

    info, acq, truth = asyncio.run(run())
    assert info.emg_fs_hz == 2000 and info.channel_mask == 0b011
    segment = acq.emg.current()
    assert segment.gaps == () and acq.counters.corrupt_frames == 0 and acq.counters.lost_frames == 0
    assert np.array_equal(segment.samples[:, :8000] & 0x0FFF, truth)
    assert acq.imu.current().n_samples > 300


def test_a_missing_serial_port_is_device_not_found():
    async def run():
        await SerialTransport("/dev/ttyGLUTESCOPE-NONE").connect()

    with pytest.raises(DeviceNotFound, match="does not exist"):
        asyncio.run(run())
