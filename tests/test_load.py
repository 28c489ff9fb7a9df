"""The browser load test on the tiny models: concurrent signed-in Chromium sessions on one server all get their own
files' answers, and the audit trail holds every analysis and download of the run, but no pixels and no patient name
(timing is reported, not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import needs_chromium

from benchmarks.load_test import STEPS, LoadConfig, run_load_test

pytestmark = [pytest.mark.browser, needs_chromium]
pytest.importorskip("playwright.async_api")
pytest.importorskip("oidc_provider_mock")


def test_concurrent_browser_sessions_see_their_own_answers_and_are_audited(tiny_weights: Path) -> None:
    summary = run_load_test(tiny_weights, LoadConfig(sessions=3, files_per_session=2))
    assert summary["problems"] == []
    assert summary["sessions_ok"] == summary["sessions"] == 3
    assert all(summary["step_seconds"][step]["count"] == 3 for step in STEPS)
    audit = summary["audit"]
    assert audit["every_upload_recorded"] and audit["analyses_recorded"] == audit["analyses_expected"] == 8
    assert audit["downloads_recorded"] == audit["downloads_expected"] == 8
    assert audit["image_bytes_stored"] == 0 and not audit["patient_name_stored"]
    assert 0 < summary["cold_start"]["server_answers_s"] < summary["cold_start"]["first_result_from_server_start_s"]
    assert summary["server_peak_rss_mb"] > 0
    print(f"load test on the tiny models: {summary['step_seconds']}, cold start {summary['cold_start']}")


def test_a_table_from_another_session_is_caught() -> None:
    from benchmarks.load_test import Upload, table_problems

    mine = Upload("a.png", b"", {"File": "a.png", "Tumour type": "glioma", "Tumour present": "yes", "Area (px)": "120",
                                 "Problem": "", "Confidence (%)": "91.5", "Probability (%)": "99.0"})
    table = "File,Tumour type,Tumour present,Area (px),Problem,Confidence (%),Probability (%)\n"
    assert table_problems(table + "a.png,glioma,yes,120,,91.5,99.0\n", [mine]) == []
    assert table_problems(table + "b.png,glioma,yes,120,,91.5,99.0\n", [mine]) == ["the table lists ['b.png']"]
    assert table_problems(table + "a.png,glioma,yes,87,,80.0,99.0\n", [mine]) == [
        "a.png: Area (px) is '87', expected '120'", "a.png: Confidence (%) is '80.0', expected '91.5'"]
