"""The analog world the virtual wearable's ADC samples: electrodes, amplifier, ADC pin.

A stand-in for hardware that cannot exist here. It turns the body model's µV at the
electrodes into the 12-bit codes the RP2350 ADC would convert, with the front end's
gain and mid-rail offset, the ADC's own noise (about 9 effective bits, RP2350
datasheet, ADC chapter) and clipping at the rails; conversions are served in the
order the ADC's round robin makes them.
"""
from __future__ import annotations

import numpy as np

ADC_CODES = 4096
ADC_MIDSCALE = 2048


class AnalogFrontEnd:
    """µV at the skin -> ADC codes, served conversion by conversion.

    Parameters
    ----------
    emg_uV : ndarray, shape (n_channels, n_samples)
        Electrode signals; channel *i* is wired to ADC input *i*.
    emg_gain : float
        Front-end gain in V/V (the value the firmware reports in INFO).
    vref_mV : float
        ADC reference.
    adc_noise_lsb : float
        RMS noise the converter adds, in codes.
    seed : int
        Seed of the ADC noise.
    loop : bool
        Start again from the first sample when the session is exhausted (the demo
        runs as long as the window is open); otherwise hold the last value.
    """

    def __init__(self, emg_uV: np.ndarray, *, emg_gain: float = 1000.0, vref_mV: float = 3300.0,
                 adc_noise_lsb: float = 0.7, seed: int = 0, loop: bool = True) -> None:
        emg_uV = np.asarray(emg_uV, dtype=float)
        if emg_uV.ndim != 2 or emg_uV.shape[1] == 0:
            raise ValueError(f"emg_uV must be shaped (n_channels, n_samples), got {emg_uV.shape}")
        lsb_uV = vref_mV * 1e3 / ADC_CODES / emg_gain  # µV at the skin per code
        rng = np.random.default_rng(seed)
        codes = ADC_MIDSCALE + emg_uV / lsb_uV + rng.normal(0.0, adc_noise_lsb, emg_uV.shape)
        self.codes = np.clip(np.rint(codes), 0, ADC_CODES - 1).astype(np.uint16)
        """(n_channels, n_samples) the codes each input presents, sample by sample."""
        self.loop = loop
        self.conversions = 0  # conversions served since the round robin started
        self._inputs: tuple[int, ...] = ()

    @property
    def n_samples(self) -> int:
        return self.codes.shape[1]

    def restart(self, inputs: tuple[int, ...]) -> None:
        """The ADC was (re)configured: the round robin begins at the first input."""
        self._inputs = tuple(inputs)
        self.conversions = 0

    def body_index(self, stream_index: np.ndarray) -> np.ndarray:
        """Which body-model sample each EMG stream sample shows (the truth for tests)."""
        idx = np.asarray(stream_index)
        return idx % self.n_samples if self.loop else np.minimum(idx, self.n_samples - 1)

    def read(self, n_conversions: int, inputs: tuple[int, ...]) -> np.ndarray:
        """The next ``n_conversions`` codes of a round robin over ``inputs``."""
        inputs = tuple(inputs)
        if inputs != self._inputs:
            self.restart(inputs)
        k = np.arange(self.conversions, self.conversions + n_conversions)
        self.conversions += n_conversions
        n_in = len(inputs)
        chan = np.asarray(inputs)[k % n_in]
        sample = self.body_index(k // n_in)
        out = np.full(n_conversions, ADC_MIDSCALE, dtype=np.uint16)  # unwired input floats mid-rail
        wired = chan < self.codes.shape[0]
        out[wired] = self.codes[chan[wired], sample[wired]]
        return out
