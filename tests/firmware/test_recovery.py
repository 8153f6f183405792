"""Getting the REPL back on an RP2350 (glutefw.recovery): a Ctrl-C on USB, a boot window."""
import asyncio
import struct
import sys
import types

import pytest

from glutescope.virtual import upy

from test_app import Pipe, _responses, board  # noqa: F401 (board: the same fixture)


def _run_main(pipe, script):
    from glutefw import app
    from glutefw.usb import UsbLink

    async def run():
        task = asyncio.create_task(app.main(usb=UsbLink(pipe, pipe), use_ble=False))
        await asyncio.sleep_ms(50)
        await script(app.wearable)
        return task, app.wearable

    async def outer():
        task, w = await run()
        try:
            await asyncio.wait_for(task, 5)
        except asyncio.TimeoutError:
            return "still running", w
        except BaseException as exc:  # what main.py would see
            return type(exc).__name__, w
        return "returned", w

    return asyncio.run(outer())


def test_a_ctrl_c_on_usb_while_streaming_stops_the_firmware_for_the_repl(board):
    pipe = Pipe()

    async def script(w):
        pipe.send_command(0x01, 1, struct.pack("<HBH", 2000, 0b011, 104))  # mask 0x03
        await asyncio.sleep_ms(300)
        assert w.streaming
        pipe._to_device.put_nowait(b"\r\x03")  # mpremote's interrupt: no delimiter follows
        pipe._to_device.put_nowait(b"\r\x01")  # ... and its Ctrl-A

    outcome, w = _run_main(pipe, script)
    assert outcome == "Escape"
    assert not w.acq.running  # shut down cleanly: DMA and ADC stopped
    assert _responses(pipe.frames())[0] == (1, 1, 0)


def test_command_bytes_equal_to_ctrl_c_never_stop_the_firmware(board):
    pipe = Pipe()

    async def script(w):
        # START with channel mask 0b011 and token 3: two 0x03 bytes inside commands.
        pipe.send_command(0x01, 3, struct.pack("<HBH", 2000, 0b011, 104))
        await asyncio.sleep_ms(500)
        pipe.send_command(0x03, 3, struct.pack("<H", 0x0303))  # MARK 0x0303
        await asyncio.sleep_ms(1500)

    outcome, w = _run_main(pipe, script)
    assert outcome == "still running" and w.streaming
    assert _responses(pipe.frames()) == [(1, 3, 0), (3, 3, 0)]


def _fake_rp2(pressed_after_ms):
    t0 = upy.ticks_ms()
    rp2 = types.ModuleType("rp2")
    rp2.bootsel_button = lambda: int(pressed_after_ms is not None
                                     and upy.ticks_diff(upy.ticks_ms(), t0) >= pressed_after_ms)
    return rp2


class _Led:
    OUT = 1

    def __init__(self, name, mode):
        assert name == "LED"
        _Led.values = []

    def value(self, v):
        _Led.values.append(v)


@pytest.mark.parametrize("pressed_after_ms,stays", [(700, True), (None, False)])
def test_bootsel_pressed_in_the_boot_window_keeps_the_repl(monkeypatch, pressed_after_ms, stays):
    upy.install(upy.VirtualClock(speed=20.0))
    try:
        monkeypatch.setitem(sys.modules, "rp2", _fake_rp2(pressed_after_ms))
        monkeypatch.setitem(sys.modules, "machine", types.SimpleNamespace(Pin=_Led))
        from glutefw import recovery

        t0 = upy.ticks_ms()
        run_app = recovery.boot_window()
        elapsed_ms = upy.ticks_diff(upy.ticks_ms(), t0)
    finally:
        upy.install(upy.VirtualClock())
    assert run_app is not stays
    if stays:
        assert 700 <= elapsed_ms < recovery.BOOT_WINDOW_MS
    else:
        assert elapsed_ms >= recovery.BOOT_WINDOW_MS
    assert _Led.values[0] == 1 and _Led.values[-1] == 0  # blinked, and left off


def test_the_usb_reader_waits_out_end_of_input_without_spinning_and_keeps_listening():
    from glutefw.cmdqueue import CommandQueue
    from glutefw.usb import UsbLink

    class Closed:
        reads = 0

        async def read(self, n):
            Closed.reads += 1
            await asyncio.sleep(0)  # a stream at end of input answers at once
            return b""

    link = UsbLink(None, Closed(), CommandQueue())

    async def run():
        task = asyncio.create_task(link.reader_task())
        await asyncio.sleep(0.3)
        assert not task.done()  # still listening: the host may open the port again
        task.cancel()

    asyncio.run(run())
    # 20 ms apart: about 15 reads in 0.3 s (spinning made thousands)
    assert 2 <= Closed.reads <= 40, Closed.reads
