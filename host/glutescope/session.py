"""A live session: acquisition on its own thread and event loop, state for the UI.

The radio stack, the decoder and the signal core run in an asyncio loop on a worker
thread; the Qt thread only reads the ring buffers and the latest stats (the
BrainFlow ``get_current_board_data`` pattern), so a slow redraw never costs a sample.
"""
from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from glutescope.exitcodes import CliError, ExitStatus

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SessionOptions:
    """What to connect to and how to configure it."""

    device: Optional[str] = None
    """BLE name or address of a real wearable; ``None`` with no serial port = virtual."""
    serial_port: Optional[str] = None
    exercise: str = "demo"
    """Virtual wearable only: the body model's script."""
    mains_hz: Optional[float] = None
    """The local mains frequency when known (50/60 Hz); None: found in the signal. The
    built-in virtual wearable hums at it (at 50 Hz when None)."""
    speed: float = 1.0
    """Virtual wearable only: its clock runs this many times faster than real time."""
    seed: int = 0
    record_path: Optional[Path] = None
    emg_fs_hz: int = 2000
    channel_mask: int = 0b011
    imu_fs_hz: int = 104
    channel_names: tuple[str, ...] = ("glute_max_left", "glute_max_right")
    replay_path: Optional[Path] = None
    imu_mount: str = "upright"
    """How the IMU breakout sits on the sacrum (`glutescope.mounting`)."""
    virtual_port: Optional[int] = None
    """A virtual wearable served by `glutescope virtual` at this loopback port."""
    calibration: Optional[object] = None
    """A `glutescope.calibration.Calibration` from an earlier recording of the same person:
    the left/right comparison and squeeze strength use it from the first rep."""
    protocol: Optional[str] = None
    """A guided protocol to run (`glutescope.protocols.NAMES`); the virtual wearable's body
    then performs it. None: no protocol (the exercise's cues, if any)."""
    subject: Optional[str] = None
    """Pseudonym stored with the recording."""
    target_pct: Optional[tuple[float, float]] = None
    """The person's own target band (low, high) in % of each glute's reference, for every
    step of the protocol that has one; None: the protocol's."""
    remind_every_s: Optional[float] = None
    """The desk protocol's sitting time between reminders to move, s; None: an hour."""
    body: Optional[object] = None
    """Virtual wearable only: the body-model session (`glutesignal.simulation.BodySession`)
    it plays instead of rendering one for the exercise or protocol: a person of known truth."""
    """Play this ``.glutes`` recording instead of connecting to a wearable; ``speed``
    then scales its pace (0 = as fast as possible)."""
    lsl: bool = False
    """Publish the EMG, IMU and events as Lab Streaming Layer streams (`glutescope.lsl`;
    the command configures liblsl's scope before the session starts)."""


def make_transport(options: SessionOptions, body=None, exercise: Optional[str] = None):
    """The transport the options ask for (imported lazily, like bleak's backends); for the
    virtual wearable, ``body`` (default ``options.body``) playing ``exercise``."""
    from glutescope.transports import TransportKind, transport_class

    if options.replay_path is not None:
        return transport_class(TransportKind.REPLAY)(options.replay_path, speed=options.speed)
    if options.virtual_port is not None:
        return transport_class(TransportKind.REMOTE_VIRTUAL)(options.virtual_port)
    if options.serial_port:
        return transport_class(TransportKind.SERIAL)(options.serial_port)
    if options.device:
        return transport_class(TransportKind.BLE)(options.device)
    body = body if body is not None else options.body
    exercise = exercise or options.exercise
    return transport_class(TransportKind.VIRTUAL)(
        session=body, exercise=exercise, seed=options.seed, speed=options.speed,
        mains_hz=options.mains_hz if options.mains_hz is not None else 50.0,
        emg_fs_hz=options.emg_fs_hz, imu_fs_hz=options.imu_fs_hz, channels=options.channel_names,
        imu_mount=options.imu_mount)


PROTOCOL_PAD_S = 2.0
"""Rest the virtual body holds after a protocol's results are due, s (it loops after)."""


def session_protocol(options: SessionOptions):
    """``options.protocol`` with the person's target band, if they set one."""
    from glutescope.protocols import get
    from glutescope.protocols.base import with_target

    protocol = get(options.protocol)
    return with_target(protocol, options.target_pct) if options.target_pct is not None else protocol


def _remind_kw(options: SessionOptions) -> dict:
    return {} if options.remind_every_s is None else {"remind_every_s": float(options.remind_every_s)}


def protocol_body(options: SessionOptions):
    """The virtual body that performs ``options.protocol``, the exercise it plays, and the
    protocol's runner on its script.

    Its script when the body model has one (`Protocol.body_exercise`), else standing at
    rest for the protocol's virtual steps; padded with rest past the results, so the body
    does not start again before they are in. A given body (``options.body``, a person of
    known truth) is played as it is, and the steps are laid on its own script: its reps
    need not fall where the default person's do.
    """
    from glutescope.protocols.runner import runner_for
    from glutesignal.simulation import simulate

    protocol = session_protocol(options)
    exercise = protocol.body_exercise or "rest"
    mains = options.mains_hz if options.mains_hz is not None else 50.0
    kw = dict(seed=options.seed, imu_fs_hz=options.imu_fs_hz or 104.0, channels=tuple(options.channel_names))
    script = options.body or simulate(exercise, emg_fs_hz=200.0, mains_hz=None, **kw)  # cheap: the script only
    runner = runner_for(protocol, script, **_remind_kw(options))
    body = options.body or simulate(exercise, emg_fs_hz=options.emg_fs_hz, mains_hz=mains,
                                    duration_s=runner.end_s + protocol.settle_s + PROTOCOL_PAD_S, **kw)
    return body, exercise, runner


class LiveSession:
    """Run acquisition + live processing in the background; expose `state` to readers."""

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.state = None  # LiveState, once the device info is known
        self.error: Optional[BaseException] = None
        self.error_status = ExitStatus.ERROR
        self.acquisition = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._started_at = 0.0
        self.runner = None  # the protocol's runner (glutescope.protocols.runner), if one is run
        virtual = not (options.device or options.serial_port or options.virtual_port is not None
                       or options.replay_path is not None)
        if options.protocol is not None and virtual:
            body, exercise, self.runner = protocol_body(options)
            self.transport = make_transport(options, body, exercise)
        else:
            if options.protocol is not None and options.replay_path is None:
                from glutescope.protocols.runner import runner_for

                self.runner = runner_for(session_protocol(options), **_remind_kw(options))
            self.transport = make_transport(options)
        self.source_description = self.transport.description

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def results(self):
        """The protocol's results once in (`ProtocolResults`), else None."""
        return self.runner.results if self.runner is not None else None

    @property
    def finished(self) -> bool:
        """True when the source has nothing more to give (a replay reached its end)."""
        return bool(getattr(self.transport, "finished", False)) and self.transport.frames.empty()

    def start(self) -> None:
        """Connect and start streaming; raise `CliError` with one line if that fails."""
        self._thread = threading.Thread(target=self._thread_main, name="glutescope-acquisition", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S / max(self.options.speed, 1.0) + START_TIMEOUT_S):
            self.stop()
            raise CliError("the wearable did not start streaming in time", ExitStatus.DEVICE_NOT_FOUND)
        if self.error is not None:
            self.stop()
            raise CliError(str(self.error), self.error_status)

    def stop(self) -> None:
        """Stop streaming and close the link and the recording; safe twice."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass  # the loop closed in between: the thread is ending anyway
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the caller, which prints one line
            self._fail(exc)
        finally:
            self._ready.set()

    def _fail(self, exc: BaseException) -> None:
        from glutescope.transports import DeviceNotFound, NoAdapter

        if self.error is None:
            self.error = exc
            if isinstance(exc, DeviceNotFound):
                self.error_status = ExitStatus.DEVICE_NOT_FOUND
            elif isinstance(exc, NoAdapter):
                self.error_status = ExitStatus.NO_ADAPTER
            elif isinstance(exc, OSError):
                self.error_status = ExitStatus.IO_ERROR

    async def _main(self) -> None:
        from glutescope.acquisition import Acquisition
        from glutescope.live import LiveProcessor
        from glutescope.units import adc_scale

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        opts = self.options
        recorder = None
        if opts.record_path is not None:
            from glutescope.recording import RecordingWriter

            # Frames are stamped with the monotonic clock by the transports: same clock here.
            recorder = RecordingWriter(opts.record_path, subject=opts.subject, clock_ns=time.monotonic_ns)
            recorder.open()
        processor: Optional[LiveProcessor] = None
        publisher = None  # glutescope.lsl.LslPublisher with --lsl, once the rates are known
        markers = None
        # Blocks can arrive before the streaming INFO that sizes the processor (always
        # so in a replay): hold them, in order, until it exists.
        early: list[tuple[str, object, tuple]] = []

        def on_emg(block, emg_uV):
            if processor is None:
                early.append(("emg", block, (emg_uV,)))
            else:
                processor.push_emg(block.first_sample, emg_uV)
                if publisher is not None:
                    publisher.push_emg(block, emg_uV)
                    markers.update(processor.state.stats)

        def on_imu(block, acc_g, gyro_dps):
            if processor is None:
                early.append(("imu", block, (acc_g, gyro_dps)))
            else:
                processor.push_imu(block.first_sample, acc_g, gyro_dps)
                if publisher is not None:
                    publisher.push_imu(block, acc_g, gyro_dps)

        def on_link(what: str) -> None:
            if publisher is not None:
                publisher.push_marker(f"link {what}")

        # A replay ends for good when the recording does: give up on it at once.
        mount = _recorded_imu_mount(opts.replay_path) if opts.replay_path is not None else opts.imu_mount
        acq = Acquisition(self.transport, on_emg=on_emg, on_imu=on_imu, recorder=recorder,
                          reconnect_timeout_s=0.0 if opts.replay_path is not None else 60.0,
                          imu_mount=mount, on_link_change=on_link)
        self.acquisition = acq
        try:
            if opts.replay_path is not None:
                info = await acq.open_passive(timeout_s=START_TIMEOUT_S)
            else:
                info = await acq.open(emg_fs_hz=opts.emg_fs_hz, channel_mask=opts.channel_mask,
                                      imu_fs_hz=opts.imu_fs_hz)
            names = opts.channel_names[: bin(info.channel_mask).count("1")]
            if opts.replay_path is not None:
                names = _recorded_channel_names(opts.replay_path, info) or names
            cues, single_leg, rep_cues, calibration, exercise = self._plan()
            from glutescope.live import BRIDGE_EXERCISES

            mains_hz = opts.mains_hz
            if mains_hz is None and opts.replay_path is not None:
                from glutescope.mains import recorded_mains_hz

                mains_hz = recorded_mains_hz(_recorded_meta(opts.replay_path))
            processor = LiveProcessor(names, float(info.emg_fs_hz), float(info.imu_fs_hz),
                                      mains_hz=mains_hz, link=self.transport.description,
                                      squeeze_cues=cues, single_leg=single_leg, rep_cues=rep_cues,
                                      calibration=calibration, reps_move_pelvis=exercise in BRIDGE_EXERCISES,
                                      adc=adc_scale(info), runner=self.runner)
            if opts.lsl:
                from glutescope.lsl import LslPublisher, MarkerTracker

                publisher = LslPublisher("glutescope", names, float(info.emg_fs_hz), float(info.imu_fs_hz),
                                         acq.session.clock, imu_mount=mount, link=self.transport.description)
                markers = MarkerTracker(publisher, float(info.emg_fs_hz))
            for kind, block, data in early:
                if kind == "emg" and block.channel_mask == info.channel_mask:
                    processor.push_emg(block.first_sample, *data)
                    if publisher is not None:
                        publisher.push_emg(block, *data)
                elif kind == "imu":
                    processor.push_imu(block.first_sample, *data)
                    if publisher is not None:
                        publisher.push_imu(block, *data)
            early.clear()
            if recorder is not None:
                recorder.set_device_info(info, channel_names=names)
                cues = processor.guide.cues if processor.guide is not None else ()
                if self.runner is not None:
                    recorder.set_protocol(self.runner.to_record())
                    rep_cues = self.runner.rep_cues()
                recorder.set_session_plan(exercise=exercise, imu_mount=mount,
                                          squeeze_cues=[dataclasses.asdict(c) for c in cues],
                                          rep_cues=[dataclasses.asdict(c) for c in rep_cues],
                                          calibration=calibration.to_meta() if calibration is not None else None)
            mains_stored = False
            events_stored = 0
            self.state = processor.state
            self._started_at = time.monotonic()
            self._ready.set()
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.5)
                except asyncio.TimeoutError:
                    processor.update_link(acq.counters, acq.status, acq.emg)
                if recorder is not None and self.runner is not None and len(self.runner.events) > events_stored:
                    events_stored = self._store_protocol(recorder, events_stored)
                if recorder is not None and not mains_stored and processor.mains_hz is not None:
                    recorder.set_mains(processor.mains_hz, source="given" if opts.mains_hz else "detected")
                    mains_stored = True
                if acq.failure is not None:
                    # The recording (or the pipeline) broke: stop and say so rather than
                    # show a live view of data that is no longer being kept.
                    raise acq.failure
        finally:
            await acq.close()
            if processor is not None:
                processor.update_link(acq.counters, acq.status, acq.emg)
            if recorder is not None:
                if self.runner is not None and processor is not None:
                    self._store_protocol(recorder, events_stored)
                recorder.close()
            if publisher is not None:
                if markers is not None:
                    markers.update(processor.state.stats)
                publisher.close()

    def _store_protocol(self, recorder, stored: int) -> int:
        """Write the runner's new events to the recording: a marker per step, the protocol whole."""
        events = self.runner.events
        for ev in events[stored:]:
            if ev["kind"] == "step":
                label = f"step {ev['index'] + 1}: {ev['cue']}"
            elif ev["kind"] == "results":
                label = f"results: {ev['headline']}"
            else:
                label = ev["kind"].replace("_", " ") + ": " + ", ".join(str(g) for g in ev.get("grades", ()))
            recorder.add_marker(label, emg_sample=ev["emg_sample"])
        recorder.set_protocol(self.runner.to_record())
        return len(events)

    def _plan(self) -> tuple[Optional[tuple], bool, tuple, Optional[object], Optional[str]]:
        """The cued phases (None: none), single-leg or not, the cued reps, the calibration
        and the exercise.

        Live: the virtual body's script or the standard schedule (`guide.session_cues`),
        and the calibration given in the options. Replay: what the recording says it
        showed (`analysis.exercise_plan`), so a replay shows what the live view showed.
        """
        if self.options.replay_path is not None:
            from glutescope.analysis import exercise_plan
            from glutescope.chunked import load_summary

            rec = load_summary(self.options.replay_path)  # meta and plan only: no EMG held
            stored = (rec.meta or {}).get("protocol")
            if stored:
                from glutescope.protocols.runner import runner_from_record

                self.runner = runner_from_record(stored)  # the replay steps through it again
            plan = exercise_plan(rec)
            return plan.squeeze_cues or None, plan.single_leg, plan.rep_cues, plan.calibration, plan.exercise
        if self.runner is not None:
            r = self.runner
            return (r.cues() or None, r.protocol.single_leg, r.rep_cues(), self.options.calibration,
                    r.protocol.name)
        from glutescope.guide import session_cues, session_rep_cues

        wearable = getattr(self.transport, "wearable", None)
        cues = session_cues(self.options.exercise, wearable.session.phases if wearable else None)
        reps = session_rep_cues(wearable.session.reps) if wearable else ()
        return (cues or None, self.options.exercise.startswith("single_leg"), reps, self.options.calibration,
                self.options.exercise)

    def summary_text(self) -> str:
        """What the session measured, in a few lines for the terminal."""
        if self.state is None:
            return "glutescope: no data was received"
        text = self.state.stats.report(self.state.channel_names)
        if self.runner is not None:
            text += "\n" + (self.runner.results.text() if self.runner.results is not None else
                            f"glutescope: {self.runner.protocol.title}: stopped before its results "
                            f"(the last step ends at {self.runner.end_s:.0f} s of stream)")
        return text


def _recorded_meta(path: Path) -> dict:
    import json

    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _recorded_imu_mount(path: Path) -> str:
    """The IMU mount the recording was made with (older recordings: upright)."""
    from glutescope.mounting import DEFAULT_MOUNT, MOUNTS

    mount = _recorded_meta(path).get("imu_mount", DEFAULT_MOUNT)
    return mount if mount in MOUNTS else DEFAULT_MOUNT


def _recorded_channel_names(path: Path, info) -> tuple[str, ...]:
    """The muscle of each EMG row as the recording's ``meta.json`` names them, if it does."""
    import json

    try:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
        cmap = meta.get("channel_map") or {}
        inputs = [i for i in range(8) if info.channel_mask >> i & 1]
        names = tuple(str(cmap[str(i)]) for i in inputs)
    except (OSError, ValueError, KeyError, AttributeError):
        return ()
    return names
