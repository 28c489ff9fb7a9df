"""What the PACS page shows, computed without Streamlit: the study and series tables, and the sentence after a send."""

from __future__ import annotations

from collections.abc import Sequence

from core.pacs.client import ANALYSED_MODALITY, SeriesListing, StudyInfo
from core.pacs.export import ResultInstances

NOT_GIVEN = "—"


def study_label(study: StudyInfo) -> str:
    """A study as its picker lists it, e.g. "2024-01-05 · Doe, Jane (P1) · Brain MRI"."""
    patient = f"{study.patient_name or 'Unnamed'} ({study.patient_id or 'no ID'})"
    return " · ".join(part for part in (study.study_date or "no date", patient, study.description) if part)


def study_table(studies: Sequence[StudyInfo]) -> list[dict[str, object]]:
    """One row per study for ``st.dataframe``."""
    return [{"Date": s.study_date or NOT_GIVEN, "Patient": s.patient_name or NOT_GIVEN,
             "Patient ID": s.patient_id or NOT_GIVEN, "Description": s.description or NOT_GIVEN,
             "Modalities": s.modalities or NOT_GIVEN, "Series": s.series, "Images": s.images} for s in studies]


def series_table(series: Sequence[SeriesListing]) -> list[dict[str, object]]:
    """One row per series for ``st.dataframe``."""
    return [{"Number": s.number, "Modality": s.modality or NOT_GIVEN, "Description": s.description or NOT_GIVEN,
             "Images": s.images} for s in series]


def first_analysable(series: Sequence[SeriesListing]) -> int:
    """Index of the series the picker starts on: the first MR series, else the first."""
    return next((index for index, s in enumerate(series) if s.modality == ANALYSED_MODALITY), 0)


def sent_sentence(results: ResultInstances, server: str) -> str:
    """What "Send results to PACS" stored, e.g. "Stored in the study on the PACS at ...: a DICOM SEG (series 7), 4
    outlined slices (series 8) and the PDF report (series 9)."."""
    parts = []
    if results.segmentation is not None:
        parts.append(f"a DICOM SEG (series {results.segmentation.SeriesNumber})")
    if results.captures:
        count = len(results.captures)
        parts.append(f"{count} outlined slice{'s' if count > 1 else ''} (series {results.captures[0].SeriesNumber})")
    parts.append(f"the PDF report (series {results.report.SeriesNumber})")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    missing = "" if results.segmentation is not None else "; no tumour was found, so there is no segmentation"
    return f"Stored in the study on the PACS at {server}: {listed}{missing}."
