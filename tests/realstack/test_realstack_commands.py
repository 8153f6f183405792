"""Commands on the real MicroPython + btstack: a burst larger than any queue, STATUS counters.

btstack hands the firmware every control write of a connection event in one poll (several
``_IRQ_GATTS_WRITE`` within a millisecond, before any task runs), so a burst written
without response in one go reaches the command queue all at once.
"""
import asyncio

import pytest

from glutescope import protocol
from realstack_checks import wait_until
from realstack_harness import RealStack, firmware_copy

pytestmark = pytest.mark.slow

_GATTS_WRITE = 3


async def _burst(binary, n, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, trace_irq=True, **kwargs) as stack:
        await stack.wait_advertising()
        transport = stack.transport()
        await transport.connect()
        try:
            commands = [protocol.encode_get_status(token) for token in range(1, n + 1)]
            # All written without response in one go: one event-loop turn on the host.
            await asyncio.gather(*(transport.send_command(c) for c in commands))
            responses = []

            async def collect():
                while True:
                    frame = protocol.decode_frame((await transport.frames.get()).data)
                    if isinstance(frame, protocol.Response):
                        responses.append(frame)
                    elif isinstance(frame, protocol.Status):
                        statuses.append(frame)

            statuses = []
            collector = asyncio.create_task(collect())
            try:
                await wait_until(lambda: len(responses) >= n, 5, f"{n} RESPONSEs", stack)
            except AssertionError:
                pass  # counted below
            await asyncio.sleep(0.3)  # any late or duplicate answer
            collector.cancel()
            writes = [e for e in stack.irq_trace() if e[0] == _GATTS_WRITE]
            return responses, statuses, writes
        finally:
            await transport.close()


def _assert_one_response_each(responses, n):
    tokens = sorted(r.token for r in responses)
    assert tokens == list(range(1, n + 1)), f"{len(responses)} RESPONSEs for {n} commands, tokens {tokens}"
    assert all(r.opcode == protocol.Opcode.GET_STATUS for r in responses)
    assert all(r.code in (protocol.ErrorCode.OK, protocol.ErrorCode.BUSY) for r in responses), responses


def test_a_burst_of_16_commands_gets_16_responses(micropython_binary):
    responses, statuses, writes = asyncio.run(_burst(micropython_binary, 16))
    assert len(writes) == 16  # every write reached the firmware's handler
    _assert_one_response_each(responses, 16)
    ok = [r for r in responses if r.code == protocol.ErrorCode.OK]
    # Each executed GET_STATUS sent its STATUS (and the once-a-second one may come too).
    assert len(ok) <= len(statuses) <= len(ok) + 1, (len(ok), len(statuses))
    assert all(s.commands_lost == 0 for s in statuses), statuses[-1]


def test_the_burst_check_catches_a_queue_that_drops_commands(micropython_binary, tmp_path):
    # The queue as it was: a few slots and nothing kept to answer the rest.
    tree = firmware_copy(tmp_path, [("cmdqueue.py", "SLOTS = const(32)", "SLOTS = const(2)"),
                                    ("cmdqueue.py", "REFUSALS = const(64)", "REFUSALS = const(1)")])
    responses, _, writes = asyncio.run(_burst(micropython_binary, 16, tree))
    assert len(writes) == 16
    with pytest.raises(AssertionError, match="RESPONSEs for 16 commands"):
        _assert_one_response_each(responses, 16)
