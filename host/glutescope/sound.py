"""Biofeedback by ear: a stereo tone panned toward the louder glute, pitched by activation.

For when the screen cannot be seen (lying in a bridge, eyes closed in the squeeze test):

- **pan** follows the left/right balance: the tone sits toward the side whose glute is
  louder now, in the middle when they are equal (constant-power pan law, so loudness
  does not change with the pan);
- **pitch** follows the activation against the target: `BASE_HZ` at rest, rising one
  octave per half of the target's top, `TARGET_HZ` at the top of the target band, so a
  person hears how close they are to it;
- **step cues**: a short two-note chime when a protocol step starts.
- **reminder cue**: a slower three-note call, lower and longer than the step chime, when
  the protocol reminds the person to move (the desk's hourly "Time to move"), so it is
  heard as a call to act, not a step going by.

The synthesiser only renders samples (`ToneSynth.render`), with a continuous phase so
pitch changes do not click; `write_wav` stores them with the standard `wave` module,
which is how the tests hear it. Playing them needs Qt Multimedia (`PySide6.QtMultimedia`,
in the PySide6-Addons wheel, not in PySide6-Essentials): `player_available` says
whether it is there; without it the app stays silent and says so.
"""
from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["BASE_HZ", "TARGET_HZ", "ToneState", "tone_for", "ToneSynth", "write_wav", "player_available"]

SAMPLE_RATE_HZ = 22050
BASE_HZ = 220.0
"""Pitch at rest (A3)."""
TARGET_HZ = 880.0
"""Pitch at the top of the target band: two octaves above rest."""
MAX_HZ = 1320.0
"""Pitch ceiling above the target, Hz."""
LEVEL = 0.3
"""Tone amplitude, fraction of full scale."""
CUE_NOTES_HZ = (660.0, 990.0)
CUE_NOTE_S = 0.08
REMINDER_NOTES_HZ = (880.0, 587.0, 880.0)
"""The reminder call: high-low-high, each note `REMINDER_NOTE_S` (a doorbell's shape)."""
REMINDER_NOTE_S = 0.25


@dataclass(frozen=True)
class ToneState:
    """What the tone should sound like now."""

    frequency_hz: float
    """Pitch, Hz."""
    pan: float
    """-1 full left, 0 centre, +1 full right."""
    amplitude: float
    """0 (silent) to 1."""


def tone_for(left: float, right: float, target_top: float) -> ToneState:
    """The tone for the current activation of each glute.

    Parameters
    ----------
    left, right : float
        Activation of each glute now, in the unit of ``target_top`` (% of reference once
        calibrated, else µV), >= 0.
    target_top : float
        Top of the target band, same unit (> 0): the activation that sounds `TARGET_HZ`.

    Returns
    -------
    ToneState
        Pitch from the louder side's activation (log scale: an octave per half target),
        pan from the balance ``(R - L) / (R + L)``, silent when both are at zero.
    """
    if not target_top > 0:
        raise ValueError(f"target_top must be > 0, got {target_top!r}")
    left, right = max(float(left), 0.0), max(float(right), 0.0)
    total = left + right
    level = max(left, right) / target_top
    frequency = min(BASE_HZ * 2.0 ** (2.0 * level), MAX_HZ)
    pan = (right - left) / total if total > 0 else 0.0
    return ToneState(frequency, pan, 1.0 if total > 0 else 0.0)


class ToneSynth:
    """Render the tone block by block with a continuous phase (stereo float samples)."""

    def __init__(self, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self._phase = 0.0
        self._pending_cue = 0  # samples of the chime still to play
        self._cue_notes: tuple[float, ...] = CUE_NOTES_HZ
        self._cue_note_s = CUE_NOTE_S

    def cue(self, notes_hz: tuple[float, ...] = CUE_NOTES_HZ, note_s: float = CUE_NOTE_S) -> None:
        """Play a chime (by default the step chime) at the start of the next block."""
        self._cue_notes, self._cue_note_s = tuple(notes_hz), float(note_s)
        self._pending_cue = int(len(self._cue_notes) * self._cue_note_s * self.sample_rate_hz)

    def reminder(self) -> None:
        """Play the reminder call at the start of the next block (instead of any chime)."""
        self.cue(REMINDER_NOTES_HZ, REMINDER_NOTE_S)

    def render(self, tone: ToneState, duration_s: float) -> np.ndarray:
        """``duration_s`` of ``tone``, float32 (n, 2) in [-1, 1] (left, right columns)."""
        n = int(round(duration_s * self.sample_rate_hz))
        k = np.arange(n)
        step = 2 * math.pi * tone.frequency_hz / self.sample_rate_hz
        mono = LEVEL * tone.amplitude * np.sin(self._phase + step * k)
        self._phase = float((self._phase + step * n) % (2 * math.pi))
        # Constant-power pan: the angle from 0 (left) to pi/2 (right).
        angle = (tone.pan + 1.0) * math.pi / 4.0
        out = np.stack([mono * math.cos(angle), mono * math.sin(angle)], axis=1)
        if self._pending_cue:
            notes = np.asarray(self._cue_notes)
            total = int(len(notes) * self._cue_note_s * self.sample_rate_hz)
            done = total - self._pending_cue
            m = min(self._pending_cue, n)
            t = (done + np.arange(m)) / self.sample_rate_hz
            note = notes[np.minimum((t / self._cue_note_s).astype(int), len(notes) - 1)]
            chime = 0.5 * np.sin(2 * math.pi * note * t)
            out[:m] += chime[:, None]
            self._pending_cue -= m
        return np.clip(out, -1.0, 1.0).astype(np.float32)


def write_wav(path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
    """Write stereo float samples (n, 2) in [-1, 1] as a 16-bit PCM WAV."""
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"samples must be (n, 2) stereo, got shape {x.shape}")
    pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate_hz))
        w.writeframes(pcm.tobytes())


def player_available() -> Optional[str]:
    """None when Qt Multimedia can play sound here, else why not (one line)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("PySide6.QtMultimedia") is not None
    except ImportError:
        found = False
    return None if found else "sound off: Qt Multimedia is not installed (pip install 'glutescope[sound]')"


class LiveTone:
    """The tone of a live session: from the stats and envelope the window reads.

    ``target_top``: the activation (in % of reference once calibrated, else µV) that
    sounds `TARGET_HZ` when the step has no target band of its own.
    """

    def __init__(self, synth: Optional[ToneSynth] = None, *, default_top_pct: float = 80.0,
                 default_top_uV: float = 150.0) -> None:
        self.synth = synth or ToneSynth()
        self.default_top_pct = default_top_pct
        self.default_top_uV = default_top_uV
        self._step = None
        self._notices = 0

    def block(self, stats, now_left: float, now_right: float, duration_s: float) -> np.ndarray:
        """Samples for the next ``duration_s``, from the glutes' activation now (µV).

        Calibrated, the activation is each side's share of its reference
        (`LiveStats.activation_pct`), against the step's target band; else µV.
        """
        step = getattr(stats, "step", None)
        if step is not self._step:
            if step is not None:
                self.synth.cue()
            self._step = step
        notices = getattr(stats, "notices", ())
        if len(notices) != self._notices:
            if any(n.kind == "reminder" for n in notices[self._notices:]):
                self.synth.reminder()
            self._notices = len(notices)
        rest = stats.rep_rest_uV[-1] if stats.rep_rest_uV else None
        pct = stats.activation_pct((now_left, now_right), rest)
        if pct is not None:
            band = step.step.target_pct if step is not None and step.step.target_pct else None
            tone = tone_for(pct[0], pct[1], band[1] if band else self.default_top_pct)
        else:
            tone = tone_for(now_left, now_right, self.default_top_uV)
        return self.synth.render(tone, duration_s)


class SessionTone:
    """The tone of a running session, pulled from its state on the UI's timer.

    Each `tick` renders the stream time that arrived since the last one (so a WAV of a
    sped-up virtual session is in stream time), keeps it for `write` and hands it to a
    player when one is open.
    """

    def __init__(self, state, *, player=None) -> None:
        self.state = state
        self.live = LiveTone()
        self.player = player
        self.blocks: list[np.ndarray] = []
        self._seen = state.envelope.write_index
        names = state.channel_names
        self._rows = ((names.index("glute_max_left"), names.index("glute_max_right"))
                      if "glute_max_left" in names and "glute_max_right" in names else None)

    def tick(self) -> None:
        env = self.state.envelope
        new = env.write_index - self._seen
        if new <= 0 or self._rows is None:
            return
        self._seen = env.write_index
        fs = self.state.emg_fs_hz
        now = env.latest(min(new, int(0.2 * fs)))
        level = np.nan_to_num(now[list(self._rows)].mean(axis=1))
        block = self.live.block(self.state.stats, float(level[0]), float(level[1]), new / fs)
        self.blocks.append(block)
        if self.player is not None:
            self.player.play(block)

    def write(self, path) -> None:
        """The whole session's tone as a WAV."""
        samples = np.concatenate(self.blocks) if self.blocks else np.zeros((0, 2), np.float32)
        write_wav(path, samples, self.live.synth.sample_rate_hz)


class QtTonePlayer:
    """Play tone blocks through Qt Multimedia (PySide6-Addons); `player_available` first."""

    def __init__(self, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        from PySide6 import QtMultimedia

        fmt = QtMultimedia.QAudioFormat()
        fmt.setSampleRate(int(sample_rate_hz))
        fmt.setChannelCount(2)
        fmt.setSampleFormat(QtMultimedia.QAudioFormat.SampleFormat.Int16)
        self._sink = QtMultimedia.QAudioSink(QtMultimedia.QMediaDevices.defaultAudioOutput(), fmt)
        self._io = self._sink.start()

    def play(self, block: np.ndarray) -> None:
        pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._io.write(pcm)

    def close(self) -> None:
        self._sink.stop()
