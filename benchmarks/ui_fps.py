"""Frames per second and CPU of the live window with everything in view, old and new drawing.

The window (`glutescope.ui.live_window.LiveWindow`) shows 4 EMG channels at 2 kHz with
their envelopes over a 10 s window, the pelvis plot and the bars, fed in real time by
an acquisition thread that runs the app's own live pipeline (`glutescope.live.
LiveProcessor`: conditioning, envelope, contractions, quality) on body-model signals in
20 ms blocks, as the radio delivers them. Two drawing paths run in the same invocation:

- ``decimated``: the window as it is (one min/max pair per pixel column, reduced once
  per column as samples arrive, bare curve items with 1 px pens, the envelope's two
  signs one curve, scales that move in steps, axes and texts cached as pixmaps, texts
  set only when they change, frames at the screen's rate);
- ``legacy``: the drawing before that (every sample handed to pyqtgraph with its own
  peak downsampling and clipping, a grid drawn by the axes, every title and label set on
  each frame, 40 ms timer).

Each runs in a child process per Qt platform: ``offscreen``, and ``xcb`` under Xvfb
when Xvfb is installed (a real X server, as on a desktop). Printed per run:

- ``fps``: frames the plots' viewport really painted per second;
- ``process CPU``: this process's CPU (UI + acquisition thread), % of one core;
- ``UI CPU``: the GUI thread's own CPU, % of one core;
- ``acq lag``: how far the acquisition thread fell behind real time at the end, s (a
  starved thread is where a real session would start to lose samples);
- ``samples lost``: samples the live view never received (lag beyond the 30 s display
  buffer counts; 0 means none).

Goal (issue): >= 55 fps at under half a core with 0 samples lost.

Run: ``PYTHONPATH=host:signal python benchmarks/ui_fps.py [--seconds 10] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for _part in ("host", "signal"):
    if str(ROOT / _part) not in sys.path:
        sys.path.insert(0, str(ROOT / _part))

CHANNELS = ("glute_max_left", "glute_max_right", "glute_med_left", "hamstring_left")
EMG_FS_HZ = 2000.0
IMU_FS_HZ = 104.0
BLOCK = 40  # samples per channel per block: 20 ms, as the firmware frames them
WINDOW_S = 10.0


def _child(path: str, seconds: float) -> dict:
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore

    from glutescope.live import LiveProcessor
    from glutescope.ui.live_window import LiveWindow
    from glutesignal.simulation import simulate

    body = simulate("bridges", channels=CHANNELS, emg_fs_hz=EMG_FS_HZ, imu_fs_hz=IMU_FS_HZ,
                    duration_s=seconds + 2 * WINDOW_S)
    processor = LiveProcessor(CHANNELS, EMG_FS_HZ, IMU_FS_HZ)
    # Fill the window first, so every frame draws a full 10 s of every channel.
    warm = int(WINDOW_S * EMG_FS_HZ)
    ratio = EMG_FS_HZ / IMU_FS_HZ
    state = {"a": 0, "j": 0}

    def feed_until(a_end: int) -> None:
        a, j = state["a"], state["j"]
        while a < a_end:
            k = int((a + BLOCK) / ratio)
            if k > j:
                processor.push_imu(j, body.acc_g[:, j:k], body.gyro_dps[:, j:k])
                j = k
            processor.push_emg(a, body.emg_uV[:, a:a + BLOCK])
            a += BLOCK
        state["a"], state["j"] = a, j

    feed_until(warm)
    app = pg.mkQApp("glutescope-fps")
    window_class = LiveWindow if path == "decimated" else _legacy_class()
    window = window_class(processor.state, "fps", display_s=WINDOW_S)
    window.resize(1280, 800)
    window.show()
    paints = [0]

    class _Counter(QtCore.QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QtCore.QEvent.Type.Paint:
                paints[0] += 1
            return False

    counter = _Counter()
    window.graphs.viewport().installEventFilter(counter)
    stop = threading.Event()
    lag = [0.0]

    def acquire() -> None:
        t0 = time.monotonic()
        start = state["a"]
        while not stop.is_set():
            due = start + int((time.monotonic() - t0) * EMG_FS_HZ) // BLOCK * BLOCK
            if state["a"] < due:
                feed_until(state["a"] + BLOCK)
            else:
                time.sleep(BLOCK / EMG_FS_HZ / 4)
            lag[0] = (due - state["a"]) / EMG_FS_HZ

    ui_cpu = [0.0]
    thread = threading.Thread(target=acquire, daemon=True)
    settle_s = 1.0
    marks = {}

    def start_measuring() -> None:
        marks.update(paints=paints[0], wall=time.monotonic(), cpu=time.process_time(), ui=time.thread_time())

    def finish() -> None:
        ui_cpu[0] = time.thread_time() - marks["ui"]
        marks.update(paints_end=paints[0], wall_end=time.monotonic(), cpu_end=time.process_time())
        app.quit()

    thread.start()
    QtCore.QTimer.singleShot(int(settle_s * 1000), start_measuring)
    QtCore.QTimer.singleShot(int((settle_s + seconds) * 1000), finish)
    app.exec()
    stop.set()
    thread.join()
    wall = marks["wall_end"] - marks["wall"]
    window.shutdown()
    behind = max(0.0, lag[0])
    return {
        "fps": (marks["paints_end"] - marks["paints"]) / wall,
        "process_cpu_pct": 100.0 * (marks["cpu_end"] - marks["cpu"]) / wall,
        "ui_cpu_pct": 100.0 * ui_cpu[0] / wall,
        "acq_lag_s": behind,
        "samples_lost": int(max(0.0, behind - 30.0) * EMG_FS_HZ) * len(CHANNELS),
    }


def _legacy_class():
    """The window with the drawing it had before decimation, for the comparison."""
    import numpy as np
    from glutescope.guide import describe_score
    import pyqtgraph as pg
    from glutescope.ui.live_window import QUALITY_COLOURS, LiveWindow, channel_colour, describe_asymmetry

    class LegacyWindow(LiveWindow):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # The curves as they were: PlotDataItems, the envelope 3 px wide on each sign
            # as its own curve, the pelvis 2 px wide.
            for ch, plot in enumerate(self.plots):
                plot.removeItem(self.raw_curves[ch])
                plot.removeItem(self.env_curves[ch])
                colour = channel_colour(self.state.channel_names[ch])
                self.raw_curves[ch] = plot.plot(pen=pg.mkPen((*colour, 90), width=1))
                self.env_curves[ch] = (plot.plot(pen=pg.mkPen(colour, width=3)),
                                       plot.plot(pen=pg.mkPen(colour, width=3)))
            for curve in self.pelvis_curves:
                curve.setPen(pg.mkPen(curve.opts["pen"].color(), width=2))
            for item in self.graphs.scene().items():  # axes and texts drawn afresh each frame
                item.setCacheMode(item.CacheMode.NoCache)
            self.pelvis_plot.enableAutoRange(y=True)
            for plot in self.plots:
                plot.setDownsampling(mode="peak")
                plot.setClipToView(True)
                plot.showGrid(x=True, y=True, alpha=0.2)
            self.frame_s = 0.040  # its 40 ms timer

        def redraw(self) -> None:
            state = self.state
            stats = state.stats
            n_samples = int(self.display_s * state.emg_fs_hz)
            raw = state.emg.latest(n_samples)
            env = state.envelope.latest(n_samples)
            if raw.shape[1] > 1:
                t_s = (np.arange(raw.shape[1]) - raw.shape[1] + 1) / state.emg_fs_hz
                for ch in range(state.n_channels):
                    self.raw_curves[ch].setData(t_s, raw[ch])
                    self.env_curves[ch][0].setData(t_s, env[ch])
                    self.env_curves[ch][1].setData(t_s, -env[ch])
                now = env[:, -int(0.2 * state.emg_fs_hz):].mean(axis=1)
                self.bars.setOpts(height=now)
                self.balance.setYRange(0, max(300.0, float(env.max()) * 1.2))
            if self.pelvis_curves and state.pelvis is not None:
                angles = state.pelvis.latest(int(self.display_s * state.imu_fs_hz))
                if angles.shape[1] > 1:
                    t_imu = (np.arange(angles.shape[1]) - angles.shape[1] + 1) / state.imu_fs_hz
                    for curve, row in zip(self.pelvis_curves, angles[:2]):
                        curve.setData(t_imu, row)
            self.readout.setText(describe_asymmetry(stats))
            for q in stats.quality:
                name = state.channel_names[q.channel].replace("_", " ")
                self.plots[q.channel].setTitle(f"{name} · signal {q.grade}",
                                               color=QUALITY_COLOURS.get(q.grade, "#bbbbbb"))
            self.scores_label.setText("\n".join(describe_score(s) for s in stats.squeeze_scores))
            self.status.setText(stats.summary())

    return LegacyWindow


def _run(path: str, platform: str, seconds: float, display: str | None) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": platform,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "host"), str(ROOT / "signal")])}
    if display:
        env["DISPLAY"] = display
    out = subprocess.run([sys.executable, __file__, "--child", path, "--seconds", str(seconds)],
                         capture_output=True, text=True, env=env, timeout=seconds * 4 + 120)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_row(platform: str, path: str, r: dict) -> None:
    print(f"{platform:<10} {path:<10} {r['fps']:6.1f} {r['process_cpu_pct']:11.0f}% "
          f"{r['ui_cpu_pct']:7.0f}% {r['acq_lag_s']:10.2f} {int(r['samples_lost']):13d}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default: 10)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each drawing per platform, interleaved, with their median "
                             "(a shared machine's speed drifts by tens of %% within minutes; default: 1)")
    parser.add_argument("--child", choices=("decimated", "legacy"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.seconds)))
        return 0

    platforms = [("offscreen", None)]
    xvfb = None
    if shutil.which("Xvfb"):
        display = ":93"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        platforms.append(("xcb", display))
    print(f"live window: {len(CHANNELS)} ch x {EMG_FS_HZ:g} Hz + IMU {IMU_FS_HZ:g} Hz, {WINDOW_S:g} s window, "
          f"every panel, {args.seconds:g} s per run; load average {os.getloadavg()[0]:.2f}")
    if xvfb is None:
        print("(no Xvfb: offscreen only; `apt-get install xvfb` adds a real X server run)")
    print(f"{'platform':<10} {'drawing':<10} {'fps':>6} {'process CPU':>12} {'UI CPU':>8} {'acq lag s':>10} "
          f"{'samples lost':>13}")
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    try:
        for platform, display in platforms:
            runs = {"decimated": [], "legacy": []}
            for _ in range(args.repeat):
                for path in runs:  # interleaved, so a drift in the machine's speed hits both
                    r = _run(path, platform, args.seconds, display)
                    if "error" in r:
                        print(f"{platform:<10} {path:<10} failed: {r['error']}")
                        continue
                    runs[path].append(r)
                    _print_row(platform, path, r)
            if args.repeat > 1:
                for path, rs in runs.items():
                    if rs:
                        median = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
                        _print_row(platform, f"{path[:3]} median", median)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    print("goal: >= 55 fps at under half a core (50 % process CPU), 0 samples lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
