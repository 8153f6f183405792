"""Lab Streaming Layer output: the live EMG, IMU and session events as three LSL streams.

Every open biosignal tool offers LSL so that a lab can record it alongside motion
capture in one file (LabRecorder, XDF). ``--lsl`` on ``demo``, ``record`` and
``replay`` publishes:

- ``<source> EMG`` (type ``EMG``): one float32 channel per muscle, named as the
  recording names them (`glutescope.muscles`), in µV, nominal rate = the wearable's
  EMG rate;
- ``<source> IMU`` (type ``MoCap``): acc_x/y/z in g and gyro_x/y/z in deg/s, in body
  axes (x forward, y left, z up, `glutescope.mounting`), nominal rate = the IMU rate;
- ``<source> Markers`` (type ``Markers``): irregular-rate strings, one per event the
  session produces (cues, reps, squeeze scores, link lost/resumed).

Labels, units and the axes are in each stream's XML description (the XDF
``channels/channel`` convention: ``label``, ``unit``, ``type``).

Timestamps
----------
Each frame is stamped on arrival with the host's monotonic clock
(``time.monotonic_ns``), and `glutescope.stream.DeviceClock` fits the wearable's
clock to those stamps on the minimum-delay envelope. A sample's LSL timestamp is its
device time (the block's ``t_device_us`` plus ``index / fs``) mapped through that fit
onto the host monotonic clock (slewed so stamps never run backwards when the fit
refines, `LslPublisher._lsl_times`), plus the offset between the monotonic clock and
``pylsl.local_clock()`` measured once when the outlets open (on Linux both read
CLOCK_MONOTONIC, so the offset is ~0). The radio's transport delay is excluded, so a
sample's stamp is when it was measured, not when it arrived. A replay stamps frames as
they are played, so its streams run on today's host timeline, sped up by ``--speed``.

Lost samples
------------
Samples the wearable lost are **skipped**: a block that never arrived is not pushed,
and the next block carries its own timestamps, so a consumer sees a gap in time, not
invented values. A sample inside a block that the wearable marked invalid (an ADC
conversion error, an IMU reading it could not take) is pushed as NaN. Samples
recovered later by a resend are in the recording, not in the LSL stream (its
timestamps must not run backwards).

Network scope
-------------
liblsl reads its configuration once per process from the file named by the
``LSLAPICFG`` environment variable. `configure` writes one with the chosen
``[multicast] ResolveScope`` (keeping the rest of the user's own file); ``machine``
also disables IPv6 and answers discovery on 127.0.0.1 only, so no packet leaves the
computer. liblsl 1.18 has no key to bind its data ports to loopback: they listen on
every interface (``bind_port_in_range`` binds ``endpoint(protocol, port)``), though with
machine scope nobody off the machine is told they exist. The keys are those the liblsl
1.18 library bundled with pylsl 1.18 reads (``ports.IPv6``, ``multicast.ResolveScope``,
``multicast.ListenAddress``, ``multicast.MachineAddresses``, ``log.level``).
"""
from __future__ import annotations

import atexit
import os
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from glutescope.exitcodes import CliError, ExitStatus

SCOPES = ("machine", "link", "site")
DEFAULT_SCOPE = "link"
# Most a sample step may differ from 1/fs while stamps converge on a refined clock fit
SLEW = 0.1
INSTALL_HINT = "--lsl needs pylsl: install glutescope[lsl]"
IMU_LABELS = (("acc_x", "g"), ("acc_y", "g"), ("acc_z", "g"),
              ("gyro_x", "deg/s"), ("gyro_y", "deg/s"), ("gyro_z", "deg/s"))


def config_text(scope: str, quiet: bool = True) -> str:
    """The ``lsl_api.cfg`` text for ``scope`` (one of `SCOPES`).

    Parameters
    ----------
    scope : str
        ``"machine"``: discovery and data stay on 127.0.0.1 (IPv4 only); ``"link"``:
        the local subnet, what LSL users expect; ``"site"``: liblsl's own default.
    quiet : bool
        Keep liblsl's log to warnings and errors.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    lines = ["[multicast]", f"ResolveScope = {scope}"]
    if scope == "machine":
        lines += ["ListenAddress = 127.0.0.1", "MachineAddresses = {127.0.0.1}",
                  "[ports]", "IPv6 = disable"]
    if quiet:
        # liblsl's INFO lines (config file, build) on stderr: warnings and errors only
        lines += ["[log]", "level = -1"]
    return "\n".join(lines) + "\n"


def user_config() -> Optional[Path]:
    """The configuration file liblsl would read by itself, if there is one.

    liblsl takes ``LSLAPICFG`` first, then ``lsl_api.cfg`` in the working directory,
    ``~/lsl_api/lsl_api.cfg`` and ``/etc/lsl_api/lsl_api.cfg``.
    """
    named = os.environ.get("LSLAPICFG")
    candidates = [Path(named)] if named else []
    candidates += [Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg", Path("/etc/lsl_api/lsl_api.cfg")]
    for path in candidates:
        if path.is_file():
            return path
    return None


def merged_config_text(scope: str, base: str) -> str:
    """``base`` (a user's ``lsl_api.cfg``) with the keys `config_text` sets replaced by its.

    The user's other settings (``[lab] SessionID``, ``KnownPeers``, ports, tuning)
    stay. liblsl refuses a file with a repeated key, so the replaced keys are dropped
    from ``base`` and given again in sections of their own at the end.
    """
    user_keys = {line.split("=", 1)[0].strip() for line in base.splitlines() if "=" in line}
    ours = config_text(scope, quiet="level" not in user_keys)  # a log level the user chose stays
    keys = {line.split("=", 1)[0].strip() for line in ours.splitlines() if "=" in line}
    kept = [line for line in base.splitlines()
            if not ("=" in line and not line.lstrip().startswith(";") and line.split("=", 1)[0].strip() in keys)]
    return "\n".join(kept).rstrip() + "\n" + ours


def configure(scope: Optional[str]) -> Optional[Path]:
    """Point liblsl at a configuration for ``scope`` before it is first used.

    Parameters
    ----------
    scope : str or None
        One of `SCOPES`: the user's own configuration (`user_config`) with its scope
        keys replaced. None: the user's configuration as it is if there is one, else
        `DEFAULT_SCOPE`.

    Returns
    -------
    Path or None
        The configuration file written (None when the user's is used as it is).
    """
    user = user_config()
    if scope is None:
        if user is not None:
            return None
        scope = DEFAULT_SCOPE
    try:
        base = user.read_text(encoding="utf-8") if user is not None else ""
    except (OSError, UnicodeDecodeError):
        base = ""
    text = merged_config_text(scope, base) if base else config_text(scope)
    fd, name = tempfile.mkstemp(prefix="glutescope-lsl-", suffix=".cfg")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.environ["LSLAPICFG"] = name
    atexit.register(_remove, name)
    return Path(name)


def _remove(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def import_pylsl():
    """pylsl, or a CliError with the install hint and the missing-dependency status."""
    try:
        import pylsl
    except (ImportError, RuntimeError, OSError):  # pylsl raises RuntimeError when liblsl is missing
        raise CliError(INSTALL_HINT, ExitStatus.USAGE) from None
    return pylsl


def _describe_channels(info, labels_units, kind: str) -> None:
    channels = info.desc().append_child("channels")
    for label, unit in labels_units:
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
        ch.append_child_value("type", kind)


class LslPublisher:
    """Three LSL outlets fed with the blocks a session receives.

    Parameters
    ----------
    source : str
        What the streams are named after (e.g. ``"glutescope"``); the source id adds
        the link description so a consumer can tell two wearables apart.
    channel_names : tuple of str
        The muscle of each EMG row (`glutescope.muscles` names).
    emg_fs_hz, imu_fs_hz : float
        Nominal rates (the wearable's configuration); an IMU rate of 0 opens no IMU stream.
    clock : glutescope.stream.DeviceClock
        The session's device-to-host clock fit (`Acquisition.session.clock`).
    imu_mount : str
        Recorded in the IMU stream's description (the axes are body axes whatever it is).
    link : str
        The link's description, for the source id.
    pylsl : module, optional
        The pylsl module (`import_pylsl` when not given).
    """

    def __init__(self, source: str, channel_names: tuple[str, ...], emg_fs_hz: float, imu_fs_hz: float,
                 clock, *, imu_mount: str = "upright", link: str = "", pylsl=None) -> None:
        if not emg_fs_hz > 0:
            raise ValueError(f"emg_fs_hz must be > 0, got {emg_fs_hz}")
        lsl = pylsl if pylsl is not None else import_pylsl()
        self._lsl = lsl
        self.clock = clock
        self.emg_fs_hz = float(emg_fs_hz)
        self.imu_fs_hz = float(imu_fs_hz)
        self.channel_names = tuple(channel_names)
        # Host monotonic clock -> LSL clock, measured once (both are steady clocks).
        self.offset_s = lsl.local_clock() - time.monotonic()
        uid = f"{source} {link}".strip()

        info = lsl.StreamInfo(f"{source} EMG", "EMG", len(self.channel_names), self.emg_fs_hz,
                              lsl.cf_float32, f"{uid} EMG")
        _describe_channels(info, [(n, "microvolts") for n in self.channel_names], "EMG")
        info.desc().append_child_value("manufacturer", "glutescope")
        self.emg_outlet = lsl.StreamOutlet(info)
        self.imu_outlet = None
        if self.imu_fs_hz > 0:
            info = lsl.StreamInfo(f"{source} IMU", "MoCap", len(IMU_LABELS), self.imu_fs_hz,
                                  lsl.cf_float32, f"{uid} IMU")
            _describe_channels(info, IMU_LABELS, "IMU")
            info.desc().append_child_value("manufacturer", "glutescope")
            info.desc().append_child_value("axes", "body: x forward, y left, z up")
            info.desc().append_child_value("imu_mount", imu_mount)
            self.imu_outlet = lsl.StreamOutlet(info)
        info = lsl.StreamInfo(f"{source} Markers", "Markers", 1, lsl.IRREGULAR_RATE, lsl.cf_string,
                              f"{uid} Markers")
        info.desc().append_child_value("manufacturer", "glutescope")
        self.marker_outlet = lsl.StreamOutlet(info)
        self.n_emg = 0
        self.n_imu = 0
        self.n_markers = 0
        self._emg_anchor: Optional[tuple[int, int]] = None  # (stream index, unwrapped device µs)
        self._last: dict = {}  # per stream: (next stream index, last stamp pushed, s)

    # -- time -------------------------------------------------------------------
    def _lsl_times(self, kind: str, block, n: int, fs_hz: float) -> np.ndarray:
        """LSL stamps of a block's ``n`` samples: the clock fit, slewed to stay monotonic.

        The fit refines as lower-delay frames arrive, so two successive blocks mapped
        with two fits can overlap by a millisecond or two (seen with the virtual
        wearable). A block that continues the previous one is stamped from the
        previous block's last stamp towards the fit's stamp for its own last sample,
        with the sample step kept within ``1 +/- SLEW`` of ``1/fs``: the stamps never
        run backwards and converge on the fit within a few blocks. A block after a gap
        (or the first) takes the fit's stamps as they are.
        """
        u = self.clock.unwrap(block.t_device_us)
        period_s = 1.0 / fs_hz
        t_us = u + np.arange(n) * (1e6 / fs_hz)
        mapped = np.asarray(self.clock.to_host_ns(t_us), dtype=np.float64) / 1e9 + self.offset_s
        last = self._last.get(kind)
        self._last[kind] = None
        if last is not None and last[0] == block.first_sample:
            prev_s = last[1]
            span_s = min(max(mapped[-1] - prev_s, n * period_s * (1 - SLEW)), n * period_s * (1 + SLEW))
            mapped = prev_s + np.arange(1, n + 1) * (span_s / n)
        elif last is not None and mapped[0] <= last[1]:
            mapped = mapped - mapped[0] + last[1] + period_s  # a restart mapped into the past
        self._last[kind] = (block.first_sample + n, float(mapped[-1]))
        return mapped

    def lsl_time_of_sample(self, index: int) -> Optional[float]:
        """The LSL time of EMG stream index ``index`` (None before the first EMG block)."""
        if self._emg_anchor is None:
            return None
        first, u = self._emg_anchor
        t_us = u + (index - first) * 1e6 / self.emg_fs_hz
        return float(self.clock.to_host_ns(t_us)) / 1e9 + self.offset_s

    # -- data ---------------------------------------------------------------------
    def push_emg(self, block, emg_uV: np.ndarray) -> None:
        """Push one live EMG block, ``emg_uV`` (n_channels, n) in µV (NaN stays NaN)."""
        if emg_uV.shape[0] != len(self.channel_names) or emg_uV.shape[1] == 0:
            return  # a block of another channel set (before a restart settles): not this stream
        n = emg_uV.shape[1]
        times = self._lsl_times("emg", block, n, self.emg_fs_hz)
        self._emg_anchor = (block.first_sample, self.clock.unwrap(block.t_device_us))
        self.emg_outlet.push_chunk(np.ascontiguousarray(emg_uV.T, dtype=np.float32), times)
        self.n_emg += n

    def push_imu(self, block, acc_g: np.ndarray, gyro_dps: np.ndarray) -> None:
        """Push one live IMU block, each (3, n), body axes."""
        if self.imu_outlet is None or acc_g.shape[1] == 0:
            return
        n = acc_g.shape[1]
        times = self._lsl_times("imu", block, n, self.imu_fs_hz)
        data = np.concatenate([acc_g, gyro_dps]).T.astype(np.float32)
        self.imu_outlet.push_chunk(np.ascontiguousarray(data), times)
        self.n_imu += n

    def push_marker(self, text: str, t_lsl_s: Optional[float] = None) -> None:
        """Push one event; ``t_lsl_s`` None stamps it now."""
        stamp = self._lsl.local_clock() if t_lsl_s is None else t_lsl_s
        self.marker_outlet.push_sample([text], stamp)
        self.n_markers += 1

    def marker_at_sample(self, text: str, index: float) -> None:
        """Push an event that happened at EMG stream index ``index`` (stamped now if unknown)."""
        self.push_marker(text, self.lsl_time_of_sample(index))

    def close(self) -> None:
        """Close the outlets (consumers see the streams end)."""
        for name in ("emg_outlet", "imu_outlet", "marker_outlet"):
            setattr(self, name, None)


class MarkerTracker:
    """Turn successive `glutescope.live.LiveStats` into marker strings, each event once.

    Events: the cue in force changing (``cue squeeze right``), a rep found (``rep 3
    start`` and ``rep 3 end`` at its onset and offset), a squeeze scored
    (``squeeze right 92/100 ...``, `glutescope.guide.describe_score`).
    """

    def __init__(self, publisher: LslPublisher, emg_fs_hz: float) -> None:
        self.publisher = publisher
        self.emg_fs_hz = float(emg_fs_hz)
        self._cue = None
        self._reps: set[float] = set()
        self._scores: set[str] = set()

    def update(self, stats) -> None:
        """Push the events ``stats`` shows that earlier ones did not."""
        from glutescope.guide import describe_score

        fs = self.emg_fs_hz
        cue = stats.cue
        if cue is not None and cue != self._cue:
            self.publisher.marker_at_sample(f"cue {cue.name} {cue.side}", cue.start_s * fs)
        self._cue = cue
        for c in stats.contractions:
            if c.start_s in self._reps:
                continue
            self._reps.add(c.start_s)
            n = len(self._reps)
            self.publisher.marker_at_sample(f"rep {n} start", c.start_s * fs)
            self.publisher.marker_at_sample(f"rep {n} end", c.end_s * fs)
        for score in stats.squeeze_scores:
            text = f"squeeze {describe_score(score)}"
            if text not in self._scores:
                self._scores.add(text)
                self.publisher.push_marker(text)
