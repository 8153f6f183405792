"""``glutescope record``: record a session to a ``.glutes`` recording, without a window.

The frames go to the recording exactly as they arrive (fsynced at least every 0.5 s,
so a crash loses at most that much; ``glutescope recover`` repairs the rest). While it
runs, one status line on stderr says how the link behaves, with a progress bar when a
duration is set; Ctrl-C stops cleanly and says what was saved.

Exit statuses: 0 done; 2 bad arguments; 3 no wearable answered; 4 no Bluetooth
adapter; 5 the recording could not be written (exists already without ``--force``,
permission denied, disk full); 6 the wearable went away and did not come back;
130 interrupted before anything was received. Ctrl-C after that is a normal end (0):
the recording is closed and kept, and the command says how long it ran.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from glutescope.commands.options import (EXERCISES, SERIAL_SAFETY, add_calibration_argument, add_imu_mount_argument,
                                         add_lsl_arguments, add_source_arguments, load_calibration_argument,
                                         parse_channels, prepare_lsl)
from glutescope.exitcodes import CliError, ExitStatus

EMG_RATES_HZ = (500, 1000, 1500, 2000)  # PROTOCOL.md, START
IMU_RATES_HZ = (0, 104, 208)
STATUS_PERIOD_S = 0.25  # how often the status line is refreshed on a terminal
LOG_STATUS_PERIOD_S = 2.0  # how often a status line is printed when stderr is not a terminal
SUMMARY_GAPS = 20
BAR_FORMAT = "{percentage:3.0f}%|{bar:12}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}] {desc}"
BAR_FIXED_COLUMNS = 45  # what BAR_FORMAT takes besides the status text, for recordings under 10^5 s


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, metavar="OUTPUT.glutes",
                        help="the recording to create (a directory named <name>.glutes)")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after this much signal (default: until Ctrl-C)")
    add_source_arguments(parser)
    parser.add_argument("--exercise", choices=EXERCISES, default="demo",
                        help="virtual wearable only: what its body model performs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="virtual wearable only: the body model's seed")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="virtual wearable only: run its clock this many times faster than real time")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=None,
                        help="the local mains frequency, Hz, stored with the recording for its reports "
                             "and exports (and the built-in virtual wearable's hum); default: detected in the "
                             "signal and stored (the built-in virtual wearable then hums at 50 Hz)")
    parser.add_argument("--subject", metavar="PSEUDONYM",
                        help="subject pseudonym stored with the recording (never a real name)")
    parser.add_argument("--channels", default="glute_max_left,glute_max_right", metavar="NAME,NAME,...",
                        help="muscle on each ADC input from ADC0 on (default: %(default)s)")
    parser.add_argument("--emg-rate", type=int, choices=EMG_RATES_HZ, default=2000, metavar="HZ",
                        help="EMG samples per second per channel: 500, 1000, 1500 or 2000 (default: %(default)s)")
    parser.add_argument("--imu-rate", type=int, choices=IMU_RATES_HZ, default=104, metavar="HZ",
                        help="IMU samples per second: 0 (off), 104 or 208 (default: %(default)s)")
    add_imu_mount_argument(parser)
    parser.add_argument("--reconnect-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="how long to wait for a lost wearable to come back (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it is a recording already")
    add_calibration_argument(parser)
    add_lsl_arguments(parser)


def prepare_output(path: Path, force: bool) -> None:
    """Refuse to overwrite; with ``force``, remove a previous recording (only a recording)."""
    import shutil

    from glutescope.recording import FRAMES_FILE, META_FILE, RECORDING_SUFFIX

    if path.suffix != RECORDING_SUFFIX:
        raise CliError(f"OUTPUT must end in {RECORDING_SUFFIX}, got {str(path)!r}", ExitStatus.USAGE)
    if not (path.exists() or path.is_symlink()):
        return
    is_recording = path.is_dir() and not path.is_symlink() and (
        (path / FRAMES_FILE).is_file() or (path / META_FILE).is_file())
    if not force:
        what = "a recording" if is_recording else "something that is not a recording"
        raise CliError(f"{path} exists already ({what}); pick a new name or pass --force to replace it",
                       ExitStatus.IO_ERROR)
    if not is_recording:
        raise CliError(f"{path} exists and is not a recording; not replacing it, even with --force",
                       ExitStatus.IO_ERROR)
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise CliError(f"cannot replace {path}: {exc.strerror or exc}", ExitStatus.IO_ERROR) from None


@dataclass
class _Progress:
    """What the status line shows; updated by the recording loop."""

    link: str = "connecting"
    samples_done: int = 0  # EMG samples per channel over all segments (stream span)
    _base: int = 0
    _last_end: int = 0

    def update_span(self, end_sample: int) -> None:
        # A restart of the wearable begins a new segment at index 0: keep counting on.
        if end_sample < self._last_end:
            self._base += self._last_end
        self._last_end = end_sample
        self.samples_done = self._base + end_sample


class _StopOnWriteError:
    """The acquisition's recorder: hands every record to the writer, and after a write
    error (disk full) drops them and asks the recording to stop instead of raising
    inside the acquisition, so the link still closes cleanly."""

    def __init__(self, writer, on_error) -> None:
        self.writer = writer
        self.on_error = on_error
        self.n_dropped = 0

    def append(self, data, t_host_ns=None, *, source=0, host_to_device=False) -> None:
        from glutescope.recording import RecordingError

        try:
            self.writer.append(data, t_host_ns, source=source, host_to_device=host_to_device)
        except RecordingError as exc:
            self.n_dropped += 1
            self.on_error(exc)


def status_line(acq, progress: _Progress, fs_hz: float) -> str:
    """One line: signal recorded, samples, link figures, battery, link state."""
    c = acq.counters
    missing = sum(g.n_samples for g in acq.emg.gaps())
    status = acq.status
    battery = "?" if status is None or status.battery_pct > 100 else f"{status.battery_pct} %"
    return (f"{progress.samples_done / fs_hz:.1f} s · {progress.samples_done} samples · frames {c.frames} "
            f"(lost {c.lost_frames}, corrupt {c.corrupt_frames}) · missing samples {missing} · "
            f"battery {battery} · link {progress.link}")


def run(args: argparse.Namespace, env) -> ExitStatus:
    if args.duration is not None and not args.duration > 0:
        raise CliError(f"--duration must be positive, got {args.duration:g}", ExitStatus.USAGE)
    if not args.speed > 0:
        raise CliError(f"--speed must be positive, got {args.speed:g}", ExitStatus.USAGE)
    if not args.reconnect_timeout >= 0:
        raise CliError(f"--reconnect-timeout must be >= 0, got {args.reconnect_timeout:g}", ExitStatus.USAGE)
    if args.subject is not None and not args.subject.strip():
        raise CliError("--subject must be a non-empty pseudonym", ExitStatus.USAGE)
    channels = parse_channels(args.channels)
    calibration = load_calibration_argument(args.calibration)
    lsl = prepare_lsl(args, env, 1.0 if args.device or args.serial else args.speed)
    prepare_output(args.output, args.force)

    import asyncio

    from glutescope.recording import RecordingError, RecordingWriter
    from glutescope.session import SessionOptions, make_transport

    if args.serial:
        print(SERIAL_SAFETY, file=env.stderr)
    options = SessionOptions(
        device=args.device, serial_port=args.serial, exercise=args.exercise, mains_hz=args.mains,
        speed=args.speed, seed=args.seed, emg_fs_hz=args.emg_rate, channel_mask=(1 << len(channels)) - 1,
        imu_fs_hz=args.imu_rate, channel_names=channels, imu_mount=args.imu_mount,
        virtual_port=args.virtual_port, calibration=calibration, lsl=lsl)
    # The transports stamp frames with the monotonic clock: the recording uses the same.
    writer = RecordingWriter(args.output, subject=args.subject, clock_ns=time.monotonic_ns,
                             channel_map=dict(enumerate(channels)))
    try:
        writer.open()  # before connecting: a path we cannot write fails before any radio work
    except RecordingError as exc:
        raise CliError(str(exc), ExitStatus.IO_ERROR) from None
    if args.mains is None:
        # Imported (with scipy) before the stream starts, after the path is known to be
        # writable: importing it once the wearable streams stalls the loop for a second or
        # more, and the virtual wearable's IMU FIFO overflows meanwhile.
        import glutescope.mains  # noqa: F401
    session = _RecordSession(args, env, writer, make_transport(options), options)
    return asyncio.run(session.main())


class _RecordSession:
    """One run of ``record``: open, loop with the status line, close, summarise."""

    def __init__(self, args, env, writer, transport, options) -> None:
        self.args = args
        self.env = env
        self.writer = writer
        self.transport = transport
        self.options = options
        self.progress = _Progress()
        self.interrupted = False
        self.failure: Optional[CliError] = None

    async def main(self) -> ExitStatus:
        import asyncio
        import signal

        from glutescope.acquisition import Acquisition

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def on_sigint() -> None:
            self.interrupted = True
            stop.set()

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (NotImplementedError, RuntimeError):
            pass  # no loop signal handlers here (Windows): asyncio.run turns Ctrl-C into cancellation

        def on_link(what: str) -> None:
            self.progress.link = {"lost": "lost, reconnecting", "back": "up", "gone": "gone"}.get(what, what)
            if self.lsl is not None:
                self.lsl.push_marker(f"link {what}")
            if what == "gone":
                stop.set()

        want: list[int] = []  # EMG samples to record, once the rate is known

        def on_emg(block, emg_uV) -> None:
            if self.lsl is not None:
                self.lsl.push_emg(block, emg_uV)
                end = block.first_sample + block.n_samples
                while self.lsl_cues and self.lsl_cues[0].start_s * block_fs[0] <= end:
                    cue = self.lsl_cues.pop(0)
                    self.lsl.marker_at_sample(f"cue {cue.name} {cue.side}", cue.start_s * block_fs[0])
            if self.mains is not None and self.mains.push(block.first_sample, emg_uV):
                self.writer.set_mains(self.mains.mains_hz, source="detected")
            # Stop on the block that completes the duration, not at the next status tick.
            self.progress.update_span(acq.emg.end_sample)
            if want and self.progress.samples_done >= want[0]:
                stop.set()

        def on_imu(block, acc_g, gyro_dps) -> None:
            if self.lsl is not None:
                self.lsl.push_imu(block, acc_g, gyro_dps)

        def on_write_error(exc) -> None:
            if self.failure is None:
                self.failure = CliError(f"recording stopped: {exc}", ExitStatus.IO_ERROR)
            stop.set()

        self.mains = None  # searches the signal for the mains frequency when not given
        self.lsl = None  # glutescope.lsl.LslPublisher with --lsl, once the rates are known
        self.lsl_cues: list = []  # the session's cues not yet published, in order
        block_fs = [1.0]  # the EMG rate, once known
        self.recorder = _StopOnWriteError(self.writer, on_write_error)
        acq = Acquisition(self.transport, recorder=self.recorder, on_link_change=on_link, on_emg=on_emg,
                          on_imu=on_imu,
                          reconnect_timeout_s=self.args.reconnect_timeout, imu_mount=self.options.imu_mount)
        self.acq = acq
        bar = None
        info = None
        # Imported before START: importing the guide takes ~0.6 s, and once the stream runs
        # a blocked event loop starves a wearable that shares it (the virtual one).
        from glutescope.guide import session_cues, session_rep_cues
        try:
            try:
                info = await self._open(acq, stop)  # None: interrupted before the stream began
            except CliError as exc:
                self.failure = exc
            if info is not None:
                names = self.options.channel_names[: bin(info.channel_mask).count("1")]
                self.writer.set_device_info(info, channel_names=names)
                wearable = getattr(self.transport, "wearable", None)
                cues = session_cues(self.options.exercise, wearable.session.phases if wearable else None)
                reps = session_rep_cues(wearable.session.reps) if wearable else ()
                cal = self.options.calibration
                self.writer.set_session_plan(exercise=self.options.exercise, imu_mount=self.options.imu_mount,
                                             squeeze_cues=[dataclasses.asdict(c) for c in cues],
                                             rep_cues=[dataclasses.asdict(c) for c in reps],
                                             calibration=cal.to_meta() if cal is not None else None)
                if self.options.lsl:
                    from glutescope.lsl import LslPublisher

                    block_fs[0] = float(info.emg_fs_hz)
                    self.lsl_cues = sorted(cues, key=lambda c: c.start_s)
                    self.lsl = LslPublisher("glutescope", names, float(info.emg_fs_hz), float(info.imu_fs_hz),
                                            acq.session.clock, imu_mount=self.options.imu_mount,
                                            link=self.transport.description)
                if self.args.mains is not None:
                    self.writer.set_mains(self.args.mains, source="given")
                else:
                    from glutescope.mains import MainsFinder

                    self.mains = MainsFinder(info.emg_fs_hz, bin(info.channel_mask).count("1"))
                self.progress.link = "up"
                if self.args.duration is not None:
                    want.append(round(self.args.duration * info.emg_fs_hz))
                bar = self._progress_bar(info)
                await self._loop(acq, stop, info, bar)
        finally:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass
            await self._close(acq)
            if self.lsl is not None:
                self.lsl.close()
        return self._finish(acq, info, bar)

    async def _open(self, acq, stop):
        import asyncio

        from glutescope.acquisition import CommandRefused
        from glutescope.transports import DeviceNotFound, NoAdapter, TransportError

        opts = self.options
        opening = asyncio.ensure_future(acq.open(emg_fs_hz=opts.emg_fs_hz, channel_mask=opts.channel_mask,
                                                 imu_fs_hz=opts.imu_fs_hz))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not opening.done():
            opening.cancel()
            try:
                await opening
            except (asyncio.CancelledError, Exception):
                pass  # interrupted: whatever the opening was doing no longer matters
            return None
        try:
            return opening.result()
        except DeviceNotFound as exc:
            status, msg = ExitStatus.DEVICE_NOT_FOUND, str(exc)
        except NoAdapter as exc:
            status, msg = ExitStatus.NO_ADAPTER, f"{exc} (is Bluetooth on? without --device the built-in virtual wearable is used)"
        except asyncio.TimeoutError:
            status, msg = ExitStatus.DEVICE_NOT_FOUND, f"{self.transport.description} did not answer the first commands"
        except CommandRefused as exc:
            status, msg = ExitStatus.ERROR, f"the wearable refused to start streaming: {exc}"
        except TransportError as exc:
            status, msg = _transport_status(exc), str(exc)
        except OSError as exc:  # the recording (RecordingError is one)
            status, msg = ExitStatus.IO_ERROR, str(exc)
        raise CliError(msg, status)

    def _progress_bar(self, info):
        if self.args.duration is None:
            return None
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (logs get plain status lines).
        # Seconds of signal, not samples: "12/120 s [00:12<01:48]" says the total and what is left.
        return tqdm(total=self.args.duration, file=self.env.stderr, disable=None, desc="connected",
                    leave=False, bar_format=BAR_FORMAT)

    async def _loop(self, acq, stop, info, bar) -> None:
        import asyncio

        fs = float(info.emg_fs_hz)
        want = round(self.args.duration * fs) if self.args.duration is not None else None
        is_tty = _isatty(self.env.stderr)
        last_log = time.monotonic()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), STATUS_PERIOD_S)
            except asyncio.TimeoutError:
                pass
            self.progress.update_span(acq.emg.end_sample)
            line = status_line(acq, self.progress, fs)
            if bar is not None and not bar.disable:
                bar.update(min(self.progress.samples_done / fs, bar.total) - bar.n)
                link_part = line.split(" · ", 2)[-1]  # the bar shows the seconds and samples already
                bar.set_description_str(fit_status(link_part, _terminal_columns() - BAR_FIXED_COLUMNS), refresh=True)
            elif is_tty:
                print("\r\x1b[2K" + fit_status(line, _terminal_columns() - 1), end="", file=self.env.stderr,
                      flush=True)
            elif time.monotonic() - last_log >= LOG_STATUS_PERIOD_S:
                last_log = time.monotonic()
                print(f"glutescope: recording: {line}", file=self.env.stderr, flush=True)
            if self.writer.error is not None:
                if self.failure is None:
                    self.failure = CliError(f"recording stopped: {self.writer.error}", ExitStatus.IO_ERROR)
                return
            if acq.link_lost is not None:
                self.failure = CliError(f"recording stopped: {acq.link_lost}", ExitStatus.DISCONNECTED)
                return
            if want is not None and self.progress.samples_done >= want:
                return

    async def _close(self, acq) -> None:
        from glutescope.recording import RecordingError

        if self.mains is not None and self.mains.searched and not self.mains.found:
            self.writer.set_mains(None, source="detected")  # searched: no mains line in the signal

        for step in (acq.close, self.writer.close):
            try:
                result = step()
                if result is not None:
                    await result
            except RecordingError as exc:
                if self.failure is None:
                    self.failure = CliError(f"recording stopped: {exc}", ExitStatus.IO_ERROR)

    def _finish(self, acq, info, bar) -> ExitStatus:
        import shutil

        if bar is not None:
            bar.close()
        elif info is not None and _isatty(self.env.stderr):
            print(file=self.env.stderr)  # end the status line rewritten in place
        out = self.env.stdout
        if acq.counters.frames == 0 and self.writer.error is None:
            # Nothing was received: leave no empty recording behind to block the next try.
            shutil.rmtree(self.writer.path, ignore_errors=True)
            saved = f"nothing was received; no recording was left at {self.writer.path}"
        else:
            saved = self._summary(acq, info)
        if self.failure is not None:
            print(saved, file=out)
            raise self.failure
        if self.interrupted:
            print(saved, file=out)
            if not acq.counters.frames:
                self.env.error("interrupted before the wearable sent anything; nothing recorded")
                return ExitStatus.INTERRUPTED
            # Ctrl-C is the documented way to end a recording without --duration.
            fs = info.emg_fs_hz if info is not None else None
            length = f"{self.progress.samples_done / fs:.1f} s" if fs else "an unknown length"
            print(f"glutescope: stopped after {length} (Ctrl-C); the recording is closed and kept",
                  file=self.env.stderr)
            return ExitStatus.OK
        print(saved, file=out)
        return ExitStatus.OK

    def _summary(self, acq, info) -> str:
        from glutescope.commands.streams import stream_lines, stream_summary

        emg = stream_summary(acq.emg.segments(), info.emg_fs_hz if info else None)
        imu = stream_summary(acq.imu.segments(), info.imu_fs_hz if info else None)
        c = acq.counters
        dur = f"{emg.duration_s:.3f} s" if emg.duration_s is not None else "an unknown length"
        total = self.writer.n_records + self.recorder.n_dropped
        complete = self.writer.n_records_durable == total
        lines = [f"glutescope: recorded {dur} of signal to {self.writer.path}" if complete
                 else f"glutescope: received {dur} of signal for {self.writer.path}"]
        lines += ["  " + s for s in stream_lines("EMG", emg)]
        lines += ["  " + s for s in stream_lines("IMU", imu, unit_channels="axis")]
        lines.append(f"  {'link':<10} {c.frames} frames; {c.lost_frames} lost, {c.corrupt_frames} corrupt, "
                     f"{c.disconnects} disconnects, {c.reconnects} reconnects")
        if not complete:
            lines.append(f"  {'disk':<10} only the first {self.writer.n_records_durable} of {total} records "
                         f"reached the disk; the signal above includes what could not be written")
        if c.unrecoverable:
            lost = sum(n for _, _, n in c.unrecoverable)
            lines.append(f"  {'':<10} {lost} samples were no longer in the wearable's memory to resend")
        return "\n".join(lines)


def fit_status(line: str, columns: int) -> str:
    """``line`` cut to ``columns`` characters, dropping whole " · " fields from the end.

    A status line longer than the terminal would wrap, and rewriting it in place would
    then leave a trail of half lines.
    """
    if columns <= 0:
        return ""
    fields = line.split(" · ")
    while len(fields) > 1 and len(" · ".join(fields)) > columns:
        fields.pop()
    text = " · ".join(fields)
    return text if len(text) <= columns else text[: max(columns - 1, 0)] + "…"


def _terminal_columns() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _transport_status(exc: BaseException) -> ExitStatus:
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno in (errno.EACCES, errno.EPERM):
        return ExitStatus.IO_ERROR
    if "permission denied" in str(exc).lower():
        return ExitStatus.IO_ERROR
    return ExitStatus.ERROR


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
