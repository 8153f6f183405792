"""Body-model people of known truth doing a protocol, fed through the live processor."""
from __future__ import annotations

import numpy as np

from glutescope.calibration import Calibration
from glutescope.live import LiveProcessor
from glutescope.protocols import get
from glutescope.protocols.runner import runner_for
from glutesignal.simulation import simulate


def truth_calibration(body) -> Calibration:
    """Each glute's reference as the body model defines it: a 90 %MVC hold (its calibration
    script's level), in µV as that side's electrodes see it."""
    ref = tuple(float(0.9 * body.mvc_uV[body.channel_index(f"glute_max_{s}")]) for s in ("left", "right"))
    return Calibration(ref, ((ref[0],), (ref[1],)), (float("nan"),) * 2, (True, True), "body-model truth")


def feed(proc, body, block: int = 40, imu_block: int = 4) -> None:
    """Push the body's EMG in ``block``-sample blocks, each preceded by the IMU blocks due by
    its end (as the wearable interleaves them)."""
    fs, ifs = body.emg_fs_hz, body.imu_fs_hz
    n, n_imu = body.emg_uV.shape[1], body.acc_g.shape[1]
    k = 0
    for a in range(0, n, block):
        b = min(n, a + block)
        while k < n_imu and k / ifs < b / fs:
            j = min(n_imu, k + imu_block)
            proc.push_imu(k, body.acc_g[:, k:j], body.gyro_dps[:, k:j])
            k = j
        proc.push_emg(a, body.emg_uV[:, a:b])


def run_protocol(name: str, *, calibrated: bool = True, block: int = 40, channels=None, rows=None, **body_kw):
    """Run protocol ``name`` on a body-model person; return (runner, processor, body).

    ``rows``: reorder the body's channels before they reach the processor (a planted
    swap of electrodes), names staying in ``channels`` order.
    """
    protocol = get(name)
    channels = tuple(channels or protocol.channels)
    exercise = protocol.body_exercise or "rest"
    script = simulate(exercise, emg_fs_hz=200.0, mains_hz=None, channels=channels, **body_kw)
    runner = runner_for(protocol, script)
    body = simulate(exercise, channels=channels, duration_s=runner.end_s + protocol.settle_s + 1.0, **body_kw)
    if rows is not None:
        body = _reorder(body, rows)
    proc = LiveProcessor(channels, body.emg_fs_hz, body.imu_fs_hz, runner=runner,
                         calibration=truth_calibration(body) if calibrated else None)
    feed(proc, body, block)
    return runner, proc, body


class _Reordered:
    def __init__(self, body, rows):
        self.__dict__.update({k: getattr(body, k) for k in ("emg_fs_hz", "imu_fs_hz", "acc_g", "gyro_dps",
                                                              "mvc_uV", "channels")})
        self.emg_uV = np.asarray(body.emg_uV)[list(rows)]
        self.channel_index = body.channel_index


def _reorder(body, rows):
    return _Reordered(body, rows)
