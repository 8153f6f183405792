"""USB serial framing: COBS packets cut from an arbitrary byte stream."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

import wirepack_v1 as pack
from glutescope.framing import CobsStreamDecoder, encode_command_packet, encode_packet
from glutescope.protocol import decode_frame, encode_start


def _frames(rng, n):
    return [pack.emg(rng.integers(0, 4096, size=(2, int(rng.integers(1, 60)))), first_sample=i, seq=i)
            for i in range(n)]


def test_known_answer_cobs_of_zeros_and_the_delimiter():
    # Cheshire & Baker's example: 00 -> 01 01; packets end with one 00.
    assert encode_packet(b"\x00") == b"\x01\x01\x00"
    assert encode_packet(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33\x00"


def test_stream_split_anywhere_gives_back_every_frame():
    rng = np.random.default_rng(1)
    frames = _frames(rng, 50)
    stream = b"".join(encode_packet(f) for f in frames)
    dec = CobsStreamDecoder(synced=True)
    got = []
    pos = 0
    while pos < len(stream):
        step = int(rng.integers(1, 40))
        got += dec.feed(stream[pos : pos + step])
        pos += step
    assert got == frames
    assert dec.n_bad_packets == 0 and dec.n_discarded_bytes == 0


def test_joining_mid_stream_discards_up_to_the_first_delimiter():
    rng = np.random.default_rng(2)
    frames = _frames(rng, 5)
    stream = b"".join(encode_packet(f) for f in frames)
    cut = 7  # inside the first packet
    dec = CobsStreamDecoder()
    assert dec.feed(stream[cut:]) == frames[1:]
    assert dec.n_discarded_bytes == len(encode_packet(frames[0])) - cut - 1


def test_garbage_between_packets_is_dropped_and_the_stream_resyncs():
    rng = np.random.default_rng(3)
    frames = _frames(rng, 3)
    garbage = b"\x05\x01\x02"  # claims 4 more bytes, then the delimiter comes: bad COBS
    stream = encode_packet(frames[0]) + garbage + b"\x00" + encode_packet(frames[1]) + b"\x00\x00" + encode_packet(frames[2])
    dec = CobsStreamDecoder(synced=True)
    assert dec.feed(stream) == frames
    assert dec.n_bad_packets == 1 and dec.n_discarded_bytes == len(garbage)


def test_overlong_packet_without_delimiter_is_dropped_not_buffered():
    dec = CobsStreamDecoder(synced=True, max_packet_bytes=64)
    assert dec.feed(b"\x01" * 1000) == []
    assert dec.n_bad_packets == 1
    frame = pack.event(1, 2)
    assert dec.feed(b"\x00" + encode_packet(frame)) == [frame]


def test_corrupted_byte_in_a_packet_is_caught_by_cobs_or_by_the_crc():
    rng = np.random.default_rng(4)
    frame = _frames(rng, 1)[0]
    packet = bytearray(encode_packet(frame))
    packet[10] = 0x00  # a stray delimiter splits the packet in two
    dec = CobsStreamDecoder(synced=True)
    for piece in dec.feed(bytes(packet)):
        with pytest.raises(ValueError):
            decode_frame(piece)


def test_command_packet_is_command_plus_crc_cobs_encoded():
    cmd = encode_start(1, 2000, 3, 104)
    packet = encode_command_packet(cmd)
    assert packet.endswith(b"\x00") and b"\x00" not in packet[:-1]
    (payload,) = CobsStreamDecoder(synced=True).feed(packet)
    assert payload == cmd + struct.pack("<I", zlib.crc32(cmd))
    with pytest.raises(ValueError, match="command must hold at least opcode and token"):
        encode_command_packet(b"\x01")
