"""Quality catches what the older checks graded good: a dead front end, a quantisation-only
channel, saturation at the ADC rails, and amplitudes no electrode gives (a wrong gain)."""
import numpy as np
import pytest

from glutesignal.conditioning import condition
from glutesignal.quality import IMPLAUSIBLE_LOW_UV, AdcScale, channel_quality
from glutesignal.simulation import simulate

FS_HZ = 2000.0
N = int(8 * FS_HZ)
ADC = AdcScale.from_device(vref_mV=3300, emg_gain=1000.0)  # 0.806 µV per step


def codes_to_uV(codes, adc=ADC):
    return (np.asarray(codes) - 2048) * adc.lsb_uV


def grade(raw_uV, adc=ADC):
    return channel_quality(raw_uV, condition(raw_uV, FS_HZ, mains_hz=None), FS_HZ, mains_hz=None, adc=adc)


@pytest.fixture(scope="module")
def body():
    return simulate("bridges", seed=2, duration_s=8.0).emg_uV[:, :N]


def dead_channel(seed=0):
    """1-bit quantisation noise on an offset drifting over 80 codes: what a dead input shows."""
    rng = np.random.default_rng(seed)
    drift = 40 * np.sin(2 * np.pi * 0.1 * np.arange(N) / FS_HZ)
    return codes_to_uV(np.floor(2048 + drift + rng.random(N)))[None, :]


def test_the_scale_is_the_protocols():
    assert ADC.lsb_uV == pytest.approx(3300e3 / 4096 / 1000)
    assert ADC.low_uV == pytest.approx(-2048 * ADC.lsb_uV) and ADC.high_uV == pytest.approx(2047 * ADC.lsb_uV)


@pytest.mark.parametrize("adc", [ADC, None], ids=["step from INFO", "step from the value grid"])
def test_a_dead_channel_on_a_drifting_offset_is_poor(adc):
    (q,) = grade(dead_channel(), adc)
    # Its raw standard deviation is tens of µV (the drift), so it is not "flat": the
    # older checks graded it good.
    assert not q.flat
    assert q.grade == "poor" and q.reasons[0].startswith("only quantisation noise"), q.reasons
    assert q.loud_rms_lsb < 1.0


def test_emg_resolved_by_many_steps_is_not_called_quantised(body):
    raw = codes_to_uV(np.round(body / ADC.lsb_uV) + 2048)
    assert all(q.grade != "poor" for q in grade(raw)), [q.reasons for q in grade(raw)]


def test_resting_emg_below_the_adc_resolution_is_poor():
    rest = simulate("rest", seed=2, duration_s=8.0).emg_uV[:, :N]
    coarse = AdcScale.from_device(vref_mV=3300, emg_gain=20.0)  # 40 µV per step
    raw = codes_to_uV(np.round(rest / coarse.lsb_uV) + 2048, coarse)
    assert all(q.grade == "poor" and "quantisation" in q.reasons[0] for q in grade(raw, coarse))


def test_samples_at_the_rails_are_saturation(body):
    small = AdcScale.from_device(vref_mV=3300, emg_gain=8000.0)  # rails at +-206 µV
    raw = np.clip(body * 3.0, small.low_uV, small.high_uV)
    q = grade(raw, small)
    assert any(c.saturated_fraction > 0.01 for c in q)
    assert any(c.grade == "poor" and any(r.startswith("saturated samples") for r in c.reasons) for c in q)


def test_hundreds_of_millivolts_are_a_wrong_gain(body):
    # The same signal scaled with a gain 1000 x too low: hundreds of mV "at the electrodes".
    q = channel_quality(body * 1000.0, condition(body * 1000.0, FS_HZ, mains_hz=None), FS_HZ, mains_hz=None,
                        adc=AdcScale.from_device(3300, 1.0))
    assert all(c.grade == "poor" and c.reasons[0].startswith("implausible amplitude") for c in q)
    assert "states gain 1" in q[0].reasons[0]


def test_a_rest_below_any_electrode_noise_is_a_wrong_gain(body):
    quiet = body / 100.0  # stated gain 100 x the real one
    q = channel_quality(quiet, condition(quiet, FS_HZ, mains_hz=None), FS_HZ, mains_hz=None)
    assert all(c.noise_rms_uV < IMPLAUSIBLE_LOW_UV for c in q)
    assert all(c.grade == "poor" and c.reasons[0].startswith("implausibly quiet rest") for c in q)
    # The same signal at its real scale is fine.
    assert all(c.grade != "poor" for c in channel_quality(body, condition(body, FS_HZ, mains_hz=None), FS_HZ,
                                                          mains_hz=None))
