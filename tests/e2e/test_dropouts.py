"""Repeated BLE dropouts end to end: nothing lost inside the RAM window, exact gaps beyond it.

The virtual wearable is carried out of the host's range several times (the radio drops
the link and neither side hears the other for a set time of the wearable's clock). It
keeps sampling into its RAM rings meanwhile; the `Acquisition` reconnects with back-off
and asks for what it missed with RESEND. Dropouts that fit in the backfill window
(config.BACKFILL_WINDOW_MS, 4 s at 3 channels x 2 kHz and for the IMU at 208 Hz) must
leave no missing sample at all. One dropout longer than the window must leave, per
stream, exactly one gap, whose samples are exactly those the wearable's ring no longer
held when the host asked for them; every sample present equals what the body presented.
"""
import asyncio

import numpy as np
import pytest

from glutescope.acquisition import Acquisition
from glutescope.transports.virtual import VirtualTransport

from virtual_checks import (LOST_ON_WEARABLE, ResendLog, assert_equal_to_truth, firmware_app, missing, settled,
                            wait_samples)

pytestmark = pytest.mark.slow

EMG_FS_HZ = 2000
IMU_FS_HZ = 208
CHANNEL_MASK = 0b111  # 3 channels: the ring's 24000 values hold exactly the 4 s window
SPEED = 4.0
INSIDE_WINDOW_S = (0.2, 0.5, 1.0, 2.0)  # device seconds out of range, plus ~1 s to reconnect
BEYOND_WINDOW_S = 5.5
BETWEEN_S = 0.5  # device seconds of streaming between dropouts


async def _scenario():
    transport = VirtualTransport(exercise="bridges", seed=21, speed=SPEED)
    links = []
    acq = Acquisition(transport, on_link_change=links.append)
    info = await acq.open(emg_fs_hz=EMG_FS_HZ, channel_mask=CHANNEL_MASK, imu_fs_hz=IMU_FS_HZ)
    wearable = transport.wearable
    log = ResendLog(firmware_app())
    per_dropout = []
    try:
        await wait_samples(acq, int(BETWEEN_S * EMG_FS_HZ))
        for out_s in INSIDE_WINDOW_S + (BEYOND_WINDOW_S,):
            before = (len(log.entries), acq.counters.reconnects)
            assert wearable.go_out_of_range(out_s) == 1
            await asyncio.sleep(wearable.clock.host_seconds(out_s))
            await settled(acq)
            per_dropout.append((out_s, before, acq.counters.reconnects))
            await wait_samples(acq, acq.emg.end_sample + int(BETWEEN_S * EMG_FS_HZ))
    finally:
        await acq.close()
    emg, imu = acq.emg.current(), acq.imu.current()
    truth = (wearable.true_emg_codes(0, emg.n_samples), wearable.true_imu_lsb(0, imu.n_samples))
    return acq, info, links, log, per_dropout, emg, imu, truth, log.wearable.acq.lost_samples


def test_dropouts_inside_the_window_lose_nothing_and_beyond_it_leave_exact_gaps():
    acq, info, links, log, per_dropout, emg, imu, (emg_truth, imu_truth), lost_on_wearable = asyncio.run(
        asyncio.wait_for(_scenario(), 240))
    n_drops = len(INSIDE_WINDOW_S) + 1
    assert info.backfill_window_ms == 4000
    assert acq.counters.disconnects == n_drops and acq.counters.reconnects == n_drops
    assert links == ["lost", "back"] * n_drops
    for out_s, (_, reconnects_before), reconnects_after in per_dropout:
        assert reconnects_after == reconnects_before + 1, f"the {out_s} s dropout took more than one reconnection"
    assert acq.counters.corrupt_frames == 0
    assert len(acq.emg.segments()) == 1 and len(acq.imu.segments()) == 1

    # Every sample present is the one the body presented (ADC2 is unwired: mid-rail).
    # (but for samples the wearable itself lost, each within the firmware's own count)
    assert assert_equal_to_truth(emg, emg_truth, 0x0FFF) <= lost_on_wearable
    ch2 = emg.samples[2][emg.valid_mask()]
    assert np.all((ch2 == 2048) | (ch2 == LOST_ON_WEARABLE))
    assert assert_equal_to_truth(imu, imu_truth) <= log.wearable.imu.lost_samples

    for stream, segment, fs_hz in ((0, emg, EMG_FS_HZ), (1, imu, IMU_FS_HZ)):
        # Only the long dropout left a gap, and only one.
        assert len(segment.gaps) == 1, segment.gaps
        gap = segment.gaps[0]
        g0, g1 = gap.first_sample, gap.first_sample + gap.n_samples
        window = info.backfill_window_ms * fs_hz // 1000
        # The ring lost at least what the outage exceeded the window by, and no more than
        # a few seconds of reconnecting on top.
        assert (BEYOND_WINDOW_S * fs_hz - window) <= gap.n_samples <= (BEYOND_WINDOW_S + 3) * fs_hz - window
        # Exactly the samples the ring no longer held: the host asked for the whole gap
        # and the wearable resent from its oldest sample on (g1, which arrived) ...
        asked = [e for e in log.accepted(stream) if e[1] <= g0 and e[1] + e[2] > g1]
        assert asked and asked[-1][3] <= g1, asked
        # ... then asked for the rest, which was all gone: the ring's oldest was past it.
        assert [(first, n) for _, first, n, oldest, _, _ in log.refused(stream) if oldest >= g1] == [(g0, g1 - g0)]
        # The host's account of what is lost is the gap, counted once.
        lost = [(first, n) for name, first, n in acq.counters.unrecoverable if name == ("EMG", "IMU")[stream]]
        assert sum(n for _, n in lost) == gap.n_samples == missing(segment).size
    assert emg.n_backfilled > sum(INSIDE_WINDOW_S) * EMG_FS_HZ
