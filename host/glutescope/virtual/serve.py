"""The virtual wearable in its own process, on the air for a host in another process.

By default the process also runs the relay (`glutescope.virtual.remote.RadioRelay`):
the wearable's controller and the host's controller on one virtual link, and the
host's controller served over loopback TCP. A host reaches it with::

    radio = RemoteRadio(central_port=PORT)      # PORT from the "ready" line
    await radio.open()
    scanner_cls, client_cls = backends_for(radio)   # then bleak as usual

With ``--relay-port`` the wearable joins a relay running elsewhere on this machine
(``python -m glutescope.virtual.remote``) instead, and the host connects to that
relay's central port. Runs until SIGTERM or SIGINT, then powers off and exits 0.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Optional, Sequence, TextIO

from glutescope.exitcodes import ExitStatus

EXERCISES = ("demo", "bridges", "single_leg_bridges", "squeeze_test", "single_leg_stance", "rest", "calibration",
             "calibrated_demo", "no_squeeze", "tensed_relax", "medius", "desk")
#: First word of the line printed once the wearable is on the air.
READY_PREFIX = "ready:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0,
                        help="loopback TCP port where the host's controller is served (default: any free port)")
    parser.add_argument("--relay-port", type=int, metavar="PORT",
                        help="join the relay already serving the wearable's controller on this port "
                             "instead of starting one")
    parser.add_argument("--exercise", choices=EXERCISES, default="demo",
                        help="what the body model performs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="body-model seed (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="run the wearable's clock this many times faster than real time")
    parser.add_argument("--mains", type=float, choices=(50.0, 60.0), default=50.0,
                        help="mains frequency of the simulated hum, Hz (default: %(default)s)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glutescope.virtual.serve",
        description="Run the virtual wearable in this process; a host connects over loopback TCP.",
    )
    add_arguments(parser)
    return parser


async def serve(args: argparse.Namespace, out: TextIO, stop: asyncio.Event) -> None:
    """Power the wearable, print the ready line to ``out``, run until ``stop`` is set.

    The ready line reads ``ready: host controller at tcp-client:127.0.0.1:PORT``.
    """
    from glutescope.virtual.remote import RadioRelay, RemoteRadio
    from glutescope.virtual.wearable import VirtualWearable

    relay: Optional[RadioRelay] = None
    radio: Optional[RemoteRadio] = None
    wearable: Optional[VirtualWearable] = None
    try:
        if args.relay_port is None:
            relay = RadioRelay(central_port=args.port)
            await relay.open()
            peripheral_port, central = relay.peripheral_port, f"{relay.host}:{relay.central_port}"
        else:
            peripheral_port, central = args.relay_port, "the relay's central port"
        radio = RemoteRadio(peripheral_port=peripheral_port)
        await radio.open()
        wearable = VirtualWearable(exercise=args.exercise, seed=args.seed, speed=args.speed,
                                   mains_hz=args.mains, radio=radio)
        await wearable.start()
        print(f"{READY_PREFIX} host controller at tcp-client:{central}", file=out, flush=True)
        await stop.wait()
    finally:
        if wearable is not None:
            await wearable.stop()
        if radio is not None:
            await radio.close()
        if relay is not None:
            await relay.close()


def check_arguments(args: argparse.Namespace) -> Optional[str]:
    if not 0 <= args.port <= 65535:
        return f"--port must be in 0..65535, got {args.port}"
    if args.relay_port is not None and not 1 <= args.relay_port <= 65535:
        return f"--relay-port must be in 1..65535, got {args.relay_port}"
    if not args.speed > 0:
        return f"--speed must be positive, got {args.speed:g}"
    return None


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None,
         err: Optional[TextIO] = None) -> int:
    """Run the virtual wearable until SIGTERM/SIGINT; return the exit status.

    ``out`` gets the ready line, ``err`` the one-line errors (default: the process's).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or bad usage (argparse has printed why)
        return int(exc.code or 0)
    problem = check_arguments(args)
    if problem is not None:
        print(f"error: {problem}", file=err)
        return ExitStatus.USAGE

    async def run() -> None:
        from glutescope.virtual.remote import stop_on_signals

        # Signals are honoured from the start: one during start-up stops right after it.
        with stop_on_signals(asyncio.Event()) as stop:
            await serve(args, out, stop)

    try:
        asyncio.run(run())
    except (OSError, ConnectionError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return ExitStatus.ERROR
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
