"""Damaged, doubled and shuffled frames, and a wearable reset mid-session, over the virtual link.

Faults are injected where the link hands frames to the host: the transport's frame
queue is replaced by one that corrupts (one byte flipped), truncates, duplicates or
swaps chosen live data frames on their way to the `Acquisition`. Corrupt and truncated
frames must be counted, their samples asked for again and recovered; duplicates and
reorders must be absorbed. The recording is then compared sample by sample with what
the body presented. A wearable that resets mid-session (all RAM gone, counters and
clock from 0) must leave the first segment as received and a second segment that
starts at sample 0 and keeps going.
"""
import asyncio
import struct

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports.base import ReceivedFrame
from glutescope.transports.virtual import VirtualTransport

from virtual_checks import assert_equal_to_truth, firmware_app, missing, settled, wait_samples, wait_until

pytestmark = pytest.mark.slow

EMG_FS_HZ = 2000
IMU_FS_HZ = 104
CHANNEL_MASK = 0b011
SPEED = 3.0

# Which live data frame (counted per type from the first) gets which fault.
EMG_FAULTS = {5: "corrupt", 9: "truncate", 14: "duplicate", 20: "reorder", 27: "corrupt",
              33: "truncate", 40: "duplicate", 47: "reorder", 55: "corrupt"}
IMU_FAULTS = {3: "corrupt", 6: "duplicate", 9: "reorder", 12: "truncate"}


class FaultyFrames(asyncio.Queue):
    """The transport's frame queue, damaging chosen live EMG/IMU frames as they are put."""

    def __init__(self, emg_faults, imu_faults):
        super().__init__()
        self.plan = {1: emg_faults, 2: imu_faults}
        self.count = {1: 0, 2: 0}
        self.applied = []  # (frame type, fault, first_sample, n_samples)
        self._held = None

    def put_nowait(self, item):
        data = item.data
        kind = data[1] if len(data) > 1 else 0
        fault = None
        if kind in self.plan and len(data) > 20 and not data[12 + (7 if kind == 1 else 5)] & 1:
            fault = self.plan[kind].get(self.count[kind])
            self.count[kind] += 1
        if fault is not None:
            first = struct.unpack_from("<I", data, 12)[0]
            n = data[17] if kind == 1 else data[16]
            self.applied.append((kind, fault, first, n))
        if fault == "corrupt":
            damaged = bytearray(data)
            damaged[len(data) // 2] ^= 0x5A
            item = ReceivedFrame(item.t_host_ns, bytes(damaged))
        elif fault == "truncate":
            item = ReceivedFrame(item.t_host_ns, data[: len(data) - 7])
        elif fault == "duplicate":
            super().put_nowait(item)
        elif fault == "reorder":
            self._held = item  # delivered right after the next frame
            return
        super().put_nowait(item)
        if self._held is not None and fault != "reorder":
            held, self._held = self._held, None
            super().put_nowait(held)


def _faulted(applied, kind, what):
    return [(first, n) for k, fault, first, n in applied if k == kind and fault in what]


async def _stream_with_faults():
    transport = VirtualTransport(exercise="bridges", seed=8, speed=SPEED)
    transport.frames = FaultyFrames(EMG_FAULTS, IMU_FAULTS)
    acq = Acquisition(transport)
    await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=CHANNEL_MASK, imu_fs_hz=IMU_FS_HZ)
    wearable = transport.wearable
    firmware = firmware_app()
    try:
        await wait_until(lambda: transport.frames.count[1] > max(EMG_FAULTS) + 5
                         and transport.frames.count[2] > max(IMU_FAULTS) + 2, 60, "every planned fault")
        await wait_samples(acq, acq.emg.end_sample + EMG_FS_HZ // 2)
        # The host asks for damaged frames' samples by itself, shortly after each.
        await wait_until(lambda: not acq.emg.gaps() and not acq.imu.gaps(), 20, "the gaps filling")
    finally:
        await acq.close()
    emg, imu = acq.emg.current(), acq.imu.current()
    truth = (wearable.true_emg_codes(0, emg.n_samples), wearable.true_imu_lsb(0, imu.n_samples))
    return acq, transport.frames.applied, emg, imu, truth, firmware


def test_corrupt_truncated_duplicated_reordered_frames_end_in_a_complete_recording():
    acq, applied, emg, imu, (emg_truth, imu_truth), firmware = asyncio.run(
        asyncio.wait_for(_stream_with_faults(), 120))
    damaged_emg = _faulted(applied, 1, ("corrupt", "truncate"))
    damaged_imu = _faulted(applied, 2, ("corrupt", "truncate"))
    assert len(applied) == len(EMG_FAULTS) + len(IMU_FAULTS)

    # Every damaged frame was counted, none was taken for data.
    assert acq.counters.corrupt_frames == len(damaged_emg) + len(damaged_imu)
    # Their samples came back by RESEND, exactly those and no more; nothing is missing.
    assert emg.gaps == () and imu.gaps == ()
    assert emg.n_backfilled == sum(n for _, n in damaged_emg)
    assert imu.n_backfilled == sum(n for _, n in damaged_imu)
    assert acq.counters.unrecoverable == []
    # Duplicates were recognised as such and agreed with the first copy.
    assert emg.n_duplicates >= len(_faulted(applied, 1, ("duplicate",)))
    assert emg.n_conflicts == 0 and imu.n_conflicts == 0
    # One segment throughout: a swapped frame is no restart.
    assert len(acq.emg.segments()) == 1 and len(acq.imu.segments()) == 1
    # And every sample is the one the body presented.
    assert emg.n_samples >= 60 * 40  # 60 frames of 20 ms
    # (but for samples the wearable itself lost, each within the firmware's own count)
    assert assert_equal_to_truth(emg, emg_truth, 0x0FFF) <= firmware.acq.lost_samples
    assert assert_equal_to_truth(imu, imu_truth) <= firmware.imu.lost_samples


async def _reset_mid_session():
    transport = VirtualTransport(exercise="bridges", seed=9, speed=SPEED)
    links = []
    acq = Acquisition(transport, on_link_change=links.append)
    await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=CHANNEL_MASK, imu_fs_hz=IMU_FS_HZ)
    wearable = transport.wearable
    try:
        await wait_samples(acq, EMG_FS_HZ)
        await wearable.reboot()
        await wait_until(lambda: len(acq.emg.segments()) == 2, 30, "a second EMG segment")
        await settled(acq)
        await wait_samples(acq, EMG_FS_HZ)
    finally:
        await acq.close()
    return acq, links, wearable


def test_a_wearable_reset_mid_session_starts_a_new_segment_and_streaming_goes_on():
    acq, links, wearable = asyncio.run(asyncio.wait_for(_reset_mid_session(), 120))
    assert links[:2] == ["lost", "back"]
    assert acq.counters.restarts == 1 and acq.counters.corrupt_frames == 0

    first, second = acq.emg.segments()
    imu_first, imu_second = acq.imu.segments()
    # What arrived before the reset stays as it was; its gaps, if any, are exact.
    assert first.n_samples >= EMG_FS_HZ
    assert_equal_to_truth(first, wearable.true_emg_codes(0, first.n_samples), 0x0FFF)
    assert_equal_to_truth(imu_first, wearable.true_imu_lsb(0, imu_first.n_samples))
    assert missing(first).size == sum(g.n_samples for g in first.gaps)
    # The fresh wearable was started again: indices from 0, the same configuration.
    assert (second.index, second.channel_mask) == (1, CHANNEL_MASK)
    assert second.n_samples >= EMG_FS_HZ and second.gaps == ()
    assert_equal_to_truth(second, wearable.true_emg_codes(0, second.n_samples), 0x0FFF)
    assert imu_second.gaps == () and imu_second.n_samples > 0
    assert_equal_to_truth(imu_second, wearable.true_imu_lsb(0, imu_second.n_samples))
    assert acq.info.channel_mask == CHANNEL_MASK and acq.info.emg_fs_hz == EMG_FS_HZ
    assert np.all(second.samples[:, :10] != 0)
