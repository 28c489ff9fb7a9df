"""AppTest of the sign-in gate (app_pages/access_ui.py): nothing before sign-in, one sentence for a refused account, a
session timeout, the sidebar's account line, and one audit row per analysis that a locked database cannot lose."""

from __future__ import annotations

import sqlite3
import time
from itertools import count

import pytest
from helpers import brain_slice, encode
from streamlit.testing.v1 import AppTest, app_test
from study_builders import nifti_study

from app_pages.access_ui import LOCAL_CAPTION
from benchmarks.apptest_support import NavigationPagesManager
from core.app.access import sign_in_detail
from core.app.audit import AUDIT_FILE, AuditStore, upload_digest
from core.models.cards import WEIGHTS_ENV

TIMEOUT = 90  # the first run imports TensorFlow and loads the models
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32, "client_id": "dashboard",
        "client_secret": "test-client-secret", "server_metadata_url": "http://localhost:1/.well-known/openid-configuration"}
ACCESS = {"allowed_domains": ["hospital.example"], "admin_group": "mri-admins", "ask": "the service desk",
          "session_timeout_min": 30}
PAGES = [f"app_pages/{name}.py" for name in ("analyse", "study", "performance", "model_card", "audit")]
SCAN = encode(brain_slice(128, 160, seed=21))
PATIENT_NAME = "Zażółć Müller"
SIGN_INS = count()


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


def person(email: str, *groups: str, signed_in_s_ago: float = 0.0) -> dict:
    """st.user of a fresh sign-in (its own subject and issue time, so no test shares another's activity)."""
    return {"is_logged_in": True, "email": email, "sub": f"sub-{next(SIGN_INS)}", "groups": list(groups),
            "iat": int(time.time() - signed_in_s_ago)}


@pytest.fixture
def audit_dir(tmp_path):
    return tmp_path / "audit"


@pytest.fixture
def open_app(monkeypatch, tiny_weights, audit_dir):
    """Run app.py with [auth] secrets as ``user`` on ``page`` (None: the default page)."""
    def run(user: dict, page: str | None = None, access: dict = ACCESS) -> AppTest:
        monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
        at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
        at.secrets = {"auth": AUTH, "access": access, "audit": {"folder": str(audit_dir)}}
        at.user = user
        return (at.switch_page(page) if page else at).run()
    return run


def rows(audit_dir):
    return AuditStore(audit_dir).read()


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def assert_shows_nothing_else(at: AppTest) -> None:
    """No page content: no uploader, number, table, chart, picture or sidebar."""
    assert_no_exception(at)
    for kind in ("file_uploader", "metric", "dataframe", "plotly_chart", "image", "download_button"):
        assert not at.get(kind), kind
    assert not at.sidebar.children


@pytest.mark.parametrize("page", PAGES)
def test_before_sign_in_every_page_shows_only_the_sign_in_button(open_app, page):
    at = open_app({"is_logged_in": False}, page)
    assert_shows_nothing_else(at)
    assert [t.value for t in at.title] == ["Brain MRI tumour dashboard"]
    assert at.info[0].value == "Please sign in with your hospital account to use the dashboard."
    assert [b.label for b in at.button] == ["Sign in"]


def test_a_refused_account_reads_one_sentence_and_is_audited(open_app, audit_dir):
    at = open_app(person("eve@evil-hospital.example"), "app_pages/model_card.py")
    assert_shows_nothing_else(at)
    assert [e.value for e in at.error] == [
        "Signed in as eve@evil-hospital.example, who is not allowed here; ask the service desk for access."]
    assert not at.title and not at.info and [b.label for b in at.button] == ["Sign out"]
    at.run()
    assert rows(audit_dir)[["user", "event"]].values.tolist() == [["eve@evil-hospital.example", "refused"]]


def test_a_bad_access_setting_is_one_sentence_and_nothing_else(open_app):
    at = open_app(person("a@hospital.example"), access={**ACCESS, "session_timeout_min": -1})
    assert_shows_nothing_else(at)
    assert [e.value for e in at.error] == ["[access] session_timeout_min must be a positive number of minutes."]


def test_a_session_idle_past_the_timeout_is_signed_out_and_audited(open_app, audit_dir):
    at = open_app(person("a@hospital.example", signed_in_s_ago=31 * 60), "app_pages/model_card.py")
    assert_shows_nothing_else(at)
    assert at.user == {"is_logged_in": False}
    assert rows(audit_dir)[["event", "detail"]].values.tolist() == [["sign_out", "no activity for 30 min"]]


def test_an_allowed_person_sees_the_pages_and_signs_in_once(open_app, audit_dir):
    user = person("Dr.Who@hospital.example")
    at = open_app(user, "app_pages/model_card.py")
    assert_no_exception(at)
    assert at.title[0].value == "Model card"
    assert at.sidebar.caption[0].value == "Signed in as Dr.Who@hospital.example"
    at.run()
    assert rows(audit_dir)["event"].tolist() == ["sign_in"]
    assert rows(audit_dir)["detail"][0] == sign_in_detail(user)
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not an admin: no Audit page
        at.switch_page("app_pages/audit.py")


def test_sign_out_is_audited_and_ends_the_sign_in(open_app, audit_dir):
    at = open_app(person("a@hospital.example"), "app_pages/model_card.py")
    at.sidebar.button(key="sign_out").click().run()
    assert at.user == {"is_logged_in": False}
    assert rows(audit_dir)["event"].tolist() == ["sign_out", "sign_in"]


def test_each_new_upload_is_audited_once_without_pixels_or_patient_details(open_app, audit_dir):
    at = open_app(person("a@hospital.example"))
    at.file_uploader(key="upload_slices").set_value([("scan.png", SCAN, "image/png")]).run()
    at.text_input(key="patient_name").set_value(PATIENT_NAME).run()
    at.toggle(key="show_mask").set_value(False).run()
    assert_no_exception(at)
    analyses = rows(audit_dir).query("event == 'analysis'")
    assert len(analyses) == 1
    row = analyses.iloc[0]
    assert (row.file_name, row.file_sha256) == ("scan.png", upload_digest([("scan.png", SCAN)]))
    assert '"type":"glioma"' in row.answer and '"tumour_net":{"sha256":' in row.models
    stored = b"".join(path.read_bytes() for path in audit_dir.iterdir())
    assert PATIENT_NAME.encode() not in stored and b"\x89PNG" not in stored and SCAN[-64:] not in stored


def test_a_study_is_audited_once_with_the_digest_of_its_bytes(open_app, audit_dir):
    study = [("cube.nii", nifti_study(("I", "L", "P"))[0])]
    at = open_app(person("a@hospital.example"), "app_pages/study.py")
    at.file_uploader(key="upload_study").set_value([(name, data, "application/octet-stream")
                                                    for name, data in study]).run()
    at.toggle(key="study_overlay").set_value(False).run()
    assert_no_exception(at)
    studies = rows(audit_dir).query("event == 'study'")
    assert studies[["file_name", "file_sha256"]].values.tolist() == [["cube.nii", upload_digest(study)]]
    assert '"tumour_volume_ml":' in studies.iloc[0].answer


def test_a_locked_audit_database_is_one_warning_and_the_analysis_still_shows(open_app, audit_dir):
    at = open_app(person("a@hospital.example"))
    holder = sqlite3.connect(audit_dir / AUDIT_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        at.file_uploader(key="upload_slices").set_value([("scan.png", SCAN, "image/png")]).run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_no_exception(at)
    assert at.metric[0].value == "glioma"
    warnings = [w.value for w in at.warning if "audit trail" in w.value]
    assert len(warnings) == 1 and "because the audit database is locked" in warnings[0]
    at.run()  # the queued row is written on the next run, and the warning is gone
    assert not [w.value for w in at.warning if "audit trail" in w.value]
    assert rows(audit_dir)["event"].tolist() == ["analysis", "sign_in"]


def test_an_admin_filters_the_audit_page(open_app, audit_dir):
    at = open_app(person("chief@elsewhere.example", "mri-admins"), "app_pages/audit.py")
    assert_no_exception(at)
    assert at.title[0].value == "Audit"
    assert at.dataframe[0].value["event"].tolist() == ["Signed in"]
    at.multiselect(key="audit_events").set_value(["analysis"]).run()
    assert at.dataframe[0].value.empty
    assert at.get("download_button")[0].proto.disabled


def test_local_mode_says_so_in_the_sidebar_and_asks_nobody_to_sign_in(monkeypatch, tiny_weights):
    monkeypatch.setenv(WEIGHTS_ENV, str(tiny_weights))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).switch_page("app_pages/model_card.py").run()
    assert_no_exception(at)
    assert at.sidebar.caption[0].value == LOCAL_CAPTION == "local mode: no sign-in"
    assert not at.button and at.title[0].value == "Model card"
