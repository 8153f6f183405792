"""The ``glutescope`` command line: one module per subcommand in ``glutescope.commands``.

``main(argv, env) -> exit status`` keeps the process environment injectable so tests
run the real CLI in-process; heavy imports (numpy, Qt, bleak) happen inside each
command so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Mapping, Sequence, TextIO

from glutescope import __version__
from glutescope.exitcodes import CliError, ExitStatus

# subcommand name -> (module in glutescope.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "live": ("live", "live biofeedback and guided protocols; the virtual wearable unless --device/--serial"),
    "demo": ("demo", "the same as live (its alias), on the built-in virtual wearable by default"),
    "scan": ("scan", "list glutescope wearables in range"),
    "firmware": ("firmware", "install the firmware on a board running MicroPython (mpremote)"),
    "selftest": ("selftest", "run a wearable through rates, channels, a dropout and a RESEND: pass/fail table"),
    "virtual": ("virtual", "serve a virtual wearable in its own process (reach it with --virtual-port)"),
    "record": ("record", "record a session to a .glutes recording, without a window"),
    "info": ("info", "describe a recording: device, channels, samples, exact gaps, damage"),
    "recover": ("recover", "repair a recording whose writer died (crash, power cut)"),
    "replay": ("replay", "play a recording through the live window, or headless with a summary"),
    "export": ("export", "export a recording as EDF+, C3D or CSV"),
    "report": ("report", "write a one-look PDF or HTML report of a recording for a physiotherapist"),
    "import": ("import_file", "turn a C3D, EDF+/BDF or CSV EMG file from another system into a recording"),
    "history": ("history", "one person's sessions side by side: SI trend, weaker side, smallest detectable change"),
}


@dataclass
class Environment:
    """What a command may touch of the outside world; tests pass their own."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def has_display(self) -> bool:
        """True when a Qt window can be shown to a person."""
        if self.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
            return False
        if sys.platform.startswith("linux"):
            return bool(self.environ.get("DISPLAY") or self.environ.get("WAYLAND_DISPLAY"))
        return True

    def error(self, message: str) -> None:
        print(f"glutescope: error: {message}", file=self.stderr)


class _OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line, as every other error, with where to read more."""

    def error(self, message: str):
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="glutescope",
        description="Wearable EMG + IMU biofeedback for the glutes. "
        "A training and assessment aid, not a medical device.",
    )
    parser.add_argument("--version", action="version", version=f"glutescope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _command_module(module).add_arguments(cmd)
    return parser


def _command_module(module: str):
    return importlib.import_module(f"glutescope.commands.{module}")


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run one command; return its exit status instead of exiting."""
    env = env or Environment()
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse exits on --help / bad usage
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(env.stdout)
        return ExitStatus.USAGE
    module = _command_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args, env))
    except CliError as exc:
        env.error(str(exc))
        return int(exc.status)
    except KeyboardInterrupt:
        env.error("interrupted")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`glutescope info ... | head`): nothing more to say.
        return ExitStatus.OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
