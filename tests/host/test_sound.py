"""The biofeedback tone, heard through a WAV: pan toward the louder side, pitch with activation."""
import wave

import numpy as np
import pytest

from glutescope.sound import BASE_HZ, TARGET_HZ, LiveTone, ToneSynth, tone_for, write_wav


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        fs = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2) / 32767.0
    return x, fs


def peak_hz(x, fs):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return np.fft.rfftfreq(x.size, 1 / fs)[np.argmax(spectrum)]


def test_a_rendered_wav_pans_toward_the_louder_side_and_rises_in_pitch_with_activation(tmp_path):
    synth = ToneSynth()
    # (left, right) activation in % of reference, target top 80 %: one second each.
    script = [(10, 10), (20, 60), (60, 20), (40, 40), (80, 80)]
    wav = tmp_path / "tone.wav"
    write_wav(wav, np.concatenate([synth.render(tone_for(lv, rv, 80.0), 1.0) for lv, rv in script]))
    x, fs = read_wav(wav)
    seconds = [x[i * fs:(i + 1) * fs] for i in range(len(script))]
    rms = [np.sqrt((s ** 2).mean(axis=0)) for s in seconds]  # (left, right) per second
    assert rms[1][1] > 1.5 * rms[1][0]  # right louder: the tone is on the right
    assert rms[2][0] > 1.5 * rms[2][1]  # left louder: on the left
    assert rms[3][0] == pytest.approx(rms[3][1], rel=0.02)  # equal: centred
    pitches = [peak_hz(s.sum(axis=1), fs) for s in seconds]
    assert pitches[0] < pitches[3] < pitches[4]  # 10 % -> 40 % -> 80 %: higher and higher
    assert pitches[4] == pytest.approx(TARGET_HZ, abs=3)  # the target's top sounds TARGET_HZ
    assert pitches[0] > BASE_HZ


def test_silent_at_zero_and_a_chime_when_a_step_starts():
    synth = ToneSynth()
    assert not np.any(synth.render(tone_for(0, 0, 80.0), 0.2))
    synth.cue()
    assert np.abs(synth.render(tone_for(0, 0, 80.0), 0.2)).max() > 0.3
    with pytest.raises(ValueError, match="target_top must be > 0"):
        tone_for(1, 1, 0.0)


def test_the_live_tone_follows_the_protocol_step_and_the_calibration():
    from glutescope.calibration import Calibration
    from glutescope.live import LiveStats

    cal = Calibration((100.0, 100.0), ((100.0,), (100.0,)), (float("nan"),) * 2, (True, True))
    live = LiveTone()
    stats = LiveStats(calibration=cal)
    x = live.block(stats, 80.0, 20.0, 0.5)  # 80 % of reference on the left
    assert np.sqrt((x[:, 0] ** 2).mean()) > 1.5 * np.sqrt((x[:, 1] ** 2).mean())
    assert peak_hz(x.sum(axis=1), live.synth.sample_rate_hz) == pytest.approx(TARGET_HZ, rel=0.02)
