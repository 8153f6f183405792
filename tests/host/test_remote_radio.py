"""The virtual wearable in its own process, reached from this one over loopback TCP.

The wearable process is started as a user would (``python -m glutescope.virtual.serve``);
this process is the host, using bleak's public API with the bumble backend on a
`RemoteRadio`. Everything listens on 127.0.0.1 on ports the OS picks.
"""
import asyncio
import contextlib
import os
import pathlib
import signal
import socket
import sys

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bumble import gatt, hci

from glutescope import protocol
from glutescope.transports.bumble_backend import backends_for
from glutescope.virtual import serve
from glutescope.virtual.remote import RadioRelay, RemoteRadio

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0  # a cold interpreter importing numpy, scipy and bumble on a busy machine
STEP_TIMEOUT_S = 20.0
EMG_FS_HZ = 2000
WEARABLE = "E4:5A:1C:00:3F:2A"


def run(coro, timeout_s=180.0):
    """Run one test coroutine; the timeout only keeps a hung link from hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def _env():
    env = dict(os.environ)
    paths = [str(ROOT / "host"), str(ROOT / "signal")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@contextlib.asynccontextmanager
async def process(module, *args):
    """A Python module run in a child process; killed on the way out whatever happened."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, env=_env(), cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()


async def ready_line(proc, prefix):
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
        if not line:
            err = await proc.stderr.read()
            raise AssertionError(f"child exited before it was ready:\n{err.decode(errors='replace')}")
        text = line.decode()
        if text.startswith(prefix):
            return text.strip()


async def stop(proc):
    """SIGTERM, then the exit status and stderr (bounded wait)."""
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT_S)
    return proc.returncode, err.decode(errors="replace")


def is_wearable(_device, adv):
    return protocol.SERVICE_UUID in adv.service_uuids


async def stream(client, frames, n_emg_samples):
    """Start EMG (2 channels, 2 kHz) and IMU and collect frames until ``n_emg_samples`` arrived."""
    enough = asyncio.Event()

    def on_frame(_char, data):
        frames.append(protocol.decode_frame(data))  # raises on a bad CRC or length
        if sum(f.samples.shape[1] for f in frames if isinstance(f, protocol.EmgBlock)) >= n_emg_samples:
            enough.set()

    await client.start_notify(protocol.STREAM_CHAR_UUID, on_frame)
    await client.write_gatt_char(protocol.CONTROL_CHAR_UUID,
                                 protocol.encode_start(1, EMG_FS_HZ, 0b011, 104), response=False)
    await asyncio.wait_for(enough.wait(), STEP_TIMEOUT_S)


def test_wearable_process_streams_to_this_process_and_exits_cleanly_on_sigterm():
    async def scenario():
        async with process("glutescope.virtual.serve", "--port", "0", "--seed", "3") as wearable:
            line = await ready_line(wearable, serve.READY_PREFIX)
            assert "tcp-client:127.0.0.1:" in line
            port = int(line.rsplit(":", 1)[1])
            async with RemoteRadio(central_port=port) as radio:
                scanner, client_cls = backends_for(radio)
                device = await BleakScanner.find_device_by_filter(is_wearable, timeout=STEP_TIMEOUT_S,
                                                                  backend=scanner)
                assert device is not None and device.name.startswith("glutescope-")
                lost = asyncio.Event()
                frames = []
                async with BleakClient(device, backend=client_cls, timeout=STEP_TIMEOUT_S,
                                       disconnected_callback=lambda _c: lost.set()) as client:
                    assert client.mtu_size == 247
                    await stream(client, frames, n_emg_samples=EMG_FS_HZ)
                    status, err = await stop(wearable)
                    await asyncio.wait_for(lost.wait(), STEP_TIMEOUT_S)
                assert radio.relay_lost  # the relay lived in the wearable's process
        return frames, status, err

    frames, status, err = run(scenario())

    assert status == 0, err
    assert "Traceback" not in err, err
    emg = [f for f in frames if isinstance(f, protocol.EmgBlock)]
    assert len(emg) >= 10 and all(f.channel_mask == 0b011 for f in emg)
    # Gapless: each block starts where the previous one ended; no frame lost or reordered.
    for prev, nxt in zip(emg, emg[1:]):
        assert nxt.first_sample == prev.first_sample + prev.samples.shape[1]
    seqs = [f.seq for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert any(isinstance(f, protocol.ImuBlock) for f in frames)


def test_killed_wearable_is_a_link_loss_and_a_new_one_joins_the_same_relay():
    async def scenario():
        async with RadioRelay() as relay, RemoteRadio(central_port=relay.central_port) as radio:
            scanner, client_cls = backends_for(radio)
            peripheral = str(relay.peripheral_port)
            async with process("glutescope.virtual.serve", "--relay-port", peripheral) as first:
                await ready_line(first, serve.READY_PREFIX)
                device = await BleakScanner.find_device_by_filter(is_wearable, timeout=STEP_TIMEOUT_S,
                                                                  backend=scanner)
                assert device is not None
                lost = asyncio.Event()
                client = BleakClient(device, backend=client_cls, timeout=STEP_TIMEOUT_S,
                                     disconnected_callback=lambda _c: lost.set())
                await client.connect()
                first.kill()  # no goodbye: the relay must notice the dead HCI connection
                await asyncio.wait_for(lost.wait(), STEP_TIMEOUT_S)
                assert not client.is_connected
            assert not radio.relay_lost
            async with process("glutescope.virtual.serve", "--relay-port", peripheral) as second:
                await ready_line(second, serve.READY_PREFIX)
                device = await BleakScanner.find_device_by_filter(is_wearable, timeout=STEP_TIMEOUT_S,
                                                                  backend=scanner)
                assert device is not None
                frames = []
                async with BleakClient(device, backend=client_cls, timeout=STEP_TIMEOUT_S) as client:
                    await stream(client, frames, n_emg_samples=EMG_FS_HZ // 4)
                status, err = await stop(second)
        return frames, status, err

    frames, status, err = run(scenario())

    assert status == 0, err
    assert any(isinstance(f, protocol.EmgBlock) for f in frames)


def test_standalone_relay_serves_until_sigterm():
    async def scenario():
        async with process("glutescope.virtual.remote") as relay:
            line = await ready_line(relay, "relay ready:")
            ports = [int(word.rsplit(":", 1)[1]) for word in line.split() if word.startswith("127.0.0.1:")]
            async with RemoteRadio(peripheral_port=ports[0], central_port=ports[1]) as radio:
                await radio.peripheral.start_advertising(advertising_interval_min=20,
                                                         advertising_interval_max=20)
                connection = await radio.central.connect_le(radio.peripheral_address, timeout=STEP_TIMEOUT_S)
                assert connection.peer_address == radio.peripheral_address
            return await stop(relay)

    status, err = run(scenario())
    assert status == 0, err


# -- in this process: the relay's own behaviour ----------------------------------------

def test_cancelled_connection_to_an_absent_device_leaves_the_remote_central_usable():
    async def scenario():
        async with RadioRelay() as relay, RemoteRadio(central_port=relay.central_port) as host:
            _, client_cls = backends_for(host)
            address = hci.Address(WEARABLE, hci.Address.RANDOM_DEVICE_ADDRESS)
            absent = BLEDevice(WEARABLE, "absent", address)
            for _ in range(2):  # a stuck attempt would make the second one refused instead
                with pytest.raises(asyncio.TimeoutError, match=f"no connection to {WEARABLE} within 0.5 s"):
                    await BleakClient(absent, backend=client_cls, timeout=0.5).connect()
            async with RemoteRadio(peripheral_port=relay.peripheral_port) as wearable:
                wearable.peripheral.add_service(gatt.Service(protocol.SERVICE_UUID, []))
                await wearable.peripheral.start_advertising(advertising_data=b"\x02\x01\x06",
                                                            advertising_interval_min=20,
                                                            advertising_interval_max=20)
                async with BleakClient(absent, backend=client_cls, timeout=STEP_TIMEOUT_S) as client:
                    assert client.is_connected

    run(scenario(), timeout_s=60.0)


def test_relay_serves_one_host_per_controller():
    async def scenario():
        async with RadioRelay() as relay, RemoteRadio(central_port=relay.central_port):
            second = RemoteRadio(central_port=relay.central_port)
            with pytest.raises(ConnectionError, match="central controller already has a host"):
                await asyncio.wait_for(second.open(), STEP_TIMEOUT_S)
            await second.close()

    run(scenario(), timeout_s=30.0)


def test_bad_arguments_fail_with_one_clear_line():
    with pytest.raises(ValueError, match="host must be a loopback address.*'0.0.0.0'"):
        RadioRelay(host="0.0.0.0")
    with pytest.raises(ValueError, match="central_port must be an int in 0..65535, got 70000"):
        RadioRelay(central_port=70000)
    with pytest.raises(ValueError, match="needs peripheral_port or central_port"):
        RemoteRadio()
    with pytest.raises(ValueError, match="peripheral_port must be an int in 1..65535, got 0"):
        RemoteRadio(peripheral_port=0)
    radio = RemoteRadio(peripheral_port=9)
    with pytest.raises(RuntimeError, match="has no central side: give central_port"):
        radio.central


def test_remote_radio_without_a_relay_says_so():
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def scenario():
        with pytest.raises(ConnectionError, match=f"no virtual radio relay at 127.0.0.1:{port}"):
            await RemoteRadio(central_port=port).open()

    run(scenario(), timeout_s=30.0)


def test_serve_usage_errors(capsys):
    assert serve.main(["--speed", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --speed must be positive, got 0"
    assert serve.main(["--port", "70000"]) == 2
    assert "--port must be in 0..65535, got 70000" in capsys.readouterr().err
