"""The ring capture's poll under real MicroPython: right codes, exact loss, no allocation.

CPython cannot tell whether the poll path allocates on the MCU (a ``divmod`` tuple, a
big int past 2**30, a memoryview slice all do), so the unmodified ``acquisition.py``
runs in the MicroPython unix port, with a script that plays the DMA: it writes codes
into the aligned ring where the silicon would (code k at ring position k mod 4096) and
sets TRANS_COUNT's remaining count, then calls the poll and checks what reached the
RAM ring and how many heap bytes the poll took (``gc.mem_free`` before and after).
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT.parent / "shared" / "tools" / "micropython-btstack" / "micropython"
FIRMWARE = ROOT / "firmware" / "glutefw"

_RP2 = '''
class DMA:
    """Only what the script drives by hand: the count register and the configuration."""
    def __init__(self):
        self.channel = 3
        self.seq = 0
        self.mode = 0
        self.remaining = 0
    def pack_ctrl(self, **kw):
        self.kw = kw
        return 1
    def config(self, read=None, write=None, count=None, ctrl=None, trigger=False):
        self.mode = count >> 28
        self.seq = count & 0x0FFFFFFF
        self.remaining = self.seq
    @property
    def count(self):
        return (self.mode << 28) | self.remaining
    def active(self, v=None):
        return True
    def close(self):
        pass
'''

_MACHINE = '''
class _Mem:
    def __getitem__(self, addr):
        return 1 << 8 if addr == 0x400A0000 else 0  # CS.READY; FCS: FIFO empty, no OVER
    def __setitem__(self, addr, value):
        pass
mem32 = _Mem()
class Pin:
    def __init__(self, n):
        pass
class ADC:
    def __init__(self, pin):
        pass
'''

_SCRIPT = '''
import gc
import time
time.ticks_us()  # the unix port's first ticks_us call allocates (once, a port detail)
from glutefw import config
from glutefw.ringbuf import Ring
from glutefw.acquisition import EmgAcquisition, LOST_SAMPLE, RING_CODES

ring = Ring("H", config.EMG_RING_VALUES, config.TIME_ANCHORS)
acq = EmgAcquisition(ring)
acq.start(FS_HZ, MASK)
dma = acq._dma
cps = acq._cps
SEQ = SEQ_OVERRIDE
if SEQ:  # a short sequence (a const in the module), to see TRANS_COUNT reload often
    acq._seq = dma.seq = dma.remaining = SEQ
done = 0

def code(k):
    return (k * 7) % 4096  # conversion k

def dma_writes(n):
    global done
    for k in range(done, done + n):
        acq._buf[acq._ring_off + k % RING_CODES] = code(k)
    done += n
    dma.remaining = dma.seq - done % dma.seq

worst = 0
for step in (300, 297, 60, 3003, 900):
    dma_writes(step)
    gc.collect()
    before = gc.mem_free()
    acq._poll()
    worst = max(worst, before - gc.mem_free())
if not SEQ:  # then late by more than the ring: the DMA lapped it
    dma_writes(RING_CODES + 600)
    acq._poll()
bad = 0
lost = 0
for j in range(ring.oldest, ring.head):
    p = ring.value_pos(j)
    if ring.values[p] == LOST_SAMPLE:
        lost += 1
    elif any(ring.values[p + c] != code(cps * j + c) for c in range(ring.width)):
        bad += 1
print("RESULT", ring.head, done // cps, worst, bad, lost, acq.lost_samples, acq.overruns, dma.seq)
'''


def _run(tmp_path, seq_override=0, fs_hz=2000, mask=7):
    if not BINARY.exists():
        pytest.skip(f"no MicroPython unix binary at {BINARY}: build one as its README says "
                    "(MicroPython's unix port, `make -C ports/unix`) to run this check")
    shutil.copytree(FIRMWARE, tmp_path / "glutefw")
    (tmp_path / "rp2.py").write_text(_RP2)
    (tmp_path / "machine.py").write_text(_MACHINE)
    (tmp_path / "main.py").write_text(_SCRIPT.replace("SEQ_OVERRIDE", str(seq_override))
                                      .replace("FS_HZ", str(fs_hz)).replace("MASK", str(mask)))
    proc = subprocess.run([str(BINARY), "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
    return [int(v) for v in line.split()[1:]]


def test_poll_copies_every_code_and_allocates_nothing_on_micropython(tmp_path):
    head, samples, alloc, bad, lost, lost_counted, overruns, seq = _run(tmp_path)
    assert seq == 0x0FFFFFFF // 3 * 3
    assert head == samples  # every whole sample written reached the RAM ring
    assert alloc == 0, f"the poll allocated {alloc} bytes on the MicroPython heap"
    assert bad == 0  # no sample delivered with a code the DMA had not written there
    # The last poll was 600 codes (200 samples) later than the ring: exactly those lost.
    assert lost == lost_counted == 200 and overruns == 1


def test_trans_count_reloads_are_counted_on_micropython(tmp_path):
    # Sequences of 3999 transfers: the 4560 codes written span a reload.
    head, samples, alloc, bad, lost, lost_counted, overruns, seq = _run(tmp_path, seq_override=3999)
    assert seq == 3999 and head == samples == 4560 // 3 and bad == 0 and alloc == 0 and lost == 0


def test_one_input_at_500_hz_keeps_every_second_code_on_micropython(tmp_path):
    # Converted at 1 kHz (DIV cannot pace 500/s): sample j is conversion 2j.
    head, samples, alloc, bad, lost, lost_counted, overruns, seq = _run(tmp_path, fs_hz=500, mask=0b010)
    assert seq == 0x0FFFFFFF // 2 * 2 and head == samples and bad == 0 and alloc == 0
    assert lost == lost_counted == 300 and overruns == 1  # 600 codes late = 300 samples
