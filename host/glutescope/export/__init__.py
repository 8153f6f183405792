"""Exports of a recording: EDF+, C3D and CSV, from the recording and its live analysis.

Every export holds one segment (one START) of a recording: segment 0 in the file named,
later segments (after a restart of the wearable) beside it with ``-seg<k>`` before the
suffix.

One time base in all three: t = 0 is the segment's first EMG sample, and an event
(rep, cue, gap) is at the same number of seconds in the EDF+ annotations, the C3D
events and the CSV files. EDF+ carries the sub-second part of that first sample's
wall-clock time in the first data record's time-keeping annotation (EDF+ spec, 2.2.4:
"+0.528"), so nothing is padded in front of the signals; only the end is filled to
whole data records.

How each format shows what the recording does not hold (gaps, samples the ADC
flagged): EDF+ has no "missing" value, so those samples hold 0 (filler) and an
annotation starting ``BAD_`` covers each run exactly (MNE's convention: annotations
starting "BAD" are rejected by epoching and most analyses); C3D analog data is stored
as floats, so they hold NaN and an event marks each run's start; CSV holds NaN, and
``gaps.csv`` lists the runs. The IMU starts a few ms apart from the EMG on the
wearable's clock: CSV gives each stream its exact times; EDF+ and C3D place the IMU
on the EMG's timeline to the nearest IMU sample.

The IMU is exported in body axes (x forward, y left, z up standing), turned from the
sensor's own axes by the mount the recording names (`glutescope.mounting`), and every
label says so ("Acc X body"); the raw sensor axes stay in the recording.

One module per format (`edf`, `c3d`, `csvfiles`) over what they share (`common`), and
the two file writers that stream (`edfplus`, `c3dfile`).

Event labels: EDF+ and CSV hold each annotation's whole text. C3D labels are by
convention short (c3d.org, "The EVENT group": labels are typically up to 32 characters
and the longer text belongs in ``EVENT:DESCRIPTIONS``; a character parameter's
dimension is one byte, so at most 255): the label is a short name ("rep 3",
"BAD_gap EMG"), the description is the whole text and the context says the side
("Left", "Right", "General").
"""
from glutescope.export.c3d import export_c3d
from glutescope.export.common import (C3D_LABEL_CHARS, C3D_POINT_RATE_HZ, CSV_IMU_COLUMNS, EDF_RECORD_S, FORMATS,
                                     PELVIS_RANGE_DEG, Annotation, Progress, edf_label, imu_frame, imu_labels,
                                     imu_offset_s, imu_times_s, segment_path, session_annotations, start_datetime)
from glutescope.export.csvfiles import export_csv
from glutescope.export.edf import export_edf

__all__ = ["FORMATS", "Annotation", "Progress", "session_annotations", "imu_offset_s", "imu_times_s",
           "segment_path", "start_datetime", "export_edf", "export_c3d", "export_csv", "edf_label", "imu_labels",
           "imu_frame", "C3D_LABEL_CHARS", "C3D_POINT_RATE_HZ", "CSV_IMU_COLUMNS", "EDF_RECORD_S", "PELVIS_RANGE_DEG"]
