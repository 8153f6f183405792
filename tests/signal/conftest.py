"""Shared fixtures of the signal-core tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Vendored with its licence (tests/data/real-emg/LICENSE-musclesyneRgies.md), so a
# fresh clone runs the real-recording tests instead of skipping them.
REAL_EMG_DIR = REPO_ROOT / "tests" / "data" / "real-emg"


@pytest.fixture(scope="session")
def real_walking_emg():
    """The real treadmill-walking sEMG (1 kHz) and its gait events."""
    emg_path = REAL_EMG_DIR / "walking_13muscles_1khz.csv"
    cycles_path = REAL_EMG_DIR / "walking_13muscles_gait_cycles.csv"
    with emg_path.open() as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(emg_path, delimiter=",", skiprows=1)
    cycles = np.loadtxt(cycles_path, delimiter=",", skiprows=1, ndmin=2)
    columns = {name: data[:, i] for i, name in enumerate(header)}
    return {"columns": columns, "fs_hz": 1000.0, "touchdown_s": cycles[:, 0], "liftoff_s": cycles[:, 1]}
