"""Sign-in through a real OpenID Connect provider in a real browser (issue 17).

``oidc-provider-mock`` serves as the hospital's identity provider on a free loopback port, in a thread of the test
process; ``streamlit run app.py`` gets ``[auth]``, ``[access]`` and ``[audit]`` secrets from a temp file
(``--secrets.files``), and chromium signs in through the provider's login form. Checked: every page shows only the
sign-in button before sign-in; an allowed user reaches the uploader, analyses, downloads and signs out; a disallowed
user reads one sentence; an admin reads the audit trail; the rows of the run name who did what, and hold no pixel
data and no patient name; the server's hardening (XSRF, cross-origin access) and that no secret reaches the log.
"""

from __future__ import annotations

import os
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_support import (
    RESULT_MS,
    assert_no_exception,
    caption,
    download,
    free_port,
    needs_chromium,
    snap,
    streamlit_server,
    wait_idle,
)
from helpers import brain_slice, encode

from benchmarks.load_test import auth_secrets
from core.app.audit import AuditStore, upload_digest
from core.models.cards import WEIGHTS_ENV

pytestmark = [pytest.mark.browser, needs_chromium]
playwright_api = pytest.importorskip("playwright.sync_api")
oidc = pytest.importorskip("oidc_provider_mock")
expect = playwright_api.expect

SCREENS_COPY = Path("/tmp/screens_auth")
USERS = {
    "alice": {"email": "alice@hospital.example", "email_verified": True, "name": "Alice Admin",
              "groups": ["mri-admins"]},
    "bob": {"email": "bob@hospital.example", "email_verified": True, "name": "Bob Radiologist"},
    "eve": {"email": "eve@evil-hospital.example", "email_verified": True, "name": "Eve"},
}
PAGE_PATHS = ["", "study", "performance", "model_card", "audit", "account"]
SCAN = encode(brain_slice(256, 256, seed=7))
PATIENT_NAME = "Zażółć Müller"
SIGN_IN_SENTENCE = "Please sign in with your hospital account to use the dashboard."


@dataclass(frozen=True)
class AuthApp:
    url: str
    log: Path
    audit: Path
    client_secret: str
    cookie_secret: str


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The identity provider's URL; its login form offers the users of :data:`USERS` as buttons."""
    users = [oidc.User(sub=name, claims=claims) for name, claims in USERS.items()]
    with oidc.run_server_in_thread(port=free_port(), user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def auth_app(provider, tiny_weights, tmp_path_factory) -> Iterator[AuthApp]:
    folder = tmp_path_factory.mktemp("auth_app")
    port = free_port()
    text = auth_secrets(port, provider, folder / "audit")  # the load test's sign-in and audit settings
    (folder / "secrets.toml").write_text(text, encoding="utf-8")
    client_secret, cookie_secret = (tomllib.loads(text)["auth"][key] for key in ("client_secret", "cookie_secret"))
    env = {**os.environ, WEIGHTS_ENV: str(tiny_weights)}
    with streamlit_server(env, folder / "server.log", "--secrets.files", str(folder / "secrets.toml"),
                          port=port) as url:
        yield AuthApp(url, folder / "server.log", folder / "audit", client_secret, cookie_secret)


def sign_in(page, app: AuthApp, user: str) -> None:
    """Open the app, press "Sign in", pick ``user`` on the provider's form and wait for the app to run again."""
    page.goto(app.url)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=user, exact=True).click()
    page.wait_for_url(f"{app.url}/**")
    wait_idle(page)


def assert_nothing_but(page, text: str) -> None:
    """Only ``text`` (and buttons): no sidebar, navigation, uploader, number, table, chart or picture."""
    expect(page.get_by_text(text)).to_be_visible(timeout=RESULT_MS)
    wait_idle(page)
    for test_id in ("stSidebar", "stSidebarNav", "stFileUploader", "stMetric", "stDataFrame", "stPlotlyChart",
                    "stImage", "stDownloadButton"):
        expect(page.get_by_test_id(test_id)).to_have_count(0)
    assert_no_exception(page)


def test_before_sign_in_no_page_shows_anything_but_the_sign_in_button(auth_app, page, screens):
    for path in PAGE_PATHS:
        page.goto(f"{auth_app.url}/{path}")
        assert_nothing_but(page, SIGN_IN_SENTENCE)
        expect(page.get_by_test_id("stButton")).to_have_text(["Sign in"])
    page.goto(auth_app.url)
    assert_nothing_but(page, SIGN_IN_SENTENCE)
    snap(page, screens / "1_sign_in.png")


def test_an_allowed_user_analyses_downloads_and_signs_out(auth_app, page, screens, tmp_path):
    sign_in(page, auth_app, "bob")
    expect(page.get_by_role("heading", name="Analyse")).to_be_visible(timeout=RESULT_MS)
    expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as bob@hospital.example")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNavLink").filter(has_text="Audit")).to_have_count(0)
    (tmp_path / "scan.png").write_bytes(SCAN)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(tmp_path / "scan.png")
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("glioma", timeout=RESULT_MS)
    page.get_by_text("Patient and study details for the PDF report").click()
    page.get_by_label("Patient name").fill(PATIENT_NAME)
    # the toggle's rerun also commits the name; a download clicked before it ends would be of the replaced button
    page.get_by_test_id("stCheckbox").filter(has_text="Tumour overlay").locator("label").click()
    expect(caption(page, "Tumour region (overlay off)")).to_be_visible(timeout=RESULT_MS)
    assert download(page, "Download PDF report (this slice)").startswith(b"%PDF")
    snap(page, screens / "2_signed_in_analyse.png")

    page.goto(f"{auth_app.url}/audit")  # not an admin: there is no such page, the default one opens
    expect(page.get_by_role("dialog")).to_contain_text("Page not found", timeout=RESULT_MS)
    snap(page, screens / "3_no_audit_page.png")
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Analyse")).to_be_visible(timeout=RESULT_MS)
    expect(page.get_by_role("heading", name="Audit")).to_have_count(0)

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider's own sign-out page
    assert_nothing_but(page, SIGN_IN_SENTENCE)
    page.goto(f"{auth_app.url}/study")
    assert_nothing_but(page, SIGN_IN_SENTENCE)

    rows = AuditStore(auth_app.audit).read().query("user == 'bob@hospital.example'")
    assert rows["event"].tolist() == ["sign_out", "download", "analysis", "sign_in"]
    analysis, report = rows.set_index("event").loc[["analysis", "download"]].itertuples()
    assert analysis.file_name == report.file_name == "scan.png"
    assert analysis.file_sha256 == report.file_sha256 == upload_digest([("scan.png", SCAN)])
    assert '"type":"glioma"' in analysis.answer and report.detail == "brain_mri_report_scan.pdf"
    stored = b"".join(path.read_bytes() for path in auth_app.audit.iterdir())
    assert PATIENT_NAME.encode() not in stored and b"\x89PNG" not in stored and SCAN[-64:] not in stored


def test_a_disallowed_user_reads_one_sentence(auth_app, page, screens):
    sign_in(page, auth_app, "eve")
    sentence = ("Signed in as eve@evil-hospital.example, who is not allowed here; ask the radiology IT service desk "
                "for access.")
    assert_nothing_but(page, sentence)
    expect(page.get_by_test_id("stAlertContentError")).to_have_text([sentence])
    snap(page, screens / "4_refused.png")
    page.goto(f"{auth_app.url}/model_card")
    assert_nothing_but(page, sentence)
    assert AuditStore(auth_app.audit).read().query("user == 'eve@evil-hospital.example'")["event"].tolist() == [
        "refused"]


def test_an_admin_reads_and_exports_the_audit_trail(auth_app, page, screens):
    sign_in(page, auth_app, "alice")
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Audit").click()
    expect(page.get_by_role("heading", name="Audit")).to_be_visible(timeout=RESULT_MS)
    assert_no_exception(page)
    snap(page, screens / "5_audit.png")
    exported = download(page, "Download these records (CSV)").decode("utf-8-sig")
    assert "alice@hospital.example,Signed in" in exported
    assert PATIENT_NAME not in exported
    rows = AuditStore(auth_app.audit).read().query("user == 'alice@hospital.example'")
    assert rows["event"].tolist() == ["export", "sign_in"]


def request(url: str, method: str = "GET", headers: dict | None = None):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}), timeout=10)
    except urllib.error.HTTPError as err:
        return err


def test_an_upload_without_the_xsrf_token_is_refused(auth_app):
    response = request(f"{auth_app.url}/_stcore/upload_file/session/file", "PUT",
                       {"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status == 403


def test_another_origin_gets_no_cross_origin_access(auth_app):
    response = request(f"{auth_app.url}/_stcore/health", headers={"Origin": "https://evil.example"})
    assert response.headers.get("Access-Control-Allow-Origin") in (None, auth_app.url)


def test_no_secret_reaches_the_server_log_or_a_page(auth_app, page):
    page.goto(f"{auth_app.url}/oauth2callback?state=forged&code=forged")  # a failed sign-in: a warning in the log
    expect(page.get_by_text(SIGN_IN_SENTENCE)).to_be_visible(timeout=RESULT_MS)
    shown = page.locator("body").inner_text()
    sign_in(page, auth_app, "eve")
    shown += page.locator("body").inner_text()
    log = auth_app.log.read_text()
    assert "Missing provider for OAuth callback" in log
    for secret in (auth_app.client_secret, auth_app.cookie_secret):
        assert secret not in log and secret not in shown
