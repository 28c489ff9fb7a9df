"""Sign-in, who may enter and the audit trail, as the pages use them (rules: core.app.access; store: core.app.audit).

With an ``[auth]`` section in the secrets, :func:`gate` runs first on every run, before any page: whoever is not
signed in, not allowed or idle too long gets a page of its own and the run stops there. Without it (local mode)
the gate lets the run through and nothing is audited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import streamlit as st

from core.app import access, audit
from core.models.cards import weights_dir
from core.models.installed import weights_stamp

LOG = logging.getLogger(__name__)
VIEWER = "viewer"
PENDING = "audit_pending"
"""Rows not yet written (the database was locked or the disk full): retried on every run, in order."""
WARNED = "audit_warned"
AUDITED = "audited_uploads"
"""What this session has recorded already, so a rerun (a slider move) records nothing again."""
LOCAL_CAPTION = "local mode: no sign-in"


def read_secrets() -> dict[str, Any]:
    """The secrets as a plain dict; empty without a secrets file (local mode)."""
    return st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}


@st.cache_resource(show_spinner=False)
def open_store(folder: str) -> audit.AuditStore:
    """One store per folder, shared by every session (it serialises the writes)."""
    return audit.AuditStore(Path(folder))


@st.cache_resource(show_spinner=False)
def last_activity() -> dict[tuple[str, str], float]:
    """When each sign-in (:func:`core.app.access.token_key`) last ran a page in any of its tabs."""
    return {}


@st.cache_data(show_spinner=False)
def _model_versions(folder: str, stamp: tuple) -> dict[str, dict[str, str]]:
    return audit.model_versions(Path(folder))


def current_viewer() -> access.Viewer:
    return st.session_state.get(VIEWER, access.LOCAL)


def show_only(page: Callable[[], None], title: str) -> None:
    """Make ``page`` the app's only page, whatever URL was asked for, and stop: no other page, sidebar, model or
    uploader is drawn or computed."""
    st.navigation([st.Page(page, title=title, url_path="account", default=True)], position="hidden").run()
    st.stop()


def sign_in_ui(providers: Sequence[str]) -> None:
    st.title("Brain MRI tumour dashboard")
    st.info("Please sign in with your hospital account to use the dashboard.")
    for provider in providers:
        label = "Sign in" if provider == "default" else f"Sign in with {provider}"
        if st.button(label, key=f"sign_in_{provider}", type="primary"):
            st.login(None if provider == "default" else provider)


def refused_ui(sentence: str) -> None:
    st.error(sentence)
    if st.button("Sign out", key="sign_out"):
        sign_out()


def sign_out(reason: str | None = None) -> None:
    """Record the sign-out, end the sign-in (here and at the identity provider) and stop the run."""
    record(audit.AuditEvent("sign_out", current_viewer().user or "", detail=reason))
    st.logout()
    st.stop()


def gate() -> access.Viewer:
    """The viewer this run serves: local mode, or a signed-in, allowed person whose session has not timed out.

    Anyone else gets the sign-in page, one sentence (not allowed, or a configuration error) or is signed out, and
    the run stops before any page runs.
    """
    st.session_state[WARNED] = False
    secrets = read_secrets()
    try:
        policy = access.read_policy(secrets)
    except access.AccessConfigError as err:
        show_only(partial(st.error, str(err)), "Configuration")
    if policy is None:
        st.session_state[VIEWER] = access.LOCAL
        return access.LOCAL
    claims = st.user.to_dict()
    if not claims.get("is_logged_in"):
        show_only(partial(sign_in_ui, access.login_providers(secrets["auth"])), "Sign in")
    viewer = access.Viewer(access.user_label(claims), access.is_admin(policy, claims), audit.audit_folder(secrets))
    st.session_state[VIEWER] = viewer
    key, activity, now = access.token_key(claims), last_activity(), time.time()
    if access.is_expired(activity.get(key, access.issued_at_s(claims)), now, policy.session_timeout_min):
        activity.pop(key, None)
        sign_out(f"no activity for {policy.session_timeout_min:g} min")
    sign_in = access.sign_in_detail(claims)
    if not access.is_allowed(policy, claims):
        record(audit.AuditEvent("refused", viewer.user, detail=sign_in), once=sign_in is not None)
        show_only(partial(refused_ui, access.refusal_sentence(policy, claims)), "Not allowed")
    if key not in activity:
        record(audit.AuditEvent("sign_in", viewer.user, detail=sign_in), once=sign_in is not None)
    activity[key] = now
    record()
    return viewer


def account_ui(viewer: access.Viewer) -> None:
    """The sidebar's first lines: local mode, or who is signed in and a sign-out button."""
    if viewer.user is None:
        st.caption(LOCAL_CAPTION)
        return
    st.caption(f"Signed in as {viewer.user}")
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        sign_out()


def _log_failure(err: audit.AuditWriteError) -> None:
    """The log gets the database error's type only: its text could name a path, never a row's content."""
    LOG.warning("An audit row could not be written (%s)", type(err.__cause__).__name__)


def record(*events: audit.AuditEvent, once: bool = False) -> None:
    """Write ``events`` after any earlier ones that failed; while some stay unwritten, one warning per run."""
    viewer = current_viewer()
    if viewer.audit_folder is None:
        return
    pending = st.session_state.setdefault(PENDING, [])
    pending.extend((event, once) for event in events)
    if st.session_state.get(WARNED):
        return  # this run already waited for the database once and said so
    store = open_store(str(viewer.audit_folder))
    try:
        while pending:
            store.record(*pending[0])
            pending.pop(0)
    except audit.AuditWriteError as err:
        _log_failure(err)
        st.session_state[WARNED] = True
        st.warning(str(err), icon=":material/report:")


def _covering(results: Sequence[Any] = (), files: Sequence[tuple[str, bytes]] = ()) -> dict[str, str | None]:
    """The file name and SHA-256 fields of a row about analysed ``results`` or an uploaded study's ``files``."""
    names = [r.name for r in results] or [name for name, _ in files]
    if not names:
        return {"file_name": None, "file_sha256": None}
    digest = audit.combined_digest([r.digest for r in results]) if results else audit.upload_digest(files)
    return {"file_name": audit.describe_files(names), "file_sha256": digest}


def _versions() -> dict[str, dict[str, str]]:
    folder = weights_dir()
    return _model_versions(str(folder), weights_stamp(folder))


def audit_analyses(results: Sequence[Any], choices: Mapping[str, Any]) -> None:
    """One ``analysis`` row per uploaded file (and slice choice) this session has not recorded yet."""
    viewer = current_viewer()
    if viewer.audit_folder is None:
        return
    done = st.session_state.setdefault(AUDITED, set())
    new = [r for r in results if (r.digest, repr(choices.get(r.digest))) not in done]
    if new:
        versions = _versions()
        record(*(audit.AuditEvent("analysis", viewer.user, answer=audit.analysis_answer(r.analysis, r.error),
                                  models=versions, **_covering([r])) for r in new))
        done.update((r.digest, repr(choices.get(r.digest))) for r in new)


def audit_study(view: Any, files: Sequence[tuple[str, bytes]]) -> None:
    """One ``study`` row per analysed study (and chosen series) of this session."""
    viewer = current_viewer()
    done = st.session_state.setdefault(AUDITED, set())
    if viewer.audit_folder is not None and (view.key, view.title) not in done:
        record(audit.AuditEvent("study", viewer.user, answer=audit.study_answer(view.result), models=_versions(),
                                detail=view.title, **_covering(files=files)))
        done.add((view.key, view.title))


def audited_download(make_data: Callable[[], Any], download_name: str, results: Sequence[Any] = (),
                     files: Sequence[tuple[str, bytes]] = (), event: str = "download") -> Callable[[], Any]:
    """``make_data`` for a download button, recording an ``event`` row when the user downloads.

    ``results`` (analysed slices) or ``files`` (a study's upload) name what the download covers; their digest is
    computed only when the download happens. A deferred download runs outside the script run, so a failed write
    waits in this session's queue for the next run, which writes it or warns.
    """
    viewer = current_viewer()
    if viewer.audit_folder is None:
        return make_data
    store, pending = open_store(str(viewer.audit_folder)), st.session_state.setdefault(PENDING, [])

    def data() -> Any:
        content = make_data()  # first: a report that fails to build was not downloaded
        row = audit.AuditEvent(event, viewer.user, detail=download_name, **_covering(results, files))
        try:
            store.record(row)
        except audit.AuditWriteError as err:
            _log_failure(err)
            pending.append((row, False))
        return content
    return data
