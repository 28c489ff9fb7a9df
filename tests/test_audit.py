"""The audit trail (core.app.audit): append-only rows, filters, CSV export, and one sentence when a write fails."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
import threading
from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.app.audit import (
    COLUMNS,
    AuditEvent,
    AuditQuery,
    AuditStore,
    AuditWriteError,
    analysis_answer,
    audit_folder,
    combined_digest,
    describe_files,
    events_csv,
    model_versions,
    upload_digest,
)
from core.models.analysis import Analysis
from core.models.cards import file_sha256

ANALYSIS = Analysis(class_names=["glioma", "notumor"], type_probabilities={"glioma": 0.912345, "notumor": 0.087655},
                    predicted_type="glioma", tumour_probability=0.912345, tumour_present=True,
                    mask=np.ones((8, 8), np.uint8), mask_area_px=64, attention=np.full((2, 2), 0.25), ood=False)


def event(kind: str = "analysis", user: str = "a@hospital.example", **fields) -> AuditEvent:
    return AuditEvent(kind, user, **fields)


@pytest.fixture
def store(tmp_path) -> AuditStore:
    return AuditStore(tmp_path / "audit")


def test_a_row_reads_back_with_its_answer_and_model_versions(store) -> None:
    store.record(event(file_name="scan.png", file_sha256="ab" * 32, answer=analysis_answer(ANALYSIS),
                       models={"tumour_net": {"sha256": "cd" * 32, "trained": "2026-11-22 06:29"}}))
    row = store.read().iloc[0]
    assert list(store.read().columns) == COLUMNS
    assert (row.user, row.event, row.file_name, row.file_sha256) == ("a@hospital.example", "analysis", "scan.png",
                                                                   "ab" * 32)
    assert json.loads(row.answer) == {"type": "glioma", "type_probability": 0.9123, "tumour_present": True,
                                      "tumour_probability": 0.9123, "not_brain_mri": False}
    assert json.loads(row.models)["tumour_net"]["trained"] == "2026-11-22 06:29"
    assert row.time_utc.endswith("+00:00")


def test_a_row_has_no_field_for_pixels_patient_details_or_a_report() -> None:
    fields = {field.name for field in dataclasses.fields(AuditEvent)}
    assert fields == {"event", "user", "file_name", "file_sha256", "answer", "models", "detail", "time_utc"}
    assert set(analysis_answer(ANALYSIS)) == {"type", "type_probability", "tumour_present", "tumour_probability",
                                              "not_brain_mri"}  # no mask, attention map or area array


def test_an_unreadable_file_records_its_error_sentence() -> None:
    assert analysis_answer(None, "x.png is empty.") == {"error": "x.png is empty."}


def test_an_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown audit event 'viewed'"):
        event("viewed")


@pytest.mark.parametrize("statement", ["UPDATE events SET user = 'someone else'", "DELETE FROM events"])
def test_rows_cannot_be_changed_or_deleted(store, statement) -> None:
    store.record(event())
    with sqlite3.connect(store.path) as connection, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute(statement)
    assert len(store.read()) == 1


def test_once_records_one_sign_in_seen_by_several_tabs(store) -> None:
    for _ in range(3):
        store.record(event("sign_in", detail="ID token issued 100"), once=True)
    store.record(event("sign_in", detail="ID token issued 200"), once=True)
    assert store.read()["detail"].tolist() == ["ID token issued 200", "ID token issued 100"]


def test_filters_by_day_user_event_and_file_text(store) -> None:
    store.record(event(file_name="old_scan.png", time_utc="2026-01-01T23:59:59.000+00:00"))
    store.record(event(file_name="new%scan.png", time_utc="2026-01-02T00:00:00.000+00:00"))
    store.record(event("download", "b@hospital.example", file_name="new_scan.png",
                       time_utc="2026-01-03T08:00:00.000+00:00"))
    names = lambda query: store.read(query)["file_name"].tolist()  # noqa: E731
    assert names(AuditQuery()) == ["new_scan.png", "new%scan.png", "old_scan.png"]  # newest first
    assert names(AuditQuery(start=date(2026, 1, 2), end=date(2026, 1, 2))) == ["new%scan.png"]
    assert names(AuditQuery(users=("b@hospital.example",))) == ["new_scan.png"]
    assert names(AuditQuery(events=("analysis",))) == ["new%scan.png", "old_scan.png"]
    assert names(AuditQuery(text="w_s")) == ["new_scan.png"]  # "_" and "%" match themselves, not any character
    assert names(AuditQuery(text="w%s")) == ["new%scan.png"]
    assert store.users() == ["a@hospital.example", "b@hospital.example"]


def test_an_empty_trail_reads_as_no_rows(store) -> None:
    assert store.read().empty and store.users() == []


def test_a_locked_database_is_one_sentence_quickly_and_the_next_write_succeeds(store) -> None:
    store.record(event())
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(AuditWriteError, match=r"^This event \(analysed a slice\) could not be written to the "
                                                  r"audit trail, because the audit database is locked; .*\.$"):
            store.record(event())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.record(event())
    assert len(store.read()) == 2


def test_a_full_disk_is_one_sentence(store) -> None:
    store.record(event())
    store._connect().execute("PRAGMA max_page_count = 1")  # the file cannot grow: SQLite's "disk is full"
    with pytest.raises(AuditWriteError, match="because the disk is full"):
        store.record(event(detail="x" * 20_000))


def test_a_folder_that_cannot_be_created_is_one_sentence(tmp_path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    with pytest.raises(AuditWriteError, match="because the audit folder cannot be written"):
        AuditStore(tmp_path / "not_a_folder" / "audit").record(event())


def test_concurrent_sessions_lose_no_row(store) -> None:
    def write(session: int) -> None:
        for number in range(25):
            store.record(event(file_name=f"s{session}_{number}.png"))
    threads = [threading.Thread(target=write, args=(session,)) for session in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(store.read()["file_name"])) == 200


def test_the_trail_file_is_private_to_the_app(store) -> None:
    store.record(event())
    assert store.path.stat().st_mode & 0o077 == 0


def test_csv_export_defuses_spreadsheet_formulas(store) -> None:
    store.record(event(file_name="=HYPERLINK(\"http://evil.example\")"))
    store.record(event(file_name="plain.png"))
    text = events_csv(store.read()).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",plain.png," in text
    assert pd.read_csv(io.StringIO(text)).shape == (2, len(COLUMNS))


def test_audit_folder_comes_from_the_secrets(tmp_path) -> None:
    assert audit_folder({"audit": {"folder": str(tmp_path)}}) == tmp_path
    assert audit_folder({}).parts[-2:] == ("logs", "audit")


def test_model_versions_are_each_model_files_sha256(tiny_weights) -> None:
    versions = model_versions(tiny_weights)
    assert versions == {"tumour_net": {"sha256": file_sha256(tiny_weights / "tumour_net.keras"),
                                       "trained": "not available"}}


def test_an_upload_of_several_files_has_one_digest_of_their_digests() -> None:
    files = [("a.dcm", b"first"), ("b.dcm", b"second")]
    assert upload_digest(files[:1]) == "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
    assert upload_digest(files) == combined_digest([upload_digest(files[:1]), upload_digest(files[1:])])
    assert upload_digest(files) != upload_digest(files[::-1])
    assert describe_files(["a.dcm", "b.dcm", "c.dcm"]) == "a.dcm and 2 more files"
