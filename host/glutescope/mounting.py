"""How the IMU breakout sits on the sacrum, and its axes turned into the body's.

The wire protocol carries the sensor's own axes. The signal core wants body axes:
x forward, y left, z up when standing (firmware/PROTOCOL.md). Which rotation takes one
to the other depends only on how the breakout is strapped on, so it is a property of
the session (kept in the recording's meta.json), applied on the host: a recording keeps
the raw axes and can be re-read with a corrected mount, without reflashing anything.

Mounts (see hardware/electrode-placement.md for the figure):

- ``upright``: the breakout stands off the skin with its x axis forward, y left, z up
  (the protocol's reference; sensor axes are body axes).
- ``flat``: the breakout lies flat on the sacrum, components facing out, its x axis
  (the arrow printed on Adafruit and SparkFun boards) pointing up the spine. Sensor x
  is then body up, sensor y body left, and sensor z points backwards.
"""
from __future__ import annotations

import numpy as np

# body = R @ sensor, per mount; each R is a proper rotation (det +1).
MOUNTS: dict[str, np.ndarray] = {
    "upright": np.eye(3),
    "flat": np.array([[0.0, 0.0, -1.0],   # body forward = -sensor z
                      [0.0, 1.0, 0.0],    # body left = sensor y
                      [1.0, 0.0, 0.0]]),  # body up = sensor x
}
DEFAULT_MOUNT = "upright"


def rotation(mount: str) -> np.ndarray:
    """The 3x3 rotation taking sensor axes to body axes for ``mount``."""
    try:
        return MOUNTS[mount]
    except KeyError:
        raise ValueError(f"imu mount must be one of {sorted(MOUNTS)}, got {mount!r}") from None


def to_body_axes(acc_g: np.ndarray, gyro_dps: np.ndarray, mount: str) -> tuple[np.ndarray, np.ndarray]:
    """Rotate accelerometer (g) and gyroscope (deg/s) samples, each (3, n), into body axes."""
    r = rotation(mount)
    if mount == DEFAULT_MOUNT:
        return acc_g, gyro_dps
    return r @ acc_g, r @ gyro_dps


def to_sensor_axes(acc_g: np.ndarray, gyro_dps: np.ndarray, mount: str) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of `to_body_axes` (what a sensor mounted so would measure)."""
    r = rotation(mount).T
    return r @ acc_g, r @ gyro_dps


def recorded_mount(meta: dict) -> str:
    """The mount a recording's ``meta.json`` names (recordings before mounts: upright)."""
    mount = (meta or {}).get("imu_mount", DEFAULT_MOUNT)
    return mount if mount in MOUNTS else DEFAULT_MOUNT
