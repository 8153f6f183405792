"""``glutescope selftest`` on the virtual wearable: the table's figures and verdicts."""
import asyncio

import pytest

from glutescope.selftest import Step, default_steps, format_table, run_selftest
from glutescope.transports.virtual import VirtualTransport

pytestmark = pytest.mark.slow

# The virtual wearable's clock at 2x: at 4x a loaded 2-core runner starves the simulated
# firmware during the dropout step's backlog, and it overruns for real (a board runs at 1x).
SPEED = 2.0


def _run(steps):
    transport = VirtualTransport(seed=2, speed=SPEED, emg_fs_hz=2000, imu_fs_hz=208,
                                 channels=("glute_max_left", "glute_max_right", "glute_med_left"))
    return asyncio.run(asyncio.wait_for(run_selftest(transport, steps, speed=SPEED), 120))


def test_a_healthy_wearable_passes_rates_a_dropout_and_a_full_window_resend():
    steps = [
        Step("2 ch 1 kHz", 1000, 0b011, 104, 1.5),
        Step("dropout 1 s", 2000, 0b111, 208, 2.0, dropout_s=1.0),
        Step("RESEND window", 2000, 0b111, 208, 4.5, resend_window=True),
    ]
    results = _run(steps)
    table = format_table(results)
    assert [r.passed for r in results] == [True, True, True], table
    for r in results:
        assert abs(r.rate_hz - r.step.emg_fs_hz) <= 0.01 * r.step.emg_fs_hz  # device clock
        assert r.lost_samples == 0 and r.overruns == 0
        assert r.link_kBps > 0 and r.ping_ms is not None
        assert r.battery.endswith("s old)")  # the firmware says how old the reading is
    assert "resent 7800/7800 samples" in results[2].note
    assert table.splitlines()[-1] == "all steps passed"


def test_a_dropout_longer_than_the_ram_window_fails_with_the_samples_lost():
    results = _run([Step("dropout 6 s", 2000, 0b111, 208, 2.0, dropout_s=6.0)])
    (r,) = results
    assert r.passed is False and r.lost_samples > 0
    assert f"{r.lost_samples} samples lost" in r.note
    assert "FAIL" in format_table(results) and "1 of 1 steps FAILED" in format_table(results)


def test_default_steps_cover_one_to_every_channel_and_end_with_dropout_and_resend():
    steps = default_steps(0b111)
    assert {s.channel_mask for s in steps} >= {0b001, 0b011, 0b111}
    assert steps[-2].dropout_s > 0 and steps[-1].resend_window
    with pytest.raises(ValueError, match="at least one ADC input"):
        default_steps(0)
