"""Observe a live session at its existing seams, for the latency and throughput benchmarks.

Nothing here changes what the pipeline does: each seam is wrapped so that the original
runs unchanged and a monotonic timestamp is taken around it.

Seams (all on the acquisition thread, so no locking is needed):

- ``ble_shim.BLE.gatts_notify``: the firmware hands a frame to the BLE stack (only when
  the wearable runs in this process).
- ``Transport._deliver`` (per instance): the frame reached the host and was queued;
  gives the queue's high-water mark.
- ``Acquisition.handle``: the consumer took a frame off the queue, and how much CPU the
  record + decode + dispatch + live processing of it cost (``time.thread_time_ns``).
- ``protocol.decode_frame``: which frame is being handled (its device time and index).
- ``LiveProcessor.push_emg`` and its envelope ring's ``write``: when the envelope of a
  block is in the ring the UI reads.
"""
from __future__ import annotations

import pathlib
import sys
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
for _part in ("host", "signal"):
    if str(ROOT / _part) not in sys.path:
        sys.path.insert(0, str(ROOT / _part))

#: MicroPython's ticks_us wraps here; the frames carry device time modulo this.
TICKS_PERIOD_US = 1 << 30
#: Names given to the EMG rows, in ADC input order.
CHANNEL_NAMES = ("glute_max_left", "glute_max_right", "glute_med_left")
#: What the Pico 2 W firmware supports (firmware/glutefw/config.py).
EMG_RATES_HZ = (500, 1000, 1500, 2000)
MAX_CHANNELS = 3


@dataclass(frozen=True)
class BlockTiming:
    """When one live EMG block passed each seam (host monotonic ns unless said otherwise)."""

    seq: int
    """Frame sequence number."""
    t_device_us: int
    """Firmware's stamp of the block's first sample, device µs modulo 2**30."""
    first_sample: int
    """Stream index of the first sample."""
    n_samples: int
    """Samples per channel in the block."""
    sent_ns: Optional[int]
    """Firmware handed the frame to the BLE stack (None when the wearable is remote)."""
    received_ns: int
    """``ReceivedFrame.t_host_ns``: the BLE notify callback on the host."""
    handled_ns: int
    """The consumer took the frame off the queue."""
    envelope_ns: int
    """The block's envelope was written to the ring the UI reads."""


class PipelineProbe:
    """Install with `install`, remove with `uninstall`; read the records afterwards."""

    def __init__(self) -> None:
        self.blocks: list[BlockTiming] = []
        self.sent_ns: dict[bytes, int] = {}
        self.queue_high_water = 0
        self.frames_handled = 0
        self.handle_cpu_ns = 0
        """Thread CPU spent in ``Acquisition.handle`` (record, decode, dispatch, live processing)."""
        self.update_cpu_ns = 0
        """Thread CPU spent in ``LiveProcessor.update_link`` (quality grades, status)."""
        self.emg_samples_in = 0
        self.arrivals: list[tuple[int, int]] = []
        """(received_ns, stream end index) after each live EMG frame: the stream's progress."""
        self._restore: list[tuple[object, str, object]] = []
        self._received = None
        self._frame = None
        self._envelope_ns = 0

    # -- installation ----------------------------------------------------------------
    def _patch(self, owner: object, name: str, wrapper) -> None:
        self._restore.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)))
        setattr(owner, name, wrapper)

    def install(self, *, firmware_side: bool) -> None:
        from glutescope import protocol
        from glutescope.acquisition import Acquisition
        from glutescope.live import LiveProcessor

        probe = self
        decode = protocol.decode_frame
        handle = Acquisition.handle
        push_emg = LiveProcessor.push_emg
        update_link = LiveProcessor.update_link

        def decode_frame(data):
            frame = decode(data)
            probe._frame = frame
            return frame

        def handle_wrapper(acq, received):
            probe._received = received
            probe._frame = None
            taken_ns = time.monotonic_ns()
            cpu0 = time.thread_time_ns()
            try:
                handle(acq, received)
            finally:
                probe.handle_cpu_ns += time.thread_time_ns() - cpu0
                probe.frames_handled += 1
                probe._received = None
            frame = probe._frame
            sent_ns = probe.sent_ns.pop(received.data, None)
            if isinstance(frame, protocol.EmgBlock) and not frame.backfill:
                probe.arrivals.append((received.t_host_ns, frame.first_sample + frame.n_samples))
                if probe._envelope_ns:
                    probe.blocks.append(BlockTiming(
                        frame.seq, frame.t_device_us, frame.first_sample, frame.n_samples,
                        sent_ns, received.t_host_ns, taken_ns,
                        probe._envelope_ns))
            probe._envelope_ns = 0

        def push_emg_wrapper(processor, first_sample, emg_uV):
            ring = processor.state.envelope
            if "write" not in ring.__dict__:
                write = ring.write

                def write_and_stamp(data):
                    write(data)
                    probe._envelope_ns = time.monotonic_ns()

                ring.write = write_and_stamp
            push_emg(processor, first_sample, emg_uV)
            if probe._received is None:
                probe._envelope_ns = 0  # a block held back before the processor existed

        def update_link_wrapper(processor, *args, **kwargs):
            cpu0 = time.thread_time_ns()
            try:
                return update_link(processor, *args, **kwargs)
            finally:
                probe.update_cpu_ns += time.thread_time_ns() - cpu0

        self._patch(protocol, "decode_frame", decode_frame)
        self._patch(Acquisition, "handle", handle_wrapper)
        self._patch(LiveProcessor, "push_emg", push_emg_wrapper)
        self._patch(LiveProcessor, "update_link", update_link_wrapper)
        if firmware_side:
            from glutescope.virtual import ble_shim

            gatts_notify = ble_shim.BLE.gatts_notify

            def gatts_notify_wrapper(ble, conn_handle, value_handle, data=None):
                gatts_notify(ble, conn_handle, value_handle, data)
                if data is not None:
                    probe.sent_ns[bytes(data)] = time.monotonic_ns()

            self._patch(ble_shim.BLE, "gatts_notify", gatts_notify_wrapper)

    def watch_transport(self, transport) -> None:
        """Track the high-water mark of ``transport.frames`` (the frames not yet handled)."""
        deliver = transport._deliver
        probe = self

        def deliver_and_count(data):
            deliver(data)
            depth = transport.frames.qsize()
            if depth > probe.queue_high_water:
                probe.queue_high_water = depth

        transport._deliver = deliver_and_count

    def uninstall(self) -> None:
        while self._restore:
            owner, name, original = self._restore.pop()
            setattr(owner, name, original)


def channel_mask(n_channels: int) -> int:
    """ADC0 .. ADC(n-1)."""
    return (1 << n_channels) - 1


def percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")
