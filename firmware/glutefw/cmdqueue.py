"""Commands from the radio or USB handler to the control task, with no allocation in ``put``.

Several control writes can arrive back to back before any task runs: btstack delivers
every write of a connection event in one poll (several ``_IRQ_GATTS_WRITE`` within one
millisecond), and one USB read can hold several commands. The IRQ handler cannot send,
so it must keep, for every command, at least what its RESPONSE needs:

* up to ``SLOTS`` commands are kept whole, in arrival order, and executed;
* once those are full, up to ``REFUSALS`` more are kept as ``(opcode, token)`` only and
  answered ``BUSY`` (PROTOCOL.md): the host sends them again later;
* once a refusal has been recorded, later commands are refused too until the refusals
  are answered, so RESPONSEs leave in the order the commands came;
* beyond that a command cannot be answered at all; it is counted in ``lost`` (and in
  STATUS) so that the loss is never silent.

A slot holds the first ``SLOT_BYTES`` bytes and the true length: every valid command is
at most 9 bytes (PROTOCOL.md "Commands"), so a longer write is refused ``BAD_LENGTH`` from
its length alone, with its own opcode and token.

``put`` only copies bytes into preallocated buffers and sets a flag (the BLE handler's
``gatts_read`` allocates the value it returns; that happens in the scheduled IRQ, not
here).
"""
import asyncio

from micropython import const

SLOTS = const(32)
REFUSALS = const(64)
SLOT_BYTES = const(16)
REFUSED = const(-1)  # the ``n`` that ``get`` returns for a command to answer BUSY


class CommandQueue:
    """Commands waiting for the control task; ``put`` is IRQ-safe, ``get`` is awaited."""

    def __init__(self):
        self._bufs = [bytearray(SLOT_BYTES) for _ in range(SLOTS)]
        self._lens = [0] * SLOTS
        self._head = 0  # next slot to read
        self._count = 0
        self._refused = bytearray(2 * REFUSALS)  # (opcode, token) pairs
        self._r_head = 0
        self._r_count = 0
        self._out = bytearray(2)  # what get() hands back for a refusal
        self.refused = 0  # commands answered BUSY because every slot was full
        self.lost = 0  # commands that could not even be recorded for an answer
        self._flag = asyncio.ThreadSafeFlag()

    def put(self, data):
        """Take one command (IRQ-safe, allocates nothing).

        Returns True if it was queued for execution, False if it will be answered
        ``BUSY`` or (counted in ``lost``) not at all.
        """
        n = len(data)
        if self._r_count == 0 and self._count < SLOTS:
            slot = (self._head + self._count) % SLOTS
            buf = self._bufs[slot]
            m = n if n < SLOT_BYTES else SLOT_BYTES
            for i in range(m):
                buf[i] = data[i]
            self._lens[slot] = n
            self._count += 1
            self._flag.set()
            return True
        if self._r_count < REFUSALS:
            i = 2 * ((self._r_head + self._r_count) % REFUSALS)
            self._refused[i] = data[0] if n > 0 else 0
            self._refused[i + 1] = data[1] if n > 1 else 0
            self._r_count += 1
            self.refused += 1
            self._flag.set()
        else:
            self.lost += 1
        return False

    def pending(self):
        """Commands waiting (queued and refused)."""
        return self._count + self._r_count

    async def get(self):
        """Wait for the next command; return ``(buf, n)``.

        ``n`` is the command's length and ``buf`` holds its first bytes, or ``n`` is
        `REFUSED` and ``buf[0]``, ``buf[1]`` are the opcode and token to answer ``BUSY``.
        Read ``buf`` before the next ``await``: once its slot is free a later ``put``
        may reuse it.
        """
        while self._count == 0 and self._r_count == 0:
            await self._flag.wait()
        if self._count:
            slot = self._head
            self._head = (self._head + 1) % SLOTS
            self._count -= 1
            return self._bufs[slot], self._lens[slot]
        i = 2 * self._r_head
        self._out[0] = self._refused[i]
        self._out[1] = self._refused[i + 1]
        self._r_head = (self._r_head + 1) % REFUSALS
        self._r_count -= 1
        return self._out, REFUSED
