"""``--lsl`` over real liblsl outlets and inlets: run only inside a network of loopback alone.

liblsl 1.18 binds its data ports to every interface whatever its configuration says, so
these checks open outlets only in a network namespace that has nothing but ``lo``
(`tests/host/test_lsl.py` starts them there): nothing can reach them from elsewhere.
The inlet is pylsl's own (liblsl 1.18, bundled in the pylsl wheel), in this process;
the app runs as a separate process, as a lab's LabRecorder would meet it. Both use a
machine-scope configuration with a session id of their own.
"""
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from glutescope.lsl import config_text

ROOT = Path(__file__).resolve().parents[2]
EMG_NAMES = ["glute_max_left", "glute_max_right"]
IMU_LABELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
IMU_UNITS = ["g"] * 3 + ["deg/s"] * 3

if os.environ.get("GLUTESCOPE_LOOPBACK_ONLY") != "1":
    raise RuntimeError("lsl_network.py opens LSL outlets: run it through tests/host/test_lsl.py, "
                       "which starts it in a network namespace with loopback alone")


@pytest.fixture(scope="module")
def lsl_env(tmp_path_factory):
    """A machine-only liblsl configuration for this process and the app's."""
    cfg = tmp_path_factory.mktemp("lsl") / "lsl_api.cfg"
    session = f"glutescope-test-{uuid.uuid4().hex[:12]}"
    cfg.write_text(config_text("machine") + f"[lab]\nSessionID = {session}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        # liblsl reads it once, at first use in the process: before any pylsl call here.
        mp.setenv("LSLAPICFG", str(cfg))
        yield cfg


def _channels(info):
    root = ET.fromstring(info.as_xml())
    return [(ch.findtext("label"), ch.findtext("unit")) for ch in root.iter("channel")]


def _resolve_three(pylsl, proc, timeout_s=60.0):
    """The app's three streams, by name, once all are visible."""
    found = {}
    waited = 0.0
    while len(found) < 3 and waited < timeout_s and proc.poll() is None:
        for info in pylsl.resolve_streams(1.0):
            if info.name().startswith("glutescope "):
                found[info.name()] = info
        waited += 1.0
    return found


def _run_and_read(pylsl, lsl_env, argv):
    """Run ``glutescope *argv`` in its own process; read its three LSL streams until it ends.

    Returns the resolved stream infos by kind, the full descriptions, what each inlet
    pulled as (samples, stamps), and the local_clock() before the start and after the end.
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LSLAPICFG=str(lsl_env),
               PYTHONPATH=os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal"), os.environ.get("PYTHONPATH", "")]))
    t_before = pylsl.local_clock()
    proc = subprocess.Popen([sys.executable, "-m", "glutescope", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        streams = _resolve_three(pylsl, proc)
        assert sorted(streams) == ["glutescope EMG", "glutescope IMU", "glutescope Markers"], \
            proc.stderr.read() if proc.poll() is not None else "streams not found"
        infos = {k: streams[f"glutescope {k}"] for k in ("EMG", "IMU", "Markers")}
        inlets = {k: pylsl.StreamInlet(s, max_buflen=60) for k, s in infos.items()}
        # The full description (the resolve answer carries only the header).
        full = {k: inlet.info(5.0) for k, inlet in inlets.items()}
        got = {k: ([], []) for k in inlets}
        while proc.poll() is None:
            for k, inlet in inlets.items():
                data, stamps = inlet.pull_chunk(timeout=0.2)
                got[k][0].extend(data)
                got[k][1].extend(stamps)
        for k, inlet in inlets.items():  # what was in flight when the app stopped
            data, stamps = inlet.pull_chunk(timeout=1.0)
            got[k][0].extend(data)
            got[k][1].extend(stamps)
        t_after = pylsl.local_clock()
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return infos, full, got, (t_before, t_after)


def _check_streams(pylsl, infos, full, got, window, emg_fs_hz=2000.0, imu_fs_hz=104.0, min_span_s=5.0):
    """Names, types, counts, rates, labels, units; sample counts at the stated rates."""
    emg, imu, markers = infos["EMG"], infos["IMU"], infos["Markers"]
    assert (emg.type(), emg.channel_count(), emg.nominal_srate(), emg.channel_format()) == \
        ("EMG", 2, emg_fs_hz, pylsl.cf_float32)
    assert (imu.type(), imu.channel_count(), imu.nominal_srate(), imu.channel_format()) == \
        ("MoCap", 6, imu_fs_hz, pylsl.cf_float32)
    assert (markers.type(), markers.channel_count(), markers.nominal_srate(), markers.channel_format()) == \
        ("Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string)
    assert _channels(full["EMG"]) == [(n, "microvolts") for n in EMG_NAMES]
    assert _channels(full["IMU"]) == list(zip(IMU_LABELS, IMU_UNITS))
    t_before, t_after = window
    for k, fs_hz in (("EMG", emg_fs_hz), ("IMU", imu_fs_hz)):
        data, stamps = got[k]
        span_s = stamps[-1] - stamps[0]
        assert span_s > min_span_s, f"{k}: only {span_s:.1f} s of samples arrived"
        # Sample count against the span of their own stamps: the stated rate, within 2 %.
        assert (len(stamps) - 1) / span_s == pytest.approx(fs_hz, rel=0.02), k
        steps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert min(steps) > 0, f"{k}: timestamps run backwards"
        # Each step one sample period (a lost block would be one longer step): no jitter.
        regular = sum(1 for d in steps if abs(d * fs_hz - 1.0) <= 0.15)
        assert regular >= 0.995 * len(steps), f"{k}: {len(steps) - regular} irregular steps"
        # On the inlet's local_clock(): inside the run, not device microseconds or epoch time.
        assert t_before <= stamps[0] and stamps[-1] <= t_after, k
    emg_data = got["EMG"][0]
    assert all(len(row) == 2 for row in emg_data)
    # The body model's bridges: µV-sized EMG, not ADC codes or volts.
    peak_uV = max(abs(v) for row in emg_data for v in row)
    assert 20.0 < peak_uV < 5000.0
    # Accelerometer in g: a body lying still or bridging feels ~1 g (not m/s^2, not raw counts).
    acc_norm_g = [sum(v * v for v in row[:3]) ** 0.5 for row in got["IMU"][0]]
    assert sum(acc_norm_g) / len(acc_norm_g) == pytest.approx(1.0, abs=0.15)


@pytest.mark.slow
def test_demo_lsl_streams_have_the_stated_rates_labels_and_markers(lsl_env, tmp_path):
    import pylsl

    infos, full, got, window = _run_and_read(pylsl, lsl_env, [
        # no --speed: a published headless demo must run in real time (its default is 2x unpublished)
        "demo", "--headless", "--lsl", "--lsl-scope", "machine", "--duration", "14",
        "--screenshot", str(tmp_path / "demo.png")])
    _check_streams(pylsl, infos, full, got, window)
    texts = [row[0] for row in got["Markers"][0]]
    assert "rep 1 start" in texts and "rep 1 end" in texts, texts
    t_marker = dict(zip(texts, got["Markers"][1]))
    assert t_marker["rep 1 start"] < t_marker["rep 1 end"]
    emg_stamps = got["EMG"][1]
    # The rep's own time (its onset, seconds before it was found), on the EMG's clock.
    assert emg_stamps[0] - 5.0 <= t_marker["rep 1 start"] <= emg_stamps[-1]


@pytest.mark.slow
def test_record_then_replay_publish_the_same_streams(lsl_env, tmp_path):
    import pylsl

    rec = tmp_path / "squeeze.glutes"
    infos, full, got, window = _run_and_read(pylsl, lsl_env, [
        "record", str(rec), "--exercise", "squeeze_test", "--duration", "10", "--lsl", "--lsl-scope", "machine"])
    _check_streams(pylsl, infos, full, got, window)
    texts = [row[0] for row in got["Markers"][0]]
    # The squeeze test's cues as the wearable's script gives them
    assert any(t.startswith("cue ") for t in texts), texts

    infos, full, got, window = _run_and_read(pylsl, lsl_env, [
        "replay", str(rec), "--headless", "--lsl", "--lsl-scope", "machine",
        "--screenshot", str(tmp_path / "replay.png")])
    _check_streams(pylsl, infos, full, got, window, min_span_s=4.0)
    assert any(row[0].startswith("cue ") for row in got["Markers"][0])


class _Capture:
    """Stands in for an outlet: keeps what was pushed."""

    def __init__(self):
        self.stamps = []

    def push_chunk(self, data, stamps):
        assert len(data) == len(stamps)
        self.stamps.extend(stamps)


def test_stamps_stay_monotonic_and_regular_when_the_clock_fit_moves_back(lsl_env):
    """A frame with less radio delay than all before it moves the fit 2 ms into the past:
    the next blocks must not be stamped before the ones already pushed."""
    from types import SimpleNamespace

    import numpy as np

    from glutescope.lsl import SLEW, LslPublisher
    from glutescope.stream import DeviceClock

    fs_hz, n = 2000.0, 20
    clock = DeviceClock()
    pub = LslPublisher("glutescope-unit", ("glute_max_left", "glute_max_right"), fs_hz, 0.0, clock)
    pub.emg_outlet = _Capture()
    t0_host_ns = 5_000_000_000_000
    for i in range(600):  # 6 s of 10 ms blocks
        t_dev_us = 1_000_000 + i * 10_000
        delay_ns = 22_000_000 if i < 300 else 20_000_000  # from block 300 on: 2 ms less delay
        clock.add_pair(t_dev_us + 10_000, t0_host_ns + 1000 * (t_dev_us + 10_000) + delay_ns)
        block = SimpleNamespace(t_device_us=t_dev_us, first_sample=i * n)
        pub.push_emg(block, np.zeros((2, n)))
    stamps = np.array(pub.emg_outlet.stamps)
    steps_s = np.diff(stamps)
    assert steps_s.min() > 0
    assert np.all(np.abs(steps_s * fs_hz - 1.0) <= SLEW + 1e-9)
    # ...and they follow the fit again: the last sample where the fit puts it now
    fit_last_s = clock.to_host_ns(1_000_000 + 599 * 10_000 + (n - 1) * 500) / 1e9 + pub.offset_s
    assert stamps[-1] == pytest.approx(fit_last_s, abs=1e-6)
    assert len(stamps) == 600 * n


def test_invalid_samples_arrive_as_nan_and_lost_blocks_as_a_gap_in_time(lsl_env):
    """What a consumer sees of the wearable's losses, through a real outlet and inlet."""
    from types import SimpleNamespace

    import numpy as np
    import pylsl

    from glutescope.lsl import LslPublisher
    from glutescope.stream import DeviceClock

    fs_hz, n = 2000.0, 20
    clock = DeviceClock()
    name = f"glutescope-nan-{uuid.uuid4().hex[:8]}"
    pub = LslPublisher(name, ("glute_max_left", "glute_max_right"), fs_hz, 0.0, clock)
    [info] = pylsl.resolve_byprop("name", f"{name} EMG", minimum=1, timeout=10.0)
    inlet = pylsl.StreamInlet(info, max_buflen=10)
    inlet.open_stream(timeout=5.0)
    now_ns = round((pylsl.local_clock() - pub.offset_s) * 1e9)
    for i in (0, 1, 3):  # block 2 never arrived
        t_dev_us = i * 10_000
        clock.add_pair(t_dev_us + 10_000, now_ns + 1000 * (t_dev_us + 10_000) + 5_000_000)
        emg_uV = np.full((2, n), float(i))
        if i == 1:
            emg_uV[0, 7] = np.nan  # an ADC conversion error
        pub.push_emg(SimpleNamespace(t_device_us=t_dev_us, first_sample=i * n), emg_uV)
    data, stamps = [], []
    for _ in range(50):
        d, t = inlet.pull_chunk(timeout=0.2)
        data += d
        stamps += t
        if len(data) >= 3 * n:
            break
    data = np.array(data)
    assert data.shape == (3 * n, 2)  # the lost block is not invented
    assert np.isnan(data[n + 7, 0]) and np.isfinite(data[n + 7, 1])
    assert np.isnan(data).sum() == 1
    steps_s = np.diff(stamps)
    # one step of 21 sample periods where block 2 is missing; all others one period
    assert steps_s[2 * n - 1] * fs_hz == pytest.approx(n + 1, abs=0.01)
    others = np.delete(steps_s, 2 * n - 1)
    assert np.allclose(others * fs_hz, 1.0, atol=0.01)
