"""The audit trail of a shared deployment: who signed in and out, analysed what, downloaded which report, and when.

An append-only SQLite table (``audit.sqlite3`` in the ``[audit] folder`` of the secrets, by default the git-ignored
``logs/audit/``): triggers refuse every UPDATE and DELETE, and the folder (0700) and file (0600) are the app
user's alone. A row holds the user, the UTC time, the event, the file
name and the SHA-256 of its bytes, the model versions and the answer; never the image, the patient fields typed for
a report, or the PDF, because :class:`AuditEvent` has no field for them.

Writing must not slow an analysis (``python -m benchmarks.bench_audit`` measures it), so the database runs in WAL mode
with ``synchronous=NORMAL``: a commit costs no fsync and readers (the Audit page) never block writers. A row
survives an app crash; a power cut may lose the last commits. A locked database or a full disk costs at most
:data:`BUSY_TIMEOUT_MS` and raises :class:`AuditWriteError`, whose sentence the page shows as one warning; the
analysis itself is never lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.models.cards import file_sha256, read_evaluation
from core.models.installed import MODEL_SUFFIXES
from core.present.summaries import format_date

if TYPE_CHECKING:
    from core.models.analysis import Analysis
    from core.study.analyse import StudyResult

AUDIT_DIR = Path(__file__).resolve().parents[2] / "logs" / "audit"
AUDIT_FILE = "audit.sqlite3"
BUSY_TIMEOUT_MS = 4
"""Longest wait for a lock held by another process before the write gives up with one warning: short, so even a
locked database slows an analysis by under 5 ms; the page keeps the row and writes it on a later run."""
"""Files whose bytes are a model version: the network and the input guard's arrays."""
EVENTS = {
    "sign_in": "Signed in", "sign_out": "Signed out", "refused": "Refused entry",
    "analysis": "Analysed a slice", "study": "Analysed a study", "download": "Downloaded a report or table",
    "pacs_send": "Sent to a PACS", "export": "Exported the audit trail",
}
"""Every kind of row, with the label the Audit page shows."""
COLUMN_LABELS = {"time_utc": "Time (UTC)", "user": "User", "event": "Event", "file_name": "File",
                 "file_sha256": "SHA-256 of the file", "answer": "Answer", "models": "Model versions",
                 "detail": "Detail"}
"""The table's columns, in order, with the Audit page's headers (the CSV keeps the column names)."""
COLUMNS = list(COLUMN_LABELS)
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_utc TEXT NOT NULL, user TEXT NOT NULL, event TEXT NOT NULL,
    file_name TEXT, file_sha256 TEXT, answer TEXT, models TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS events_time ON events (time_utc);
CREATE INDEX IF NOT EXISTS events_user ON events (user, event);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting with one of these runs as a formula in a spreadsheet (a file name can be chosen by anyone)."""


class AuditWriteError(RuntimeError):
    """A row could not be written; the message is the one warning sentence the page shows."""


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditEvent:
    """One row. ``models`` maps a model to its version, ``answer`` holds what the app answered (see
    :func:`analysis_answer`); ``detail`` is a short note such as the name of a downloaded report."""

    event: str
    user: str
    file_name: str | None = None
    file_sha256: str | None = None
    answer: Mapping[str, Any] | None = None
    models: Mapping[str, Any] | None = None
    detail: str | None = None
    time_utc: str = field(default_factory=now_utc)

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"Unknown audit event {self.event!r}; expected one of {', '.join(EVENTS)}.")

    def to_row(self) -> tuple:
        as_json = [None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))
                   for value in (self.answer, self.models)]
        return (self.time_utc, self.user, self.event, self.file_name, self.file_sha256, *as_json, self.detail)


@dataclass(frozen=True)
class AuditQuery:
    """The Audit page's filters: UTC days ``start``..``end`` (inclusive), users and events (empty: all), and text
    found in the file name or its SHA-256."""

    start: date | None = None
    end: date | None = None
    users: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    text: str = ""

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.start is not None:
            clauses.append("time_utc >= ?")
            params.append(self.start.isoformat())
        if self.end is not None:
            clauses.append("time_utc < ?")
            params.append((self.end + timedelta(days=1)).isoformat())
        for column, values in (("user", self.users), ("event", self.events)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(file_name LIKE ? ESCAPE '\\' OR file_sha256 LIKE ? ESCAPE '\\')")
            params.extend([pattern, pattern])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _reason(err: Exception) -> str:
    text = str(err).lower()
    if "locked" in text or "busy" in text:
        return "the audit database is locked"
    if "full" in text:
        return "the disk is full"
    return "the audit folder cannot be written"


class AuditStore:
    """The audit table in ``folder``; one instance serves every session of the app (writes are serialised)."""

    def __init__(self, folder: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(folder) / AUDIT_FILE
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        """The writer's connection, opened (and the table created) on first use, retried after a failure."""
        if self._connection is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                                         check_same_thread=False)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.executescript(SCHEMA)
                os.chmod(self.path, 0o600)  # the trail names people and files: readable by the app's user only
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def record(self, event: AuditEvent, once: bool = False) -> None:
        """Append ``event``; with ``once``, only if no row has the same event, user and detail (one sign-in seen by
        several tabs is one row).

        Raises:
            AuditWriteError: the database is locked, the disk full or the folder not writable.
        """
        insert = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        if once:
            insert = (f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT {', '.join('?' * len(COLUMNS))} "
                      "WHERE NOT EXISTS (SELECT 1 FROM events WHERE event = ? AND user = ? AND detail IS ?)")
        params = event.to_row() + ((event.event, event.user, event.detail) if once else ())
        try:
            with self._lock:
                self._connect().execute(insert, params)
        except (sqlite3.Error, OSError) as err:
            what = EVENTS[event.event].lower()
            raise AuditWriteError(f"This event ({what}) could not be written to the audit trail, because "
                                  f"{_reason(err)}; your result is not affected, but please tell the "
                                  "administrator.") from err

    def _select(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """Run a query through a read-only connection of its own, so reading (the Audit page) never blocks a write."""
        with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=1.0)) as connection:
            return pd.read_sql_query(sql, connection, params=list(params))

    def read(self, query: AuditQuery = AuditQuery()) -> pd.DataFrame:
        """The matching rows, newest first (none before the first write)."""
        if not self.path.is_file():
            return pd.DataFrame(columns=COLUMNS)
        where, params = query.where()
        return self._select(f"SELECT {', '.join(COLUMNS)} FROM events{where} ORDER BY id DESC", params)

    def users(self) -> list[str]:
        """Everyone the trail names, for the page's user filter."""
        if not self.path.is_file():
            return []
        return self._select("SELECT DISTINCT user FROM events ORDER BY user")["user"].tolist()


def audit_folder(secrets: Mapping[str, Any]) -> Path:
    """``[audit] folder`` of the secrets, else :data:`AUDIT_DIR`."""
    folder = (secrets.get("audit") or {}).get("folder")
    return Path(folder) if folder else AUDIT_DIR


def model_versions(folder: Path) -> dict[str, dict[str, str]]:
    """Per model in the weights folder, the SHA-256 of its file and its card's training date."""
    versions = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.suffix in MODEL_SUFFIXES):
        card_path = path.with_suffix(".json")
        card = read_evaluation(card_path) if card_path.is_file() else None
        versions[path.stem] = {"sha256": file_sha256(path), "trained": format_date(card)}
    return versions


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def analysis_answer(analysis: Analysis | None, error: str | None = None) -> dict[str, Any]:
    """What the app answered for one slice (type, probabilities, presence, input check), or its error sentence."""
    if analysis is None:
        return {"error": error}
    return {"type": analysis.predicted_type, "type_probability": _rounded(analysis.type_confidence),
            "tumour_present": analysis.tumour_present, "tumour_probability": _rounded(analysis.tumour_probability),
            "not_brain_mri": analysis.ood}


def study_answer(result: StudyResult) -> dict[str, Any]:
    """What the app answered for a whole study: type, presence, highest tumour probability and volume."""
    return {"type": result.type, "tumour_present": result.tumour_present,
            "tumour_probability": _rounded(result.tumour_probability),
            "tumour_volume_ml": _rounded(result.tumour_volume_ml)}


def describe_files(names: Sequence[str]) -> str:
    """A name for what was uploaded: the file, or the first file and how many more (a DICOM series has hundreds)."""
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more files"


def combined_digest(digests: Sequence[str]) -> str:
    """One file's SHA-256, or for several the SHA-256 of their SHA-256s in upload order (one value per upload)."""
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(digests).encode("ascii")).hexdigest()


def upload_digest(files: Sequence[tuple[str, bytes]]) -> str:
    """:func:`combined_digest` of the (name, bytes) files of an upload."""
    return combined_digest([hashlib.sha256(data).hexdigest() for _, data in files])


def events_csv(frame: pd.DataFrame) -> bytes:
    """The rows as UTF-8 CSV; a cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    def defuse(value: Any) -> Any:
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
    return frame.map(defuse).to_csv(index=False).encode("utf-8-sig")
