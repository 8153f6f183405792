"""Flow control of the sender: never produce faster than the link drains.

On the Pico 2 W the Bluetooth stack is btstack, whose ``gatts_notify`` never refuses:
it copies each notification to the GC heap (about 318 B for a 244-byte payload, measured
on MicroPython 1.29 + btstack) until the radio sends it. A sender that outruns the link
therefore sees no error: the heap fills instead, and the tasks that sample starve while
it loops. So the sender paces itself, whatever the stack:

* a **byte budget** (a token bucket, refilled every millisecond at the rate set in
  ``config``) that every frame spends before it is sent; live frames and answers spend
  first, and a backfill frame is sent only from what they leave (`spare`). It caps how
  fast the sender produces and spreads frames evenly between the sampling tasks' turns;
* a **bound on the heap the stack holds**: when the link comes up (`rebase`) the heap is
  collected and its free bytes taken as the level with an empty queue. While
  ``gc.mem_free()`` is more than ``queue_max_bytes`` below that level (or below the
  absolute ``heap_floor_bytes``), nothing is sent (``heap_waits``): what btstack holds
  drains at the radio's real pace and sending resumes. This is what ties the sender to
  the real drain, which btstack does not report: on a link slower than the budget the
  sender runs at the link's rate and the stack never holds more than about
  ``queue_max_bytes`` (plus garbage not yet collected);
* ``MemoryError`` from a notification's copy, and NimBLE's ``ENOMEM``, are waited out by
  the link itself (``glutefw.ble``), counted there.
"""
import asyncio
import gc
import time

from micropython import const

_MAX_REFILL_MS = const(1000)  # a long pause banks no more than the bucket holds anyway
_HEAP_CHECK_BYTES = const(1024)  # gc.mem_free() walks the heap: not before every frame
_HEAP_WAIT_MS = const(4)  # each poll walks the heap: not too often
# A floor not regained in this long is not held by the stack (btstack drains hundreds of
# notifications a second): something else uses the heap. The present level becomes the
# base, so the sender does not stall at every check, and a MemoryError, if it comes, is
# handled where it is raised.
_HEAP_WAIT_MAX_MS = const(500)


class LinkFlow:
    """Byte budget and heap floor for one link.

    Parameters
    ----------
    rate_bytes_per_s : int
        Bytes of frames per second the link is trusted to drain.
    burst_bytes : int
        Most bytes banked while idle; at least two of the link's largest frames.
    heap_floor_bytes : int
        Free heap below which nothing is sent, whatever the queue (0: none).
    queue_max_bytes : int
        Heap the link's stack may hold for queued frames, measured from the level at
        the last `rebase` (0: unbounded, e.g. USB, which copies nothing to the heap).
    """

    def __init__(self, rate_bytes_per_s, burst_bytes, heap_floor_bytes, queue_max_bytes):
        if rate_bytes_per_s <= 0 or burst_bytes <= 0 or heap_floor_bytes < 0 \
                or queue_max_bytes < 0:
            raise ValueError("flow needs rate_bytes_per_s > 0, burst_bytes > 0, "
                             "heap_floor_bytes >= 0, queue_max_bytes >= 0; got %r, %r, %r, %r"
                             % (rate_bytes_per_s, burst_bytes, heap_floor_bytes,
                                queue_max_bytes))
        self.rate_bytes_per_s = rate_bytes_per_s
        self._cap_mB = burst_bytes * 1000  # milli-bytes: integer refill per millisecond
        self._tokens_mB = self._cap_mB
        self._t_ms = time.ticks_ms()
        self.heap_floor_bytes = heap_floor_bytes
        self.queue_max_bytes = queue_max_bytes
        self._since_check = _HEAP_CHECK_BYTES  # check the heap before the first frame
        self.heap_waits = 0
        self.budget_waits = 0
        self.free_heap_min_bytes = gc.mem_free()
        self._floor = heap_floor_bytes
        self._base = 0
        self.rebase()

    def rebase(self):
        """Take the free heap now as the level with nothing queued (call at link up)."""
        gc.collect()
        self._set_base(gc.mem_free())

    def _set_base(self, free):
        self._base = free
        floor = self.heap_floor_bytes
        if self.queue_max_bytes and free - self.queue_max_bytes > floor:
            floor = free - self.queue_max_bytes
        self._floor = floor

    def _refill(self):
        now = time.ticks_ms()
        dt = time.ticks_diff(now, self._t_ms)
        if dt <= 0:
            return
        self._t_ms = now
        if dt > _MAX_REFILL_MS:
            dt = _MAX_REFILL_MS
        t = self._tokens_mB + dt * self.rate_bytes_per_s
        self._tokens_mB = t if t < self._cap_mB else self._cap_mB

    def spare(self, nbytes, reserve_bytes):
        """Whether ``nbytes`` can go now and still leave ``reserve_bytes`` of budget."""
        self._refill()
        return self._tokens_mB >= (nbytes + reserve_bytes) * 1000

    def ms_until(self, nbytes):
        """Milliseconds until ``nbytes`` of budget are there (at least 1)."""
        self._refill()
        short = nbytes * 1000 - self._tokens_mB
        if short <= 0:
            return 1
        return (short + self.rate_bytes_per_s - 1) // self.rate_bytes_per_s

    async def admit(self, nbytes):
        """Wait until ``nbytes`` may be sent (budget and heap), then spend them."""
        self._refill()
        while self._tokens_mB < nbytes * 1000:
            self.budget_waits += 1
            await asyncio.sleep_ms(self.ms_until(nbytes))
            self._refill()
        self._since_check += nbytes
        if self._floor and self._since_check >= _HEAP_CHECK_BYTES:
            self._since_check = 0
            free = gc.mem_free()
            if free < self._floor:
                gc.collect()  # the garbage may be all there is
                free = gc.mem_free()
                if free > self._base:
                    self._set_base(free)  # the queue was emptier at rebase than thought
                waited = 0
                if free < self._floor:
                    self.heap_waits += 1  # the stack holds too much: let the radio drain it
                while free < self._floor and waited < _HEAP_WAIT_MAX_MS:
                    await asyncio.sleep_ms(_HEAP_WAIT_MS)
                    waited += _HEAP_WAIT_MS
                    free = gc.mem_free()
                if free < self._floor:  # not the stack's: measure from here (even below the floor)
                    self._base = free
                    self._floor = free - self.queue_max_bytes if self.queue_max_bytes else 0
            if free < self.free_heap_min_bytes:
                self.free_heap_min_bytes = free
        self._tokens_mB -= nbytes * 1000
