"""A failing consumer is reported, never a silently dead acquisition."""
import asyncio

import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow


def test_a_callback_error_is_kept_for_the_owner_and_decoding_goes_on():
    calls = []

    def broken_on_emg(block, emg_uV):
        calls.append(block.first_sample)
        if len(calls) == 3:
            raise ValueError("consumer bug")

    async def run():
        acq = Acquisition(VirtualTransport(exercise="rest", speed=4.0), on_emg=broken_on_emg)
        await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=104)
        while acq.emg.end_sample < 4000:
            await asyncio.sleep(0.05)
        frames_after = acq.counters.frames
        await acq.close()
        return acq, frames_after

    acq, frames = asyncio.run(run())
    assert isinstance(acq.failure, ValueError) and "consumer bug" in str(acq.failure)
    assert len(calls) > 3  # the consumer task survived the error
    assert frames > 10 and acq.emg.gaps() == ()


def test_a_recorder_that_cannot_write_is_reported_and_the_link_still_closes(tmp_path):
    from glutescope.recording import RecordingWriter

    writer = RecordingWriter(tmp_path / "s.glutes")
    writer.open()
    writer.close()  # appending to a closed recording fails like a lost disk would

    async def run():
        transport = VirtualTransport(exercise="rest", speed=4.0)
        acq = Acquisition(transport, recorder=writer)
        await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=104)
        await acq.close()
        return acq, transport

    acq, transport = asyncio.run(run())
    assert acq.failure is not None
    assert not transport.connected and transport.wearable is None
