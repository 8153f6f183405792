"""``glutescope demo``: `glutescope live` on the built-in virtual wearable (its alias)."""
from __future__ import annotations

from glutescope.commands.live import EXERCISES, add_arguments, run

__all__ = ["EXERCISES", "add_arguments", "run"]
