"""Recordings of body-model sessions (`glutesignal.simulation`) with a chosen body.

``glutescope record`` on the virtual wearable plays the body model's defaults; the
history tests need one person over several sessions whose left glute improves, so
each session's sensors are quantised here as a wearable's ADC and IMU would
(12-bit words at the INFO's scale, int16 IMU LSB), packed into protocol v1 frames
by the tests' own packer, and written with the project's `RecordingWriter` as a
real wearable's notifications. The analysis then reads them like any recording.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import wirepack_v1 as pack
from glutescope import protocol
from glutescope.recording import RecordingWriter, RecordSource

VREF_MV = 3300
EMG_GAIN = 1000.0
ACC_G_PER_LSB = 0.000122
GYRO_DPS_PER_LSB = 0.0175
EMG_BLOCK = 40
IMU_BLOCK = 4
T0_NS = 1_700_000_000_000_000_000


def uV_to_codes(emg_uV: np.ndarray) -> np.ndarray:
    """What the 12-bit ADC reads for ``emg_uV`` at the electrodes (mid-rail 2048, clipped)."""
    uV_per_code = VREF_MV / 4096.0 * 1000.0 / EMG_GAIN
    return np.clip(np.rint(emg_uV / uV_per_code) + 2048, 0, 4095).astype(np.uint16)


def write_body_recording(path: Path, body, *, subject: str, start_time: str, exercise: str | None = None,
                         cued: bool = False, protocol_record: dict | None = None) -> Path:
    """``body`` (a `BodySession`) as the recording a wearable streaming it would leave.

    ``start_time``: the ISO 8601 start stored in ``meta.json`` (the session's date).
    ``cued``: store the script's cues (squeeze test, calibration holds) as the guided
    session stores the cues it showed. ``protocol_record``: the protocol record a guided session
    stores (`glutescope.protocols.runner.ProtocolRunner.to_record`).
    """
    n_ch = len(body.channels)
    fs, ifs = int(body.emg_fs_hz), int(body.imu_fs_hz)
    codes = uV_to_codes(np.asarray(body.emg_uV))
    imu = np.vstack([np.asarray(body.acc_g) / ACC_G_PER_LSB, np.asarray(body.gyro_dps) / GYRO_DPS_PER_LSB])
    imu = np.clip(np.rint(imu), -32768, 32767).astype(np.int16)
    seq = iter(range(1 << 30))
    info = pack.info(channel_mask=(1 << n_ch) - 1, emg_fs_hz=fs, imu_fs_hz=ifs, vref_mV=VREF_MV,
                     emg_gain=EMG_GAIN, acc_g_per_lsb=ACC_G_PER_LSB, gyro_dps_per_lsb=GYRO_DPS_PER_LSB,
                     seq=next(seq))
    with RecordingWriter(path, subject=subject) as w:
        w.append(protocol.encode_start(1, fs, (1 << n_ch) - 1, ifs), T0_NS, source=RecordSource.BLE_NOTIFY,
                 host_to_device=True)
        w.append(pack.response(protocol.Opcode.START, 1, 0, seq=next(seq)), T0_NS, source=RecordSource.BLE_NOTIFY)
        w.append(info, T0_NS, source=RecordSource.BLE_READ)
        w.set_device_info(protocol.decode_frame(info), channel_names=body.channels)
        cues = [{"start_s": p.start_s, "end_s": p.end_s, "name": p.name, "side": p.side} for p in body.phases]
        w.set_session_plan(exercise=exercise or body.exercise, squeeze_cues=cues if cued else ())
        if protocol_record is not None:
            w.set_protocol(protocol_record)
        j = 0
        for a in range(0, codes.shape[1], EMG_BLOCK):
            b = min(a + EMG_BLOCK, codes.shape[1])
            while j < imu.shape[1] and j / ifs < b / fs:
                k = min(j + IMU_BLOCK, imu.shape[1])
                t_us = int(round(j * 1e6 / ifs))
                w.append(pack.imu(imu[:, j:k], first_sample=j, seq=next(seq), t_device_us=t_us),
                         T0_NS + t_us * 1000 + 5_000_000, source=RecordSource.BLE_NOTIFY)
                j = k
            t_us = int(round(a * 1e6 / fs))
            w.append(pack.emg(codes[:, a:b], first_sample=a, seq=next(seq), t_device_us=t_us),
                     T0_NS + t_us * 1000 + 5_000_000, source=RecordSource.BLE_NOTIFY)
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["start_time"] = start_time  # the session's own day, not the day the test ran
    meta_path.write_text(json.dumps(meta))
    return path
