"""``glutescope info``: what a recording holds, and whether it needs ``recover``.

Everything is derived from the frames log by the same decoder and stream assembly
the live host uses, so the counts (samples, exact gaps, corrupt and lost frames) are
the ones a replay or an export will see. Losses are told apart by where they happened
(`glutescope.damage`): damage of the file on disk (bytes failing their CRC, a torn or
truncated log, at their byte offsets) and losses on the link (frames that never
arrived or arrived corrupt, samples backfilled).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from glutescope.commands.files import open_recording
from glutescope.commands.streams import StreamSummary, stream_lines, stream_summary
from glutescope.exitcodes import ExitStatus

def describe(rec) -> dict:
    """Everything ``info`` reports about a loaded `glutescope.recording.Recording`, JSON-ready."""
    info = rec.device_info
    meta = rec.meta
    emg = stream_summary(rec.emg, info.emg_fs_hz if info else None)
    imu = stream_summary(rec.imu, info.imu_fs_hz if info else None)
    from glutescope.damage import inspect_damage

    damage = inspect_damage(rec)
    reasons = []
    if not meta:
        reasons.append("meta.json is missing")
    elif not meta.get("closed"):
        reasons.append("it was not closed (its writer stopped without closing it)")
    if rec.torn_tail_bytes:
        reasons.append(f"{rec.torn_tail_bytes} bytes of torn tail after the last good record "
                       f"(byte {rec.log_bytes - rec.torn_tail_bytes})")
    cmap = meta.get("channel_map") or {}
    inputs = [i for i in range(8) if info.channel_mask >> i & 1] if info else sorted(int(k) for k in cmap)
    return {
        "path": str(rec.path),
        "device": None if info is None else {
            "name": info.name,
            "firmware": ".".join(str(v) for v in info.fw_version),
            "protocol_version": info.protocol_version,
            "emg_fs_hz": info.emg_fs_hz,
            "imu_fs_hz": info.imu_fs_hz,
            "channel_mask": info.channel_mask,
            "emg_gain": info.emg_gain,
            "vref_mV": info.vref_mV,
        },
        "subject": meta.get("subject"),
        "start_time": meta.get("start_time"),
        "end_time": meta.get("end_time"),
        "channels": [{"adc_input": i, "name": cmap.get(str(i))} for i in inputs],
        "duration_s": emg.duration_s,
        "emg": _stream_dict(emg),
        "imu": _stream_dict(imu),
        "records": rec.n_records,
        "corrupt_records": rec.n_corrupt_records,
        "corrupt_frames": rec.n_corrupt_frames,
        "lost_frames": rec.n_seq_skips,
        "torn_tail_bytes": rec.torn_tail_bytes,
        "damage": damage.to_dict(),
        "events": [{"code": e.code, "emg_sample": e.emg_sample} for e in rec.events],
        "markers": list(rec.markers),
        "closed": bool(meta.get("closed")),
        "recovered": meta.get("recovered"),
        "needs_recover": bool(reasons),
        "recover_reasons": reasons,
    }


def _stream_dict(s: StreamSummary) -> dict:
    d = asdict(s)
    d["n_received"] = s.n_received
    d["duration_s"] = s.duration_s
    return d


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", type=Path, metavar="REC.glutes", help="the recording to describe")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace, env) -> ExitStatus:
    rec = open_recording(args.recording, samples=False)
    d = describe(rec)
    if args.json:
        print(json.dumps(d, indent=2, ensure_ascii=False), file=env.stdout)
        return ExitStatus.OK
    info = rec.device_info
    emg = stream_summary(rec.emg, info.emg_fs_hz if info else None)
    imu = stream_summary(rec.imu, info.imu_fs_hz if info else None)
    out = []
    out.append(f"{'recording':<10} {rec.path}")
    if d["device"] is None:
        out.append(f"{'device':<10} unknown (no INFO frame in the recording)")
    else:
        dev = d["device"]
        out.append(f"{'device':<10} {dev['name']}, firmware {dev['firmware']}, protocol v{dev['protocol_version']}")
    out.append(f"{'subject':<10} {d['subject'] or '(none given)'}")
    out.append(f"{'started':<10} {d['start_time'] or 'unknown'}")
    out.append(f"{'ended':<10} {d['end_time'] or 'unknown'}")
    chans = ", ".join(f"ADC{c['adc_input']} {c['name'] or '?'}" for c in d["channels"]) or "none"
    out.append(f"{'channels':<10} {chans}")
    dur = f"{d['duration_s']:.3f} s of EMG" if d["duration_s"] is not None else "unknown"
    out.append(f"{'duration':<10} {dur}")
    out += stream_lines("EMG", emg)
    out += stream_lines("IMU", imu, unit_channels="axis")
    from glutescope.damage import inspect_damage

    damage = inspect_damage(rec)
    out.append(f"{'frames':<10} {rec.n_records} records in {rec.log_bytes} bytes of frames.log")
    out.append(f"{'on disk':<10} damage: {damage.disk_summary()}")
    out.append(f"{'on link':<10} {damage.link_summary()}")
    events = ", ".join(f"code {e.code} at sample {e.emg_sample}" for e in rec.events) or "none"
    out.append(f"{'events':<10} {events}")
    markers = ", ".join(f"{m.get('label')} at {m.get('time')}" for m in rec.markers) or "none"
    out.append(f"{'markers':<10} {markers}")
    if d["needs_recover"]:
        out.append(f"{'state':<10} needs `glutescope recover {rec.path}`: " + "; ".join(d["recover_reasons"]))
        if damage.damaged and any(x.kind in ("crc", "truncated") for x in damage.disk):
            out.append(f"{'':<10} and is damaged on disk beyond what recover mends (export and report refuse it "
                       "without --allow-damaged)")
    elif damage.damaged:
        closed = "closed by its writer" if d["closed"] else "not closed"
        out.append(f"{'state':<10} DAMAGED on disk ({closed}): the damaged bytes are skipped and their frames "
                   "lost; export and report refuse it without --allow-damaged")
    else:
        recovered = " (repaired by recover)" if d["recovered"] else ""
        out.append(f"{'state':<10} closed cleanly{recovered}")
    print("\n".join(out), file=env.stdout)
    return ExitStatus.OK
