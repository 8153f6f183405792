"""Figures from inside the firmware process, for the budget benchmark (stderr lines).

``install()`` wraps the capture's poll (``EmgAcquisition._poll``) to measure how late
each poll comes after the previous one (the sampling task's delay), and samples the
heap there. Once a second it prints::

    PROBE t_ms=<ms> polls=<n> poll_gap_max_us=<us> heap_alloc_max=<bytes> heap_free_min=<bytes> heap_live_max=<bytes>

for the second just ended. ``heap_alloc_max`` is ``gc.mem_alloc()`` at its highest: live
objects *and* garbage not yet collected (MicroPython collects when an allocation fails
or a threshold passes). ``heap_live_max`` is ``gc.mem_alloc()`` right after a
``gc.collect()``, taken every 250 ms: what the heap really holds, btstack's copies of
queued notifications included (a peak between two samples is missed; the collection
itself is a pause of about a millisecond that the delay figure includes).
"""
import asyncio
import gc
import sys
import time

_s = [0, 0, 0, 0, 1 << 30, 0, 0]  # last poll, polls, worst gap, alloc max, free min, t0, live max


def install():
    from glutefw import acquisition

    poll = acquisition.EmgAcquisition._poll

    def _poll(self):
        t = time.ticks_us()
        if _s[0]:
            gap = time.ticks_diff(t, _s[0])
            if gap > _s[2]:
                _s[2] = gap
        else:
            _s[5] = t
            asyncio.create_task(_report())
        _s[0] = t
        _s[1] += 1
        a = gc.mem_alloc()
        if a > _s[3]:
            _s[3] = a
        f = gc.mem_free()
        if f < _s[4]:
            _s[4] = f
        return poll(self)

    acquisition.EmgAcquisition._poll = _poll


async def _report():
    while True:
        for _ in range(4):
            await asyncio.sleep_ms(250)
            gc.collect()
            a = gc.mem_alloc()
            if a > _s[6]:
                _s[6] = a
        sys.stderr.write("PROBE t_ms=%d polls=%d poll_gap_max_us=%d heap_alloc_max=%d heap_free_min=%d "
                         "heap_live_max=%d\n" % (time.ticks_diff(time.ticks_us(), _s[5]) // 1000, _s[1], _s[2],
                                                  _s[3], _s[4], _s[6]))
        _s[1] = _s[2] = _s[3] = _s[6] = 0
        _s[4] = 1 << 30
