"""Who may enter a shared deployment: the rules read from the ``[access]`` secrets, applied to the ID token's claims.

Sign-in itself is Streamlit's OpenID Connect support (``st.login``, configured under ``[auth]``); this module only
decides, from the claims the identity provider signed, whether a signed-in person is let in and whether they see the
audit page. Without an ``[auth]`` section the app runs in local mode (no sign-in, no rules). Everything here is a
plain function of the configuration and the claims, so it is tested without Streamlit.

    [access]
    allowed_domains = ["hospital.example"]      # e-mail domains, matched exactly (not sub-domains)
    allowed_emails = ["guest@partner.example"]  # single addresses
    allowed_groups = ["mri-dashboard"]          # values of the ID token's group claim
    group_claim = "groups"
    admin_group = "mri-admins"                  # sees the Audit page; is let in without another rule
    ask = "the radiology IT service desk (ext. 4321)"
    session_timeout_min = 30
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_ASK = "your department's administrator"
DEFAULT_TIMEOUT_MIN = 30.0


class AccessConfigError(ValueError):
    """An ``[access]`` setting the app cannot use; one sentence naming the key (never a value of ``[auth]``)."""


@dataclass(frozen=True)
class AccessPolicy:
    """The ``[access]`` rules. No rule at all lets nobody in: a deployment fails closed, never open."""

    allowed_domains: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    allowed_groups: tuple[str, ...] = ()
    group_claim: str = "groups"
    admin_group: str | None = None
    ask: str = DEFAULT_ASK
    session_timeout_min: float = DEFAULT_TIMEOUT_MIN


@dataclass(frozen=True)
class Viewer:
    """The person a page serves: ``user`` is None in local mode, where nothing is audited."""

    user: str | None = None
    admin: bool = False
    audit_folder: Path | None = None


LOCAL = Viewer()


def _names(section: Mapping[str, Any], key: str, lower: bool = True) -> tuple[str, ...]:
    """A list (or one string) of names; e-mail addresses and domains are lower-cased (they are case-insensitive),
    group names are kept as the provider spells them."""
    value = section.get(key, ())
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise AccessConfigError(f"[access] {key} must be a list of strings.")
    names = (v.strip() for v in values if v.strip())
    return tuple(v.lower().lstrip("@") for v in names) if lower else tuple(names)


def read_policy(secrets: Mapping[str, Any]) -> AccessPolicy | None:
    """The access rules, or None when ``secrets`` has no ``[auth]`` section (local mode).

    Raises:
        AccessConfigError: no identity provider, a rule of the wrong type, or a timeout that is not a positive
            number of minutes.
    """
    auth = secrets.get("auth")
    if not auth:
        return None
    if not login_providers(auth):
        raise AccessConfigError("[auth] names no identity provider; set its client_id, or add an [auth.NAME] "
                                "section per provider.")
    section = secrets.get("access") or {}
    timeout = section.get("session_timeout_min", DEFAULT_TIMEOUT_MIN)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise AccessConfigError("[access] session_timeout_min must be a positive number of minutes.")
    admin = section.get("admin_group")
    return AccessPolicy(
        allowed_domains=_names(section, "allowed_domains"), allowed_emails=_names(section, "allowed_emails"),
        allowed_groups=_names(section, "allowed_groups", lower=False),
        group_claim=str(section.get("group_claim", "groups")), admin_group=str(admin) if admin else None,
        ask=str(section.get("ask", DEFAULT_ASK)), session_timeout_min=float(timeout))


def login_providers(auth: Mapping[str, Any]) -> list[str]:
    """The providers ``st.login`` can use: "default" when ``[auth]`` itself names a client, then each named
    ``[auth.NAME]`` section that does."""
    named = [name for name, value in auth.items() if isinstance(value, Mapping) and "client_id" in value]
    return (["default"] if "client_id" in auth else []) + named


def user_label(claims: Mapping[str, Any]) -> str:
    """Who is signed in, as people and the audit trail name them: the e-mail, else the user name, else the subject."""
    for key in ("email", "preferred_username", "sub"):
        if claims.get(key):
            return str(claims[key])
    return "an unnamed account"


def _groups(policy: AccessPolicy, claims: Mapping[str, Any]) -> set[str]:
    value = claims.get(policy.group_claim) or ()
    return {value} if isinstance(value, str) else {str(v) for v in value}


def _email(claims: Mapping[str, Any]) -> str | None:
    """The e-mail address, unless the provider says it is unverified (Entra sends no flag; Google and Keycloak do)."""
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        return None
    return email.strip().lower()


def is_admin(policy: AccessPolicy, claims: Mapping[str, Any]) -> bool:
    return policy.admin_group is not None and policy.admin_group in _groups(policy, claims)


def is_allowed(policy: AccessPolicy, claims: Mapping[str, Any]) -> bool:
    """True for an allowed address, an address in an allowed domain (exactly: ``evil-hospital.example`` is not
    ``hospital.example``), a member of an allowed group, or of the admin group."""
    email = _email(claims)
    if email is not None and (email in policy.allowed_emails
                              or email.rpartition("@")[2] in policy.allowed_domains):
        return True
    return bool(_groups(policy, claims) & set(policy.allowed_groups)) or is_admin(policy, claims)


def refusal_sentence(policy: AccessPolicy, claims: Mapping[str, Any]) -> str:
    """The one sentence a signed-in person who is not allowed in reads, and nothing more."""
    return f"Signed in as {user_label(claims)}, who is not allowed here; ask {policy.ask} for access."


def token_key(claims: Mapping[str, Any]) -> tuple[str, str]:
    """One sign-in: the subject and the ID token's issue time (a new sign-in issues a new token)."""
    return str(claims.get("sub") or user_label(claims)), str(claims.get("iat", ""))


def issued_at_s(claims: Mapping[str, Any]) -> float | None:
    """When the ID token was issued (its ``iat``, seconds since the epoch): the sign-in time; None without one."""
    issued = claims.get("iat")
    return None if isinstance(issued, bool) or not isinstance(issued, (int, float)) else float(issued)


def sign_in_detail(claims: Mapping[str, Any]) -> str | None:
    """The audit trail's note that tells one sign-in from another: its ID token's issue time (None without one)."""
    issued = issued_at_s(claims)
    if issued is None:
        return None
    return f"ID token issued {datetime.fromtimestamp(issued, UTC).isoformat(timespec='seconds')}"


def is_expired(last_active_s: float | None, now_s: float, timeout_min: float) -> bool:
    """True when more than ``timeout_min`` passed since the last activity (or the sign-in, for a new tab).

    Unknown activity (a token without an issue time, never seen active) is not expired: the next run records it.
    """
    return last_active_s is not None and now_s - last_active_s > timeout_min * 60.0
