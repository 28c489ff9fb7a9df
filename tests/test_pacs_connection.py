"""Where the PACS is and how to sign in (secrets, environment, refusals), and one sentence for every way talking to
it fails: a closed port, a forbidden account, a server that goes quiet, one that stops mid-series, a malformed answer.

The faults come from a tiny HTTP server on a free loopback port that misbehaves on purpose; the real server's
answers (a wrong password among them) are tested against Orthanc in ``test_pacs_orthanc.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from browser_support import free_port

from core.io.errors import InputError
from core.pacs.client import PacsClient, StudyQuery
from core.pacs.connection import PacsConfig, PacsError, open_session, read_config

SECRET = "s3cret-Pa55word"
TOKEN = "tok-0123456789"
QUIET_S = 3.0
"""How long the quiet server keeps a request waiting: longer than the client's timeout in its test."""


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and text.count(". ") == 0


# --- configuration ----------------------------------------------------------------------------------------------

def test_environment_gives_url_and_basic_credentials_which_the_repr_hides() -> None:
    config = read_config({}, {"DICOMWEB_URL": "https://pacs.example/dicom-web/", "DICOMWEB_USERNAME": "ris",
                              "DICOMWEB_PASSWORD": SECRET})
    assert (config.url, config.username, config.password, config.token) == \
        ("https://pacs.example/dicom-web", "ris", SECRET, None)
    assert SECRET not in repr(config) and config.server == "https://pacs.example"
    assert config.transport_note is None


def test_secrets_section_wins_over_the_environment_and_a_flag_over_both() -> None:
    secrets = {"pacs": {"url": "https://a.example/dicom-web", "token": TOKEN, "timeout_s": 5}}
    environ = {"DICOMWEB_URL": "https://b.example/dicom-web", "DICOMWEB_TOKEN": "other"}
    config = read_config(secrets, environ)
    assert (config.url, config.token, config.timeout_s) == ("https://a.example/dicom-web", TOKEN, 5.0)
    assert read_config(secrets, environ, url="https://c.example/rs").url == "https://c.example/rs"


@pytest.mark.parametrize(("secrets", "environ", "phrase"), [
    ({}, {}, "No PACS is configured"),
    ({}, {"DICOMWEB_URL": "ftp://pacs.example"}, "must be the http:// or https:// URL"),
    ({}, {"DICOMWEB_URL": f"https://ris:{SECRET}@pacs.example/dicom-web"}, "must not contain a user name or password"),
    ({}, {"DICOMWEB_URL": "https://pacs.example", "DICOMWEB_USERNAME": "ris"}, "Only one of the PACS user name"),
    ({}, {"DICOMWEB_URL": "https://pacs.example", "DICOMWEB_USERNAME": "ris", "DICOMWEB_PASSWORD": SECRET,
          "DICOMWEB_TOKEN": TOKEN}, "Both a PACS password and a token"),
    ({"pacs": {"url": "https://pacs.example", "timeout_s": "soon"}}, {}, "must be a positive number"),
])
def test_bad_configuration_gets_one_sentence_without_the_secret(secrets, environ, phrase) -> None:
    with pytest.raises(PacsError) as caught:
        read_config(secrets, environ)
    assert phrase in str(caught.value) and one_sentence(str(caught.value)) and SECRET not in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_plain_http_to_another_machine_with_credentials_is_warned_about() -> None:
    environ = {"DICOMWEB_USERNAME": "ris", "DICOMWEB_PASSWORD": SECRET}
    assert "unencrypted" in read_config({}, environ, "http://pacs.example/dicom-web").transport_note
    assert read_config({}, environ, "http://127.0.0.1:8042/dicom-web").transport_note is None
    assert read_config({}, {}, "http://pacs.example/dicom-web").transport_note is None  # nothing to protect


def test_session_verifies_tls_ignores_proxies_and_keeps_the_token_out_of_its_headers(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    session = open_session(PacsConfig("https://pacs.example", token=TOKEN))
    assert session.verify is True and session.trust_env is False
    assert TOKEN not in repr(session.auth) and TOKEN not in str(session.headers)
    prepared = session.prepare_request(requests.Request("GET", "https://pacs.example/studies"))
    assert prepared.headers["Authorization"] == f"Bearer {TOKEN}"
    assert open_session(PacsConfig("https://pacs.example", ca_bundle="/etc/hospital-ca.pem")).verify == \
        "/etc/hospital-ca.pem"


def test_query_sends_wildcards_dates_and_modality_as_qido_filters() -> None:
    from datetime import date

    query = StudyQuery(" P1 ", "Doe", date(2024, 1, 1), None)
    assert query.search_filters() == {"PatientID": "P1", "PatientName": "Doe*", "StudyDate": "20240101-",
                                      "ModalitiesInStudy": "MR"}
    assert StudyQuery(patient_name="D?e*", modality=None).search_filters() == {"PatientName": "D?e*"}
    with pytest.raises(PacsError, match="ends before it starts"):
        StudyQuery(date_from=date(2024, 2, 1), date_to=date(2024, 1, 1)).search_filters()


# --- faults -----------------------------------------------------------------------------------------------------

class FaultyPacs(BaseHTTPRequestHandler):
    """Answers every GET with the fault named by the server's ``fault`` attribute."""

    def do_GET(self) -> None:  # the name http.server calls
        fault = self.server.fault
        if fault == "forbidden":
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif fault == "malformed":
            body = b'{"0020000D": {"vr": "UI", "Value": ["1.2.3"'
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif fault == "quiet":
            time.sleep(QUIET_S)
        elif fault == "stops":  # promises a large series, sends a little of it, and goes away
            self.send_response(200)
            self.send_header("Content-Type", 'multipart/related; type="application/dicom"; boundary=b')
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"--b\r\nContent-Type: application/dicom\r\n\r\n" + b"\0" * 1000)
            self.wfile.flush()
            self.connection.shutdown(2)
        self.close_connection = True

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@contextmanager
def faulty_pacs(fault: str) -> Iterator[str]:
    """The DICOMweb URL of a loopback server that answers with ``fault``; stopped afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FaultyPacs)
    server.fault = fault
    server.daemon_threads, server.block_on_close = True, False  # a quiet handler must not hold up the test
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()


def client_for(url: str, timeout_s: float = 5.0) -> PacsClient:
    return PacsClient(PacsConfig(url, username="ris", password=SECRET, timeout_s=timeout_s))


def assert_sentence(err: PacsError, phrase: str) -> None:
    text = str(err)
    assert phrase in text, text
    assert one_sentence(text) and SECRET not in text


def test_server_down_gets_one_sentence() -> None:
    with pytest.raises(PacsError) as caught:
        client_for(f"http://127.0.0.1:{free_port()}/dicom-web").search_studies(StudyQuery())
    assert_sentence(caught.value, "cannot be reached; check the address and that the server is running")


def test_forbidden_account_gets_one_sentence() -> None:
    with faulty_pacs("forbidden") as url, pytest.raises(PacsError) as caught:
        client_for(url).list_series("1.2.3")
    assert_sentence(caught.value, "does not allow this account to list the series of the study (HTTP 403)")


def test_malformed_answer_gets_one_sentence() -> None:
    with faulty_pacs("malformed") as url, pytest.raises(PacsError) as caught:
        client_for(url).search_studies(StudyQuery())
    assert_sentence(caught.value, "sent a response that is not valid DICOMweb when asked to search for studies")


def test_server_that_goes_quiet_times_out_with_one_sentence() -> None:
    with faulty_pacs("quiet") as url, pytest.raises(PacsError) as caught:
        start = time.monotonic()
        try:
            client_for(url, timeout_s=0.5).search_studies(StudyQuery())
        finally:
            waited_s = time.monotonic() - start
    assert_sentence(caught.value, "did not answer within 0.5 s when asked to search for studies")
    assert waited_s < QUIET_S


def test_server_stopping_mid_retrieve_gets_one_sentence() -> None:
    with faulty_pacs("stops") as url, pytest.raises(PacsError) as caught:
        client_for(url).retrieve_series("1.2.3", "1.2.3.4")
    assert_sentence(caught.value, "broke off when asked to send the series; please try again")
