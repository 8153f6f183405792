"""Process exit statuses of the ``glutescope`` command, one per kind of failure."""
from enum import IntEnum


class ExitStatus(IntEnum):
    """What a ``glutescope`` command returns to the shell."""

    OK = 0
    ERROR = 1  # unexpected failure; the message says what
    USAGE = 2  # bad arguments (argparse's own convention)
    DEVICE_NOT_FOUND = 3  # no wearable answered the scan or the name/address
    NO_ADAPTER = 4  # no Bluetooth adapter or serial port to use
    IO_ERROR = 5  # a file could not be read or written (permission, disk full, corrupt)
    DISCONNECTED = 6  # the wearable went away and did not come back
    DAMAGED = 7  # the recording's file is damaged (CRC, truncation); --allow-damaged goes on
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class CliError(Exception):
    """A failure to report as one line and an exit status, never as a traceback."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.ERROR):
        super().__init__(message)
        self.status = status
