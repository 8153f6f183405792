"""The virtual wearable's body follows the configuration the host asks for."""
import asyncio

import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("emg_fs_hz, mask, names", [
    (1000, 0b011, ("glute_max_left", "glute_max_right")),
    (2000, 0b111, ("glute_max_left", "glute_max_right", "glute_med_left")),
])
def test_streamed_samples_are_the_body_rendered_at_the_requested_rate(emg_fs_hz, mask, names):
    async def run():
        transport = VirtualTransport(exercise="bridges", seed=4, speed=4.0, emg_fs_hz=emg_fs_hz, channels=names)
        acq = Acquisition(transport)
        info = await acq.open(emg_fs_hz=emg_fs_hz, channel_mask=mask, imu_fs_hz=104)
        while acq.emg.end_sample < emg_fs_hz:  # one second of body time
            await asyncio.sleep(0.05)
        truth = transport.wearable.true_emg_codes(0, emg_fs_hz)
        session = transport.wearable.session
        await acq.close()
        return info, acq.emg.current(), truth, session

    info, segment, truth, session = asyncio.run(run())
    assert info.emg_fs_hz == emg_fs_hz and session.emg_fs_hz == emg_fs_hz
    assert session.channels == names and segment.samples.shape[0] == len(names)
    assert (segment.samples[:, :emg_fs_hz] & 0x0FFF == truth).all()
