"""``glutescope selftest``: run a wearable through rates, channels, a dropout and a RESEND.

Prints one line per step with the measured EMG rate (device clock), samples lost after
backfill, ADC overruns, link throughput, PING round trip and battery, and PASS/FAIL
(hardware/bring-up.md says what to expect). Exit status 0 only if no step failed.
"""
from __future__ import annotations

import argparse

from glutescope.exitcodes import CliError, ExitStatus

#: The virtual wearable's clock runs this much faster than real time in a self-test.
VIRTUAL_SPEED = 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--device", metavar="NAME_OR_ADDRESS", help="a real wearable over Bluetooth LE")
    source.add_argument("--serial", metavar="PORT", help="a real wearable over USB serial (bench only)")
    source.add_argument("--virtual", action="store_true",
                        help="the built-in virtual wearable (the default when no device is named)")
    parser.add_argument("--duration", type=float, default=3.0, metavar="SECONDS",
                        help="device seconds streamed per step (default: %(default)s)")


def run(args: argparse.Namespace, env) -> ExitStatus:
    if not args.duration > 0:
        raise CliError(f"--duration must be positive, got {args.duration:g}", ExitStatus.USAGE)
    import asyncio

    from glutescope.commands.options import SERIAL_SAFETY
    from glutescope.selftest import format_table, run_selftest
    from glutescope.session import SessionOptions, make_transport
    from glutescope.transports import DeviceNotFound, NoAdapter, TransportError

    virtual = not (args.device or args.serial)
    speed = VIRTUAL_SPEED if virtual else 1.0
    options = SessionOptions(device=args.device, serial_port=args.serial, speed=speed,
                             channel_mask=0b111, imu_fs_hz=208)
    if args.serial:
        print(SERIAL_SAFETY, file=env.stderr)
    transport = make_transport(options)
    print(f"glutescope: self-test of {transport.description or 'the wearable'}", file=env.stdout)

    async def main():
        from glutescope.selftest import default_steps

        steps = None
        if virtual:  # the virtual board has ADC0-2, as the Pico 2 W
            steps = default_steps(0b111, duration_s=args.duration)
        return await run_selftest(transport, steps, speed=speed)

    try:
        results = asyncio.run(main())
    except DeviceNotFound as exc:
        raise CliError(str(exc), ExitStatus.DEVICE_NOT_FOUND) from None
    except NoAdapter as exc:
        raise CliError(f"{exc} (is Bluetooth on?)", ExitStatus.NO_ADAPTER) from None
    except asyncio.TimeoutError:
        raise CliError("the wearable did not answer the self-test's commands", ExitStatus.DEVICE_NOT_FOUND) from None
    except TransportError as exc:
        raise CliError(str(exc), ExitStatus.ERROR) from None
    print(format_table(results), file=env.stdout)
    return ExitStatus.ERROR if any(r.passed is False for r in results) else ExitStatus.OK
