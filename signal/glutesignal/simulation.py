"""Body model: realistic surface EMG and pelvis motion for scripted glute exercises.

The model is the ground truth for the accuracy tests and benchmarks and the source
of the virtual wearable in the demo. It is pure: seeded, deterministic, no I/O.

What it produces, per exercise script:

- the true activation of each muscle channel, as a fraction of its maximum voluntary
  contraction (MVC);
- surface EMG at the electrodes in µV: Gaussian noise shaped to a sEMG power spectrum,
  amplitude-modulated by the activation with motor-unit-like variability, plus the
  usual contaminants (mains hum with harmonics, baseline wander, motion artefacts at
  movement transitions, an attenuated ECG, electrode/amplifier noise);
- the pelvis orientation and the readings of a 6-axis IMU on the sacrum
  (x forward, y left, z up when standing);
- the truth: reps, squeeze-test cues and per-side squeeze parameters, and the
  left/right symmetry index.

True angles. They are the script's own angles, not computed with the estimator's
convention function (:func:`glutesignal.pelvis.pelvis_angles_from_up`), so a sign or
axis error in the estimator shows against them:

- ``obliquity_deg``: the scripted hip drop, the rotation about the pelvis' long axis
  (sensor x standing, the cranial axis lying) applied after the tilt. Positive: left hip
  higher than the right, i.e. a right hip drop.
- ``tilt_deg``: the scripted sagittal rotation about the sensor y (left) axis from the
  starting posture (standing or supine). Positive: anterior tilt (the sensor's z axis
  tips forward). A bridge is a posterior tilt (negative).
- ``rotation_deg``: heading change about the vertical since the start (the integrated
  world-vertical angular velocity of the scripted rotation).

The estimator measures obliquity as the elevation of the sensor y axis above the
horizontal and tilt as the pitch of gravity; for a tilt ``t`` combined with a drop ``d``
these differ from the scripted angles by second-order coupling (obliquity
``asin(cos t sin d)``: 9.3 instead of 10 degrees at ``t`` = 22 degrees), which the tests'
tolerances allow.

References
----------
.. [1] Merletti R, Parker PA (eds). Electromyography: Physiology, Engineering, and
   Noninvasive Applications. IEEE Press / Wiley, 2004 (sEMG spectrum 20-450 Hz,
   amplitude ranges, contaminants).
.. [2] Shwedyk E, Balasubramanian R, Scott RN. A nonstationary model for the
   electromyogram. IEEE Trans Biomed Eng 24(5):417-424, 1977 (spectral shape).
.. [3] Clancy EA, Hogan N. Probability density of the surface electromyogram and its
   relation to amplitude detectors. IEEE Trans Biomed Eng 46(6):730-739, 1999
   (Gaussian amplitude-modulated model of the sEMG).
.. [4] De Luca CJ. The use of surface electromyography in biomechanics. J Appl
   Biomech 13:135-163, 1997 (noise, motion artefact < 20 Hz, amplitudes).
.. [5] Contreras B et al. A comparison of gluteus maximus, biceps femoris, and vastus
   lateralis EMG amplitude in the barbell, band, and American hip thrust variations.
   J Appl Biomech 32:254-260, 2016 (bridge / hip thrust glute max ~30-70 % MVC).
.. [6] Drake JDM, Callaghan JP. Elimination of electrocardiogram contamination from
   electromyogram signals. J Electromyogr Kinesiol 16:175-187, 2006 (ECG artefact).
.. [7] Burden A. How should we normalize electromyograms obtained from healthy
   participants? J Electromyogr Kinesiol 20(6):1023-1035, 2010 (between-site amplitude
   differences from electrode placement, skin and fat).
.. [8] Distefano LJ, Blackburn JT, Marshall SW, Padua DA. Gluteal muscle activation
   during common therapeutic exercises. J Orthop Sports Phys Ther 39(7):532-540, 2009
   (clamshell, side-stepping: glute medius and maximus %MVC).
.. [9] Selkowitz DM, Beneck GJ, Powers CM. Which exercises target the gluteal muscles
   while minimizing activation of the tensor fascia lata? J Orthop Sports Phys Ther
   43(2):54-64, 2013 (clamshell, sidestep).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "EXERCISES",
    "BodySession",
    "BurstTrial",
    "Phase",
    "Rep",
    "BodyBlock",
    "BodyStream",
    "Sitting",
    "SqueezeTruth",
    "burst_trial",
    "simulate",
    "simulate_blocks",
]

EXERCISES = ("bridges", "single_leg_bridges", "squeeze_test", "single_leg_stance", "rest", "demo",
             "no_squeeze", "tensed_relax", "calibration", "calibrated_demo", "medius", "desk")
"""Exercise scripts :func:`simulate` knows."""

_MUSCLES = ("glute_max", "glute_med", "hamstring", "lumbar_erector")
_SIDES = ("left", "right")

# Shwedyk et al. 1977 spectrum corner frequencies [2]: with these the sEMG peaks near
# 70 Hz with a median frequency near 100 Hz, typical of gluteus maximus [1].
_SHWEDYK_FL_HZ = 70.0
_SHWEDYK_FH_HZ = 130.0
# Electrode-skin / front-end band of the sEMG itself [1]: nothing below 10 Hz, little above 500 Hz.
_EMG_BAND_HZ = (10.0, 500.0)

# Amplitude of the sEMG at 100 % MVC, RMS µV: "a few hundred µV" for glute max [1, 4].
_MVC_UV = {"glute_max": 250.0, "glute_med": 200.0, "hamstring": 300.0, "lumbar_erector": 180.0}
# Resting tone: 1-2 % MVC.
_REST_ACTIVATION = 0.015
# Motor-unit-like amplitude variability (CV of a slow lognormal factor) [3].
_MU_VARIABILITY_CV = 0.10
_MU_VARIABILITY_BAND_HZ = 4.0
# Mains: amplitude at the fundamental (µV) and relative harmonics (odd ones dominate).
_MAINS_UV = 20.0
_MAINS_HARMONICS = {1: 1.0, 2: 0.08, 3: 0.35, 5: 0.15, 7: 0.05}
_BASELINE_WANDER_UV = 40.0
_MOTION_ARTEFACT_UV = 90.0
_MOTION_ARTEFACT_S = 0.3
# ECG at the glutes: far from the heart, a few µV to a few tens of µV [6].
_ECG_UV = 15.0
_HEART_RATE_HZ = 1.1
# SNR reference activation when an exercise has no contraction ("rest").
_REST_SNR_REFERENCE_ACTIVATION = 0.3
# IMU noise (LSM6DSOX class): accelerometer and gyroscope white noise, gyro bias.
_ACC_NOISE_G = 0.002
_GYRO_NOISE_DPS = 0.07
_GYRO_BIAS_SD_DPS = 0.3


@dataclass(frozen=True)
class Rep:
    """One repetition (or hold) of an exercise, as scripted."""

    start_s: float
    """Start of the movement or contraction, seconds from the session start."""
    end_s: float
    """End of the movement (back at rest), seconds."""
    kind: str
    """"bridge", "single_leg_bridge", "squeeze", "stance", "clamshell" or "band_walk_step"."""
    side: str
    """Working side: "left", "right" or "both" (for a single-leg stance or a band-walk
    step the supporting leg, for a clamshell the opening, upper leg)."""
    hip_drop_deg: float | None = None
    """Scripted drop of the unsupported side while the rep holds, degrees (positive: the
    unsupported side lower), for the reps on one leg (single-leg bridges, stances, band-walk
    steps); None where there is no unsupported side."""


@dataclass(frozen=True)
class Sitting:
    """One period seated, as scripted (the desk scenario)."""

    start_s: float
    """When the seated posture is reached (the sit-down movement over), seconds."""
    end_s: float
    """When standing up begins, seconds."""

    @property
    def duration_s(self) -> float:
        """Time seated, s."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Phase:
    """One cued phase of the squeeze test (the cue is given at ``start_s``)."""

    start_s: float
    """Cue time, seconds from the session start."""
    end_s: float
    """End of the phase (the next cue), seconds."""
    name: str
    """"relax", "squeeze" or "reference" (the squeeze test, the calibration), or the
    protocol step the body follows: "stance", "clamshell", "band_walk" (the gluteus
    medius set), "sit", "wake_up" (the desk)."""
    side: str
    """Side asked (for one leg: the working leg); "none" for relax."""


@dataclass(frozen=True)
class SqueezeTruth:
    """The scripted quality of one squeeze in the squeeze test."""

    side: str
    """Side asked: "left", "right" or "both"."""
    cue_s: float
    """Cue time, seconds."""
    reaction_s: float
    """Delay from the cue to the start of the rise, seconds."""
    rise_s: float
    """Duration of the rise from rest to the plateau, seconds."""
    peak_activation: float
    """Plateau activation of the asked glute (the stronger one for "both"), fraction of MVC."""
    hold_cv: float
    """Coefficient of variation of the activation during the hold (unsteadiness)."""
    relax_s: float
    """Duration of the fall back to rest after the relax cue, seconds."""
    residual_activation: float
    """Activation left above rest after relaxing, fraction of MVC."""
    overflow_fraction: float
    """Activation of the other glute as a fraction of the asked one (0 for "both")."""


@dataclass(frozen=True)
class BodySession:
    """A simulated session: signals at the sensors and the truth behind them.

    Arrays are read-only. EMG arrays have shape ``(n_channels, n_emg)``, IMU arrays
    ``(3, n_imu)``; sample ``k`` is at ``k / fs_hz`` seconds.
    """

    exercise: str
    """Exercise script name (one of :data:`EXERCISES`)."""
    seed: int
    """Seed of the random generator; the same arguments give the same session."""
    channels: tuple[str, ...]
    """Channel names, e.g. ``("glute_max_left", "glute_max_right")``."""
    emg_fs_hz: float
    """EMG sampling rate, Hz."""
    imu_fs_hz: float
    """IMU sampling rate, Hz."""
    duration_s: float
    """Session length, seconds."""
    emg_uV: np.ndarray
    """Surface EMG at the electrodes, µV, ``(n_channels, n_emg)``."""
    activation: np.ndarray
    """True activation, fraction of MVC (0-1), ``(n_channels, n_emg)``."""
    mvc_uV: np.ndarray
    """RMS amplitude of each channel's sEMG at 100 % MVC as its electrodes see it (muscle
    MVC x ``electrode_gain``), µV, ``(n_channels,)``."""
    noise_rms_uV: float
    """RMS of the electrode/amplifier noise floor, µV (set by ``snr_db``)."""
    acc_g: np.ndarray
    """Accelerometer, g, sensor frame (x forward, y left, z up standing), ``(3, n_imu)``."""
    gyro_dps: np.ndarray
    """Gyroscope, degrees per second, sensor frame, ``(3, n_imu)``."""
    tilt_deg: np.ndarray
    """True sagittal tilt from the starting posture, degrees (anterior +), ``(n_imu,)``."""
    obliquity_deg: np.ndarray
    """True obliquity, degrees (left hip higher +), ``(n_imu,)``."""
    rotation_deg: np.ndarray
    """True heading change about the vertical, degrees, ``(n_imu,)``."""
    reps: tuple[Rep, ...]
    """Scripted repetitions, in time order."""
    phases: tuple[Phase, ...]
    """Squeeze-test cues, in time order (empty for other exercises)."""
    squeezes: tuple[SqueezeTruth, ...]
    """Scripted quality of each squeeze of the squeeze test (empty otherwise)."""
    true_symmetry_index_pct: float | None
    """Truth of the symmetry index (R-L)/(0.5(R+L))*100 of the glute max amplitude.

    Mean over reps of the per-rep index of the true mean amplitude (activation x MVC,
    the muscle's, before any ``electrode_gain``) within each rep. For bilateral reps
    (bridges) left and right are compared within the rep; for unilateral exercises the
    working glute of the left reps is compared with the working glute of the right reps.
    Squeezes of the squeeze test are never reps. None when there are no reps or no
    left/right glute max pair.
    """
    posture: str = field(default="standing")
    """Starting posture, "standing" or "supine" (the reference of ``tilt_deg``)."""
    sitting: tuple[Sitting, ...] = ()
    """Scripted periods seated (the desk scenario), in time order; empty otherwise."""

    def t_emg_s(self) -> np.ndarray:
        """Sample times of the EMG, seconds, ``(n_emg,)``."""
        return np.arange(self.emg_uV.shape[1]) / self.emg_fs_hz

    def t_imu_s(self) -> np.ndarray:
        """Sample times of the IMU, seconds, ``(n_imu,)``."""
        return np.arange(self.acc_g.shape[1]) / self.imu_fs_hz

    def channel_index(self, name: str) -> int:
        """Row of channel ``name`` in the EMG arrays."""
        if name not in self.channels:
            raise ValueError(f"channel {name!r} not in session channels {self.channels}")
        return self.channels.index(name)


# --------------------------------------------------------------------------- scripts


def _smoothstep(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, raised-cosine in between."""
    if t1 <= t0:
        return (t >= t0).astype(float)
    u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _pulse(t: np.ndarray, t0: float, rise_s: float, t1: float, fall_s: float) -> np.ndarray:
    """Smooth trapezoid: rises over [t0, t0+rise_s], falls over [t1, t1+fall_s]."""
    return _smoothstep(t, t0, t0 + rise_s) * (1.0 - _smoothstep(t, t1, t1 + fall_s))


@dataclass
class _Script:
    """Mutable builder of continuous-time truth functions (private)."""

    duration_s: float
    posture: str
    # Each entry: callable(t) -> array, added to the named quantity.
    drive: dict = field(default_factory=dict)  # (muscle, side) -> list of callables
    tilt: list = field(default_factory=list)
    drop: list = field(default_factory=list)  # lateral hip drop, degrees (left higher +)
    yaw: list = field(default_factory=list)
    lift_m: list = field(default_factory=list)  # vertical sacrum displacement, metres
    shift_m: list = field(default_factory=list)  # sideways (world y) sacrum displacement, metres
    transitions_s: list = field(default_factory=list)
    artefact_scale: list = field(default_factory=list)
    reps: list = field(default_factory=list)
    phases: list = field(default_factory=list)
    squeezes: list = field(default_factory=list)
    sitting: list = field(default_factory=list)

    def add_drive(self, muscle: str, side: str, fn) -> None:
        self.drive.setdefault((muscle, side), []).append(fn)

    def transition(self, t_s: float, scale: float = 1.0) -> None:
        self.transitions_s.append(t_s)
        self.artefact_scale.append(scale)


# Relative activation of the other channels for each glute max activation, per kind
# of movement (bridges load hamstrings and lumbar erectors too; Contreras 2016 [5]).
_SYNERGY = {
    "bridge": {"glute_med": 0.5, "hamstring": 0.45, "lumbar_erector": 0.35},
    "squeeze": {"glute_med": 0.4, "hamstring": 0.1, "lumbar_erector": 0.05},
    "stance": {"glute_med": 2.5, "hamstring": 0.6, "lumbar_erector": 0.8},
}
# The gluteus medius set, as fractions of the glute medius drive: side-lying clamshells
# and lateral band walking load glute medius more than glute max (Distefano et al. 2009
# [8]: clamshell glute med ~40 %MVC, glute max ~35 %MVC at best; side-stepping glute med
# ~60 %MVC, glute max ~25 %MVC; Selkowitz et al. 2013 [9]).
_MED_SYNERGY = {
    "clamshell": {"glute_max": 0.7, "hamstring": 0.15, "lumbar_erector": 0.3},
    "band_walk": {"glute_max": 0.45, "hamstring": 0.3, "lumbar_erector": 0.4},
}


def _glute_drive(script: _Script, side: str, kind: str, fn) -> None:
    script.add_drive("glute_max", side, fn)
    for muscle, ratio in _SYNERGY[kind].items():
        script.add_drive(muscle, side, lambda t, fn=fn, r=ratio: r * fn(t))


def _med_drive(script: _Script, side: str, kind: str, fn) -> None:
    script.add_drive("glute_med", side, fn)
    for muscle, ratio in _MED_SYNERGY[kind].items():
        script.add_drive(muscle, side, lambda t, fn=fn, r=ratio: r * fn(t))


def _script_bridges(s: _Script, t0: float, n_reps: int, left_scale: float, rng) -> float:
    """Two-legged glute bridges; returns the end time."""
    lift_s, hold_s, lower_s, rest_s = 1.0, 2.0, 1.0, 1.5
    t = t0
    for _ in range(n_reps):
        start, top, down, end = t, t + lift_s, t + lift_s + hold_s, t + lift_s + hold_s + lower_s
        # Rep-to-rep variation of effort, a few per cent.
        peak_right = 0.45 * (1.0 + 0.05 * rng.standard_normal())
        peak_left = 0.45 * left_scale * (1.0 + 0.05 * rng.standard_normal())
        tilt_deg = -22.0 * (1.0 + 0.05 * rng.standard_normal())
        for side, peak in (("left", peak_left), ("right", peak_right)):
            _glute_drive(s, side, "bridge", lambda tt, a=start, b=down, p=peak: p * _pulse(tt, a, lift_s, b, lower_s))
        s.tilt.append(lambda tt, a=start, b=down, d=tilt_deg: d * _pulse(tt, a, lift_s, b, lower_s))
        s.lift_m.append(lambda tt, a=start, b=down: 0.15 * _pulse(tt, a, lift_s, b, lower_s))
        # The weaker side lets that hip sag a little (obliquity from gravity).
        sag_deg = 4.0 * (1.0 - left_scale)
        s.drop.append(lambda tt, a=start, b=down, d=-sag_deg: d * _pulse(tt, a, lift_s, b, lower_s))
        s.transition(start)
        s.transition(down)
        s.reps.append(Rep(start, end, "bridge", "both"))
        t = end + rest_s
    return t


def _script_single_leg_bridges(s: _Script, t0: float, n_per_side: int, left_scale: float, rng) -> float:
    lift_s, hold_s, lower_s, rest_s = 1.0, 1.5, 1.0, 2.0
    t = t0
    for side in ("left", "right"):
        other = "right" if side == "left" else "left"
        for _ in range(n_per_side):
            start, down = t, t + lift_s + hold_s
            end = down + lower_s
            scale = left_scale if side == "left" else 1.0
            peak = 0.6 * scale * (1.0 + 0.05 * rng.standard_normal())
            _glute_drive(s, side, "bridge", lambda tt, a=start, b=down, p=peak: p * _pulse(tt, a, lift_s, b, lower_s))
            # The extended leg's glute works a little (hip flexors hold the leg).
            _glute_drive(s, other, "bridge", lambda tt, a=start, b=down, p=0.08: p * _pulse(tt, a, lift_s, b, lower_s))
            s.tilt.append(lambda tt, a=start, b=down: -18.0 * _pulse(tt, a, lift_s, b, lower_s))
            s.lift_m.append(lambda tt, a=start, b=down: 0.12 * _pulse(tt, a, lift_s, b, lower_s))
            # Hip drop on the unsupported side, larger when the supporting glute is weaker.
            drop_deg = 5.0 + 10.0 * (1.0 - scale)
            sign = 1.0 if side == "left" else -1.0  # unsupported right drops -> left higher (+)
            s.drop.append(lambda tt, a=start, b=down, d=sign * drop_deg: d * _pulse(tt, a, lift_s, b, lower_s))
            s.transition(start)
            s.transition(down)
            s.reps.append(Rep(start, end, "single_leg_bridge", side, drop_deg))
            t = end + rest_s
    return t


def _script_squeeze_test(s: _Script, t0: float, left_scale: float, weaker_side: str, rng) -> float:
    relax_s, squeeze_s = 4.0, 5.0
    s.phases.append(Phase(t0, t0 + relax_s, "relax", "none"))
    t = t0 + relax_s
    # ``left_scale`` is the strength of the weaker side here (left by default).
    strength = {"left": 1.0, "right": 1.0}
    strength[weaker_side] = left_scale
    # Weaker side: less strength, slower, shakier, slower to relax, more overflow.
    for side in ("right", "left", "both"):
        weak = side == weaker_side
        scale = strength[side] if side != "both" else max(strength.values())
        cue = t
        q = SqueezeTruth(
            side=side,
            cue_s=cue,
            reaction_s=(0.45 if weak else 0.3),
            rise_s=(0.9 if weak else 0.4),
            peak_activation=0.6 * scale,
            hold_cv=(0.15 if weak else 0.05),
            relax_s=(0.8 if weak else 0.3),
            residual_activation=(0.04 if weak else 0.0),
            overflow_fraction=(0.0 if side == "both" else (0.25 if weak else 0.08)),
        )
        s.squeezes.append(q)
        s.phases.append(Phase(cue, cue + squeeze_s, "squeeze", side))
        s.phases.append(Phase(cue + squeeze_s, cue + squeeze_s + relax_s, "relax", "none"))
        onset = cue + q.reaction_s
        off = cue + squeeze_s + 0.25  # reaction to the relax cue
        if side == "both":
            targets = {sd: 0.6 * strength[sd] for sd in _SIDES}
            cvs = {sd: (0.15 if sd == weaker_side else 0.05) for sd in _SIDES}
        else:
            other = "left" if side == "right" else "right"
            targets = {side: q.peak_activation, other: q.peak_activation * q.overflow_fraction}
            cvs = {side: q.hold_cv, other: q.hold_cv}
        for muscle_side, peak in targets.items():
            wobble = _slow_noise(rng, 2.0)
            cv = cvs[muscle_side]
            residual = q.residual_activation if muscle_side == side else 0.0

            def fn(tt, a=onset, b=off, p=peak, w=wobble, c=cv, r=q.rise_s, rl=q.relax_s, res=residual):
                hold = _pulse(tt, a, r, b, rl) * (1.0 + c * w(tt))
                tail = res * _smoothstep(tt, b, b + rl) * (1.0 - _smoothstep(tt, b + rl, b + rl + 3.0))
                return p * hold + tail

            _glute_drive(s, muscle_side, "squeeze", fn)
        # Compensation: a poorly isolated squeeze tips and turns the pelvis a little.
        comp = 2.5 if weak and side != "both" else 0.5
        s.tilt.append(lambda tt, a=onset, b=off, d=-comp, r=q.rise_s: d * _pulse(tt, a, r, b, 0.5))
        s.yaw.append(lambda tt, a=onset, b=off, d=comp * (1 if side == "left" else -1), r=q.rise_s:
                     d * _pulse(tt, a, r, b, 0.5))
        s.transition(onset, 0.25 if not weak else 0.5)
        s.reps.append(Rep(onset, off + q.relax_s, "squeeze", side))
        t = cue + squeeze_s + relax_s
    return t


def _squeeze_test_phases(s: _Script, t0: float) -> list[float]:
    """The squeeze test's cues (right, left, both) without any drive; returns the cue times."""
    relax_s, squeeze_s = 4.0, 5.0
    s.phases.append(Phase(t0, t0 + relax_s, "relax", "none"))
    t = t0 + relax_s
    cues = []
    for side in ("right", "left", "both"):
        s.phases.append(Phase(t, t + squeeze_s, "squeeze", side))
        s.phases.append(Phase(t + squeeze_s, t + squeeze_s + relax_s, "relax", "none"))
        cues.append(t)
        t += squeeze_s + relax_s
    s.duration_s = t
    return cues


def _script_no_squeeze(s: _Script, t0: float) -> float:
    """The squeeze test's cues, and a person who does nothing at all during them."""
    _squeeze_test_phases(s, t0)
    return s.duration_s


def _script_tensed_relax(s: _Script, t0: float, rng) -> float:
    """The squeeze test's cues, followed backwards: tense during "relax", ease off during "squeeze".

    Both glutes sit at ~25 %MVC through every relax phase and drop to ~5 %MVC in the
    squeeze phases (a person who misunderstood the cues, or cannot let go).
    """
    cues = _squeeze_test_phases(s, t0)
    tense, eased = 0.25, 0.05
    edges = [t0] + [c for cue in cues for c in (cue, cue + 5.0)] + [s.duration_s]
    for side in _SIDES:
        wobble = _slow_noise(rng, 1.0)
        for k in range(0, len(edges) - 1, 2):  # relax phases: [edges[k], edges[k+1])
            a, b = edges[k], edges[k + 1]
            _glute_drive(s, side, "squeeze", lambda tt, a=a, b=b, w=wobble:
                         tense * _pulse(tt, a + 0.3, 0.4, b - 0.2, 0.4) * (1.0 + 0.05 * w(tt)))
        for cue in cues:
            _glute_drive(s, side, "squeeze", lambda tt, a=cue: eased * _pulse(tt, a + 0.3, 0.4, a + 4.8, 0.4))
    for cue in cues:
        s.transition(cue, 0.25)
    return s.duration_s


CALIBRATION_HOLD_S = 5.0
"""Hold of each reference contraction of the calibration, s."""
CALIBRATION_REST_S = 5.0
"""Rest before and between reference contractions, s."""
CALIBRATION_TRIALS = 3
"""Reference contractions per side (3 trials: Konrad 2005; the app averages them)."""


def _script_calibration(s: _Script, t0: float, rng) -> float:
    """A reference-contraction calibration: 3 holds per side, right then left.

    Each hold is a maximal standing glute squeeze of one side (``Phase`` name
    "reference", side "right"/"left") at ~90 %MVC with 3 % trial-to-trial variation.
    Activation is a fraction of each muscle's own MVC, so a maximal hold reaches the same
    fraction on both sides whatever ``left_scale`` says about the exercises: the
    reference is what normalisation divides by.
    """
    s.phases.append(Phase(t0, t0 + CALIBRATION_REST_S, "relax", "none"))
    t = t0 + CALIBRATION_REST_S
    for side in ("right", "left"):
        for _ in range(CALIBRATION_TRIALS):
            peak = 0.9 * (1.0 + 0.03 * rng.standard_normal())
            a = t + 0.3
            _glute_drive(s, side, "squeeze", lambda tt, a=a, p=peak: p * _pulse(tt, a, 0.5, a + CALIBRATION_HOLD_S - 0.3, 0.4))
            s.phases.append(Phase(t, t + CALIBRATION_HOLD_S, "reference", side))
            s.phases.append(Phase(t + CALIBRATION_HOLD_S, t + CALIBRATION_HOLD_S + CALIBRATION_REST_S, "relax", "none"))
            s.transition(a, 0.25)
            t += CALIBRATION_HOLD_S + CALIBRATION_REST_S
    return t


def _script_single_leg_stance(s: _Script, t0: float, left_scale: float, rng) -> float:
    both_s, stance_s = 3.0, 10.0
    t = t0 + both_s
    for side in ("left", "right"):
        start, end = t, t + stance_s
        scale = left_scale if side == "left" else 1.0
        level = 0.15 * scale * (1.0 + 0.05 * rng.standard_normal())
        wobble = _slow_noise(rng, 1.5)
        _glute_drive(s, side, "stance", lambda tt, a=start, b=end - 0.5, p=level, w=wobble:
                     p * _pulse(tt, a, 0.5, b, 0.5) * (1.0 + 0.2 * w(tt)))
        # Trendelenburg: the unsupported side drops, more when the stance glute is weak.
        drop_deg = 3.0 + 8.0 * (1.0 - scale)
        sign = 1.0 if side == "left" else -1.0
        wob = _slow_noise(rng, 1.2)
        s.drop.append(lambda tt, a=start, b=end - 0.5, d=sign * drop_deg, w=wob:
                      (d + 1.5 * w(tt)) * _pulse(tt, a, 0.5, b, 0.5))
        s.tilt.append(lambda tt, a=start, b=end - 0.5, w=_slow_noise(rng, 0.8):
                      (1.0 * w(tt) + 2.0) * _pulse(tt, a, 0.5, b, 0.5))
        s.yaw.append(lambda tt, a=start, b=end - 0.5, w=_slow_noise(rng, 0.5): 2.0 * w(tt) * _pulse(tt, a, 0.5, b, 0.5))
        s.transition(start)
        s.transition(end - 0.5)
        s.reps.append(Rep(start, end, "stance", side, drop_deg))
        t = end + both_s
    return t


MEDIUS_REST_S = 3.0
"""Rest standing on both legs between the parts of the gluteus medius set, s."""
MEDIUS_STANCE_S = 10.0
"""Each single-leg stance of the gluteus medius set, s."""
CLAMSHELL_S = 20.0
"""Each side's clamshells (lying down, the reps, getting up), s."""
BAND_WALK_S = 15.0
"""Each side's lateral band walk (a start, the steps, standing still), s."""
CLAMSHELL_REPS = 5
"""Clamshells per side."""
BAND_WALK_CYCLES = 8
"""Step cycles (lead leg out, trailing leg in) per side of the band walk."""


def _clamshells(s: _Script, t0: float, side: str, left_scale: float, rng) -> float:
    """Side-lying clamshells opening the ``side`` knee (lying on the other side); returns the end.

    The person lies down on the other side over the first 2 s (obliquity to +-90°: the
    upper hip straight above the lower), opens and closes the upper knee
    `CLAMSHELL_REPS` times (1 s up, 0.5 s hold, 1 s down, 0.5 s pause) and gets up over
    the last 1.5 s. Each opening rolls the pelvis back a little about its long axis (the
    usual compensation, larger when the working glute medius is weaker), which is the
    scripted tilt while lying on the side.
    """
    end = t0 + CLAMSHELL_S
    scale = left_scale if side == "left" else 1.0
    lying = 90.0 if side == "left" else -90.0  # lying on the right side: the left hip is up
    s.drop.append(lambda tt, a=t0, b=end - 1.5, d=lying: d * _pulse(tt, a, 2.0, b, 1.5))
    s.transition(t0)
    s.transition(end - 1.5)
    s.phases.append(Phase(t0, end, "clamshell", side))
    roll_deg = -(2.0 + 4.0 * (1.0 - scale))
    for k in range(CLAMSHELL_REPS):
        r0 = t0 + 2.5 + 3.0 * k
        peak = 0.40 * scale * (1.0 + 0.05 * rng.standard_normal())
        _med_drive(s, side, "clamshell", lambda tt, a=r0, p=peak: p * _pulse(tt, a, 1.0, a + 1.5, 1.0))
        s.tilt.append(lambda tt, a=r0, d=roll_deg: d * _pulse(tt, a, 1.0, a + 1.5, 1.0))
        s.transition(r0, 0.3)
        s.reps.append(Rep(r0, r0 + 2.5, "clamshell", side))
    return end


def _band_walk(s: _Script, t0: float, lead: str, left_scale: float, rng) -> float:
    """A lateral band walk leading with ``lead``; returns the end.

    From 1 s in, `BAND_WALK_CYCLES` cycles of 1.5 s: the lead leg steps out (the trailing
    leg supports, 0.75 s), then the trailing leg follows (the lead leg supports). The band
    keeps both glutes medius working a little throughout; the supporting side's works
    hard. Each single support lets the unsupported side drop (more on a weaker leg), the
    pelvis moves 0.25 m sideways per cycle and wobbles (obliquity, tilt, heading).
    """
    end = t0 + BAND_WALK_S
    trail = "right" if lead == "left" else "left"
    strength = {"left": left_scale, "right": 1.0}
    s.phases.append(Phase(t0, end, "band_walk", lead))
    walk0, walk1 = t0 + 1.0, t0 + 1.0 + 1.5 * BAND_WALK_CYCLES
    for side in _SIDES:
        _med_drive(s, side, "band_walk", lambda tt, a=walk0 - 0.5, b=walk1, p=0.2 * strength[side]:
                   p * _pulse(tt, a, 0.5, b, 0.5))
    direction = 1.0 if lead == "left" else -1.0  # world y is the person's left at the start
    for c in range(BAND_WALK_CYCLES):
        for half, support in enumerate((trail, lead)):
            h0 = walk0 + 1.5 * c + 0.75 * half
            scale = strength[support]
            peak = 0.55 * scale * (1.0 + 0.05 * rng.standard_normal())
            _med_drive(s, support, "band_walk", lambda tt, a=h0, p=peak: p * _pulse(tt, a, 0.2, a + 0.4, 0.2))
            drop_deg = 2.0 + 6.0 * (1.0 - scale)
            sign = 1.0 if support == "left" else -1.0
            s.drop.append(lambda tt, a=h0, d=sign * drop_deg: d * _pulse(tt, a, 0.2, a + 0.4, 0.2))
            s.shift_m.append(lambda tt, a=h0, d=0.125 * direction: d * _smoothstep(tt, a, a + 0.75))
            s.transition(h0, 0.4)
            s.reps.append(Rep(h0, h0 + 0.75, "band_walk_step", support, drop_deg))
    for lst, amp, band in ((s.drop, 0.8, 1.5), (s.tilt, 0.8, 1.2), (s.yaw, 1.5, 0.6)):
        lst.append(lambda tt, a=walk0, b=walk1, w=_slow_noise(rng, band), k=amp: k * w(tt) * _pulse(tt, a, 0.5, b, 0.5))
    return end


def _script_medius(s: _Script, t0: float, left_scale: float, rng) -> float:
    """The gluteus medius set, step for step as the "medius" protocol asks it.

    Rest, stance on the left leg, rest, stance on the right (exactly "single_leg_stance"),
    rest, clamshells opening the left then the right knee, rest, band walk leading with
    the left then the right leg, rest; each part is a `Phase` named like the protocol's
    step.
    """
    a = t0
    r, st = MEDIUS_REST_S, MEDIUS_STANCE_S
    t = _script_single_leg_stance(s, a, left_scale, rng)
    s.phases.extend([Phase(a, a + r, "relax", "none"), Phase(a + r, a + r + st, "stance", "left"),
                     Phase(a + r + st, a + 2 * r + st, "relax", "none"),
                     Phase(a + 2 * r + st, a + 2 * r + 2 * st, "stance", "right"),
                     Phase(a + 2 * r + 2 * st, t, "relax", "none")])
    for side in _SIDES:
        t = _clamshells(s, t, side, left_scale, rng)
    s.phases.append(Phase(t, t + r, "relax", "none"))
    t += r
    for side in _SIDES:
        t = _band_walk(s, t, side, left_scale, rng)
    s.phases.append(Phase(t, t + r, "relax", "none"))
    return t + r


DESK_STAND_S = 5.0
"""Standing tall at the start of the desk scenario (the pelvis' reference posture), s."""
SIT_DOWN_S = 2.0
"""Sitting down, s."""
STAND_UP_S = 2.0
"""Standing up, s."""
SEATED_TILT_DEG = -25.0
"""Pelvic tilt seated, from standing, degrees (posterior -): a slumped office posture.
A model figure inside the 20-30° range the desk protocol's threshold assumes."""
WAKE_SQUEEZE_S = 30.0
"""The wake-up: squeeze both glutes for 30 s (the article's "squeeze the muscles for 30
seconds" after every hour of sitting)."""
WAKE_UP_S = STAND_UP_S + 1.0 + WAKE_SQUEEZE_S + 2.0
"""Standing up, 1 s, the 30-s squeeze, 2 s: the wake-up after each sitting period, s."""


def _script_desk(s: _Script, t0: float, sitting_s: tuple[float, ...], left_scale: float, rng) -> float:
    """Desk work: stand, then for each of ``sitting_s`` sit that long and do the wake-up.

    Each period: sit down (the pelvis tilts back to ~`SEATED_TILT_DEG`), stay seated with
    a slow postural drift and a small shift every few minutes, stand up (the glutes work
    briefly), then squeeze both glutes for `WAKE_SQUEEZE_S`. Truth: `Sitting` periods
    (seated posture held), "sit" and "wake_up" phases, the squeezes as reps.
    """
    s.phases.append(Phase(t0, t0 + DESK_STAND_S, "relax", "none"))
    t = t0 + DESK_STAND_S
    for length in sitting_s:
        seated, up = t + SIT_DOWN_S, t + SIT_DOWN_S + length
        depth = SEATED_TILT_DEG * (1.0 + 0.08 * rng.standard_normal())
        drift = _slow_noise(rng, 1.0 / 120.0)
        s.tilt.append(lambda tt, a=t, b=up, d=depth, w=drift:
                      (d + 2.0 * w(tt) * _smoothstep(tt, a, a + 60.0)) * _pulse(tt, a, SIT_DOWN_S, b, STAND_UP_S))
        s.transition(t)
        # A shift on the chair every few minutes (exponential gaps, mean 5 min).
        shift = seated + rng.exponential(300.0)
        while shift + 5.0 < up:
            d = rng.uniform(-4.0, 4.0)
            s.tilt.append(lambda tt, a=shift, d=d: d * _pulse(tt, a, 1.5, a + 1.5, 1.5))
            s.transition(shift, 0.5)
            shift += rng.exponential(300.0)
        # Rising from a chair is hip extension: glute max works briefly.
        for side in _SIDES:
            _glute_drive(s, side, "squeeze", lambda tt, a=up: 0.2 * _pulse(tt, a, 0.5, a + 1.0, 0.5))
        s.transition(up)
        s.phases.append(Phase(t, up, "sit", "none"))
        s.sitting.append(Sitting(seated, up))
        squeeze = up + STAND_UP_S + 1.0
        wobble = _slow_noise(rng, 1.0)
        for side in _SIDES:
            peak = 0.5 * (left_scale if side == "left" else 1.0)
            _glute_drive(s, side, "squeeze", lambda tt, a=squeeze, p=peak, w=wobble: _within(
                tt, a, a + WAKE_SQUEEZE_S, lambda u: p * _pulse(u, a, 0.5, a + WAKE_SQUEEZE_S - 0.4, 0.4)
                * (1.0 + 0.05 * w(u))))
        s.transition(squeeze, 0.25)
        s.reps.append(Rep(squeeze, squeeze + WAKE_SQUEEZE_S, "squeeze", "both"))
        s.phases.append(Phase(up, up + WAKE_UP_S, "wake_up", "both"))
        t = up + WAKE_UP_S
    s.phases.append(Phase(t, t + DESK_STAND_S, "relax", "none"))
    return t + DESK_STAND_S


def _within(t: np.ndarray, t0: float, t1: float, fn) -> np.ndarray:
    """``fn(t)`` where ``t0 <= t < t1``, 0 elsewhere, evaluated only there: a scripted
    movement of seconds costs nothing over the hours of a long session."""
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    m = (t >= t0) & (t < t1)
    if m.any():
        out[m] = fn(t[m])
    return out


def _slow_noise(rng: np.random.Generator, band_hz: float):
    """A smooth zero-mean unit-variance random function of time (sum of sines)."""
    n = 8
    freqs = rng.uniform(0.2 * band_hz, band_hz, n)
    phases = rng.uniform(0, 2 * np.pi, n)
    amps = rng.standard_normal(n)
    norm = np.sqrt(0.5 * np.sum(amps**2))

    def fn(t):
        return np.sum(amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * np.atleast_1d(t)[None, :] + phases[:, None]),
                      axis=0).reshape(np.shape(t)) / norm

    return fn


def _build_script(exercise: str, left_scale: float, weaker_side: str, rng,
                  sitting_s: tuple[float, ...] = (30.0,)) -> _Script:
    if exercise == "bridges":
        s = _Script(0.0, "supine")
        s.duration_s = _script_bridges(s, 2.0, 10, left_scale, rng) + 0.5
    elif exercise == "single_leg_bridges":
        s = _Script(0.0, "supine")
        s.duration_s = _script_single_leg_bridges(s, 2.0, 5, left_scale, rng) + 0.5
    elif exercise == "squeeze_test":
        s = _Script(0.0, "standing")
        s.duration_s = _script_squeeze_test(s, 0.0, left_scale, weaker_side, rng)
    elif exercise == "single_leg_stance":
        s = _Script(0.0, "standing")
        s.duration_s = _script_single_leg_stance(s, 0.0, left_scale, rng)
    elif exercise == "medius":
        s = _Script(0.0, "standing")
        s.duration_s = _script_medius(s, 0.0, left_scale, rng)
    elif exercise == "desk":
        s = _Script(0.0, "standing")
        s.duration_s = _script_desk(s, 0.0, sitting_s, left_scale, rng)
    elif exercise == "rest":
        s = _Script(30.0, "standing")
    elif exercise == "no_squeeze":
        s = _Script(0.0, "standing")
        _script_no_squeeze(s, 0.0)
    elif exercise == "tensed_relax":
        s = _Script(0.0, "standing")
        _script_tensed_relax(s, 0.0, rng)
    elif exercise == "calibration":
        s = _Script(0.0, "standing")
        s.duration_s = _script_calibration(s, 0.0, rng)
    elif exercise == "calibrated_demo":
        # The calibration first, then the demo (as "demo", the posture is supine throughout).
        s = _Script(0.0, "supine")
        t = _script_calibration(s, 0.0, rng)
        t = _script_bridges(s, t + 2.0, 5, left_scale, rng) + 1.0
        s.duration_s = _script_squeeze_test(s, t, left_scale, weaker_side, rng)
    elif exercise == "demo":
        # Bridges lying down, then standing up for the squeeze test; the posture change
        # itself is not modelled (the reference posture is supine throughout).
        s = _Script(0.0, "supine")
        t = _script_bridges(s, 2.0, 5, left_scale, rng) + 1.0
        s.duration_s = _script_squeeze_test(s, t, left_scale, weaker_side, rng)
    else:
        raise ValueError(f"exercise must be one of {EXERCISES}, got {exercise!r}")
    return s


# --------------------------------------------------------------------------- signals


def _parse_channel(name: str) -> tuple[str, str]:
    for muscle in _MUSCLES:
        for side in _SIDES:
            if name == f"{muscle}_{side}":
                return muscle, side
    allowed = ", ".join(f"{m}_{s}" for m in _MUSCLES for s in _SIDES)
    raise ValueError(f"channel name must be one of {allowed}; got {name!r}")


def _shaped_noise(rng: np.random.Generator, n_channels: int, n: int, fs_hz: float) -> np.ndarray:
    """Unit-variance Gaussian noise with the Shwedyk sEMG spectrum [2] (FFT shaping)."""
    white = rng.standard_normal((n_channels, n))
    spec = np.fft.rfft(white, axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    fl, fh = _SHWEDYK_FL_HZ, _SHWEDYK_FH_HZ
    psd = fh**4 * f**2 / ((f**2 + fl**2) * (f**2 + fh**2) ** 2)
    psd[(f < _EMG_BAND_HZ[0]) | (f > _EMG_BAND_HZ[1])] = 0.0
    shaped = np.fft.irfft(spec * np.sqrt(psd), n=n, axis=-1)
    sd = shaped.std(axis=-1, keepdims=True)
    return shaped / np.where(sd > 0, sd, 1.0)


def _lowpass_noise(rng: np.random.Generator, shape: tuple[int, int], fs_hz: float, cutoff_hz: float) -> np.ndarray:
    """Unit-variance Gaussian noise band-limited to ``cutoff_hz`` (FFT brick wall)."""
    n = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    spec[..., f > cutoff_hz] = 0.0
    spec[..., 0] = 0.0
    out = np.fft.irfft(spec, n=n, axis=-1)
    sd = out.std(axis=-1, keepdims=True)
    return out / np.where(sd > 0, sd, 1.0)


def _ecg(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """QRS-T complexes at ~66 bpm with RR variability, unit R-peak amplitude [6]."""
    beats = []
    tb = rng.uniform(0.1, 0.9)
    while tb < t[-1] + 1.0:
        beats.append(tb)
        tb += (1.0 / _HEART_RATE_HZ) * (1.0 + 0.05 * rng.standard_normal())
    out = np.zeros_like(t)
    # (offset s, width s, amplitude): Q, R, S, T waves.
    waves = ((-0.025, 0.008, -0.12), (0.0, 0.010, 1.0), (0.025, 0.010, -0.3), (0.25, 0.05, 0.25))
    fs = 1.0 / (t[1] - t[0]) if t.size > 1 else 1.0
    half = int(0.5 * fs)
    for b in beats:
        k0 = int(round(b * fs))
        lo, hi = max(k0 - half, 0), min(k0 + half, t.size)
        if lo >= hi:
            continue
        tt = t[lo:hi] - b
        for off, w, a in waves:
            out[lo:hi] += a * np.exp(-0.5 * ((tt - off) / w) ** 2)
    return out


def _motion_artefacts(rng, n_channels, t, fs_hz, times_s, scales) -> np.ndarray:
    """Low-frequency (< 20 Hz) bursts at movement transitions [4]."""
    out = np.zeros((n_channels, t.size))
    if not times_s:
        return out
    n_burst = int(round(_MOTION_ARTEFACT_S * fs_hz * 2))
    window = np.hanning(n_burst)
    for t0, scale in zip(times_s, scales):
        k0 = int(round(t0 * fs_hz)) - n_burst // 4
        burst = _lowpass_noise(rng, (n_channels, n_burst), fs_hz, 12.0) * window
        gain = _MOTION_ARTEFACT_UV * scale * rng.uniform(0.5, 1.2, (n_channels, 1))
        lo, hi = max(k0, 0), min(k0 + n_burst, t.size)
        if lo < hi:
            out[:, lo:hi] += gain * burst[:, lo - k0:hi - k0]
    return out


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _sum_fns(fns, t):
    out = np.zeros_like(t)
    for fn in fns:
        out = out + fn(t)
    return out


def _orientation(script: _Script, t: np.ndarray) -> np.ndarray:
    """World-from-sensor rotation matrices ``(n, 3, 3)`` from the script."""
    tilt = np.deg2rad(_sum_fns(script.tilt, t))
    drop = np.deg2rad(_sum_fns(script.drop, t))
    yaw = np.deg2rad(_sum_fns(script.yaw, t))
    if script.posture == "supine":
        # Lying on the back: sensor x (forward) points up, z (cranial) horizontal.
        # A lateral hip drop is then a rotation about the body's long axis (z).
        base = _rot_y(np.full_like(t, -np.pi / 2))
        anat = _rot_y(tilt) @ _rot_z(-drop)
    else:
        base = np.broadcast_to(np.eye(3), (t.size, 3, 3))
        anat = _rot_y(tilt) @ _rot_x(drop)
    return _rot_z(yaw) @ base @ anat


def _imu(script: _Script, t: np.ndarray, fs_hz: float, rng) -> dict:
    rot = _orientation(script, t)
    # The truth is what the script set (see the module notes), independent of the estimator.
    tilt = _sum_fns(script.tilt, t)
    obliquity = _sum_fns(script.drop, t)
    # Angular velocity in the sensor frame by central differences of the rotation.
    r = Rotation.from_matrix(rot)
    n = t.size
    omega = np.zeros((n, 3))
    if n >= 3:
        omega[1:-1] = (r[:-2].inv() * r[2:]).as_rotvec() * fs_hz / 2.0
        omega[0], omega[-1] = omega[1], omega[-2]
    omega_world = np.einsum("nij,nj->ni", rot, omega)
    rotation = np.rad2deg(np.concatenate([[0.0], np.cumsum(0.5 * (omega_world[1:, 2] + omega_world[:-1, 2]))
                                          / fs_hz]))
    # Linear acceleration of the sacrum (vertical lift in bridges, sideways steps), g.
    lift = _sum_fns(script.lift_m, t)
    acc_world_g = np.zeros((n, 3))
    shift = _sum_fns(script.shift_m, t)
    if n >= 3:
        acc_world_g[1:-1, 2] = (lift[2:] - 2 * lift[1:-1] + lift[:-2]) * fs_hz**2 / 9.80665
        acc_world_g[1:-1, 1] = (shift[2:] - 2 * shift[1:-1] + shift[:-2]) * fs_hz**2 / 9.80665
    specific_force = acc_world_g + np.array([0.0, 0.0, 1.0])
    acc = np.einsum("nji,nj->in", rot, specific_force)
    acc = acc + _ACC_NOISE_G * rng.standard_normal(acc.shape)
    bias = _GYRO_BIAS_SD_DPS * rng.standard_normal((3, 1))
    gyro = np.rad2deg(omega.T) + bias + _GYRO_NOISE_DPS * rng.standard_normal((3, n))
    return {"acc_g": acc, "gyro_dps": gyro, "tilt_deg": tilt, "obliquity_deg": obliquity, "rotation_deg": rotation}


def _true_si(script: _Script, t: np.ndarray, amp: np.ndarray, channels: tuple[str, ...]) -> float | None:
    if "glute_max_left" not in channels or "glute_max_right" not in channels or not script.reps:
        return None
    left = amp[channels.index("glute_max_left")]
    right = amp[channels.index("glute_max_right")]

    def mean_in(x, rep):
        m = (t >= rep.start_s) & (t < rep.end_s)
        return float(x[m].mean()) if m.any() else float("nan")

    # Squeezes of the squeeze test are squeezes, not reps: the "both" squeeze is not a
    # left/right rep, and one-sided squeezes are not left-leg and right-leg reps.
    reps = [r for r in script.reps if r.kind != "squeeze"]
    if not reps:
        return None
    both = [r for r in reps if r.side == "both"]
    if both:
        sis = []
        for rep in both:
            lv, rv = mean_in(left, rep), mean_in(right, rep)
            sis.append((rv - lv) / (0.5 * (rv + lv)) * 100.0)
        return float(np.mean(sis))
    lefts = [mean_in(left, r) for r in reps if r.side == "left"]
    rights = [mean_in(right, r) for r in reps if r.side == "right"]
    if not lefts or not rights:
        return None
    lv, rv = float(np.mean(lefts)), float(np.mean(rights))
    return (rv - lv) / (0.5 * (rv + lv)) * 100.0


def _check_sitting(sitting_s) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in sitting_s)
    except (TypeError, ValueError):
        out = ()
    if not out or not all(np.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"sitting_s must be one or more positive finite durations (s); got {sitting_s!r}")
    return out


def _check_positive(name: str, value: float, unit: str = "") -> float:
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number{unit}; got {value!r}")
    return v


def _validated(exercise, emg_fs_hz, imu_fs_hz, channels, mains_hz, snr_db, left_scale, weaker_side, duration_s,
               electrode_gain, sitting_s):
    """The arguments of `simulate` checked, with one-line errors naming the argument."""
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {EXERCISES}, got {exercise!r}")
    emg_fs_hz = _check_positive("emg_fs_hz", emg_fs_hz, " (Hz)")
    imu_fs_hz = _check_positive("imu_fs_hz", imu_fs_hz, " (Hz)")
    if mains_hz is not None:
        mains_hz = _check_positive("mains_hz", mains_hz, " (Hz) or None")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite; got {snr_db!r}")
    if not (0.0 < float(left_scale) <= 2.0):
        raise ValueError(f"left_scale must be in (0, 2]; got {left_scale!r}")
    if weaker_side not in _SIDES:
        raise ValueError(f"weaker_side must be 'left' or 'right'; got {weaker_side!r}")
    channels = tuple(channels)
    if not channels:
        raise ValueError("channels must name at least one channel; got an empty tuple")
    if len(set(channels)) != len(channels):
        raise ValueError(f"channels must be distinct; got {channels}")
    parsed = [_parse_channel(c) for c in channels]
    if duration_s is not None:
        duration_s = _check_positive("duration_s", duration_s, " (s) or None")
    try:
        gains = tuple(float(g) for g in electrode_gain)
    except TypeError:
        gains = ()
    if len(gains) != 2 or not all(np.isfinite(g) and g > 0 for g in gains):
        raise ValueError(f"electrode_gain must be two positive finite gains (left, right); got {electrode_gain!r}")
    sitting_s = _check_sitting(sitting_s)

    return (exercise, emg_fs_hz, imu_fs_hz, channels, parsed, mains_hz, float(snr_db), float(left_scale),
            weaker_side, duration_s, gains, sitting_s)


def simulate(
    exercise: str,
    *,
    emg_fs_hz: float = 2000.0,
    imu_fs_hz: float = 104.0,
    channels: tuple[str, ...] = ("glute_max_left", "glute_max_right"),
    seed: int = 0,
    mains_hz: float | None = 50.0,
    snr_db: float = 20.0,
    left_scale: float = 0.7,
    weaker_side: str = "left",
    duration_s: float | None = None,
    electrode_gain: tuple[float, float] = (1.0, 1.0),
    sitting_s: tuple[float, ...] = (30.0,),
) -> BodySession:
    """Simulate a session of one exercise: sEMG, IMU and the truth behind them.

    Parameters
    ----------
    exercise : str
        One of :data:`EXERCISES`: "bridges" (10 two-legged bridges), "single_leg_bridges"
        (5 per side, left first, hip drop on the unsupported side), "squeeze_test"
        (relax, squeeze right, relax, squeeze left, relax, both, relax), "single_leg_stance"
        (10 s on each leg with hip drop and wobble), "rest" (30 s) or "demo" (5 bridges
        then the squeeze test, about 60 s), "no_squeeze" (the squeeze test's cues and a
        person who does nothing), "tensed_relax" (tense ~25 %MVC during the relax cues,
        ~5 %MVC during the squeezes), "calibration" (3 reference contractions per side,
        right then left, cued by "reference" phases) or "calibrated_demo" (the
        calibration, then "demo"), "medius" (the gluteus medius set as the "medius"
        protocol asks it: 10-s stance on each leg, side-lying clamshells opening each knee,
        a lateral band walk leading with each leg, 105 s) or "desk" (stand 5 s; for each
        of ``sitting_s``: sit that long, stand up and squeeze both glutes for 30 s).
    emg_fs_hz : float
        EMG sampling rate, Hz (> 0). The sEMG spectrum above Nyquist is simply absent.
    imu_fs_hz : float
        IMU sampling rate, Hz (> 0).
    channels : tuple of str
        Channel names ``<muscle>_<side>``; muscles glute_max, glute_med, hamstring,
        lumbar_erector; sides left, right.
    seed : int
        Seed; the same arguments give bit-identical sessions.
    mains_hz : float or None
        Mains frequency (50 or 60 Hz in practice); None for no hum.
    snr_db : float
        Signal-to-noise ratio of the sEMG against the electrode/amplifier noise floor:
        20 log10 of the RMS of the strongest channel's sEMG while its activation is above
        half its maximum, over the RMS of the noise (as in Solnik et al. 2010). For "rest",
        the reference is that channel at 30 % MVC.
    left_scale : float
        Strength of the left glute relative to the right (0 < left_scale <= 2); 0.7 makes the
        left 30 % weaker. For the squeeze test with ``weaker_side="right"`` it scales the right.
    weaker_side : str
        Weaker side in the squeeze test ("left" or "right"): slower, shakier, slower to
        relax and with more overflow into the other side.
    duration_s : float or None
        Truncate (or pad with rest) to this length, seconds; None keeps the script's length.
        Reps and phases that do not end within the session are dropped.

    electrode_gain : tuple of 2 floats
        Gain (left, right) between the muscle's sEMG and what that side's electrodes see
        (electrode position over the innervation zone, inter-electrode distance, skin
        impedance, subcutaneous fat: Burden 2010 [7]; De Luca 1997 [4]), > 0. It scales
        every channel of that side's sEMG, not the amplifier noise; the truth (activation,
        ``true_symmetry_index_pct``) stays the muscle's, and ``mvc_uV`` is what the
        electrode sees at 100 %MVC. (1.0, 1.4) makes the right side read 40 % louder for
        the same effort.
    sitting_s : tuple of float
        The desk scenario's periods seated, s (each > 0); ignored by the other exercises.
        Long ones are cheap with `simulate_blocks`, which never holds the whole session.

    Returns
    -------
    BodySession
        Signals and truth; see its fields.

    Notes
    -----
    ``emg = mvc * a(t) * m(t) * n(t) + noise + mains + wander + motion + ecg`` where ``n`` is
    unit-variance Gaussian noise with the Shwedyk spectrum (peak ~70 Hz, median ~100 Hz) [2],
    ``a`` the activation, ``m`` a slow lognormal motor-unit variability factor (CV 10 %) and
    ``mvc`` 250 µV RMS for glute max [1], [3], [4]. Contaminants: mains hum 20 µV at the
    fundamental with odd harmonics, baseline wander ~40 µV below 0.5 Hz, motion artefacts
    ~90 µV below 12 Hz lasting ~0.3 s at movement transitions [4], ECG with ~15 µV R waves
    at ~66 bpm [6], white noise floor set by ``snr_db``.

    References
    ----------
    See the module docstring.
    """
    (exercise, emg_fs_hz, imu_fs_hz, channels, parsed, mains_hz, snr_db, left_scale, weaker_side, duration_s,
     gains, sitting_s) = _validated(exercise, emg_fs_hz, imu_fs_hz, channels, mains_hz, snr_db, left_scale,
                                    weaker_side, duration_s, electrode_gain, sitting_s)

    root = np.random.SeedSequence(seed)
    rng_script, rng_emg, rng_mu, rng_noise, rng_art, rng_imu, rng_misc = (
        np.random.default_rng(s) for s in root.spawn(7))
    script = _build_script(exercise, float(left_scale), weaker_side, rng_script, sitting_s)
    total_s = duration_s if duration_s is not None else script.duration_s
    n = int(round(total_s * emg_fs_hz))
    m = int(round(total_s * imu_fs_hz))
    if n < 2 or m < 2:
        raise ValueError(f"duration_s {total_s} s is too short for emg_fs_hz={emg_fs_hz}, imu_fs_hz={imu_fs_hz}")
    t = np.arange(n) / emg_fs_hz
    n_ch = len(channels)

    activation = np.empty((n_ch, n))
    for i, (muscle, side) in enumerate(parsed):
        activation[i] = _REST_ACTIVATION + _sum_fns(script.drive.get((muscle, side), []), t)
    activation = np.clip(activation, 0.0, 1.0)
    mvc = np.array([_MVC_UV[muscle] for muscle, _ in parsed])

    variability = np.exp(_MU_VARIABILITY_CV * _lowpass_noise(rng_mu, (n_ch, n), emg_fs_hz, _MU_VARIABILITY_BAND_HZ)
                         - 0.5 * _MU_VARIABILITY_CV**2)
    amplitude = mvc[:, None] * activation  # true envelope, µV RMS
    clean = amplitude * variability * _shaped_noise(rng_emg, n_ch, n, emg_fs_hz)

    strongest = int(np.argmax(activation.max(axis=1) * mvc))
    a_max = activation[strongest].max()
    if a_max > 2 * _REST_ACTIVATION:
        active = activation[strongest] >= 0.5 * a_max
        ref_rms = float(np.sqrt(np.mean(clean[strongest, active] ** 2)))
    else:
        ref_rms = mvc[strongest] * _REST_SNR_REFERENCE_ACTIVATION
    noise_rms = ref_rms / 10 ** (snr_db / 20.0)
    # The electrode sees the muscle's sEMG through its own gain; the noise floor is the
    # amplifier's and set before it, so a gain changes the side's SNR as it would.
    side_gain = np.array([gains[_SIDES.index(side)] for _, side in parsed])
    clean = clean * side_gain[:, None]
    emg = clean + noise_rms * rng_noise.standard_normal((n_ch, n))

    if mains_hz is not None:
        gain = rng_misc.uniform(0.6, 1.4, (n_ch, 1)) * (1.0 + 0.1 * _lowpass_noise(rng_misc, (1, n), emg_fs_hz, 0.2))
        phase0 = rng_misc.uniform(0, 2 * np.pi)
        for k, rel in _MAINS_HARMONICS.items():
            if k * mains_hz < emg_fs_hz / 2:
                emg += _MAINS_UV * rel * gain * np.sin(2 * np.pi * k * mains_hz * t + k * phase0)
    emg += _BASELINE_WANDER_UV * _lowpass_noise(rng_misc, (n_ch, n), emg_fs_hz, 0.5)
    emg += _motion_artefacts(rng_art, n_ch, t, emg_fs_hz, script.transitions_s, script.artefact_scale)
    ecg = _ecg(rng_misc, t)
    emg += _ECG_UV * rng_misc.uniform(0.5, 1.0, (n_ch, 1)) * ecg[None, :]

    t_imu = np.arange(m) / imu_fs_hz
    imu = _imu(script, t_imu, imu_fs_hz, rng_imu)

    reps = tuple(r for r in script.reps if r.end_s <= total_s)
    phases = tuple(p for p in script.phases if p.end_s <= total_s)
    squeezes = tuple(q for q in script.squeezes
                     if any(p.start_s == q.cue_s and p.name == "squeeze" for p in phases))
    script.reps = list(reps)
    true_si = _true_si(script, t, amplitude, channels)

    def frozen(a):
        a = np.ascontiguousarray(a, dtype=float)
        a.setflags(write=False)
        return a

    return BodySession(
        exercise=exercise,
        seed=int(seed),
        channels=channels,
        emg_fs_hz=emg_fs_hz,
        imu_fs_hz=imu_fs_hz,
        duration_s=float(total_s),
        emg_uV=frozen(emg),
        activation=frozen(activation),
        mvc_uV=frozen(mvc * side_gain),
        noise_rms_uV=float(noise_rms),
        acc_g=frozen(imu["acc_g"]),
        gyro_dps=frozen(imu["gyro_dps"]),
        tilt_deg=frozen(imu["tilt_deg"]),
        obliquity_deg=frozen(imu["obliquity_deg"]),
        rotation_deg=frozen(imu["rotation_deg"]),
        reps=reps,
        phases=phases,
        squeezes=squeezes,
        true_symmetry_index_pct=true_si,
        posture=script.posture,
        sitting=tuple(p for p in script.sitting if p.end_s <= total_s),
    )


# --------------------------------------------------------------------------- long sessions in blocks

BLOCK_S = 30.0
"""Length of the blocks `BodyStream.blocks` yields, s (the last one may be shorter)."""
_FADE_S = 1.0
"""Overlap over which one block's band-limited noise hands over to the next, s."""


@dataclass(frozen=True)
class BodyBlock:
    """One block of a `BodyStream`: the signals at the sensors and their truth.

    Arrays are read-only; EMG ones are ``(n_channels, n)``, IMU ones ``(3, m)`` or ``(m,)``.
    """

    emg_start: int
    """Index of the first EMG sample in the session (its time is ``emg_start / emg_fs_hz``)."""
    emg_uV: np.ndarray
    """Surface EMG at the electrodes, µV."""
    activation: np.ndarray
    """True activation, fraction of MVC."""
    imu_start: int
    """Index of the first IMU sample in the session."""
    acc_g: np.ndarray
    """Accelerometer, g, sensor frame."""
    gyro_dps: np.ndarray
    """Gyroscope, degrees per second, sensor frame."""
    tilt_deg: np.ndarray
    """True sagittal tilt, degrees (as `BodySession.tilt_deg`)."""
    obliquity_deg: np.ndarray
    """True obliquity, degrees (as `BodySession.obliquity_deg`)."""


@dataclass(frozen=True)
class BodyStream:
    """A simulated session generated block by block: the truth up front, the signals on demand.

    The same model as `simulate` (the same script, activation, sEMG spectrum, contaminants
    and IMU), generated in `BLOCK_S` blocks so that memory does not grow with the
    session's length: an eight-hour desk day costs what a minute does. The script and
    so the truth (reps, phases, sitting, activation, true angles) are those `simulate`
    makes with the same arguments. The band-limited
    noises (sEMG, motor-unit variability, baseline wander, mains level) are generated
    per block and cross-faded over `_FADE_S` with power-complementary weights, so they
    stay continuous and stationary across block edges. The noise samples are not those
    of `simulate` (different random draws), but they are the same for the same
    arguments every time.
    """

    exercise: str
    """Exercise script name."""
    seed: int
    """Seed of the random generator."""
    channels: tuple[str, ...]
    """Channel names."""
    emg_fs_hz: float
    """EMG sampling rate, Hz."""
    imu_fs_hz: float
    """IMU sampling rate, Hz."""
    duration_s: float
    """Session length, s."""
    n_emg: int
    """EMG samples in the session."""
    n_imu: int
    """IMU samples in the session."""
    mvc_uV: np.ndarray
    """RMS sEMG at 100 %MVC as each channel's electrodes see it, µV, ``(n_channels,)``."""
    noise_rms_uV: float
    """RMS of the electrode/amplifier noise floor, µV."""
    reps: tuple[Rep, ...]
    """Scripted repetitions."""
    phases: tuple[Phase, ...]
    """Cued phases / protocol steps the body follows."""
    squeezes: tuple[SqueezeTruth, ...]
    """Scripted squeezes of the squeeze test."""
    sitting: tuple[Sitting, ...]
    """Scripted periods seated."""
    posture: str
    """Starting posture."""
    _gen: dict = field(repr=False, compare=False, default_factory=dict)

    def channel_index(self, name: str) -> int:
        """Row of channel ``name`` in the EMG arrays."""
        if name not in self.channels:
            raise ValueError(f"channel {name!r} not in session channels {self.channels}")
        return self.channels.index(name)

    def blocks(self):
        """The session's blocks in time order (a generator; each call starts again).

        Yields
        ------
        BodyBlock
        """
        g = self._gen
        script: _Script = g["script"]
        fs, ifs = self.emg_fs_hz, self.imu_fs_hz
        n_ch = len(self.channels)
        block_n = int(round(BLOCK_S * fs))
        fade_n = int(round(_FADE_S * fs))
        n_blocks = -(-self.n_emg // block_n)
        faded = {name: _Crossfade(fade_n) for name in ("shape", "mu", "wander", "mains")}
        mvc = np.array([_MVC_UV[m] for m, _ in g["parsed"]])
        side_gain = np.array([g["gains"][_SIDES.index(side)] for _, side in g["parsed"]])
        for k in range(n_blocks):
            a, b = k * block_n, min(self.n_emg, (k + 1) * block_n)
            n = b - a
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0xB10C, k)))
            t = (a + np.arange(n)) / fs
            activation = np.empty((n_ch, n))
            for i, key in enumerate(g["parsed"]):
                activation[i] = _REST_ACTIVATION + _sum_fns(script.drive.get(key, []), t)
            activation = np.clip(activation, 0.0, 1.0)
            # Band-limited noises over the block and the fade into the next one.
            span = n + fade_n
            shape = faded["shape"].take(_shaped_noise(rng, n_ch, span, fs), n)
            mu = faded["mu"].take(_lowpass_noise(rng, (n_ch, span), fs, _MU_VARIABILITY_BAND_HZ), n)
            variability = np.exp(_MU_VARIABILITY_CV * mu - 0.5 * _MU_VARIABILITY_CV**2)
            emg = (mvc * side_gain)[:, None] * activation * variability * shape
            emg += self.noise_rms_uV * rng.standard_normal((n_ch, n))
            if g["mains_hz"] is not None:
                level = g["mains_gain"] * (1.0 + 0.1 * faded["mains"].take(_lowpass_noise(rng, (1, span), fs, 0.2), n))
                for h, rel in _MAINS_HARMONICS.items():
                    if h * g["mains_hz"] < fs / 2:
                        emg += _MAINS_UV * rel * level * np.sin(2 * np.pi * h * g["mains_hz"] * t + h * g["mains_phase"])
            emg += _BASELINE_WANDER_UV * faded["wander"].take(_lowpass_noise(rng, (n_ch, span), fs, 0.5), n)
            emg += self._artefacts(t, n_ch)
            emg += g["ecg_gain"] * _ecg_beats(g["beats"], t)[None, :]
            # IMU samples whose times fall in this block.
            ia, ib = int(np.ceil(a * ifs / fs - 1e-9)), int(np.ceil(b * ifs / fs - 1e-9))
            if k == n_blocks - 1:
                ib = self.n_imu
            imu = self._imu_block(ia, ib, rng)
            yield BodyBlock(a, _frozen(emg), _frozen(activation), ia, *imu)

    def _artefacts(self, t: np.ndarray, n_ch: int) -> np.ndarray:
        """Motion artefacts of the transitions that overlap ``t``; each drawn from its own seed."""
        fs = self.emg_fs_hz
        script: _Script = self._gen["script"]
        out = np.zeros((n_ch, t.size))
        n_burst = int(round(_MOTION_ARTEFACT_S * fs * 2))
        a0 = int(round(t[0] * fs))
        for j, (t0, scale) in enumerate(zip(script.transitions_s, script.artefact_scale)):
            k0 = int(round(t0 * fs)) - n_burst // 4
            lo, hi = max(k0, a0), min(k0 + n_burst, a0 + t.size)
            if lo >= hi:
                continue
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0xA27, j)))
            burst = _lowpass_noise(rng, (n_ch, n_burst), fs, 12.0) * np.hanning(n_burst)
            gain = _MOTION_ARTEFACT_UV * scale * rng.uniform(0.5, 1.2, (n_ch, 1))
            out[:, lo - a0:hi - a0] += gain * burst[:, lo - k0:hi - k0]
        return out

    def _imu_block(self, ia: int, ib: int, rng):
        """IMU samples [ia, ib) with one sample either side for the derivatives."""
        ifs = self.imu_fs_hz
        script: _Script = self._gen["script"]
        m = ib - ia
        if m <= 0:
            empty = np.zeros((3, 0))
            return _frozen(empty), _frozen(empty), _frozen(np.zeros(0)), _frozen(np.zeros(0))
        tt = (ia - 1 + np.arange(m + 2)) / ifs
        rot = _orientation(script, tt)
        r = Rotation.from_matrix(rot)
        omega = (r[:-2].inv() * r[2:]).as_rotvec() * ifs / 2.0  # (m, 3), sensor frame
        lift, shift = _sum_fns(script.lift_m, tt), _sum_fns(script.shift_m, tt)
        acc_world = np.zeros((m, 3))
        acc_world[:, 2] = (lift[2:] - 2 * lift[1:-1] + lift[:-2]) * ifs**2 / 9.80665
        acc_world[:, 1] = (shift[2:] - 2 * shift[1:-1] + shift[:-2]) * ifs**2 / 9.80665
        specific = acc_world + np.array([0.0, 0.0, 1.0])
        acc = np.einsum("nji,nj->in", rot[1:-1], specific) + _ACC_NOISE_G * rng.standard_normal((3, m))
        gyro = np.rad2deg(omega.T) + self._gen["gyro_bias"] + _GYRO_NOISE_DPS * rng.standard_normal((3, m))
        t = tt[1:-1]
        return _frozen(acc), _frozen(gyro), _frozen(_sum_fns(script.tilt, t)), _frozen(_sum_fns(script.drop, t))


class _Crossfade:
    """Hands a block's band-limited noise over to the next block's over ``fade_n`` samples."""

    def __init__(self, fade_n: int) -> None:
        self.fade_n = fade_n
        self.tail = None
        u = (np.arange(fade_n) + 0.5) / max(fade_n, 1)
        self.w_in, self.w_out = np.sin(0.5 * np.pi * u), np.cos(0.5 * np.pi * u)

    def take(self, x: np.ndarray, n: int) -> np.ndarray:
        """The first ``n`` samples of ``x`` (n + fade_n long), faded in from the last tail."""
        out = x[..., :n].copy()
        f = min(self.fade_n, n)
        if self.tail is not None and f:
            out[..., :f] = self.w_out[:f] * self.tail[..., :f] + self.w_in[:f] * out[..., :f]
        self.tail = x[..., n:n + self.fade_n]
        return out


def _frozen(a) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=float)
    a.setflags(write=False)
    return a


def _ecg_beats(beats: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The ECG of the beats at ``beats`` (s) over the sample times ``t`` (unit R peak) [6]."""
    out = np.zeros_like(t)
    if t.size < 2:
        return out
    fs = 1.0 / (t[1] - t[0])
    near = beats[(beats > t[0] - 0.5) & (beats < t[-1] + 0.5)]
    waves = ((-0.025, 0.008, -0.12), (0.0, 0.010, 1.0), (0.025, 0.010, -0.3), (0.25, 0.05, 0.25))
    half = int(0.5 * fs)
    for beat in near:
        k0 = int(round((beat - t[0]) * fs))
        lo, hi = max(k0 - half, 0), min(k0 + half, t.size)
        if lo >= hi:
            continue
        tt = t[lo:hi] - beat
        for off, w, amp in waves:
            out[lo:hi] += amp * np.exp(-0.5 * ((tt - off) / w) ** 2)
    return out


def simulate_blocks(
    exercise: str,
    *,
    emg_fs_hz: float = 2000.0,
    imu_fs_hz: float = 104.0,
    channels: tuple[str, ...] = ("glute_max_left", "glute_max_right"),
    seed: int = 0,
    mains_hz: float | None = 50.0,
    snr_db: float = 20.0,
    left_scale: float = 0.7,
    weaker_side: str = "left",
    duration_s: float | None = None,
    electrode_gain: tuple[float, float] = (1.0, 1.0),
    sitting_s: tuple[float, ...] = (30.0,),
) -> BodyStream:
    """A session of one exercise as `simulate` makes it, generated block by block.

    For long sessions (the desk scenario over hours): the truth is computed at once, the
    signals block by block when `BodyStream.blocks` is iterated, so memory stays that of
    one `BLOCK_S` block whatever the length.

    Parameters
    ----------
    exercise, emg_fs_hz, imu_fs_hz, channels, seed, mains_hz, snr_db, left_scale, weaker_side, duration_s, \
electrode_gain, sitting_s
        As in `simulate`.

    Returns
    -------
    BodyStream

    Notes
    -----
    ``snr_db`` sets the noise floor against the expected RMS of the strongest channel's
    sEMG where its activation is above half its maximum,
    ``mvc * sqrt(mean(a^2)) * exp(cv^2 / 2)`` (the motor-unit factor's second moment),
    evaluated on a 50 Hz grid of the script; `simulate` measures the same RMS on its
    samples.
    """
    (exercise, emg_fs_hz, imu_fs_hz, channels, parsed, mains_hz, snr_db, left_scale, weaker_side, duration_s,
     gains, sitting_s) = _validated(exercise, emg_fs_hz, imu_fs_hz, channels, mains_hz, snr_db, left_scale,
                                    weaker_side, duration_s, electrode_gain, sitting_s)
    # The script draws from the same stream as `simulate`'s, so the truth is the same.
    rng_script = np.random.default_rng(np.random.SeedSequence(seed).spawn(7)[0])
    rng_misc = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5EED,)))
    script = _build_script(exercise, left_scale, weaker_side, rng_script, sitting_s)
    total_s = duration_s if duration_s is not None else script.duration_s
    n, m = int(round(total_s * emg_fs_hz)), int(round(total_s * imu_fs_hz))
    if n < 2 or m < 2:
        raise ValueError(f"duration_s {total_s} s is too short for emg_fs_hz={emg_fs_hz}, imu_fs_hz={imu_fs_hz}")
    mvc = np.array([_MVC_UV[muscle] for muscle, _ in parsed])
    # The SNR reference from the activation on a coarse grid, block by block (two passes).
    grid_hz = 50.0
    peaks = np.zeros(len(parsed))
    for t in _grid_blocks(total_s, grid_hz):
        for i, key in enumerate(parsed):
            peaks[i] = max(peaks[i], float(np.max(_REST_ACTIVATION + _sum_fns(script.drive.get(key, []), t))))
    peaks = np.clip(peaks, 0.0, 1.0)
    strongest = int(np.argmax(peaks * mvc))
    if peaks[strongest] > 2 * _REST_ACTIVATION:
        sq, count = 0.0, 0
        for t in _grid_blocks(total_s, grid_hz):
            act = np.clip(_REST_ACTIVATION + _sum_fns(script.drive.get(parsed[strongest], []), t), 0.0, 1.0)
            above = act[act >= 0.5 * peaks[strongest]]
            sq, count = sq + float(np.sum(above**2)), count + above.size
        ref_rms = mvc[strongest] * np.sqrt(sq / max(count, 1)) * np.exp(0.5 * _MU_VARIABILITY_CV**2)
    else:
        ref_rms = mvc[strongest] * _REST_SNR_REFERENCE_ACTIVATION
    noise_rms = float(ref_rms / 10 ** (snr_db / 20.0))
    beats, tb = [], rng_misc.uniform(0.1, 0.9)
    while tb < total_s + 1.0:
        beats.append(tb)
        tb += (1.0 / _HEART_RATE_HZ) * (1.0 + 0.05 * rng_misc.standard_normal())
    n_ch = len(parsed)
    gen = {"script": script, "parsed": parsed, "gains": gains, "mains_hz": mains_hz,
           "mains_gain": rng_misc.uniform(0.6, 1.4, (n_ch, 1)), "mains_phase": float(rng_misc.uniform(0, 2 * np.pi)),
           "ecg_gain": _ECG_UV * rng_misc.uniform(0.5, 1.0, (n_ch, 1)), "beats": np.asarray(beats),
           "gyro_bias": _GYRO_BIAS_SD_DPS * rng_misc.standard_normal((3, 1))}
    reps = tuple(r for r in script.reps if r.end_s <= total_s)
    phases = tuple(p for p in script.phases if p.end_s <= total_s)
    squeezes = tuple(q for q in script.squeezes
                     if any(p.start_s == q.cue_s and p.name == "squeeze" for p in phases))
    side_gain = np.array([gains[_SIDES.index(side)] for _, side in parsed])
    return BodyStream(exercise=exercise, seed=int(seed), channels=channels, emg_fs_hz=emg_fs_hz, imu_fs_hz=imu_fs_hz,
                      duration_s=float(total_s), n_emg=n, n_imu=m, mvc_uV=_frozen(mvc * side_gain),
                      noise_rms_uV=noise_rms, reps=reps, phases=phases, squeezes=squeezes,
                      sitting=tuple(p for p in script.sitting if p.end_s <= total_s), posture=script.posture, _gen=gen)


def _grid_blocks(total_s: float, grid_hz: float, block_s: float = 3600.0):
    """Times of a ``grid_hz`` grid over [0, total_s), an hour at a time."""
    n = int(total_s * grid_hz)
    step = int(block_s * grid_hz)
    for a in range(0, n, step):
        yield np.arange(a, min(n, a + step)) / grid_hz


# --------------------------------------------------------------------------- onset trials


@dataclass(frozen=True)
class BurstTrial:
    """One synthetic burst for onset-detection benchmarks: noise, then a burst at a known time."""

    emg_uV: np.ndarray
    """Signal, µV, ``(1, n_samples)`` (read-only)."""
    fs_hz: float
    """Sampling rate, Hz."""
    onset_s: float
    """True burst start (where its amplitude starts to rise), s."""
    offset_s: float
    """True burst end (where its amplitude drops back to 0), s."""
    snr_db: float
    """10 log10 of the burst's power over the background noise power."""
    rise_s: float
    """Duration of the linear amplitude rise (0: a step), s."""
    noise_rms_uV: float
    """RMS of the background noise, µV."""


def burst_trial(seed: int, snr_db: float, *, fs_hz: float = 2000.0, rise_s: float = 0.0,
                noise_rms_uV: float = 5.0, duration_s: float = 3.0, onset_range_s=(1.5, 2.0),
                burst_range_s=(0.5, 0.8)) -> BurstTrial:
    """A burst of sEMG in background noise with a known onset, as in the onset literature.

    Background and burst are independent Gaussian processes with the same sEMG (Shwedyk)
    spectrum [2], so the band-pass cannot separate them and the SNR is the same before
    and after conditioning. The burst's amplitude rises linearly over ``rise_s`` (a step
    when 0) from a start drawn uniformly in ``onset_range_s``, and lasts a duration drawn
    in ``burst_range_s``. The protocol follows Staude et al. 2001 (steps in Gaussian
    noise at known SNRs, many seeded trials) and Solnik et al. 2010 (SNR as burst over
    background power).

    Parameters
    ----------
    seed : int
        Seed; the same arguments give the same trial.
    snr_db : float
        10 log10(burst power / background power), dB.
    fs_hz : float
        Sampling rate, Hz.
    rise_s : float
        Duration of the amplitude rise, s (>= 0).
    noise_rms_uV : float
        Background RMS, µV.
    duration_s : float
        Trial length, s.
    onset_range_s, burst_range_s : (float, float)
        Ranges of the onset time and of the burst duration, s; the burst must end
        within the trial.

    Returns
    -------
    BurstTrial

    References
    ----------
    .. [7] Staude G, Flachenecker C, Daumer M, Wolf W. Onset detection in surface
       electromyographic signals: a systematic comparison of methods. EURASIP J Appl
       Signal Process 2001(2):67-81, 2001.
    .. [8] Solnik S, Rider P, Steinweg K, DeVita P, Hortobagyi T. Teager-Kaiser energy
       operator signal conditioning improves EMG onset detection. Eur J Appl Physiol
       110(3):489-498, 2010.
    """
    fs_hz = _check_positive("fs_hz", fs_hz, " (Hz)")
    noise_rms_uV = _check_positive("noise_rms_uV", noise_rms_uV, " (µV)")
    duration_s = _check_positive("duration_s", duration_s, " (s)")
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite; got {snr_db!r}")
    if not (np.isfinite(rise_s) and rise_s >= 0):
        raise ValueError(f"rise_s must be >= 0 s; got {rise_s!r}")
    lo, hi = (float(v) for v in onset_range_s)
    blo, bhi = (float(v) for v in burst_range_s)
    if not (0 <= lo <= hi and 0 < blo <= bhi and hi + bhi <= duration_s):
        raise ValueError(f"onset_range_s {onset_range_s!r} and burst_range_s {burst_range_s!r} must be "
                         f"ordered ranges with bursts ending within duration_s ({duration_s:g} s)")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x0B5]))
    n = int(round(duration_s * fs_hz))
    onset = float(rng.uniform(lo, hi))
    offset = onset + float(rng.uniform(blo, bhi))
    t = np.arange(n) / fs_hz
    if rise_s > 0:
        amp = np.clip((t - onset) / rise_s, 0.0, 1.0)
    else:
        amp = (t >= onset).astype(float)
    amp[t >= offset] = 0.0
    shaped = _shaped_noise(rng, 2, n, fs_hz)
    # Each trial has exactly the asked SNR: the burst process has unit power within the burst.
    inside = (t >= onset) & (t < offset)
    burst = shaped[1] / np.sqrt(np.mean(shaped[1, inside] ** 2))
    burst_rms = noise_rms_uV * 10 ** (snr_db / 20.0)
    x = noise_rms_uV * shaped[0] + burst_rms * amp * burst
    x = np.ascontiguousarray(x[None, :])
    x.setflags(write=False)
    return BurstTrial(x, fs_hz, onset, offset, float(snr_db), float(rise_s), noise_rms_uV)
