"""The results of an analysed series as DICOM objects for its own study, each series with new UIDs:

- a **DICOM SEG** (``highdicom``, binary, one segment "Tumour") whose frames are the tumour-bearing slices, each
  referencing its source instance, with the network's name and version in the algorithm identification;
- a **secondary capture** series: each tumour-bearing slice as shown, with the outline burned in, for the many PACS
  viewers that cannot show a SEG;
- the study's **PDF report** as an Encapsulated PDF instance, naming the patient from the series' own header.

A study without any tumour pixel gets only the report: an empty SEG would say nothing the report does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

from core.app.audit import model_versions
from core.pacs.client import PacsClient, format_dicom_date
from core.pacs.connection import PacsError
from core.pacs.study import SeriesAnalysis
from core.present.overlay import overlay_mask
from core.report.patient import PatientFields
from core.report.pdf import read_app_version
from core.study.report import OUTLINE_OPACITY, view_report_pdf

MANUFACTURER = "Brain MRI tumour dashboard (research use only)"
DEVICE_SERIAL = "software"
"""highdicom requires a device serial number; software has none, so the field says what the device is."""
SEGMENT_LABEL = "Tumour"
DESCRIPTIONS = {"seg": "AI tumour segmentation (research use)", "capture": "AI tumour outline (research use)",
                "report": "AI tumour report (research use)"}
"""SeriesDescription of each result series, as a PACS worklist lists them."""
TYPE2_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                  "StudyID", "AccessionNumber", "ReferringPhysicianName")
"""Patient and study attributes every DICOM image must carry, empty when unknown; highdicom copies them into its
objects and fails on an image that left them out, as some exports do."""
GEOMETRY_KEYWORDS = ("FrameOfReferenceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
"""What every source image needs for a SEG frame to be placed on it."""
ORIENTATION_LETTERS = ("LPH", "RAF")
"""Patient directions of the +x, +y, +z (first) and -x, -y, -z (second) LPS axes, for PatientOrientation."""
FIRST_SERIES_NUMBER = 900
"""Series number of the first result series in a study whose series carry no numbers."""


@dataclass(frozen=True)
class ModelVersion:
    """Which network made the results: its card's name, training date and the SHA-256 of its weights file."""

    name: str
    trained: str
    sha256: str

    @property
    def label(self) -> str:
        """At most 64 characters (a DICOM LO): e.g. "trained 2026-11-30 08:12, sha256 0123456789abcdef"."""
        return f"trained {self.trained}, sha256 {self.sha256[:16]}"


@dataclass(frozen=True)
class ResultInstances:
    """What "Send results to PACS" stores: the SEG (None without a tumour), the captures and the report."""

    segmentation: Dataset | None
    captures: tuple[Dataset, ...]
    report: Dataset

    @property
    def instances(self) -> list[Dataset]:
        return [*([self.segmentation] if self.segmentation is not None else []), *self.captures, self.report]

    def uids(self) -> dict[str, str | list[str] | None]:
        """The new series and instance UIDs, as the CLI's ``stored`` object lists them."""
        seg = self.segmentation
        return {"seg_series_uid": None if seg is None else str(seg.SeriesInstanceUID),
                "seg_instance_uid": None if seg is None else str(seg.SOPInstanceUID),
                "capture_series_uid": str(self.captures[0].SeriesInstanceUID) if self.captures else None,
                "capture_instance_uids": [str(ds.SOPInstanceUID) for ds in self.captures],
                "report_series_uid": str(self.report.SeriesInstanceUID),
                "report_instance_uid": str(self.report.SOPInstanceUID)}


def read_model_version(name: str, folder: Path) -> ModelVersion:
    """The version of the network ``name`` in the weights ``folder`` (as the audit trail records it)."""
    version = model_versions(folder)[name]
    return ModelVersion(name, version["trained"], version["sha256"])


def next_series_number(numbers: Iterable[int | None]) -> int:
    """One above the study's highest series number, so the result series sort after what was acquired."""
    known = [n for n in numbers if n is not None]
    return max(known) + 1 if known else FIRST_SERIES_NUMBER


def make_results(analysis: SeriesAnalysis, version: ModelVersion, cards: Mapping[str, Mapping],
                 series_number: int) -> ResultInstances:
    """Every result object for ``analysis``: series ``series_number`` (SEG), the next (captures) and the one after
    (report), all in the source study.

    Raises:
        PacsError: the source images lack what a SEG needs (geometry, one frame each), so nothing is made.
    """
    check_exportable(analysis)
    _fill_type2(analysis.sources)
    mask = analysis.view.result.mask
    tumour_slices = [index for index in range(len(mask)) if mask[index].any()]
    seg = make_segmentation(analysis, version, series_number) if tumour_slices else None
    captures = make_captures(analysis, tumour_slices, series_number + 1)
    pdf = view_report_pdf(analysis.view, report_patient(analysis.sources[0]), cards)
    return ResultInstances(seg, captures, make_pdf_document(analysis.sources[0], pdf, series_number + 2))


def send_results(client: PacsClient, analysis: SeriesAnalysis, version: ModelVersion,
                 cards: Mapping[str, Mapping]) -> ResultInstances:
    """Make every result object (:func:`make_results`) and store them in the source study, numbered after the
    series the study holds now (earlier results included, so a second send never reuses a number).

    Raises:
        PacsError: the series cannot carry a SEG, or the PACS failed or refused an object.
    """
    numbers = (series.number for series in client.list_series(analysis.study_uid))
    results = make_results(analysis, version, cards, next_series_number(numbers))
    client.store(analysis.study_uid, results.instances)
    return results


def check_exportable(analysis: SeriesAnalysis) -> None:
    """Refuse a series whose images cannot carry a SEG, in one sentence.

    Raises:
        PacsError: a multi-frame image (its frames would need per-frame references), or images without geometry.
    """
    name, sources = analysis.view.title, analysis.sources
    if len({id(ds) for ds in sources}) != len(sources):
        raise PacsError(f"{name} is a multi-frame image; results can be sent back for series of single-frame "
                        "images only.")
    for keyword in GEOMETRY_KEYWORDS:
        if any(keyword not in ds for ds in sources):
            raise PacsError(f"Some images of {name} have no {keyword}, so a segmentation cannot be placed on them "
                            "and nothing was sent.")


def make_segmentation(analysis: SeriesAnalysis, version: ModelVersion, series_number: int) -> hd.seg.Segmentation:
    """The mask as a binary SEG; empty slices are left out, so it has one frame per tumour-bearing slice."""
    algorithm = hd.AlgorithmIdentificationSequence(
        name=version.name, family=codes.cid7162.ArtificialIntelligence, version=version.label,
        source=MANUFACTURER, parameters={"weights_sha256": version.sha256})
    segment = hd.seg.SegmentDescription(
        segment_number=1, segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm, anatomic_regions=[codes.SCT.Brain])
    return hd.seg.Segmentation(
        source_images=list(analysis.sources), pixel_array=analysis.view.result.mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=[segment],
        series_instance_uid=hd.UID(), series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name=version.name, software_versions=read_app_version(),
        device_serial_number=DEVICE_SERIAL, series_description=DESCRIPTIONS["seg"], content_label="TUMOUR",
        content_description=f"Tumour outlined by {version.name}")


def make_captures(analysis: SeriesAnalysis, slices: Sequence[int], series_number: int) -> tuple[Dataset, ...]:
    """One RGB secondary capture per slice in ``slices``: the slice as the app shows it, the outline burned in."""
    view, series_uid = analysis.view, hd.UID()
    captures = []
    for number, index in enumerate(slices, start=1):
        source = analysis.sources[index]
        image = overlay_mask(view.volume.pixels[index], view.result.mask[index], OUTLINE_OPACITY, "outline")
        capture = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=source, pixel_array=image, photometric_interpretation="RGB", bits_allocated=8,
            coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=number, manufacturer=MANUFACTURER,
            pixel_spacing=tuple(float(v) for v in source.PixelSpacing),
            patient_orientation=patient_orientation(source), series_description=DESCRIPTIONS["capture"])
        capture.BurnedInAnnotation = "YES"
        capture.ImageComments = f"Tumour outline on slice {index} of {view.title}; research use only"
        capture.SourceImageSequence = DicomSequence([_reference(source)])
        captures.append(capture)
    return tuple(captures)


def make_pdf_document(source: Dataset, pdf: bytes, series_number: int) -> Dataset:
    """``pdf`` as an Encapsulated PDF instance in ``source``'s study, patient and study attributes copied."""
    now = datetime.now()
    document = hd.SOPClass(
        study_instance_uid=source.StudyInstanceUID, series_instance_uid=hd.UID(), series_number=series_number,
        sop_instance_uid=hd.UID(), sop_class_uid=EncapsulatedPDFStorage, instance_number=1, modality="DOC",
        manufacturer=MANUFACTURER, transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=DESCRIPTIONS["report"], content_date=now.date(), content_time=now.time())
    document.copy_patient_and_study_information(source)
    document.ConversionType = "WSD"  # made on a workstation
    document.BurnedInAnnotation = "YES"  # the report names the patient
    document.DocumentTitle = "Brain MRI tumour report"
    document.ConceptNameCodeSequence = DicomSequence()
    document.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    document.MIMETypeOfEncapsulatedDocument = "application/pdf"
    document.EncapsulatedDocument = pdf
    document.EncapsulatedDocumentLength = len(pdf)  # a reader strips the even-length padding with it
    document.SourceInstanceSequence = DicomSequence([_reference(source)])
    return document


def report_patient(ds: Dataset) -> PatientFields:
    """The report's patient fields from the series' header: a report filed in the patient's study names them."""
    def text(keyword: str) -> str:
        value = ds.get(keyword)
        if value and hasattr(value, "family_comma_given"):
            return value.family_comma_given()
        return str(value or "")
    return PatientFields(name=text("PatientName"), patient_id=text("PatientID"),
                         birth_date=format_dicom_date(text("PatientBirthDate")),
                         study_date=format_dicom_date(text("StudyDate")),
                         referring_physician=text("ReferringPhysicianName"))


def patient_orientation(ds: Dataset) -> tuple[str, str]:
    """PatientOrientation (row and column directions, e.g. ("L", "P") for an axial slice) from
    ImageOrientationPatient: the patient direction each direction cosine points closest to."""
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    return _direction(cosines[:3]), _direction(cosines[3:])


def _direction(vector: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return ORIENTATION_LETTERS[0 if vector[axis] > 0 else 1][axis]


def _fill_type2(sources: Sequence[Dataset]) -> None:
    """Add the :data:`TYPE2_KEYWORDS` a source image lacks, empty (unknown), as the standard says it should have."""
    for ds in sources:
        for keyword in TYPE2_KEYWORDS:
            if keyword not in ds:
                setattr(ds, keyword, "")


def _reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item
