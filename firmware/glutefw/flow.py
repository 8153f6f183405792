"""Flow control of the sender: never produce faster than the link drains.

On the Pico 2 W the Bluetooth stack is btstack, whose ``gatts_notify`` never refuses:
it copies each notification to the GC heap (about 318 B for a 244-byte payload, measured
on MicroPython 1.29 + btstack) until the radio sends it. A sender that outruns the link
therefore sees no error: the heap fills instead, and the tasks that sample starve while
it loops. So the sender paces itself, whatever the stack:

* a **byte budget** (a token bucket, refilled every millisecond at the link rate set in
  ``config``) that every frame spends before it is sent; live frames and answers spend
  first, and a backfill frame is sent only from what they leave (`spare`);
* a **heap floor**: while ``gc.mem_free()`` is below it, nothing is sent (``heap_waits``);
  what btstack holds drains at the radio's pace and the floor comes back. This bounds the
  heap the stack may hold on a link slower than the budget;
* ``MemoryError`` from a notification's copy, and NimBLE's ``ENOMEM``, are waited out by
  the link itself (``glutefw.ble``), counted there.

The budget is a figure for the link, not a measurement of it: btstack exposes no queue
depth to MicroPython. The heap floor is what ties the sender to the real drain.
"""
import asyncio
import gc
import time

from micropython import const

_MAX_REFILL_MS = const(1000)  # a long pause banks no more than the bucket holds anyway
_HEAP_CHECK_BYTES = const(1024)  # gc.mem_free() walks the heap: not before every frame
_HEAP_WAIT_MS = const(2)
# A floor not regained in this long is not held by the stack (btstack drains hundreds of
# notifications a second): something else uses the heap, so send and let MemoryError,
# if it comes, be handled where it is raised.
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
        Free heap below which nothing is sent (0: no floor, e.g. USB, which copies
        nothing to the heap).
    """

    def __init__(self, rate_bytes_per_s, burst_bytes, heap_floor_bytes):
        if rate_bytes_per_s <= 0 or burst_bytes <= 0 or heap_floor_bytes < 0:
            raise ValueError("flow needs rate_bytes_per_s > 0, burst_bytes > 0, "
                             "heap_floor_bytes >= 0; got %r, %r, %r"
                             % (rate_bytes_per_s, burst_bytes, heap_floor_bytes))
        self.rate_bytes_per_s = rate_bytes_per_s
        self._cap_mB = burst_bytes * 1000  # milli-bytes: integer refill per millisecond
        self._tokens_mB = self._cap_mB
        self._t_ms = time.ticks_ms()
        self.heap_floor_bytes = heap_floor_bytes
        self._since_check = _HEAP_CHECK_BYTES  # check the heap before the first frame
        self.heap_waits = 0
        self.budget_waits = 0
        self.free_heap_min_bytes = gc.mem_free()

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
        if self.heap_floor_bytes and self._since_check >= _HEAP_CHECK_BYTES:
            self._since_check = 0
            free = gc.mem_free()
            if free < self.heap_floor_bytes:
                self.heap_waits += 1
                gc.collect()  # the garbage may be all there is; btstack's copies drain meanwhile
                free = gc.mem_free()
                waited = 0
                while free < self.heap_floor_bytes and waited < _HEAP_WAIT_MAX_MS:
                    await asyncio.sleep_ms(_HEAP_WAIT_MS)
                    waited += _HEAP_WAIT_MS
                    free = gc.mem_free()
            if free < self.free_heap_min_bytes:
                self.free_heap_min_bytes = free
        self._tokens_mB -= nbytes * 1000
