"""The muscles an EMG channel can be placed on, and the names that say which one.

A channel name is ``<muscle>_<side>``, e.g. ``glute_max_left``: the scores pair channels
by side (left/right glute), and the exports and the report label them with it. The
placements are those of hardware/electrode-placement.md (SENIAM where it has one).
"""
from __future__ import annotations

MUSCLES = ("glute_max", "glute_med", "hamstring", "lumbar_erector")
"""Gluteus maximus, gluteus medius, and the synergists that steal a bridge from them."""
SIDES = ("left", "right")
CHANNEL_NAMES = tuple(f"{muscle}_{side}" for muscle in MUSCLES for side in SIDES)


def check_channel_name(name: str) -> str:
    """``name`` if it is one of `CHANNEL_NAMES`, else ValueError naming the allowed ones."""
    if name not in CHANNEL_NAMES:
        raise ValueError(f"unknown muscle {name!r}; channel names are {', '.join(CHANNEL_NAMES)}")
    return name
