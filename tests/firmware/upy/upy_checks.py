# Runs inside a real MicroPython interpreter (see run.mjs): the firmware's pure
# modules against the golden vectors. Plain asserts, MicroPython-compatible Python.
import json
import struct
from binascii import hexlify, unhexlify

from glutefw import cobs, control, frames

with open("/vectors.json") as f:
    VECTORS = json.load(f)

_AXES = ("ax", "ay", "az", "gx", "gy", "gz")


def u16_sample_major(rows):
    n_ch = len(rows)
    out = bytearray(2 * n_ch * len(rows[0]))
    k = 0
    for s in range(len(rows[0])):
        for c in range(n_ch):
            struct.pack_into("<H", out, k, rows[c][s])
            k += 2
    return out


def i16_sample_major(rows):
    out = bytearray(12 * len(rows[0]))
    k = 0
    for s in range(len(rows[0])):
        for a in range(6):
            struct.pack_into("<h", out, k, rows[a][s])
            k += 2
    return out


def pack(vector):
    h = vector["header"]
    p = vector["payload"]
    packer = frames.FramePacker(1024, h["seq"])
    t = h["t_device_us"]
    kind = h["type_name"]
    if kind == "EMG":
        return packer.pack_emg(t, p["first_sample"], p["n_channels"], p["n_samples"], p["channel_mask"],
                               p["flags"], u16_sample_major(p["samples"]))
    if kind == "IMU":
        return packer.pack_imu(t, p["first_sample"], p["n_samples"], p["flags"], i16_sample_major(p["samples"]))
    if kind == "STATUS":
        return packer.pack_status(t, p["battery_mV"], p["battery_pct"], p["state"], p["emg_overruns"],
                                  p["saturated_samples"], p["notify_backoffs"], p["ring_drops"],
                                  p["free_heap_bytes"], p["heap_waits"], p["notify_memory_errors"],
                                  p["commands_refused"], p["commands_lost"], p["battery_age_ms"],
                                  p["free_heap_min_bytes"])
    if kind == "RESPONSE":
        if "host_time" in p:
            return packer.pack_ping_response(t, p["opcode"], p["token"], p["host_time"], p["device_time_us"])
        return packer.pack_response(t, p["opcode"], p["token"], p["code"])
    if kind == "EVENT":
        return packer.pack_event(t, p["code"], p["emg_sample"])
    if kind == "INFO":
        payload = frames.info_payload(
            (p["fw_major"], p["fw_minor"], p["fw_patch"]), p["adc_channels_available"], p["channel_mask"],
            p["emg_fs_hz"], p["imu_fs_hz"], p["vref_mV"], p["emg_gain"], p["acc_g_per_lsb"],
            p["gyro_dps_per_lsb"], p["backfill_window_ms"], p["name"])
        return packer.pack_info(t, payload)
    raise AssertionError("unknown frame type " + kind)


checked = 0
for v in VECTORS["frames"]:
    got = hexlify(bytes(pack(v))).decode()
    assert got == v["hex"], "frame vector %s: packer gives %s, vector says %s" % (v["name"], got, v["hex"])
    raw = unhexlify(v["hex"])
    enc = bytearray(cobs.max_encoded_len(len(raw)) + 1)
    n = cobs.encode(raw, len(raw), enc)
    usb = hexlify(bytes(enc[:n])).decode() + "00"
    assert usb == v["usb_hex"], "COBS of %s: %s, vector says %s" % (v["name"], usb, v["usb_hex"])
    dec = bytearray(len(raw) + 2)
    m = cobs.decode(enc, n, dec)
    assert bytes(dec[:m]) == raw, "COBS round trip of %s" % v["name"]
    checked += 1

cmd = control.Command()
for v in VECTORS["commands"]:
    data = unhexlify(v["hex"])
    code = control.parse(data, len(data), cmd, (500, 1000, 1500, 2000), (0, 104, 208), 0b111, 4)
    assert code == v["expect_code"], "command %s: parse answers %d, vector expects %d" % (
        v["name"], code, v["expect_code"])
    assert cmd.opcode == v["fields"]["opcode"] and cmd.token == v["fields"]["token"], v["name"]
    checked += 1

print("micropython", ".".join(str(x) for x in __import__("sys").implementation.version[:3]),
      "checked", checked, "vectors")
