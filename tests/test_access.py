"""Who may enter (core.app.access): rules from the [access] secrets applied to ID-token claims, failing closed."""

from __future__ import annotations

import pytest

from core.app.access import (
    AccessConfigError,
    AccessPolicy,
    is_admin,
    is_allowed,
    is_expired,
    issued_at_s,
    login_providers,
    read_policy,
    refusal_sentence,
    sign_in_detail,
    token_key,
    user_label,
)

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "dashboard",
        "client_secret": "x", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
POLICY = AccessPolicy(allowed_domains=("hospital.example",), allowed_emails=("guest@partner.example",),
                      allowed_groups=("mri-dashboard",), admin_group="mri-admins", ask="the service desk")


def test_no_auth_section_is_local_mode_without_rules() -> None:
    assert read_policy({}) is None
    assert read_policy({"access": {"allowed_domains": ["hospital.example"]}}) is None


def test_rules_are_read_lower_cased_and_a_single_string_is_one_rule() -> None:
    policy = read_policy({"auth": AUTH, "access": {"allowed_domains": "@Hospital.Example",
                                                   "allowed_emails": ["Guest@Partner.example"],
                                                   "allowed_groups": ["MRI-Dashboard"], "admin_group": "mri-admins",
                                                   "session_timeout_min": 15}})
    assert policy == AccessPolicy(("hospital.example",), ("guest@partner.example",), ("MRI-Dashboard",),
                                  admin_group="mri-admins", session_timeout_min=15.0)


@pytest.mark.parametrize("access", [{"allowed_domains": 3}, {"allowed_groups": [1]}, {"session_timeout_min": 0},
                                    {"session_timeout_min": "30"}, {"session_timeout_min": True}])
def test_a_bad_rule_raises_one_sentence_naming_its_key(access) -> None:
    with pytest.raises(AccessConfigError, match=r"^\[access\] \w+ must be .*\.$"):
        read_policy({"auth": AUTH, "access": access})


def test_auth_without_a_provider_is_a_configuration_error() -> None:
    with pytest.raises(AccessConfigError, match="names no identity provider"):
        read_policy({"auth": {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"]}})


def test_without_any_rule_nobody_is_let_in() -> None:
    policy = read_policy({"auth": AUTH})
    assert not is_allowed(policy, {"email": "chief@hospital.example", "groups": ["everyone"]})


@pytest.mark.parametrize("claims", [
    {"email": "Dr.Who@Hospital.Example"},
    {"email": "guest@partner.example", "email_verified": True},
    {"email": "someone@elsewhere.example", "groups": ["mri-dashboard"]},
    {"sub": "x", "groups": "mri-admins"},
])
def test_allowed_by_domain_address_group_or_admin_group(claims) -> None:
    assert is_allowed(POLICY, claims)


@pytest.mark.parametrize("claims", [
    {"email": "eve@evil-hospital.example"},
    {"email": "eve@hospital.example.evil"},
    {"email": "eve@sub.hospital.example"},
    {"email": "dr.who@hospital.example", "email_verified": False},
    {"email": "someone@elsewhere.example", "groups": ["MRI-dashboard", "staff"]},
    {"sub": "no-email"},
])
def test_refused_for_lookalike_domains_unverified_addresses_and_other_groups(claims) -> None:
    assert not is_allowed(POLICY, claims)


def test_only_the_admin_group_is_admin() -> None:
    assert is_admin(POLICY, {"groups": ["mri-admins"]})
    assert not is_admin(POLICY, {"email": "chief@hospital.example", "groups": ["mri-dashboard"]})
    assert not is_admin(AccessPolicy(), {"groups": ["mri-admins"]})


def test_group_claim_name_is_configurable() -> None:
    policy = AccessPolicy(allowed_groups=("radiology",), group_claim="roles")
    assert is_allowed(policy, {"roles": ["radiology"]}) and not is_allowed(policy, {"groups": ["radiology"]})


def test_refusal_is_one_sentence_naming_the_account_and_whom_to_ask() -> None:
    assert refusal_sentence(POLICY, {"email": "eve@evil.example", "sub": "42"}) == (
        "Signed in as eve@evil.example, who is not allowed here; ask the service desk for access.")


def test_user_label_prefers_email_then_user_name_then_subject() -> None:
    assert user_label({"email": "a@b.example", "preferred_username": "ab", "sub": "1"}) == "a@b.example"
    assert user_label({"preferred_username": "ab", "sub": "1"}) == "ab"
    assert user_label({"sub": "1"}) == "1"


def test_providers_are_the_default_client_and_each_named_section() -> None:
    assert login_providers(AUTH) == ["default"]
    named = {"redirect_uri": "x", "cookie_secret": "y", "keycloak": {"client_id": "a"}, "entra": {"client_id": "b"},
             "client_kwargs": {"prompt": "login"}}
    assert login_providers(named) == ["keycloak", "entra"]


def test_a_new_sign_in_is_a_new_token_key() -> None:
    assert token_key({"sub": "1", "iat": 100}) != token_key({"sub": "1", "iat": 200})


@pytest.mark.parametrize(("last_active_s", "expired"), [(None, False), (1000.0, False), (1000.0 - 1, True)])
def test_session_expires_after_the_idle_timeout(last_active_s, expired) -> None:
    assert is_expired(last_active_s, now_s=1000.0 + 30 * 60, timeout_min=30) is expired


def test_a_sign_in_is_told_apart_by_its_token_issue_time() -> None:
    assert sign_in_detail({"iat": 1_800_000_000}) == "ID token issued 2027-01-15T08:00:00+00:00"
    assert sign_in_detail({"iat": "soon"}) is None and sign_in_detail({}) is None
    assert issued_at_s({"iat": 1_800_000_000}) == 1.8e9 and issued_at_s({"iat": True}) is None
