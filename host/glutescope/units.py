"""Wire codes to physical units: EMG ADC words to µV, IMU LSB to g and °/s, and the ADC
scale a device's INFO states.

The scale factors come from the wearable's INFO frame (`glutescope.protocol.DeviceInfo`);
the bit layout of the words is the wire protocol's (``firmware/PROTOCOL.md``).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from glutescope.protocol import _IMU_AXES, _SAMPLE_CODE_MASK, _SAMPLE_ERROR_BIT, IMU_LOST_SAMPLE, DeviceInfo
from glutesignal.quality import AdcScale

__all__ = ["codes_to_uV", "imu_to_si", "adc_scale"]


def codes_to_uV(codes: np.ndarray, info: DeviceInfo) -> np.ndarray:
    """Convert raw EMG ADC words to µV at the electrodes.

    ``emg_uV = (code - 2048) * vref_mV / 4096 * 1000 / emg_gain``: the analog front end
    centres its output at mid-rail (PROTOCOL.md, EMG block).

    Parameters
    ----------
    codes : array_like of int
        Raw words as in :attr:`EmgBlock.samples`, any shape. A word with bit 15 set has
        no value (the ADC flagged a conversion error, or the wearable lost the sample and
        sent code 0 with the flag): it converts to NaN. The reserved bits are masked off,
        leaving the 12-bit code.
    info : DeviceInfo
        Gives ``vref_mV`` and ``emg_gain``.

    Returns
    -------
    numpy.ndarray
        float64, same shape as ``codes``, in µV; NaN where bit 15 is set.
    """
    if not (info.vref_mV > 0):
        raise ValueError(f"info.vref_mV must be > 0, got {info.vref_mV}")
    if not (math.isfinite(info.emg_gain) and info.emg_gain > 0):
        raise ValueError(f"info.emg_gain must be a finite number > 0, got {info.emg_gain}")
    words = np.asarray(codes).astype(np.int64)
    code = words & _SAMPLE_CODE_MASK
    uV_per_code = info.vref_mV / 4096.0 * 1000.0 / info.emg_gain
    out = (code - 2048).astype(np.float64) * uV_per_code
    out[(words & _SAMPLE_ERROR_BIT) != 0] = np.nan
    return out


def imu_to_si(raw: np.ndarray, info: DeviceInfo) -> tuple[np.ndarray, np.ndarray]:
    """Scale raw IMU readings to acceleration in g and angular rate in °/s.

    Parameters
    ----------
    raw : array_like of int16, shape (6, n_samples)
        Rows ax, ay, az, gx, gy, gz in LSB, as in :attr:`ImuBlock.samples`.
    info : DeviceInfo
        Gives ``acc_g_per_lsb`` and ``gyro_dps_per_lsb``.

    Returns
    -------
    acc_g : numpy.ndarray, shape (3, n_samples)
        Acceleration in g (float64); NaN for a sample the wearable lost (all six words
        -32768: its FIFO dropped it, PROTOCOL.md, IMU block).
    gyro_dps : numpy.ndarray, shape (3, n_samples)
        Angular rate in degrees per second (float64); NaN where ``acc_g`` is.
    """
    a = np.asarray(raw)
    if a.ndim != 2 or a.shape[0] != _IMU_AXES:
        raise ValueError(f"raw must have shape (6, n_samples), got {a.shape}")
    for field in ("acc_g_per_lsb", "gyro_dps_per_lsb"):
        value = getattr(info, field)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"info.{field} must be a finite number > 0, got {value}")
    f = a.astype(np.float64)
    f[:, np.all(a == IMU_LOST_SAMPLE, axis=0)] = np.nan
    return f[:3] * info.acc_g_per_lsb, f[3:] * info.gyro_dps_per_lsb


def adc_scale(info) -> Optional[AdcScale]:
    """The ADC scale a device's INFO states (None when it states no usable one)."""
    try:
        return AdcScale.from_device(info.vref_mV, info.emg_gain)
    except (TypeError, ValueError, AttributeError):
        return None
