"""``glutescope scan``: list the wearables in range, with signal strength."""
from __future__ import annotations

import argparse

from glutescope.exitcodes import CliError, ExitStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long to listen (default: %(default)s)")
    parser.add_argument("--virtual", action="store_true",
                        help="scan the built-in virtual wearable's software radio instead of Bluetooth")


def run(args: argparse.Namespace, env) -> ExitStatus:
    import asyncio

    from glutescope.transports import NoAdapter
    from glutescope.transports.ble import scan

    async def scan_virtual():
        from glutescope.virtual.wearable import VirtualWearable

        async with VirtualWearable.started() as wearable:
            return await scan(args.timeout, scanner_backend=wearable.scanner_backend)

    try:
        found = asyncio.run(scan_virtual() if args.virtual else scan(args.timeout))
    except NoAdapter as exc:
        raise CliError(f"{exc} (is Bluetooth on? try --virtual for the built-in wearable)",
                       ExitStatus.NO_ADAPTER) from exc
    if not found:
        raise CliError(f"no glutescope wearable answered within {args.timeout:g} s",
                       ExitStatus.DEVICE_NOT_FOUND)
    print(f"{'name':<20} {'address':<20} {'RSSI':>8} {'battery':>8}", file=env.stdout)
    for w in found:
        battery = "?" if w.battery_pct is None else f"{w.battery_pct} %"
        print(f"{w.name:<20} {w.address:<20} {w.rssi_dBm:>4} dBm {battery:>8}", file=env.stdout)
    return ExitStatus.OK
