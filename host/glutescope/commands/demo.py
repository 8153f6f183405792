"""``glutescope demo``: `glutescope live` on the built-in virtual wearable (its alias)."""
from __future__ import annotations

from glutescope.commands.live import add_arguments, run

__all__ = ["add_arguments", "run"]
