"""A real PACS on this machine: Debian's Orthanc with its DICOMweb plugin on free loopback ports, authentication on,
a generated user, storage in a given folder; and synthetic MR studies loaded into it over Orthanc's own REST API
(not DICOMweb, which is what the app is measured and tested on). Used by the PACS benchmark
(:mod:`benchmarks.bench_pacs`) and the PACS tests.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from pydicom.uid import generate_uid

from benchmarks.browser import free_port, wait_until_answering
from benchmarks.dicom_series import series_files, study_attributes

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
STARTUP_S = 30
USER = "radiologist"


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: where it listens and who may sign in."""

    port: int
    username: str
    password: str

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.rest_url}/dicom-web"

    @property
    def environ(self) -> dict[str, str]:
        """The environment a client signs in with."""
        return {"DICOMWEB_URL": self.dicomweb_url, "DICOMWEB_USERNAME": self.username,
                "DICOMWEB_PASSWORD": self.password}

    def upload(self, files: list[tuple[str, bytes]]) -> None:
        """Store DICOM files through Orthanc's REST API."""
        for _, data in files:
            requests.post(f"{self.rest_url}/instances", data=data, auth=(self.username, self.password),
                          timeout=10).raise_for_status()


@dataclass(frozen=True)
class SyntheticStudy:
    """A study loaded into Orthanc: its UIDs and the files of its MR series."""

    study_uid: str
    mr_uid: str
    ct_uid: str
    mr_files: list[tuple[str, bytes]]


def missing() -> str | None:
    """Why Orthanc cannot be started here, or None."""
    if ORTHANC.exists() and DICOMWEB_PLUGIN.exists():
        return None
    return f"{ORTHANC} or {DICOMWEB_PLUGIN} is missing (apt-get install orthanc orthanc-dicomweb)"


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    """Start Orthanc with a configuration written to ``folder`` (check :func:`missing` first).

    Raises:
        benchmarks.browser.ServerError: it exited or did not answer within :data:`STARTUP_S`.
    """
    server = Orthanc(free_port(), USER, secrets.token_urlsafe(16))
    config = {"Name": "test-pacs", "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
              "HttpPort": server.port, "DicomPort": free_port(), "RemoteAccessAllowed": False,
              "AuthenticationEnabled": True, "RegisteredUsers": {server.username: server.password},
              "Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "wb") as log:
        process = subprocess.Popen([str(ORTHANC), str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_answering("Orthanc", process, folder / "orthanc.log", lambda: requests.get(
            f"{server.rest_url}/system", auth=(server.username, server.password), timeout=2).ok, STARTUP_S)
        yield server
    finally:  # its storage is a temporary folder, so nothing is lost by not shutting down cleanly
        process.kill()
        process.wait(timeout=10)


def load_synthetic_study(server: Orthanc, planes: np.ndarray, patient_id: str, patient_name: str,
                         study_date: str) -> SyntheticStudy:
    """Upload a study of two series: an MR series of ``planes`` (S x H x W stored values) and one CT slice."""
    study_uid, mr_uid, ct_uid = (generate_uid() for _ in range(3))
    common = study_attributes(study_uid, patient_id, patient_name, study_date)
    mr_files = series_files(planes, uid=mr_uid, SeriesNumber=3, **common)
    server.upload(mr_files + series_files(planes[:1], uid=ct_uid, description="HEAD CT", SeriesNumber=2,
                                          Modality="CT", **common))
    return SyntheticStudy(study_uid, mr_uid, ct_uid, mr_files)
