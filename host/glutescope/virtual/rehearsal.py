"""A body-model person doing a protocol, fed straight into the live processor (no radio).

For the screenshots and the offscreen window tests: the same `LiveProcessor` and
`ProtocolRunner` a live session uses, fed the body model's EMG and IMU block by block on
the stream clock, interleaved as the wearable sends them. What the link adds (frames,
loss, delay) is not here: the end-to-end tests run the virtual wearable for that.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable, Optional

import numpy as np

from glutescope.calibration import Calibration
from glutescope.live import LiveProcessor
from glutescope.protocols import get
from glutescope.protocols.base import with_target
from glutescope.protocols.runner import ProtocolRunner, runner_for
from glutesignal.simulation import simulate, simulate_blocks

__all__ = ["truth_calibration", "feed", "feed_blocks", "rehearse"]

NO_LINK = "body model fed directly (no radio link)"
"""The status line's link: there are no frames to count here."""


def truth_calibration(body) -> Calibration:
    """Each glute's reference as the body model defines it: a 90 %MVC hold (the level of its
    calibration script), in µV as that side's electrodes see it."""
    ref = tuple(float(0.9 * body.mvc_uV[body.channel_index(f"glute_max_{s}")]) for s in ("left", "right"))
    # Exact by definition: no spread, so the left/right interval adds nothing for it.
    return Calibration(ref, ((ref[0],), (ref[1],)), (0.0, 0.0), (True, True), "body-model truth",
                       ((True,), (True,)))


def feed(proc: LiveProcessor, body, block: int = 40, imu_block: int = 4,
         on_block: Optional[Callable[[float], None]] = None, emg_uV=None, imu_lag_s: float = 0.0) -> None:
    """Push the body's EMG in ``block``-sample blocks, each preceded by the IMU blocks due by
    its end; ``on_block(t_s)`` after each (e.g. to redraw a window).

    ``imu_lag_s``: the IMU arrives this much later than the EMG of the same time, as over a
    radio link whose IMU frames queue behind EMG frames; what is left of it comes at the end.
    """
    emg = np.asarray(body.emg_uV if emg_uV is None else emg_uV)
    fs, ifs = body.emg_fs_hz, body.imu_fs_hz
    n, n_imu = emg.shape[1], body.acc_g.shape[1]
    k = 0
    for a in range(0, n, block):
        b = min(n, a + block)
        while k < n_imu and k / ifs < b / fs - imu_lag_s:
            j = min(n_imu, k + imu_block)
            proc.push_imu(k, body.acc_g[:, k:j], body.gyro_dps[:, k:j])
            k = j
        proc.push_emg(a, emg[:, a:b])
        if on_block is not None:
            on_block(b / fs)
    if k < n_imu:
        proc.push_imu(k, body.acc_g[:, k:], body.gyro_dps[:, k:])


def feed_blocks(proc: LiveProcessor, stream, block: int = 400, imu_block: int = 20) -> None:
    """As `feed`, from a `glutesignal.simulation.BodyStream` generated block by block: a
    session of hours in the memory of one block."""
    fs, ifs = stream.emg_fs_hz, stream.imu_fs_hz
    k = 0  # next IMU sample to push; a block holds the IMU samples of its own time span
    for chunk in stream.blocks():
        emg = np.asarray(chunk.emg_uV)
        imu_end = chunk.imu_start + chunk.acc_g.shape[1]
        for a in range(0, emg.shape[1], block):
            b = min(emg.shape[1], a + block)
            while k < imu_end and k / ifs < (chunk.emg_start + b) / fs:
                i = k - chunk.imu_start
                j = min(chunk.acc_g.shape[1], i + imu_block)
                proc.push_imu(k, chunk.acc_g[:, i:j], chunk.gyro_dps[:, i:j])
                k += j - i
            proc.push_emg(chunk.emg_start + a, emg[:, a:b])


def rehearse(name: str, *, calibrated: bool = True, block: int = 40, channels=None, rows=None,
             on_block: Optional[Callable[[float], None]] = None, prepare: Optional[Callable] = None,
             target_pct=None, remind_every_s: Optional[float] = None, in_blocks: bool = False,
             imu_lag_s: float = 0.0, **body_kw) -> tuple[ProtocolRunner, LiveProcessor, object]:
    """Run protocol ``name`` on a body-model person; return (runner, processor, body).

    ``body_kw`` go to `glutesignal.simulation.simulate` (seed, left_scale, electrode_gain
    ...): the person and their truth. ``rows`` reorders the body's EMG rows before they
    reach the processor (a planted electrode swap; the names stay in ``channels`` order).
    ``prepare(proc)`` runs before the first block (e.g. to open a window on its state).
    ``target_pct``: the person's own target band (`glutescope.protocols.base.with_target`).
    ``remind_every_s``: the desk's sitting time between reminders (default: an hour).
    ``imu_lag_s``: the IMU arrives this much after the EMG of the same time (`feed`).
    ``in_blocks``: generate and feed the body block by block (`feed_blocks`), for sessions
    of hours; ``on_block``, ``prepare`` and ``rows`` are then not used, and the body
    returned is a `glutesignal.simulation.BodyStream` (its truth, no arrays).
    """
    protocol = get(name)
    if target_pct is not None:
        protocol = with_target(protocol, target_pct)
    channels = tuple(channels or protocol.channels)
    exercise = protocol.body_exercise or "rest"
    kw = {} if remind_every_s is None else {"remind_every_s": remind_every_s}
    if in_blocks:
        script = simulate_blocks(exercise, channels=channels, **body_kw)
        runner = runner_for(protocol, script, **kw)
        body = simulate_blocks(exercise, channels=channels, duration_s=runner.end_s + protocol.settle_s + 1.0,
                               **body_kw)
        proc = LiveProcessor(channels, body.emg_fs_hz, body.imu_fs_hz, runner=runner, link=NO_LINK,
                             calibration=truth_calibration(body) if calibrated else None)
        feed_blocks(proc, body, block=block)
        return runner, proc, body
    script = simulate(exercise, emg_fs_hz=200.0, mains_hz=None, channels=channels, **body_kw)
    runner = runner_for(protocol, script, **kw)
    body = simulate(exercise, channels=channels, duration_s=runner.end_s + protocol.settle_s + 1.0, **body_kw)
    proc = LiveProcessor(channels, body.emg_fs_hz, body.imu_fs_hz, runner=runner, link=NO_LINK,
                         calibration=truth_calibration(body) if calibrated else None)
    if prepare is not None:
        prepare(proc)
    emg = np.asarray(body.emg_uV)[list(rows)] if rows is not None else None
    no_frames = SimpleNamespace(frames=0, corrupt_frames=0, lost_frames=0)

    def after_block(t_s: float) -> None:
        # The status line's figures, as a session refreshes them: no frames, no battery.
        proc.update_link(no_frames, None, None)
        if on_block is not None:
            on_block(t_s)

    feed(proc, body, block, on_block=after_block, emg_uV=emg, imu_lag_s=imu_lag_s)
    return runner, proc, body
