"""Commands from the radio or USB IRQ to the control task, without allocation.

The BLE IRQ handler's memoryview is valid only during the call, so ``put`` copies it
into one of a few preallocated slots and sets a flag; the control task awaits ``get``.
"""
import asyncio

from micropython import const

_SLOTS = const(4)
_SLOT_BYTES = const(64)


class CommandQueue:
    def __init__(self):
        self._bufs = [bytearray(_SLOT_BYTES) for _ in range(_SLOTS)]
        self._lens = [0] * _SLOTS
        self._head = 0  # next slot to read
        self._count = 0
        self.dropped = 0  # commands refused because every slot was full
        self._flag = asyncio.ThreadSafeFlag()

    def put(self, data):
        """Copy one command in (IRQ-safe). Returns False if the queue is full."""
        if self._count >= _SLOTS:
            self.dropped += 1
            return False
        slot = (self._head + self._count) % _SLOTS
        n = len(data)
        if n > _SLOT_BYTES:
            n = _SLOT_BYTES  # longer than any command: the length check will refuse it
        self._bufs[slot][:n] = data[:n]
        self._lens[slot] = len(data)
        self._count += 1
        self._flag.set()
        return True

    async def get(self):
        """Wait for a command; return ``(buf, n)``. ``buf`` stays valid until the next get."""
        while self._count == 0:
            await self._flag.wait()
        slot = self._head
        self._head = (self._head + 1) % _SLOTS
        self._count -= 1
        return self._bufs[slot], self._lens[slot]
