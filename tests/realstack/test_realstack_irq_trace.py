"""The CPython ``ble_shim`` must raise the events the real ``bluetooth`` module raises.

One host scenario (connect, read the info characteristic, subscribe, GET_INFO, START,
stream, STOP, disconnect) runs twice through the host's own BLE transport: against the
firmware on the real MicroPython + btstack, and against the virtual wearable, whose
firmware runs on CPython over ``glutescope.virtual.ble_shim``. Both record every event
the firmware's IRQ handler receives, normalised (event number, integers as they are,
buffers by length: no addresses; attribute handles by their place among the handles
``gatts_register_services`` returned), and the two sequences must be the same.

Absolute handles differ, and that is the stacks' own business: btstack's GAP and GATT
services take handles 1-6, bumble's (under the shim) more, so every handle of the
firmware's services is shifted by the same amount. The layout of the firmware's own
services, relative to their first handle, must be the same.
"""
import asyncio

import pytest

from glutescope import protocol
from glutescope.transports.virtual import VirtualTransport
from glutescope.virtual import ble_shim
from realstack_checks import wait_until
from realstack_harness import RealStack

pytestmark = pytest.mark.slow

_MASK = 0b011  # the virtual wearable's body model drives two inputs


_GATTS_WRITE = 3
_GATTS_READ_REQUEST = 4


def normalised(event, data):
    out = [event]
    for x in data or ():
        out.append(x if isinstance(x, int) else f"b{len(x)}")
    return tuple(out)


def by_place(trace, handles):
    """Attribute handles of writes and read requests as ``"h<i>"``: the i-th registered."""
    out = []
    for e in trace:
        if e[0] in (_GATTS_WRITE, _GATTS_READ_REQUEST) and len(e) > 2:
            e = e[:2] + (f"h{handles.index(e[2])}" if e[2] in handles else f"unregistered {e[2]}",) + e[3:]
        out.append(e)
    return out


async def _scenario(transport):
    await transport.connect()
    responses = []

    async def collect():
        while True:
            frame = protocol.decode_frame((await transport.frames.get()).data)
            if isinstance(frame, protocol.Response):
                responses.append(frame)

    collector = asyncio.create_task(collect())
    try:
        for token, command in ((1, protocol.encode_get_info(1)),
                               (2, protocol.encode_start(2, 2000, _MASK, 104))):
            await transport.send_command(command)
            await wait_until(lambda: any(r.token == token for r in responses), 5, f"the answer to {token}")
        await asyncio.sleep(0.5)
        await transport.send_command(protocol.encode_stop(3))
        await wait_until(lambda: any(r.token == 3 for r in responses), 5, "the answer to STOP")
    finally:
        collector.cancel()
        await transport.close()
    await asyncio.sleep(0.3)  # the disconnection reaches the firmware
    return [(r.token, r.code) for r in responses]


async def _real(binary):
    async with RealStack(binary, trace_irq=True) as stack:
        await stack.wait_advertising()
        answers = await _scenario(stack.transport())
        handles = stack.registered_handles()
        return by_place(stack.irq_trace(), handles), answers, handles


async def _shim(monkeypatch, drop_event=None):
    trace = []
    irq = ble_shim.BLE._irq

    def traced(self, event, data):
        if event == drop_event:
            return None  # a planted drift: the shim never raises this event
        trace.append(normalised(event, data))
        return irq(self, event, data)

    handles = []
    register = ble_shim.BLE.gatts_register_services

    def registered(self, services):
        result = register(self, services)
        handles[:] = [h for service in result for h in service]
        return result

    monkeypatch.setattr(ble_shim.BLE, "_irq", traced)
    monkeypatch.setattr(ble_shim.BLE, "gatts_register_services", registered)
    answers = await _scenario(VirtualTransport(exercise="rest", speed=1.0, imu_fs_hz=104.0))
    return by_place(trace, handles), answers, handles


def test_the_shim_raises_the_irq_events_of_the_real_module(micropython_binary, monkeypatch):
    real, real_answers, real_handles = asyncio.run(_real(micropython_binary))
    shim, shim_answers, shim_handles = asyncio.run(_shim(monkeypatch))
    assert real_answers == shim_answers == [(1, 0), (2, 0), (3, 0)]
    assert len(real_handles) == len(shim_handles) == 7
    assert [h - real_handles[0] for h in real_handles] == [h - shim_handles[0] for h in shim_handles], \
        (real_handles, shim_handles)
    assert_same_trace(real, shim)


def assert_same_trace(real, shim):
    assert shim == real, "ble_shim's IRQ events differ from btstack's:\n" + "\n".join(
        f"{i:3d}  real {r!s:24}  shim {s!s}" for i, (r, s) in enumerate(
            zip(real + [None] * (len(shim) - len(real)), shim + [None] * (len(real) - len(shim)))))


def test_the_comparison_catches_a_shim_without_read_requests(micropython_binary, monkeypatch):
    # The shim as it was before it followed btstack: no _IRQ_GATTS_READ_REQUEST.
    real, _, _ = asyncio.run(_real(micropython_binary))
    shim, _, _ = asyncio.run(_shim(monkeypatch, drop_event=_GATTS_READ_REQUEST))
    with pytest.raises(AssertionError, match="differ from btstack's"):
        assert_same_trace(real, shim)
