"""Getting the REPL back on the real interpreter: BOOTSEL in the boot window, Ctrl-C on USB.

On an RP2350, BOOTSEL held at power-up starts the ROM bootloader, so the firmware offers
a window after boot instead, and takes a lone Ctrl-C on USB (not followed by a frame
delimiter) as a person's. Both must end ``main.py`` and leave the interpreter running
(here: the script returns and the process exits 0).

On the real interpreter ``sys.stdin.buffer.read(64)`` (what the asyncio StreamReader
calls once stdin is readable) blocks the whole VM until 64 bytes or end of file have
arrived: a lone Ctrl-C, or one short USB command, freezes the firmware. The unix port
shows it here; the rp2 port's stdin stream reads a given size the same way. Until
``glutefw/usb.py`` reads what is available (``read(1)`` makes both tests below pass, as
the last two tests show on a copy), the two are expected failures.
"""
import asyncio

import pytest

from glutescope import protocol
from glutescope.framing import CobsStreamDecoder, encode_command_packet
from realstack_harness import RealStack, firmware_copy

pytestmark = pytest.mark.slow

_CTRL_C = b"\x03"


async def _boot_with_bootsel(binary, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, bootsel=True, **kwargs) as stack:
        try:
            code = await stack.wait_exit(8)
        except asyncio.TimeoutError:
            code = None  # still running: the firmware took over
        return code, stack.advertising


def test_bootsel_in_the_boot_window_keeps_the_repl(micropython_binary):
    code, advertised = asyncio.run(_boot_with_bootsel(micropython_binary))
    assert (code, advertised) == (0, False)


def test_the_bootsel_check_catches_a_firmware_that_ignores_the_window(micropython_binary, tmp_path):
    tree = firmware_copy(tmp_path, [("main.py", "if recovery.boot_window():", "if True:")])
    code, advertised = asyncio.run(_boot_with_bootsel(micropython_binary, tree))
    assert code is None and advertised


async def _ctrl_c_on_usb(binary, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, **kwargs) as stack:
        await stack.wait_advertising()
        await stack.type_on_usb(_CTRL_C)
        try:
            code = await stack.wait_exit(8)
        except asyncio.TimeoutError:
            code = None
        return code, stack.usb_tail, stack.stderr()


# The planted fault: a reader that asks stdin for 64 bytes, which on MicroPython blocks
# the VM until 64 bytes arrive (the firmware did this once).
_READ_64 = [
    ("usb.py", "self._reader.read(1), recovery.ESCAPE_MS", "self._reader.read(64), recovery.ESCAPE_MS"),
    ("usb.py", "data = await self._reader.read(1)", "data = await self._reader.read(64)"),
]


def _assert_stopped_for_the_repl(code, usb, stderr):
    assert code == 0, f"the firmware did not stop for the REPL after a Ctrl-C:\n{stderr}"
    assert b"glutescope: stopped for the REPL" in usb


def test_a_lone_ctrl_c_on_usb_stops_the_firmware_for_the_repl(micropython_binary):
    _assert_stopped_for_the_repl(*asyncio.run(_ctrl_c_on_usb(micropython_binary)))


def test_a_reader_waiting_for_64_bytes_never_sees_the_ctrl_c(micropython_binary, tmp_path):
    code, _, _ = asyncio.run(_ctrl_c_on_usb(micropython_binary, firmware_copy(tmp_path, _READ_64)))
    assert code != 0, "the planted blocking read should have kept the firmware from stopping"


async def _usb_command(binary, tree=None):
    kwargs = {} if tree is None else {"firmware": tree}
    async with RealStack(binary, **kwargs) as stack:
        await stack.wait_advertising()
        await asyncio.sleep(0.2)
        await stack.type_on_usb(encode_command_packet(protocol.encode_get_info(7)))
        await asyncio.sleep(1.5)
        packets = CobsStreamDecoder().feed(stack.usb_tail)  # the last 4 kB: STATUS frames and any answer
        frames = []
        for packet in packets:
            try:
                frames.append(protocol.decode_frame(packet))
            except protocol.FrameError:
                pass
        return [f for f in frames if isinstance(f, protocol.Response)]  # only commands get these


def _assert_answered(responses):
    assert [(r.opcode, r.token, r.code) for r in responses] == [
        (protocol.Opcode.GET_INFO, 7, protocol.ErrorCode.OK)], responses


def test_a_usb_command_is_answered_on_usb(micropython_binary):
    _assert_answered(asyncio.run(_usb_command(micropython_binary)))


def test_a_reader_waiting_for_64_bytes_leaves_a_usb_command_unanswered(micropython_binary, tmp_path):
    assert asyncio.run(_usb_command(micropython_binary, firmware_copy(tmp_path, _READ_64))) == []
