"""Recordings for the export and report tests: a virtual demo session, and a copy of it
with known stretches of EMG and IMU frames left out (gaps)."""
from __future__ import annotations

import io
from pathlib import Path

from glutescope import protocol
from glutescope.cli import Environment, main
from glutescope.recording import RecordingReader, RecordingWriter, load

SUBJECT = "P-0421"
EMG_SKIP = (20_000, 20_400)  # EMG samples whose frames are left out of the gap copy
IMU_SKIP = (1_000, 1_020)  # IMU samples likewise


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ={"QT_QPA_PLATFORM": "offscreen"})
    status = main([str(a) for a in argv], env)
    return status, out.getvalue(), err.getvalue()


def record_demo(path: Path, duration_s: float = 56.0, imu_mount: str = "upright") -> Path:
    """The virtual wearable's demo (bridges, then the squeeze test), seed 0."""
    status, out, err = run_cli("record", path, "--duration", duration_s, "--speed", 8, "--exercise", "demo",
                               "--subject", SUBJECT, "--seed", 0, "--imu-mount", imu_mount)
    assert status == 0, err
    return path


def copy_with_gaps(src: Path, dst: Path) -> Path:
    """``src`` rewritten frame by frame, without the EMG and IMU frames that start inside
    `EMG_SKIP` and `IMU_SKIP`: the gaps a lossy link leaves."""
    rec = load(src)
    meta = rec.meta
    with RecordingWriter(dst, subject=meta["subject"],
                         channel_map={int(k): v for k, v in meta["channel_map"].items()}) as w:
        for r in RecordingReader(src):
            if not r.host_to_device:
                frame = protocol.decode_frame(r.frame)
                if isinstance(frame, protocol.EmgBlock) and EMG_SKIP[0] <= frame.first_sample < EMG_SKIP[1]:
                    continue
                if isinstance(frame, protocol.ImuBlock) and IMU_SKIP[0] <= frame.first_sample < IMU_SKIP[1]:
                    continue
            w.append(r.frame, r.t_host_ns, source=r.source, host_to_device=r.host_to_device)
        w.set_device_info(rec.device_info)
    return dst
