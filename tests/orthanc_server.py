"""A real PACS for the PACS tests: Debian's Orthanc with its DICOMweb plugin on free loopback ports, authentication
on, a generated test user, storage in a temporary folder; and the synthetic MR studies loaded into it.

The studies are the bright-cube series of :mod:`study_builders` with the patient, study and frame-of-reference
attributes a scanner writes, so the tiny network (conftest ``tiny_weights``) outlines exactly the cube.
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
import pytest
import requests
from browser_support import free_port, wait_until_answering
from pydicom.uid import generate_uid
from study_builders import SLICES, series_files

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
        """Store DICOM files through Orthanc's own REST API (not DICOMweb, which is what the app is tested on)."""
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


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    """Start Orthanc with a configuration written to ``folder``; skip the test where Orthanc is not installed."""
    if not (ORTHANC.exists() and DICOMWEB_PLUGIN.exists()):
        pytest.skip(f"{ORTHANC} or {DICOMWEB_PLUGIN} is missing (apt-get install orthanc orthanc-dicomweb)")
    server = Orthanc(free_port(), USER, secrets.token_urlsafe(16))
    config = {"Name": "test-pacs", "StorageDirectory": str(folder / "storage"), "IndexDirectory": str(folder / "index"),
              "HttpPort": server.port, "DicomPort": free_port(), "RemoteAccessAllowed": False,
              "AuthenticationEnabled": True, "RegisteredUsers": {server.username: server.password},
              "Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
    (folder / "orthanc.json").write_text(json.dumps(config))
    with open(folder / "orthanc.log", "wb") as log:
        process = subprocess.Popen([str(ORTHANC), str(folder / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(server, process, folder / "orthanc.log")
        yield server
    finally:  # its storage is a temporary folder, so nothing is lost by not shutting down cleanly
        process.kill()
        process.wait(timeout=10)


def _wait_until_up(server: Orthanc, process: subprocess.Popen, log: Path) -> None:
    wait_until_answering("Orthanc", process, log, lambda: requests.get(
        f"{server.rest_url}/system", auth=(server.username, server.password), timeout=2).ok, STARTUP_S)


def load_synthetic_study(server: Orthanc, patient_id: str, patient_name: str, study_date: str,
                         planes: np.ndarray | None = None) -> SyntheticStudy:
    """Upload a study of two series: an MR series of the bright cube (or of ``planes``, S x H x W stored values)
    and one CT slice, with the patient, study and frame-of-reference attributes a scanner writes."""
    study_uid, frame_uid, mr_uid, ct_uid = (generate_uid() for _ in range(4))
    common = {"StudyInstanceUID": study_uid, "FrameOfReferenceUID": frame_uid, "PatientID": patient_id,
              "PatientName": patient_name, "PatientBirthDate": "19700101", "PatientSex": "O",
              "StudyDate": study_date, "StudyTime": "101500", "StudyID": "1", "AccessionNumber": "A1",
              "ReferringPhysicianName": "", "StudyDescription": "Brain MRI"}
    count = SLICES if planes is None else len(planes)
    mr_files = series_files(count, uid=mr_uid, planes=planes, SeriesNumber=3, **common)
    server.upload(mr_files + series_files(1, uid=ct_uid, description="HEAD CT", SeriesNumber=2, Modality="CT",
                                          **common))
    return SyntheticStudy(study_uid, mr_uid, ct_uid, mr_files)
