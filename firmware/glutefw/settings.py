"""Per-build settings kept on the board's filesystem, so one firmware fits every front end.

``/settings.json`` (written by ``glutescope firmware install --emg-gain ...``) may hold
``{"emg_gain": 200.0}``: the analog front end's gain in V/V (MyoWare 2.0 RAW output: 200;
BioAmp EXG Pill: as set on its gain jumper). The host converts ADC codes to µV with
the gain the wearable reports in INFO, so a wrong gain scales every amplitude.
A missing or unreadable file, or a value out of range, leaves the default from config.
"""
from glutefw import config

SETTINGS_PATH = "/settings.json"
_GAIN_MIN = 1.0
_GAIN_MAX = 100000.0


def load(path=SETTINGS_PATH):
    """Return the settings as a dict with every key present (defaults filled in)."""
    settings = {"emg_gain": config.EMG_GAIN}
    try:
        import json

        with open(path) as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return settings  # no file (the usual case) or not JSON: defaults
    if not isinstance(stored, dict):
        return settings
    gain = stored.get("emg_gain")
    if isinstance(gain, (int, float)) and _GAIN_MIN <= gain <= _GAIN_MAX:
        settings["emg_gain"] = float(gain)
    return settings
