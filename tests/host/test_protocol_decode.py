"""Host decoder and command encoders against PROTOCOL.md, the golden vectors, and
every way a frame can be damaged."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wirepack_v1 as pack
from glutescope import protocol as p
from glutescope.framing import encode_command_packet, encode_packet

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "protocol_v1.json"


def _vectors():
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def _frame_vectors():
    return [pytest.param(v, id=v["name"]) for v in _vectors()["frames"]]


def _command_vectors():
    # Malformed commands (unknown opcode, wrong length) are the wearable's tests: no
    # host encoder can produce them.
    known = {int(op) for op in p.Opcode}
    return [
        pytest.param(v, id=v["name"])
        for v in _vectors()["commands"]
        if v["fields"]["opcode"] in known and v["expect_code"] != p.ErrorCode.BAD_LENGTH
    ]


# ------------------------------------------------------------------ golden vectors


@pytest.mark.parametrize("vec", _frame_vectors())
def test_golden_frame_decodes_to_its_stated_values(vec):
    f = p.decode_frame(bytes.fromhex(vec["hex"]))
    h, pl = vec["header"], vec["payload"]
    assert p.FrameType[h["type_name"]] == h["type"]
    assert (f.seq, f.t_device_us) == (h["seq"], h["t_device_us"])
    name = h["type_name"]
    if name == "EMG":
        assert isinstance(f, p.EmgBlock)
        assert f.first_sample == pl["first_sample"]
        assert (f.n_channels, f.n_samples) == (pl["n_channels"], pl["n_samples"])
        assert f.channel_mask == pl["channel_mask"]
        assert f.backfill == bool(pl["flags"] & 1)
        assert f.adc_error == bool(pl["flags"] & 2)
        assert f.samples.dtype == np.uint16
        np.testing.assert_array_equal(f.samples, np.array(pl["samples"], dtype=np.uint16))
    elif name == "IMU":
        assert isinstance(f, p.ImuBlock)
        assert (f.first_sample, f.n_samples) == (pl["first_sample"], pl["n_samples"])
        assert f.backfill == bool(pl["flags"] & 1)
        assert f.samples.dtype == np.int16 and f.samples.shape == (6, pl["n_samples"])
        np.testing.assert_array_equal(f.samples, np.array(pl["samples"], dtype=np.int16))
    elif name == "STATUS":
        assert isinstance(f, p.Status)
        for k in ("battery_mV", "battery_pct", "emg_overruns", "saturated_samples",
                  "notify_backoffs", "ring_drops", "free_heap_bytes", "heap_waits",
                  "notify_memory_errors", "commands_refused", "commands_lost", "free_heap_min_bytes"):
            assert getattr(f, k) == pl[k], k
        assert f.battery_age_ms == (None if pl["battery_age_ms"] == 2**32 - 1 else pl["battery_age_ms"])
        assert f.state == pl["state"]
        assert f.battery_known == (pl["battery_pct"] != 255)
    elif name == "RESPONSE":
        assert isinstance(f, p.Response)
        assert (f.opcode, f.token, f.code) == (pl["opcode"], pl["token"], pl["code"])
        assert f.host_time == pl.get("host_time")
        assert f.device_time_us == pl.get("device_time_us")
    elif name == "EVENT":
        assert isinstance(f, p.Event)
        assert (f.code, f.emg_sample) == (pl["code"], pl["emg_sample"])
    elif name == "INFO":
        assert isinstance(f, p.DeviceInfo)
        assert f.fw_version == (pl["fw_major"], pl["fw_minor"], pl["fw_patch"])
        for k in ("protocol_version", "adc_channels_available", "channel_mask", "emg_fs_hz",
                  "imu_fs_hz", "vref_mV", "emg_gain", "acc_g_per_lsb", "gyro_dps_per_lsb",
                  "backfill_window_ms", "name"):
            assert getattr(f, k) == pl[k], k
        assert len(f.name.encode()) == pl["name_len"]
    else:  # pragma: no cover - a new type in the vectors must be added here
        pytest.fail(f"vector type {name} not handled")


@pytest.mark.parametrize("vec", _frame_vectors())
def test_golden_frame_usb_bytes_are_cobs_of_the_frame(vec):
    assert encode_packet(bytes.fromhex(vec["hex"])).hex() == vec["usb_hex"]


@pytest.mark.parametrize("vec", _command_vectors())
def test_golden_command_encoders_match_or_refuse(vec):
    fields = vec["fields"]
    op = fields["opcode"]
    token = fields["token"]
    expected = bytes.fromhex(vec["hex"])
    encoders = {
        p.Opcode.START: lambda: p.encode_start(token, fields["emg_fs_hz"], fields["channel_mask"], fields["imu_fs_hz"]),
        p.Opcode.STOP: lambda: p.encode_stop(token),
        p.Opcode.MARK: lambda: p.encode_mark(token, fields["code"]),
        p.Opcode.PING: lambda: p.encode_ping(token, fields["host_time"]),
        p.Opcode.RESEND: lambda: p.encode_resend(token, fields["stream"], fields["first_sample"], fields["n_samples"]),
        p.Opcode.GET_INFO: lambda: p.encode_get_info(token),
        p.Opcode.GET_STATUS: lambda: p.encode_get_status(token),
    }
    if vec["expect_code"] in (p.ErrorCode.BAD_RATE,) or (op == p.Opcode.START and fields["channel_mask"] == 0):
        # The host refuses what the wearable would refuse, before sending it.
        with pytest.raises(ValueError, match="emg_fs_hz|imu_fs_hz|channel_mask"):
            encoders[p.Opcode(op)]()
        return
    # BAD_CHANNELS for an input the board lacks is only known to the wearable.
    assert encoders[p.Opcode(op)]() == expected
    assert encode_command_packet(expected).hex() == vec["usb_hex"]


# ----------------------------------------------------------- known answers, own


def test_emg_block_is_deinterleaved_sample_major():
    words = np.array([[2048, 2050, 2047], [100, 4095, 0]], dtype=np.uint16)
    data = pack.emg(words, first_sample=17, channel_mask=0b101, seq=3, t_device_us=42)
    # On the wire: s0c0, s0c1, s1c0, ...
    assert struct.unpack_from("<6H", data, 20) == (2048, 100, 2050, 4095, 2047, 0)
    f = p.decode_frame(data)
    np.testing.assert_array_equal(f.samples, words)
    assert f.channels == (0, 2) and f.first_sample == 17 and (f.seq, f.t_device_us) == (3, 42)
    assert not f.samples.flags.writeable


def test_decoded_blocks_are_immutable():
    f = p.decode_frame(pack.emg(np.zeros((1, 2))))
    with pytest.raises(ValueError, match="read-only"):
        f.samples[0, 0] = 1
    with pytest.raises(AttributeError):
        f.first_sample = 3  # type: ignore[misc]


def test_every_error_code_has_a_message():
    assert {c.name for c in p.ErrorCode} >= {"OK", "BAD_RATE", "OUT_OF_WINDOW", "BUSY"}
    assert all(c.message and "\n" not in c.message for c in p.ErrorCode)
    assert "sampling rate" in p.ErrorCode.BAD_RATE.message


def test_device_info_round_trips_through_dict():
    info = p.decode_frame(pack.info(name="glutescope-Grüße"))
    assert p.DeviceInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: p.encode_start(1, 1234, 3, 104), r"emg_fs_hz must be one of .*got 1234"),
        (lambda: p.encode_start(1, 1000, 3, 100), r"imu_fs_hz must be one of .*got 100"),
        (lambda: p.encode_start(1, 1000, 0, 0), r"channel_mask must name at least one"),
        (lambda: p.encode_start(256, 1000, 3, 0), r"token must be in 0-255, got 256"),
        (lambda: p.encode_mark(1, 70000), r"code must be in 0-65535, got 70000"),
        (lambda: p.encode_ping(1, -1), r"host_time must be in 0-4294967295, got -1"),
        (lambda: p.encode_resend(1, 2, 0, 10), r"stream must be 0 \(EMG\) or 1 \(IMU\), got 2"),
        (lambda: p.encode_resend(1, 0, 0, 0), r"n_samples must be in 1-65535, got 0"),
    ],
)
def test_encoders_refuse_bad_values_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------- damage


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x01\x00", "truncated frame: 3 bytes"),
        (pack.frame(3, bytes(24), version=2), "bad protocol version 2"),
        (pack.frame(9, b""), "unknown frame type 0x09"),
        (pack.frame(3, bytes(24))[:-1], "length mismatch"),
        (pack.frame(3, bytes(24)) + b"\x00", "length mismatch"),
        (pack.frame(3, bytes(20)), "length mismatch: STATUS payload is 24 or at least 48 bytes, got 20"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 2, 1, 0b1, 0) + bytes(4)), "inconsistent counts: channel_mask"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 5, 1, 0b11111, 0) + bytes(10)), "n_channels 5 is not in 1-4"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 1, 3, 1, 0) + bytes(4)), "inconsistent counts: 1 channels x 3 samples"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 1, 1, 1, 0) + struct.pack("<H", 0x1000)), "reserved bits 12-14"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 1, 1, 1, 2) + struct.pack("<H", 5)), "ADC_ERROR flag is True"),
        (pack.frame(1, struct.pack("<IBBBB", 0, 1, 1, 1, 0) + struct.pack("<H", 0x8005)), "ADC_ERROR flag is False"),
        (pack.frame(2, struct.pack("<IBBH", 0, 2, 0, 0) + bytes(12)), "inconsistent counts: 2 IMU samples"),
        (pack.status(state=2), "unknown device state 2"),
        (pack.status(battery_pct=150), "battery_pct 150"),
        (pack.response(1, 1, code=99), "unknown RESPONSE code 99"),
        (pack.response(4, 1, code=0), "PING RESPONSE payload is 12 bytes, got 4"),
        (pack.response(1, 1, code=0, ping=(1, 2)), "RESPONSE to opcode 0x01 is 4 bytes, got 12"),
        (pack.frame(6, pack.info()[12:-4][:-1]), "inconsistent counts: name_len"),
        (pack.frame(3, bytes(24), t_device_us=1 << 30), "t_device_us 1073741824 is not below 2\\*\\*30"),
    ],
)
def test_bad_frames_raise_frame_error_with_a_clear_line(data, match):
    with pytest.raises(p.FrameError, match=match) as info:
        p.decode_frame(data)
    assert "\n" not in str(info.value)


def test_crc_mismatch_names_both_crcs():
    data = bytearray(pack.event(1, 2))
    data[-1] ^= 0xFF
    with pytest.raises(p.FrameError, match=r"CRC mismatch: frame says 0x[0-9a-f]{8}, bytes give 0x[0-9a-f]{8}"):
        p.decode_frame(bytes(data))


def test_frame_error_is_a_value_error():
    assert issubclass(p.FrameError, ValueError)


def _valid_corpus(rng: np.random.Generator) -> list[bytes]:
    frames = [bytes.fromhex(v["hex"]) for v in _vectors()["frames"]]
    for _ in range(40):
        n_ch = int(rng.integers(1, 5))
        n_s = int(rng.integers(0, 40))
        words = rng.integers(0, 4096, size=(n_ch, n_s)).astype(np.uint16)
        if rng.random() < 0.3 and n_s:
            words[0, 0] |= 0x8000
        frames.append(pack.emg(words, first_sample=int(rng.integers(0, 2**32 - 64)), backfill=bool(rng.random() < 0.5),
                               seq=int(rng.integers(0, 2**32)), t_device_us=int(rng.integers(0, 2**30))))
        frames.append(pack.imu(rng.integers(-32768, 32768, size=(6, int(rng.integers(0, 20)))),
                               first_sample=int(rng.integers(0, 2**32 - 32)), seq=int(rng.integers(0, 2**32))))
    frames += [pack.status(), pack.status(battery_pct=255, state=0), pack.response(1, 2), pack.response(4, 9, ping=(7, 8)),
               pack.event(3, 4000), pack.info(), pack.info(name="")]
    return frames


def _decode_or_frame_error(data: bytes):
    try:
        return p.decode_frame(data)
    except p.FrameError:
        return None


def test_fuzz_every_damage_raises_frame_error_and_nothing_else():
    """>= 100,000 damaged frames: each single-byte corruption and truncation of valid
    frames must raise FrameError; random bytes and mutations with a recomputed CRC (which
    reach the checks behind the CRC) must decode or raise FrameError, never anything else."""
    rng = np.random.default_rng(20240611)
    corpus = _valid_corpus(rng)
    for data in corpus:
        p.decode_frame(data)  # the corpus itself is valid
    n_checked = 0
    for data in corpus:
        # Every truncation.
        for cut in range(len(data)):
            with pytest.raises(p.FrameError):
                p.decode_frame(data[:cut])
            n_checked += 1
        # Every position, several wrong values (CRC-32 catches any single-byte error).
        for pos in range(len(data)):
            for delta in rng.integers(1, 256, size=4):
                bad = bytearray(data)
                bad[pos] ^= int(delta)
                with pytest.raises(p.FrameError):
                    p.decode_frame(bytes(bad))
                n_checked += 1
    n_damaged = n_checked
    while n_checked < 110_000:
        kind = rng.integers(0, 3)
        if kind == 0:  # random bytes, sometimes with a plausible header
            data = bytearray(rng.integers(0, 256, size=int(rng.integers(0, 300)), dtype=np.uint8).tobytes())
            if len(data) >= 2 and rng.random() < 0.7:
                data[0] = 1
                data[1] = int(rng.integers(0, 8))
        else:  # mutate a valid frame's header/payload and fix the CRC
            src = bytearray(corpus[int(rng.integers(0, len(corpus)))])
            body = src[:-4]
            for _ in range(int(rng.integers(1, 4))):
                body[int(rng.integers(0, len(body)))] = int(rng.integers(0, 256))
            if kind == 2 and len(body) > 12:  # grow or shrink the payload
                body = body[: int(rng.integers(12, len(body) + 1))] + bytes(int(rng.integers(0, 8)))
            data = body + struct.pack("<I", zlib.crc32(body))
        _decode_or_frame_error(bytes(data))
        n_checked += 1
    assert n_damaged > 20_000 and n_checked >= 100_000


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_hypothesis_arbitrary_bytes_decode_or_frame_error(data):
    _decode_or_frame_error(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=300))
def test_hypothesis_arbitrary_body_with_good_crc_decode_or_frame_error(body):
    _decode_or_frame_error(body + struct.pack("<I", zlib.crc32(body)))


def test_a_status_from_firmware_before_the_appended_fields_still_decodes():
    # 24-byte STATUS of firmware 0.1: the appended counters are unknown, not zero.
    f = p.decode_frame(pack.status(counters=(1, 2, 3, 4)))
    assert (f.emg_overruns, f.notify_backoffs, f.ring_drops) == (1, 3, 4)
    assert f.heap_waits is None and f.battery_age_ms is None and f.commands_lost is None


def test_a_status_cut_inside_the_appended_fields_is_refused():
    raw = bytearray(pack.status())
    frame = pack.frame(3, bytes(raw[12:-4]) + bytes(8))
    with pytest.raises(p.FrameError, match="STATUS payload is 24 or at least 48 bytes, got 32"):
        p.decode_frame(frame)


# ------------------------------------------------- the sample-word checks, word by word


def _emg_frame(words: np.ndarray, mask: int, flags: int) -> bytes:
    n_ch, n_s = words.shape
    head = struct.pack("<IBBBB", 123, n_ch, n_s, mask, flags)
    return pack.frame(1, head + words.T.astype("<u2").tobytes())


def test_emg_word_checks_agree_with_each_word_read_alone():
    """Reserved bits 12-14 and the error bit 15 are found wherever they sit (first word,
    last word, one row only) and in any combination, as a word-by-word reading finds
    them; a clean or consistently flagged block decodes to exactly its words."""
    rng = np.random.default_rng(11)
    n_reserved = n_flag_mismatch = n_decoded = 0
    for _ in range(3000):
        n_ch = int(rng.integers(1, 5))
        n_s = int(rng.integers(0, 30))
        words = rng.integers(0, 4096, size=(n_ch, n_s)).astype(np.uint16)
        if n_s and rng.random() < 0.7:
            bits = rng.choice([0x1000, 0x2000, 0x4000, 0x8000, 0x9000, 0xF000], size=int(rng.integers(1, 3)))
            for bit in bits:
                where = rng.choice(["first", "last", "any"])
                r = int(rng.integers(0, n_ch))
                c = 0 if where == "first" else n_s - 1 if where == "last" else int(rng.integers(0, n_s))
                words[r, c] |= bit
        flags = int(rng.integers(0, 4))
        mask = int(rng.choice([m for m in range(256) if bin(m).count("1") == n_ch]))
        reserved = any(int(w) & 0x7000 for w in words.ravel())
        error = any(int(w) & 0x8000 for w in words.ravel())
        data = _emg_frame(words, mask, flags)
        if reserved:
            with pytest.raises(p.FrameError, match="reserved bits 12-14"):
                p.decode_frame(data)
            n_reserved += 1
        elif error != bool(flags & 2):
            with pytest.raises(p.FrameError, match=f"ADC_ERROR flag is {bool(flags & 2)} but "
                                                   f"{'some' if error else 'no'} sample"):
                p.decode_frame(data)
            n_flag_mismatch += 1
        else:
            f = p.decode_frame(data)
            np.testing.assert_array_equal(f.samples, words)
            assert f.samples.flags.c_contiguous and not f.samples.flags.writeable
            assert (f.adc_error, f.backfill, f.channel_mask, f.first_sample) == (error, bool(flags & 1), mask, 123)
            n_decoded += 1
    assert min(n_reserved, n_flag_mismatch, n_decoded) > 200  # every outcome is exercised


def test_crc_mismatch_names_the_wire_crc_and_the_bytes_crc_wherever_the_damage_is():
    good = pack.emg(np.arange(12, dtype=np.uint16).reshape(3, 4), channel_mask=0b1011)
    for i in range(len(good)):
        data = bytearray(good)
        data[i] ^= 0x5A
        if i < 4:
            continue  # header damage is refused before the CRC is looked at
        (wire,) = struct.unpack_from("<I", data, len(data) - 4)
        crc = zlib.crc32(bytes(data[:-4]))
        with pytest.raises(p.FrameError, match=f"CRC mismatch: frame says 0x{wire:08x}, bytes give 0x{crc:08x}"):
            p.decode_frame(bytes(data))
