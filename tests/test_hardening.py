"""What a security review asks of a shared deployment (issue 17), one test per item, from the shipped configuration.

The same items are checked on a running server in ``test_browser_auth.py`` (an upload without the XSRF token is
refused, another origin gets no cross-origin access, no secret reaches the log or a page); the session timeout is
checked with AppTest in ``test_access_ui.py``.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from core.app.access import login_providers, read_policy

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
EXAMPLE = REPO / ".streamlit" / "secrets.example.toml"


def test_xsrf_protection_is_on() -> None:
    assert CONFIG["server"]["enableXsrfProtection"] is True


def test_no_other_origin_gets_cross_origin_access() -> None:
    # Streamlit's enableCORS switches CORS *protection*: false would answer every origin with "*".
    assert CONFIG["server"]["enableCORS"] is True
    assert not CONFIG["server"].get("corsAllowedOrigins")


def test_uploads_are_limited_to_50_mb() -> None:
    assert CONFIG["server"]["maxUploadSize"] == 50


def test_errors_show_no_details_and_nothing_else_is_served() -> None:
    assert CONFIG["client"]["showErrorDetails"] == "none"  # no traceback (with paths or values) in the browser
    assert CONFIG["server"]["enableStaticServing"] is False and CONFIG["server"]["enableAgentApi"] is False
    assert "trustedUserHeaders" not in CONFIG["server"]  # identity comes only from the signed ID token


def test_secrets_stay_out_of_git_and_the_example_holds_only_placeholders() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=REPO, check=False)
    assert ignored.returncode == 0
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert example["auth"]["client_secret"].startswith("REPLACE")
    assert example["auth"]["cookie_secret"].startswith("REPLACE")


@pytest.mark.parametrize("providers", [None, ["keycloak", "microsoft", "google"]])
def test_the_example_secrets_configure_sign_in_and_the_rules(providers) -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    if providers:  # the README's several-provider layout: one [auth.NAME] section each
        client = {key: example["auth"].pop(key) for key in ("client_id", "client_secret", "server_metadata_url")}
        example["auth"].update({name: client for name in providers})
    assert login_providers(example["auth"]) == (providers or ["default"])
    policy = read_policy(example)
    assert policy.allowed_domains == ("hospital.example",) and policy.session_timeout_min == 30
