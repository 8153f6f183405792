"""``glutescope virtual``: a virtual wearable in its own process, for a host to reach.

The firmware runs here on its hardware simulations; its radio is served on loopback so
``glutescope demo --virtual-port PORT`` (or ``record``) in another terminal connects to
it over Bluetooth LE as to a real board. Runs until Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse

from glutescope.exitcodes import CliError, ExitStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from glutescope.virtual import serve

    serve.add_arguments(parser)


def run(args: argparse.Namespace, env) -> ExitStatus:
    import asyncio

    from glutescope.virtual import serve
    from glutescope.virtual.remote import stop_on_signals

    problem = serve.check_arguments(args)
    if problem is not None:
        raise CliError(problem, ExitStatus.USAGE)

    async def main() -> None:
        with stop_on_signals(asyncio.Event()) as stop:
            await serve.serve(args, env.stdout, stop)

    try:
        asyncio.run(main())
    except (OSError, ConnectionError, ValueError) as exc:
        raise CliError(str(exc), ExitStatus.ERROR) from exc
    return ExitStatus.OK
