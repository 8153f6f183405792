"""The front end's gain comes from the board's settings.json, and the host uses it."""
import asyncio
import json
import shutil

import pytest

from glutefw import config, settings


def test_no_file_keeps_the_default(tmp_path):
    assert settings.load(str(tmp_path / "absent.json")) == {"emg_gain": config.EMG_GAIN}


@pytest.mark.parametrize("content, gain", [
    ('{"emg_gain": 200}', 200.0),
    ('{"emg_gain": 0.5}', config.EMG_GAIN),  # out of range: ignored
    ('{"emg_gain": "200"}', config.EMG_GAIN),  # not a number
    ("not json", config.EMG_GAIN),
    ("[200]", config.EMG_GAIN),
])
def test_a_gain_is_taken_only_when_it_is_sane(tmp_path, content, gain):
    path = tmp_path / "settings.json"
    path.write_text(content)
    assert settings.load(str(path))["emg_gain"] == gain


@pytest.mark.slow
def test_the_wearable_reports_the_stored_gain_and_the_host_scales_by_it(tmp_path):
    from glutescope.acquisition import Acquisition
    from glutescope.transports.virtual import VirtualTransport
    from glutescope.virtual.wearable import firmware_dir

    tree = tmp_path / "firmware"
    shutil.copytree(firmware_dir() / "glutefw", tree / "glutefw")
    stored = tmp_path / "settings.json"
    stored.write_text(json.dumps({"emg_gain": 200.0}))
    module = tree / "glutefw" / "settings.py"
    # Point this build at a settings file the test owns (on the board it is /settings.json).
    module.write_text(module.read_text().replace('SETTINGS_PATH = "/settings.json"', f'SETTINGS_PATH = "{stored}"'))

    async def run():
        acq = Acquisition(VirtualTransport(exercise="rest", speed=4.0, firmware=tree))
        info = await acq.open(emg_fs_hz=2000, channel_mask=0b011, imu_fs_hz=0)
        await acq.close()
        return info

    info = asyncio.run(run())
    assert info.emg_gain == pytest.approx(200.0)
