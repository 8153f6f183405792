"""Shared pieces of the end-to-end link tests: waiting on an acquisition, the truth, a RESEND log.

Not a test module: the tests in this folder import it.
"""
import asyncio
import sys

import numpy as np

from glutescope.stream import Segment


async def wait_until(predicate, timeout_s, what):
    """Poll ``predicate()`` every 10 ms until true; fail naming ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        await asyncio.sleep(0.01)


async def wait_samples(acq, n, timeout_s=20.0):
    """Wait until the current EMG segment reaches sample ``n``."""
    await wait_until(lambda: acq.emg.end_sample >= n, timeout_s, f"EMG sample {n} arriving")


async def settled(acq, timeout_s=30.0):
    """Wait until the link is up and the backfill after the last loss is over."""
    await wait_until(lambda: acq.transport.connected and not acq.recovering, timeout_s,
                     "reconnection and backfill")


def firmware_app():
    """The firmware's running ``Wearable`` (the app keeps it for inspection)."""
    return sys.modules["glutefw.app"].wearable


class ResendLog:
    """Records every RESEND the firmware handles: what it was asked, what its ring held, the code.

    It observes the firmware's own handler (the call goes through unchanged), so a test can
    say which samples the wearable no longer held at the moment the host asked.
    """

    def __init__(self, wearable):
        self.wearable = wearable
        self.entries = []  # (stream, first_sample, n_samples, ring_oldest, ring_head, code)
        handler = wearable._resend

        def logged(cmd):
            ring = wearable.emg_ring if cmd.stream == 0 else wearable.imu_ring
            oldest, head = ring.oldest, ring.head
            code = handler(cmd)
            self.entries.append((cmd.stream, cmd.first_sample, cmd.n_samples, oldest, head, code))
            return code

        wearable._resend = logged

    def refused(self, stream):
        return [e for e in self.entries if e[0] == stream and e[5] == 6]

    def accepted(self, stream):
        return [e for e in self.entries if e[0] == stream and e[5] == 0]


def missing(segment: Segment) -> np.ndarray:
    """Indices of the samples missing in ``segment``."""
    return np.flatnonzero(~segment.valid_mask())


LOST_ON_WEARABLE = 0x8000  # what the firmware sends for a sample its DMA overwrote
IMU_LOST_ON_WEARABLE = -32768  # ... and for an IMU sample its sensor's full FIFO dropped


def assert_equal_to_truth(segment: Segment, truth: np.ndarray, mask_bits: int = 0xFFFF) -> int:
    """Every sample present in ``segment`` equals ``truth`` (rows beyond the truth's are ignored).

    Samples the wearable itself lost (EMG: every channel ``LOST_ON_WEARABLE``, counted by
    the firmware as ``lost_samples``; IMU: every axis ``IMU_LOST_ON_WEARABLE``, counted as
    the IMU driver's ``lost_samples``) carry no value and are left out; the number of them
    is returned, for the caller to check against the firmware's own count (some of
    those may fall in a gap, so it is an upper bound). On this
    machine they happen when the host starves the firmware's event loop, as a stalled
    loop would on the board.
    """
    n = min(segment.n_samples, truth.shape[1])
    valid = segment.valid_mask()[:n]
    words = segment.samples[: truth.shape[0], :n]
    # EMG: code 0 with the error bit; IMU: every axis -32768 (PROTOCOL.md).
    lost_word = LOST_ON_WEARABLE if mask_bits != 0xFFFF else IMU_LOST_ON_WEARABLE
    lost = valid & np.all(words == lost_word, axis=0)
    got = words & mask_bits if mask_bits != 0xFFFF else words
    bad = np.flatnonzero(valid & ~lost & np.any(got != truth[:, :n], axis=0))
    assert bad.size == 0, f"{bad.size} samples differ from the truth, first at index {bad[:5]}"
    return int(lost.sum())
