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


# Muscle names as motion labs and EMG systems label them (SENIAM names, Delsys/Noraxon/
# Vicon-style abbreviations): glute max GMAX/GM/"gluteus maximus"; glute med GMED;
# hamstring BF/ST/SM (biceps femoris, semitendinosus, semimembranosus); lumbar erector
# ES/ESL/MF (erector spinae, longissimus, iliocostalis, multifidus).
_MUSCLE_WORDS = (
    ("glute_max", ("gluteusmaximus", "glutmax", "glutemax", "gluteimax", "glmax", "gmax", "gm", "gmx")),
    ("glute_med", ("gluteusmedius", "glutmed", "glutemed", "gluteimed", "glmed", "gmed", "gmd")),
    ("hamstring", ("hamstring", "hamstrings", "bicepsfemoris", "semitendinosus", "semimembranosus", "bf", "st",
                   "sm", "ham")),
    ("lumbar_erector", ("erectorspinae", "lumbarerector", "longissimus", "iliocostalis", "multifidus", "es",
                        "esl", "mf", "lumbar")),
)
_SIDE_WORDS = {"left": ("left", "lt", "lft", "l", "links", "sin"), "right": ("right", "rt", "rgt", "r", "rechts",
                                                                           "dx")}
_FILLER = ("emg", "semg", "ch", "channel", "muscle", "m", "raw", "env")


def guess_channel_name(label: str) -> str | None:
    """The `CHANNEL_NAMES` entry a foreign file's channel label names, or None.

    A guess from common lab spellings (``"L GMAX"``, ``"Glut_Max_R"``, ``"EMG RGMED"``,
    ``"Left Gluteus Maximus"``, ``"BF_L"``): both a muscle and a side must be found,
    else None (``"EMG1"``, ``"VL left"``, ``"GMAX"`` without a side). It is a guess:
    ``glutescope import`` shows it and lets the user give the map instead.
    """
    import re

    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(label))  # GlutMaxL -> Glut Max L
    tokens = [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t and not t.isdigit()]
    # Vertebral levels (L3, T12, S1) are sites, not sides; other trailing digits are numbering.
    tokens = [re.sub(r"\d+$", "", t) for t in tokens if not re.fullmatch(r"[tls]\d+", t)]
    tokens = [t for t in tokens if t and t not in _FILLER]
    sides = set()
    rest = []
    for t in tokens:
        found = next((s for s, words in _SIDE_WORDS.items() if t in words), None)
        if found is not None:
            sides.add(found)
        else:
            rest.append(t)
    if len(sides) > 1:
        return None
    side = sides.pop() if sides else None
    joined = "".join(rest)
    if side is None and joined[:1] in ("l", "r"):  # a side glued on: LGMAX, RGMED
        for muscle, words in _MUSCLE_WORDS:
            if joined[1:] in words:
                return f"{muscle}_{'left' if joined[0] == 'l' else 'right'}"
    if side is None and joined[-1:] in ("l", "r"):  # GMAXL, GMEDR
        for muscle, words in _MUSCLE_WORDS:
            if joined[:-1] in words:
                return f"{muscle}_{'left' if joined[-1] == 'l' else 'right'}"
    if side is None:
        return None
    for muscle, words in _MUSCLE_WORDS:
        if joined in words:
            return f"{muscle}_{side}"
    return None
