"""Where the PACS is and how to sign in to it, and the one sentence for each way that talking to it can fail.

The address and the credentials come from the ``[pacs]`` section of ``.streamlit/secrets.toml`` or from the
environment (:data:`URL_ENV`, :data:`USERNAME_ENV` and :data:`PASSWORD_ENV` for HTTP basic authentication, or
:data:`TOKEN_ENV` for a bearer token). They are never logged, never put into a message and never shown back: messages
name the server by scheme, host and port only, and :class:`PacsConfig`'s repr leaves them out.

TLS certificates are verified, against :data:`CA_BUNDLE_ENV`'s bundle when one is set (a hospital's own CA). The
session ignores proxy variables and ``~/.netrc``, so every request goes to the configured PACS and carries the
configured credentials only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from core.io.errors import InputError

SECRETS_SECTION = "pacs"
URL_ENV = "DICOMWEB_URL"
USERNAME_ENV = "DICOMWEB_USERNAME"
PASSWORD_ENV = "DICOMWEB_PASSWORD"
TOKEN_ENV = "DICOMWEB_TOKEN"
CA_BUNDLE_ENV = "DICOMWEB_CA_BUNDLE"
TIMEOUT_S = 30.0
"""Longest wait for the PACS to accept a connection or to send the next bytes (not for a whole series)."""
HTTP_SCHEMES = ("http", "https")
LOOPBACK_NAMES = ("localhost",)


class PacsError(InputError):
    """Talking to the PACS failed, or what it sent cannot be analysed; the message is one sentence and names no
    credential."""


@dataclass(frozen=True)
class PacsConfig:
    """The DICOMweb service's base URL and how to sign in; credentials are left out of the repr."""

    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    timeout_s: float = TIMEOUT_S

    @property
    def server(self) -> str:
        """``scheme://host:port`` of the URL: how messages and the page name the PACS."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def transport_note(self) -> str | None:
        """A sentence when credentials would cross the network unencrypted (plain HTTP to another machine)."""
        host = urlsplit(self.url).hostname or ""
        if urlsplit(self.url).scheme == "https" or (self.username is None and self.token is None) or _loopback(host):
            return None
        return (f"The PACS at {self.server} is reached over plain HTTP, so its credentials and the images cross the "
                "network unencrypted; use its https:// address where it has one.")


def read_config(secrets: Mapping[str, Any], environ: Mapping[str, str], url: str | None = None) -> PacsConfig:
    """The PACS to talk to: ``url`` (a command-line flag) or the ``[pacs]`` secrets' ``url`` or :data:`URL_ENV`; the
    credentials from the secrets (``username``, ``password``, ``token``, ``ca_bundle``, ``timeout_s``), else the
    environment.

    Raises:
        PacsError: no address, an address that is not an http(s) URL or that carries credentials, half a user name
            and password pair, both a password and a token, or a timeout that is not a positive number.
    """
    section = secrets.get(SECRETS_SECTION) or {}

    def setting(key: str, variable: str) -> str | None:
        """The secrets' ``key``, else the environment's ``variable``; None when neither holds a non-blank value."""
        value = str(section.get(key) or environ.get(variable) or "").strip()
        return value or None

    url = (url or "").strip() or setting("url", URL_ENV)
    if not url:
        raise PacsError(f"No PACS is configured; set url in the [{SECRETS_SECTION}] section of "
                        f".streamlit/secrets.toml or the {URL_ENV} environment variable.")
    parts = urlsplit(url)
    if parts.scheme not in HTTP_SCHEMES or not parts.hostname:
        raise PacsError("The PACS address must be the http:// or https:// URL of its DICOMweb service, such as "
                        "https://pacs.hospital.example/dicom-web.")
    if parts.username or parts.password:
        raise PacsError(f"The PACS address must not contain a user name or password; set {USERNAME_ENV} and "
                        f"{PASSWORD_ENV} (or username and password in [{SECRETS_SECTION}]) instead.")
    username, password = setting("username", USERNAME_ENV), setting("password", PASSWORD_ENV)
    token = setting("token", TOKEN_ENV)
    if (username is None) != (password is None):
        raise PacsError(f"Only one of the PACS user name and password is set; set both ({USERNAME_ENV} and "
                        f"{PASSWORD_ENV}) or neither.")
    if token and username:
        raise PacsError(f"Both a PACS password and a token ({TOKEN_ENV}) are set; set only one of them.")
    try:
        timeout_s = float(section.get("timeout_s", TIMEOUT_S))
    except (TypeError, ValueError):
        timeout_s = -1.0
    if not timeout_s > 0:
        raise PacsError(f"timeout_s in [{SECRETS_SECTION}] must be a positive number of seconds.")
    return PacsConfig(url.rstrip("/"), username, password, token, setting("ca_bundle", CA_BUNDLE_ENV), timeout_s)


class BearerToken(requests.auth.AuthBase):
    """``Authorization: Bearer ...`` on every request, added as the request is sent, so the token sits in no
    header dictionary that a library might log."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerToken(hidden)"


class PacsSession(requests.Session):
    """A session that sends the wildcard of a QIDO-RS search (``*``) as itself in the query string.

    ``dicomweb-client`` percent-encodes it (``%2A``); RFC 3986 allows a plain ``*`` in a query, and some servers
    (Orthanc 1.10) match an encoded one as a literal star, so "Doe*" would find nobody.
    """

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path, mark, query = (request.url or "").partition("?")
        request.url = path + mark + query.replace("%2A", "*")
        return super().send(request, **kwargs)


def open_session(config: PacsConfig) -> requests.Session:
    """A session that signs in as ``config`` says, verifies certificates and ignores proxies and ``~/.netrc``."""
    session = PacsSession()
    session.trust_env = False
    session.verify = config.ca_bundle or True
    if config.token:
        session.auth = BearerToken(config.token)
    elif config.username is not None:
        session.auth = requests.auth.HTTPBasicAuth(config.username, config.password or "")
    return session


@contextmanager
def speaking_to(config: PacsConfig, action: str) -> Iterator[None]:
    """Turn whatever goes wrong while asking the PACS to ``action`` into one :class:`PacsError` sentence.

    ``action`` completes "when asked to ...", e.g. "search for studies". The original exception stays the cause;
    its text is not shown, as a URL or a server's error page is no sentence for a clinician.
    """
    server = config.server
    try:
        yield
    except PacsError:
        raise
    except requests.HTTPError as err:
        raise PacsError(_status_sentence(err.response, server, action)) from err
    except requests.Timeout as err:
        raise PacsError(f"The PACS at {server} did not answer within {config.timeout_s:g} s when asked to "
                        f"{action}; please try again later.") from err
    except requests.exceptions.SSLError as err:
        raise PacsError(f"The certificate of the PACS at {server} could not be verified; set {CA_BUNDLE_ENV} (or "
                        f"ca_bundle in [{SECRETS_SECTION}]) to the hospital's CA bundle.") from err
    except requests.ConnectionError as err:
        if _refused(err):
            raise PacsError(f"The PACS at {server} cannot be reached; check the address and that the server is "
                            "running.") from err
        raise PacsError(f"The connection to the PACS at {server} broke off when asked to {action}; please try "
                        "again.") from err
    except requests.exceptions.ChunkedEncodingError as err:
        raise PacsError(f"The connection to the PACS at {server} broke off when asked to {action}; please try "
                        "again.") from err
    except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError, EOFError) as err:
        # A body that is not JSON, DICOM JSON or multipart DICOM: the parsers raise these on malformed input.
        raise PacsError(f"The PACS at {server} sent a response that is not valid DICOMweb when asked to "
                        f"{action}.") from err


def _status_sentence(response: requests.Response | None, server: str, action: str) -> str:
    code = None if response is None else response.status_code
    if code == 401:
        return (f"The PACS at {server} refused the sign-in (HTTP 401); check the user name and password "
                f"({USERNAME_ENV}, {PASSWORD_ENV}) or the token ({TOKEN_ENV}).")
    if code == 403:
        return f"The PACS at {server} does not allow this account to {action} (HTTP 403)."
    if code == 404:
        return (f"The PACS at {server} found nothing at that address when asked to {action} (HTTP 404); check the "
                "DICOMweb URL and the UIDs.")
    return (f"The PACS at {server} answered HTTP {code} when asked to {action}; please try again later or ask its "
            "administrator.")


def _refused(err: requests.ConnectionError) -> bool:
    """True when no connection was made at all (refused, unknown host), rather than one that broke off."""
    reason = err.args[0] if err.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
