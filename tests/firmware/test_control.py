"""Command validation: every error code, never an exception on bad input."""
import struct

import pytest
from hypothesis import given, settings, strategies as st

from glutefw import config, control
from conftest import VECTORS
import json

CMD_VECTORS = json.loads(VECTORS.read_text(encoding="utf-8"))["commands"]


def _parse(data):
    cmd = control.Command()
    code = control.parse(data, len(data), cmd, config.EMG_RATES_HZ, config.IMU_RATES_HZ,
                         config.ADC_AVAILABLE_MASK, config.MAX_EMG_CHANNELS)
    return code, cmd


@pytest.mark.parametrize("v", CMD_VECTORS, ids=[v["name"] for v in CMD_VECTORS])
def test_golden_commands(v):
    code, cmd = _parse(bytes.fromhex(v["hex"]))
    assert code == v["expect_code"]
    f = v["fields"]
    assert (cmd.opcode, cmd.token) == (f["opcode"], f["token"])
    names = {"code": "mark_code"}
    for k, want in f.items():
        if k not in ("opcode", "token"):
            assert getattr(cmd, names.get(k, k)) == want, k


@pytest.mark.parametrize("data,code", [
    (b"", control.UNKNOWN_OPCODE),
    (b"\x08\x01", control.UNKNOWN_OPCODE),
    (b"\x04", control.BAD_LENGTH),
    (b"\x04\x01\x00\x00\x00", control.BAD_LENGTH),
    (b"\x03\x01\x02\x00\x00", control.BAD_LENGTH),
    (b"\x01\x01" + struct.pack("<HBH", 2000, 0b111, 0), control.OK),
    (b"\x01\x01" + struct.pack("<HBH", 2500, 0b111, 0), control.BAD_RATE),
    (b"\x01\x01" + struct.pack("<HBH", 2000, 0b111, 52), control.BAD_RATE),
    (b"\x01\x01" + struct.pack("<HBH", 2000, 0x80, 0), control.BAD_CHANNELS),
    (b"\x05\x01" + struct.pack("<BIH", 2, 0, 1), control.BAD_CHANNELS),
])
def test_parse_error_codes(data, code):
    assert _parse(data)[0] == code


def test_too_many_channels_for_the_frame_format():
    cmd = control.Command()
    data = b"\x01\x00" + struct.pack("<HBH", 1000, 0b11111, 0)
    assert control.parse(data, len(data), cmd, (1000,), (0,), 0xFF, 4) == control.BAD_CHANNELS


def test_refused_command_keeps_its_opcode_and_token_for_the_response():
    code, cmd = _parse(b"\x7f\x33\x00")
    assert (code, cmd.opcode, cmd.token) == (control.UNKNOWN_OPCODE, 0x7F, 0x33)


@pytest.mark.parametrize("started,busy,first,n,code", [
    (False, False, 0, 1, control.BAD_STATE),
    (True, True, 100, 10, control.BUSY),
    (True, False, 90, 10, control.OUT_OF_WINDOW),  # every sample older than the ring
    (True, False, 99, 10, control.OK),  # starts one sample too early: served from 100
    (True, False, 0, 101, control.OK),
    (True, False, 195, 10, control.OUT_OF_WINDOW),  # not yet sampled
    (True, False, 100, 100, control.OK),
    (True, False, 150, 0, control.OK),  # 0 samples: a probe of first_sample
    (True, False, 99, 0, control.OUT_OF_WINDOW),
    (True, False, 200, 0, control.OK),
])
def test_resend_window(started, busy, first, n, code):
    _, cmd = _parse(b"\x05\x01" + struct.pack("<BIH", 0, first, n))
    assert control.check_resend(cmd, started, busy, 100, 200) == code


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=70))
def test_garbage_never_raises(data):
    code, _ = _parse(data)
    assert 0 <= code <= 7
