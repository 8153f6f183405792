"""The command queue between the radio/USB handler and the control task."""
import asyncio

from glutefw import cmdqueue
from glutefw.cmdqueue import REFUSED, CommandQueue


def _drain(q):
    async def take():
        out = []
        while q.pending():
            buf, n = await q.get()
            out.append((bytes(buf[:2]), n))
        return out

    return asyncio.run(take())


def test_a_burst_beyond_the_slots_is_refused_in_order_and_only_the_excess_is_lost():
    q = CommandQueue()
    burst = cmdqueue.SLOTS + cmdqueue.REFUSALS + 5
    queued = [q.put(bytes([0x04, t & 0xFF, 1, 2, 3, 4])) for t in range(burst)]
    assert queued == [True] * cmdqueue.SLOTS + [False] * (burst - cmdqueue.SLOTS)
    assert (q.refused, q.lost) == (cmdqueue.REFUSALS, 5)
    got = _drain(q)
    assert [b[1] for b, _ in got] == [t & 0xFF for t in range(cmdqueue.SLOTS + cmdqueue.REFUSALS)]
    assert [n for _, n in got] == [6] * cmdqueue.SLOTS + [REFUSED] * cmdqueue.REFUSALS


def test_once_refusing_later_commands_wait_behind_the_refusals():
    # A slot freed by the control task must not let a newer command overtake the
    # refused ones: RESPONSEs leave in the order the commands came.
    q = CommandQueue()
    for t in range(cmdqueue.SLOTS + 1):
        q.put(bytes([0x07, t]))

    async def one():
        return await q.get()

    buf, n = asyncio.run(one())
    assert (buf[1], n) == (0, 2)
    assert q.put(bytes([0x07, 200])) is False  # a slot is free, but a refusal is waiting
    got = _drain(q)
    assert [b[1] for b, _ in got][-2:] == [cmdqueue.SLOTS, 200]
    assert [n for _, n in got][-2:] == [REFUSED, REFUSED]
    assert q.put(bytes([0x07, 201])) is True  # refusals answered: queueing resumes


def test_a_write_longer_than_a_slot_keeps_its_true_length_and_opcode():
    q = CommandQueue()
    q.put(bytes([0x01, 9]) + bytes(60))
    (head, n), = _drain(q)
    assert head == bytes([0x01, 9]) and n == 62  # parse answers BAD_LENGTH from n


def test_an_empty_write_is_still_answered():
    q = CommandQueue()
    q.put(b"")
    (_, n), = _drain(q)
    assert n == 0
