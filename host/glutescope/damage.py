"""Whether a recording is damaged, and where: in its file (on disk) or on the radio link.

Two kinds of loss look alike in the assembled streams (samples missing) and must not
be confused:

- **on disk**: bytes of ``frames.log`` that fail their record's CRC-32 (a bit flip, a
  bad sector), a torn last record (the writer died mid-write), or a log shorter than
  its writer wrote when it closed it (``meta.json``'s ``frames_log_bytes``: truncated
  by a copy or a full disk). The frames in those bytes were received and are lost
  now: the file is damaged, and a file made from it says less than was recorded.
- **on the link**: frames the wearable sent that never arrived (sequence numbers
  skipped), frames that arrived corrupted, and samples resent after a dropout
  (backfilled). The file holds exactly what arrived: it is not damaged, and every
  export marks the gaps.

`is_damaged` is the check ``export`` and ``report`` make before they write anything;
`inspect_damage` says where, for ``info``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, TextIO

from glutescope.exitcodes import CliError, ExitStatus

__all__ = ["DiskDamage", "DamageReport", "inspect_damage", "is_damaged", "check_not_damaged"]


@dataclass(frozen=True)
class DiskDamage:
    """One stretch of ``frames.log`` that cannot be read as written."""

    kind: str
    """"crc" (bytes failing their record's CRC), "torn_tail" (an incomplete last
    record), "truncated" (the log ends before what its writer wrote) or "no_meta"
    (``meta.json`` is missing)."""
    offset: int
    """Byte offset in ``frames.log`` where it starts."""
    n_bytes: int
    """Its length in bytes (for "truncated", the bytes missing)."""

    def describe(self) -> str:
        """One phrase: what and where."""
        if self.kind == "crc":
            return f"{self.n_bytes} bytes failing their CRC at byte {self.offset} of frames.log"
        if self.kind == "torn_tail":
            return f"a torn last record of {self.n_bytes} bytes at byte {self.offset} of frames.log"
        if self.kind == "truncated":
            return (f"frames.log truncated: it ends at byte {self.offset}, {self.n_bytes} bytes short of "
                    f"the {self.offset + self.n_bytes} its writer wrote")
        return "meta.json is missing"


@dataclass(frozen=True)
class DamageReport:
    """Where a recording lost frames: on disk (`disk`) and on the link."""

    disk: tuple[DiskDamage, ...]
    """Damage of the file, in offset order."""
    frames_lost_on_disk: int
    """Frames missing right after a damaged stretch (their sequence numbers skipped there)."""
    frames_lost_on_link: int
    """Frames the wearable sent that never arrived (sequence numbers skipped elsewhere)."""
    corrupt_frames: int
    """Frames recorded intact as they arrived, that do not decode (corrupted before the host)."""
    samples_backfilled: int
    """EMG samples (per channel) resent by the wearable after a dropout and recorded."""

    @property
    def damaged(self) -> bool:
        """True when the file itself is damaged."""
        return bool(self.disk)

    def disk_summary(self) -> str:
        """One line on the file's damage ("none" when there is none)."""
        if not self.disk:
            return "none"
        parts = [d.describe() for d in self.disk[:3]]
        if len(self.disk) > 3:
            parts.append(f"{len(self.disk) - 3} more damaged stretches")
        n = self.frames_lost_on_disk
        lost = f"; {n} frame{'' if n == 1 else 's'} lost there" if n else ""
        return "; ".join(parts) + lost

    def link_summary(self) -> str:
        """One line on what the link lost or resent."""
        return (f"{self.frames_lost_on_link} frames lost, {self.corrupt_frames} arrived corrupt, "
                f"{self.samples_backfilled} samples backfilled after dropouts")

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {
            "damaged_on_disk": self.damaged,
            "disk": [{"kind": d.kind, "offset": d.offset, "n_bytes": d.n_bytes, "what": d.describe()}
                     for d in self.disk],
            "frames_lost_on_disk": self.frames_lost_on_disk,
            "frames_lost_on_link": self.frames_lost_on_link,
            "corrupt_frames": self.corrupt_frames,
            "samples_backfilled": self.samples_backfilled,
        }


def inspect_damage(rec) -> DamageReport:
    """Where a loaded `glutescope.recording.Recording` lost frames (no second read of the log)."""
    disk = [DiskDamage("crc", off, n) for off, n in rec.damaged_stretches]
    meta = rec.meta or {}
    if not meta:
        disk.insert(0, DiskDamage("no_meta", 0, 0))
    valid_end = rec.log_bytes - rec.torn_tail_bytes
    if rec.torn_tail_bytes:
        disk.append(DiskDamage("torn_tail", valid_end, rec.torn_tail_bytes))
    written = meta.get("frames_log_bytes")
    if isinstance(written, int) and written > rec.log_bytes:
        disk.append(DiskDamage("truncated", rec.log_bytes, written - rec.log_bytes))
    at_damage = getattr(rec, "n_seq_skips_at_damage", 0)
    return DamageReport(
        disk=tuple(disk),
        frames_lost_on_disk=at_damage,
        frames_lost_on_link=rec.n_seq_skips - at_damage,
        corrupt_frames=rec.n_corrupt_frames,
        samples_backfilled=sum(getattr(s, "n_backfilled", 0) for s in rec.emg),
    )


def is_damaged(rec) -> bool:
    """True when a loaded recording's file is damaged (`DamageReport.damaged`): what
    ``export`` and ``report`` refuse to turn into a file without ``--allow-damaged``."""
    return inspect_damage(rec).damaged


def check_not_damaged(rec, *, allow: bool, action: str, stderr: Optional[TextIO] = None,
                      can_allow: bool = True) -> Optional[DamageReport]:
    """Refuse a damaged recording with one line and `ExitStatus.DAMAGED`, unless ``allow``.

    Parameters
    ----------
    rec : Recording
        The loaded recording.
    allow : bool
        ``--allow-damaged`` was given: warn on ``stderr`` and go on.
    action : str
        What the command would make of it, for the message ("export", "report on").
    stderr : file, optional
        Where the warning goes when ``allow``.
    can_allow : bool
        The command offers ``--allow-damaged`` (the refusal says so).

    Returns
    -------
    DamageReport or None
        The damage when the command goes on with a damaged recording, else None.

    Raises
    ------
    CliError
        The recording is damaged and ``allow`` is False.
    """
    report = inspect_damage(rec)
    if not report.damaged:
        return None
    where = f"{rec.path} is damaged on disk: {report.disk_summary()}"
    if not allow:
        how = f"pass --allow-damaged to {action} what is readable" if can_allow else "recover cannot mend it"
        raise CliError(f"{where}; nothing written (`glutescope info {rec.path}` says more; {how})",
                       ExitStatus.DAMAGED)
    if stderr is not None:
        print(f"glutescope: warning: {where}; going on with what is readable (--allow-damaged)", file=stderr)
    return report
