"""The firmware's packer reproduces every golden frame of protocol v1 byte for byte."""
import struct
import zlib

import pytest

from glutefw import cobs, config, frames
from conftest import VECTORS
import json

FRAME_VECTORS = json.loads(VECTORS.read_text(encoding="utf-8"))["frames"]


def _pack(packer, v):
    h, p = v["header"], v["payload"]
    packer.seq = h["seq"]
    t = h["t_device_us"]
    kind = h["type_name"]
    if kind == "EMG":
        by_channel = p["samples"]
        words = [by_channel[c][s] for s in range(p["n_samples"]) for c in range(p["n_channels"])]
        raw = struct.pack("<%dH" % len(words), *words)
        return packer.pack_emg(t, p["first_sample"], p["n_channels"], p["n_samples"],
                               p["channel_mask"], p["flags"], memoryview(raw))
    if kind == "IMU":
        rows = list(zip(*p["samples"]))
        raw = b"".join(struct.pack("<6h", *r) for r in rows)
        return packer.pack_imu(t, p["first_sample"], p["n_samples"], p["flags"], memoryview(raw))
    if kind == "STATUS":
        return packer.pack_status(t, p["battery_mV"], p["battery_pct"], p["state"],
                                  p["emg_overruns"], p["saturated_samples"],
                                  p["notify_backoffs"], p["ring_drops"], p["free_heap_bytes"],
                                  p["heap_waits"], p["notify_memory_errors"],
                                  p["commands_refused"], p["commands_lost"],
                                  p["battery_age_ms"], p["free_heap_min_bytes"])
    if kind == "RESPONSE":
        if "host_time" in p:
            return packer.pack_ping_response(t, p["opcode"], p["token"], p["host_time"],
                                             p["device_time_us"])
        return packer.pack_response(t, p["opcode"], p["token"], p["code"])
    if kind == "EVENT":
        return packer.pack_event(t, p["code"], p["emg_sample"])
    if kind == "INFO":
        payload = frames.info_payload(
            (p["fw_major"], p["fw_minor"], p["fw_patch"]), p["adc_channels_available"],
            p["channel_mask"], p["emg_fs_hz"], p["imu_fs_hz"], p["vref_mV"], p["emg_gain"],
            p["acc_g_per_lsb"], p["gyro_dps_per_lsb"], p["backfill_window_ms"], p["name"])
        return packer.pack_info(t, payload)
    raise AssertionError(kind)


@pytest.mark.parametrize("v", FRAME_VECTORS, ids=[v["name"] for v in FRAME_VECTORS])
def test_packer_matches_golden_vector(v):
    packer = frames.FramePacker(config.USB_FRAME_MAX)
    out = bytes(_pack(packer, v))
    assert out.hex() == v["hex"]
    assert packer.seq == (v["header"]["seq"] + 1) % 2**32


@pytest.mark.parametrize("v", FRAME_VECTORS, ids=[v["name"] for v in FRAME_VECTORS])
def test_usb_encoding_matches_golden_vector(v):
    raw = bytes.fromhex(v["hex"])
    dst = bytearray(cobs.max_encoded_len(len(raw)))
    n = cobs.encode(raw, len(raw), dst)
    assert (bytes(dst[:n]) + b"\x00").hex() == v["usb_hex"]


def test_every_frame_type_has_a_vector():
    kinds = {v["header"]["type_name"] for v in FRAME_VECTORS}
    assert kinds == {"EMG", "IMU", "STATUS", "RESPONSE", "EVENT", "INFO"}


def test_max_emg_frame_fills_a_244_byte_notification():
    v = next(v for v in FRAME_VECTORS if v["name"] == "emg_max_payload_244_3ch")
    assert frames.emg_samples_per_frame(244, 3) == v["payload"]["n_samples"] == 36
    assert len(bytes.fromhex(v["hex"])) <= 244
    assert frames.emg_samples_per_frame(244, 3 + 1) * 8 + 24 <= 244


def test_seq_wraps_to_zero_after_2_32_minus_1():
    packer = frames.FramePacker(64, seq=2**32 - 1)
    packer.pack_response(0, 1, 0, 0)
    out = bytes(packer.pack_response(0, 1, 0, 0))
    assert struct.unpack_from("<I", out, 4)[0] == 0


def test_crc_covers_header_and_payload():
    packer = frames.FramePacker(64)
    out = bytes(packer.pack_event(5, 7, 9))
    assert struct.unpack_from("<I", out, len(out) - 4)[0] == zlib.crc32(out[:-4])


def test_emg_samples_copied_from_ring_view_without_intermediate_bytes():
    packer = frames.FramePacker(256)
    view = packer.samples_view()
    view[:4] = struct.pack("<2H", 0x0123, 0x8FFF)
    out = bytes(packer.finish_emg(0, 5, 2, 1, 0b11, frames.FLAG_ADC_ERROR))
    assert out[20:24] == struct.pack("<2H", 0x0123, 0x8FFF)
    assert out[12:20] == struct.pack("<IBBBB", 5, 2, 1, 3, 2)


def test_info_name_longer_than_255_bytes_is_refused():
    with pytest.raises(ValueError, match="device name is 300 bytes"):
        frames.info_payload((0, 1, 0), 7, 0, 2000, 104, 3300, 1000.0, 1e-4, 1e-2, 4000, "x" * 300)


def test_standalone_info_frame_does_not_advance_a_stream():
    payload = frames.info_payload((0, 1, 0), 7, 0, 2000, 104, 3300, 1000.0, 1e-4, 1e-2, 4000, "g")
    out = frames.standalone_info_frame(payload)
    assert out[1] == frames.INFO and struct.unpack_from("<I", out, 4)[0] == 0
    assert len(out) == frames.OVERHEAD + frames.INFO_FIXED_LEN + 1
