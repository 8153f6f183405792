"""The sender's flow control (glutefw.flow): byte budget and the bound on the stack's heap queue.

Time is simulated and moves only when the code under test sleeps, so the figures do not
depend on how busy the machine is: the sender is an infinitely fast CPU, and only the
budget, the heap bound and the drain decide what happens.
"""
import asyncio
import time

import pytest

from glutescope.virtual import upy


class _SteppedClock(upy.VirtualClock):
    """Device time that advances only by the sleeps of the code under test."""

    def __init__(self):
        super().__init__()
        self.t_us = 0

    def now_us(self):
        return self.t_us


@pytest.fixture
def fast_clock(monkeypatch):
    clock = upy.install(_SteppedClock())

    async def sleep_ms(ms):
        clock.t_us += int(ms * 1000)
        await asyncio.sleep(0)

    monkeypatch.setattr(asyncio, "sleep_ms", sleep_ms)
    yield clock
    upy.install(upy.VirtualClock())


def test_the_budget_never_lets_more_through_than_rate_times_time_plus_burst(fast_clock):
    from glutefw.flow import LinkFlow

    async def run():
        flow = LinkFlow(10_000, 1000, 0, 0)
        t0 = time.ticks_ms()
        sent = 0
        while time.ticks_diff(time.ticks_ms(), t0) < 1000:
            await flow.admit(250)
            sent += 250
        return sent, time.ticks_diff(time.ticks_ms(), t0), flow.budget_waits

    sent, elapsed_ms, waits = asyncio.run(run())
    assert sent <= 10_000 * elapsed_ms // 1000 + 1000 + 250
    assert sent >= 10_000 * elapsed_ms // 1000 - 250  # and uses all of it: the budget refills
    assert waits > 0


def test_backfill_only_spends_what_leaves_a_live_frame_in_reserve(fast_clock):
    from glutefw.flow import LinkFlow

    flow = LinkFlow(10_000, 1000, 0, 0)
    assert flow.spare(244, 244)  # a full bucket
    asyncio.run(flow.admit(600))
    assert not flow.spare(244, 244) and flow.spare(244, 0)  # 400 left: live yes, backfill no
    assert 1 <= flow.ms_until(488) <= 10


class _SlowStack:
    """A btstack-like queue on the simulated heap, drained at a fixed byte rate."""

    def __init__(self, drain_bytes_per_s):
        self.held = 0
        self.high_water = 0
        self.rate = drain_bytes_per_s
        self._t = time.ticks_ms()

    def in_use(self):
        now = time.ticks_ms()
        self.held = max(0, self.held - time.ticks_diff(now, self._t) * self.rate // 1000)
        self._t = now
        return self.held

    def notify(self, nbytes):
        self.in_use()
        self.held += nbytes + 74  # btstack's copy: payload + ~74 B
        self.high_water = max(self.high_water, self.held)


@pytest.mark.parametrize("queue_max", [8_192, 0])
def test_on_a_link_slower_than_the_budget_the_stack_holds_no_more_than_the_bound(fast_clock, queue_max):
    from glutefw.flow import LinkFlow

    stack = _SlowStack(drain_bytes_per_s=8_000)  # far below the 64 kB/s budget
    upy.add_heap_user(stack.in_use)
    try:
        async def run():
            flow = LinkFlow(64_000, 1024, 0, queue_max)
            t0 = time.ticks_ms()
            while time.ticks_diff(time.ticks_ms(), t0) < 1500:
                await flow.admit(244)
                stack.notify(244)
            return flow

        flow = asyncio.run(run())
    finally:
        upy.remove_heap_user(stack.in_use)
    if queue_max:
        # Checked every 1 kB: at most that much (as copies) beyond the bound.
        assert stack.high_water <= queue_max + 1024 * 318 // 244 + 318
        assert flow.heap_waits > 0
        assert flow.free_heap_min_bytes < upy.HEAP_FREE_BYTES
    else:  # unbounded: the budget alone lets the queue grow at 64 - 8 kB/s
        assert stack.high_water > 40_000


def test_heap_taken_by_something_other_than_the_stack_stalls_the_sender_only_once(fast_clock):
    """Free heap that never comes back (a leak, a big allocation elsewhere) is not the
    stack's queue: after one bounded wait the sender measures from the new level."""
    from glutefw.flow import LinkFlow

    taken = [0]
    user = lambda: taken[0]  # noqa: E731
    upy.add_heap_user(user)
    try:
        async def run():
            flow = LinkFlow(64_000, 1024, 32_000, 8_192)
            taken[0] = upy.HEAP_FREE_BYTES - 20_000  # below the 32 kB floor, for good
            t0 = time.ticks_ms()
            for _ in range(40):  # ~10 kB: ten heap checks
                await flow.admit(244)
            return flow, time.ticks_diff(time.ticks_ms(), t0)

        flow, elapsed_ms = asyncio.run(run())
    finally:
        upy.remove_heap_user(user)
    assert flow.heap_waits == 1
    assert 500 <= elapsed_ms < 1000  # one bounded wait, then the budget alone
