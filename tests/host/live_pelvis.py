"""The pelvis angles the live view showed for a recording's IMU: a `LiveProcessor` fed
its blocks as they arrived (split at the frames' first samples), read from its ring.
A reference for what the analysis and the exports give from the recording."""
import numpy as np

from glutescope.analysis import channel_names
from glutescope.live import LiveProcessor
from glutescope.mounting import recorded_mount, to_body_axes
from glutescope.units import imu_to_si


def live_pelvis_deg(rec, segment: int = 0) -> np.ndarray:
    """Tilt, obliquity, rotation, degrees, float32 (3, n_imu); NaN where none was shown."""
    info, imu = rec.device_info, rec.imu[segment]
    proc = LiveProcessor(channel_names(rec), float(info.emg_fs_hz), float(info.imu_fs_hz))
    out = np.full((3, imu.n_samples), np.nan, np.float32)
    starts = np.unique(imu.anchors[0])
    for a, b in imu.valid_runs():
        cuts = [a, *starts[(starts > a) & (starts < b)].tolist(), b]
        for i0, i1 in zip(cuts[:-1], cuts[1:]):
            acc_g, gyro_dps = to_body_axes(*imu_to_si(imu.samples[:, i0:i1], info), recorded_mount(rec.meta))
            proc.push_imu(i0, acc_g, gyro_dps)
            out[:, i0:i1] = proc.state.pelvis.latest(i1 - i0)
    return out
