"""The IMU breakout may lie flat on the sacrum: the host turns its axes into the body's."""
import asyncio

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from glutescope.mounting import MOUNTS, rotation, to_body_axes, to_sensor_axes
from glutescope.transports.virtual import VirtualTransport


@pytest.mark.parametrize("mount", sorted(MOUNTS))
def test_every_mount_is_a_proper_rotation_and_round_trips(mount):
    r = rotation(mount)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    acc = np.random.default_rng(0).normal(size=(3, 5))
    back, _ = to_body_axes(*to_sensor_axes(acc, acc, mount), mount)
    assert np.allclose(back, acc)


def test_flat_breakout_standing_feels_gravity_along_its_x_axis():
    up = np.array([[0.0], [0.0], [1.0]])  # standing still: +1 g up in body axes
    sensor, _ = to_sensor_axes(up, up, "flat")
    assert np.allclose(sensor[:, 0], [1.0, 0.0, 0.0])


def test_unknown_mount_is_refused_by_name():
    with pytest.raises(ValueError, match="imu mount must be one of"):
        rotation("sideways")


@pytest.mark.slow
@pytest.mark.parametrize("wearable_mount, host_mount, agree", [
    ("flat", "flat", True), ("upright", "upright", True), ("flat", "upright", False)])
def test_body_axes_need_the_mount_the_breakout_was_strapped_on_with(wearable_mount, host_mount, agree):
    got = []

    def on_imu(block, acc_g, gyro_dps):
        got.append(acc_g)

    async def run():
        transport = VirtualTransport(exercise="single_leg_stance", seed=1, speed=4.0, imu_mount=wearable_mount)
        acq = Acquisition(transport, on_imu=on_imu, imu_mount=host_mount)
        await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=104)
        while acq.imu.end_sample < 104:
            await asyncio.sleep(0.05)
        session = transport.wearable.session
        await acq.close()
        return session

    session = asyncio.run(run())
    acc = np.concatenate(got, axis=1)[:, :104]
    # Standing still at the start: the body model's own body-axis accelerometer is ~(0, 0, 1) g.
    truth = np.asarray(session.acc_g)[:, :104]
    assert np.allclose(truth.mean(axis=1), [0, 0, 1], atol=0.05)
    assert np.allclose(acc.mean(axis=1), truth.mean(axis=1), atol=0.05) == agree
