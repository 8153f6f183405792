"""COBS framing for USB serial: paper examples, round trips, malformed input."""
import pytest
from hypothesis import given, settings, strategies as st

from glutefw import cobs

# Examples from Cheshire & Baker (1999) and the usual COBS test table.
KNOWN = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (b"", b"\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
]


@pytest.mark.parametrize("raw,enc", KNOWN)
def test_known_vectors(raw, enc):
    dst = bytearray(cobs.max_encoded_len(len(raw)))
    n = cobs.encode(raw, len(raw), dst)
    assert bytes(dst[:n]) == enc
    out = bytearray(len(raw) + 1)
    m = cobs.decode(enc, len(enc), out)
    assert bytes(out[:m]) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1100))
def test_round_trip_and_no_zero(raw):
    dst = bytearray(cobs.max_encoded_len(len(raw)))
    n = cobs.encode(raw, len(raw), dst)
    assert 0 not in dst[:n]
    out = bytearray(len(raw))
    assert cobs.decode(dst, n, out) == len(raw)
    assert bytes(out[:len(raw)]) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_never_raises_on_garbage(junk):
    out = bytearray(400)
    n = cobs.decode(junk, len(junk), out)
    assert n == -1 or 0 <= n <= len(out)


@pytest.mark.parametrize("bad", [b"\x00", b"\x05\x11\x22", b"\x03\x11\x00"])
def test_malformed_blocks_are_refused(bad):
    assert cobs.decode(bad, len(bad), bytearray(16)) == -1


def test_decode_refuses_output_that_does_not_fit():
    enc = b"\x05\x11\x22\x33\x44"
    assert cobs.decode(enc, len(enc), bytearray(3)) == -1


def test_encode_refuses_small_destination():
    with pytest.raises(ValueError, match="cobs dst holds 2 bytes, need 5"):
        cobs.encode(b"abcd", 4, bytearray(2))
