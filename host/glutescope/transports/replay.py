"""Replay a recording as if its wearable were streaming again.

The frames of a ``.glutes`` recording come out of this transport with their original
spacing (scaled by ``speed``), so the live pipeline and window see what they saw when
it was recorded (BrainFlow's ``PLAYBACK_FILE_BOARD`` idea). Commands the host sent
are in the recording too; they are skipped. A recording cannot answer commands: they
are accepted and ignored, so open the acquisition with
`glutescope.acquisition.Acquisition.open_passive`. At the end of the recording the
link is reported lost, and it cannot be opened again.
"""
from __future__ import annotations

import asyncio
import itertools
import math
import os
from pathlib import Path
from typing import Iterator, Optional

from glutescope.transports.base import Transport, TransportError


class ReplayTransport(Transport):
    """Frames of a recording, delivered at their recorded pace.

    Parameters
    ----------
    path : str or os.PathLike
        A ``<name>.glutes`` recording.
    speed : float
        Play this many times faster than recorded (> 0); 0 or ``math.inf`` delivers
        every frame as fast as the consumer takes them.

    Raises
    ------
    ValueError
        If ``speed`` is negative or NaN.
    """

    record_source = 4  # RecordSource.VIRTUAL: "the virtual wearable, or a replay"

    def __init__(self, path: str | os.PathLike, speed: float = 1.0) -> None:
        super().__init__()
        speed = float(speed)
        if math.isnan(speed) or speed < 0:
            raise ValueError(f"speed must be > 0, or 0 / inf for as fast as possible, got {speed}")
        self.path = Path(path)
        self.speed = speed
        self.description = f"replay of {self.path.name}"
        self.n_delivered = 0
        """Frames delivered so far."""
        self.finished = False
        """True once every frame of the recording was delivered."""
        self._player: Optional[asyncio.Task] = None
        self._opened = False
        self.read_error: Optional[OSError] = None
        """Set when reading the recording failed during the replay (it ended there)."""

    @property
    def as_fast_as_possible(self) -> bool:
        return self.speed == 0 or math.isinf(self.speed)

    async def connect(self) -> None:
        """Read the recording and start delivering its frames.

        Raises
        ------
        glutescope.recording.RecordingError
            If there is no readable recording at ``path`` (an `OSError`).
        TransportError
            If the replay was already played (a recording plays once per transport).
        """
        from glutescope.recording import RecordingReader

        if self._opened:
            raise TransportError(f"the replay of {self.path.name} has ended")
        # Read as it plays, never whole (a day's log is hundreds of MB); the first record
        # is read here, so a missing or unreadable recording fails in connect().
        records = ((r.t_host_ns, r.frame) for r in RecordingReader(self.path) if not r.host_to_device)
        first = next(records, None)
        self._opened = True
        self._player = asyncio.create_task(self._play(first, records), name=f"replay {self.path.name}")

    async def _play(self, first: Optional[tuple[int, bytes]], rest: Iterator[tuple[int, bytes]]) -> None:
        from glutescope.recording import RecordingError

        loop = asyncio.get_running_loop()
        started = loop.time()
        t0_ns = first[0] if first is not None else 0
        try:
            await self._deliver_all(first, rest, loop, started, t0_ns)
        except RecordingError as exc:  # the disk failed mid-way: the link ends there
            self.read_error = exc
        self._player = None
        self._lost()

    async def _deliver_all(self, first: Optional[tuple[int, bytes]], records: Iterator[tuple[int, bytes]],
                           loop: asyncio.AbstractEventLoop, started: float, t0_ns: int) -> None:
        if first is None:
            self.finished = True
            return
        for t_ns, frame in itertools.chain((first,), records):
            if self.as_fast_as_possible:
                await asyncio.sleep(0)  # let the consumer keep pace
            else:
                # Against the start, not the previous frame, so sleep overshoot never accumulates.
                due = started + (t_ns - t0_ns) / 1e9 / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._deliver(frame)
            self.n_delivered += 1
        self.finished = True

    @property
    def connected(self) -> bool:
        return self._player is not None

    async def send_command(self, command: bytes) -> None:
        """Accept and ignore: a recording cannot answer (no RESPONSE will come)."""
        if self._player is None:
            raise TransportError(f"the replay of {self.path.name} is not playing")

    async def reconnect(self) -> None:
        raise TransportError(f"the replay of {self.path.name} has ended")

    async def close(self) -> None:
        player, self._player = self._player, None
        if player is not None:
            player.cancel()
            try:
                await player
            except asyncio.CancelledError:
                pass
