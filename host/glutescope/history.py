"""Session history: the recordings of each pseudonym with their results, in an SQLite cache.

A physiotherapist judges progress between visits, so the sessions of one person are
read together: per session and exercise the symmetry index (SI) with its rep-to-rep
interval, the weaker side, %MVC where calibrated, the squeeze scores and the fatigue
trend. Every figure is the one `glutescope.analysis` computes (the live pipeline run
over the recording), never a second scoring path.

The database is a cache (DESIGN principle 11, "derived stores can always be rebuilt"):
each row remembers the size and modification time of the files it was computed from
and the glutescope version that computed it, and is recomputed when either changed;
`History.index` with ``rebuild=True`` recomputes every row. Nothing exists only in it.
It is created 0600 like the recordings it indexes (`glutescope.private`).

Smallest detectable change
--------------------------
"Better" is only called when a change is larger than the measurement's own noise.
The noise is estimated from the person's repeat sessions of one exercise: a matrix of
sessions (rows) by reps (columns: rep 1..m of each session, m the smallest rep count)
gives the intraclass correlations ICC(3,1) (consistency) and ICC(2,1) (absolute
agreement) of the two-way model (Shrout & Fleiss 1979; McGraw & Wong 1996), then

    SEM = SD x sqrt(1 - ICC(2,1))          (Weir 2005, eq. 6; SD of all the scores)
    SDC95 = 1.96 x sqrt(2) x SEM           (Weir 2005; de Vet et al. 2006: the MDC95)

The total variance is the between-session variance plus the rep-to-rep error, so
``SD^2 (1 - ICC)`` is that error whether or not the person changed between sessions:
the SEM is the error of one rep's SI. A session's SI is the mean of its reps, and its
rep-to-rep error alone would be smaller by sqrt(n); but re-placing the electrodes from
one day to the next adds an error that one person's sessions cannot separate from a
true change, so the single-rep SDC is used unchanged, on the safe side. Below
`MIN_SESSIONS` sessions of `MIN_REPS` reps there is no estimate, and no "better".

References
----------
Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 86(2):420-428, 1979.
McGraw KO, Wong SP. Forming inferences about some intraclass correlation
coefficients. Psychol Methods 1(1):30-46, 1996.
Weir JP. Quantifying test-retest reliability using the intraclass correlation
coefficient and the SEM. J Strength Cond Res 19(1):231-240, 2005.
de Vet HCW, Terwee CB, Knol DL, Bouter LM. When to use agreement versus reliability
measures. J Clin Epidemiol 59(10):1033-1039, 2006.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from glutescope import __version__

__all__ = ["HISTORY_FILE", "MIN_SESSIONS", "MIN_REPS", "SessionRow", "IndexReport", "Reliability",
           "TrendStep", "History", "session_rows", "icc", "reliability", "trend"]

HISTORY_FILE = "glutescope-history.sqlite3"
"""Name of the database, beside the recordings or in the folder given."""
SCHEMA_VERSION = 2
MIN_SESSIONS = 3
"""Fewest sessions of one exercise from which the SDC is estimated."""
MIN_REPS = 3
"""Fewest reps every one of those sessions must hold."""
_Z95 = 1.96


@dataclass(frozen=True)
class SessionRow:
    """One exercise of one session of one person, as `glutescope.analysis` scored it."""

    path: str
    """The recording (absolute path)."""
    segment: int
    """Segment of the recording (one per START of the wearable)."""
    pseudonym: Optional[str]
    """The recording's subject pseudonym (None: the recording names none)."""
    start_time: str
    """Start of the recording, ISO 8601 as stored in its ``meta.json`` ("" when unknown)."""
    exercise: str
    """What was performed ("" when the recording does not say)."""
    origin: str
    """Where the signals come from: "wearable", "virtual wearable" or "imported (<format>)"."""
    n_reps: int
    """Reps the SI is based on."""
    si_pct: Optional[float]
    """Symmetry index (R-L)/(0.5(R+L)) x 100, % (right higher +); None without reps."""
    si_ci_low_pct: Optional[float]
    """Rep-to-rep 95 % interval of the SI, low end, % (None with fewer than 2 reps)."""
    si_ci_high_pct: Optional[float]
    """High end, %."""
    si_normalised: bool
    """The SI compares each side against its own calibration reference (else µV)."""
    louder_side: Optional[str]
    """"left", "right", or "none" inside the no-clear-difference band; None without reps."""
    rep_si_pct: tuple[float, ...]
    """SI of each rep (single-leg: each left/right pair), % (normalised when calibrated):
    what ``si_pct`` averages, and what the reliability estimate reads."""
    mvc_left_pct: Optional[float]
    """Calibrated: the left glute's mean activation over the reps, % of its reference."""
    mvc_right_pct: Optional[float]
    """Calibrated: the right's."""
    squeeze_left: Optional[float]
    """Squeeze score of the left side, 0-100 (None: no squeeze test, or not scored)."""
    squeeze_right: Optional[float]
    """Squeeze score of the right side."""
    weaker_squeeze_side: Optional[str]
    """The side with the lower squeeze score."""
    mdf_slope_left_pct_per_min: Optional[float]
    """Fatigue: slope of the left glute's median frequency over the reps, % per minute."""
    mdf_slope_right_pct_per_min: Optional[float]
    """The right's."""
    quality: str
    """Worst signal quality of each channel, e.g. "good/fair"."""
    damage: str = ""
    """Damage found in the recording's log, in words ("" when none): its figures come
    from what could be read."""

    @property
    def weaker_side(self) -> Optional[str]:
        """The side opposite the louder one; "none" inside the band; None without reps."""
        return {"left": "right", "right": "left"}.get(self.louder_side, self.louder_side)


@dataclass(frozen=True)
class IndexReport:
    """What one pass over the recordings did."""

    n_analysed: int
    """Recordings analysed now (new, changed, or all with a rebuild)."""
    n_cached: int
    """Recordings whose rows were still valid."""
    n_removed: int
    """Rows of recordings that no longer exist, dropped."""
    failures: tuple[tuple[str, str], ...]
    """(path, one-line reason) of each recording that could not be read or analysed."""


@dataclass(frozen=True)
class Reliability:
    """How far one session's SI can move by noise alone, from a person's repeat sessions."""

    n_sessions: int
    """Sessions used (rows of the ICC matrix)."""
    n_reps: int
    """Reps per session used (columns: the first ``n_reps`` of each)."""
    icc_3_1: Optional[float]
    """ICC(3,1), two-way mixed, consistency, single measure."""
    icc_2_1: Optional[float]
    """ICC(2,1), two-way random, absolute agreement, single measure."""
    sd_pct: Optional[float]
    """SD of all the scores of the matrix, % SI."""
    sem_pct: Optional[float]
    """Standard error of measurement, SD x sqrt(1 - ICC(2,1)), % SI."""
    sdc_pct: Optional[float]
    """Smallest detectable change (MDC95), 1.96 x sqrt(2) x SEM, % SI."""
    reason: str = ""
    """Why there is no estimate ("" when there is one)."""

    @property
    def estimated(self) -> bool:
        return self.sdc_pct is not None


@dataclass(frozen=True)
class TrendStep:
    """A session against the person's previous session of the same exercise."""

    row: SessionRow
    change_pct: Optional[float]
    """Change of |SI| since the previous session, % points (negative: closer to symmetry)."""
    verdict: str
    """"first", "closer to symmetry", "further from symmetry", "within noise",
    "no SDC yet" or "no SI"."""
    flipped: bool
    """The weaker side is the other one than in the previous session naming a side."""
    si_change_pct: Optional[float] = None
    """Change of the signed SI since the previous session, % points (what a flip moved)."""


# ----------------------------------------------------------------- from an analysis


def _finite(x) -> Optional[float]:
    return float(x) if x is not None and np.isfinite(x) else None


def _origin(rec) -> str:
    meta = rec.meta or {}
    imported = meta.get("imported")
    if imported:
        fmt = imported.get("format", "?") if isinstance(imported, dict) else str(imported)
        return f"imported ({fmt})"
    from glutescope.recording import RecordingReader, RecordSource

    for record in RecordingReader(rec.path):
        if not record.host_to_device:
            return "virtual wearable" if record.source == RecordSource.VIRTUAL else "wearable"
    return "wearable"


def _rep_si(analysis) -> tuple[float, ...]:
    """The SI of each rep (single-leg: of each left/right pair) that the session's SI averages.

    Paired and normalised as `glutescope.live.LiveProcessor` does for its SI: each
    side's mean in % of its reference when calibrated, else in µV; single-leg reps
    compare the working glute of the i-th left-leg rep with the i-th right-leg rep's.
    """
    from glutesignal.balance import working_side_pairs
    from glutesignal.symmetry import symmetry_index_pct

    reps = analysis.reps
    if analysis.stats.si_normalised:
        reps = [r for r in reps if r.mean_pct_ref is not None]
        amps = [r.mean_pct_ref for r in reps]
    else:
        amps = [r.mean_uV for r in reps]
    if analysis.plan.single_leg:
        left, right = working_side_pairs(amps, [r.working_side for r in reps])
    else:
        left, right = [x[0] for x in amps], [x[1] for x in amps]
    return tuple(float(symmetry_index_pct(lv, rv)) for lv, rv in zip(left, right) if lv + rv > 0)


def session_rows(rec, analyses) -> list[SessionRow]:
    """The history rows of a recording analysed by `glutescope.analysis.analyse`.

    Parameters
    ----------
    rec : glutescope.recording.Recording
    analyses : sequence of glutescope.analysis.SegmentAnalysis

    Returns
    -------
    list of SessionRow
        One per segment that holds EMG.
    """
    meta = rec.meta or {}
    origin = _origin(rec)
    damage = []
    if rec.n_corrupt_records:
        damage.append(f"{rec.n_corrupt_records} damaged stretch{'es' if rec.n_corrupt_records != 1 else ''} "
                      "of the log skipped")
    if rec.torn_tail_bytes:
        damage.append(f"torn tail of {rec.torn_tail_bytes} bytes")
    if rec.n_corrupt_frames:
        damage.append(f"{rec.n_corrupt_frames} corrupt frame{'s' if rec.n_corrupt_frames != 1 else ''}")
    out = []
    for a in analyses:
        st = a.stats
        rep_si = _rep_si(a)
        pct = [r.mean_pct_ref for r in a.reps if r.mean_pct_ref is not None]
        mvc = (float(np.mean([p[0] for p in pct])), float(np.mean([p[1] for p in pct]))) if pct else (None, None)
        squeeze = {s.side: _finite(s.total) for s in st.squeeze_scores}
        fatigue = dict(a.fatigue)

        def slope(side):
            f = fatigue.get(side)
            return _finite(f.mdf_slope_pct_per_min) if f is not None else None

        out.append(SessionRow(
            path=str(Path(rec.path).resolve()), segment=a.segment,
            pseudonym=meta.get("subject") or None, start_time=str(meta.get("start_time") or ""),
            exercise=str(a.plan.exercise or ""), origin=origin, n_reps=int(st.n_reps),
            si_pct=_finite(st.si_pct), si_ci_low_pct=_finite(st.ci_low_pct), si_ci_high_pct=_finite(st.ci_high_pct),
            si_normalised=bool(st.si_normalised), louder_side=st.louder_side if st.si_pct is not None else None,
            rep_si_pct=tuple(float(x) for x in rep_si if np.isfinite(x)),
            mvc_left_pct=_finite(mvc[0]), mvc_right_pct=_finite(mvc[1]),
            squeeze_left=squeeze.get("left"), squeeze_right=squeeze.get("right"),
            weaker_squeeze_side=st.weaker_squeeze_side,
            mdf_slope_left_pct_per_min=slope("left"), mdf_slope_right_pct_per_min=slope("right"),
            quality="/".join(q.grade for q in a.quality) or "unknown", damage="; ".join(damage),
        ))
    return out


# ----------------------------------------------------------------- reliability


def icc(scores) -> tuple[float, float]:
    """ICC(3,1) and ICC(2,1) of a targets-by-trials matrix (two-way ANOVA).

    Parameters
    ----------
    scores : array_like, shape (n_targets, k_trials)
        n >= 2, k >= 2, all finite.

    Returns
    -------
    (icc_3_1, icc_2_1) : tuple of float
        ``(MSR - MSE) / (MSR + (k-1) MSE)`` and
        ``(MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)`` (Shrout & Fleiss 1979,
        cases 3 and 2; McGraw & Wong 1996). Either can be negative (rows differ less
        than the error): it is returned as computed.
    """
    y = np.asarray(scores, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        raise ValueError(f"scores must be a (targets, trials) matrix with at least 2 of each, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("scores must all be finite")
    n, k = y.shape
    grand = y.mean()
    ss_rows = k * np.sum((y.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((y.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((y - grand) ** 2) - ss_rows - ss_cols
    msr, msc, mse = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    denom3 = msr + (k - 1) * mse
    denom2 = denom3 + k * (msc - mse) / n
    if denom3 <= 0 or denom2 <= 0:
        return 0.0, 0.0  # every score equal: nothing to correlate
    return float((msr - mse) / denom3), float((msr - mse) / denom2)


def reliability(rows: Sequence[SessionRow]) -> Reliability:
    """The SI's smallest detectable change from repeat sessions of one exercise.

    Parameters
    ----------
    rows : sequence of SessionRow
        The person's sessions of one exercise, all normalised or all not (an SI in % of
        the references and one in µV are not the same measurement).

    Returns
    -------
    Reliability
        Without an estimate (``reason`` says why) below `MIN_SESSIONS` sessions holding
        `MIN_REPS` reps each.
    """
    usable = [r for r in rows if len(r.rep_si_pct) >= MIN_REPS]
    if len({r.si_normalised for r in usable}) > 1:
        raise ValueError("rows must be all normalised or all not: their SIs are not the same measurement")
    if len(usable) < MIN_SESSIONS:
        return Reliability(len(usable), 0, None, None, None, None, None,
                           f"not enough sessions to estimate: {len(usable)} with {MIN_REPS}+ reps, "
                           f"{MIN_SESSIONS} needed")
    m = min(len(r.rep_si_pct) for r in usable)
    y = np.array([r.rep_si_pct[:m] for r in usable])
    icc31, icc21 = icc(y)
    sd = float(np.std(y, ddof=1))
    sem = sd * math.sqrt(1.0 - min(max(icc21, 0.0), 1.0))
    return Reliability(len(usable), m, icc31, icc21, sd, sem, _Z95 * math.sqrt(2.0) * sem)


def trend(rows: Sequence[SessionRow], sdc_pct: Optional[float]) -> list[TrendStep]:
    """Each session against the previous one, oldest first: toward symmetry beyond the SDC, and flips.

    Parameters
    ----------
    rows : sequence of SessionRow
        One person's sessions of one exercise, oldest first.
    sdc_pct : float or None
        The smallest detectable change (`reliability`); None: "better" is never called.
    """
    out: list[TrendStep] = []
    prev_si: Optional[float] = None
    prev_side: Optional[str] = None
    for r in rows:
        flipped = False
        if r.weaker_side in ("left", "right"):
            flipped = prev_side is not None and r.weaker_side != prev_side
            prev_side = r.weaker_side
        if r.si_pct is None:
            out.append(TrendStep(r, None, "no SI", flipped))
            continue
        if prev_si is None:
            out.append(TrendStep(r, None, "first", flipped))
        else:
            change = abs(r.si_pct) - abs(prev_si)
            signed = r.si_pct - prev_si
            if sdc_pct is None:
                verdict = "no SDC yet"
            elif change < -sdc_pct:
                verdict = "closer to symmetry"
            elif change > sdc_pct:
                verdict = "further from symmetry"
            else:
                verdict = "within noise"
            out.append(TrendStep(r, change, verdict, flipped, signed))
        prev_si = r.si_pct
    return out


# ----------------------------------------------------------------- the database


_COLUMNS = tuple(f.name for f in fields(SessionRow))


def _fingerprint(path: Path) -> str:
    """Size and mtime of the files a row is derived from, and the version deriving it."""
    from glutescope.recording import FRAMES_FILE, META_FILE

    parts = []
    for name in (FRAMES_FILE, META_FILE):
        try:
            st = (path / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:-")
    return f"{__version__};" + ";".join(parts)


def find_recordings(folder: Path) -> list[Path]:
    """Every ``*.glutes`` directory under ``folder`` (recursively), sorted."""
    from glutescope.recording import RECORDING_SUFFIX

    return sorted(p for p in Path(folder).rglob(f"*{RECORDING_SUFFIX}") if p.is_dir())


class History:
    """The history database: open with a path, use as a context manager.

    Parameters
    ----------
    db_path : path
        The SQLite file; created (0600, its folder 0700) if missing.
    """

    def __init__(self, db_path) -> None:
        from glutescope.private import private_files

        self.path = Path(db_path)
        with private_files():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
        os.chmod(self.path, 0o600)  # also an existing file made under another umask
        self._db.execute("PRAGMA journal_mode=DELETE")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            self._create()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _create(self) -> None:
        with self._db:
            self._db.execute("DROP TABLE IF EXISTS recordings")
            self._db.execute("DROP TABLE IF EXISTS sessions")
            self._db.execute("CREATE TABLE recordings (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                             "error TEXT)")
            cols = ", ".join(f"{c} TEXT" if c in ("path", "pseudonym", "start_time", "exercise", "origin",
                                                  "louder_side", "weaker_squeeze_side", "quality", "rep_si_pct",
                                                  "damage")
                             else f"{c} REAL" for c in _COLUMNS)
            self._db.execute(f"CREATE TABLE sessions ({cols}, PRIMARY KEY (path, segment))")
            self._db.execute("CREATE INDEX sessions_by_person ON sessions (pseudonym, start_time)")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def index(self, folder, *, rebuild: bool = False, progress=None) -> IndexReport:
        """Bring the rows of every recording under ``folder`` up to date.

        Parameters
        ----------
        folder : path
            Searched recursively for ``*.glutes`` recordings.
        rebuild : bool
            Recompute every row from its recording, valid or not.
        progress : callable, optional
            Called with each recording's path before it is analysed.

        Returns
        -------
        IndexReport
            A recording that cannot be read or analysed is listed in ``failures`` (and
            remembered, so it is not analysed again until it changes); the others index.
        """
        from glutescope.analysis import analyse
        from glutescope.chunked import load_summary  # bounded: the analysis reads the EMG in chunks

        if rebuild:
            self._create()
        paths = [p.resolve() for p in find_recordings(Path(folder))]
        known = dict(self._db.execute("SELECT path, fingerprint FROM recordings"))
        root = Path(folder).resolve()
        present = {str(p) for p in paths}
        removed = [p for p in known if Path(p).is_relative_to(root) and p not in present]
        with self._db:
            for p in removed:
                self._forget(p)
        analysed = cached = 0
        failures = []
        for p in paths:
            fp = _fingerprint(p)
            if known.get(str(p)) == fp:
                cached += 1
                (error,) = self._db.execute("SELECT error FROM recordings WHERE path = ?", (str(p),)).fetchone()
                if error:
                    failures.append((str(p), error))
                continue
            if progress is not None:
                progress(p)
            analysed += 1
            error, rows = None, []
            try:
                rec = load_summary(p)
                if rec.device_info is None:
                    raise ValueError("it holds no device info: its samples cannot be scaled")
                if not rec.emg:
                    raise ValueError("it holds no EMG")
                rows = session_rows(rec, analyse(rec))
            except (OSError, ValueError) as exc:
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                failures.append((str(p), error))
            with self._db:
                self._forget(str(p))
                self._db.execute("INSERT INTO recordings VALUES (?, ?, ?)", (str(p), fp, error))
                for row in rows:
                    self._db.execute(f"INSERT INTO sessions ({', '.join(_COLUMNS)}) VALUES "
                                     f"({', '.join('?' * len(_COLUMNS))})", _to_sql(row))
        return IndexReport(analysed, cached, len(removed), tuple(failures))

    def _forget(self, path: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE path = ?", (path,))
        self._db.execute("DELETE FROM recordings WHERE path = ?", (path,))

    def pseudonyms(self) -> list[tuple[Optional[str], int, str, str]]:
        """(pseudonym, sessions, first start, last start) of every person, by pseudonym."""
        return [tuple(r) for r in self._db.execute(
            "SELECT pseudonym, COUNT(DISTINCT path), MIN(start_time), MAX(start_time) FROM sessions "
            "GROUP BY pseudonym ORDER BY pseudonym IS NULL, pseudonym")]

    def sessions(self, pseudonym: Optional[str] = None) -> list[SessionRow]:
        """The rows of one person (None: the recordings naming nobody), oldest first."""
        where = "pseudonym IS NULL" if pseudonym is None else "pseudonym = ?"
        args: Iterable = () if pseudonym is None else (pseudonym,)
        cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM sessions WHERE {where} "
                               "ORDER BY start_time, path, segment", tuple(args))
        return [_from_sql(r) for r in cur]


def _to_sql(row: SessionRow) -> tuple:
    out = []
    for name in _COLUMNS:
        v = getattr(row, name)
        if name == "rep_si_pct":
            v = json.dumps(list(v))
        elif isinstance(v, bool):
            v = int(v)
        out.append(v)
    return tuple(out)


def _from_sql(values) -> SessionRow:
    d = dict(zip(_COLUMNS, values))
    d["rep_si_pct"] = tuple(json.loads(d["rep_si_pct"]))
    d["segment"] = int(d["segment"])
    d["n_reps"] = int(d["n_reps"])
    d["si_normalised"] = bool(d["si_normalised"])
    return SessionRow(**d)
