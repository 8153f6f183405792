"""End to end: firmware code -> bumble -> bleak -> decoder -> glutesignal.

The virtual wearable runs the firmware's own app on the hardware shims; the host
reaches it through bleak's public API over a real software BLE stack. The body model
says what the muscles did, so the host's result is checked against the truth.
"""
import asyncio

import numpy as np
import pytest

from glutescope import units
from glutescope.acquisition import Acquisition
from glutescope.transports.virtual import VirtualTransport
from glutesignal.balance import BalanceTracker
from glutesignal.simulation import simulate
from glutesignal.conditioning import condition
from glutesignal.envelope import moving_rms
from glutesignal.symmetry import symmetry_over_reps

pytestmark = pytest.mark.slow

EMG_FS_HZ = 2000
IMU_FS_HZ = 104
SPEED = 4.0  # the wearable's clock runs 4x real time; the link keeps up (checked below)
SI_TOLERANCE_PCT = 6.0


async def stream_session(session, seconds_s: float):
    """Stream ``seconds_s`` of the body model through the whole chain; return the acquisition."""
    transport = VirtualTransport(session=session, speed=SPEED, exercise=session.exercise)
    acq = Acquisition(transport)
    info = await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=0b011, imu_fs_hz=IMU_FS_HZ)
    wearable = transport.wearable
    want = int(seconds_s * EMG_FS_HZ)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3 * seconds_s / SPEED + 20
    while acq.emg.end_sample < want:
        assert loop.time() < deadline, f"only {acq.emg.end_sample} of {want} samples arrived"
        await asyncio.sleep(0.05)
    truth = wearable.true_emg_codes(0, want)
    # The DMA never wrote outside its buffer, and the IMU frames' times are the sensor
    # model's own sample times (its clock runs 0.8 % fast), to well inside one period.
    assert wearable.board.memory_faults() == []
    imu_model = wearable.board.i2c_devices[0x6A]
    idx, t_us = acq.imu.current().anchors
    true_us = imu_model.sample_time_us(idx)
    err_us = (t_us - true_us + 2**29) % 2**30 - 2**29
    assert len(idx) > 10 and np.abs(err_us).max() < 0.25e6 / IMU_FS_HZ, np.abs(err_us).max()
    await acq.close()
    return acq, info, truth


def test_bridges_weaker_left_side_is_found_and_nothing_is_lost():
    session = simulate("bridges", seed=11, emg_fs_hz=EMG_FS_HZ, imu_fs_hz=IMU_FS_HZ)
    seconds_s = session.duration_s
    acq, info, truth = asyncio.run(stream_session(session, seconds_s))

    # Nothing lost, nothing corrupt: every sample the ADC converted is in the stream.
    assert acq.counters.corrupt_frames == 0
    assert acq.counters.lost_frames == 0
    emg = acq.emg.current()
    assert emg.gaps == ()
    n = truth.shape[1]
    lost = int((emg.samples[:, :n] == 0x8000).all(axis=0).sum())
    assert lost == 0, (f"{lost} samples marked lost by the firmware: its poll was later than the DMA "
                       f"ring (0.68 s of device time, {0.68 / SPEED:.2f} s here), the event loop stalled")
    assert np.array_equal(emg.samples[:, :n] & 0x0FFF, truth)
    assert info.emg_fs_hz == EMG_FS_HZ and info.channel_mask == 0b011
    imu = acq.imu.current()
    assert imu.gaps == ()
    assert imu.n_samples >= int(0.9 * seconds_s * IMU_FS_HZ)

    # The signal core recovers the body model's left/right difference.
    emg_uV = units.codes_to_uV(emg.samples[:, :n], info)
    envelope = moving_rms(condition(emg_uV, EMG_FS_HZ, mains_hz=50.0), EMG_FS_HZ, window_s=0.1)
    tracker = BalanceTracker(EMG_FS_HZ)
    tracker.process(envelope)
    reps = tracker.contractions
    assert len(reps) == len(session.reps)
    result = symmetry_over_reps([r.mean_uV[0] for r in reps], [r.mean_uV[1] for r in reps])
    assert result.louder_side == "right"  # the left is the weaker side
    assert result.consistent
    assert abs(result.si_pct - session.true_symmetry_index_pct) <= SI_TOLERANCE_PCT
