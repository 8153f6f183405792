"""The firmware's sender on the real ``bluetooth`` module (MicroPython 1.29 + btstack).

Runs the firmware's own ``glutefw.ble``, ``glutefw.cmdqueue`` and ``glutefw.flow`` in a
real MicroPython unix-port binary built with btstack (../shared/tools/micropython-btstack,
its README says how it was built), with a bumble controller on the binary's HCI UART
(a pty) and a bumble central on the same in-memory link. It prints, per sender:

* a burst of control writes (Write Without Response, back to back): how many reached the
  command queue, how many it will answer BUSY, how many it lost;
* 600 notifications of 244 bytes: time, notifications/s the central received, the
  largest drop of ``gc.mem_free()`` on the firmware side (btstack's queued copies plus
  garbage not yet collected), MemoryErrors, and the flow control's waits.

Senders: ``old`` (notify back to back, never yielding: the sender before flow control),
``yield`` (a yield after each notify, no budget) and ``flow`` (the firmware's: budget,
heap-queue bound, yield). bumble models no air time: rates are CPU figures of this
machine, not of a radio.

Run: ``python benchmarks/btstack_sender.py [--burst 40] [--binary PATH]``
"""
from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_BINARY = ROOT.parent / "shared" / "tools" / "micropython-btstack" / "micropython"
N_NOTIFY = 600

FIRMWARE_SIDE = r'''
import asyncio, gc, sys, time
import bluetooth
from glutefw.ble import BlePeripheral
from glutefw.cmdqueue import CommandQueue
from glutefw.flow import LinkFlow
from glutefw import config

MODE = sys.argv[1]
N = int(sys.argv[2])
q = CommandQueue()
p = BlePeripheral(bluetooth.BLE(), "glutescope-BENCH", q)
p.start(bytes(28), "bench", "bench", "0")

async def main():
    while not p.connected or p.payload_max < 244:
        await asyncio.sleep_ms(5)
    await q.get()  # the burst's first command wakes us; the rest came in the same poll(s)
    await asyncio.sleep_ms(200)
    print("BURST", 1 + q.pending(), q.refused, q.lost)
    while q.pending():
        await q.get()
    await q.get()  # "go"
    flow = LinkFlow(config.BLE_LINK_BYTES_PER_S, config.BLE_LINK_BURST_BYTES,
                    config.HEAP_FLOOR_BYTES, config.BLE_QUEUE_MAX_BYTES)
    frame = bytearray(244)
    gc.collect()
    free0 = low = gc.mem_free()
    t0 = time.ticks_ms()
    for i in range(N):
        frame[0] = i & 0xFF
        if MODE == "flow":
            await flow.admit(len(frame))
        await p.send(frame)
        if MODE != "old":
            await asyncio.sleep_ms(0)
        f = gc.mem_free()
        if f < low:
            low = f
    print("SENT", time.ticks_diff(time.ticks_ms(), t0), free0 - low, p.notify_memory_errors,
          flow.heap_waits, flow.budget_waits)
    await asyncio.sleep_ms(3000)

asyncio.run(main())
'''


def _controller_class():
    from bumble.controller import Controller
    from bumble.crypto import e as aes_e

    class BtstackController(Controller):
        """bumble's controller plus the two HCI commands btstack sends that it lacks."""

        def on_packet(self, packet: bytes) -> None:
            if packet[0] == 0x01:  # HCI command
                opcode = packet[1] | packet[2] << 8
                if opcode == 0xFC09:  # Zephyr Read Static Addresses: "unknown"
                    self._complete(opcode, b"\x01")
                    return
                if opcode == 0x2017:  # LE Encrypt: AES-128 of key and plaintext
                    self._complete(opcode, b"\x00" + aes_e(bytes(packet[4:20]), bytes(packet[20:36])))
                    return
            super().on_packet(packet)

        def _complete(self, opcode: int, params: bytes) -> None:
            body = bytes([1, opcode & 0xFF, opcode >> 8]) + params
            self.host.on_packet(bytes([0x04, 0x0E, len(body)]) + body)

    return BtstackController


class _HostSide:
    """An in-process HCI pair between a bumble host and its controller."""

    def __init__(self) -> None:
        self.sink = None

    def set_packet_sink(self, sink) -> None:
        self.sink = sink

    def on_packet(self, packet: bytes) -> None:
        if self.sink is not None:
            self.sink.on_packet(packet)


async def run_once(binary: pathlib.Path, mode: str, burst: int, acl_bytes: int, workdir: pathlib.Path) -> dict:
    from bumble.controller import Controller
    from bumble.device import Device, Peer
    from bumble.hci import Address
    from bumble.link import LocalLink
    from bumble.transport.pty import open_pty_transport

    link = LocalLink()
    pty_path = workdir / f"hci-{mode}"
    transport = await open_pty_transport(str(pty_path))
    controller = _controller_class()("firmware", host_source=transport.source, host_sink=transport.sink, link=link)
    controller.le_acl_data_packet_length = acl_bytes  # reported to btstack: its HCI fragment size
    host_side = _HostSide()
    central_controller = Controller("central", host_source=None, host_sink=host_side, link=link)
    central = Device.with_hci("central", Address("F0:F1:F2:F3:F4:F5"), host_side, central_controller)
    await central.power_on()
    script = workdir / "firmware_side.py"
    script.write_text(FIRMWARE_SIDE, encoding="utf-8")
    env = dict(os.environ, MICROPYBTUART=str(pty_path), MICROPYPATH=f"{ROOT / 'firmware'}:.frozen")
    proc = await asyncio.create_subprocess_exec(
        str(binary), "-X", "heapsize=2M", str(script), mode, str(N_NOTIFY), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out: dict = {}
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            word, *values = line.split()
            if word in ("BURST", "SENT"):
                out[word] = [int(v) for v in values]

    reader = asyncio.create_task(read())
    try:
        found = asyncio.get_running_loop().create_future()
        central.on("advertisement", lambda adv: found.done() or found.set_result(adv.address))
        await central.start_scanning()
        address = await asyncio.wait_for(found, 10)
        await central.stop_scanning()
        connection = await asyncio.wait_for(central.connect(address), 10)
        peer = Peer(connection)
        await peer.request_mtu(247)
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
        chars = {str(c.uuid).lower()[:8]: c for s in peer.services for c in s.characteristics}
        received: list[float] = []
        await peer.subscribe(chars["5a1c0002"], lambda _value: received.append(time.monotonic()))
        await asyncio.sleep(0.2)
        for token in range(burst):  # GET_STATUS, back to back
            await peer.write_value(chars["5a1c0003"], bytes([0x07, token]), with_response=False)
        await asyncio.sleep(0.6)
        await peer.write_value(chars["5a1c0003"], b"\x07\xff", with_response=False)
        t0 = time.monotonic()
        while (len(received) < N_NOTIFY or "SENT" not in out) and time.monotonic() - t0 < 20:
            await asyncio.sleep(0.05)
        out["received"] = len(received)
        out["rate"] = len(received) / (received[-1] - t0) if len(received) > 1 else 0.0
    except asyncio.TimeoutError:
        raise SystemExit("the firmware never advertised or connected:\n" + "\n".join(lines[-20:])) from None
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        reader.cancel()
        await transport.close()
    if "SENT" not in out:
        raise SystemExit(f"the firmware side ({mode}) did not finish:\n" + "\n".join(lines[-20:]))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=40, help="control writes sent back to back (default 40)")
    parser.add_argument("--acl-bytes", type=int, default=27,
                        help="HCI LE ACL buffer size the controller reports; 27 (bumble's default, as "
                             "without data length extension) fragments each notification into ~10 "
                             "packets, 251 sends it whole (default 27)")
    parser.add_argument("--binary", type=pathlib.Path, default=DEFAULT_BINARY,
                        help="MicroPython unix port built with btstack (default: ../shared/tools/...)")
    args = parser.parse_args(argv[1:])
    if not args.binary.exists():
        print(f"skipped: no MicroPython + btstack binary at {args.binary} "
              "(../shared/tools/micropython-btstack/README.md says how to build one)")
        return 0
    print(f"real MicroPython 1.29 + btstack; burst of {args.burst} control writes; "
          f"{N_NOTIFY} notifications of 244 B; HCI ACL {args.acl_bytes} B")
    print(f"{'sender':<7} {'queued':>6} {'BUSY':>5} {'lost':>5} {'send ms':>8} {'notif/s':>8} "
          f"{'heap drop kB':>12} {'MemoryError':>11} {'heap waits':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("old", "yield", "flow"):
            r = asyncio.run(run_once(args.binary, mode, args.burst, args.acl_bytes, pathlib.Path(tmp)))
            n_in, refused, lost = r.get("BURST", (0, 0, 0))
            ms, drop, mem_errors, heap_waits, _budget_waits = r.get("SENT", (0, 0, 0, 0, 0))
            print(f"{mode:<7} {n_in - refused:>6} {refused:>5} {lost:>5} {ms:>8} {r['rate']:>8.0f} "
                  f"{drop / 1000:>12.1f} {mem_errors:>11} {heap_waits:>10}")
    print("heap drop: largest fall of gc.mem_free() while sending (queued copies + garbage)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
