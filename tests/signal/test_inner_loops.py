"""The per-sample loops of the pelvis filter and the contraction detector, which run on
Python floats for speed, against a straightforward numpy transcription of the vector
formulas (one sample at a time, as written in the docstrings), on random input fed in
random blocks with gaps; non-finite input is refused by both."""

from __future__ import annotations

import numpy as np
import pytest

from glutesignal.onsets import Activation, ContractionDetector
from glutesignal.pelvis import MOVING_ACC_G, MOVING_GYRO_DPS, PelvisTracker, pelvis_angles_from_up


class _ReferencePelvis:
    """The complementary filter of `PelvisTracker` in its vector form [Mahony 2008]."""

    def __init__(self, fs_hz: float, tau_s: float, n_reference: int) -> None:
        self.dt = 1.0 / fs_hz
        self.alpha = self.dt / (tau_s + self.dt)
        self.n_reference = n_reference
        self.up = None
        self.rotation_deg = 0.0
        self.n_seen = 0
        self.acc_sum = np.zeros(3)
        self.gyro_sum = np.zeros(3)
        self.reference_pitch_deg = 0.0
        self.gyro_bias_dps = np.zeros(3)

    def gap(self) -> None:
        self.up = None

    def process(self, acc: np.ndarray, gyro: np.ndarray):
        n = acc.shape[1]
        ups, rot, refs = np.empty((3, n)), np.empty(n), np.empty(n)
        for i in range(n):
            a = acc[:, i] / np.linalg.norm(acc[:, i])
            if self.n_seen < self.n_reference:
                self.acc_sum = self.acc_sum + acc[:, i]
                self.gyro_sum = self.gyro_sum + gyro[:, i]
                self.n_seen += 1
                mean_up = self.acc_sum / np.linalg.norm(self.acc_sum)
                self.reference_pitch_deg = float(np.degrees(np.arctan2(-mean_up[0], mean_up[2])))
                self.gyro_bias_dps = self.gyro_sum / self.n_seen
            if self.up is None:
                self.up = a
            w = np.radians(gyro[:, i] - self.gyro_bias_dps)
            u = (1.0 - self.alpha) * (self.up - np.cross(w, self.up) * self.dt) + self.alpha * a
            self.up = u / np.linalg.norm(u)
            self.rotation_deg += float(np.degrees(np.dot(w, self.up))) * self.dt
            ups[:, i], rot[i], refs[i] = self.up, self.rotation_deg, self.reference_pitch_deg
        tilt, obliquity = pelvis_angles_from_up(ups, refs)
        moving = ((np.linalg.norm(gyro - self.gyro_bias_dps[:, None], axis=0) > MOVING_GYRO_DPS)
                  | (np.abs(np.linalg.norm(acc, axis=0) - 1.0) > MOVING_ACC_G))
        return tilt, obliquity, rot, moving


def _random_imu(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lying, then random rotations: gravity along -x..z with noise, gyro in bursts."""
    t = np.arange(n) / 104.0
    pitch = 0.4 * np.sin(2 * np.pi * 0.2 * t) * (rng.random() + 0.5)
    roll = 0.2 * np.sin(2 * np.pi * 0.13 * t + rng.random())
    acc = np.vstack([-np.sin(pitch), np.sin(roll) * np.cos(pitch), np.cos(roll) * np.cos(pitch)])
    acc += rng.normal(0.0, 0.03, acc.shape)
    gyro = rng.normal(0.0, 20.0, (3, n)) + rng.normal(0.0, 2.0, (3, 1))
    return acc, gyro


@pytest.mark.parametrize("seed", range(6))
def test_pelvis_float_loop_equals_vector_reference(seed):
    rng = np.random.default_rng(seed)
    acc, gyro = _random_imu(rng, 3000)
    tracker = PelvisTracker(104.0, tau_s=0.7, reference_s=0.5)
    ref = _ReferencePelvis(104.0, 0.7, tracker.n_reference)
    a = 0
    got, want = [], []
    while a < acc.shape[1]:
        b = min(acc.shape[1], a + int(rng.integers(0, 90)))  # empty blocks too
        if rng.random() < 0.1:  # a link loss: both re-level from the next sample
            tracker.gap(int(rng.integers(1, 50)))
            ref.gap()
        out = tracker.process(acc[:, a:b], gyro[:, a:b])
        got.append((out.tilt_deg, out.obliquity_deg, out.rotation_deg, out.moving))
        want.append(ref.process(acc[:, a:b], gyro[:, a:b]))
        a = b
    for k, name in enumerate(("tilt", "obliquity", "rotation", "moving")):
        g = np.concatenate([x[k] for x in got])
        w = np.concatenate([x[k] for x in want])
        if name == "moving":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(tracker.up, ref.up, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tracker.gyro_bias_dps, ref.gyro_bias_dps, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_pelvis_refuses_non_finite(bad):
    acc, gyro = _random_imu(np.random.default_rng(0), 50)
    gyro[1, 20] = bad
    with pytest.raises(ValueError, match="gyro_dps must be finite"):
        PelvisTracker(104.0).process(acc, gyro)


class _ReferenceDetector(ContractionDetector):
    """`ContractionDetector.process` as the double-threshold rule reads, per sample on numpy
    columns; the rest tracking (``_track_rest``) is the detector's own."""

    def _restart(self, quiet_until: int) -> None:
        super()._restart(quiet_until)
        self._sum = np.zeros(self.n_rows)
        self._peak = np.zeros(self.n_rows)

    def process(self, envelope_uV):
        env = np.asarray(envelope_uV, dtype=float)
        if not np.all(np.isfinite(env)):
            raise ValueError("envelope_uV must be finite")
        total = env.sum(axis=0)
        ended = []
        for i in range(max(0, self._quiet_until - self.n_fed), total.size):
            x, n = float(total[i]), self.n_fed + i
            rest = max(self.rest_uV, self.min_rest_uV)  # the level before this sample
            if not self._active:
                self._track_rest(x, n)
                if not self.rest_found or x < self.off_factor * rest:
                    self._count = 0 if self.rest_found else self._count
                    continue
                if self._count == 0:
                    self._start, self._sum, self._peak = n, np.zeros(self.n_rows), np.zeros(self.n_rows)
                self._sum, self._peak = self._sum + env[:, i], np.maximum(self._peak, env[:, i])
                self._count += 1
                if x > self.on_factor * rest:
                    self._active, self._onset_rest = True, rest
                    self._drop_chunk()
            elif x < self.off_factor * rest:
                self._active = False
                if self._count >= self.min_samples:
                    mean = self._sum / self._count
                    ended.append(Activation(self._start, n, self._start / self.fs_hz, n / self.fs_hz,
                                            tuple(float(v) for v in mean), tuple(float(v) for v in self._peak),
                                            float(self._onset_rest)))
                self._count = 0
            else:
                self._sum, self._peak = self._sum + env[:, i], np.maximum(self._peak, env[:, i])
                self._count += 1
        self.n_fed += total.size
        self.contractions.extend(ended)
        return ended


def _random_envelopes(rng: np.random.Generator, n_rows: int, n: int, fs_hz: float) -> np.ndarray:
    """Noise floor with random bursts of random height and length (some too short)."""
    env = rng.uniform(3.0, 6.0, (n_rows, n))
    k = 0
    while k < n:
        k += int(rng.integers(int(0.3 * fs_hz), int(3 * fs_hz)))
        length = int(rng.integers(int(0.05 * fs_hz), int(2 * fs_hz)))
        env[:, k:k + length] *= rng.uniform(1.5, 12.0, (n_rows, 1))
        k += length
    return env


@pytest.mark.parametrize("seed,n_rows,given_rest", [(0, 1, None), (1, 2, None), (2, 4, None), (3, 2, 9.0),
                                                   (4, 3, None)])
def test_detector_float_loop_equals_numpy_reference(seed, n_rows, given_rest):
    rng = np.random.default_rng(seed)
    fs_hz = 200.0
    env = _random_envelopes(rng, n_rows, 60 * 200, fs_hz)
    kwargs = dict(rest_memory_s=5.0, warmup_s=0.2, rest_uV=given_rest)
    det = ContractionDetector(fs_hz, n_rows, **kwargs)
    ref = _ReferenceDetector(fs_hz, n_rows, **kwargs)
    got, want = [], []
    a = 0
    while a < env.shape[1]:
        b = min(env.shape[1], a + int(rng.integers(0, 60)))
        if rng.random() < 0.03:  # a link loss: the contraction under way is dropped
            lost = int(rng.integers(1, 400))
            det.gap(lost)
            ref.gap(lost)
        if rng.random() < 0.01:
            level = None if rng.random() < 0.5 else float(rng.uniform(8.0, 20.0))
            det.set_rest(level)
            ref.set_rest(level)
        got += det.process(env[:, a:b])
        want += ref.process(env[:, a:b])
        assert det.rest_uV == ref.rest_uV
        a = b
    assert len(want) >= 5  # the input does make contractions
    assert got == want  # start, end, times, mean and peak per row, rest level: to the bit


@pytest.mark.parametrize("detector", [ContractionDetector, _ReferenceDetector])
def test_detector_withdrawn_rest_does_not_carry_an_excursion(detector):
    """A rest level withdrawn (set_rest(None)) during an excursion above the offset
    threshold: once a rest level is found again, the excursion is over, and the
    contraction that follows starts where its own rise does."""
    det = detector(200.0, 1, rest_uV=10.0, warmup_s=0.0)
    det.process(np.full((1, 10), 17.0))  # 1.7 x rest: above the offset, below the onset threshold
    det.set_rest(None)
    det.process(np.full((1, 90), 17.0))  # five whole 0.1 s chunks by sample 99: rest found, 17 µV
    assert det.rest_uV == 17.0
    ended = det.process(np.concatenate([np.full(100, 51.0), np.full(50, 17.0)])[None, :])
    assert [(a.start, a.end, a.mean_uV) for a in ended] == [(100, 200, (51.0,))]


@pytest.mark.parametrize("seed", range(3))
def test_detector_long_blocks_equal_numpy_reference(seed):
    """At the analysis' block length (1 s at 2 kHz, 20 chunks of 0.1 s per block)."""
    rng = np.random.default_rng(seed)
    fs_hz = 2000.0
    env = _random_envelopes(rng, 2, 40 * 2000, fs_hz)
    det = ContractionDetector(fs_hz, 2, rest_memory_s=5.0)
    ref = _ReferenceDetector(fs_hz, 2, rest_memory_s=5.0)
    got, want = [], []
    for a in range(0, env.shape[1], 2000):
        if rng.random() < 0.05:
            det.gap(700)
            ref.gap(700)
        got += det.process(env[:, a:a + 2000])
        want += ref.process(env[:, a:a + 2000])
    assert len(want) >= 5
    assert got == want


def test_detector_refuses_non_finite():
    env = np.full((2, 100), 5.0)
    env[0, 40] = np.nan
    with pytest.raises(ValueError, match="envelope_uV must be finite"):
        ContractionDetector(200.0, 2).process(env)


@pytest.mark.parametrize("seed,n_channels,mains_hz", [(0, 1, 50.0), (1, 4, 60.0), (2, 2, None)])
def test_conditioner_equals_public_sosfilt(seed, n_channels, mains_hz):
    """The streaming conditioner, fed random blocks, equals scipy.signal.sosfilt run once
    over the whole signal from the same initial state, to the bit; its state reads back
    in sosfilt's layout."""
    from scipy import signal as sig

    from glutesignal.conditioning import Conditioner

    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 50.0, (n_channels, 5000)) + rng.normal(0.0, 1000.0, (n_channels, 1))
    cond = Conditioner(2000.0, n_channels, mains_hz=mains_hz)
    sos = np.array(cond.design.sos)
    zi0 = sig.sosfilt_zi(sos)[:, None, :] * x[None, :, 0, None]
    want, zi_end = sig.sosfilt(sos, x, axis=-1, zi=zi0)
    out, a = [], 0
    while a < x.shape[1]:
        b = min(x.shape[1], a + int(rng.integers(0, 70)))
        out.append(cond.process(x[:, a:b]))
        a = b
    np.testing.assert_array_equal(np.concatenate(out, axis=1), want)
    np.testing.assert_array_equal(cond.zi, zi_end)
    cond.reset()
    assert cond.zi is None


@pytest.mark.parametrize("seed,window_s", [(0, 0.05), (1, 0.0105), (2, 0.1)])
def test_moving_rms_ring_equals_window_mean(seed, window_s):
    """The moving RMS, its ring read and written in slices, fed random blocks (empty, shorter
    and longer than the window), equals sqrt(mean of the last N squares) computed directly
    (the samples before the start count as zeros), and the whole-signal result to the bit."""
    from glutesignal.envelope import MovingRMS, moving_rms

    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 80.0, (3, 4000)) * np.linspace(0.1, 2.0, 4000)
    rms = MovingRMS(2000.0, 3, window_s)
    n = rms.n_window
    out, a = [], 0
    while a < x.shape[1]:
        b = min(x.shape[1], a + int(rng.integers(0, 3 * n)))
        out.append(rms.process(x[:, a:b]))
        a = b
    got = np.concatenate(out, axis=1)
    padded = np.concatenate([np.zeros((3, n - 1)), x], axis=1) ** 2
    direct = np.sqrt(np.lib.stride_tricks.sliding_window_view(padded, n, axis=1).mean(axis=2))
    np.testing.assert_allclose(got, direct, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(got, moving_rms(x, 2000.0, window_s))


@pytest.mark.parametrize("fs_hz,n_samples,n_per_segment", [(2000.0, 16000, 2000), (2000.0, 16123, 2000),
                                                           (1020.0, 9000, 1020), (999.0, 3000, 999),
                                                           (500.0, 500, 500)])
def test_batched_welch_equals_scipy_welch(fs_hz, n_samples, n_per_segment):
    """The quality grading's Welch density, all segments transformed in one batch,
    equals scipy.signal.welch's segment-by-segment result to the bit (odd lengths,
    a signal that is not a whole number of hops, a single segment)."""
    from scipy import signal as sig

    from glutesignal.quality import _welch_density

    rng = np.random.default_rng(n_samples)
    x = rng.normal(0.0, 40.0, (3, n_samples)) + rng.normal(0.0, 500.0, (3, 1))
    x[1] += 30.0 * np.sin(2 * np.pi * 50.0 * np.arange(n_samples) / fs_hz)
    want_f, want = sig.welch(x, fs=fs_hz, nperseg=n_per_segment, axis=-1)
    got_f, got = _welch_density(x, fs_hz, n_per_segment)
    np.testing.assert_array_equal(got_f, want_f)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fs_hz", [2000.0, 1020.0, 999.5])
def test_line_ratios_in_one_call_equal_line_by_line(fs_hz):
    """The mains search's line-to-floor ratios of all harmonics at once equal those of
    each line on its own, on a whole-hertz grid (batched) and off it (line by line)."""
    from glutesignal.quality import _line_ratio, _line_ratios, _welch_density

    rng = np.random.default_rng(int(fs_hz))
    n = int(4 * fs_hz)
    t = np.arange(n) / fs_hz
    x = rng.normal(0.0, 30.0, (3, n)) + np.array([[40.0], [0.0], [5.0]]) * np.sin(2 * np.pi * 50.0 * t)
    f, p = _welch_density(x, fs_hz, int(fs_hz))
    lines = [k * f0 for f0 in (50.0, 60.0) for k in range(1, int(0.4 * fs_hz // f0) + 1)]
    want = np.stack([_line_ratio(f, p, f0) for f0 in lines], axis=1)
    np.testing.assert_array_equal(_line_ratios(f, p, lines), want)
    assert want[0, 0] > 8.0 > want[1, 0]  # the hum stands out where it is, not where it is not


def test_quality_percentiles_in_one_call_equal_row_by_row():
    rng = np.random.default_rng(5)
    win_rms = rng.gamma(2.0, 10.0, (4, 157))
    both = np.percentile(win_rms, [10, 90], axis=1)
    for ch in range(4):
        assert both[0, ch] == np.percentile(win_rms[ch], 10)
        assert both[1, ch] == np.percentile(win_rms[ch], 90)


@pytest.mark.parametrize("fs_hz,window_s", [(2000.0, 0.5), (1020.0, 0.25), (999.0, 0.5)])
def test_fatigue_windows_in_one_batch_equal_one_by_one(fs_hz, window_s):
    """fatigue_trend's windows, transformed in one batch per contraction, give each
    window's median frequency and RMS as computed one window at a time (a NaN sample
    drops its window only), and so the same fitted trend."""
    from glutesignal.fatigue import fatigue_trend, median_frequency_hz, trend_of_windows

    def one_window_mdf(w):
        """The median frequency of one window as its docstring reads, one FFT per window."""
        spec = np.abs(np.fft.rfft((w - w.mean()) * np.hanning(w.size))) ** 2
        f = np.fft.rfftfreq(w.size, 1.0 / fs_hz)
        keep = (f >= 20.0) & (f <= min(450.0, fs_hz / 2))
        p, f = spec[keep], f[keep]
        c = np.cumsum(p)
        k = int(np.searchsorted(c, 0.5 * p.sum()))
        below = c[k - 1] if k else 0.0
        return float(f[k] - 0.5 * fs_hz / w.size + (0.5 * p.sum() - below) / (c[k] - below) * fs_hz / w.size)

    rng = np.random.default_rng(int(fs_hz))
    x = rng.normal(0.0, 50.0, int(30 * fs_hz)) * np.linspace(1.0, 2.0, int(30 * fs_hz))
    x[int(12.3 * fs_hz)] = np.nan
    intervals = [(1.0, 6.2), (10.0, 15.0), (20.0, 20.1), (22.0, 29.7)]
    n_win = int(round(window_s * fs_hz))
    t, mdf, rms = [], [], []
    for a_s, b_s in intervals:
        a, b = int(round(a_s * fs_hz)), int(round(b_s * fs_hz))
        for k in range(a, b - n_win + 1, n_win):
            w = x[k:k + n_win]
            if np.all(np.isfinite(w)):
                t.append((k + 0.5 * n_win) / fs_hz)
                mdf.append(one_window_mdf(w))
                assert median_frequency_hz(w, fs_hz) == mdf[-1]
                rms.append(float(np.sqrt(np.mean(w ** 2))))
    got = fatigue_trend(x, fs_hz, intervals, window_s=window_s)
    want = trend_of_windows(t, mdf, rms)
    assert got.n_windows == len(t) > 20
    for name in ("t_s", "mdf_hz", "rms_uV"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    for name in ("mdf_initial_hz", "mdf_slope_hz_per_s", "rms_initial_uV", "rms_slope_uV_per_s"):
        assert getattr(got, name) == getattr(want, name), name


@pytest.mark.parametrize("fs_hz,n_samples", [(2000.0, 8000), (2000.0, 8123), (1020.0, 4100), (999.0, 2500)])
def test_mains_search_transform_equals_scipy_stft(fs_hz, n_samples):
    """The mains search's short-time transform equals scipy.signal.stft's to the bit, and
    the band-normalised mean spectrum the search takes from it is the same too."""
    from scipy import signal as sig

    from glutesignal.quality import _stft_hann

    rng = np.random.default_rng(n_samples)
    x = rng.normal(0.0, 40.0, (4, n_samples))
    x[2] += 20.0 * np.sin(2 * np.pi * 60.0 * np.arange(n_samples) / fs_hz)
    n = int(fs_hz)
    want_f, _, want = sig.stft(x, fs=fs_hz, window="hann", nperseg=n, noverlap=n // 2, boundary=None,
                               padded=False, axis=-1)
    got_f, got = _stft_hann(x, fs_hz, n)
    np.testing.assert_array_equal(got_f, want_f)
    np.testing.assert_array_equal(got, want)

    def mean_spectrum(z):
        seg = np.abs(z) ** 2
        return (seg / (np.median(seg[:, 20:450, :], axis=1, keepdims=True) + 1e-30)).mean(axis=2)

    np.testing.assert_array_equal(mean_spectrum(got), mean_spectrum(want))
