"""The three DICOMweb services a clinician's round trip needs, through ``dicomweb-client``: QIDO-RS to find studies
and list a study's series, WADO-RS to fetch a series into memory, STOW-RS to store results in the source study.

Every call goes through :func:`core.pacs.connection.speaking_to`, so a failure reaches the page or the CLI as one
sentence. Retrieved instances are pydicom data sets in memory, never files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from dicomweb_client import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from core.pacs.connection import PacsConfig, PacsError, open_session, speaking_to

STUDY_LIMIT = 100
"""Most studies one search returns; a search that hits it says so, so the user narrows it."""
STUDY_FIELDS = ("StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                "NumberOfStudyRelatedInstances")
SERIES_FIELDS = ("SeriesDescription", "SeriesNumber", "Modality", "NumberOfSeriesRelatedInstances")
ANALYSED_MODALITY = "MR"


@dataclass(frozen=True)
class StudyQuery:
    """A study search: every given field must match; a name matches as a prefix unless it holds a wildcard."""

    patient_id: str = ""
    patient_name: str = ""
    date_from: date | None = None
    date_to: date | None = None
    modality: str | None = ANALYSED_MODALITY

    def search_filters(self) -> dict[str, str]:
        """The QIDO-RS query parameters.

        Raises:
            PacsError: the date range ends before it starts.
        """
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise PacsError("The study date range ends before it starts; please swap the two dates.")
        filters = {}
        if self.patient_id.strip():
            filters["PatientID"] = self.patient_id.strip()
        if name := self.patient_name.strip():
            filters["PatientName"] = name if any(c in name for c in "*?") else f"{name}*"
        if self.date_from or self.date_to:
            filters["StudyDate"] = "-".join(f"{d:%Y%m%d}" if d else "" for d in (self.date_from, self.date_to))
        if self.modality:
            filters["ModalitiesInStudy"] = self.modality
        return filters


@dataclass(frozen=True)
class StudyInfo:
    """One row of a study search."""

    uid: str
    patient_name: str
    patient_id: str
    study_date: str
    description: str
    modalities: str
    series: int | None
    images: int | None


@dataclass(frozen=True)
class SeriesListing:
    """One series of a study, as its table row shows it."""

    uid: str
    number: int | None
    modality: str
    description: str
    images: int | None

    @property
    def name(self) -> str:
        """How sentences name the series, e.g. 'Series 3 "AX FLAIR"'."""
        number = "Series" if self.number is None else f"Series {self.number}"
        return f'{number} "{self.description}"' if self.description else number

    @property
    def label(self) -> str:
        """E.g. "AX FLAIR (MR, series 3, 20 images)"."""
        parts = [self.modality or "unknown modality"]
        if self.number is not None:
            parts.append(f"series {self.number}")
        if self.images is not None:
            parts.append(f"{self.images} images")
        return f"{self.description or 'No description'} ({', '.join(parts)})"


class PacsClient:
    """One DICOMweb service, signed in as its :class:`PacsConfig` says."""

    def __init__(self, config: PacsConfig) -> None:
        self.config = config
        self._client = DICOMwebClient(config.url, session=open_session(config), timeout=config.timeout_s)
        # One try per request: the library's retries would repeat a refused connection or a timeout too, waiting
        # seconds before each sentence; a busy PACS gets its HTTP status in a sentence and the user tries again.
        self._client.set_http_retry_params(retry=False)

    @property
    def server(self) -> str:
        return self.config.server

    def search_studies(self, query: StudyQuery, limit: int = STUDY_LIMIT) -> list[StudyInfo]:
        """The studies matching ``query``, at most ``limit`` of them, as the PACS orders them."""
        filters = query.search_filters()
        with speaking_to(self.config, "search for studies"):
            found = [Dataset.from_json(item) for item in self._client.search_for_studies(
                search_filters=filters, fields=list(STUDY_FIELDS), limit=limit)]
            return [StudyInfo(uid=str(ds.StudyInstanceUID), patient_name=_person(ds.get("PatientName")),
                              patient_id=_text(ds, "PatientID"),
                              study_date=format_dicom_date(_text(ds, "StudyDate")),
                              description=_text(ds, "StudyDescription"),
                              modalities=", ".join(_values(ds, "ModalitiesInStudy")),
                              series=_count(ds, "NumberOfStudyRelatedSeries"),
                              images=_count(ds, "NumberOfStudyRelatedInstances")) for ds in found]

    def list_series(self, study_uid: str) -> list[SeriesListing]:
        """The series of one study, by series number (unnumbered last)."""
        with speaking_to(self.config, "list the series of the study"):
            found = [Dataset.from_json(item) for item in self._client.search_for_series(
                study_uid, fields=list(SERIES_FIELDS))]
            series = [SeriesListing(uid=str(ds.SeriesInstanceUID), number=_count(ds, "SeriesNumber"),
                                    modality=_text(ds, "Modality"), description=_text(ds, "SeriesDescription"),
                                    images=_count(ds, "NumberOfSeriesRelatedInstances")) for ds in found]
        if not series:
            raise PacsError(f"The PACS at {self.server} holds no series for study {study_uid}.")
        return sorted(series, key=lambda s: (s.number is None, s.number or 0))

    def retrieve_series(self, study_uid: str, series_uid: str) -> list[Dataset]:
        """Every instance of one series, in memory.

        Raises:
            PacsError: as every call, and when the series holds no instance.
        """
        with speaking_to(self.config, "send the series"):
            instances = self._client.retrieve_series(study_uid, series_uid)
        if not instances:
            raise PacsError(f"The PACS at {self.server} sent no images for series {series_uid}.")
        return instances

    def store(self, study_uid: str, instances: Sequence[Dataset]) -> list[str]:
        """Store ``instances`` in the study ``study_uid``; returns the SOPInstanceUIDs the PACS confirmed.

        Raises:
            PacsError: as every call, and when the PACS refuses any of the instances.
        """
        with speaking_to(self.config, "store the results"):
            answer = self._client.store_instances(list(instances), study_uid)
            failed = list(answer.get("FailedSOPSequence") or [])
            stored = [str(item.ReferencedSOPInstanceUID) for item in answer.get("ReferencedSOPSequence") or []]
        if failed:
            reasons = sorted({f"{int(item.get('FailureReason', 0)):#06x}" for item in failed})
            raise PacsError(f"The PACS at {self.server} refused {len(failed)} of the {len(instances)} result "
                            f"objects (failure reason {', '.join(reasons)}).")
        return stored


def check_analysable(series: SeriesListing | Dataset, name: str) -> None:
    """Refuse a series that is not MR before anything is analysed (or fetched, when the listing says so).

    Raises:
        PacsError: the series' modality is not :data:`ANALYSED_MODALITY`.
    """
    modality = series.modality if isinstance(series, SeriesListing) else _text(series, "Modality")
    if modality != ANALYSED_MODALITY:
        shown = f"a {modality} series" if modality else "a series without a modality"
        raise PacsError(f"{name} is {shown}, not MR; only MR series of the brain can be analysed.")


def search_sentence(studies: Sequence[StudyInfo], limit: int = STUDY_LIMIT) -> str:
    """What a search found, in one sentence: none (with what to try), some, or the first ``limit``."""
    if not studies:
        return "No study matches this search; check the patient ID and name, widen the date range or clear a field."
    if len(studies) >= limit:
        return f"The first {limit} matching studies are shown; narrow the search to see the others."
    return f"{len(studies)} matching {'study' if len(studies) == 1 else 'studies'} found."


def _values(ds: Dataset, keyword: str) -> list[str]:
    """A multi-valued attribute's values as strings (pydicom gives a single value as itself)."""
    value = ds.get(keyword)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, MultiValue) else [str(value)]


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword) or "").strip()


def _count(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    return None if value is None or value == "" else int(value)


def _person(name: object) -> str:
    """A PN value as "Family, Given" (DICOM writes "Family^Given")."""
    if not name:
        return ""
    return name.family_comma_given() if hasattr(name, "family_comma_given") else str(name)


def format_dicom_date(value: str) -> str:
    """A DA value (YYYYMMDD) as YYYY-MM-DD; anything else as it came."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
