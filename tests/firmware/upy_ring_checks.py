"""Run by MicroPython itself (see test_ringbuf_micropython.py): the ring and the packer
work together there, where memoryview has no cast and uctypes gives the byte view."""
import struct
from glutefw.ringbuf import Ring
from glutefw import frames
r = Ring("H", 12, 4)
r.reset(3, 1500)
for k in range(3):
    vals = [(2*k + i) * 10 + c for i in range(2) for c in range(3)]
    r.write(memoryview(struct.pack("<6H", *vals)), 2)
assert (r.head, r.oldest) == (6, 2), (r.head, r.oldest)
p = frames.FramePacker(256)
n = r.read_into(p.samples_view(), 2, 4)
out = bytes(p.finish_emg(0, 2, 3, 4, 7, 0))
got = struct.unpack_from("<12H", out, 20)
assert list(got) == [(2 + i) * 10 + c for i in range(4) for c in range(3)], got
r.skip(1, 0x8000)
assert r.any_bits(6, 1, 0x8000)
r.mark_time(0, 2**30 - 10)
assert r.time_of(3) == (2**30 - 10 + 2000) & (2**30 - 1), r.time_of(3)
imu = Ring("h", 12)
imu.reset(6, 104)
imu.write(memoryview(struct.pack("<6h", -1, 2, -3, 4, -5, 6)), 1)
assert list(imu.values[:6]) == [-1, 2, -3, 4, -5, 6]
print("ring ok under", __import__("sys").implementation.name)
