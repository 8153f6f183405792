"""Files derived from a recording are as private as the recording itself.

A recording is 0700/0600 (`glutescope.recording`): it holds a person's muscle signals
under their pseudonym. Its exports and its report hold the same, so they are created
readable by their owner only, whatever the user's umask, and whichever library (edfio,
c3d, matplotlib) opens the file.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

PRIVATE_UMASK = 0o077


@contextlib.contextmanager
def private_files(*replacing: Path) -> Iterator[None]:
    """Create files and folders 0600/0700 inside the block.

    ``replacing``: outputs that exist and are being replaced (``--force``). A library
    that opens one for writing truncates it and keeps its old mode, so each is removed
    first and created anew.
    """
    for path in replacing:
        if path.is_file() or path.is_symlink():
            path.unlink()
    old = os.umask(PRIVATE_UMASK)  # process-wide: the commands that use it write from one thread
    try:
        yield
    finally:
        os.umask(old)
