"""Wire codes to physical units against known answers (`glutescope.units`)."""

from __future__ import annotations

import numpy as np
import pytest

import wirepack_v1 as pack
from glutescope import protocol as p
from glutescope import units


def test_codes_to_uV_known_answer():
    info = p.decode_frame(pack.info(vref_mV=3300, emg_gain=1000.0))
    # Mid-rail is 0 µV; one code is 3300 mV / 4096 / 1000 * 1000 µV/mV.
    # A word with the error bit has no value: the wearable's lost sample (0x8000, code 0
    # with the flag) must not read as -2048 codes, a full-scale spike.
    got = units.codes_to_uV(np.array([[2048, 2049, 0, 4095, 0x8000 | 2049, 0x8000]]), info)
    lsb = 3300 / 4096
    np.testing.assert_allclose(got, [[0.0, lsb, -2048 * lsb, 2047 * lsb, np.nan, np.nan]])


def test_imu_to_si_known_answer():
    info = p.decode_frame(pack.info(acc_g_per_lsb=0.000122, gyro_dps_per_lsb=0.0175))
    raw = np.array([[8197], [0], [-8197], [1000], [-1000], [0]], dtype=np.int16)
    acc_g, gyro_dps = units.imu_to_si(raw, info)
    np.testing.assert_allclose(acc_g[:, 0], [8197 * np.float32(0.000122), 0, -8197 * np.float32(0.000122)])
    np.testing.assert_allclose(gyro_dps[:, 0], [17.5, -17.5, 0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"raw must have shape \(6, n_samples\)"):
        units.imu_to_si(raw[:3], info)
