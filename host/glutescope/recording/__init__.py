"""The recording format: the frames as received, and what is needed to read them.

One module per part: `glutescope.recording.format` (the files' layout, constants and
``meta.json`` helpers; its docstring describes the format), `writer`
(:class:`RecordingWriter`), `reader` (:class:`RecordingReader`, the records of the log),
`loader` (:func:`load`, a :class:`Recording` assembled from them) and `recovery`
(:func:`recover`, repairing a recording whose writer died). Everything is imported from
here.
"""

from glutescope.recording.format import (
    FORMAT_VERSION,
    FRAMES_FILE,
    META_FILE,
    RECORDING_SUFFIX,
    Record,
    RecordingError,
    RecordSource,
)
from glutescope.recording.loader import Recording, load
from glutescope.recording.reader import RecordingReader
from glutescope.recording.recovery import RecoveryReport, recover
from glutescope.recording.writer import RecordingWriter

__all__ = [
    "RECORDING_SUFFIX",
    "FRAMES_FILE",
    "META_FILE",
    "FORMAT_VERSION",
    "RecordSource",
    "RecordingError",
    "Record",
    "RecordingWriter",
    "RecordingReader",
    "RecoveryReport",
    "recover",
    "Recording",
    "load",
]
